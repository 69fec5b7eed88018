'use strict'
/**
 * Faults injected for real: a TCP proxy in this file sits between Argon and the test
 * server. The hardest case for "applied exactly once": the commit reaches the server and
 * commits, its reply is lost, and the server restarts before the client retries, so the
 * retried commit is answered NoSuchTransaction. Argon must then find its own records in
 * the WAL (each write group's token) and report success, not run the write again.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const fs = require('node:fs')
const { Argon } = require('..')
const { startServer } = require('../scripts/test-server')
const { freshDb, eventually } = require('./helpers')

/**
 * A loopback proxy to `port`. `holdNextCommit()` arms it: the next connection that sends a
 * `commitTransaction` has the server's replies withheld from then on, and `held` resolves
 * with a function that cuts that client connection.
 */
function proxy(port) {
  const conns = new Set()
  let armed = null
  let blackhole = false
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port })
    const pair = { client, upstream, holding: false }
    conns.add(pair)
    const close = () => {
      conns.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', close)
    upstream.on('error', close)
    client.on('close', close)
    upstream.on('close', close)
    client.on('data', (d) => {
      if (blackhole) return
      if (armed && !pair.holding && d.includes('commitTransaction')) {
        pair.holding = true
        const { resolve } = armed
        armed = null
        upstream.write(d)
        // Let the server commit and answer, then report the reply as withheld.
        setTimeout(() => resolve(() => close()), 200)
        return
      }
      upstream.write(d)
    })
    upstream.on('data', (d) => {
      if (!pair.holding && !blackhole) client.write(d)
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        holdNextCommit() {
          let resolveHeld
          const held = new Promise((r) => {
            resolveHeld = r
          })
          armed = { resolve: resolveHeld }
          return held
        },
        /** Black-holes all traffic (connections stay open, nothing passes) until `false`. */
        blackhole(on) {
          blackhole = on
        },
        /** Cuts every open connection at once (requests and replies in flight are lost). */
        dropAll() {
          for (const c of conns) {
            c.client.destroy()
            c.upstream.destroy()
          }
          conns.clear()
        },
        async stop() {
          for (const p of conns) {
            p.client.destroy()
            p.upstream.destroy()
          }
          await new Promise((r) => server.close(r))
        },
      })
    })
  })
}

test('a commit whose reply is lost while the server restarts is applied exactly once', { timeout: 180_000 }, async () => {
  const first = await startServer({ syncOnCommit: true })
  const p = await proxy(first.port)
  let second = null
  const argon = await Argon.connect(`mongodb://127.0.0.1:${p.port}/?directConnection=true`, {
    database: freshDb('lost'),
    serverSelectionTimeoutMs: 2000,
    monitor: false,
    capture: 'off',
    logger: process.env.ARGON_FAULT_LOG ? { debug: (o, m) => console.log('D', m, JSON.stringify(o)), info: (o, m) => console.log('I', m, JSON.stringify(o)), warn: (o, m) => console.log('W', m, JSON.stringify(o)), error: (o, m) => console.log('E', m, JSON.stringify(o)) } : undefined,
    logLevel: 'debug',
    retry: { strategy: 'fixed', maxAttempts: 30, baseDelayMs: 200, maxDelayMs: 200, jitter: false },
    breaker: { failureThreshold: 1000, openMs: 1000, halfOpenSuccesses: 1 },
  })
  try {
    const c = argon.branch('main').collection('counters')
    await c.insertOne({ _id: 'n', v: 0 })
    for (let i = 0; i < 3; i++) await c.updateOne({ _id: 'n' }, { $inc: { v: 1 } })

    const held = p.holdNextCommit()
    const write = c.updateOne({ _id: 'n' }, { $inc: { v: 1 } }).then(
      (r) => ({ ok: true, r }),
      (e) => ({ ok: false, e }),
    )
    const cut = await held
    // The commit is on disk; the server dies before its reply gets out, and comes back.
    await first.kill()
    second = await startServer({ port: first.port, dir: first.dir, syncOnCommit: true })
    cut()
    const out = await write
    assert.ok(out.ok, `the write failed: ${out.e && out.e.code} ${out.e && out.e.message}`)
    assert.equal(out.r.modifiedCount, 1)
    const doc = await eventually(() => c.findOne({ _id: 'n' }).catch(() => null), 30_000)
    assert.equal(doc.v, 4, 'the lost-reply write was applied exactly once')
    const v = await argon.verify()
    assert.equal(v.ok, true, JSON.stringify(v.problems))
    // And the project goes on.
    await c.updateOne({ _id: 'n' }, { $inc: { v: 1 } })
    assert.equal((await c.findOne({ _id: 'n' })).v, 5)
  } finally {
    await argon.close({ timeoutMs: 1000 })
    await p.stop()
    if (second) await second.stop()
    await first.stop()
    fs.rmSync(first.dir, { recursive: true, force: true })
  }
})

