'use strict'
/**
 * Change streams over the WAL (issue 9): MongoDB's event shape (checked against the
 * driver's own change stream on a plain collection), commit order, one event per document,
 * only after commit, a child's own writes only, `$match`, resume after a restart of the
 * process without gaps or repeats, `startAtLsn`, `.on('change')` and `close()`.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Argon } = require('..')
const { serverAndDriver, freshDb } = require('./helpers')

const env = serverAndDriver()
const open = (database = freshDb('cs')) => Argon.connect(env.srv.uri, { database, serverSelectionTimeoutMs: 5000, monitor: false, capture: 'off' })

/** Takes `n` events from a stream (ours or the driver's). */
async function take(stream, n) {
  const out = []
  while (out.length < n) out.push(await stream.next())
  return out
}

/** The parts of an event both kinds of stream share. */
const comparable = (e) => ({
  operationType: e.operationType,
  documentKey: e.documentKey,
  fullDocument: e.fullDocument,
  updateDescription: e.updateDescription && { updatedFields: e.updateDescription.updatedFields, removedFields: [...e.updateDescription.removedFields].sort() },
})

const writes = async (c) => {
  await c.insertOne({ _id: 1, a: 1, b: 'x' })
  await c.updateOne({ _id: 1 }, { $set: { a: 2 }, $unset: { b: '' } })
  await c.replaceOne({ _id: 1 }, { a: 3, c: true })
  await c.deleteOne({ _id: 1 })
  await c.insertMany([{ _id: 2 }, { _id: 3 }])
}

test("every operation type has the driver's event shape, in commit order", async () => {
  const database = freshDb('cs')
  const argon = await open(database)
  try {
    const ours = argon.branch('main').collection('c')
    const raw = env.raw.db(freshDb('cs_raw')).collection('c')
    await raw.insertOne({ _id: 0 })
    for (const fullDocument of ['default', 'updateLookup']) {
      await ours.deleteMany({})
      await raw.deleteMany({})
      const a = ours.watch([], { fullDocument })
      const b = raw.watch([], { fullDocument })
      await a.tryNext() // the stream starts now
      await b.tryNext()
      await writes(ours)
      await writes(raw)
      const ea = await take(a, 6)
      const eb = await take(b, 6)
      if (fullDocument === 'updateLookup') {
        // The driver looks the document up when it reads the event (here: deleted since,
        // so null); Argon's event carries the version the update wrote, exactly.
        assert.equal(eb[1].fullDocument, null)
        assert.deepEqual(ea[1].fullDocument, { _id: 1, a: 2 })
        ea[1] = { ...ea[1], fullDocument: null }
      }
      assert.deepEqual(ea.map(comparable), eb.map(comparable), fullDocument)
      for (const e of ea) {
        assert.deepEqual(e.ns, { db: database, coll: 'c' })
        assert.equal(typeof e._id._data, 'string')
        assert.equal(e.branch, 'main')
        assert.ok(e.clusterTime && e.wallTime instanceof Date)
      }
      // Commit order: LSNs never go back; the two documents of one insertMany share one.
      for (let i = 1; i < ea.length; i++) assert.ok(ea[i].lsn >= ea[i - 1].lsn)
      assert.equal(ea[4].lsn, ea[5].lsn)
      assert.ok(ea[3].lsn < ea[4].lsn)
      await a.close()
      await b.close()
    }
  } finally {
    await argon.close()
  }
})

