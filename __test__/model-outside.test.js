'use strict'
/**
 * Model-based test with an outside writer (issue 12): the time-travel model's random
 * steps (writes on main and on child branches, forks at past points, resets, tags), mixed
 * with writes that another process makes directly on main's collection with the official
 * driver, on a collection that held documents before Argon first connected. After every
 * step each branch's head and random (branch, past point) reads are checked against the
 * model: outside writes are history on main and never show on branches forked before them.
 * ARGON_OUTSIDE_SEEDS=1-50 ARGON_OUTSIDE_STEPS=200 makes a soak run.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const readline = require('node:readline')
const { MongoClient } = require('mongodb')
const { server, connect, freshDb, rng } = require('./helpers')
const { clone, ttStep, check } = require('./model-lib')

const STEPS = Number(process.env.ARGON_OUTSIDE_STEPS || 50)
function seedList() {
  const s = process.env.ARGON_OUTSIDE_SEEDS
  if (!s) return [201, 202, 203]
  const [a, b] = s.split('-').map(Number)
  return Array.from({ length: (b || a) - a + 1 }, (_, i) => a + i)
}

let srv
before(async () => { srv = await server() })
after(async () => { await srv.stop() })

/** The outside writer: another process with the official driver. */
function outsideWriter(uri, database) {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'outside-writer.js'), uri, database], { stdio: ['pipe', 'pipe', 'pipe'] })
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  let err = ''
  child.stderr.on('data', (d) => { err += d })
  return {
    ready: lines.next().then((l) => assert.equal(l.value, 'ready', err)),
    async send(cmd) {
      child.stdin.write(JSON.stringify(cmd) + '\n')
      const { value } = await lines.next()
      if (value === undefined) throw new Error(`outside writer died: ${err}`)
      return JSON.parse(value)
    },
    stop: () => new Promise((r) => { child.once('exit', r); child.stdin.end() }),
  }
}

async function outsideStep(random, writer, model, log) {
  const docs = model.get('main').docs
  const k = Math.floor(random() * 16)
  const r = random()
  if (r < 0.3) {
    const doc = { _id: k, v: Math.floor(random() * 100), tags: [] }
    log.push(`OUTSIDE insertOne ${JSON.stringify(doc)}`)
    const res = await writer.send({ op: 'insert', doc })
    assert.equal(res.ok, !docs.has(k), `outside insert of ${k}`)
    if (res.ok) docs.set(k, doc)
  } else if (r < 0.6) {
    const d = Math.floor(random() * 10) - 5
    const tag = `o${Math.floor(random() * 5)}`
    log.push(`OUTSIDE updateOne ${k} inc ${d} push ${tag}`)
    const res = await writer.send({ op: 'update', k, d, tag })
    assert.equal(res.r.matchedCount, docs.has(k) ? 1 : 0)
    if (docs.has(k)) {
      docs.get(k).v += d
      docs.get(k).tags.push(tag)
    }
  } else if (r < 0.8) {
    const doc = { v: Math.floor(random() * 100), tags: ['o'] }
    log.push(`OUTSIDE replaceOne ${k} ${JSON.stringify(doc)}`)
    const res = await writer.send({ op: 'replace', k, doc })
    assert.equal(res.r.matchedCount, docs.has(k) ? 1 : 0)
    if (docs.has(k)) docs.set(k, { _id: k, ...doc })
  } else {
    log.push(`OUTSIDE deleteOne ${k}`)
    const res = await writer.send({ op: 'delete', k })
    assert.equal(res.r.deletedCount, docs.has(k) ? 1 : 0)
    docs.delete(k)
  }
}

for (const seed of seedList()) {
  test(`outside-writer model seed ${seed} (${STEPS} steps)`, { timeout: 10 * 60_000 }, async () => {
    const random = rng(seed)
    const database = freshDb(`ow${seed}`)
    // Documents that exist before Argon first connects: adopted at LSN 0.
    const adopted = new Map()
    for (let k = 0; k < 16; k++) if (random() < 0.5) adopted.set(k, { _id: k, v: Math.floor(random() * 100), tags: [] })
    const raw = new MongoClient(srv.uri)
    if (adopted.size) await raw.db(database).collection('items').insertMany([...adopted.values()].map((d) => structuredClone(d)))
    await raw.close()
    const argon = await connect(srv.uri, database)
    const writer = outsideWriter(srv.uri, database)
    await writer.ready
    const model = new Map([['main', { parent: null, docs: clone(adopted) }]])
    const tt = { snapshots: [{ lsn: 0, states: new Map([['main', clone(adopted)]]) }], meta: new Map([['main', { parent: null, forkLsn: 0, createdLsn: 0 }]]), tags: new Map(), counter: 0 }
    const log = []
    try {
      for (let i = 0; i < STEPS; i++) {
        if (random() < 0.3) await outsideStep(random, writer, model, log)
        else await ttStep(random, argon, model, tt, log)
        await check(random, argon, model, tt)
      }
    } catch (e) {
      e.message = `seed ${seed}, step ${log.length}: ${e.message}\nlast ops:\n  ${log.slice(-Number(process.env.ARGON_MODEL_LOG || 8)).join('\n  ')}`
      throw e
    } finally {
      await writer.stop()
      await argon.close()
    }
  })
}
