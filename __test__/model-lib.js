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

module.exports = { clone, sorted, step }
