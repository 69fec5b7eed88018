'use strict'
/**
 * The web dashboard (issue 10), driven in a real browser: Debian's chromium through
 * playwright-core. An application process (a child using the library, monitor on) does
 * known work; the test seeds branches, a tag and history; then each view's content is
 * checked against the project's real state, charts must render, a reset is refused in
 * read-only mode and done (with confirmation) in read-write mode, nothing from the
 * database becomes markup, and no console error occurs. Screenshots of each view go to
 * $ARGON_SCREENSHOTS (default: a temporary directory).
 */
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
const { Argon } = require('..')
const { argonDashboard, startDashboard, ASSETS } = require('../lib/dashboard')
const helpers = require('./helpers')
const { serverAndDriver, freshDb } = helpers

const env = serverAndDriver(async () => setup())
const BIN = path.join(__dirname, '..', 'bin', 'argon.js')
const APP = path.join(__dirname, 'fixtures', 'dashboard-app.js')
const CHROMIUM = '/usr/bin/chromium'
const SHOTS = process.env.ARGON_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'argon-shots-'))
const EVIL = '<img src=x onerror="window.__pwned=1"><b>bold</b>'

const ctx = { database: null, argon: null, app: null, browser: null, l0: null, children: [] }

/** `helpers.spawnUntil`, the child stopped at the end of the file. */
async function spawnUntil(args, pattern) {
  const started = await helpers.spawnUntil(args, pattern)
  ctx.children.push(started.child)
  return started
}

async function launch() {
  const { chromium } = require('playwright-core')
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

/** A page that records console errors, page errors and failed requests. */
async function openPage(url) {
  const page = await ctx.browser.newPage({ viewport: { width: 1400, height: 1000 } })
  const problems = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page: ${e.message}`))
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`))
  page.problems = problems
  const started = Date.now()
  await page.goto(url)
  page.openedAt = started
  return page
}

const cellTexts = (page, selector) => page.$$eval(selector, (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)))

