'use strict'
// The `argon` CLI (bin/argon.js) run as a child process against a real test server:
// output, --json output and exit codes of every command, errors, and `argon demo`.
const { test, before, after } = require('node:test')
const assert = require('node:assert')
const { run: runCommand } = require('./run')
const path = require('node:path')
const { MongoClient } = require('mongodb')
const { server, freshDb } = require('./helpers')

const CLI = path.join(__dirname, '..', 'bin', 'argon.js')

/** The environment without the variables the CLI reads, so only explicit flags count. */
function cleanEnv(extra = {}) {
  const env = { ...process.env, ...extra }
  for (const k of ['MONGODB_URI', 'ARGON_DB']) if (!(k in extra)) delete env[k]
  return env
}

/** Runs the CLI; resolves `{ code, stdout, stderr }`. */
function argon(args, { env = cleanEnv(), timeout = 30_000 } = {}) {
  return runCommand(process.execPath, [CLI, ...args], { env, timeout })
}

let srv
let db
/** `argon --uri <test server> --db <this file's db> ...args` */
const run = (...args) => argon(['--uri', srv.uri, '--db', db, ...args])
const ok = (r) => assert.strictEqual(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)

before(async () => {
  srv = await server()
  db = freshDb('cli')
})
after(async () => {
  if (srv) await srv.stop()
})

test('branch list: a new project has main', async () => {
  const r = await run('branch', 'list')
  ok(r)
  assert.match(r.stdout, /^NAME\s+PARENT\s+FORK LSN\s+HEAD LSN\s+PROTECTED\s+CREATED$/m)
  assert.match(r.stdout, /^main\s+-\s+\d+\s+\d+\s+no\s+\d{4}-\d\d-\d\dT/m)
  assert.strictEqual(r.stderr, '')

  const j = await run('branch', 'list', '--json')
  ok(j)
  const list = JSON.parse(j.stdout)
  assert.deepStrictEqual(list.map((b) => b.name), ['main'])
  assert.strictEqual(list[0].parent, null)
  assert.strictEqual(typeof list[0].headLsn, 'number')
  assert.ok(!Number.isNaN(Date.parse(list[0].createdAt)))
})

test('branch create, with and without --from', async () => {
  const r = await run('branch', 'create', 'feature-x')
  ok(r)
  assert.match(r.stdout, /^created branch feature-x from main at LSN \d+$/m)

  const j = await run('--json', 'branch', 'create', 'feature-y', '--from', 'feature-x')
  ok(j)
  const info = JSON.parse(j.stdout)
  assert.strictEqual(info.name, 'feature-y')
  assert.strictEqual(info.parent, 'feature-x')
  assert.strictEqual(info.protected, false)

  const dup = await run('branch', 'create', 'feature-x')
  assert.strictEqual(dup.code, 1)
  assert.match(dup.stderr, /^error \[BRANCH_EXISTS\]: /)

  const bad = await run('branch', 'create', 'bad name')
  assert.strictEqual(bad.code, 1)
  assert.match(bad.stderr, /^error \[INVALID_BRANCH_NAME\]: /)

  const names = JSON.parse((await run('branch', 'list', '--json')).stdout).map((b) => b.name)
  assert.deepStrictEqual(names.sort(), ['feature-x', 'feature-y', 'main'])
})

test('branch info', async () => {
  const r = await run('branch', 'info', 'feature-y')
  ok(r)
  assert.match(r.stdout, /^name\s+feature-y$/m)
  assert.match(r.stdout, /^parent\s+feature-x$/m)
  assert.match(r.stdout, /^forkLsn\s+\d+$/m)
  assert.match(r.stdout, /^headLsn\s+\d+$/m)
  assert.match(r.stdout, /^protected\s+no$/m)

  const j = JSON.parse((await run('branch', 'info', 'main', '--json')).stdout)
  assert.deepStrictEqual(Object.keys(j).sort(), ['createdAt', 'forkLsn', 'headLsn', 'name', 'parent', 'protected'])
  assert.strictEqual(j.parent, null)
})

test('unknown branch: exit code 1 and BRANCH_NOT_FOUND on stderr', async () => {
  for (const args of [['branch', 'info', 'nope'], ['branch', 'delete', 'nope'], ['branch', 'protect', 'nope'], ['branch', 'create', 'x', '--from', 'nope']]) {
    const r = await run(...args)
    assert.strictEqual(r.code, 1, args.join(' '))
    assert.match(r.stderr, /^error \[BRANCH_NOT_FOUND\]: .*nope/, args.join(' '))
    assert.strictEqual(r.stdout, '', args.join(' '))
  }
})

