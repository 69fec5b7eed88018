'use strict'
/**
 * The operator's CLI (issue 10): `argon storage`, `argon top`, `argon verify` and the
 * progress bars, run as real processes against a project in which an application process
 * (a child using the library, monitor publishing every 200 ms) made known writes on three
 * branches and keeps reading. Figures are checked against independent counts with the
 * official driver; `storage`'s gc figures against `gc --dry-run` and then against what
 * `gc` really removes; `verify` against a corruption made on purpose.
 */
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { BSON } = require('bson')
const { serverAndDriver, freshDb, spawnUntil } = require('./helpers')
const { run } = require('./run')

const env = serverAndDriver((e) => startApp(e))
const BIN = path.join(__dirname, '..', 'bin', 'argon.js')
const APP = path.join(__dirname, 'fixtures', 'ops-app.js')
const database = freshDb('cliops')
let app

const args = (...rest) => [BIN, '--uri', env.srv.uri, '--db', database, ...rest]
/** The CLI with stdout and stderr piped (not a terminal). */
const cli = (...rest) => run(process.execPath, args(...rest), { timeout: 60_000 })
const ok = (r) => assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
// Everything older than a millisecond is outside the window, so gc has history to collect.
const RETENTION = ['--retention-ms', '1']

/** Starts the application and waits until its writes are done. */
async function startApp(e) {
  app = (await spawnUntil([APP, e.srv.uri, database], /written/)).child
}
after(() => {
  if (app) app.kill('SIGKILL')
})

/** Branch name → id, from the metadata. */
async function branchIds() {
  const list = await env.raw.db(database).collection('__argon.branches').find().toArray()
  return Object.fromEntries(list.map((b) => [b._id, b.id]))
}

/**
 * Counts by hand, with the driver: per `branchId/collection`, the documents the branch owns
 * (main: the collection; a child: its head rows that are not tombstones) and their bytes,
 * its WAL records and their bytes (raw BSON lengths), and its oldest write record's LSN.
 */
async function countByHand() {
  const db = env.raw.db(database)
  const ids = await branchIds()
  const rows = new Map()
  const row = (b, c) => {
    const k = `${b}/${c}`
    if (!rows.has(k)) rows.set(k, { branchId: b, collection: c, documents: 0, documentBytes: 0, walRecords: 0, walBytes: 0, oldestLsn: null })
    return rows.get(k)
  }
  for await (const buf of db.collection('__argon.wal').find({}, { raw: true })) {
    const r = BSON.deserialize(buf, { useBigInt64: true })
    const x = row(r.b, r.c)
    x.walRecords += 1
    x.walBytes += buf.length
    if (r._id >= 0n) {
      const lsn = Number(r._id >> 20n)
      x.oldestLsn = x.oldestLsn === null ? lsn : Math.min(x.oldestLsn, lsn)
    }
  }
  const live = new Set(Object.values(ids))
  for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
    let b
    let c
    let filter = {}
    const head = /^__argon\.h\.(\d+)\.(.+)$/.exec(name)
    if (head) {
      b = Number(head[1])
      c = head[2]
      filter = { __argon_del: { $exists: false } }
      if (!live.has(b)) continue
    } else if (!name.startsWith('__argon') && !name.startsWith('system.')) {
      b = 0
      c = name
    } else continue
    const x = row(b, c)
    for await (const buf of db.collection(name).find(filter, { raw: true })) {
      x.documents += 1
      x.documentBytes += buf.length
    }
  }
  return { ids, rows }
}