async function setup() {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: the test setup (scripts/install-browser.sh) installs it`)
  ctx.database = freshDb('dash')
  ctx.argon = await Argon.connect(env.srv.uri, { database: ctx.database, monitor: false })
  const users = ctx.argon.branch('main').collection('users')
  await users.insertMany([
    { _id: 'ada', role: 'admin' },
    { _id: 'bob', role: 'dev' },
    { _id: 'cyd', role: 'dev' },
    { _id: 'dan', role: 'ops' },
    { _id: 'eve', role: 'dev' },
  ])
  ctx.l0 = (await ctx.argon.branchInfo('main')).headLsn
  await ctx.argon.tag('v1', { branch: 'main', at: ctx.l0 })
  await users.updateOne({ _id: 'ada' }, { $set: { role: 'owner' } })
  await users.updateOne({ _id: 'ada' }, { $set: { team: 'core' } })
  await users.deleteOne({ _id: 'eve' })
  await users.insertOne({ _id: 'zed', role: 'intern' })
  const feature = await ctx.argon.createBranch('feature', { from: 'main' })
  await feature.collection('users').insertOne({ _id: 'evil', name: EVIL })
  await ctx.argon.createBranch('feature-child', { from: 'feature' })
  await ctx.argon.protectBranch('feature', true)
  ctx.app = (await spawnUntil([APP, env.srv.uri, ctx.database], /worked/)).child
  ctx.browser = await launch()
}

after(async () => {
  for (const c of ctx.children) if (c.exitCode === null) c.kill('SIGKILL')
  await ctx.browser?.close()
  await ctx.argon?.close()
  if (!process.env.ARGON_SCREENSHOTS) fs.rmSync(SHOTS, { recursive: true, force: true })
})

test('the assets ship in the package and weigh at most 200 KB gzipped', () => {
  let total = 0
  for (const [name, [file]] of Object.entries(ASSETS)) {
    const gz = zlib.gzipSync(fs.readFileSync(file), { level: 9 }).length
    total += gz
    assert.ok(gz > 0, name)
  }
  assert.ok(total <= 200 * 1024, `assets are ${total} bytes gzipped`)
  const pkg = require('../package.json')
  assert.ok(pkg.files.includes('lib/'), 'lib/ (with lib/dashboard/public) is in the package')
  assert.ok(pkg.dependencies.uplot, 'the chart library is a dependency, not a CDN')
})

test('health view: cards, charts, processes, operations and the four tabs show what the application did', { timeout: 120_000 }, async (t) => {
  const d = await startDashboard(ctx.argon, { port: 0, slowMs: 0 })
  try {
    const page = await openPage(d.url)
    await page.waitForSelector('body[data-loaded="health"]', { timeout: 10_000 })
    t.diagnostic(`first render (navigation to a filled health view): ${Date.now() - page.openedAt} ms`)
    assert.equal(await page.textContent('[data-testid="status"]'), 'healthy')
    // The app's own numbers: 21 insertOne with one DUPLICATE_KEY since its metrics reset.
    const ops = Object.fromEntries((await cellTexts(page, '#operations tbody tr')).map((r) => [r[0], r]))
    assert.equal(ops.insertOne[1], '21')
    assert.equal(ops.insertOne[6], '1')
    assert.ok(Number(ops.findOne[1]) >= 10, `findOne ${ops.findOne[1]}`)
    // Each snapshot carries its last interval per operation (calls and percentiles since the
    // previous snapshot): the app's findOne every 250 ms shows in some interval, with p99 >= p50.
    let interval = null
    let total = 0
    for (const end = Date.now() + 10_000; !interval && Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      const snap = (await ctx.argon.processes()).find((p) => p.pid === ctx.app.pid)
      interval = snap.interval.findOne ?? null
      total = snap.metrics.operations.findOne.count
    }
    // Not the cumulative figures: fewer calls than since the start.
    assert.ok(interval && interval.count >= 1 && interval.count < total && interval.p99Ms >= interval.p50Ms, JSON.stringify({ interval, total }))
    const procs = await cellTexts(page, '#processes tbody tr')
    const mine = procs.find((r) => r[1] === String(ctx.app.pid))
    assert.ok(mine, JSON.stringify(procs))
    assert.equal(mine[3], 'orders-api')
    // Cards: latency in ms, error rate a percentage of the last minute's operations.
    assert.match(await page.textContent('[data-testid="latency"]'), /^\d+\.\d\d ms$/)
    assert.match(await page.textContent('[data-testid="error-rate"]'), /^\d+\.\d\d%$/)
    assert.match(await page.textContent('[data-testid="uptime"]'), /^\d+( ms|s|m \d+s)$/)
    // Charts render (uPlot canvases) with points, and refresh every 5 s.
    await page.waitForFunction(() => Number(document.getElementById('chart-latency').dataset.points) >= 2, null, { timeout: 15_000 })
    assert.equal(await page.locator('#chart-latency canvas').count(), 1)
    assert.equal(await page.locator('#chart-errors canvas').count(), 1)
    // The trend points carry the mean latency (weighted by operations) beside p99.
    const overview = await page.evaluate(() => fetch('api/overview').then((r) => r.json()))
    assert.ok(overview.series.some((p) => p.avgMs > 0 && p.avgMs <= p.p99Ms), JSON.stringify(overview.series.slice(-3)))
    assert.ok(overview.cards.avgLatencyMs > 0)
    const before = await page.textContent('#health-meta')
    await page.waitForFunction((b) => document.getElementById('health-meta').textContent !== b, before, { timeout: 12_000 })
    await page.screenshot({ path: path.join(SHOTS, 'health.png') })
    // Tabs.
    const slow = await cellTexts(page, '#slow tbody tr')
    assert.equal(slow.length, 50, 'threshold 0: every recent operation is slow')
    assert.ok(slow.every((r) => r[2] === 'main/orders' && /^\d+\.\d\d ms$/.test(r[3])), JSON.stringify(slow[0]))
    // A threshold in the middle of the durations keeps exactly the operations at or over it.
    const durations = slow.map((r) => parseFloat(r[3])).sort((a, b) => a - b)
    const mid = Math.ceil(durations[25])
    await page.fill('#slow-ms', String(mid))
    await page.dispatchEvent('#slow-ms', 'change')
    await page.waitForFunction((m) => [...document.querySelectorAll('#slow tbody tr td:nth-child(4)')].every((td) => parseFloat(td.textContent) >= m) || /no operation over/.test(document.getElementById('slow').textContent), mid, { timeout: 10_000 })
    assert.ok((await cellTexts(page, '#slow tbody tr')).every((r) => r.length === 1 || parseFloat(r[3]) >= mid))
    await page.fill('#slow-ms', '100000')
    await page.dispatchEvent('#slow-ms', 'change')
    await page.waitForFunction(() => /no operation over 100000 ms/.test(document.getElementById('slow').textContent), null, { timeout: 10_000 })
    await page.click('#health-tabs button[data-tab="errors"]')
    // The duplicate key: one error of insertOne, under its own code.
    const errs = (await cellTexts(page, '#errors tbody tr')).filter((r) => r[0] === 'insertOne')
    const published = (await ctx.argon.processes()).find((p) => p.pid === ctx.app.pid).metrics.operations.insertOne.errorsByCode
    assert.deepEqual(errs, Object.entries(published).map(([code, n]) => ['insertOne', code, String(n)]))
    assert.deepEqual(errs, [['insertOne', 'DUPLICATE_KEY', '1']])
    await page.click('#health-tabs button[data-tab="recent"]')
    const recent = await cellTexts(page, '#recent tbody tr')
    assert.equal(recent.length, 50)
    assert.ok(recent.every((r) => r[5] === String(ctx.app.pid)))
    await page.click('#health-tabs button[data-tab="alerts"]')
    const active = await cellTexts(page, '#alerts-active tbody tr')
    assert.ok(active.some((r) => r[0] === 'errors-seen' && r[1] === 'warning' && r[2] === 'firing'), JSON.stringify(active))
    const history = await cellTexts(page, '#alerts-history tbody tr')
    assert.ok(history.some((r) => r[0] === 'errors-seen' && r[2] === 'resolved' && r[7] !== '-'), JSON.stringify(history))
    await page.screenshot({ path: path.join(SHOTS, 'health-alerts.png'), fullPage: true })
    // Export: CSV and JSON carry the same rows as the page.
    const csv = await page.evaluate(() => fetch('api/export/metrics.csv').then((r) => r.text()))
    const line = csv.split('\r\n').find((l) => l.includes(',insertOne,'))
    assert.match(line, new RegExp(`,${ctx.app.pid},orders-api,.*,insertOne,21,1,`))
    const exported = await page.evaluate(() => fetch('api/export/metrics.json').then((r) => r.json()))
    assert.equal(exported.rows.find((r) => r.pid === ctx.app.pid && r.operation === 'insertOne').count, 21)
    assert.deepEqual(page.problems, [])
    await page.close()
  } finally {
    await d.close()
  }
})

test('branches view: the tree with fork points, head LSNs and protection, and the tags', { timeout: 60_000 }, async () => {
  const d = await startDashboard(ctx.argon, { port: 0 })
  try {
    const page = await openPage(`${d.url}#branches`)
    await page.waitForSelector('body[data-loaded="branches"]', { timeout: 10_000 })
    const rows = await cellTexts(page, '#branch-tree tbody tr')
    const real = await ctx.argon.listBranches()
    assert.deepEqual(rows.map((r) => r[0].replace(/^└ /, '')), ['main', 'feature', 'feature-child'])
    // Documents owned and WAL records per branch: what argon.storage() counts on the server.
    const storage = (await ctx.argon.storage()).collections
    const sum = (name, f) => storage.filter((r) => r.branch === name).reduce((a, r) => a + r[f], 0)
    for (const b of real) {
      const r = rows.find((x) => x[0].replace(/^└ /, '') === b.name)
      assert.deepEqual([r[1], r[2], r[4], r[5], r[6], r[8]], [b.parent ?? '-', String(b.forkLsn), String(b.headLsn), String(sum(b.name, 'documents')), String(sum(b.name, 'walRecords')), b.protected ? 'yes' : 'no'])
    }
    // main owns its 5 users and the application's orders; feature owns the one it inserted.
    assert.equal(rows.find((x) => x[0].endsWith('feature'))[5], '1')
    assert.equal(rows[0][5], String(5 + (await env.raw.db(ctx.database).collection('orders').countDocuments())))
    const tags = await cellTexts(page, '#tags tbody tr')
    assert.deepEqual(tags.map((r) => r.slice(0, 3)), [['v1', 'main', String(ctx.l0)]])
    await page.screenshot({ path: path.join(SHOTS, 'branches.png'), fullPage: true })
    assert.deepEqual(page.problems, [])
    await page.close()
  } finally {
    await d.close()
  }
})

