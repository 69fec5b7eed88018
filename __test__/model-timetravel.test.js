'use strict'
/**
 * Model-based time-travel test: the foundation model's random writes, plus branch
 * creation at random past LSNs, resets (with backups), tags, and reads at random LSNs on
 * random branches, all checked against a reference model that keeps a snapshot of every
 * branch after every step. ARGON_TT_SEEDS=1-100 ARGON_TT_STEPS=300 makes a soak run.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { server, connect, freshDb, rng } = require('./helpers')
const { clone, ttStep, check } = require('./model-lib')

const STEPS = Number(process.env.ARGON_TT_STEPS || 60)
function seedList() {
  const s = process.env.ARGON_TT_SEEDS
  if (!s) return [101, 102, 103, 104, 105]
  const [a, b] = s.split('-').map(Number)
  return Array.from({ length: (b || a) - a + 1 }, (_, i) => a + i)
}

let srv
before(async () => { srv = await server() })
after(async () => { await srv.stop() })

for (const seed of seedList()) {
  test(`time-travel model seed ${seed} (${STEPS} steps)`, { timeout: 10 * 60_000 }, async () => {
    const random = rng(seed)
    const argon = await connect(srv.uri, freshDb(`tt${seed}`))
    const model = new Map([['main', { parent: null, docs: new Map() }]])
    const tt = { snapshots: [{ lsn: 0, states: new Map([['main', new Map()]]) }], meta: new Map([['main', { parent: null, forkLsn: 0, createdLsn: 0 }]]), tags: new Map(), counter: 0 }
    const log = []
    try {
      for (let i = 0; i < STEPS; i++) {
        await ttStep(random, argon, model, tt, log)
        await check(random, argon, model, tt)
      }
      // The storage invariants hold after the whole random history (argon.verify).
      const v = await argon.verify()
      if (!v.ok) throw new Error(`verify: ${JSON.stringify(v.problems.slice(0, 5))}`)
    } catch (e) {
      e.message = `seed ${seed}, step ${log.length}: ${e.message}\nlast ops:\n  ${log.slice(-Number(process.env.ARGON_MODEL_LOG || 8)).join('\n  ')}`
      throw e
    } finally {
      await argon.close()
    }
  })
}
