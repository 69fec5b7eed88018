'use strict'
/**
 * Integrations (issue 8): `argondb/express` served by the real express on a real port,
 * `argondb/terminus` in a real NestJS application (no TypeScript: decorators applied with
 * Reflect.decorate), `argondb/prom-client` with the real prom-client, and the types of the
 * subpath exports type-checked through the package's exports map.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { Argon } = require('..')
// Through the package's own exports map (a self-reference), as an application would.
const { argonRouter } = require('argondb/express')
const { ArgonHealthIndicator, argonHealthCheck, argonHealthProvider } = require('argondb/terminus')
const { registerArgonMetrics } = require('argondb/prom-client')
const { server, freshDb, eventually } = require('./helpers')
const { startServer } = require('../scripts/test-server')

const root = path.join(__dirname, '..')

let srv
before(async () => {
  srv = await server()
})
after(async () => srv.stop())

const open = (uri = srv.uri, extra = {}) => Argon.connect(uri, { database: freshDb('integ'), serverSelectionTimeoutMs: 5000, monitor: false, ...extra })

// ---------------------------------------------------------------------------------------
// A strict parser of the Prometheus text format 0.0.4, enough to reject what scrapers do.

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const SUFFIXES = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'] }

function parseLabels(s) {
  const labels = {}
  let rest = s
  while (rest.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/.exec(rest)
    if (!m) throw new Error(`bad labels: {${s}}`)
    if (m[1] in labels) throw new Error(`label ${m[1]} twice in {${s}}`)
    labels[m[1]] = m[2]
    rest = rest.slice(m[0].length)
  }
  return labels
}

/** As Prometheus parses a value (Go's ParseFloat: NaN and Inf in any case; prom-client writes `Nan`). */
function parseValue(v) {
  if (/^[+]?inf(inity)?$/i.test(v)) return Infinity
  if (/^-inf(inity)?$/i.test(v)) return -Infinity
  if (/^nan$/i.test(v)) return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) throw new Error(`bad value ${v}`)
  return Number(v)
}

