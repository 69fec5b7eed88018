'use strict'
/**
 * Group commit (issue 7): writes that queue behind one another in a process share one
 * transaction, yet each keeps its own LSN and its own result, LSN order is the order the
 * writes were applied in, and a failing write fails alone.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { serverAndDriver, connect, freshDb, rng } = require('./helpers')

const env = serverAndDriver()

async function committedTxns() {
  const s = await env.raw.db('admin').command({ serverStatus: 1 })
  return Number(s.transactions.totalCommitted)
}

const SUB_BITS = 2 ** 20
const lsnOf = (key) => Math.floor(Number(key) / SUB_BITS)

test('concurrent writes share transactions; each has its own LSN, and LSN order is apply order', { timeout: 120_000 }, async () => {
  const database = freshDb('group')
  const argon = await connect(env.srv.uri, database)
  const c = argon.branch('main').collection('items')
  const DOCS = 8
  await c.insertMany(Array.from({ length: DOCS }, (_, i) => ({ _id: i, n: 0, log: [] })))
  const start = (await argon.branchInfo('main')).headLsn
  const txns0 = await committedTxns()
  const r = rng(7)
  const ops = []
  const expectN = new Array(DOCS).fill(0)
  let inserted = 0
  for (let wave = 0; wave < 6; wave++) {
    const wavePromises = []
    for (let j = 0; j < 24; j++) {
      const id = Math.floor(r() * DOCS)
      const kind = r()
      if (kind < 0.5) {
        expectN[id] += 1
        wavePromises.push(c.updateOne({ _id: id }, { $inc: { n: 1 } }).then((x) => assert.equal(x.modifiedCount, 1)))
      } else if (kind < 0.8) {
        const token = `w${wave}j${j}`
        expectN[id] += 1
        wavePromises.push(c.findOneAndUpdate({ _id: id }, { $inc: { n: 1 }, $push: { log: token } }, { returnDocument: 'after' })
          .then((d) => assert.ok(d.log.includes(token))))
      } else {
        inserted += 1
        wavePromises.push(c.insertOne({ _id: `new-${wave}-${j}`, n: 0 }))
      }
    }
    ops.push(...wavePromises)
    await Promise.all(wavePromises)
  }
  const writes = ops.length
  const end = (await argon.branchInfo('main')).headLsn
  const txns = (await committedTxns()) - txns0

  // One LSN per logical write, no gaps, none shared.
  assert.equal(end - start, writes)
  // Writes were grouped: fewer transactions than writes.
  assert.ok(txns < writes, `expected grouped commits, got ${txns} transactions for ${writes} writes`)

  // The WAL: each LSN in (start, end] holds exactly one write's records.
  const wal = await env.raw.db(database).collection('__argon.wal')
    .find({ _id: { $gt: 0 }, c: 'items' }).sort({ _id: 1 }).toArray()
  const byLsn = new Map()
  for (const rec of wal) {
    const l = lsnOf(rec._id)
    if (l <= start) continue
    byLsn.set(l, (byLsn.get(l) || 0) + 1)
  }
  assert.equal(byLsn.size, writes)
  for (const [, n] of byLsn) assert.equal(n, 1)

  // Apply order = LSN order: each document's `n` grows by exactly 1 per record.
  const lastN = new Map()
  for (const rec of wal) {
    if (typeof rec.k !== 'number' || lsnOf(rec._id) <= start) continue
    const prev = lastN.has(rec.k) ? lastN.get(rec.k) : 0
    assert.equal(rec.d.n, prev + 1, `doc ${rec.k} at LSN ${lsnOf(rec._id)}`)
    lastN.set(rec.k, rec.d.n)
  }
  for (let id = 0; id < DOCS; id++) {
    const d = await c.findOne({ _id: id })
    assert.equal(d.n, expectN[id])
    // Every past point reads the after-image of the newest record at or before it.
    const mine = wal.filter((rec) => rec.k === id && lsnOf(rec._id) > start)
    for (const rec of mine.slice(0, 5)) {
      const past = await argon.branch('main').at(lsnOf(rec._id)).collection('items').findOne({ _id: id })
      assert.equal(past.n, rec.d.n)
    }
  }
  assert.equal(await c.countDocuments({ _id: /^new-/ }), inserted)
  await argon.close()
})

for (const branch of ['main', 'child']) {
  test(`a failing write inside a group fails alone (${branch})`, { timeout: 120_000 }, async () => {
    const database = freshDb('groupfail')
    const argon = await connect(env.srv.uri, database)
    await argon.branch('main').collection('items').insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, n: 0 })))
    if (branch === 'child') await argon.createBranch('child', { from: 'main' })
    const c = argon.branch(branch).collection('items')
    const start = (await argon.branchInfo(branch)).headLsn
    for (let round = 0; round < 4; round++) {
      const tasks = []
      // Fresh inserts that must all succeed.
      for (let j = 0; j < 10; j++) tasks.push({ kind: 'fresh', p: c.insertOne({ _id: `r${round}-${j}`, n: 0 }) })
      // Collisions with existing documents (inherited from main on the child).
      tasks.push({ kind: 'exists', p: c.insertOne({ _id: 5 + round, n: 1 }) })
      // Two inserts of one new _id: exactly one wins.
      tasks.push({ kind: 'twin', p: c.insertOne({ _id: `twin-${round}`, n: 1 }) })
      tasks.push({ kind: 'twin', p: c.insertOne({ _id: `twin-${round}`, n: 2 }) })
      // Updates interleaved with the failures keep their effect.
      for (let j = 0; j < 5; j++) tasks.push({ kind: 'inc', p: c.updateOne({ _id: 15 }, { $inc: { n: 1 } }) })
      const settled = await Promise.allSettled(tasks.map((t) => t.p))
      const by = (k) => settled.filter((_, i) => tasks[i].kind === k)
      for (const s of by('fresh')) assert.equal(s.status, 'fulfilled', s.reason && s.reason.message)
      for (const s of by('inc')) assert.equal(s.status, 'fulfilled', s.reason && s.reason.message)
      const [exists] = by('exists')
      assert.equal(exists.status, 'rejected')
      assert.equal(exists.reason.code, 11000)
      const twins = by('twin')
      assert.equal(twins.filter((s) => s.status === 'fulfilled').length, 1)
      assert.equal(twins.filter((s) => s.status === 'rejected' && s.reason.code === 11000).length, 1)
    }
    assert.equal((await c.findOne({ _id: 15 })).n, 20)
    for (let round = 0; round < 4; round++) assert.equal((await c.findOne({ _id: 5 + round })).n, 0)
    assert.equal(await c.countDocuments({ _id: /^r\d-/ }), 40)
    assert.equal(await c.countDocuments({ _id: /^twin-/ }), 4)
    // Only successful writes took LSNs: 4 rounds × (10 fresh + 1 twin + 5 incs).
    assert.equal((await argon.branchInfo(branch)).headLsn - start, 4 * 16)
    await argon.close()
  })
}
