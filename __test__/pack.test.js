'use strict'
// npm packaging, end to end: `npm pack` the root package (JS only, no .node), build the
// linux-x64-gnu platform package from npm/linux-x64-gnu with the built addon, install both
// (plus bson) into a fresh project, then use the library and the `argon` bin from there.
// Everything happens in a temp dir; nothing is left inside the repository.
const { test, before, after } = require('node:test')
const assert = require('node:assert')
const { run } = require('./run')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
// Not ./helpers: it loads the addon from this checkout, which this test must not need.
const { startServer } = require('../scripts/test-server')

const server = () => (process.env.ARGON_TEST_URI ? { uri: process.env.ARGON_TEST_URI, stop: async () => {} } : startServer())

const root = path.join(__dirname, '..')
const PLATFORM = 'linux-x64-gnu'
const supported = process.platform === 'linux' && process.arch === 'x64' && !isMusl()

function isMusl() {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    return false
  }
}

const sh = run

const ok = (r, what) => assert.strictEqual(r.code, 0, `${what} failed (${r.code})\n${r.stdout}\n${r.stderr}`)

/** The environment for the installed project: no overrides that would bypass the platform package. */
function appEnv() {
  const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }
  for (const k of ['NAPI_RS_NATIVE_LIBRARY_PATH', 'NAPI_RS_FORCE_WASI', 'NODE_PATH', 'MONGODB_URI', 'ARGON_DB']) delete env[k]
  return env
}

/** `npm pack --json` in `dir`; returns the packed file's info (filename, files). */
async function npmPack(dir, dest) {
  const r = await sh('npm', ['pack', '--json', '--pack-destination', dest], { cwd: dir, env: appEnv() })
  ok(r, `npm pack in ${dir}`)
  const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))
  return info
}

/** The built addon; waits a little when a parallel build is replacing it. */
async function builtAddon() {
  const file = path.join(root, `argondb.${PLATFORM}.node`)
  for (let i = 0; i < 60 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 500))
  assert.ok(fs.existsSync(file), `${file} is missing: build the addon first`)
  return file
}

let tmp
let srv