/** Map of family name → { type, help, samples: [{ name, labels, value }] }; throws on what is invalid. */
function parseExposition(text) {
  const families = new Map()
  const closed = new Set()
  let current = null
  const family = (name) => {
    if (current !== name) {
      if (closed.has(name)) throw new Error(`family ${name} is not contiguous`)
      if (current) closed.add(current)
      current = name
    }
    if (!families.has(name)) families.set(name, { type: undefined, help: undefined, samples: [] })
    return families.get(name)
  }
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line)
    if (meta) {
      const [, kind, name, rest = ''] = meta
      if (!NAME.test(name)) throw new Error(`bad metric name ${name}`)
      const f = family(name)
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`HELP twice for ${name}`)
        f.help = rest
      } else {
        if (f.type !== undefined) throw new Error(`TYPE twice for ${name}`)
        if (f.samples.length) throw new Error(`TYPE after samples for ${name}`)
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type ${rest}`)
        f.type = rest
      }
      continue
    }
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line)
    if (!m) throw new Error(`bad sample line: ${line}`)
    const [, name, labelText = '', value] = m
    let owner = name
    if (!families.has(name) || families.get(name).type === undefined || current !== name) {
      for (const [fname, f] of families) {
        if ((SUFFIXES[f.type] || []).some((s) => name === fname + s)) owner = fname
      }
    }
    const f = family(owner)
    if (f.type === undefined) throw new Error(`sample ${name} of a family without TYPE`)
    f.samples.push({ name, labels: parseLabels(labelText), value: parseValue(value) })
  }
  return families
}

const sampleValue = (families, family, name, labels = {}) => {
  const f = families.get(family)
  if (!f) return undefined
  const s = f.samples.find((x) => x.name === name && Object.keys(labels).every((k) => x.labels[k] === labels[k]) && Object.keys(x.labels).length === Object.keys(labels).length)
  return s && s.value
}

test('the exposition parser rejects what is invalid', () => {
  assert.throws(() => parseExposition('# TYPE a counter\n# TYPE a counter\na 1\n'), /TYPE twice/)
  assert.throws(() => parseExposition('a 1\n'), /without TYPE/)
  assert.throws(() => parseExposition('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n'), /not contiguous/)
  assert.throws(() => parseExposition('# TYPE a gauge\na{x="1} 1\n'), /bad (labels|sample)/)
  assert.throws(() => parseExposition('# TYPE a gauge\na one\n'), /bad value/)
  const ok = parseExposition('# HELP h x\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 0.5\nh_count 2\n')
  assert.equal(sampleValue(ok, 'h', 'h_count'), 2)
})

// ---------------------------------------------------------------------------------------
// HTTP plumbing

function listen(app) {
  return new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err) => (err ? reject(err) : resolve(s)))
    s.on('error', reject)
  })
}

function closeHttp(s) {
  return new Promise((resolve) => {
    s.close(() => resolve())
    s.closeAllConnections()
  })
}

const base = (s) => `http://127.0.0.1:${s.address().port}`

async function get(url, init) {
  const r = await fetch(url, init)
  const text = await r.text()
  const type = r.headers.get('content-type') || ''
  return { status: r.status, type, text, body: type.includes('json') ? JSON.parse(text) : undefined, headers: r.headers }
}

/** An express app with the router under /ops and an error handler that records errors. */
function opsApp(argon, options) {
  const express = require('express')
  const app = express()
  const errors = []
  app.use('/ops', argonRouter(argon, options))
  app.use((err, req, res, next) => {
    errors.push(err)
    res.status(500).json({ error: 'internal' })
  })
  return { app, errors }
}

// ---------------------------------------------------------------------------------------
// argondb/express

test('express router: every route, status, content type and body on a healthy Argon', async (t) => {
  const argon = await open()
  const plain = opsApp(argon)
  const resettable = opsApp(argon, { allowReset: true })
  const s1 = await listen(plain.app)
  const s2 = await listen(resettable.app)
  t.after(async () => {
    await closeHttp(s1)
    await closeHttp(s2)
    await argon.close()
  })
  const c = argon.branch('main').collection('things')
  for (let i = 0; i < 3; i++) await c.insertOne({ _id: i })
  await assert.rejects(c.insertOne({ _id: 1 }))
  assert.ok(await c.findOne({ _id: 2 }))
  const url = base(s1)

  const h = await get(`${url}/ops/health`)
  assert.equal(h.status, 200)
  assert.match(h.type, /^application\/health\+json(;|$)/)
  assert.equal(h.headers.get('cache-control'), 'no-store')
  assert.equal(h.body.status, 'healthy')
  assert.equal(h.body.checks.database.status, 'pass')
  assert.equal(h.body.checks.breaker.state, 'closed')
  assert.equal(h.body.closing, false)
  assert.ok(!h.text.includes(srv.uri), 'no connection string in responses')

  const live = await get(`${url}/ops/health/live`)
  assert.equal(live.status, 200)
  assert.match(live.type, /^application\/health\+json/)
  assert.deepEqual(live.body, { status: 'up' })

  const ready = await get(`${url}/ops/health/ready`)
  assert.equal(ready.status, 200)
  assert.equal(ready.body.status, 'up')
  assert.equal(ready.body.database.status, 'pass')

  const d = await get(`${url}/ops/health/detailed`)
  assert.equal(d.status, 200)
  assert.match(d.type, /^application\/health\+json/)
  assert.equal(d.body.status, 'healthy')
  assert.ok(Array.isArray(d.body.alerts))
  assert.equal(d.body.metrics.operations.insertOne.count, 4)
  assert.equal(d.body.metrics.operations.insertOne.errors, 1)
  assert.equal(d.body.metrics.counters.wal_records_total, 3)
  assert.ok(!d.text.includes(srv.uri))

  const m = await get(`${url}/ops/metrics`)
  assert.equal(m.status, 200)
  assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8')
  const fams = parseExposition(m.text)
  assert.equal(fams.get('argon_operations_total').type, 'counter')
  assert.equal(fams.get('argon_operation_duration_seconds').type, 'histogram')
  assert.equal(sampleValue(fams, 'argon_operations_total', 'argon_operations_total', { operation: 'insertOne', outcome: 'success' }), 3)
  assert.equal(sampleValue(fams, 'argon_operations_total', 'argon_operations_total', { operation: 'insertOne', outcome: 'error' }), 1)
  assert.equal(sampleValue(fams, 'argon_operation_duration_seconds', 'argon_operation_duration_seconds_count', { operation: 'findOne' }), 1)
  assert.equal(sampleValue(fams, 'argon_up', 'argon_up'), 1)

  // The event-loop histogram samples every 20 ms from when the router was made: block the
  // loop for 150 ms, and the delay shows.
  await new Promise((r) => setTimeout(r, 60))
  const blockUntil = Date.now() + 150
  while (Date.now() < blockUntil);
  await new Promise((r) => setTimeout(r, 60))
  const sys = await get(`${url}/ops/system`)
  assert.equal(sys.status, 200)
  assert.match(sys.type, /^application\/json/)
  assert.equal(sys.body.pid, process.pid)
  assert.equal(sys.body.nodeVersion, process.version)
  assert.ok(sys.body.memory.rss > 0 && sys.body.memory.heapUsed > 0)
  assert.ok(sys.body.cpu.user > 0 && sys.body.cpu.system >= 0)
  assert.ok(sys.body.uptime.processSeconds > 0 && sys.body.uptime.processSeconds <= process.uptime())
  assert.ok(sys.body.uptime.argonMs > 0)
  const eld = sys.body.eventLoopDelay
  assert.ok(eld.samples > 0, JSON.stringify(eld))
  assert.equal(eld.resolutionMs, 20)
  assert.ok(eld.minMs >= 0 && eld.minMs <= eld.p50Ms && eld.p50Ms <= eld.p99Ms && eld.p99Ms <= eld.maxMs, JSON.stringify(eld))
  assert.ok(eld.meanMs >= eld.minMs && eld.meanMs <= eld.maxMs)
  assert.ok(eld.maxMs >= 100 && eld.maxMs < 10_000, JSON.stringify(eld))
  assert.ok(eld.p50Ms < 100, JSON.stringify(eld))
  assert.equal(sys.body.argon.up, true)
  assert.equal(sys.body.argon.lsn, 3)
  assert.equal(sys.body.argon.breaker, 'closed')

  const op = await get(`${url}/ops/operations/insertOne`)
  assert.equal(op.status, 200)
  assert.equal(op.body.count, 4)
  assert.equal(op.body.errors, 1)
  assert.equal(op.body.successRate, 0.75)
  assert.ok(op.body.p99Ms >= op.body.p50Ms && op.body.p50Ms > 0)
  assert.ok(!Number.isNaN(Date.parse(op.body.lastSeen)))
  for (const name of ['nope', 'constructor', '__proto__', 'toString']) {
    const r = await get(`${url}/ops/operations/${name}`)
    assert.equal(r.status, 404, name)
    assert.deepEqual(r.body, { error: 'unknown operation' })
  }

  // Without allowReset there is no such route: the app's own 404.
  const noReset = await get(`${url}/ops/reset`, { method: 'POST' })
  assert.equal(noReset.status, 404)
  assert.equal((await get(`${url}/ops/operations/insertOne`)).status, 200, 'nothing was reset')
  assert.equal((await get(`${url}/nothing-here`)).status, 404)

  const reset = await get(`${base(s2)}/ops/reset`, { method: 'POST' })
  assert.equal(reset.status, 200)
  assert.deepEqual(reset.body, { reset: true })
  assert.equal((await get(`${url}/ops/operations/insertOne`)).status, 404)
  const after = parseExposition((await get(`${url}/ops/metrics`)).text)
  assert.equal(after.get('argon_operations_total'), undefined)
  // GET on the reset route is not a reset.
  assert.equal((await get(`${base(s2)}/ops/reset`)).status, 404)
  assert.deepEqual([...plain.errors, ...resettable.errors], [])
})

test('express router: degraded is 200, unhealthy 503, not ready 503, closing is down everywhere', async (t) => {
  const own = await startServer()
  let stopped = false
  const argon = await open(own.uri, { serverSelectionTimeoutMs: 300 })
  const { app, errors } = opsApp(argon)
  const s = await listen(app)
  t.after(async () => {
    await closeHttp(s)
    await argon.close({ timeoutMs: 2000 })
    if (!stopped) await own.stop()
  })
  const url = base(s)
  await argon.branch('main').collection('c').insertOne({ x: 1 })
  assert.equal((await get(`${url}/ops/health`)).status, 200)
  await own.stop()
  stopped = true

  // One failed database check: degraded, still served; not ready.
  const first = await get(`${url}/ops/health`)
  assert.equal(first.body.status, 'degraded')
  assert.equal(first.status, 200)
  assert.equal(first.body.checks.database.status, 'warn')
  assert.equal(typeof first.body.checks.database.error, 'string')
  const notReady = await get(`${url}/ops/health/ready`)
  assert.equal(notReady.status, 503)
  assert.equal(notReady.body.status, 'down')
  assert.ok(notReady.body.database.error)
  assert.equal((await get(`${url}/ops/health/live`)).status, 200, 'the process is alive')

  // Past the threshold of consecutive failures: unhealthy, 503.
  const bad = await eventually(async () => {
    const r = await get(`${url}/ops/health`)
    return r.body.status === 'unhealthy' && r
  }, 15_000)
  assert.equal(bad.status, 503)
  assert.match(bad.type, /^application\/health\+json/)
  assert.equal(bad.body.checks.database.status, 'fail')
  assert.ok(!bad.text.includes(own.uri))
  const detailed = await get(`${url}/ops/health/detailed`)
  assert.equal(detailed.status, 503)
  assert.equal(detailed.body.status, 'unhealthy')
  assert.equal(detailed.body.metrics.system.up, false)
  const m = parseExposition((await get(`${url}/ops/metrics`)).text)
  assert.equal(sampleValue(m, 'argon_up', 'argon_up'), 0)

  await argon.close({ timeoutMs: 2000 })
  const live = await get(`${url}/ops/health/live`)
  assert.equal(live.status, 503)
  assert.deepEqual(live.body, { status: 'down' })
  const closed = await get(`${url}/ops/health`)
  assert.equal(closed.status, 503)
  assert.equal(closed.body.closing, true)
  const ready = await get(`${url}/ops/health/ready`)
  assert.equal(ready.status, 503)
  assert.equal(ready.body.reason, 'closing')
  assert.deepEqual(errors, [])
})

test('express router: handler errors go to next(err); options are checked', async (t) => {
  const argon = await open()
  // The real Argon, with health() and metrics() failing.
  const failing = Object.create(argon, {
    health: { value: async () => Promise.reject(new Error('health exploded')) },
    metrics: { value: async () => Promise.reject(new Error('metrics exploded')) },
  })
  const { app, errors } = opsApp(failing)
  const s = await listen(app)
  t.after(async () => {
    await closeHttp(s)
    await argon.close()
  })
  const url = base(s)
  for (const route of ['health', 'health/ready', 'health/detailed', 'metrics', 'system', 'operations/find']) {
    const r = await get(`${url}/ops/${route}`)
    assert.equal(r.status, 500, route)
    assert.deepEqual(r.body, { error: 'internal' })
  }
  assert.deepEqual(
    errors.map((e) => e.message),
    ['health exploded', 'health exploded', 'health exploded', 'metrics exploded', 'metrics exploded', 'metrics exploded'],
  )
  assert.equal((await get(`${url}/ops/health/live`)).status, 200)

  assert.throws(() => argonRouter({}), TypeError)
  assert.throws(() => argonRouter(null), TypeError)
  assert.throws(() => argonRouter(argon, { allowReset: 'yes' }), /allowReset must be a boolean/)
  assert.throws(() => argonRouter(argon, 'x'), TypeError)
})

test('express router: the event-loop monitor does not keep the process alive', () => {
  const script = `
    const { argonRouter } = require(${JSON.stringify(path.join(root, 'lib', 'express.js'))})
    const f = async () => {}
    const router = argonRouter({ health: f, live: f, ready: f, alerts: f, metrics: f, resetMetrics: f })
    if (typeof router !== 'function' || !Array.isArray(router.stack) || router.stack.length !== 7) throw new Error('not a router with 7 routes')
    console.log('made')
  `
  const t0 = Date.now()
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 20_000 })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'made')
  assert.ok(Date.now() - t0 < 15_000)
})