test('time travel view: timeline, documents at a past point, one document history, diff; no HTML from the database; read-only refuses a reset', { timeout: 120_000 }, async () => {
  const d = await startDashboard(ctx.argon, { port: 0 })
  try {
    const page = await openPage(`${d.url}#timetravel`)
    await page.waitForSelector('body[data-loaded="timetravel"]', { timeout: 10_000 })
    await page.waitForSelector('#chart-timeline canvas')
    const t = await ctx.argon.timeline('main', { buckets: 60 })
    assert.equal(Number(await page.getAttribute('#chart-timeline', 'data-points')), t.points.length)
    assert.match(await page.textContent('#tt-info'), new RegExp(`main: LSN \\d+ to ${(await ctx.argon.timeTravelInfo('main')).latestLsn} readable`))
    assert.equal(await page.isHidden('#tt-restore'), true, 'read-only: no restore controls')
    // users on main as of the tag v1: the five original documents.
    await page.selectOption('#tt-collection', 'users')
    await page.fill('#tt-point', 'v1')
    await page.click('#tt-browse')
    await page.waitForFunction(() => (document.body.dataset.browsed || '').startsWith('main|users|v1'))
    const atV1 = await cellTexts(page, '#tt-docs tbody tr')
    const expected = await ctx.argon.branch('main').at('v1').collection('users').find({}).sort({ _id: 1 }).toArray()
    assert.deepEqual(atV1.map((r) => JSON.parse(r[1])), JSON.parse(JSON.stringify(expected)))
    assert.deepEqual(atV1.map((r) => r[0]), ['"ada"', '"bob"', '"cyd"', '"dan"', '"eve"'])
    // A filter, as Extended JSON.
    await page.fill('#tt-filter', '{"role": "dev"}')
    await page.click('#tt-browse')
    await page.waitForFunction(() => document.querySelectorAll('#tt-docs tbody tr').length === 3)
    await page.fill('#tt-filter', '')
    // One document's history.
    await page.click('#tt-browse')
    await page.waitForFunction(() => document.querySelectorAll('#tt-docs tbody tr').length === 5)
    await page.locator('#tt-docs a.doc-id', { hasText: '"ada"' }).click()
    await page.waitForSelector('#tt-history')
    const versions = await cellTexts(page, '#tt-history tbody tr')
    const real = await ctx.argon.branch('main').collection('users').history('ada')
    assert.deepEqual(versions.map((r) => [Number(r[0]), r[2]]), real.map((v) => [v.lsn, v.op]))
    assert.deepEqual(JSON.parse(versions[0][3]), { _id: 'ada', role: 'owner', team: 'core' })
    await page.screenshot({ path: path.join(SHOTS, 'timetravel.png'), fullPage: true })
    // Diff of v1 against the head.
    await page.click('#tt-diff')
    await page.waitForSelector('#tt-diff-table')
    const summary = await ctx.argon.diff({ branch: 'main', at: 'v1' }, { branch: 'main' })
    assert.match(await page.textContent('#tt-side-title'), new RegExp(`${summary.added} added, ${summary.changed} changed, ${summary.removed} removed`))
    const changes = (await cellTexts(page, '#tt-diff-table tbody tr')).filter((r) => r[1] === 'users').map((r) => [r[0], r[2]]).sort()
    assert.deepEqual(changes, [['added', '"zed"'], ['changed', '"ada"'], ['removed', '"eve"']])
    await page.screenshot({ path: path.join(SHOTS, 'timetravel-diff.png'), fullPage: true })
    // HTML in a document stays text.
    await page.selectOption('#tt-branch', 'feature')
    await page.waitForFunction(() => /^feature:/.test(document.getElementById('tt-info').textContent))
    await page.selectOption('#tt-collection', 'users')
    await page.fill('#tt-point', '')
    await page.click('#tt-browse')
    await page.waitForFunction(() => (document.body.dataset.browsed || '').startsWith('feature|users||'))
    assert.ok((await page.textContent('#tt-docs')).includes(JSON.stringify(EVIL)), 'the markup shows as text')
    assert.equal(await page.locator('#tt-docs img, #tt-docs b').count(), 0)
    assert.equal(await page.evaluate(() => window.__pwned), undefined)
    // Read-only: a forged reset is refused, with or without the anti-CSRF token.
    const refused = await page.evaluate(async () => {
      const s = await fetch('api/session').then((r) => r.json())
      const post = (headers) => fetch('api/reset', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ branch: 'main', to: 'v1', confirm: 'main' }) }).then(async (r) => [r.status, (await r.json()).error.code])
      const preview = await fetch('api/preview?branch=main&to=v1').then(async (r) => [r.status, (await r.json()).error.code])
      return { withToken: await post({ 'x-argon-csrf': s.csrfToken }), without: await post({}), preview }
    })
    assert.deepEqual(refused, { withToken: [403, 'READ_ONLY'], without: [403, 'CSRF'], preview: [403, 'READ_ONLY'] })
    assert.equal((await ctx.argon.branchInfo('main')).headLsn > ctx.l0, true, 'main was not reset')
    assert.equal(await ctx.argon.branch('main').collection('users').countDocuments({}), 5)
    // Bad input is a typed error on the page, not a crash.
    await page.selectOption('#tt-branch', 'main')
    await page.waitForFunction(() => /^main:/.test(document.getElementById('tt-info').textContent))
    await page.fill('#tt-filter', '{not json')
    await page.click('#tt-browse')
    await page.waitForFunction(() => /INVALID_ARGUMENT/.test(document.getElementById('error').textContent))
    // The refused requests above (403) and the bad filter (400) are the only failed loads.
    assert.deepEqual(page.problems.filter((p) => !/status of (400|403)/.test(p)), [])
    await page.close()
  } finally {
    await d.close()
  }
})