before(async () => {
  if (!supported) return
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'argondb-pack-'))
  srv = await server()
})
after(async () => {
  if (srv) await srv.stop()
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

test('npm packages install and work in a fresh project', { skip: !supported && 'the built addon is linux-x64-gnu', timeout: 150_000 }, async (t) => {
  const dist = path.join(tmp, 'dist')
  fs.mkdirSync(dist)

  // 1. The root package: JavaScript, types and the CLI; never a .node file.
  const rootPkg = await npmPack(root, dist)
  const files = rootPkg.files.map((f) => f.path)
  assert.deepStrictEqual(files.filter((f) => f.endsWith('.node')), [], 'the root package must not ship a .node')
  for (const f of ['package.json', 'index.js', 'index.d.ts', 'binding.js', 'binding.d.ts', 'bin/argon.js', 'lib/argon.js', 'lib/collection.js', 'lib/cursor.js', 'lib/errors.js', 'lib/bson.js']) {
    assert.ok(files.includes(f), `root package lacks ${f}`)
  }
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('crates/') || f.startsWith('__test__/') || f.startsWith('npm/')), `unexpected files: ${files}`)

  // 2. The platform package, built from npm/linux-x64-gnu plus the addon, in the temp dir.
  const platformDir = path.join(tmp, PLATFORM)
  fs.cpSync(path.join(root, 'npm', PLATFORM), platformDir, { recursive: true })
  const platformManifest = JSON.parse(fs.readFileSync(path.join(platformDir, 'package.json'), 'utf8'))
  assert.strictEqual(platformManifest.name, `argondb-${PLATFORM}`)
  assert.strictEqual(platformManifest.version, require('../package.json').version, 'binding.js checks the platform package version')
  fs.copyFileSync(await builtAddon(), path.join(platformDir, platformManifest.main))
  const platformPkg = await npmPack(platformDir, dist)
  assert.deepStrictEqual(platformPkg.files.map((f) => f.path).sort(), ['README.md', `argondb.${PLATFORM}.node`, 'package.json'])

  // 3. A fresh project with both tarballs and the bson peer (from this checkout).
  const app = path.join(tmp, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'argondb-pack-app', version: '1.0.0', private: true }, null, 2))
  const install = await sh(
    'npm',
    ['install', '--prefer-offline', '--no-package-lock', path.join(dist, rootPkg.filename), path.join(dist, platformPkg.filename), path.join(root, 'node_modules', 'bson')],
    { cwd: app, env: appEnv(), timeout: 90_000 },
  )
  ok(install, 'npm install')
  assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'argondb', `argondb.${PLATFORM}.node`)))

  // 4. The library, loaded from the installed package (binding from argondb-linux-x64-gnu).
  const db = `pack_${process.pid}_${Date.now().toString(36)}`
  fs.writeFileSync(
    path.join(app, 'smoke.js'),
    `'use strict'
const { Argon, ArgonError } = require('argondb')
;(async () => {
  const argon = await Argon.connect(process.argv[2], { database: process.argv[3] })
  try {
    const users = argon.branch('main').collection('users')
    await users.insertMany([{ name: 'ada', n: 1 }, { name: 'bob', n: 2 }])
    const dev = (await argon.createBranch('dev')).collection('users')
    await dev.updateOne({ name: 'ada' }, { $set: { n: 10 } })
    await dev.insertOne({ name: 'cyd', n: 3 })
    const read = (c) => c.find({}, { projection: { _id: 0 } }).sort({ name: 1 }).toArray()
    let notFound = null
    try { await argon.branchInfo('nope') } catch (e) { notFound = e instanceof ArgonError && e.code }
    const addon = Object.keys(require.cache).find((k) => k.endsWith('.node'))
    console.log(JSON.stringify({ main: await read(users), dev: await read(dev), info: await argon.branchInfo('dev'), notFound, addon }))
  } finally {
    await argon.close()
  }
})().catch((e) => { console.error(e); process.exitCode = 1 })
`,
  )
  const smoke = await sh(process.execPath, ['smoke.js', srv.uri, db], { cwd: app, env: appEnv() })
  ok(smoke, 'smoke.js')
  const out = JSON.parse(smoke.stdout)
  assert.deepStrictEqual(out.main, [{ name: 'ada', n: 1 }, { name: 'bob', n: 2 }])
  assert.deepStrictEqual(out.dev, [{ name: 'ada', n: 10 }, { name: 'bob', n: 2 }, { name: 'cyd', n: 3 }])
  assert.strictEqual(out.info.parent, 'main')
  assert.strictEqual(out.notFound, 'BRANCH_NOT_FOUND')
  assert.strictEqual(path.relative(app, out.addon), path.join('node_modules', `argondb-${PLATFORM}`, `argondb.${PLATFORM}.node`))

  // 5. The installed CLI.
  const list = await sh('npx', ['--no', 'argon', 'branch', 'list', '--uri', srv.uri, '--db', db], { cwd: app, env: appEnv() })
  ok(list, 'npx argon branch list')
  assert.match(list.stdout, /^main\s+-\s+\d+\s+\d+\s+no\s/m)
  assert.match(list.stdout, /^dev\s+main\s+\d+\s+\d+\s+no\s/m)
  const missing = await sh('npx', ['--no', 'argon', 'branch', 'info', 'nope', '--uri', srv.uri, '--db', db], { cwd: app, env: appEnv() })
  assert.strictEqual(missing.code, 1)
  assert.match(missing.stderr, /error \[BRANCH_NOT_FOUND\]: /)
  // The local test server is a source-checkout convenience: scripts/ is not shipped.
  assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'argondb', 'scripts')))
  const demo = await sh('npx', ['--no', 'argon', 'demo'], { cwd: app, env: appEnv() })
  assert.strictEqual(demo.code, 1)
  assert.match(demo.stderr, /^error \[INVALID_URI\]: .*--uri.*MONGODB_URI/m)

  // 6. The dashboard's page and assets come from the installed package (no CDN, no build
  // step): `npx argon dashboard` serves them, and `argondb/dashboard` resolves.
  for (const f of ['dashboard.d.ts', 'lib/dashboard/index.js', 'lib/dashboard/public/index.html', 'lib/dashboard/public/app.js', 'lib/dashboard/public/app.css']) {
    assert.ok(files.includes(f), `root package lacks ${f}`)
  }
  const { spawn } = require('node:child_process')
  const dash = spawn('npx', ['--no', 'argon', 'dashboard', '--port', '0', '--json', '--uri', srv.uri, '--db', db], { cwd: app, env: appEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  try {
    const url = await new Promise((resolve, reject) => {
      let out = ''
      dash.stdout.on('data', (d) => {
        out += d
        try {
          resolve(JSON.parse(out).url)
        } catch {}
      })
      dash.on('exit', (code) => reject(new Error(`argon dashboard exited ${code}`)))
    })
    for (const asset of ['', 'assets/app.js', 'assets/uplot.js', 'assets/uplot.css']) {
      const r = await fetch(url + asset)
      assert.strictEqual(r.status, 200, asset)
      assert.ok((await r.text()).length > 100, asset)
    }
    const branches = await fetch(`${url}api/branches`).then((r) => r.json())
    assert.deepStrictEqual(branches.branches.map((b) => b.name).sort(), ['dev', 'main'])
  } finally {
    process.kill(-dash.pid, 'SIGTERM') // npx and the CLI under it
  }
  const resolved = await sh(process.execPath, ['-e', "console.log(typeof require('argondb/dashboard').argonDashboard)"], { cwd: app, env: appEnv() })
  ok(resolved, 'require argondb/dashboard')
  assert.strictEqual(resolved.stdout.trim(), 'function')
  t.diagnostic(`root package ${rootPkg.filename}: ${files.length} files, ${rootPkg.size} bytes; platform package ${platformPkg.size} bytes`)
})