// ---------------------------------------------------------------------------------------
// argondb/terminus in a real NestJS application

/** Applies decorators the way TypeScript's emitted code does. */
function decorateClass(cls, decorators) {
  return Reflect.decorate(decorators, cls)
}
function decorateMethod(cls, name, decorators) {
  Reflect.decorate(decorators, cls.prototype, name, Object.getOwnPropertyDescriptor(cls.prototype, name))
}

async function nestApp(argon) {
  require('reflect-metadata')
  const { Module, Controller, Get, Inject } = require('@nestjs/common')
  const { NestFactory } = require('@nestjs/core')
  const { TerminusModule, HealthCheckService, HealthIndicatorService, HealthCheck } = require('@nestjs/terminus')

  class HealthController {
    constructor(health, argonIndicator, indicators) {
      this.health = health
      this.argonIndicator = argonIndicator
      // Without dependency injection of the indicator: the helper.
      this.viaHelper = argonHealthCheck(argon, indicators, 'argondb')
    }
    check() {
      return this.health.check([() => this.argonIndicator.isHealthy('argon')])
    }
    checkHelper() {
      return this.health.check([this.viaHelper])
    }
  }
  Inject(HealthCheckService)(HealthController, undefined, 0)
  Inject(ArgonHealthIndicator)(HealthController, undefined, 1)
  Inject(HealthIndicatorService)(HealthController, undefined, 2)
  decorateMethod(HealthController, 'check', [Get(), HealthCheck()])
  decorateMethod(HealthController, 'checkHelper', [Get('helper'), HealthCheck()])
  const Ctl = decorateClass(HealthController, [Controller('health')])

  class AppModule {}
  const Mod = decorateClass(AppModule, [
    Module({
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [Ctl],
      // The application provides its Argon under a token; the indicator comes from it.
      providers: [{ provide: 'ARGON', useValue: argon }, argonHealthProvider('ARGON')],
    }),
  ])
  const app = await NestFactory.create(Mod, { logger: false })
  await app.listen(0, '127.0.0.1')
  return app
}

