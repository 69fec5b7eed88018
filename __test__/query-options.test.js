'use strict'
/**
 * collation, hint, comment, let and maxTimeMS (issue 9): honoured on main's head, on a
 * child branch and on a past view, differentially against the official driver on plain
 * collections holding the same documents; plus aggregate and distinct inside
 * transactions, and malformed options refused by name.
 */
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { Argon } = require('..')
const { serverAndDriver, freshDb } = require('./helpers')

const env = serverAndDriver((e) => setup(e))
const open = (database = freshDb('qopts')) => Argon.connect(env.srv.uri, { database, serverSelectionTimeoutMs: 5000, monitor: false })

const ci = { locale: 'en', strength: 2 } // case-insensitive
const en = { locale: 'en' } // case-aware, but not binary order: 'apple' < 'Apple' < 'banana'
const START = [
  { _id: 1, s: 'apple', n: 1 },
  { _id: 2, s: 'Banana', n: 2 },
  { _id: 3, s: 'cherry', n: 3 },
  { _id: 4, s: 'Apple', n: 4 },
  { _id: 5, s: 'banana', n: 5 },
  { _id: 6, s: 'Cherry', n: 6 },
  { _id: 7, s: 'date', n: 7 },
]

/**
 * Three views and their references: `main` (changed after the fork), `f` (a child with its
 * own changes), and `main` at the LSN before either changed (the starting documents).
 */
const views = {}
let argon
async function setup(env) {
  argon = await open()
  const rawDb = env.raw.db(freshDb('qopts_ref'))
  const main = argon.branch('main').collection('fruit')
  await main.createIndex({ s: 1 })
  await main.insertMany(START.map((d) => ({ ...d })))
  const refs = { main: rawDb.collection('main'), f: rawDb.collection('f'), past: rawDb.collection('past') }
  for (const r of Object.values(refs)) {
    await r.createIndex({ s: 1 })
    await r.insertMany(START.map((d) => ({ ...d })))
  }
  const lsn = (await argon.branch('main').info()).headLsn
  await argon.createBranch('f')
  const f = argon.branch('f').collection('fruit')
  // The child's own changes: an update, a delete, an insert.
  for (const c of [f, refs.f]) {
    await c.updateOne({ _id: 2 }, { $set: { s: 'apricot' } })
    await c.deleteOne({ _id: 3 })
    await c.insertOne({ _id: 8, s: 'APPLE', n: 8 })
  }
  // main moves on after the fork and after the past point.
  for (const c of [main, refs.main]) {
    await c.updateOne({ _id: 7 }, { $set: { s: 'Date' } })
    await c.insertOne({ _id: 9, s: 'cHeRrY', n: 9 })
  }
  views.main = { ours: main, ref: refs.main }
  views.f = { ours: f, ref: refs.f }
  views.past = { ours: argon.branch('main').at(lsn).collection('fruit'), ref: refs.past }
}

const byId = (docs) => [...docs].sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0))

