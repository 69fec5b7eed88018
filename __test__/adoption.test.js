'use strict'
/**
 * Existing data and outside writers (issue 12): documents a collection held before Argon
 * met it keep their past; writes made by other clients never leak into branches or history.
 * Outside writers are the official driver, in this process or another one.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Argon } = require('..')
const { serverAndDriver, freshDb } = require('./helpers')

const env = serverAndDriver()

const code = (c) => (e) => {
  assert.equal(e.code, c, `expected ${c}, got ${e.code}: ${e.message}`)
  return true
}
const byId = (c, f = {}) => c.find(f).sort({ _id: 1 }).toArray()
const open = (database, extra = {}) => Argon.connect(env.srv.uri, { database, serverSelectionTimeoutMs: 5000, ...extra })

/** A database whose `items` collection holds documents written before Argon met it. */
async function adoptedDb(n = 3) {
  const database = freshDb('adopt')
  await env.raw.db(database).collection('items').insertMany(Array.from({ length: n }, (_, i) => ({ _id: i + 1, v: `old${i + 1}`, n: i + 1 })))
  return database
}

test('case 1: adopted documents are readable at past points after Argon changes or deletes them', async () => {
  const database = await adoptedDb(3)
  const argon = await open(database, { capture: 'off' })
  const main = argon.branch('main')
  const items = main.collection('items')
  await items.insertOne({ _id: 10, v: 'new' }) // LSN 1
  await items.updateOne({ _id: 1 }, { $set: { v: 'changed' } }) // LSN 2
  await items.deleteOne({ _id: 2 }) // LSN 3
  const at1 = await byId(main.at(1).collection('items'))
  assert.deepEqual(at1, [
    { _id: 1, v: 'old1', n: 1 },
    { _id: 2, v: 'old2', n: 2 },
    { _id: 3, v: 'old3', n: 3 },
    { _id: 10, v: 'new' },
  ])
  // Filters and _id filters reach the adopted versions too.
  assert.deepEqual(await main.at(2).collection('items').find({ v: 'old2' }).toArray(), [{ _id: 2, v: 'old2', n: 2 }])
  assert.deepEqual(await main.at(1).collection('items').findOne({ _id: 1 }), { _id: 1, v: 'old1', n: 1 })
  assert.equal(await main.at(1).collection('items').countDocuments({}), 4)
  assert.deepEqual(await byId(main.at(3).collection('items')), [
    { _id: 1, v: 'changed', n: 1 },
    { _id: 3, v: 'old3', n: 3 },
    { _id: 10, v: 'new' },
  ])
  // A branch from the past sees them as well.
  const b = await argon.createBranch('from-1', { from: 'main', at: 1 })
  assert.deepEqual((await byId(b.collection('items'))).map((d) => d._id), [1, 2, 3, 10])
  // History lists the adopted version as the document's first.
  const h = await items.history(1)
  assert.deepEqual(h.map((e) => [e.op, e.lsn]), [['update', 2], ['adopted', 0]])
  assert.deepEqual(h[1].document, { _id: 1, v: 'old1', n: 1 })
  const untouched = await items.history(3)
  assert.deepEqual(untouched.map((e) => e.op), ['adopted'])
  await argon.close()
})

test('case 2: resetting an adopted collection to a tag restores its documents (no data loss)', async () => {
  const database = await adoptedDb(5)
  const argon = await open(database, { capture: 'off' })
  const main = argon.branch('main')
  const items = main.collection('items')
  const before = await byId(items)
  await argon.tag('before-migration', { branch: 'main' })
  await items.updateMany({}, { $set: { migrated: true }, $inc: { n: 100 } })
  await items.deleteOne({ _id: 5 })
  const preview = await argon.restorePreview('main', { to: 'before-migration' })
  assert.deepEqual(preview.collections.items, { added: 1, changed: 4, removed: 0 })
  const backupName = await argon.resetBranch('main', { to: 'before-migration' })
  assert.equal(typeof backupName, 'string')
  assert.deepEqual(await byId(items), before)
  // The user's collection itself holds the documents again (not only Argon's view).
  const direct = await env.raw.db(database).collection('items').find({}, { projection: { __argon_lsn: 0 } }).sort({ _id: 1 }).toArray()
  assert.deepEqual(direct, before)
  // The backup keeps the migrated state.
  const backup = await byId(argon.branch(backupName).collection('items'))
  assert.equal(backup.length, 4)
  assert.ok(backup.every((d) => d.migrated))
  await argon.close()
})

test('points before a collection was adopted are refused with LSN_OUT_OF_RANGE', async () => {
  const database = freshDb('adopt')
  const argon = await open(database, { capture: 'off' })
  await argon.branch('main').collection('a').insertOne({ _id: 1 }) // LSN 1
  await argon.branch('main').collection('a').insertOne({ _id: 2 }) // LSN 2
  await argon.close()
  // Another client creates a collection with documents while no Argon process runs.
  await env.raw.db(database).collection('late').insertMany([{ _id: 1 }, { _id: 2 }])
  const again = await open(database, { capture: 'off' })
  const main = again.branch('main')
  await assert.rejects(byId(main.at(1).collection('late')), code('LSN_OUT_OF_RANGE'))
  assert.deepEqual(await byId(main.at(2).collection('late')), [{ _id: 1 }, { _id: 2 }])
  // The other collection's past is still readable.
  assert.deepEqual(await byId(main.at(1).collection('a')), [{ _id: 1 }])
  await assert.rejects(again.createBranch('old', { from: 'main', at: 1 }), code('LSN_OUT_OF_RANGE'))
  await again.close()
})

