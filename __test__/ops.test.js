'use strict'
/**
 * Operations (issue 8): exact metrics in both forms, bounded labels, health and alerts,
 * the user's logger, option checks, graceful close, and the fault behaviour for real: the
 * test server SIGKILLed and restarted on the same port and data while an application
 * keeps running.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { Argon } = require('..')
const { startServer } = require('../scripts/test-server')
const { freshDb, eventually } = require('./helpers')

let srv
before(async () => {
  srv = process.env.ARGON_TEST_URI ? { uri: process.env.ARGON_TEST_URI, stop: async () => {} } : await startServer()
})
after(async () => srv.stop())

const open = (extra = {}) => Argon.connect(srv.uri, { database: freshDb('ops'), serverSelectionTimeoutMs: 5000, monitor: false, ...extra })

/** The value of one sample line of the text exposition, or undefined. */
function sample(text, name, labels = '') {
  const prefix = labels ? `${name}{${labels}} ` : `${name} `
  const line = text.split('\n').find((l) => l.startsWith(prefix))
  return line === undefined ? undefined : Number(line.slice(prefix.length))
}

test('counters are exact in both forms, errors carry their code, and reset starts again', async () => {
  const argon = await open()
  try {
    const c = argon.branch('main').collection('items')
    const N = 23
    for (let i = 0; i < N; i++) await c.insertOne({ _id: i })
    await assert.rejects(c.insertOne({ _id: 3 }), (e) => e.code === 11000)
    for (let i = 0; i < 4; i++) assert.ok(await c.findOne({ _id: i }))
    await c.updateOne({ _id: 1 }, { $set: { x: 1 } })
    const text = await argon.metrics()
    assert.equal(sample(text, 'argon_operations_total', 'operation="insertOne",outcome="success"'), N)
    assert.equal(sample(text, 'argon_operations_total', 'operation="insertOne",outcome="error"'), 1)
    assert.equal(sample(text, 'argon_errors_total', 'operation="insertOne",code="DUPLICATE_KEY"'), 1)
    assert.equal(sample(text, 'argon_operations_total', 'operation="findOne",outcome="success"'), 4)
    assert.equal(sample(text, 'argon_operations_total', 'operation="updateOne",outcome="success"'), 1)
    assert.equal(sample(text, 'argon_operation_duration_seconds_count', 'operation="insertOne"'), N + 1)
    // Buckets resolve tens of microseconds up to seconds.
    assert.ok(text.includes('argon_operation_duration_seconds_bucket{operation="findOne",le="0.000025"}'))
    assert.ok(text.includes('argon_operation_duration_seconds_bucket{operation="findOne",le="10"}'))
    assert.equal(sample(text, 'argon_wal_records_total'), N + 1)
    assert.equal(sample(text, 'argon_up'), 1)
    assert.equal(sample(text, 'argon_build_info', `version="${require('../package.json').version}"`), 1)
    assert.equal(sample(text, 'argon_lsn'), N + 1)
    assert.equal(sample(text, 'argon_branches'), 1)
    assert.equal(sample(text, 'argon_circuit_breaker_state'), 0)
    assert.match(text, /# TYPE argon_operations_total counter/)
    assert.match(text, /# HELP argon_operation_duration_seconds /)

    const j = await argon.metrics({ format: 'json' })
    const ins = j.operations.insertOne
    assert.equal(ins.count, N + 1)
    assert.equal(ins.errors, 1)
    assert.ok(Math.abs(ins.successRate - N / (N + 1)) < 1e-9)
    for (const k of ['avgMs', 'minMs', 'maxMs', 'p50Ms', 'p99Ms']) assert.ok(ins[k] > 0, k)
    assert.ok(ins.minMs <= ins.p50Ms && ins.p50Ms <= ins.maxMs)
    assert.ok(ins.lastSeen instanceof Date)
    assert.equal(j.operations.findOne.count, 4)
    assert.equal(j.counters.wal_records_total, N + 1)
    assert.equal(j.lsn, N + 1)
    assert.equal(j.branches, 1)
    assert.equal(j.breaker, 'closed')
    assert.ok(j.system.rssBytes > 0 && j.system.heapUsedBytes > 0)

    argon.resetMetrics()
    const after = await argon.metrics()
    assert.equal(sample(after, 'argon_operations_total', 'operation="insertOne",outcome="success"'), undefined)
    assert.deepEqual((await argon.metrics({ format: 'json' })).operations, {})
    await c.insertOne({ _id: 'again' })
    assert.equal(sample(await argon.metrics(), 'argon_operations_total', 'operation="insertOne",outcome="success"'), 1)
  } finally {
    await argon.close()
  }
})

test('labels are bounded: no branch names, ids, LSNs or credentials in metrics', async () => {
  const argon = await open()
  try {
    await argon.createBranch('feature-secret-branch')
    const c = argon.branch('feature-secret-branch').collection('customers')
    await c.insertOne({ _id: 'cust-4711-id', email: 'someone@example.com' })
    await c.findOne({ _id: 'cust-4711-id' })
    const text = await argon.metrics()
    for (const s of ['feature-secret-branch', 'cust-4711-id', 'customers', 'someone@example.com']) assert.ok(!text.includes(s), s)
    const labels = new Set()
    for (const m of text.matchAll(/(\w+)="/g)) labels.add(m[1])
    assert.deepEqual([...labels].sort(), ['code', 'le', 'operation', 'outcome', 'version'].filter((l) => labels.has(l)).sort())
    for (const m of text.matchAll(/operation="([^"]+)"/g)) assert.match(m[1], /^[a-zA-Z]+$/)
  } finally {
    await argon.close()
  }
})

test('a password in the connection string appears in no error, log record or metric', async () => {
  const records = []
  const logger = { info: (o, m) => records.push(JSON.stringify([m, o])), warn: (o, m) => records.push(JSON.stringify([m, o])), error: (o, m) => records.push(JSON.stringify([m, o])), debug: (o, m) => records.push(JSON.stringify([m, o])) }
  const err = await Argon.connect('mongodb://argonuser:hunter2secret@127.0.0.1:9/?directConnection=true', { database: 'x', serverSelectionTimeoutMs: 300, logger, logLevel: 'debug', monitor: false }).catch((e) => e)
  assert.ok(err instanceof Error)
  assert.ok(!String(err.message).includes('hunter2secret'), err.message)
  assert.ok(!JSON.stringify(err).includes('hunter2secret'))
  const bad = await Argon.connect('mongodb://argonuser:hunter2secret@127.0.0.1:9/?directConnection=true&replicaSet=', { database: 'x', serverSelectionTimeoutMs: 300 }).catch((e) => e)
  assert.ok(!String(bad.message).includes('hunter2secret'), bad.message)
  // An application's own log records (here: a slow-operation warning) never carry it either.
  const argon = await open({ logger, logLevel: 'debug', slowOperationMs: 0 })
  try {
    await argon.branch('main').collection('c').insertOne({ a: 1 })
    await eventually(() => records.some((r) => r.includes('slow operation')))
    assert.ok(records.every((r) => !r.includes('hunter2secret')))
    assert.ok(!(await argon.metrics()).includes('hunter2secret'))
  } finally {
    await argon.close()
  }
})

test("the logger gets the engine's records as structured fields, at the configured level", async () => {
  const got = []
  const logger = {
    debug: (o, m) => got.push({ level: 'debug', o, m }),
    info: (o, m) => got.push({ level: 'info', o, m }),
    warn: (o, m) => got.push({ level: 'warn', o, m }),
    error: (o, m) => got.push({ level: 'error', o, m }),
  }
  const argon = await open({ logger, logLevel: 'warn', slowOperationMs: 0 })
  try {
    const c = argon.branch('main').collection('c')
    await c.insertOne({ _id: 1 })
    await c.findOne({ _id: 1 })
    const slow = await eventually(() => got.filter((r) => r.m === 'slow operation').length >= 2 && got.filter((r) => r.m === 'slow operation'))
    assert.deepEqual(slow.slice(0, 2).map((r) => r.o.operation), ['insertOne', 'findOne'])
    // Records name the branch and the collection (metrics never do).
    assert.deepEqual(slow.slice(0, 2).map((r) => [r.o.branch, r.o.collection]), [['main', 'c'], ['main', 'c']])
    for (const r of slow) {
      assert.equal(r.level, 'warn')
      assert.equal(typeof r.o.duration_ms, 'number')
      assert.equal(r.o.target, 'argon_core::ops')
      assert.ok(r.o.time instanceof Date)
    }
    assert.ok(got.every((r) => r.level === 'warn' || r.level === 'error'), 'nothing below warn')
  } finally {
    await argon.close()
  }
})

test('bad operations options are refused at connect with INVALID_ARGUMENT', async () => {
  const cases = [
    { monitr: {} },
    { monitor: { intervalMs: -5 } },
    { monitor: { intervalMs: 1000, rules: [{ name: 'x', metric: 'nope', threshold: 1, severity: 'warning' }] } },
    { monitor: { rules: [{ name: 'bad name!', metric: 'errorRate', threshold: 0.1, severity: 'warning' }] } },
    { monitor: { rules: [{ name: 'r', metric: 'errorRate', threshold: 0.1, severity: 'fatal' }] } },
    { monitor: { thresholds: { errorRate: 2 } } },
    { retry: { strategy: 'quadratic' } },
    { retry: { maxAttempts: 0 } },
    { retry: { baseDelayMs: 5000, maxDelayMs: 10 } },
    { breaker: { failureThreshold: 0 } },
    { breaker: { openMs: 100, surprise: true } },
    { logger: 'console' },
    { logger: { info() {} } },
    { logger: console, logLevel: 'loud' },
    { slowOperationMs: -1 },
  ]
  for (const extra of cases) {
    await assert.rejects(Argon.connect(srv.uri, { database: freshDb('bad'), ...extra }), (e) => e.code === 'INVALID_ARGUMENT', JSON.stringify(extra))
  }
  // And good ones are accepted, `console` included.
  const argon = await open({
    logger: console,
    logLevel: 'error',
    monitor: { intervalMs: 60_000, thresholds: { errorRate: 0.1 }, rules: [{ name: 'many_errors', metric: 'errorRate', op: '>=', threshold: 0.5, forMs: 0, severity: 'error' }] },
    retry: { strategy: 'linear', maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100, jitter: false },
    breaker: { failureThreshold: 3, openMs: 1000, halfOpenSuccesses: 1 },
  })
  await argon.close()
})

test('healthy by default; liveness and readiness; close waits for operations in flight', async () => {
  const argon = await open()
  const h = await argon.health()
  assert.equal(h.status, 'healthy')
  assert.deepEqual(Object.keys(h.checks).sort(), ['breaker', 'database', 'errorRate', 'latency', 'memory'])
  assert.equal(h.checks.database.status, 'pass')
  assert.ok(h.checks.database.latencyMs > 0)
  assert.equal(h.consecutiveFailures, 0)
  assert.ok(h.lastCheck instanceof Date)
  assert.ok(h.uptimeMs >= 0)
  assert.deepEqual(argon.live(), { status: 'up' })
  assert.equal((await argon.ready()).status, 'up')
  assert.deepEqual(argon.alerts(), [])

  const c = argon.branch('main').collection('big')
  const docs = Array.from({ length: 3000 }, (_, i) => ({ _id: i, pad: 'x'.repeat(200) }))
  const inFlight = c.insertMany(docs)
  await new Promise((r) => setImmediate(r))
  await argon.close({ timeoutMs: 30_000 })
  const r = await inFlight
  assert.equal(r.insertedCount, docs.length, 'the write in flight finished before close')
  assert.deepEqual(argon.live(), { status: 'down' })
  assert.equal((await argon.ready()).status, 'down')
  await assert.rejects(c.findOne({}), (e) => e.code === 'CLIENT_CLOSED')
})

test('an error rate rule fires once after its duration and resolves when the errors stop', async () => {
  const argon = await open({
    monitor: {
      intervalMs: 0,
      defaultRules: false,
      thresholds: { minOperations: 5 },
      rules: [{ name: 'errors_now', metric: 'errorRate', op: '>', threshold: 0.3, forMs: 200, severity: 'error', summary: 'too many errors' }],
    },
  })
  try {
    const events = []
    argon.on('alert', (a) => events.push(a))
    const c = argon.branch('main').collection('c')
    await c.insertOne({ _id: 1 })
    for (let i = 0; i < 9; i++) await c.insertOne({ _id: 1 }).catch(() => {})
    await argon.checkNow()
    assert.deepEqual(argon.alerts(), [], 'pending: not for 200 ms yet')
    await new Promise((r) => setTimeout(r, 250))
    await argon.checkNow()
    await argon.checkNow()
    const active = argon.alerts()
    assert.equal(active.length, 1)
    assert.equal(active[0].rule, 'errors_now')
    assert.equal(active[0].state, 'firing')
    assert.equal(active[0].severity, 'error')
    assert.ok(active[0].value > 0.3)
    assert.equal(active[0].threshold, 0.3)
    assert.ok(active[0].since instanceof Date)
    await eventually(() => events.length === 1)
    assert.equal((await argon.health()).status, 'degraded')
    // The errors stop (the window forgets them once reset).
    argon.resetMetrics()
    await argon.checkNow()
    assert.deepEqual(argon.alerts(), [])
    await eventually(() => events.length === 2)
    assert.deepEqual(events.map((e) => e.state), ['firing', 'resolved'])
    assert.equal(events[1].id, events[0].id)
    assert.deepEqual(argon.alerts({ history: true }).map((a) => a.state), ['firing', 'resolved'])
  } finally {
    await argon.close()
  }
})

test('server killed and restarted: unhealthy, breaker open, database_unavailable fires; then all recovers with nothing lost', { timeout: 180_000, skip: process.env.ARGON_TEST_URI ? 'needs its own server to kill' : false }, async () => {
  const own = await startServer({ syncOnCommit: true })
  const argon = await Argon.connect(own.uri, {
    database: freshDb('fault'),
    serverSelectionTimeoutMs: 400,
    monitor: { intervalMs: 100, checkTimeoutMs: 400 },
    breaker: { failureThreshold: 3, openMs: 500, halfOpenSuccesses: 2 },
    retry: { strategy: 'fixed', maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 20 },
    transactionTimeoutMs: 5_000,
  })
  let restarted = null
  try {
    const states = []
    const alerts = []
    argon.on('breaker', (s) => states.push(s))
    argon.on('alert', (a) => alerts.push(a))
    const c = argon.branch('main').collection('acks')
    const acked = new Set()
    const write = async (i) => {
      try {
        await c.insertOne({ _id: i })
        acked.add(i)
        return null
      } catch (e) {
        return e.code
      }
    }
    let i = 0
    for (; i < 20; i++) assert.equal(await write(i), null)

    await own.kill()
    const codes = new Set()
    await eventually(async () => {
      codes.add(await write(i++))
      return states.includes('open')
    }, 60_000)
    assert.ok(codes.has('SERVER_UNREACHABLE'), [...codes].join())
    // While open, calls are rejected at once.
    const t0 = Date.now()
    assert.equal(await write(i++), 'CIRCUIT_OPEN')
    assert.ok(Date.now() - t0 < 100)
    const fired = await eventually(() => alerts.find((a) => a.rule === 'database_unavailable' && a.state === 'firing'), 30_000)
    assert.equal(fired.severity, 'critical')
    const down = await argon.health()
    assert.equal(down.status, 'unhealthy')
    assert.equal(down.checks.database.status, 'fail')
    assert.equal((await argon.ready()).status, 'down')
    const text = await argon.metrics()
    assert.equal(sample(text, 'argon_up'), 0)
    assert.ok(sample(text, 'argon_circuit_breaker_rejected_total') >= 1)

    restarted = await startServer({ port: own.port, dir: own.dir, syncOnCommit: true })
    // The application keeps running: writes succeed again once the breaker lets probes through.
    await eventually(async () => (await write(i++)) === null, 60_000)
    await eventually(async () => {
      await write(i++)
      return states.at(-1) === 'closed'
    }, 60_000)
    assert.deepEqual(states.slice(0, 2), ['open', 'half-open'])
    // Health: the database check passes and the breaker is closed at once; the window
    // still remembers the outage's errors (degraded) until it moves past them.
    const back = await eventually(async () => {
      const h = await argon.health()
      return h.checks.database.status === 'pass' && h
    }, 30_000)
    assert.notEqual(back.status, 'unhealthy')
    assert.equal(back.checks.breaker.state, 'closed')
    assert.equal(back.checks.errorRate.status, 'warn')
    argon.resetMetrics()
    assert.equal((await argon.health()).status, 'healthy')
    await eventually(() => alerts.find((a) => a.rule === 'database_unavailable' && a.state === 'resolved'), 30_000)
    assert.deepEqual(argon.alerts().filter((a) => a.rule === 'database_unavailable'), [])
    // Every acknowledged write is there exactly once; nothing unacknowledged is half-there.
    const stored = await c.find({}).toArray()
    const ids = stored.map((d) => d._id)
    assert.equal(new Set(ids).size, ids.length)
    for (const id of acked) assert.ok(ids.includes(id), `acknowledged ${id} lost`)
    assert.equal(sample(await argon.metrics(), 'argon_up'), 1)
  } finally {
    await argon.close({ timeoutMs: 1000 })
    if (restarted) await restarted.stop()
    await own.stop()
    fs.rmSync(own.dir, { recursive: true, force: true })
  }
})

test('verify finds nothing wrong in a busy project, and reports each kind of damage without changing anything', async () => {
  const { MongoClient } = require('mongodb')
  const database = freshDb('verify')
  const argon = await Argon.connect(srv.uri, { database, serverSelectionTimeoutMs: 5000, monitor: false, capture: 'off' })
  const raw = new MongoClient(srv.uri)
  try {
    const main = argon.branch('main').collection('items')
    await main.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i, v: i })))
    await main.updateMany({ _id: { $lt: 10 } }, { $inc: { v: 100 } })
    await main.deleteOne({ _id: 29 })
    await argon.createBranch('feature')
    const child = argon.branch('feature').collection('items')
    await child.updateMany({ _id: { $in: [1, 2, 3, 4, 5] } }, { $set: { tag: 'f' } })
    await child.deleteOne({ _id: 6 })
    await child.insertOne({ _id: 'new', v: -1 })
    await child.updateOne({ _id: 1 }, { $inc: { v: 1 } })
    await argon.tag('v1')
    await main.updateOne({ _id: 7 }, { $set: { later: true } })
    await argon.resetBranch('feature', { to: 'parent', backup: false })
    await child.updateOne({ _id: 2 }, { $set: { again: 1 } })

    const clean = await argon.verify()
    assert.equal(clean.ok, true, JSON.stringify(clean.problems))
    assert.equal(clean.problemCount, 0)
    assert.ok(clean.checked.branches >= 2 && clean.checked.rows > 0 && clean.checked.records > 0, JSON.stringify(clean.checked))

    // Damage, with another client, the kinds of things verify must see.
    const db = raw.db(database)
    const id = (await db.collection('__argon.branches').findOne({ _id: 'feature' })).id
    const head = db.collection(`__argon.h.${id}.items`)
    await head.updateOne({ _id: 2 }, { $set: { again: 999 } }) // image differs from its record
    const row3 = await head.findOne({ _id: 'new' })
    if (row3) await head.updateOne({ _id: 'new' }, { $set: { __argon_lsn: 12345 } })
    await head.deleteOne({ _id: 2 })
    await head.insertOne({ _id: 2, again: 999, __argon_lsn: 1, __argon_first: 1 }) // wrong stamp
    const wal = db.collection('__argon.wal')
    const mid = await wal.find({ b: 0, c: 'items', k: 3 }).sort({ _id: 1 }).toArray()
    await wal.deleteOne({ _id: mid[0]._id }) // a predecessor removed from a chain
    await db.collection('__argon.branches').insertOne({ _id: 'ghost', id: 9999, parent: 'nope', parentId: 77, forkLsn: 1, createdAt: new Date(), protected: false })
    await db.collection('items').updateOne({ _id: 8 }, { $set: { v: 'tampered' } }) // main's image differs
    const counts = async () => Promise.all(['__argon.wal', '__argon.branches', `__argon.h.${id}.items`, 'items'].map((c) => db.collection(c).countDocuments()))
    const before = await counts()

    const damaged = await argon.verify()
    assert.equal(damaged.ok, false)
    const kinds = new Set(damaged.problems.map((p) => p.kind))
    assert.ok(damaged.problems.some((p) => p.kind === 'head_image' && p.branch === 'main' && p.id === 8), JSON.stringify(damaged.problems))
    for (const k of ['head_stamp', 'chain', 'branch_meta']) assert.ok(kinds.has(k), `${k} in ${JSON.stringify(damaged.problems)}`)
    const stamp = damaged.problems.find((p) => p.kind === 'head_stamp' && p.id === 2)
    assert.equal(stamp.branch, 'feature')
    assert.equal(stamp.collection, 'items')
    assert.ok(damaged.problems.some((p) => p.kind === 'chain' && p.branch === 'main' && p.id === 3))
    assert.ok(damaged.problems.some((p) => p.kind === 'branch_meta' && p.branch === 'ghost'))
    assert.deepEqual(await counts(), before, 'verify changed nothing')
    // Scoped to one branch and collection.
    const scoped = await argon.verify({ branch: 'feature', collection: 'items' })
    assert.ok(scoped.problems.every((p) => p.branch === 'feature' || p.kind === 'branch_meta'))
    await assert.rejects(argon.verify({ branch: 'nope' }), (e) => e.code === 'BRANCH_NOT_FOUND')
    await assert.rejects(argon.verify({ branch: 5 }), (e) => e.code === 'INVALID_ARGUMENT')
  } finally {
    await raw.close()
    await argon.close()
  }
})