test('branch protect / unprotect / delete', async () => {
  const p = await run('branch', 'protect', 'feature-y')
  ok(p)
  assert.match(p.stdout, /^protected branch feature-y$/m)
  assert.strictEqual(JSON.parse((await run('branch', 'info', 'feature-y', '--json')).stdout).protected, true)

  const refused = await run('branch', 'delete', 'feature-y')
  assert.strictEqual(refused.code, 1)
  assert.match(refused.stderr, /^error \[BRANCH_PROTECTED\]: /)

  const u = await run('--json', 'branch', 'unprotect', 'feature-y')
  ok(u)
  assert.strictEqual(JSON.parse(u.stdout).protected, false)

  const d = await run('branch', 'delete', 'feature-y')
  ok(d)
  assert.match(d.stdout, /^deleted branch feature-y$/m)
  const dj = await run('branch', 'delete', 'feature-x', '--json')
  ok(dj)
  assert.deepStrictEqual(JSON.parse(dj.stdout), { deleted: 'feature-x' })

  const mainDel = await run('branch', 'delete', 'main')
  assert.strictEqual(mainDel.code, 1)
  assert.match(mainDel.stderr, /^error \[BRANCH_PROTECTED\]: /)

  const names = JSON.parse((await run('branch', 'list', '--json')).stdout).map((b) => b.name)
  assert.deepStrictEqual(names, ['main'])
})

test('$MONGODB_URI and $ARGON_DB are the defaults of --uri and --db', async () => {
  const envDb = freshDb('cli_env')
  const env = cleanEnv({ MONGODB_URI: srv.uri, ARGON_DB: envDb })
  ok(await argon(['branch', 'create', 'from-env'], { env }))
  const names = JSON.parse((await argon(['--uri', srv.uri, '--db', envDb, '--json', 'branch', 'list'])).stdout).map((b) => b.name)
  assert.deepStrictEqual(names.sort(), ['from-env', 'main'])
})

test('usage errors and a missing URI set exit code 1', async () => {
  const noUri = await argon(['branch', 'list'])
  assert.strictEqual(noUri.code, 1)
  assert.match(noUri.stderr, /^error \[INVALID_URI\]: .*MONGODB_URI/)

  const missingArg = await argon(['branch', 'create'])
  assert.strictEqual(missingArg.code, 1)
  assert.match(missingArg.stderr, /missing required argument 'name'/)

  const unknown = await argon(['frobnicate'])
  assert.strictEqual(unknown.code, 1)
  assert.match(unknown.stderr, /unknown command 'frobnicate'/)

  const help = await argon(['--help'])
  ok(help)
  assert.match(help.stdout, /Usage: argon/)
  assert.match(help.stdout, /--uri <uri>/)
})

test('demo against the server: both sides, LSNs, isolation, cleanup', async () => {
  const r = await run('demo')
  ok(r)
  assert.strictEqual(r.stderr, '')
  assert.match(r.stdout, /^ada\s+admin\s+admin$/m)
  assert.match(r.stdout, /^bob\s+dev\s+lead$/m)
  assert.match(r.stdout, /^cyd\s+dev\s+\(none\)$/m)
  assert.match(r.stdout, /^dan\s+\(none\)\s+intern$/m)
  assert.match(r.stdout, /main is untouched/)
  assert.match(r.stdout, /^main\s+-\s+\d+\s+\d+$/m)
  assert.match(r.stdout, /^feature-x\s+main\s+\d+\s+\d+$/m)
  assert.match(r.stdout, /cleaned up/)

  // --json: the same facts, machine-readable; the demo database is gone afterwards
  const j = await run('demo', '--json')
  ok(j)
  const out = JSON.parse(j.stdout)
  assert.deepStrictEqual(out.main.map((u) => `${u.name}:${u.role}`), ['ada:admin', 'bob:dev', 'cyd:dev'])
  assert.deepStrictEqual(out['feature-x'].map((u) => `${u.name}:${u.role}`), ['ada:admin', 'bob:lead', 'dan:intern'])
  const [mainInfo, featureInfo] = ['main', 'feature-x'].map((n) => out.branches.find((b) => b.name === n))
  assert.strictEqual(featureInfo.parent, 'main')
  assert.strictEqual(featureInfo.forkLsn, mainInfo.headLsn, 'feature-x forked at main head')
  assert.ok(featureInfo.headLsn > featureInfo.forkLsn)
  assert.strictEqual(out.cleanedUp, true)
  const client = await MongoClient.connect(srv.uri)
  try {
    const dbs = (await client.db().admin().listDatabases()).databases.map((d) => d.name)
    assert.ok(!dbs.includes(out.database), `${out.database} was not dropped`)
  } finally {
    await client.close()
  }
})