for (const name of ['main', 'f', 'past']) {
  test(`${name}: collation in find filters and sorts, count, distinct and aggregate give the driver's results`, async () => {
    const { ours, ref } = views[name]
    const same = async (what, run, { order = true } = {}) => {
      const a = await run(ours)
      const b = await run(ref)
      assert.deepEqual(order ? a : byId(a), order ? b : byId(b), `${name}: ${what}`)
      return a
    }
    const matched = await same('find with a case-insensitive filter', (c) => c.find({ s: 'APPLE' }, { collation: ci }).toArray(), { order: false })
    assert.ok(matched.length >= 2, 'the collation matched more than the exact string')
    // Sorts: 'en' puts 'apple' before 'Apple' before 'banana'; binary order puts capitals first.
    await same('sorted by the collation', (c) => c.find({}, { collation: en, sort: { s: 1, _id: 1 } }).toArray())
    await same('sorted by the collation, limit 3', (c) => c.find({}, { collation: en, sort: { s: -1, _id: 1 }, limit: 3 }).toArray())
    await same('sorted with skip', (c) => c.find({}, { collation: en, sort: { s: 1, _id: 1 }, skip: 2, limit: 2 }).toArray())
    await same('sorted, with a projection', (c) => c.find({}, { collation: en, sort: { s: 1, _id: 1 }, projection: { s: 1 } }).toArray())
    await same('cursor.collation()', (c) => c.find({ s: { $gte: 'b' } }).collation(ci).sort({ s: 1, _id: 1 }).toArray())
    await same('findOne', (c) => c.findOne({ s: 'CHERRY' }, { collation: ci, sort: { n: -1 } }))
    await same('countDocuments', (c) => c.countDocuments({ s: 'banana' }, { collation: ci }))
    await same('countDocuments with a limit', (c) => c.countDocuments({ s: { $lt: 'c' } }, { collation: ci, limit: 2 }))
    await same('aggregate', (c) => c.aggregate([{ $match: { s: 'apple' } }, { $sort: { _id: 1 } }], { collation: ci }).toArray())
    await same('aggregate sorted by the collation', (c) => c.aggregate([{ $sort: { s: 1, _id: 1 } }, { $project: { s: 1 } }], { collation: en }).toArray())
    // distinct under a case-insensitive collation: one value per class (which spelling is
    // the server's choice), so compare the classes.
    const classes = async (c) => (await c.distinct('s', {}, { collation: ci })).map((s) => s.toLowerCase()).sort()
    const d = await same('distinct', classes)
    assert.equal(new Set(d).size, d.length, 'one value per case-insensitive class')
    assert.ok(d.length < (await ours.distinct('s')).length, 'the collation merged values that differ in case')
  })

  test(`${name}: let, hint and comment are honoured`, async () => {
    const { ours, ref } = views[name]
    const same = async (what, run) => assert.deepEqual(byId(await run(ours)), byId(await run(ref)), `${name}: ${what}`)
    await same('let in find', (c) => c.find({ $expr: { $eq: ['$s', '$$want'] } }, { let: { want: 'banana' } }).toArray())
    await same('let in countDocuments', async (c) => [{ _id: await c.countDocuments({ $expr: { $gt: ['$n', '$$min'] } }, { let: { min: 4 } }) }])
    await same('hint by key pattern', (c) => c.find({ s: { $gt: 'b' } }, { hint: { s: 1 } }).toArray())
    await same('hint by name', (c) => c.find({ n: { $gt: 2 } }, { hint: 's_1' }).toArray())
    await same('comment', (c) => c.find({ n: { $lt: 3 } }, { comment: { from: 'query-options.test' } }).toArray())
    await same('comment and hint on countDocuments', async (c) => [{ _id: await c.countDocuments({}, { comment: 'count', hint: { _id: 1 } }) }])
    // A hint naming no index is the server's error, as with the driver.
    const theirs = await ref.find({}, { hint: 'no_such_index' }).toArray().catch((e) => e)
    const mine = await ours.find({}, { hint: 'no_such_index' }).toArray().catch((e) => e)
    assert.ok(theirs instanceof Error && mine instanceof Error, `${name}: a bad hint fails`)
    assert.equal(mine.code, theirs.code, `${name}: ${mine.message}`)
  })
}

test('let in aggregate and in writes: pipeline updates and $expr filters on main and on a child', async () => {
  const a = await open()
  try {
    const raw = env.raw.db(freshDb('qopts_let')).collection('c')
    const main = a.branch('main').collection('c')
    for (const c of [main, raw]) await c.insertMany([{ _id: 1, v: 1 }, { _id: 2, v: 2 }, { _id: 3, v: 3 }])
    await a.createBranch('child')
    const child = a.branch('child').collection('c')
    const rawChild = env.raw.db(freshDb('qopts_let')).collection('c')
    await rawChild.insertMany(await raw.find().toArray())
    for (const [ours, ref] of [[main, raw], [child, rawChild]]) {
      const vars = { let: { k: 2, tag: 'seen' } }
      const r1 = await ours.updateOne({ $expr: { $eq: ['$v', '$$k'] } }, [{ $set: { t: '$$tag' } }], vars)
      const r2 = await ref.updateOne({ $expr: { $eq: ['$v', '$$k'] } }, [{ $set: { t: '$$tag' } }], vars)
      assert.deepEqual(r1, r2)
      assert.deepEqual(
        await ours.findOneAndUpdate({ $expr: { $gt: ['$v', '$$k'] } }, { $inc: { v: 10 } }, { ...vars, returnDocument: 'after' }),
        await ref.findOneAndUpdate({ $expr: { $gt: ['$v', '$$k'] } }, { $inc: { v: 10 } }, { ...vars, returnDocument: 'after' }),
      )
      assert.deepEqual(
        await ours.updateOne({ v: 99 }, [{ $set: { t: '$$tag' } }], { ...vars, upsert: true }).then((r) => r.upsertedCount),
        1,
      )
      await ref.updateOne({ v: 99 }, [{ $set: { t: '$$tag' } }], { ...vars, upsert: true })
      assert.deepEqual((await ours.deleteMany({ $expr: { $lt: ['$v', '$$k'] } }, vars)).deletedCount, (await ref.deleteMany({ $expr: { $lt: ['$v', '$$k'] } }, vars)).deletedCount)
      // Upserted documents get their own generated _ids.
      const strip = (docs) =>
        byId(docs).map((d) => {
          const o = { ...d }
          if (typeof o._id !== 'number') delete o._id
          return o
        })
      assert.deepEqual(strip(await ours.find().toArray()), strip(await ref.find().toArray()))
      if (ours === main) {
        // The test server does not pass `let` into `$unionWith` sub-pipelines, which a
        // child's aggregate uses (docs/compatibility.md); on main it is one aggregation.
        assert.deepEqual(
          await ours.aggregate([{ $match: { _id: { $type: 'number' }, $expr: { $gte: ['$v', '$$k'] } } }, { $sort: { _id: 1 } }], vars).toArray(),
          await ref.aggregate([{ $match: { _id: { $type: 'number' }, $expr: { $gte: ['$v', '$$k'] } } }, { $sort: { _id: 1 } }], vars).toArray(),
        )
      }
    }
  } finally {
    await a.close()
  }
})

