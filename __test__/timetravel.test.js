'use strict'
/**
 * Time travel: past views (LSN, Date, tag) with the full read API including aggregate,
 * repeatable reads under 1,000 further writes, branching from the past, history, diff,
 * restore preview, reset with backup (and undoing it), retention, and bad input.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { Argon } = require('..')
const { server, connect, freshDb } = require('./helpers')

let srv
before(async () => { srv = await server() })
after(async () => { await srv.stop() })

const code = (c) => (e) => {
  assert.equal(e.code, c, `expected ${c}, got ${e.code}: ${e.message}`)
  return true
}
const byId = (c, f = {}) => c.find(f).sort({ _id: 1 }).toArray()

test('a read at a fixed LSN is identical before and after 1,000 writes on the branch and its children', async () => {
  const argon = await connect(srv.uri)
  const main = argon.branch('main')
  const users = main.collection('users')
  await users.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, plan: i % 3 ? 'free' : 'pro', n: i })))
  await users.createIndex({ plan: 1 })
  const L = (await main.info()).headLsn
  const child = await argon.createBranch('child')
  const read = async () => {
    const past = main.at(L).collection('users')
    return {
      docs: await byId(past, { plan: 'pro' }),
      top: await past.find({}).sort({ n: -1 }).limit(5).project({ _id: 0, n: 1 }).toArray(),
      count: await past.countDocuments({ plan: 'free' }),
      distinct: (await past.distinct('plan')).sort(),
      agg: await past.aggregate([{ $match: { n: { $lt: 30 } } }, { $group: { _id: '$plan', total: { $sum: '$n' } } }, { $sort: { _id: 1 } }]).toArray(),
    }
  }
  const first = await read()
  const childColl = child.collection('users')
  for (let i = 0; i < 1000; i++) {
    const target = i % 2 ? users : childColl
    const k = i % 60
    if (i % 7 === 0) await target.deleteOne({ _id: k })
    else await target.updateOne({ _id: k }, { $inc: { n: 1000 }, $set: { plan: i % 5 ? 'pro' : 'free' } }, { upsert: true })
  }
  assert.deepEqual(await read(), first)
  assert.equal(first.docs.length, 17)
  assert.equal(first.count, 33)
  await argon.close()
})

test('Dates map to the last LSN committed at or before them; tags name points', async () => {
  const argon = await connect(srv.uri)
  const main = argon.branch('main')
  const c = main.collection('c')
  await c.insertOne({ _id: 1, v: 'a' })
  await new Promise((r) => setTimeout(r, 30))
  const t1 = new Date()
  await new Promise((r) => setTimeout(r, 30))
  await c.updateOne({ _id: 1 }, { $set: { v: 'b' } })
  assert.deepEqual(await main.at(t1).collection('c').findOne({ _id: 1 }), { _id: 1, v: 'a' })
  assert.equal(await argon.tag('release', { branch: 'main' }), (await main.info()).headLsn)
  await c.updateOne({ _id: 1 }, { $set: { v: 'c' } })
  assert.deepEqual(await main.at('release').collection('c').findOne({ _id: 1 }), { _id: 1, v: 'b' })
  const fromTag = await argon.createBranch('from-tag', { at: 'release' })
  assert.deepEqual(await fromTag.collection('c').findOne({ _id: 1 }), { _id: 1, v: 'b' })
  const fromDate = await argon.createBranch('from-date', { from: 'main', at: t1 })
  assert.deepEqual(await fromDate.collection('c').findOne({ _id: 1 }), { _id: 1, v: 'a' })
  assert.deepEqual((await argon.listTags()).map((t) => t.name), ['release'])
  await assert.rejects(argon.tag('release', { branch: 'main' }), code('TAG_EXISTS'))
  await argon.deleteTag('release')
  await assert.rejects(main.at('release').collection('c').findOne({}), code('TAG_NOT_FOUND'))
  const info = await argon.timeTravelInfo('main')
  assert.equal(info.latestLsn, (await main.info()).headLsn)
  assert.equal(info.entries, 3)
  assert.ok(info.latestTime instanceof Date)
  await argon.close()
})

test('history is newest first and pages; child history continues into the parent', async () => {
  const argon = await connect(srv.uri)
  const c = argon.branch('main').collection('c')
  await c.insertOne({ _id: 'x', n: 0 })
  for (let i = 1; i <= 5; i++) await c.updateOne({ _id: 'x' }, { $set: { n: i } })
  const kid = await argon.createBranch('kid')
  await kid.collection('c').deleteOne({ _id: 'x' })
  const h = await kid.collection('c').history('x')
  assert.deepEqual(h.map((v) => v.op), ['delete', 'update', 'update', 'update', 'update', 'update', 'insert'])
  assert.equal(h[0].document, null)
  assert.deepEqual(h.slice(1).map((v) => v.document.n), [5, 4, 3, 2, 1, 0])
  const page1 = await c.history('x', { limit: 2 })
  const page2 = await c.history('x', { limit: 2, before: page1[1].lsn })
  assert.deepEqual([...page1, ...page2].map((v) => v.document.n), [5, 4, 3, 2])
  assert.ok(page1[0].time instanceof Date)
  await argon.close()
})

test('undo a bad migration: preview, reset with backup, then undo the reset; children never change', async () => {
  const argon = await connect(srv.uri)
  const main = argon.branch('main')
  const users = main.collection('users')
  await users.insertMany([{ _id: 1, email: 'A@X' }, { _id: 2, email: 'B@X' }, { _id: 3, email: 'C@X' }])
  const good = (await main.info()).headLsn
  const goodState = await byId(users)
  const child = await argon.createBranch('preview-env')
  const childState = await byId(child.collection('users'))
  // The bad migration.
  await users.updateMany({}, { $set: { email: null } })
  await users.deleteOne({ _id: 3 })
  await users.insertOne({ _id: 4, email: 'junk' })
  const badState = await byId(users)
  const preview = await argon.restorePreview('main', { to: good })
  assert.deepEqual(preview, { added: 1, changed: 2, removed: 1, collections: { users: { added: 1, changed: 2, removed: 1 } } })
  assert.deepEqual(await byId(users), badState, 'a preview changes nothing')
  const changes = []
  for await (const d of argon.diff({ branch: 'main', at: good }, 'main', { detailed: true, chunkSize: 2 })) changes.push(d)
  assert.equal(changes.length, 4)
  assert.deepEqual(changes.find((d) => d._id === 3), { collection: 'users', _id: 3, change: 'removed', before: { _id: 3, email: 'C@X' }, after: null })
  assert.deepEqual(changes.map((d) => d.change).sort(), ['added', 'changed', 'changed', 'removed'])
  // Three lines: preview (above), reset, check.
  const backup = await argon.resetBranch('main', { to: good })
  assert.deepEqual(await byId(users), goodState)
  assert.deepEqual(await byId(argon.branch(backup).collection('users')), badState, 'the backup holds the pre-reset state')
  assert.deepEqual(await byId(child.collection('users')), childState)
  // Undo: reset main back to the backup's point.
  const bk = await argon.branchInfo(backup)
  await argon.resetBranch('main', { to: bk.forkLsn, backup: false })
  assert.deepEqual(await byId(users), badState, 'the original state is back')
  assert.deepEqual(await byId(child.collection('users')), childState, 'children unchanged throughout')
  assert.deepEqual((await argon.listBranches()).map((b) => b.name).sort(), [backup, 'main', 'preview-env'].sort())
  await argon.close()
})

test('reset to the parent, and branch-of-branch isolation under resets', async () => {
  const argon = await connect(srv.uri)
  const main = argon.branch('main').collection('c')
  await main.insertMany([{ _id: 1, v: 1 }, { _id: 2, v: 2 }])
  const f = await argon.createBranch('f')
  await f.collection('c').updateOne({ _id: 1 }, { $set: { v: 10 } })
  await f.collection('c').insertOne({ _id: 3, v: 3 })
  const g = await argon.createBranch('g', { from: 'f' })
  const gState = await byId(g.collection('c'))
  await main.updateOne({ _id: 2 }, { $set: { v: 20 } })
  await argon.resetBranch('f', { to: 'parent', backup: 'f-before' })
  assert.deepEqual(await byId(f.collection('c')), [{ _id: 1, v: 1 }, { _id: 2, v: 20 }])
  assert.deepEqual(await byId(g.collection('c')), gState)
  assert.deepEqual(await byId(argon.branch('f-before').collection('c')), [{ _id: 1, v: 10 }, { _id: 2, v: 2 }, { _id: 3, v: 3 }])
  await argon.close()
})

test('bad input: points, retention, reset targets, protection, foreign handles; nothing changes', async () => {
  const database = freshDb()
  const argon = await Argon.connect(srv.uri, { database, retentionMs: 400 })
  const main = argon.branch('main')
  const c = main.collection('c')
  await c.insertOne({ _id: 1 })
  for (const bad of [-1, 1.5, NaN, {}, null, '', new Date('nope'), [1]]) {
    assert.throws(() => main.at(bad), code('INVALID_ARGUMENT'), String(bad))
  }
  const head = (await main.info()).headLsn
  await assert.rejects(main.at(head + 100).collection('c').findOne({}), (e) => e.code === 'LSN_OUT_OF_RANGE' && /beyond the head/.test(e.message))
  await assert.rejects(main.at(new Date(Date.now() + 60_000)).collection('c').findOne({}), code('LSN_OUT_OF_RANGE'))
  await new Promise((r) => setTimeout(r, 600))
  await c.insertOne({ _id: 2 })
  const info = await argon.timeTravelInfo('main')
  assert.ok(info.earliestLsn >= head, 'the window moved past the first write')
  await assert.rejects(main.at(0).collection('c').findOne({}), (e) => e.code === 'LSN_OUT_OF_RANGE' && /retention window \(400 ms\)/.test(e.message) && /earliest readable LSN/.test(e.message))
  await assert.rejects(main.at(new Date(Date.now() - 3_600_000)).collection('c').findOne({}), code('LSN_OUT_OF_RANGE'))
  await assert.rejects(argon.createBranch('old', { at: 0 }), code('LSN_OUT_OF_RANGE'))
  await assert.rejects(main.at(info.latestLsn).collection('c').insertOne({}), code('READ_ONLY'))
  await assert.rejects(main.at(info.latestLsn).collection('c').deleteMany({}), code('READ_ONLY'))
  const before = await byId(c)
  await assert.rejects(argon.resetBranch('main', { to: 'no-such-tag' }), code('TAG_NOT_FOUND'))
  await assert.rejects(argon.resetBranch('main', { to: 'parent' }), code('INVALID_ARGUMENT'))
  await assert.rejects(argon.resetBranch('main', {}), code('INVALID_ARGUMENT'))
  await assert.rejects(argon.resetBranch('nope', { to: 1 }), code('BRANCH_NOT_FOUND'))
  await argon.createBranch('locked', { protected: true })
  assert.equal((await argon.branchInfo('locked')).protected, true)
  await assert.rejects(argon.resetBranch('locked', { to: 'parent' }), code('BRANCH_PROTECTED'))
  await argon.protectBranch('main', true)
  await assert.rejects(argon.resetBranch('main', { to: info.latestLsn }), code('BRANCH_PROTECTED'))
  await argon.protectBranch('main', false)
  assert.deepEqual(await byId(c), before)
  assert.deepEqual((await argon.listBranches()).map((b) => b.name).sort(), ['locked', 'main'], 'no backup branch was left behind')
  const other = await connect(srv.uri)
  await assert.rejects(argon.diff(other.branch('main'), 'main'), code('PROJECT_MISMATCH'))
  await assert.rejects(argon.diff({ branch: 'main', at: -3 }, 'main'), code('INVALID_ARGUMENT'))
  await other.close()
  await argon.close()
})

test('timeline: each bucket counts the branch\'s WAL records written in it, with the LSNs it spans (against the raw WAL)', async () => {
  const database = freshDb('timeline')
  const argon = await Argon.connect(srv.uri, { database, monitor: false })
  const { MongoClient } = require('mongodb')
  const raw = await MongoClient.connect(srv.uri)
  try {
    const items = argon.branch('main').collection('items')
    await items.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]) // one LSN, three records
    await new Promise((r) => setTimeout(r, 300))
    await items.updateOne({ _id: 1 }, { $set: { v: 1 } })
    await new Promise((r) => setTimeout(r, 300))
    await items.deleteOne({ _id: 2 })
    const child = await argon.createBranch('kid')
    await child.collection('items').insertOne({ _id: 9 }) // the child's, not main's
    const t = await argon.timeline('main', { buckets: 4 })
    const wal = await raw.db(database).collection('__argon.wal').find({ b: 0, _id: { $gt: 0 } }).toArray()
    assert.equal(t.points.length, 4)
    assert.equal(t.points.reduce((a, p) => a + p.writes, 0), wal.length)
    assert.equal(wal.length, 5)
    assert.deepEqual([t.from, t.to].map((d) => d.getTime()), [Math.min(...wal.map((r) => r.t.getTime())), Math.max(...wal.map((r) => r.t.getTime()))])
    // Every record falls in the bucket whose span holds its time, and the LSNs match.
    for (const [i, p] of t.points.entries()) {
      const start = t.from.getTime() + i * t.bucketMs
      const mine = wal.filter((r) => r.t.getTime() >= start && r.t.getTime() < start + t.bucketMs)
      assert.equal(p.writes, mine.length, `bucket ${i}`)
      const lsns = mine.map((r) => Math.floor(Number(r._id) / 2 ** 20))
      assert.deepEqual([p.firstLsn, p.lastLsn], mine.length ? [Math.min(...lsns), Math.max(...lsns)] : [null, null])
    }
    assert.deepEqual((await argon.timeline('kid', { buckets: 2 })).points.map((p) => p.writes).reduce((a, b) => a + b), 1)
    await assert.rejects(argon.timeline('main', { buckets: 501 }), code('INVALID_ARGUMENT'))
    await assert.rejects(argon.timeline('nope'), code('BRANCH_NOT_FOUND'))
  } finally {
    await raw.close()
    await argon.close()
  }
})