test('WAL records are counted once, when their write commits: bulkWrite, transactions, aborts', async () => {
  const argon = await open()
  try {
    const c = argon.branch('main').collection('w')
    const wal = async () => sample(await argon.metrics(), 'argon_wal_records_total') ?? 0
    await c.insertMany([{ _id: 1 }, { _id: 2 }])
    assert.equal(await wal(), 2)
    await c.bulkWrite([{ insertOne: { document: { _id: 3 } } }, { updateOne: { filter: { _id: 1 }, update: { $set: { a: 1 } } } }, { deleteOne: { filter: { _id: 2 } } }])
    assert.equal(await wal(), 5)
    const s = argon.startSession()
    await s.withTransaction(async (session) => {
      await c.insertOne({ _id: 4 }, { session })
      await c.updateOne({ _id: 3 }, { $set: { b: 1 } }, { session })
    })
    assert.equal(await wal(), 7)
    s.startTransaction()
    await c.insertOne({ _id: 5 }, { session: s })
    await s.abortTransaction()
    await s.endSession()
    assert.equal(await wal(), 7, 'an aborted transaction wrote nothing')
  } finally {
    await argon.close()
  }
})

test('metrics: false records no operation, and the breaker and health still work', async () => {
  const argon = await open({ metrics: false })
  try {
    const c = argon.branch('main').collection('m')
    await c.insertOne({ _id: 1 })
    await c.findOne({ _id: 1 })
    const text = await argon.metrics()
    assert.equal(sample(text, 'argon_operations_total', 'operation="insertOne",outcome="success"'), undefined)
    assert.deepEqual((await argon.metrics({ format: 'json' })).operations, {})
    assert.equal(sample(text, 'argon_up'), 1)
    assert.equal((await argon.health()).status, 'healthy')
  } finally {
    await argon.close()
  }
})