test('storage: per branch and collection, equal to what the driver counts; --json and the table', { timeout: 120_000 }, async () => {
  const r = await cli('storage', '--json', ...RETENTION)
  ok(r)
  assert.equal(r.stderr, '')
  const s = JSON.parse(r.stdout)
  const { ids, rows } = await countByHand()
  const names = Object.fromEntries(Object.entries(ids).map(([n, id]) => [id, n]))
  assert.deepEqual(s.collections.map((x) => `${x.branchId}/${x.collection}`).sort(), [...rows.keys()].sort(), 'one row per branch and collection')
  for (const x of s.collections) {
    const want = rows.get(`${x.branchId}/${x.collection}`)
    const label = `${x.branch}/${x.collection}`
    assert.equal(x.branch, names[x.branchId], label)
    for (const k of ['documents', 'documentBytes', 'walRecords', 'walBytes', 'oldestLsn']) assert.equal(x[k], want[k], `${label} ${k}`)
    assert.ok(!Number.isNaN(Date.parse(x.oldestTime)), `${label} oldestTime`)
  }
  // What the application wrote: 30 orders and 5 users on main; feature owns orders 1-4
  // and 100 (not the tombstone of 5) and 3 carts; exp owns orders 1 and 200.
  const at = (b, c) => s.collections.find((x) => x.branch === b && x.collection === c)
  assert.deepEqual(
    [at('main', 'orders').documents, at('main', 'users').documents, at('feature', 'orders').documents, at('feature', 'carts').documents, at('exp', 'orders').documents],
    [30, 5, 5, 3, 2],
  )
  const sum = (k) => s.collections.reduce((n, x) => n + x[k], 0)
  for (const k of ['documents', 'walRecords', 'walBytes', 'gcRecords', 'gcBytes']) assert.equal(s.totals[k], sum(k), `totals.${k}`)
  assert.ok(s.totals.gcRecords > 0, 'with a 1 ms window gc has history to collect')

  const table = await cli('storage', ...RETENTION)
  ok(table)
  assert.equal(table.stderr, '')
  assert.match(table.stdout, /^BRANCH\s+COLLECTION\s+DOCUMENTS\s+DOC BYTES\s+WAL RECORDS\s+WAL BYTES\s+OLDEST LSN\s+OLDEST TIME\s+GC RECORDS\s+GC BYTES$/m)
  const m = at('main', 'orders')
  assert.match(table.stdout, new RegExp(`^main\\s+orders\\s+30\\s+\\S+ K?i?B\\s+${m.walRecords}\\s+\\S+ K?i?B\\s+${m.oldestLsn}\\s+\\d{4}-\\S+\\s+${m.gcRecords}\\s`, 'm'))
  assert.match(table.stdout, new RegExp(`^TOTAL\\s+${s.totals.documents}\\s+\\S+ K?i?B\\s+${s.totals.walRecords}\\s`, 'm'))
  assert.match(table.stdout, new RegExp(`gc could free ${s.totals.gcRecords} WAL records`))
})

test('storage agrees with gc: the dry run totals, then what gc removes per branch and collection', { timeout: 120_000 }, async () => {
  const s = JSON.parse((await cli('storage', '--json', ...RETENTION)).stdout)
  const dry = await cli('gc', '--dry-run', '--json', ...RETENTION)
  ok(dry)
  assert.equal(dry.stderr, '', 'no progress output when piped')
  const d = JSON.parse(dry.stdout)
  assert.deepEqual([d.recordsRemoved, d.bytesFreed, d.oldestRetainedLsn], [s.totals.gcRecords, s.totals.gcBytes, s.gc.oldestRetainedLsn])
  assert.deepEqual(d.pinnedBy, s.gc.pinnedBy)

  const done = await cli('gc', '--json', ...RETENTION)
  ok(done)
  assert.equal(done.stderr, '')
  assert.equal(JSON.parse(done.stdout).recordsRemoved, s.totals.gcRecords)
  const { rows } = await countByHand()
  for (const x of s.collections) {
    const left = rows.get(`${x.branchId}/${x.collection}`)?.walRecords ?? 0
    assert.equal(left, x.walRecords - x.gcRecords, `${x.branch}/${x.collection}: gc removed what storage said it could`)
  }
  const again = JSON.parse((await cli('storage', '--json', ...RETENTION)).stdout)
  assert.equal(again.totals.gcRecords, 0)
  assert.equal(again.totals.walRecords, s.totals.walRecords - s.totals.gcRecords)
})

