'use strict'
/**
 * Capture of outside writes under process failure (issue 12): exactly one process captures
 * at a time; a capturing process killed mid-stream is replaced, and the outside writes
 * become WAL history with no gap, no duplicate, in commit order. A standalone server
 * reports capture as unavailable.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const { Argon } = require('..')
const { server, serverAndDriver, freshDb, eventually } = require('./helpers')

// A process killed inside a capture transaction leaves it open until the server's
// transactionLifetimeLimitSeconds (60 s by default); keep the test short.
const env = serverAndDriver(({ raw }) => raw.db('admin').command({ setParameter: 1, transactionLifetimeLimitSeconds: 2 }))

function startHolder(database) {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'capture-holder.js'), env.srv.uri, database], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d) => { err += d })
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve() })
    child.on('exit', (code, signal) => reject(new Error(`holder exited (${code ?? signal}): ${err}`)))
  })
  return { child, ready, stop: () => new Promise((r) => { if (child.exitCode !== null || child.signalCode) return r(); child.once('exit', r); child.kill('SIGKILL') }) }
}

/** The captured records of `coll`, in LSN order, as [k, op, d]. */
async function captured(database, coll = 'items') {
  const recs = await env.raw.db(database).collection('__argon.wal').find({ b: 0, c: coll, x: true }).sort({ _id: 1 }).toArray()
  return recs.map((r) => [r.k, r.op, r.d])
}

test('a capturing process killed mid-stream is replaced: no gap, no duplicate, commit order kept', { timeout: 120_000 }, async (t) => {
  const database = freshDb('cap')
  await env.raw.db(database).createCollection('items')
  const a = startHolder(database)
  const b = startHolder(database) // competes for the lease; takes over when A dies
  t.after(() => Promise.all([a.stop(), b.stop()]))
  await a.ready
  await b.ready
  const other = env.raw.db(database).collection('items')
  const expected = []
  const N = 240
  for (let i = 0; i < N; i++) {
    const id = i % 40
    if (i < 40) {
      await other.insertOne({ _id: id, n: 0 })
      expected.push([id, 'i', { _id: id, n: 0 }])
    } else {
      const d = await other.findOneAndUpdate({ _id: id }, { $inc: { n: 1 } }, { returnDocument: 'after', projection: { __argon_lsn: 0 } })
      expected.push([id, 'u', d])
    }
    if (i === 120) await a.stop() // whichever holds the lease, A or B, the other continues
    if (i === 121 || i === 180) await new Promise((r) => setTimeout(r, 30))
  }
  const got = await eventually(async () => { const c = await captured(database); return c.length >= N ? c : null })
  assert.equal(got.length, N, 'every outside write captured exactly once')
  assert.deepEqual(got, expected, 'in commit order, with exact after-images')
  // LSNs are consecutive per outside write; the head rows carry the captured keys.
  const rows = await other.find({}).toArray()
  for (const r of rows) {
    const last = await env.raw.db(database).collection('__argon.wal').find({ b: 0, c: 'items', k: r._id }).sort({ _id: -1 }).limit(1).next()
    assert.equal(Number(last._id), Number(r.__argon_lsn), `head row ${r._id} stamped with its newest version`)
  }
  await b.stop()
  // Reading the past through Argon gives the state after each captured write.
  const argon = await Argon.connect(env.srv.uri, { database, capture: 'off' })
  const recs = await env.raw.db(database).collection('__argon.wal').find({ b: 0, c: 'items', x: true }).sort({ _id: 1 }).toArray()
  const mid = Math.floor(Number(recs[150]._id) / 2 ** 20)
  const state = new Map()
  for (const [k, op, d] of expected.slice(0, 151)) if (op !== 'd') state.set(k, d)
  const past = await argon.branch('main').at(mid).collection('items').find({}).sort({ _id: 1 }).toArray()
  assert.deepEqual(past, [...state.values()].sort((x, y) => x._id - y._id))
  await argon.close()
})

test('two processes with capture on: exactly one captures', { timeout: 60_000 }, async () => {
  const database = freshDb('cap')
  await env.raw.db(database).createCollection('items')
  const procs = [startHolder(database), startHolder(database)]
  try {
    await Promise.all(procs.map((p) => p.ready))
    const other = env.raw.db(database).collection('items')
    for (let i = 0; i < 50; i++) await other.insertOne({ _id: i })
    const got = await eventually(async () => { const c = await captured(database); return c.length >= 50 ? c : null })
    await new Promise((r) => setTimeout(r, 300))
    assert.equal((await captured(database)).length, 50)
    assert.deepEqual(got.map((x) => x[0]), Array.from({ length: 50 }, (_, i) => i))
  } finally {
    await Promise.all(procs.map((p) => p.stop()))
  }
})