test('terminus: a NestJS /health endpoint is up with Argon healthy or degraded, 503 down when unhealthy', async (t) => {
  const own = await startServer()
  let stopped = false
  const argon = await open(own.uri, { serverSelectionTimeoutMs: 300 })
  const app = await nestApp(argon)
  t.after(async () => {
    await app.close()
    await argon.close({ timeoutMs: 2000 })
    if (!stopped) await own.stop()
  })
  const url = `http://127.0.0.1:${app.getHttpServer().address().port}`

  const ok = await get(`${url}/health`)
  assert.equal(ok.status, 200)
  assert.equal(ok.body.status, 'ok')
  assert.equal(ok.body.info.argon.status, 'up')
  assert.equal(ok.body.info.argon.health, 'healthy')
  assert.equal(ok.body.info.argon.checks.database.status, 'pass')
  assert.equal(ok.body.info.argon.closing, false)
  assert.deepEqual(ok.body.error, {})
  const helper = await get(`${url}/health/helper`)
  assert.equal(helper.status, 200)
  assert.equal(helper.body.info.argondb.status, 'up')
  assert.equal(helper.body.info.argondb.health, 'healthy')

  await own.stop()
  stopped = true
  // One failed database check: degraded, which Terminus sees as up.
  const degraded = await get(`${url}/health`)
  assert.equal(degraded.status, 200)
  assert.equal(degraded.body.info.argon.status, 'up')
  assert.equal(degraded.body.info.argon.health, 'degraded')
  assert.equal(degraded.body.info.argon.checks.database.status, 'warn')

  const down = await eventually(async () => {
    const r = await get(`${url}/health`)
    return r.status !== 200 && r
  }, 15_000)
  assert.equal(down.status, 503)
  assert.equal(down.body.status, 'error')
  assert.equal(down.body.error.argon.status, 'down')
  assert.equal(down.body.error.argon.health, 'unhealthy')
  assert.equal(down.body.error.argon.checks.database.status, 'fail')
  assert.deepEqual(down.body.info, {})
  assert.ok(!down.text.includes(own.uri))

  await argon.close({ timeoutMs: 2000 })
  const closed = await get(`${url}/health/helper`)
  assert.equal(closed.status, 503)
  assert.equal(closed.body.error.argondb.status, 'down')
  assert.equal(closed.body.error.argondb.closing, true)
})