test('top: frames of operations per second, errors and latency from the published snapshots', { timeout: 60_000 }, async () => {
  const r = await cli('top', '--iterations', '2', '--interval', '500', '--json')
  ok(r)
  assert.equal(r.stderr, '')
  const lines = r.stdout.trim().split('\n')
  assert.equal(lines.length, 2, 'one JSON document per frame, one per line')
  const frames = lines.map((l) => JSON.parse(l))
  for (const f of frames) {
    assert.ok(f.processes.some((p) => p.pid === app.pid && p.app === 'ops-app'), JSON.stringify(f.processes))
    const find = f.operations.findOne
    assert.ok(find && find.opsPerSec > 0, `findOne ops/s: ${JSON.stringify(find)}`)
    assert.ok(find.intervalCount > 0 && find.avgMs > 0 && find.p99Ms >= find.p50Ms)
    assert.equal(find.errorsPerSec, 0)
    assert.ok(f.totals.opsPerSec >= find.opsPerSec)
    assert.equal(f.intervalMs, 500)
  }
  // The application's duplicate inserts fail: errors per second for insertOne.
  const ins = frames.map((f) => f.operations.insertOne)
  assert.ok(ins.some((i) => i.errorsPerSec > 0 && i.intervalErrors > 0), JSON.stringify(ins))
  for (const i of ins) assert.ok(i.errors >= i.intervalErrors && i.errorsPerSec <= i.opsPerSec, JSON.stringify(i))
  assert.ok(Date.parse(frames[1].t) > Date.parse(frames[0].t))

  // Piped without --json: plain frames, no screen control codes.
  const plain = await cli('top', '--once', '--interval', '300')
  ok(plain)
  assert.doesNotMatch(plain.stdout, /\x1b\[/)
  assert.match(plain.stdout, /^OPERATION\s+OPS\/S\s+ERR\/S\s+ERRORS\s+ERR TOTAL\s+AVG\s+P50\s+P99\s+COUNT$/m)
  assert.match(plain.stdout, /^findOne\s+\d+\.\d\s+0\.0\s/m)
  assert.match(plain.stdout, /1 process reporting/)

  const bad = await cli('top', '--interval', 'soon')
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /^error \[INVALID_ARGUMENT\]: --interval/)
})

test('top stops cleanly on SIGINT (exit 0)', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, args('top', '--interval', '200', '--json'), { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  await new Promise((resolve) =>
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve()
    }),
  )
  child.kill('SIGINT')
  const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  assert.deepEqual([code, signal], [0, null], err)
  for (const l of out.trim().split('\n')) JSON.parse(l)
})

