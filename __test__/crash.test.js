'use strict'
/**
 * Crash test (engine guarantee 1): a child process writes on `main` and on a child branch
 * and reports each acknowledged write; the parent SIGKILLs it at random moments. After
 * every kill the project is reopened and every acknowledged write must be there exactly
 * once, counters must equal the acknowledged increments (or one more, for the write in
 * flight), and the WAL must agree with the head rows.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const { MongoClient } = require('mongodb')
const { server, connect, freshDb, rng } = require('./helpers')

const CYCLES = Number(process.env.ARGON_CRASH_CYCLES || 50)
let srv
before(async () => {
  srv = await server()
  // A writer killed inside a transaction leaves it open on the server until
  // transactionLifetimeLimitSeconds (MongoDB's default: 60 s); until then other writers
  // conflict and retry (Argon's retry budget outlasts the default). Shorten it so 50
  // kills don't cost 50 minutes.
  const raw = new MongoClient(srv.uri)
  await raw.db('admin').command({ setParameter: 1, transactionLifetimeLimitSeconds: 2 })
  await raw.close()
})
after(async () => { await srv.stop() })

/** Runs a writer and SIGKILLs it `jitterMs` after its `afterAcks`-th acknowledged write. */
function runUntilKilled(uri, database, tag, afterAcks, jitterMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'crash-writer.js'), uri, database, tag], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let timer = null
    child.stdout.on('data', (d) => {
      out += d
      const acks = out.split('\n').length - 2 // minus "ready" and the partial last line
      if (!timer && acks >= afterAcks) timer = setTimeout(() => child.kill('SIGKILL'), jitterMs)
    })
    child.stderr.on('data', (d) => { err += d })
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited (${code}) before the kill: ${err}`))
      resolve(out.split('\n').filter((l) => l && l !== 'ready'))
    })
  })
}

test(`no acknowledged write is lost across ${CYCLES} SIGKILLs`, { timeout: 15 * 60_000 }, async () => {
  const database = freshDb('crash')
  const setup = await connect(srv.uri, database)
  await setup.branch('main').collection('items').insertOne({ _id: 'counter', n: 0 })
  await setup.createBranch('child', { from: 'main' })
  await setup.close()
  const random = rng(20261122)
  const acked = { main: new Set(), child: new Set() }
  const incs = { main: 0, child: 0 }
  let inFlightInc = { main: 0, child: 0 }
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const lines = await runUntilKilled(srv.uri, database, `c${cycle}`, 1 + Math.floor(random() * 40), Math.floor(random() * 15))
    // The last insert line may be followed by an increment that was in flight.
    inFlightInc = { main: 0, child: 0 }
    for (const l of lines) {
      const [kind, branch, id] = l.split(' ')
      if (kind === 'ins') {
        acked[branch].add(id)
        inFlightInc[branch] = 1
      } else if (kind === 'inc') {
        incs[branch] += 1
        inFlightInc[branch] = 0
      }
    }
    const argon = await connect(srv.uri, database)
    for (const b of ['main', 'child']) {
      const coll = argon.branch(b).collection('items')
      const docs = await coll.find({ _id: { $ne: 'counter' } }, { projection: { _id: 1 } }).toArray()
      const ids = docs.map((d) => d._id)
      assert.equal(new Set(ids).size, ids.length, `cycle ${cycle}: duplicate documents on ${b}`)
      for (const id of acked[b]) assert.ok(ids.includes(id), `cycle ${cycle}: acknowledged ${id} missing on ${b}`)
      // The child also sees main's inserts made before its fork (none here: it forked first).
      const extra = ids.filter((id) => !acked[b].has(id))
      assert.ok(extra.length <= 1, `cycle ${cycle}: ${extra.length} unacknowledged docs on ${b}`)
      for (const id of extra) acked[b].add(id) // an unacknowledged write may have committed
      const counter = await coll.findOne({ _id: 'counter' })
      assert.ok(counter.n >= incs[b] && counter.n <= incs[b] + 1, `cycle ${cycle}: counter ${counter.n} vs acked ${incs[b]} on ${b}`)
      incs[b] = counter.n // carry committed-but-unacknowledged increments forward
    }
    await argon.close()
  }
  // The WAL agrees with the heads: every live row's LSN is its newest WAL record.
  const raw = new MongoClient(srv.uri)
  const db = raw.db(database)
  const rows = await db.collection('items').find({}).toArray()
  for (const r of rows) {
    const last = await db.collection('__argon.wal').find({ b: 0, c: 'items', k: r._id }).sort({ _id: -1 }).limit(1).next()
    assert.ok(last, `no WAL record for ${r._id}`)
    assert.equal(Number(last._id), Number(r.__argon_lsn), `head row ${r._id} and WAL disagree`)
  }
  const counterDoc = await db.collection('__argon.meta').findOne({ _id: 'lsn' })
  const maxWal = await db.collection('__argon.wal').find({}).sort({ _id: -1 }).limit(1).next()
  assert.ok(Number(counterDoc.n) >= Math.floor(Number(maxWal._id) / 2 ** 20), 'LSN counter behind the WAL')
  await raw.close()
})