test('terminus: the indicator without Nest DI, a throwing check, and argument checks', async (t) => {
  const { HealthIndicatorService } = require('@nestjs/terminus')
  const argon = await open()
  t.after(() => argon.close())
  const his = new HealthIndicatorService()

  const provider = argonHealthProvider(argon)
  assert.equal(provider.provide, ArgonHealthIndicator)
  assert.deepEqual(provider.inject, [HealthIndicatorService])
  const indicator = provider.useFactory(his)
  assert.ok(indicator instanceof ArgonHealthIndicator)
  const r = await indicator.isHealthy()
  assert.deepEqual(Object.keys(r), ['argon'])
  assert.equal(r.argon.status, 'up')
  assert.equal(r.argon.health, 'healthy')

  const failing = Object.create(argon, { health: { value: async () => Promise.reject(new Error('check exploded')) } })
  const broken = await argonHealthCheck(failing, his, 'db')()
  assert.deepEqual(broken, { db: { health: 'unhealthy', message: 'check exploded', status: 'down' } })

  assert.throws(() => new ArgonHealthIndicator({}, his), TypeError)
  assert.throws(() => new ArgonHealthIndicator(argon, {}), TypeError)
  assert.throws(() => argonHealthProvider(), TypeError)
})

// ---------------------------------------------------------------------------------------
// argondb/prom-client with the real prom-client

