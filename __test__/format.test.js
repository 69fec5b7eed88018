'use strict'
/**
 * The storage format (issue 7): a project written by the previous format (1: WAL records
 * without the superseded version's image) is migrated on connect, and reads at every past
 * point answer exactly as before; a project from a newer argondb is refused clearly.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Argon } = require('..')
const { serverAndDriver, connect, freshDb, rng } = require('./helpers')

const env = serverAndDriver()

async function snapshot(argon, points) {
  const out = []
  for (const [branch, lsn] of points) {
    const c = argon.branch(branch).at(lsn).collection('items')
    out.push({
      branch,
      lsn,
      all: await c.find({}).sort({ _id: 1 }).toArray(),
      byK: await c.find({ k: 3 }).sort({ _id: 1 }).toArray(),
      byRange: await c.find({ v: { $gte: 50 } }).sort({ _id: 1 }).toArray(),
      one: await c.findOne({ _id: 7 }),
      count: await c.countDocuments({ k: { $in: [1, 2] } }),
    })
  }
  return out
}

test('a format-1 project is migrated on connect; past reads are unchanged', { timeout: 120_000 }, async () => {
  const database = freshDb('fmt')
  // An adopted document (written before Argon met the collection).
  await env.raw.db(database).collection('items').insertOne({ _id: 'adopted', k: 3, v: 1 })
  let argon = await connect(env.srv.uri, database)
  const main = argon.branch('main').collection('items')
  await main.createIndex({ k: 1 })
  const r = rng(11)
  const points = []
  await main.insertMany(Array.from({ length: 40 }, (_, i) => ({ _id: i, k: i % 5, v: i })))
  points.push(['main', (await argon.branchInfo('main')).headLsn])
  await argon.createBranch('dev', { from: 'main' })
  const dev = argon.branch('dev').collection('items')
  for (let step = 0; step < 60; step++) {
    const c = r() < 0.5 ? main : dev
    const id = Math.floor(r() * 40)
    const x = r()
    if (x < 0.6) await c.updateOne({ _id: id }, { $inc: { v: Math.floor(r() * 30) }, $set: { k: Math.floor(r() * 5) } })
    else if (x < 0.75) await c.deleteOne({ _id: id })
    else if (x < 0.9) await c.replaceOne({ _id: id }, { k: 3, v: 99 }, { upsert: true })
    else await c.updateOne({ _id: 'adopted' }, { $inc: { v: 1 } })
    if (step % 6 === 0) {
      points.push(['main', (await argon.branchInfo('main')).headLsn])
      points.push(['dev', (await argon.branchInfo('dev')).headLsn])
    }
  }
  const before = await snapshot(argon, points)
  await argon.close()

  // Turn the project back into format 1.
  const db = env.raw.db(database)
  const had = await db.collection('__argon.wal').countDocuments({ pd: { $exists: true } })
  assert.ok(had > 20, 'the history has superseded versions')
  await db.collection('__argon.wal').updateMany({}, { $unset: { pd: '' } })
  await db.collection('__argon.meta').updateOne({ _id: 'format' }, { $set: { version: 1 } })

  argon = await connect(env.srv.uri, database)
  const fmt = await db.collection('__argon.meta').findOne({ _id: 'format' })
  assert.equal(fmt.version, 2)
  assert.equal(fmt.migratedFrom, 1)
  assert.equal(await db.collection('__argon.wal').countDocuments({ p: { $exists: true }, pd: { $exists: false } }), 0)
  assert.equal(await db.collection('__argon.wal').countDocuments({ pd: { $exists: true } }), had)
  assert.deepEqual(await snapshot(argon, points), before)
  await argon.close()
})

test('a project written by a newer argondb is refused with FORMAT_VERSION', async () => {
  const database = freshDb('fmtnew')
  const argon = await connect(env.srv.uri, database)
  await argon.close()
  await env.raw.db(database).collection('__argon.meta').updateOne({ _id: 'format' }, { $set: { version: 99 } })
  await assert.rejects(Argon.connect(env.srv.uri, { database, serverSelectionTimeoutMs: 5000 }), (e) => {
    assert.equal(e.code, 'FORMAT_VERSION')
    assert.match(e.message, /newer argondb/)
    return true
  })
})