test('connections dropped again and again under concurrent writes: every acknowledged $inc counted exactly once', { timeout: 180_000 }, async () => {
  const srv = await startServer({ syncOnCommit: true })
  const p = await proxy(srv.port)
  const argon = await Argon.connect(`mongodb://127.0.0.1:${p.port}/?directConnection=true`, {
    database: freshDb('drops'),
    serverSelectionTimeoutMs: 5000,
    monitor: false,
    capture: 'off',
    retry: { strategy: 'exponential', maxAttempts: 8, baseDelayMs: 20, maxDelayMs: 500 },
    breaker: { failureThreshold: 1000, openMs: 1000, halfOpenSuccesses: 1 },
  })
  try {
    const c = argon.branch('main').collection('counters')
    const DOCS = 4
    await c.insertMany(Array.from({ length: DOCS }, (_, i) => ({ _id: i, v: 0 })))
    const acked = new Array(DOCS).fill(0)
    let failed = 0
    let stop = false
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const id = (w + i) % DOCS
        try {
          await c.updateOne({ _id: id }, { $inc: { v: 1 } })
          acked[id] += 1
        } catch {
          failed += 1 // outcome reported as failed: must not be applied (checked below)
        }
      }
    })
    for (let k = 0; k < 12; k++) {
      await new Promise((r) => setTimeout(r, 150))
      p.dropAll()
    }
    stop = true
    await Promise.all(writers)
    const docs = await c.find({}).sort({ _id: 1 }).toArray()
    const total = acked.reduce((a, b) => a + b, 0)
    assert.ok(total > 20, `acknowledged writes: ${total}`)
    // Each document holds exactly its acknowledged increments: none lost, none doubled,
    // and a write reported as failed was not applied.
    assert.deepEqual(docs.map((d) => d.v), acked, `failed: ${failed}`)
    const v = await argon.verify()
    assert.equal(v.ok, true, JSON.stringify(v.problems))
  } finally {
    await argon.close({ timeoutMs: 1000 })
    await p.stop()
    await srv.stop()
  }
})

test('traffic black-holed: operations fail instead of hanging, health goes unhealthy and the breaker opens; then everything recovers', { timeout: 180_000 }, async () => {
  const srv = await startServer({ syncOnCommit: true })
  const p = await proxy(srv.port)
  const argon = await Argon.connect(`mongodb://127.0.0.1:${p.port}/?directConnection=true`, {
    database: freshDb('hole'),
    serverSelectionTimeoutMs: 1000,
    monitor: { intervalMs: 100, checkTimeoutMs: 300 },
    capture: 'off',
    retry: { strategy: 'fixed', maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 50 },
    breaker: { failureThreshold: 2, openMs: 500, halfOpenSuccesses: 1 },
    transactionTimeoutMs: 5000,
  })
  try {
    const states = []
    argon.on('breaker', (s) => states.push(s))
    const c = argon.branch('main').collection('c')
    await c.insertOne({ _id: 0 })
    p.blackhole(true)
    const started = Date.now()
    const codes = []
    while (!states.includes('open') && Date.now() - started < 60_000) {
      const t = Date.now()
      const code = await c.findOne({ _id: 0 }).then(() => 'ok', (e) => e.code)
      codes.push([code, Date.now() - t])
    }
    assert.ok(states.includes('open'), `breaker never opened: ${JSON.stringify(codes)}`)
    for (const [code, ms] of codes) assert.ok(ms < 30_000, `an operation hung for ${ms} ms (${code})`)
    assert.equal((await argon.health()).status, 'unhealthy')
    p.blackhole(false)
    p.dropAll()
    await eventually(async () => (await c.findOne({ _id: 0 }).catch(() => null)) !== null, 60_000)
    await eventually(() => states.at(-1) === 'closed', 30_000)
    await c.insertOne({ _id: 1 })
    assert.equal(await c.countDocuments({}), 2)
  } finally {
    await argon.close({ timeoutMs: 1000 })
    await p.stop()
    await srv.stop()
  }
})

test('reads retried across dropped connections all succeed, and the retries are counted', { timeout: 180_000 }, async () => {
  const srv = await startServer()
  const p = await proxy(srv.port)
  // The driver's own read retry is off, so every retry here is Argon's.
  const argon = await Argon.connect(`mongodb://127.0.0.1:${p.port}/?directConnection=true&retryReads=false`, {
    database: freshDb('readretry'),
    serverSelectionTimeoutMs: 5000,
    monitor: false,
    capture: 'off',
    retry: { strategy: 'exponential', maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 200, budgetRatio: 1 },
    breaker: { failureThreshold: 1000, openMs: 1000, halfOpenSuccesses: 1 },
  })
  try {
    const c = argon.branch('main').collection('r')
    await c.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i })))
    let stop = false
    const failures = []
    let reads = 0
    const readers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        try {
          const d = await c.findOne({ _id: (w + i) % 20 })
          assert.equal(d._id, (w + i) % 20)
          reads += 1
        } catch (e) {
          failures.push(e.code)
        }
      }
    })
    for (let k = 0; k < 10; k++) {
      await new Promise((r) => setTimeout(r, 100))
      p.dropAll()
    }
    stop = true
    await Promise.all(readers)
    assert.deepEqual(failures, [], 'no read failed')
    assert.ok(reads > 20, `reads: ${reads}`)
    const text = await argon.metrics()
    const line = text.split('\n').find((l) => l.startsWith('argon_retries_total '))
    assert.ok(line && Number(line.split(' ')[1]) > 0, `retries counted: ${line}`)
  } finally {
    await argon.close({ timeoutMs: 1000 })
    await p.stop()
    await srv.stop()
  }
})