test('case 3: outside writes after a fork reach neither the child nor the past, and history lists them', async () => {
  const database = freshDb('adopt')
  const argon = await open(database)
  assert.equal((await argon.timeTravelInfo('main')).capture, 'active')
  const main = argon.branch('main')
  const items = main.collection('items')
  await items.insertOne({ _id: 'a', v: 1 }) // LSN 1
  const child = await argon.createBranch('child')
  const other = env.raw.db(database).collection('items')
  await other.insertOne({ _id: 'outside', v: 9 })
  await other.updateOne({ _id: 'a' }, { $set: { v: 2 } })
  // Immediately after the outside writes (no waiting): the child and the past are unchanged.
  assert.deepEqual(await byId(child.collection('items')), [{ _id: 'a', v: 1 }])
  assert.deepEqual(await byId(main.at(1).collection('items')), [{ _id: 'a', v: 1 }])
  // main's head shows them, as the user's collection does.
  assert.deepEqual(await byId(items), [{ _id: 'a', v: 2 }, { _id: 'outside', v: 9 }])
  // They are history now, each with its own LSN.
  const h = await items.history('a')
  assert.deepEqual(h.map((e) => [e.op, e.document]), [['update', { _id: 'a', v: 2 }], ['insert', { _id: 'a', v: 1 }]])
  const hOut = await items.history('outside')
  assert.deepEqual(hOut.map((e) => e.op), ['insert'])
  assert.ok(h[0].lsn > 1 && hOut[0].lsn > 1 && h[0].lsn !== hOut[0].lsn)
  const latest = (await argon.timeTravelInfo('main')).latestLsn
  assert.deepEqual(await byId(main.at(latest).collection('items')), [{ _id: 'a', v: 2 }, { _id: 'outside', v: 9 }])
  // A branch forked now sees them; the old child still does not.
  const later = await argon.createBranch('later')
  assert.equal((await byId(later.collection('items'))).length, 2)
  assert.equal((await byId(child.collection('items'))).length, 1)
  await argon.close()
})

test('capture records every kind of outside write with exact versions, adopted documents included', async () => {
  const database = await adoptedDb(3)
  const argon = await open(database)
  const main = argon.branch('main')
  const items = main.collection('items')
  const other = env.raw.db(database).collection('items')
  const L0 = (await argon.timeTravelInfo('main')).latestLsn
  await other.updateOne({ _id: 1 }, { $set: { 'sub.x': 1 }, $inc: { n: 10 } })
  await other.replaceOne({ _id: 2 }, { v: 'replaced' })
  await other.deleteOne({ _id: 3 })
  await other.insertOne({ _id: 4, v: 'ins' })
  await argon.timeTravelInfo('main') // waits for capture (writes on main do not)
  await items.updateOne({ _id: 4 }, { $set: { v: 'argon' } }) // Argon's own write, after capture
  const info = await argon.timeTravelInfo('main')
  // 4 outside writes + 1 Argon write: one LSN each, nothing captured twice.
  assert.equal(info.latestLsn - L0, 5)
  const states = []
  for (let l = L0; l <= info.latestLsn; l++) states.push(await byId(main.at(l).collection('items')))
  assert.deepEqual(states[0], [{ _id: 1, v: 'old1', n: 1 }, { _id: 2, v: 'old2', n: 2 }, { _id: 3, v: 'old3', n: 3 }])
  assert.deepEqual(states[1][0], { _id: 1, v: 'old1', n: 11, sub: { x: 1 } })
  assert.deepEqual(states[2][1], { _id: 2, v: 'replaced' })
  assert.deepEqual(states[3].map((d) => d._id), [1, 2])
  assert.deepEqual(states[4].map((d) => d._id), [1, 2, 4])
  assert.deepEqual(states[5][2], { _id: 4, v: 'argon' })
  assert.deepEqual(await byId(items), states[5])
  // Reset to before the outside writes brings the adopted documents back.
  await argon.resetBranch('main', { to: L0 })
  assert.deepEqual(await byId(items), states[0])
  await argon.close()
})

test('a write that meets an outside insert capture has not recorded yet waits for capture instead of taking it as adopted', { timeout: 60_000 }, async () => {
  const database = await adoptedDb(2)
  const argon = await open(database)
  const main = argon.branch('main')
  const items = main.collection('items')
  const other = env.raw.db(database).collection('items')
  const meta = env.raw.db(database).collection('__argon.meta')
  await argon.timeTravelInfo('main') // capture is running and caught up
  const L0 = (await argon.timeTravelInfo('main')).latestLsn
  // Capture stalls: another (dead) process holds its lease for 2 s.
  await meta.updateOne({ _id: 'captureLease' }, { $set: { owner: 'a-process-that-died', until: new Date(Date.now() + 2000) } }, { upsert: true })
  await new Promise((r) => setTimeout(r, 300)) // a capture group already running ends
  await other.insertOne({ _id: 9, v: 'outside' })
  const started = Date.now()
  await items.updateOne({ _id: 9 }, { $set: { v: 'argon' } })
  const waited = Date.now() - started
  // The outside insert has its own version; before it the document did not exist.
  assert.deepEqual(await byId(main.at(L0).collection('items')), [{ _id: 1, v: 'old1', n: 1 }, { _id: 2, v: 'old2', n: 2 }])
  const h = await items.history(9)
  assert.deepEqual(h.map((v) => [v.op, v.document && v.document.v]), [['update', 'argon'], ['insert', 'outside']])
  await argon.resetBranch('main', { to: L0 })
  assert.deepEqual(await byId(items), [{ _id: 1, v: 'old1', n: 1 }, { _id: 2, v: 'old2', n: 2 }], 'the outside insert after L0 is gone after the reset')
  assert.ok(waited >= 500, `the write waited for capture (${waited} ms)`)
  await argon.close()
})
