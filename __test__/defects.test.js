'use strict'
/**
 * Regression tests for the defects a review found (issue 9, "Defects"), one per item,
 * each against the official driver on a plain collection where the driver has an answer.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Long, Double } = require('bson')
const { Argon, ArgonError } = require('..')
const { serverAndDriver, freshDb } = require('./helpers')
const { run: runCommand } = require('./run')

const env = serverAndDriver()
const open = (database = freshDb('defects')) => Argon.connect(env.srv.uri, { database, serverSelectionTimeoutMs: 5000, monitor: false })

test('1. sort in array or string form picks the document to modify, on main and on a child, as the driver does', async () => {
  const argon = await open()
  try {
    await argon.branch('main').collection('s').insertMany([{ _id: 1, a: 1 }, { _id: 2, a: 3 }, { _id: 3, a: 2 }])
    await argon.createBranch('f')
    const raw = env.raw.db(freshDb('defects_raw')).collection('s')
    await raw.insertMany([{ _id: 1, a: 1 }, { _id: 2, a: 3 }, { _id: 3, a: 2 }])
    for (const branch of ['main', 'f']) {
      const c = argon.branch(branch).collection('s')
      const cases = [
        (x) => x.findOneAndUpdate({}, { $inc: { hits: 1 } }, { sort: [['a', -1]] }),
        (x) => x.findOneAndReplace({}, { a: 3, replaced: true }, { sort: [['a', 'desc']] }),
        (x) => x.updateOne({}, { $inc: { up: 1 } }, { sort: 'a' }),
        (x) => x.replaceOne({}, { a: 1, r: 1 }, { sort: [['a', 1]] }),
      ]
      for (const [i, run] of cases.entries()) {
        const ours = await run(c)
        const theirs = await run(raw)
        if (ours && typeof ours === 'object' && 'matchedCount' in ours) assert.equal(ours.modifiedCount, theirs.modifiedCount, `${branch} case ${i}`)
        else assert.deepEqual(ours, theirs, `${branch} case ${i}`)
        assert.deepEqual(await c.find({}).sort({ _id: 1 }).toArray(), await raw.find({}).sort({ _id: 1 }).toArray(), `${branch} case ${i}: same document modified`)
      }
      const del = await c.findOneAndDelete({}, { sort: ['a', -1] })
      assert.deepEqual(del, await raw.findOneAndDelete({}, { sort: ['a', -1] }))
      // Put the driver's collection back in step for the next branch.
      await raw.deleteMany({})
      await raw.insertMany([{ _id: 1, a: 1 }, { _id: 2, a: 3 }, { _id: 3, a: 2 }])
    }
  } finally {
    await argon.close()
  }
})

test("2. the client-side merge sorts embedded documents and large integers in MongoDB's order", async () => {
  const argon = await open()
  try {
    const docs = [
      { _id: 1, e: { a: 2 } },
      { _id: 2, e: { b: 1 } },
      { _id: 3, e: { a: 'x' } },
      { _id: 4, e: { a: 1, b: 1 } },
      { _id: 5, e: { b: 'y' } },
      { _id: 6, n: Long.fromString('9007199254740993') },
      { _id: 7, n: Long.fromString('9007199254740992') },
      { _id: 8, n: new Double(9007199254740992) },
      { _id: 9, n: Long.fromString('9007199254740995') },
    ]
    await argon.branch('main').collection('o').insertMany(docs.slice(0, 4))
    await argon.createBranch('f')
    // Half the documents on the child's own head, half inherited: the merge interleaves them.
    const c = argon.branch('f').collection('o')
    await c.insertMany(docs.slice(4))
    await c.updateOne({ _id: 2 }, { $set: { touched: true } })
    const raw = env.raw.db(freshDb('defects_raw')).collection('o')
    await raw.insertMany(docs)
    await raw.updateOne({ _id: 2 }, { $set: { touched: true } })
    for (const sort of [{ e: 1 }, { e: -1 }, { n: 1, _id: 1 }, { n: -1, _id: 1 }]) {
      const ours = (await c.find({}, { promoteLongs: false }).sort(sort).toArray()).map((d) => d._id)
      const theirs = (await raw.find({}).sort(sort).toArray()).map((d) => d._id)
      assert.deepEqual(ours, theirs, JSON.stringify(sort))
    }
  } finally {
    await argon.close()
  }
})

test('3. on a child, deleting {_id: 1} then inserting {_id: Long(1)} works: equal _ids are one document', async () => {
  const argon = await open()
  try {
    await argon.branch('main').collection('k').insertMany([{ _id: 1, v: 'main' }, { _id: 2, v: 'main' }])
    await argon.createBranch('f')
    const c = argon.branch('f').collection('k')
    await c.deleteOne({ _id: 1 })
    await c.insertOne({ _id: Long.fromNumber(1), v: 'long' })
    const got = await c.find({ _id: 1 }).toArray()
    assert.equal(got.length, 1)
    assert.equal(got[0].v, 'long')
    // And a double that equals it is a duplicate, as the driver says.
    await assert.rejects(c.insertOne({ _id: new Double(1) }), (e) => e.code === 11000)
    await c.deleteOne({ _id: 2 })
    await c.insertMany([{ _id: new Double(2), v: 'double' }])
    assert.equal((await c.findOne({ _id: 2 })).v, 'double')
    assert.equal(await c.countDocuments({}), 2)
  } finally {
    await argon.close()
  }
})

test('4. errors of the BSON layer are ArgonErrors with a code', async () => {
  const argon = await open()
  try {
    const c = argon.branch('main').collection('b')
    const cyclic = { _id: 1 }
    cyclic.self = cyclic
    await assert.rejects(c.insertOne(cyclic), (e) => e instanceof ArgonError && e.code === 'INVALID_ARGUMENT')
    await assert.rejects(c.updateOne({ _id: 1 }, { $set: cyclic }), (e) => e instanceof ArgonError && e.code === 'INVALID_ARGUMENT')
    const big = { _id: 2, pad: 'x'.repeat(17 * 1024 * 1024) }
    await assert.rejects(c.insertOne(big), (e) => e instanceof ArgonError && e.code === 'DOCUMENT_TOO_LARGE')
    assert.equal(await c.countDocuments({}), 0, 'nothing was written')
  } finally {
    await argon.close()
  }
})

test('5. find(filter, { batchSize }) sets the batch size', async () => {
  const database = freshDb('defects')
  const argon = await open(database)
  try {
    const c = argon.branch('main').collection('bs')
    await c.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i })))
    const getMores = async () => Number((await env.raw.db('admin').command({ serverStatus: 1 })).metrics.commands.getMore.total)
    const g0 = await getMores()
    assert.equal((await c.find({}, { batchSize: 2 }).toArray()).length, 10)
    const withSmall = (await getMores()) - g0
    const g1 = await getMores()
    assert.equal((await c.find({}).toArray()).length, 10)
    const withDefault = (await getMores()) - g1
    assert.ok(withSmall >= 4, `batchSize 2 over 10 documents: ${withSmall} getMores`)
    assert.equal(withDefault, 0)
    assert.throws(() => c.find({}, { batchSize: 0 }), (e) => e.code === 'INVALID_ARGUMENT')
  } finally {
    await argon.close()
  }
})

test("6. `argon diff --details` counts what it lists (one snapshot), and branch names may contain '@'", async () => {
  const database = freshDb('defects')
  const argon = await open(database)
  try {
    await argon.branch('main').collection('d').insertMany([{ _id: 1 }, { _id: 2 }])
    await argon.createBranch('feat@x')
    const f = argon.branch('feat@x').collection('d')
    await f.insertOne({ _id: 3 })
    await f.updateOne({ _id: 1 }, { $set: { v: 1 } })
    await f.deleteOne({ _id: 2 })
    const cli = (...args) => runCommand(process.execPath, [path.join(__dirname, '..', 'bin', 'argon.js'), '--uri', env.srv.uri, '--db', database, ...args], { timeout: 30_000 })
    const r = await cli('--json', 'diff', 'main', 'feat@x', '--details')
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.deepEqual([out.added, out.changed, out.removed], [1, 1, 1])
    assert.equal(out.documents.length, 3)
    assert.deepEqual(out.collections, { d: { added: 1, changed: 1, removed: 1 } })
    // `feat@x@<lsn>`: the branch with '@' in its name, at a point.
    const lsn = (await argon.branchInfo('feat@x')).forkLsn
    const r2 = await cli('--json', 'diff', `feat@x@${lsn}`, 'feat@x')
    assert.equal(r2.code, 0, r2.stderr)
    assert.deepEqual(JSON.parse(r2.stdout).collections, { d: { added: 1, changed: 1, removed: 1 } })
  } finally {
    await argon.close()
  }
})

test('7. createBranch({ protected: true }) is never seen unprotected', async () => {
  const argon = await open()
  try {
    for (let i = 0; i < 10; i++) {
      const name = `p${i}`
      const seen = []
      let done = false
      const watcher = (async () => {
        while (!done) {
          for (const b of await argon.listBranches()) if (b.name === name) seen.push(b.protected)
        }
      })()
      await argon.createBranch(name, { protected: true })
      done = true
      await watcher
      assert.ok(seen.every((p) => p === true), `${name} seen unprotected`)
      assert.equal((await argon.branchInfo(name)).protected, true)
      await assert.rejects(argon.deleteBranch(name), (e) => e.code === 'BRANCH_PROTECTED')
    }
  } finally {
    await argon.close()
  }
})

test('8. a huge skip plus limit does not overflow into a negative $limit', async () => {
  const argon = await open()
  try {
    await argon.branch('main').collection('l').insertMany([{ _id: 1 }, { _id: 2 }])
    await argon.createBranch('f')
    const c = argon.branch('f').collection('l')
    await c.insertOne({ _id: 3 })
    assert.deepEqual(await c.find({}).sort({ _id: 1 }).skip(9e18).limit(9e18).toArray(), [])
    assert.deepEqual((await c.find({}).sort({ _id: 1 }).skip(1).limit(9e18).toArray()).map((d) => d._id), [2, 3])
    assert.equal(await c.countDocuments({}, { skip: 9e18, limit: 9e18 }), 0)
  } finally {
    await argon.close()
  }
})

test("9. an unordered insertMany with duplicates fails with the driver's whole result", async () => {
  const argon = await open()
  try {
    const docs = () => [{ _id: 1 }, { _id: 1 }, { _id: 2 }, { _id: 2 }, { _id: 3 }]
    const ours = await argon.branch('main').collection('u').insertMany(docs(), { ordered: false }).catch((e) => e)
    const theirs = await env.raw.db(freshDb('defects_raw')).collection('u').insertMany(docs(), { ordered: false }).catch((e) => e)
    assert.equal(ours.name, theirs.name)
    for (const k of ['insertedCount', 'matchedCount', 'modifiedCount', 'deletedCount', 'upsertedCount']) {
      assert.equal(ours.result[k], theirs.result[k], `result.${k}`)
      assert.equal(ours[k], theirs[k], k)
    }
    assert.deepEqual(ours.result.insertedIds, theirs.result.insertedIds)
    assert.deepEqual(ours.result.upsertedIds, theirs.result.upsertedIds)
    assert.deepEqual(ours.writeErrors.map((e) => [e.index, e.code]), theirs.writeErrors.map((e) => [e.index, e.code]))
  } finally {
    await argon.close()
  }
})
