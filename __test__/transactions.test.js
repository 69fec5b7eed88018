'use strict'
/**
 * Transactions the driver's way (issue 9): `startSession`, `withTransaction`,
 * `startTransaction` / `commitTransaction` / `abortTransaction` and `{ session }` on the
 * collection methods. All writes of a transaction commit atomically under one LSN; reads
 * in it see its own writes; nothing is visible outside before commit; an abort leaves no
 * trace; write conflicts between processes are retried to exact totals.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const { Argon } = require('..')
const { serverAndDriver, freshDb } = require('./helpers')

const env = serverAndDriver()
const open = (database = freshDb('txn')) => Argon.connect(env.srv.uri, { database, serverSelectionTimeoutMs: 5000, monitor: false })
const SUB = 2 ** 20

test('withTransaction commits every write at once, under one LSN, with the same results as the driver', async () => {
  const database = freshDb('txn')
  const argon = await open(database)
  try {
    const accounts = argon.branch('main').collection('accounts')
    await accounts.insertMany([{ _id: 'a', balance: 100 }, { _id: 'b', balance: 0 }])
    const raw = env.raw.db(freshDb('txn_raw')).collection('accounts')
    await raw.insertMany([{ _id: 'a', balance: 100 }, { _id: 'b', balance: 0 }])
    const before = (await argon.branchInfo('main')).headLsn
    const walBefore = await env.raw.db(database).collection('__argon.wal').countDocuments()

    const body = (coll) => async (session) => {
      const r1 = await coll.updateOne({ _id: 'a' }, { $inc: { balance: -10 } }, { session })
      const r2 = await coll.updateOne({ _id: 'b' }, { $inc: { balance: 10 } }, { session })
      const r3 = await coll.insertOne({ _id: 'log1', amount: 10 }, { session })
      const seen = await coll.findOne({ _id: 'a' }, { session })
      const n = await coll.countDocuments({}, { session })
      const r4 = await coll.findOneAndUpdate({ _id: 'log1' }, { $set: { done: true } }, { session, returnDocument: 'after' })
      return { r1, r2, r3, seen, n, r4 }
    }
    const s = argon.startSession()
    const ours = await s.withTransaction(body(accounts))
    await s.endSession()
    const rs = env.raw.startSession()
    let theirs
    await rs.withTransaction(async (session) => {
      theirs = await body(raw)(session)
    })
    await rs.endSession()
    assert.deepEqual(ours, theirs)
    assert.deepEqual(await accounts.find({}).sort({ _id: 1 }).toArray(), await raw.find({}).sort({ _id: 1 }).toArray())

    // One LSN for the whole transaction: four WAL records, all of it.
    const after = (await argon.branchInfo('main')).headLsn
    assert.equal(after - before, 1)
    const wal = env.raw.db(database).collection('__argon.wal')
    assert.equal((await wal.countDocuments()) - walBefore, 4)
    assert.equal(await wal.countDocuments({ _id: { $gte: after * SUB, $lt: (after + 1) * SUB } }), 4)
    assert.equal(await argon.branch('main').at(before).collection('accounts').countDocuments({ balance: 100 }), 1, 'the point before the transaction is the old state')
    const v = await argon.verify()
    assert.equal(v.ok, true, JSON.stringify(v.problems))
  } finally {
    await argon.close()
  }
})

test('reads inside see their own writes; nothing is visible outside before commit', async () => {
  const argon = await open()
  try {
    for (const branch of ['main', 'feature']) {
      if (branch === 'feature') await argon.createBranch('feature')
      const c = argon.branch(branch).collection('items')
      if (branch === 'main') await c.insertOne({ _id: 1, v: 0 })
      const s = argon.startSession()
      s.startTransaction()
      await c.updateOne({ _id: 1 }, { $inc: { v: 1 } }, { session: s })
      await c.insertOne({ _id: `${branch}-new`, v: 9 }, { session: s })
      assert.equal((await c.findOne({ _id: 1 }, { session: s })).v, branch === 'main' ? 1 : 2)
      assert.deepEqual((await c.find({ _id: `${branch}-new` }, { session: s }).toArray()).map((d) => d.v), [9])
      // The child also inherits what main's transaction committed.
      assert.equal((await c.find({ v: 9 }, { session: s }).toArray()).length, branch === 'main' ? 1 : 2)
      // Outside the transaction: the committed state only.
      assert.equal((await c.findOne({ _id: 1 })).v, branch === 'main' ? 0 : 1)
      assert.equal(await c.findOne({ _id: `${branch}-new` }), null)
      await s.commitTransaction()
      await s.endSession()
      assert.equal((await c.findOne({ _id: 1 })).v, branch === 'main' ? 1 : 2)
      assert.ok(await c.findOne({ _id: `${branch}-new` }))
    }
    // The child's transaction changed nothing on main.
    assert.equal((await argon.branch('main').collection('items').findOne({ _id: 1 })).v, 1)
  } finally {
    await argon.close()
  }
})

test('an abort leaves no trace: not in the documents, the heads, the WAL or the LSN', async () => {
  const database = freshDb('txn')
  const argon = await open(database)
  try {
    const main = argon.branch('main').collection('items')
    await main.insertMany([{ _id: 1, v: 0 }, { _id: 2, v: 0 }])
    await argon.createBranch('f')
    const child = argon.branch('f').collection('items')
    await child.updateOne({ _id: 2 }, { $set: { v: 5 } })
    const db = env.raw.db(database)
    const snapshot = async () => ({
      wal: await db.collection('__argon.wal').countDocuments(),
      lsn: (await argon.timeTravelInfo('main')).latestLsn,
      main: await main.find({}).sort({ _id: 1 }).toArray(),
      child: await child.find({}).sort({ _id: 1 }).toArray(),
    })
    const before = await snapshot()
    for (const c of [main, child]) {
      const s = argon.startSession()
      s.startTransaction()
      await c.updateOne({ _id: 1 }, { $set: { v: 99 } }, { session: s })
      await c.deleteOne({ _id: 2 }, { session: s })
      await c.insertOne({ _id: 3 }, { session: s })
      await s.abortTransaction()
      await s.endSession()
    }
    // A callback that throws aborts too, and withTransaction rethrows.
    const s = argon.startSession()
    await assert.rejects(s.withTransaction(async (session) => {
      await main.insertOne({ _id: 4 }, { session })
      throw new Error('changed my mind')
    }), /changed my mind/)
    await s.endSession()
    assert.deepEqual(await snapshot(), before)
    const v = await argon.verify()
    assert.equal(v.ok, true, JSON.stringify(v.problems))
  } finally {
    await argon.close()
  }
})

test('conflicting transactions from two processes are retried to exact totals', { timeout: 180_000 }, async () => {
  const database = freshDb('txn')
  const argon = await open(database)
  try {
    const c = argon.branch('main').collection('counters')
    await c.insertMany([{ _id: 'x', n: 0 }, { _id: 'y', n: 0 }])
    const N = 15
    const child = `
      const { Argon } = require(${JSON.stringify(path.join(__dirname, '..'))})
      ;(async () => {
        const argon = await Argon.connect(process.env.URI, { database: process.env.DB, monitor: false })
        const c = argon.branch('main').collection('counters')
        const s = argon.startSession()
        for (let i = 0; i < ${N}; i++) {
          await s.withTransaction(async (session) => {
            const x = await c.findOne({ _id: 'x' }, { session })
            await c.updateOne({ _id: 'x' }, { $set: { n: x.n + 1 } }, { session })
            await c.updateOne({ _id: 'y' }, { $inc: { n: 1 } }, { session })
          })
        }
        await s.endSession()
        await argon.close()
      })().catch((e) => { console.error(e); process.exit(1) })`
    const run = () => new Promise((resolve, reject) => {
      const p = spawn(process.execPath, ['-e', child], { env: { ...process.env, URI: env.srv.uri, DB: database }, stdio: ['ignore', 'ignore', 'pipe'] })
      let err = ''
      p.stderr.on('data', (d) => { err += d })
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}: ${err}`))))
    })
    await Promise.all([run(), run()])
    const docs = await c.find({}).sort({ _id: 1 }).toArray()
    // A read-modify-write ($set from a read) only adds up if no transaction was lost.
    assert.deepEqual(docs.map((d) => d.n), [2 * N, 2 * N])
  } finally {
    await argon.close()
  }
})

test('a transaction stays on one branch at its head; unsupported calls and ended sessions are refused', async () => {
  const argon = await open()
  try {
    await argon.branch('main').collection('c').insertOne({ _id: 1 })
    await argon.createBranch('f')
    const lsn = (await argon.branchInfo('main')).headLsn
    const s = argon.startSession()
    s.startTransaction()
    await argon.branch('main').collection('c').insertOne({ _id: 2 }, { session: s })
    await assert.rejects(argon.branch('f').collection('c').insertOne({ _id: 3 }, { session: s }), (e) => e.code === 'INVALID_TRANSACTION')
    await assert.rejects(argon.branch('main').at(lsn).collection('c').findOne({}, { session: s }), (e) => e.code === 'INVALID_TRANSACTION')
    await assert.rejects(argon.branch('f').collection('c').aggregate([], { session: s }).toArray(), (e) => e.code === 'INVALID_TRANSACTION')
    await assert.rejects(argon.branch('main').collection('c').bulkWrite([{ insertOne: { document: {} } }], { session: s }), (e) => e.code === 'INVALID_TRANSACTION')
    assert.throws(() => s.startTransaction(), (e) => e.code === 'INVALID_TRANSACTION')
    await s.commitTransaction()
    await assert.rejects(s.commitTransaction(), (e) => e.code === 'INVALID_TRANSACTION')
    await s.endSession()
    await assert.rejects(argon.branch('main').collection('c').findOne({}, { session: s }), (e) => e.code === 'INVALID_TRANSACTION')
    assert.deepEqual((await argon.branch('main').collection('c').find({}).sort({ _id: 1 }).toArray()).map((d) => d._id), [1, 2])
    await assert.rejects(argon.branch('main').collection('c').findOne({}, { session: {} }), (e) => e.code === 'INVALID_ARGUMENT')
  } finally {
    await argon.close()
  }
})
