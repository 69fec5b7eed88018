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
const { clone, sorted, step } = require('./model-lib')

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

/** The model's answer for `branch` at LSN `lsn`. */
function stateAt(tt, branch, lsn) {
  const meta = tt.meta.get(branch)
  if (lsn < meta.createdLsn) {
    // Before the branch existed its view is its parent's, as of min(lsn, fork).
    return stateAt(tt, meta.parent, Math.min(lsn, meta.forkLsn))
  }
  let best = null
  for (const snap of tt.snapshots) {
    if (snap.lsn <= lsn && snap.states.has(branch)) best = snap
  }
  // No snapshot yet (read at exactly the creation LSN): the branch has no writes of its
  // own there, so it shows its parent as of its fork.
  if (!best) return stateAt(tt, meta.parent, Math.min(lsn, meta.forkLsn))
  return best.states.get(branch)
}

async function latest(argon) {
  return (await argon.timeTravelInfo('main')).latestLsn
}

async function ttStep(random, argon, model, tt, log) {
  const names = [...model.keys()]
  const pick = (arr) => arr[Math.floor(random() * arr.length)]
  const r = random()
  const now = await latest(argon)
  if (r < 0.07 && names.length < 9) {
    const from = pick(names)
    const lsn = tt.meta.get(from).createdLsn + Math.floor(random() * (now - tt.meta.get(from).createdLsn + 1))
    const name = `p${tt.counter++}`
    log.push(`createBranch ${name} from ${from} at ${lsn}`)
    await argon.createBranch(name, { from, at: lsn })
    model.set(name, { parent: from, docs: clone(stateAt(tt, from, lsn)) })
    tt.meta.set(name, { parent: from, forkLsn: lsn, createdLsn: now })
    return
  }
  if (r < 0.11 && names.length < 9) {
    const branch = pick(names)
    const lsn = Math.floor(random() * (now + 1))
    const backup = `bk${tt.counter++}`
    log.push(`resetBranch ${branch} to ${lsn} backup ${backup}`)
    const target = stateAt(tt, branch, lsn)
    const preview = await argon.restorePreview(branch, { to: lsn })
    const cur = model.get(branch).docs
    let changes = 0
    for (const id of new Set([...cur.keys(), ...target.keys()])) {
      if (JSON.stringify(cur.get(id)) !== JSON.stringify(target.get(id))) changes++
    }
    assert.equal(preview.added + preview.changed + preview.removed, changes, 'restorePreview counts')
    assert.equal(await argon.resetBranch(branch, { to: lsn, backup }), backup)
    model.set(backup, { parent: branch, docs: clone(cur) })
    tt.meta.set(backup, { parent: branch, forkLsn: now, createdLsn: now })
    model.get(branch).docs = clone(target)
    return
  }
  if (r < 0.13) {
    const name = `tag${tt.counter++}`
    const branch = pick(names)
    log.push(`tag ${name} on ${branch} at ${now}`)
    assert.equal(await argon.tag(name, { branch }), now)
    tt.tags.set(name, now)
    return
  }
  await step(random, argon, model, log)
  for (const [name, b] of model) {
    // step() may have created a branch from a head: its fork is `now`.
    if (!tt.meta.has(name)) tt.meta.set(name, { parent: b.parent, forkLsn: now, createdLsn: now })
  }
}

async function check(random, argon, model, tt) {
  const now = await latest(argon)
  tt.snapshots.push({ lsn: now, states: new Map([...model].map(([n, b]) => [n, clone(b.docs)])) })
  for (const [name, { docs }] of model) {
    assert.deepEqual(await argon.branch(name).collection('items').find({}).sort({ _id: 1 }).toArray(), sorted(docs), `head of ${name}`)
  }
  for (let i = 0; i < 3; i++) {
    const names = [...model.keys()]
    const name = names[Math.floor(random() * names.length)]
    const lsn = Math.floor(random() * (now + 1))
    const expected = sorted(stateAt(tt, name, lsn))
    const past = argon.branch(name).at(lsn).collection('items')
    assert.deepEqual(await past.find({}).sort({ _id: 1 }).toArray(), expected, `${name} at ${lsn}`)
    const hi = expected.filter((d) => d.v >= 50).sort((a, b) => b.v - a.v || a._id - b._id).slice(0, 2)
    assert.deepEqual(await past.find({ v: { $gte: 50 } }).sort({ v: -1, _id: 1 }).limit(2).toArray(), hi, `${name} at ${lsn}, filtered`)
    assert.equal(await past.countDocuments({ v: { $lt: 50 } }), expected.filter((d) => d.v < 50).length)
  }
  if (tt.tags.size) {
    const [tag, lsn] = [...tt.tags][Math.floor(random() * tt.tags.size)]
    assert.deepEqual(await argon.branch('main').at(tag).collection('items').find({}).sort({ _id: 1 }).toArray(), sorted(stateAt(tt, 'main', lsn)), `main at tag ${tag}`)
  }
}

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
    } catch (e) {
      e.message = `seed ${seed}, step ${log.length}: ${e.message}\nlast ops:\n  ${log.slice(-Number(process.env.ARGON_MODEL_LOG || 8)).join('\n  ')}`
      throw e
    } finally {
      await argon.close()
    }
  })
}