test('collated writes: the target follows the collation, and only the row with exactly that _id changes', async () => {
  const a = await open()
  try {
    const raw = env.raw.db(freshDb('qopts_w')).collection('c')
    const main = a.branch('main').collection('c')
    const docs = [{ _id: 'X', v: 1 }, { _id: 'x', v: 2 }, { _id: 'y', s: 'Hello', v: 3 }]
    for (const c of [main, raw]) await c.insertMany(docs.map((d) => ({ ...d })))
    await a.createBranch('w')
    const child = a.branch('w').collection('c')
    // The child owns 'x' (changed there) while 'X' is still inherited from main.
    await child.updateOne({ _id: 'x' }, { $set: { own: true } })
    await raw.updateOne({ _id: 'x' }, { $set: { own: true } })
    assert.deepEqual(byId(await child.find({}, { collation: ci }).toArray()), byId(await raw.find({}, { collation: ci }).toArray()), "a nearer level's 'x' does not hide the ancestor's 'X'")
    assert.equal(await child.countDocuments({}, { collation: ci }), 3)
    // Now both rows are the child's own, as on main. Among v <= 2 sorted by v descending the
    // target is 'x'; under strength 2, {_id: 'x'} also matches 'X', so the head update
    // must address the row exactly.
    await child.updateOne({ _id: 'X' }, { $set: { own: true } })
    await raw.updateOne({ _id: 'X' }, { $set: { own: true } })
    // (No driver reference here: the test server's updateOne and findOneAndUpdate pick
    // 'X', ignoring the sort under a collation; MongoDB 8 documents sort on updateOne.)
    for (const c of [child, main]) {
      const r = await c.updateOne({ v: { $lte: 2 } }, { $inc: { hits: 1 } }, { collation: ci, sort: { v: -1 } })
      assert.equal(r.modifiedCount, 1)
      const after = await c.find({}, { sort: { v: 1 } }).toArray()
      assert.deepEqual(after.map((d) => [d._id, d.hits]), [['X', undefined], ['x', 1], ['y', undefined]], `only x changed (${c === raw ? 'driver' : c === main ? 'main' : 'child'})`)
    }
    const r = await child.updateOne({ s: 'hello' }, { $set: { greeted: true } }, { collation: ci })
    assert.deepEqual([r.matchedCount, r.modifiedCount], [1, 1])
    assert.equal((await child.findOneAndDelete({ s: 'HELLO' }, { collation: ci }))._id, 'y')
    assert.equal(await child.countDocuments({}), 2)
    // main saw its own update only.
    assert.equal((await main.findOne({ _id: 'x' })).hits, 1)
    assert.equal((await main.findOne({ _id: 'y' })).greeted, undefined)
  } finally {
    await a.close()
  }
})

