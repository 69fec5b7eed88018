'use strict'
/**
 * API behaviour and bad input: branch lifecycle, LSNs, isolation between branches of
 * branches, and every bad-input case of docs/errors.md getting its typed error with
 * nothing written.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { MongoClient, MongoServerError } = require('mongodb')
const { Argon, ArgonError } = require('..')
const { server, connect, freshDb } = require('./helpers')

let srv
before(async () => { srv = await server() })
after(async () => { await srv.stop() })

const code = (c) => (e) => {
  assert.equal(e.code, c, `expected code ${c}, got ${e.code}: ${e.message}`)
  return true
}

test('branches: create, list, info, delete; LSNs increase with every write', async () => {
  const argon = await connect(srv.uri)
  const users = argon.branch('main').collection('users')
  const before = await argon.branch('main').info()
  await users.insertOne({ name: 'Ada' })
  await users.insertMany([{ name: 'Bob' }, { name: 'Cy' }])
  const mid = await argon.branch('main').info()
  assert.equal(mid.headLsn, before.headLsn + 2, 'one LSN per logical write (insertMany is one)')
  const feature = await argon.createBranch('feature/x', { from: 'main' })
  assert.equal(feature.name, 'feature/x')
  const info = await feature.info()
  assert.deepEqual([info.parent, info.forkLsn, info.headLsn], ['main', mid.headLsn, mid.headLsn])
  assert.ok(info.createdAt instanceof Date)
  await feature.collection('users').updateMany({}, { $set: { beta: true } })
  const after = await feature.info()
  assert.equal(after.headLsn, mid.headLsn + 1, 'updateMany is one logical write')
  assert.equal((await argon.branch('main').info()).headLsn, mid.headLsn, 'main head unchanged by a branch write')
  const names = (await argon.listBranches()).map((b) => b.name)
  assert.deepEqual(names, ['main', 'feature/x'])
  await argon.deleteBranch('feature/x')
  assert.deepEqual((await argon.listBranches()).map((b) => b.name), ['main'])
  await assert.rejects(argon.branch('feature/x').collection('users').findOne({}), code('BRANCH_NOT_FOUND'))
  await argon.close()
})

test('isolation across a branch of a branch, and deletes that hide parent rows', async () => {
  const argon = await connect(srv.uri)
  const main = argon.branch('main').collection('c')
  await main.insertMany([{ _id: 1, v: 1 }, { _id: 2, v: 2 }, { _id: 3, v: 3 }])
  const a = await argon.createBranch('a')
  await main.updateOne({ _id: 1 }, { $set: { v: 100 } }) // after a's fork: a must not see it
  const ac = a.collection('c')
  await ac.deleteOne({ _id: 2 })
  await ac.insertOne({ _id: 4, v: 4 })
  const b = await argon.createBranch('b', { from: 'a' })
  const bc = b.collection('c')
  await bc.updateOne({ _id: 3 }, { $inc: { v: 10 } })
  await bc.insertOne({ _id: 2, v: 22 }) // re-insert what a deleted
  await ac.updateOne({ _id: 4 }, { $set: { v: 44 } }) // after b's fork: b must not see it
  assert.deepEqual(await main.find().sort({ _id: 1 }).toArray(), [{ _id: 1, v: 100 }, { _id: 2, v: 2 }, { _id: 3, v: 3 }])
  assert.deepEqual(await ac.find().sort({ _id: 1 }).toArray(), [{ _id: 1, v: 1 }, { _id: 3, v: 3 }, { _id: 4, v: 44 }])
  assert.deepEqual(await bc.find().sort({ _id: 1 }).toArray(), [{ _id: 1, v: 1 }, { _id: 2, v: 22 }, { _id: 3, v: 13 }, { _id: 4, v: 4 }])
  assert.equal(await bc.countDocuments({ v: { $gt: 3 } }), 3)
  assert.deepEqual((await bc.distinct('v')).sort((x, y) => x - y), [1, 4, 13, 22])
  const agg = await bc.aggregate([{ $match: { v: { $gte: 4 } } }, { $group: { _id: null, s: { $sum: '$v' } } }]).toArray()
  assert.equal(agg[0].s, 4 + 13 + 22)
  await assert.rejects(argon.deleteBranch('a'), code('BRANCH_HAS_CHILDREN'))
  await argon.close()
})

test('reserved fields never leak and cursors stream in batches', async () => {
  const argon = await connect(srv.uri)
  const main = argon.branch('main').collection('big')
  const docs = Array.from({ length: 2500 }, (_, i) => ({ _id: i, i }))
  await main.insertMany(docs)
  const child = (await argon.createBranch('kid')).collection('big')
  await child.updateMany({ i: { $lt: 10 } }, { $set: { touched: true } })
  let n = 0
  for await (const d of child.find({}).batchSize(300)) {
    n++
    assert.ok(!Object.keys(d).some((k) => k.startsWith('__argon')), JSON.stringify(d))
  }
  assert.equal(n, 2500)
  const one = await main.findOne({ _id: 7 })
  assert.deepEqual(one, { _id: 7, i: 7 })
  assert.deepEqual(await child.findOne({ _id: 7 }, { projection: { _id: 0 } }), { i: 7, touched: true })
  await argon.close()
})

test('bad input: URI, unreachable server, database name', async () => {
  await assert.rejects(Argon.connect('not-a-uri', { database: 'x' }), code('INVALID_URI'))
  const t0 = Date.now()
  await assert.rejects(Argon.connect('mongodb://127.0.0.1:1/?directConnection=true', { database: 'x', serverSelectionTimeoutMs: 300 }), (e) => e instanceof ArgonError && e.code === 'SERVER_UNREACHABLE')
  assert.ok(Date.now() - t0 < 5000, 'the configured server-selection timeout bounds the wait')
  await assert.rejects(Argon.connect(srv.uri, { database: 'bad.name' }), code('INVALID_ARGUMENT'))
  await assert.rejects(Argon.connect(srv.uri, {}), code('INVALID_ARGUMENT'))
})

test('bad input: branches', async () => {
  const argon = await connect(srv.uri)
  await assert.rejects(argon.createBranch('x', { from: 'nope' }), code('BRANCH_NOT_FOUND'))
  await argon.createBranch('dup')
  await assert.rejects(argon.createBranch('dup'), code('BRANCH_EXISTS'))
  for (const bad of ['', 'a..b', 'tab\there', 'x'.repeat(101), 'sp ace', '/lead', 'end.lock']) {
    await assert.rejects(argon.createBranch(bad), code('INVALID_BRANCH_NAME'), JSON.stringify(bad))
  }
  await argon.createBranch('y'.repeat(100))
  await assert.rejects(argon.deleteBranch('main'), code('BRANCH_PROTECTED'))
  await argon.protectBranch('dup', true)
  await assert.rejects(argon.deleteBranch('dup'), code('BRANCH_PROTECTED'))
  assert.equal((await argon.branchInfo('dup')).protected, true)
  await argon.protectBranch('dup', false)
  await argon.deleteBranch('dup')
  await assert.rejects(argon.deleteBranch('nope'), code('BRANCH_NOT_FOUND'))
  assert.deepEqual((await argon.listBranches()).map((b) => b.name).sort(), ['main', 'y'.repeat(100)])
  await argon.close()
})

test('bad input: documents, filters and updates; nothing is written', async () => {
  const database = freshDb()
  const argon = await connect(srv.uri, database)
  for (const b of ['main', 'child']) {
    if (b === 'child') await argon.createBranch('child')
    const coll = argon.branch(b).collection(`docs_${b}`)
    await coll.createIndex({ email: 1 }, { unique: true })
    await coll.insertOne({ _id: 1, email: 'a@x' })
    const before = await argon.branchInfo(b)
    // Server-rejected filter and update: the server's numeric code and codeName pass through.
    await assert.rejects(coll.find({ $bogus: 1 }).toArray(), (e) => e instanceof MongoServerError && e.code === 2)
    await assert.rejects(coll.updateOne({ _id: 1 }, { $inc: { email: 1 } }), (e) => e instanceof MongoServerError && e.code === 14 && e.codeName === 'TypeMismatch')
    await assert.rejects(coll.updateOne({ _id: 1 }, { $set: { a: 1 }, $unset: { a: '' } }), (e) => e.code === 40)
    // Duplicate keys, as MongoServerError with keyValue.
    await assert.rejects(coll.insertOne({ _id: 2, email: 'a@x' }), (e) => e instanceof MongoServerError && e.code === 11000 && e.keyValue.email === 'a@x')
    await assert.rejects(coll.insertOne({ _id: 1 }), (e) => e.code === 11000 && e.keyValue._id === 1)
    // Too large, reserved names.
    await assert.rejects(coll.insertOne({ big: 'x'.repeat(17 * 1024 * 1024) }), code('DOCUMENT_TOO_LARGE'))
    await assert.rejects(coll.insertOne({ __argon_lsn: 5 }), code('RESERVED_NAME'))
    await assert.rejects(coll.updateOne({ _id: 1 }, { $set: { __argon_first: 1 } }), code('RESERVED_NAME'))
    await assert.rejects(coll.find({ __argon_del: { $exists: true } }).toArray(), code('RESERVED_NAME'))
    assert.throws(() => argon.branch(b).collection('__argon.wal'), code('RESERVED_NAME'))
    await assert.rejects(coll.updateOne({ _id: 1 }, { email: 'replacement' }), code('INVALID_ARGUMENT'))
    await assert.rejects(coll.aggregate([{ $out: 'elsewhere' }]).toArray(), code('INVALID_ARGUMENT'))
    const after = await argon.branchInfo(b)
    assert.equal(after.headLsn, before.headLsn, `no write happened on ${b}`)
    assert.deepEqual(await coll.find().toArray(), [{ _id: 1, email: 'a@x' }])
  }
  await argon.close()
})

test('a project opened twice and by a second client sees the same state', async () => {
  const database = freshDb()
  const a = await connect(srv.uri, database)
  await a.branch('main').collection('x').insertOne({ _id: 1 })
  const b = await connect(srv.uri, database)
  assert.deepEqual(await b.branch('main').collection('x').find().toArray(), [{ _id: 1 }])
  // Other tools see plain documents in main's collection (minus Argon's LSN field).
  const raw = new MongoClient(srv.uri)
  const doc = await raw.db(database).collection('x').findOne({ _id: 1 })
  assert.deepEqual(Object.keys(doc).sort(), ['__argon_lsn', '_id'])
  await raw.close()
  await a.close()
  await b.close()
  await assert.rejects(a.branch('main').collection('x').findOne({}), code('CLIENT_CLOSED'))
})

test('a standalone server (no transactions): reads, branches and time travel work; writes refuse clearly', async () => {
  const solo = await server({ standalone: true })
  try {
    const database = freshDb('solo')
    // Data that exists before Argon (or was written by another tool) is readable.
    const raw = new MongoClient(solo.uri)
    await raw.db(database).collection('legacy').insertMany([{ _id: 1, a: 1 }, { _id: 2, a: 2 }])
    await raw.close()
    const argon = await connect(solo.uri, database)
    assert.equal(argon.transactions, false)
    const main = argon.branch('main').collection('legacy')
    assert.deepEqual(await main.find().sort({ _id: 1 }).toArray(), [{ _id: 1, a: 1 }, { _id: 2, a: 2 }])
    await assert.rejects(main.insertOne({ _id: 3 }), (e) => e.code === 'TRANSACTIONS_REQUIRED' && /replica set/.test(e.message))
    await assert.rejects(main.updateOne({ _id: 1 }, { $set: { a: 9 } }), code('TRANSACTIONS_REQUIRED'))
    const b = await argon.createBranch('b')
    assert.equal(await b.collection('legacy').countDocuments(), 2)
    await assert.rejects(b.collection('legacy').deleteOne({ _id: 1 }), code('TRANSACTIONS_REQUIRED'))
    assert.equal(await argon.branch('main').at(0).collection('legacy').countDocuments(), 2)
    assert.deepEqual(await main.find().sort({ _id: 1 }).toArray(), [{ _id: 1, a: 1 }, { _id: 2, a: 2 }], 'nothing was written')
    await argon.close()
  } finally {
    await solo.stop()
  }
})