test('demo without a URI starts (and stops) a local test server', async () => {
  const r = await argon(['demo'])
  ok(r)
  assert.match(r.stdout, /a local test server, started for this demo/)
  assert.match(r.stdout, /^bob\s+dev\s+lead$/m)
})

test('demo without a URI or test server explains what to do', async () => {
  const r = await argon(['demo'], { env: cleanEnv({ SECANTUSD_BIN: path.join(__dirname, 'no-such-secantusd') }) })
  assert.strictEqual(r.code, 1)
  assert.match(r.stderr, /^error \[SERVER_UNREACHABLE\]: .*not installed.*MONGODB_URI.*scripts\/install-test-server\.sh/)
})

test('time travel commands: tag, history, diff, preview, reset, branch create --at', async () => {
  const { Argon } = require('..')
  const database = freshDb('clitt')
  const a = await Argon.connect(srv.uri, { database })
  const users = a.branch('main').collection('users')
  await users.insertMany([{ _id: 1, role: 'dev' }, { _id: 2, role: 'dev' }])
  await a.close()
  const cli = (...args) => argon(['--uri', srv.uri, '--db', database, ...args])
  const t = await cli('--json', 'tag', 'create', 'v1')
  ok(t)
  const lsn = JSON.parse(t.stdout).lsn
  assert.strictEqual(lsn, 1)
  const b = await Argon.connect(srv.uri, { database })
  await b.branch('main').collection('users').updateOne({ _id: 1 }, { $set: { role: 'lead' } })
  await b.branch('main').collection('users').deleteOne({ _id: 2 })
  await b.close()
  const list = await cli('tag', 'list')
  ok(list)
  assert.match(list.stdout, /v1\s+main\s+1/)
  const h = await cli('--json', 'history', 'main')
  ok(h)
  assert.deepStrictEqual([JSON.parse(h.stdout).earliestLsn, JSON.parse(h.stdout).latestLsn], [0, 3])
  const d = await cli('--json', 'diff', 'main@v1', 'main', '--details')
  ok(d)
  const diff = JSON.parse(d.stdout)
  assert.deepStrictEqual([diff.added, diff.changed, diff.removed], [0, 1, 1])
  assert.strictEqual(diff.documents.length, 2)
  const p = await cli('preview', 'main', '--to', 'v1')
  ok(p)
  assert.match(p.stdout, /users\s+1\s+1\s+0/)
  const c = await cli('--json', 'branch', 'create', 'old', '--at', '1')
  ok(c)
  assert.strictEqual(JSON.parse(c.stdout).forkLsn, 1)
  const r = await cli('--json', 'reset', 'main', '--to', 'v1', '--backup', 'before-reset')
  ok(r)
  assert.strictEqual(JSON.parse(r.stdout).backup, 'before-reset')
  const after = await cli('--json', 'diff', 'main', 'old')
  ok(after)
  assert.strictEqual(JSON.parse(after.stdout).changed + JSON.parse(after.stdout).removed + JSON.parse(after.stdout).added, 0)
  const bad = await cli('reset', 'main', '--to', '999999')
  assert.strictEqual(bad.code, 1)
  assert.match(bad.stderr, /error \[LSN_OUT_OF_RANGE\]/)
  const badTag = await cli('tag', 'delete', 'nope')
  assert.strictEqual(badTag.code, 1)
  assert.match(badTag.stderr, /TAG_NOT_FOUND/)
  // Everything is inside the 7-day window: gc finds nothing to remove, and says so.
  const gc = await cli('--json', 'gc', '--dry-run')
  ok(gc)
  const g = JSON.parse(gc.stdout)
  assert.deepStrictEqual([g.recordsRemoved, g.dryRun, g.pinnedBy], [0, true, []])
  const gcText = await cli('gc')
  ok(gcText)
  assert.match(gcText.stdout, /^removed 0 WAL records \(0 bytes\)\noldest retained LSN {2}\d+\n$/)
})