test('progress bars: none when piped or with --json; on a terminal, drawn on stderr and cleared', { timeout: 120_000 }, async () => {
  // Piped: not a byte on stderr, for every command that has a bar.
  for (const a of [['gc', '--dry-run'], ['verify', '--branch', 'feature'], ['diff', 'main', 'exp', '--details'], ['reset', 'exp', '--to', 'parent', '--no-backup']]) {
    const r = await cli(...a)
    ok(r)
    assert.equal(r.stderr, '', a.join(' '))
  }
  const hasScript = spawnSync('script', ['--version']).status === 0
  if (!hasScript) return
  // On a terminal (util-linux `script` gives the command a pty): the bar is drawn, then
  // cleared; with --json the output is the JSON document alone.
  const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`
  const inPty = (...a) => {
    const r = spawnSync('script', ['-qec', [process.execPath, ...args(...a)].map(quote).join(' '), '/dev/null'], { encoding: 'utf8', timeout: 60_000 })
    return { code: r.status, out: r.stdout }
  }
  const v = inPty('verify')
  assert.equal(v.code, 0, v.out)
  assert.match(v.out, /verify \[[█░]+\] \d+% \d+\/\d+ check/)
  assert.match(v.out, /verify: ok/)
  const g = inPty('gc', '--dry-run')
  assert.equal(g.code, 0, g.out)
  assert.match(g.out, /gc \[[█░]+\] \d+% \d+\/\d+ (size|collect)/)
  const j = inPty('verify', '--json')
  assert.equal(j.code, 0)
  assert.doesNotMatch(j.out, /\[[█░]+\]/)
  assert.equal(JSON.parse(j.out.replace(/\r/g, '')).ok, true)
})

test('every command takes --json: one JSON document on stdout, nothing else', { timeout: 120_000 }, async () => {
  const commands = [
    ['branch', 'list'],
    ['branch', 'info', 'exp'],
    ['tag', 'list'],
    ['history', 'main'],
    ['diff', 'main', 'feature'],
    ['diff', 'main', 'feature', '--details'],
    ['preview', 'exp', '--to', 'parent'],
    ['gc', '--dry-run'],
    ['storage'],
    ['verify'],
    ['status'],
    ['health'],
    ['metrics'],
    ['metrics', '--prometheus'],
    ['top', '--once', '--interval', '300'],
  ]
  for (const c of commands) {
    const r = await cli(...c, '--json')
    ok(r)
    assert.equal(r.stderr, '', c.join(' '))
    assert.doesNotThrow(() => JSON.parse(r.stdout), `${c.join(' ')}: ${r.stdout}`)
  }
  const prom = JSON.parse((await cli('metrics', '--prometheus', '--json')).stdout)
  assert.match(prom.find((p) => p.pid === app.pid).prometheus, /argon_operations_total\{operation="findOne",outcome="success"\} \d+/)
})

test('bad input: typed errors with stable codes, exit code 1', { timeout: 60_000 }, async () => {
  for (const [a, code] of [
    [['storage', '--retention-ms', 'soon'], 'INVALID_ARGUMENT'],
    [['gc', '--dry-run', '--retention-ms', '0'], 'INVALID_ARGUMENT'],
    [['top', '--iterations', '-1'], 'INVALID_ARGUMENT'],
    [['verify', '--branch', 'no-such-branch'], 'BRANCH_NOT_FOUND'],
    [['verify', '--branch', 'no-such-branch', '--json'], 'BRANCH_NOT_FOUND'],
  ]) {
    const r = await cli(...a)
    assert.equal(r.code, 1, a.join(' '))
    assert.equal(r.stdout, '', a.join(' '))
    assert.match(r.stderr, new RegExp(`^error \\[${code}\\]: `), a.join(' '))
  }
  const { Argon } = require('..')
  const argon = await Argon.connect(env.srv.uri, { database, monitor: false })
  try {
    for (const call of [() => argon.gc({ dryRun: true, onProgress: 1 }), () => argon.verify({ onProgress: 'x' }), () => argon.resetBranch('exp', { to: 'parent', onProgress: {} })]) {
      await assert.rejects(call, (e) => e.code === 'INVALID_ARGUMENT' && /onProgress must be a function/.test(e.message))
    }
    // A callback that throws does not break the operation.
    const r = await argon.verify({ branch: 'feature', onProgress: () => { throw new Error('display broke') } })
    assert.equal(r.ok, true)
  } finally {
    await argon.close()
  }
})

test('verify: exit 0 on a clean project, exit 1 listing the problem after a corruption', { timeout: 120_000 }, async () => {
  const clean = await cli('verify')
  ok(clean)
  assert.equal(clean.stderr, '', 'no progress output when piped')
  assert.match(clean.stdout, /^verify: ok \(checked 3 branches, \d+ collections, \d+ head rows, \d+ WAL records\)$/m)
  const cj = await cli('verify', '--json')
  ok(cj)
  assert.equal(JSON.parse(cj.stdout).ok, true)

  // Corrupt on purpose: remove the newest WAL record of main's order 0 (gc kept it and the
  // one before, both written after the fork). Its head row now names a record that is gone.
  const wal = env.raw.db(database).collection('__argon.wal')
  const newest = await wal.find({ b: 0, c: 'orders', k: 0, _id: { $gte: 0 } }).sort({ _id: -1 }).limit(2).toArray()
  assert.equal(newest.length, 2)
  await wal.deleteOne({ _id: newest[0]._id })

  const bad = await cli('verify')
  assert.equal(bad.code, 1, bad.stdout)
  assert.match(bad.stdout, /^verify: 1 problem found/m)
  assert.match(bad.stdout, /^head_stamp\s+main\s+orders\s+0\s+/m)
  const bj = await cli('verify', '--json')
  assert.equal(bj.code, 1)
  const report = JSON.parse(bj.stdout)
  assert.equal(report.ok, false)
  assert.deepEqual(report.problems.map((p) => [p.kind, p.branch, p.collection, p.id]), [['head_stamp', 'main', 'orders', 0]])
  // Scoped to another branch, the check does not look at main's heads.
  ok(await cli('verify', '--branch', 'feature'))
})