test('prom-client: default metrics and Argon metrics in one valid exposition', async (t) => {
  const client = require('prom-client')
  const argon = await open()
  t.after(() => argon.close())
  const register = new client.Registry()
  client.collectDefaultMetrics({ register })
  const requests = new client.Counter({ name: 'app_requests_total', help: 'Requests.', labelNames: ['route'], registers: [register] })
  requests.inc({ route: '/' }, 2)

  const c = argon.branch('main').collection('pc')
  await c.insertOne({ _id: 1 })
  await c.findOne({ _id: 1 })

  const before = await register.metrics()
  assert.ok(!before.includes('argon_'), 'nothing of Argon before registering')
  const unregister = registerArgonMetrics(argon, register)
  const text = await register.metrics()
  const fams = parseExposition(text)
  assert.ok(fams.has('process_cpu_user_seconds_total'), 'default metrics')
  assert.ok(fams.has('nodejs_eventloop_lag_seconds'), 'default metrics')
  assert.equal(sampleValue(fams, 'app_requests_total', 'app_requests_total', { route: '/' }), 2)
  assert.equal(sampleValue(fams, 'argon_operations_total', 'argon_operations_total', { operation: 'insertOne', outcome: 'success' }), 1)
  assert.equal(sampleValue(fams, 'argon_operation_duration_seconds', 'argon_operation_duration_seconds_count', { operation: 'findOne' }), 1)
  assert.equal(sampleValue(fams, 'argon_up', 'argon_up'), 1)
  // Each family declared once (the parser also checks it).
  const types = text.split('\n').filter((l) => l.startsWith('# TYPE '))
  assert.equal(new Set(types.map((l) => l.split(' ')[2])).size, types.length)
  assert.ok(text.endsWith('\n') && !text.endsWith('\n\n'))
  // The registry's content type is unchanged, and its other views are its own.
  assert.equal(register.contentType, client.Registry.PROMETHEUS_CONTENT_TYPE)
  assert.ok((await register.getMetricsAsJSON()).every((m) => !m.name.startsWith('argon_')))

  // Registering twice on one registry would emit every family twice.
  assert.throws(() => registerArgonMetrics(argon, register), /already includes an Argon/)
  // A metric of the registry that Argon also exports: the scrape fails rather than emit it twice.
  const clash = new client.Gauge({ name: 'argon_up', help: 'mine', registers: [register] })
  await assert.rejects(register.metrics(), /also has argon_up/)
  register.removeSingleMetric(clash.name)
  assert.ok((await register.metrics()).includes('argon_lsn 1'))

  unregister()
  assert.ok(!(await register.metrics()).includes('argon_'))
  assert.ok(!Object.prototype.hasOwnProperty.call(register, 'metrics'), 'the instance is restored')
  const again = registerArgonMetrics(argon, register)
  assert.ok((await register.metrics()).includes('argon_up 1'))
  again()
})