test('a standalone server: capture is unavailable, said at connect and in timeTravelInfo', async () => {
  const solo = await server({ standalone: true })
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  try {
    const argon = await Argon.connect(solo.uri, { database: freshDb('solo') })
    assert.equal((await argon.timeTravelInfo('main')).capture, 'unavailable')
    assert.equal((await argon.enableCapture()).capture, 'unavailable')
    await new Promise((r) => setImmediate(r))
    assert.ok(warnings.some((w) => w.code === 'ARGON_CAPTURE_UNAVAILABLE'), 'a process warning names the consequence')
    await argon.close()
    const off = await Argon.connect(solo.uri, { database: freshDb('solo'), capture: 'off' })
    assert.equal((await off.timeTravelInfo('main')).capture, 'off')
    await off.close()
    await assert.rejects(Argon.connect(solo.uri, { database: freshDb('solo'), capture: 'sometimes' }), (e) => e.code === 'INVALID_ARGUMENT')
  } finally {
    process.off('warning', onWarning)
    await solo.stop()
  }
})

test('outside writes made while no Argon process runs are captured when one connects', async () => {
  const database = freshDb('cap')
  const first = await Argon.connect(env.srv.uri, { database })
  const items = first.branch('main').collection('items')
  await items.insertOne({ _id: 1, v: 1 }) // LSN 1
  await first.createBranch('feature')
  await first.close()
  const other = env.raw.db(database).collection('items')
  await other.updateOne({ _id: 1 }, { $set: { v: 2 } })
  await other.insertOne({ _id: 2, v: 9 })
  const again = await Argon.connect(env.srv.uri, { database })
  // The branch forked before them does not see them; history has them, after LSN 1.
  assert.deepEqual(await again.branch('feature').collection('items').find({}).toArray(), [{ _id: 1, v: 1 }])
  const h = await again.branch('main').collection('items').history(1)
  assert.deepEqual(h.map((e) => [e.op, e.document.v]), [['update', 2], ['insert', 1]])
  assert.deepEqual(await again.branch('main').at(1).collection('items').find({}).toArray(), [{ _id: 1, v: 1 }])
  await again.close()
})

test('a collection first met after capture started gets pre-images: quick outside updates keep exact versions', async () => {
  const database = freshDb('cap')
  const argon = await Argon.connect(env.srv.uri, { database })
  const fresh = argon.branch('main').collection('fresh') // created after connect, by Argon
  await fresh.insertOne({ _id: 1, v: 0 })
  const other = env.raw.db(database).collection('fresh')
  // Back to back, before capture reads them: without pre-images the first one's version
  // could only be taken from the current document (v: 2).
  await other.updateOne({ _id: 1 }, { $set: { v: 1 } })
  await other.updateOne({ _id: 1 }, { $set: { v: 2 } })
  await argon.timeTravelInfo('main') // waits for capture
  const h = await fresh.history(1)
  assert.deepEqual(h.map((e) => [e.op, e.document.v]), [['update', 2], ['update', 1], ['insert', 0]])
  await argon.close()
})

test('close() while capture is inside a transaction returns promptly and leaves no open transaction', { timeout: 120_000 }, async () => {
  const database = freshDb('capclose')
  const coll = env.raw.db(database).collection('items')
  await coll.insertOne({ _id: 'seed', n: 0 })
  let stop = false
  let n = 0
  const writer = (async () => {
    while (!stop) {
      await coll.insertMany(Array.from({ length: 5 }, () => ({ n: n++ })))
      await coll.updateOne({ _id: 'seed' }, { $inc: { n: 1 } })
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  try {
    for (let round = 0; round < 6; round++) {
      const argon = await Argon.connect(env.srv.uri, { database, serverSelectionTimeoutMs: 5000 })
      await eventually(async () => (await argon.timeTravelInfo('main')).capture === 'active')
      await new Promise((r) => setTimeout(r, 150 + 40 * round))
      const closed = argon.close().then(() => 'closed')
      const timeout = new Promise((r) => setTimeout(() => r('timeout'), 15_000))
      assert.equal(await Promise.race([closed, timeout]), 'closed', `round ${round}`)
    }
  } finally {
    stop = true
    await writer
  }
  // Nothing the closed processes began is left holding locks: a schema change completes.
  await env.raw.db(database).collection('items').createIndex({ n: 1 })
  const argon = await Argon.connect(env.srv.uri, { database, serverSelectionTimeoutMs: 5000 })
  const last = (await coll.findOne({ _id: 'seed' })).n
  await eventually(async () => (await argon.branch('main').collection('items').history('seed')).some((h) => h.document && h.document.n === last))
  await argon.close()
})
