'use strict'
/** Shared pieces of the model-based tests: the reference model's random write steps. */
const assert = require('node:assert/strict')

const clone = (m) => new Map([...m].map(([k, v]) => [k, structuredClone(v)]))
const sorted = (m) => [...m.values()].sort((a, b) => a._id - b._id)

async function step(random, argon, model, log) {
  const names = [...model.keys()]
  const pick = (arr) => arr[Math.floor(random() * arr.length)]
  const branch = pick(names)
  const docs = model.get(branch).docs
  const coll = argon.branch(branch).collection('items')
  const k = Math.floor(random() * 16)
  const r = random()
  if (r < 0.08 && names.length < 7) {
    const from = pick(names)
    const depth = (n) => (model.get(n).parent ? 1 + depth(model.get(n).parent) : 0)
    if (depth(from) < 3) {
      const name = `b${names.length}`
      log.push(`createBranch ${name} from ${from}`)
      await argon.createBranch(name, { from })
      model.set(name, { parent: from, docs: clone(model.get(from).docs) })
      return
    }
  }
  if (r < 0.35) {
    const doc = { _id: k, v: Math.floor(random() * 100), tags: [] }
    log.push(`${branch} insertOne ${JSON.stringify(doc)}`)
    if (docs.has(k)) {
      await assert.rejects(coll.insertOne(doc), (e) => e.code === 11000)
    } else {
      const res = await coll.insertOne(doc)
      assert.equal(res.insertedId, k)
      docs.set(k, doc)
    }
  } else if (r < 0.55) {
    const d = Math.floor(random() * 10) - 5
    const tag = `t${Math.floor(random() * 5)}`
    log.push(`${branch} updateOne ${k} inc ${d} push ${tag}`)
    const res = await coll.updateOne({ _id: k }, { $inc: { v: d }, $push: { tags: tag } })
    assert.equal(res.matchedCount, docs.has(k) ? 1 : 0)
    if (docs.has(k)) {
      const doc = docs.get(k)
      doc.v += d
      doc.tags.push(tag)
    }
  } else if (r < 0.65) {
    const x = Math.floor(random() * 100)
    const flag = Math.floor(random() * 3)
    log.push(`${branch} updateMany v>=${x} flag=${flag}`)
    const res = await coll.updateMany({ v: { $gte: x } }, { $set: { flag } })
    const hits = [...docs.values()].filter((d) => d.v >= x)
    assert.equal(res.matchedCount, hits.length)
    assert.equal(res.modifiedCount, hits.filter((d) => d.flag !== flag).length)
    for (const d of hits) d.flag = flag
  } else if (r < 0.77) {
    log.push(`${branch} deleteOne ${k}`)
    const res = await coll.deleteOne({ _id: k })
    assert.equal(res.deletedCount, docs.has(k) ? 1 : 0)
    docs.delete(k)
  } else if (r < 0.82) {
    const x = Math.floor(random() * 30)
    log.push(`${branch} deleteMany v<${x}`)
    const res = await coll.deleteMany({ v: { $lt: x } })
    const hits = [...docs.values()].filter((d) => d.v < x)
    assert.equal(res.deletedCount, hits.length)
    for (const d of hits) docs.delete(d._id)
  } else {
    const doc = { v: Math.floor(random() * 100), tags: ['r'] }
    log.push(`${branch} replaceOne upsert ${k} ${JSON.stringify(doc)}`)
    const res = await coll.replaceOne({ _id: k }, doc, { upsert: true })
    assert.equal(res.upsertedCount, docs.has(k) ? 0 : 1)
    docs.set(k, { _id: k, ...doc })
  }
}

// The time-travel model: snapshots of every branch after every step, reads at random
// points checked against them.

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

module.exports = { clone, sorted, step, stateAt, ttStep, check }
