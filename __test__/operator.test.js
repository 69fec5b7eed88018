'use strict'
/**
 * The operator's view (issue 10): `argon status | health | metrics` run as real processes
 * against a project in which an application process (a child using the library, monitor
 * on) is working; their human output, `--json` documents and exit codes, checked against
 * what the application did.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Argon } = require('..')
const { serverAndDriver, freshDb, spawnUntil } = require('./helpers')
const { run } = require('./run')

const env = serverAndDriver()
const BIN = path.join(__dirname, '..', 'bin', 'argon.js')
const APP = path.join(__dirname, 'fixtures', 'app-process.js')

/** The application process, once it printed that its known work is done (or, with mode `close`, that it closed). */
async function startApp(database, mode = 'run') {
  return (await spawnUntil([APP, env.srv.uri, database, mode], mode === 'close' ? /closed/ : /worked/)).child
}

/** Retries `fn` (which asserts) until it passes or `ms` run out, then rethrows its error. */
async function until(fn, ms) {
  const end = Date.now() + ms
  for (;;) {
    try {
      return await fn()
    } catch (e) {
      if (Date.now() > end) throw e
      await new Promise((r) => setTimeout(r, 300))
    }
  }
}

const cli = (database, ...args) => run(process.execPath, [BIN, '--uri', env.srv.uri, '--db', database, ...args], { timeout: 60_000 })

test('status, metrics and health show the working application process; a crashed one turns health unhealthy (exit 2)', { timeout: 120_000 }, async () => {
  const database = freshDb('operator')
  const app = await startApp(database)
  try {
    // status
    const st = await cli(database, 'status', '--json')
    assert.equal(st.code, 0, st.stderr)
    const s = JSON.parse(st.stdout)
    assert.equal(s.server.kind, 'replicaSet')
    assert.equal(s.server.transactions, true)
    assert.match(s.server.version, /^\d+\.\d+/)
    assert.ok(s.lsn >= 20, `LSN ${s.lsn}`)
    assert.deepEqual(s.branches.map((b) => b.name), ['main'])
    const me = s.processes.find((p) => p.pid === app.pid)
    assert.ok(me, `the application (pid ${app.pid}) reports: ${JSON.stringify(s.processes)}`)
    assert.equal(me.app, 'shop-api')
    assert.equal(me.status, 'healthy')
    assert.equal(s.health, 'healthy')
    const human = await cli(database, 'status')
    assert.equal(human.code, 0)
    assert.match(human.stdout, /transactions available/)
    assert.match(human.stdout, new RegExp(`\\b${app.pid}\\b.*shop-api.*healthy`))
    // metrics, summed and for the one process
    for (const args of [[], ['--process', String(app.pid)]]) {
      const m = await cli(database, 'metrics', '--json', ...args)
      assert.equal(m.code, 0, m.stderr)
      const ops = JSON.parse(m.stdout).operations
      assert.equal(ops.insertOne.count, 21)
      assert.equal(ops.insertOne.errors, 1)
      assert.deepEqual(Object.values(ops.insertOne.errorsByCode), [1])
      assert.equal(ops.findOne.count, 10)
      assert.ok(Math.abs(ops.insertOne.successRate - 20 / 21) < 1e-9)
      assert.ok(ops.findOne.p99Ms >= ops.findOne.p50Ms && ops.findOne.p50Ms > 0)
    }
    const table = await cli(database, 'metrics')
    assert.match(table.stdout, /insertOne\s+21\s+95\.2%/)
    const prom = await cli(database, 'metrics', '--prometheus')
    assert.match(prom.stdout, new RegExp(`# process \\w+ pid ${app.pid}`))
    assert.match(prom.stdout, /argon_operations_total\{operation="insertOne",outcome="success"\} 20/)
    const none = await cli(database, 'metrics', '--process', 'no-such-process')
    assert.equal(none.code, 1)
    assert.match(none.stderr, /INVALID_ARGUMENT/)
    // health: healthy now (exit 0) ...
    const h = await cli(database, 'health', '--json')
    assert.equal(h.code, 0, h.stderr)
    assert.equal(JSON.parse(h.stdout).status, 'healthy')
    assert.ok(JSON.parse(h.stdout).processes[0].checks.database)
  } finally {
    app.kill('SIGKILL')
  }
  // ... and once the application has crashed and stayed silent for three intervals:
  // unhealthy, exit code 2.
  await until(async () => {
    const h = await cli(database, 'health', '--json')
    assert.equal(h.code, 2, h.stdout)
    const d = JSON.parse(h.stdout)
    assert.equal(d.status, 'unhealthy')
    assert.equal(d.processes[0].silent, true)
  }, 10_000)
  const human = await cli(database, 'health')
  assert.equal(human.code, 2)
  assert.match(human.stdout, /silent/)
})

test('a process that closes cleanly stops reporting; with no process the status is unknown', { timeout: 60_000 }, async () => {
  const database = freshDb('operator_close')
  await startApp(database, 'close')
  const argon = await Argon.connect(env.srv.uri, { database, monitor: false })
  try {
    assert.deepEqual(await argon.processes(), [])
  } finally {
    await argon.close()
  }
  const st = await cli(database, 'status', '--json')
  assert.equal(JSON.parse(st.stdout).health, 'unknown')
  const h = await cli(database, 'health')
  assert.equal(h.code, 0)
  assert.match(h.stdout, /health: unknown/)
})