test('`argon dashboard --read-write` (the real CLI): restore preview, then a confirmed reset keeps a backup', { timeout: 120_000 }, async () => {
  const { match } = await spawnUntil([BIN, '--uri', env.srv.uri, '--db', ctx.database, 'dashboard', '--port', '0', '--read-write'], /at (http:\/\/127\.0\.0\.1:\d+\/) \(read-write/)
  const page = await openPage(`${match[1]}#timetravel`)
  await page.waitForSelector('body[data-loaded="timetravel"]', { timeout: 10_000 })
  assert.equal(await page.textContent('#mode'), 'read-write')
  await page.selectOption('#tt-branch', 'feature-child')
  await page.waitForFunction(() => /^feature-child:/.test(document.getElementById('tt-info').textContent))
  const child = ctx.argon.branch('feature-child').collection('users')
  const fork = (await ctx.argon.branchInfo('feature-child')).headLsn
  await child.insertOne({ _id: 'tmp1' })
  await child.deleteOne({ _id: 'bob' })
  await page.fill('#tt-point', String(fork))
  await page.click('#tt-preview')
  await page.waitForFunction(() => /would re-add/.test(document.getElementById('tt-preview-result').textContent))
  const p = await ctx.argon.restorePreview('feature-child', { to: fork })
  assert.match(await page.textContent('#tt-preview-result'), new RegExp(`re-add ${p.added}, revert ${p.changed} and remove ${p.removed}`))
  assert.deepEqual([p.added, p.removed], [1, 1])
  // The reset asks for the branch name; a wrong one is refused.
  await page.fill('#tt-confirm', 'feature')
  await page.click('#tt-reset')
  await page.waitForFunction(() => /confirm must repeat the branch name/.test(document.getElementById('error').textContent))
  assert.equal(await child.countDocuments({ _id: 'tmp1' }), 1)
  await page.screenshot({ path: path.join(SHOTS, 'restore.png'), fullPage: true })
  await page.fill('#tt-confirm', 'feature-child')
  await page.click('#tt-reset')
  await page.waitForFunction(() => /previous state is kept on branch/.test(document.getElementById('tt-reset-result').textContent))
  const backup = (await page.textContent('#tt-reset-result')).match(/on branch (\S+)$/)[1]
  assert.equal(await child.countDocuments({ _id: 'tmp1' }), 0)
  assert.equal(await child.countDocuments({ _id: 'bob' }), 1)
  assert.equal(await ctx.argon.branch(backup).collection('users').countDocuments({ _id: 'tmp1' }), 1)
  assert.deepEqual(page.problems.filter((x) => !/status of 400/.test(x)), [])
  await page.close()
})

test('`argon dashboard` with ARGON_DASHBOARD_AUTH asks for a login (HTTP Basic); a non-loopback --host without it is refused', { timeout: 60_000 }, async () => {
  const args = [BIN, '--uri', env.srv.uri, '--db', ctx.database, 'dashboard', '--port', '0']
  const prev = process.env.ARGON_DASHBOARD_AUTH
  process.env.ARGON_DASHBOARD_AUTH = 'ops:s3cret:with:colons'
  let started
  try {
    started = await spawnUntil(args, /at (http:\/\/127\.0\.0\.1:\d+\/) \(read-only, login required/)
  } finally {
    if (prev === undefined) delete process.env.ARGON_DASHBOARD_AUTH
    else process.env.ARGON_DASHBOARD_AUTH = prev
  }
  const url = started.match[1]
  const basic = (cred) => ({ authorization: `Basic ${Buffer.from(cred).toString('base64')}` })
  const none = await fetch(`${url}api/branches`)
  assert.equal(none.status, 401)
  assert.equal(none.headers.get('www-authenticate'), 'Basic realm="argon", charset="UTF-8"')
  assert.equal((await fetch(`${url}api/branches`, { headers: basic('ops:wrong') })).status, 401)
  const ok = await fetch(`${url}api/branches`, { headers: basic('ops:s3cret:with:colons') })
  assert.equal(ok.status, 200)
  assert.ok((await ok.json()).branches.some((b) => b.name === 'main'))
  // The browser flow: credentials in the page's origin, every asset and API call passes.
  const context = await ctx.browser.newContext({ httpCredentials: { username: 'ops', password: 's3cret:with:colons' } })
  const page = await context.newPage()
  await page.goto(`${url}#branches`)
  await page.waitForSelector('body[data-loaded="branches"]', { timeout: 10_000 })
  await context.close()
  started.child.kill('SIGTERM')
  assert.doesNotMatch(started.stderr(), /s3cret/)
  // Without a login, only loopback (refused before binding anything).
  const { run } = require('./run')
  const refused = await run(process.execPath, [BIN, '--uri', env.srv.uri, '--db', ctx.database, 'dashboard', '--host', '0.0.0.0', '--port', '0'], { timeout: 30_000 })
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /error \[INVALID_ARGUMENT\]: --host 0\.0\.0\.0 is not a loopback address: set ARGON_DASHBOARD_AUTH/)
})

test('mounted in Express with an auth hook: refused without it, served with it; the page is under the mount point', { timeout: 60_000 }, async () => {
  const express = require('express')
  const app = express()
  app.use('/ops/argon', argonDashboard(ctx.argon, { auth: (req) => req.headers['x-ops-key'] === 'k1' }))
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const base = `http://127.0.0.1:${server.address().port}/ops/argon`
  try {
    const refused = await fetch(`${base}/api/branches`)
    assert.equal(refused.status, 401)
    assert.equal((await refused.json()).error.code, 'UNAUTHORIZED')
    const redirect = await fetch(base, { headers: { 'x-ops-key': 'k1' }, redirect: 'manual' })
    assert.equal(redirect.status, 308)
    assert.equal(redirect.headers.get('location'), '/ops/argon/')
    const html = await fetch(`${base}/`, { headers: { 'x-ops-key': 'k1' } })
    assert.equal(html.status, 200)
    const csp = html.headers.get('content-security-policy')
    assert.match(csp, /script-src 'self'/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    assert.doesNotMatch(await html.text(), /<script>|<script [^>]*>[^<]/, 'no inline script')
    const page = await ctx.browser.newPage({ extraHTTPHeaders: { 'x-ops-key': 'k1' } })
    const problems = []
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()))
    await page.goto(`${base}/#branches`)
    await page.waitForSelector('body[data-loaded="branches"]', { timeout: 10_000 })
    assert.equal(await page.textContent('#mode'), 'read-only')
    assert.equal(await page.locator('#branch-tree tbody tr').count(), (await ctx.argon.listBranches()).length)
    assert.deepEqual(problems, [])
    await page.close()
  } finally {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
})

test('bad options are typed errors', () => {
  assert.throws(() => argonDashboard({}), { code: 'INVALID_ARGUMENT' })
  assert.throws(() => argonDashboard(ctx.argon, { auth: 'yes' }), { code: 'INVALID_ARGUMENT' })
  assert.throws(() => argonDashboard(ctx.argon, { readOnly: 'no' }), { code: 'INVALID_ARGUMENT' })
  assert.throws(() => argonDashboard(ctx.argon, { realm: 'a"b' }), { code: 'INVALID_ARGUMENT' })
})