test('maxTimeMS: a read that runs longer fails with the server\'s MaxTimeMSExpired (50) on main and on a child', async () => {
  const database = freshDb('qopts_slow')
  // A large adopted collection (written before Argon first connects), so the heavy part
  // of every view is one unindexed sort.
  const docs = []
  for (let i = 0; i < 150000; i++) docs.push({ _id: i, r: (i * 7919) % 150001, pad: 'x'.repeat(40) })
  await env.raw.db(database).collection('big').insertMany(docs)
  const a = await open(database)
  try {
    await a.branch('main').collection('big').updateOne({ _id: 1 }, { $set: { touched: true } })
    await a.createBranch('slow')
    for (const b of ['main', 'slow']) {
      const c = a.branch(b).collection('big')
      await assert.rejects(c.find({}, { sort: { r: 1 }, maxTimeMS: 1 }).limit(1).toArray(), (e) => e.code === 50, `${b}: find`)
      await assert.rejects(c.aggregate([{ $sort: { r: -1 } }, { $limit: 1 }], { maxTimeMS: 1 }).toArray(), (e) => e.code === 50, `${b}: aggregate`)
      await assert.rejects(c.find({}).sort({ r: 1 }).maxTimeMS(1).limit(1).toArray(), (e) => e.code === 50, `${b}: cursor.maxTimeMS()`)
      // With room to finish, the same read answers.
      assert.equal((await c.find({}, { sort: { r: 1 }, maxTimeMS: 60000 }).limit(1).toArray())[0].r, 0)
    }
  } finally {
    await a.close()
  }
})

test('aggregate and distinct inside a transaction see its own writes, on main and on a child', async () => {
  const a = await open()
  try {
    const main = a.branch('main').collection('t')
    await main.insertMany([{ _id: 1, g: 'a', s: 'Beta' }, { _id: 2, g: 'b', s: 'alpha' }])
    await a.createBranch('tx')
    for (const b of ['main', 'tx']) {
      const c = a.branch(b).collection('t')
      const session = a.startSession()
      try {
        session.startTransaction()
        await c.insertOne({ _id: 3, g: 'c', s: 'Gamma' }, { session })
        await c.updateOne({ _id: 1 }, { $set: { g: 'z' } }, { session })
        const groups = await c.aggregate([{ $match: { _id: { $gte: 1 } } }, { $group: { _id: '$g', n: { $sum: 1 } } }, { $sort: { _id: 1 } }], { session }).toArray()
        assert.deepEqual(groups, [{ _id: 'b', n: 1 }, { _id: 'c', n: 1 }, { _id: 'z', n: 1 }], b)
        assert.deepEqual((await c.distinct('g', {}, { session })).sort(), ['b', 'c', 'z'], b)
        // Collated sort inside the transaction: 'alpha' < 'Beta' < 'Gamma', not binary order.
        assert.deepEqual((await c.find({}, { session, collation: en, sort: { s: 1 } }).toArray()).map((d) => d.s), ['alpha', 'Beta', 'Gamma'], b)
        assert.deepEqual(await c.distinct('s', { s: 'GAMMA' }, { session, collation: ci }), ['Gamma'], b)
        // Outside the transaction none of it is visible yet.
        assert.deepEqual((await c.distinct('g')).sort(), b === 'main' ? ['a', 'b'] : ['a', 'b'])
        await session.commitTransaction()
      } finally {
        await session.endSession()
      }
      assert.deepEqual((await c.distinct('g')).sort(), ['b', 'c', 'z'])
    }
  } finally {
    await a.close()
  }
})

test('malformed options are refused by name, and nothing is written', async () => {
  const a = await open()
  try {
    const c = a.branch('main').collection('bad')
    await c.insertMany([{ _id: 1, s: 'a' }, { _id: 2, s: 'A' }])
    const calls = [
      ['collation', () => c.find({}, { collation: 'en' }).toArray()],
      ['collation', () => c.updateOne({ s: 'a' }, { $set: { x: 1 } }, { collation: { strength: 2 } })],
      ['hint', () => c.deleteMany({}, { hint: 7 })],
      ['let', () => c.aggregate([], { let: [1] }).toArray()],
      ['maxTimeMS', () => c.countDocuments({}, { maxTimeMS: -5 })],
      ['let', () => c.distinct('s', {}, { let: { a: 1 } })],
      ['batchSize', () => c.distinct('s', {}, { batchSize: 3 })],
    ]
    for (const [name, call] of calls) {
      await assert.rejects(call(), (e) => e.code === 'INVALID_ARGUMENT' && e.message.includes(`\`${name}\``), name)
    }
    assert.equal(await c.countDocuments({ x: 1 }), 0, 'nothing was written')
    assert.deepEqual(await c.distinct('s', {}, { collation: ci }).then((v) => v.length), 1, 'distinct honours the collation (it used to drop it)')
  } finally {
    await a.close()
  }
})

after(async () => {
  if (argon) await argon.close()
})