test('prom-client: the global registry by default; OpenMetrics registries and non-Argons refused', async (t) => {
  const client = require('prom-client')
  const argon = await open()
  t.after(() => argon.close())
  await argon.branch('main').collection('g').insertOne({ a: 1 })
  const unregister = registerArgonMetrics(argon)
  t.after(unregister)
  const fams = parseExposition(await client.register.metrics())
  assert.equal(sampleValue(fams, 'argon_wal_records_total', 'argon_wal_records_total'), 1)

  const empty = new client.Registry()
  const undo = registerArgonMetrics(argon, empty)
  const onlyArgon = await empty.metrics()
  assert.ok(onlyArgon.startsWith('# HELP argon_'), onlyArgon.slice(0, 40))
  parseExposition(onlyArgon)
  undo()

  const om = new client.Registry(client.Registry.OPENMETRICS_CONTENT_TYPE)
  assert.throws(() => registerArgonMetrics(argon, om), /Prometheus text format/)
  const switched = new client.Registry()
  const undoSwitched = registerArgonMetrics(argon, switched)
  switched.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE)
  await assert.rejects(switched.metrics(), /Prometheus text format/)
  undoSwitched()

  assert.throws(() => registerArgonMetrics({}, empty), TypeError)
  assert.throws(() => registerArgonMetrics(argon, {}), TypeError)
})

// ---------------------------------------------------------------------------------------
// Types: a strict TypeScript consumer resolves the subpaths through the exports map.

test('the subpath exports type-check through the exports map (tsc, node16 resolution)', { timeout: 120_000 }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argondb-types-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const nm = path.join(dir, 'node_modules')
  fs.mkdirSync(nm)
  fs.symlinkSync(root, path.join(nm, 'argondb'), 'dir')
  for (const dep of ['@types', '@nestjs', 'express', 'prom-client', 'rxjs', 'reflect-metadata', 'mongodb', 'bson']) {
    fs.symlinkSync(path.join(root, 'node_modules', dep), path.join(nm, dep), 'dir')
  }
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'node16', moduleResolution: 'node16', target: 'es2022', types: ['node'], skipLibCheck: false }, files: ['consumer.ts'] }),
  )
  fs.writeFileSync(
    path.join(dir, 'consumer.ts'),
    `import express from 'express'
import * as client from 'prom-client'
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus'
import { Argon } from 'argondb'
import { argonRouter, type SystemInfo, type DetailedHealth } from 'argondb/express'
import { ArgonHealthIndicator, argonHealthCheck, argonHealthProvider } from 'argondb/terminus'
import { registerArgonMetrics } from 'argondb/prom-client'

export async function main(): Promise<void> {
  const argon = await Argon.connect('mongodb://localhost', { database: 'x' })
  const app = express()
  const router: express.Router = argonRouter(argon, { allowReset: true })
  app.use('/ops', router)
  // @ts-expect-error: allowReset is a boolean
  argonRouter(argon, { allowReset: 'yes' })
  const sys = null as unknown as SystemInfo
  const p99: number | null = sys.eventLoopDelay.p99Ms
  const heap: number = sys.memory.heapUsed
  const d = null as unknown as DetailedHealth
  const n: number = d.metrics.operations['find'].count
  void p99, heap, n

  const his = new HealthIndicatorService()
  const ind = new ArgonHealthIndicator(argon, his)
  const r = await ind.isHealthy('db')
  const s: 'up' | 'down' = r.db.status
  const h: 'healthy' | 'degraded' | 'unhealthy' = r.db.health
  const asResult: HealthIndicatorResult = r
  // @ts-expect-error: the result is keyed by the key given
  void r.argon.status
  const fn: () => Promise<HealthIndicatorResult<'argon'>> = argonHealthCheck(argon, his)
  const provider = argonHealthProvider(argon)
  const viaToken = argonHealthProvider('ARGON')
  void s, h, asResult, fn, provider, viaToken

  const undo: () => void = registerArgonMetrics(argon, client.register)
  undo()
  registerArgonMetrics(argon)
  // @ts-expect-error: an OpenMetrics registry is refused
  registerArgonMetrics(argon, new client.Registry(client.Registry.OPENMETRICS_CONTENT_TYPE))
}
`,
  )
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' })
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}\n${r.stderr}`)
})