test("events appear only after commit; a child's stream has the child's own writes only", async () => {
  const argon = await open()
  try {
    const main = argon.branch('main').collection('c')
    await main.insertMany([{ _id: 1, v: 0 }, { _id: 2, v: 0 }])
    await argon.createBranch('f')
    const child = argon.branch('f').collection('c')
    const cs = child.watch()
    const all = argon.watch()
    await cs.tryNext()
    await all.tryNext()
    await main.updateOne({ _id: 1 }, { $set: { v: 'main' } }) // not the child's
    const s = argon.startSession()
    s.startTransaction()
    await child.updateOne({ _id: 1 }, { $set: { v: 'child' } }, { session: s })
    await child.insertOne({ _id: 3 }, { session: s })
    assert.equal(await cs.tryNext(), null, 'nothing before commit')
    await s.commitTransaction()
    await s.endSession()
    const events = await take(cs, 2)
    assert.deepEqual(events.map((e) => [e.operationType, e.documentKey._id, e.branch]), [['update', 1, 'f'], ['insert', 3, 'f']])
    assert.equal(events[0].lsn, events[1].lsn, 'one transaction, one LSN')
    assert.equal(await cs.tryNext(), null)
    // The project's stream has all three, with their branches.
    const every = await take(all, 3)
    assert.deepEqual(every.map((e) => [e.branch, e.documentKey._id]), [['main', 1], ['f', 1], ['f', 3]])
    await cs.close()
    await all.close()
  } finally {
    await argon.close()
  }
})

test('$match runs on the events; a stream resumed by a new process continues without gaps or repeats', async () => {
  const database = freshDb('cs')
  let argon = await open(database)
  try {
    const c = () => argon.branch('main').collection('c')
    const deletes = c().watch([{ $match: { operationType: 'delete' } }])
    await deletes.tryNext()
    const stream = c().watch()
    await stream.tryNext()
    for (let i = 0; i < 6; i++) await c().insertOne({ _id: i })
    await c().deleteMany({ _id: { $gte: 4 } })
    assert.deepEqual((await take(deletes, 2)).map((e) => e.documentKey._id), [4, 5])
    const first = await take(stream, 3)
    const token = stream.resumeToken
    assert.deepEqual(token, first[2]._id)
    await stream.close()
    await deletes.close()
    await argon.close()
    // A new process (a new Argon) resumes after the token.
    argon = await open(database)
    await c().insertOne({ _id: 'later' })
    const resumed = c().watch([], { resumeAfter: token })
    const rest = await take(resumed, 6)
    assert.deepEqual(rest.map((e) => `${e.operationType}:${e.documentKey._id}`), ['insert:3', 'insert:4', 'insert:5', 'delete:4', 'delete:5', 'insert:later'])
    assert.equal(await resumed.tryNext(), null)
    await resumed.close()
    // startAtLsn: from a past LSN on.
    const lsn = first[1].lsn
    const fromLsn = c().watch([], { startAtLsn: lsn })
    assert.deepEqual((await take(fromLsn, 2)).map((e) => e.documentKey._id), [1, 2])
    await fromLsn.close()
  } finally {
    await argon.close()
  }
})

test(".on('change') delivers events until close(); bad options are refused", async () => {
  const argon = await open()
  try {
    const c = argon.branch('main').collection('c')
    const stream = c.watch()
    await stream.tryNext()
    const got = []
    stream.on('change', (e) => got.push(e.documentKey._id))
    await c.insertOne({ _id: 'x' })
    await c.insertOne({ _id: 'y' })
    const end = Date.now() + 10_000
    while (got.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(got, ['x', 'y'])
    await stream.close()
    await c.insertOne({ _id: 'z' })
    await new Promise((r) => setTimeout(r, 300))
    assert.deepEqual(got, ['x', 'y'], 'nothing after close')
    assert.equal(await stream.next(), null)
    for (const [pipeline, options] of [
      [[{ $project: { a: 1 } }], {}],
      [[], { fullDocument: 'sometimes' }],
      [[], { resumeAfter: { _data: 'nope' } }],
      [[], { startAtLsn: -1 }],
      [[], { startAtOperationTime: 1 }],
    ]) {
      const s = (() => {
        try {
          return c.watch(pipeline, options)
        } catch (e) {
          return e
        }
      })()
      const e = s instanceof Error ? s : await s.tryNext().catch((x) => x)
      assert.equal(e && e.code, 'INVALID_ARGUMENT', JSON.stringify([pipeline, options]))
    }
    const lsn = (await argon.branchInfo('main')).headLsn
    assert.throws(() => argon.branch('main').at(lsn).collection('c').watch(), (e) => e.code === 'INVALID_ARGUMENT')
  } finally {
    await argon.close()
  }
})
