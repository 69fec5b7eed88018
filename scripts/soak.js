#!/usr/bin/env node
'use strict'
/**
 * `npm run soak`: several worker processes (scripts/soak-worker.js) write to two branches
 * while this supervisor SIGKILLs and restarts them at random moments, and every so often
 * SIGKILLs and restarts the server on the same port and data. At the end it checks,
 * Jepsen-style, what the workers were told against what is stored:
 *   lost        an acknowledged insert that is missing (and was never deleted);
 *   resurrected an acknowledged delete whose document is there;
 *   phantom     a stored document no worker ever tried to insert;
 *   counters    per branch: acknowledged increments <= n <= attempted increments, and
 *               n equals the number of versions the WAL has for the counter (no write
 *               applied twice);
 *   verify      `argon.verify()` finds the storage invariants intact.
 *
 *   node scripts/soak.js [--cycles 50] [--workers 3] [--server-every 20] [--json]
 *
 * Prints a summary (and with --json one JSON document); exits 1 when any check fails.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { startServer } = require('./test-server')
const { Argon } = require('..')

function args() {
  const a = process.argv.slice(2)
  const get = (name, dflt) => {
    const i = a.indexOf(`--${name}`)
    return i >= 0 ? Number(a[i + 1]) : dflt
  }
  return { cycles: get('cycles', 50), workers: get('workers', 3), serverEvery: get('server-every', 20), json: a.includes('--json') }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function main() {
  const o = args()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argon-soak-'))
  let srv = await startServer({ syncOnCommit: true, dir })
  const database = `soak_${Date.now().toString(36)}`
  const log = { T: new Map(), A: new Map() } // "op branch" -> Map(id -> count)
  const note = (kind, op, branch, ids) => {
    const key = `${op} ${branch}`
    let m = log[kind].get(key)
    if (!m) log[kind].set(key, (m = new Map()))
    for (const id of ids) m.set(id, (m.get(id) || 0) + 1)
  }
  const errors = {}
  const crashes = []
  const started = Date.now()
  let serverRestarts = 0
  const setup = await Argon.connect(srv.uri, { database, monitor: false })
  await setup.createBranch('soak-b')
  for (const b of ['main', 'soak-b']) await setup.branch(b).collection('soak').insertOne({ _id: 'ctr', n: 0 })
  await setup.close()

  const workers = new Map()
  let runs = 0
  const spawnWorker = (w) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'soak-worker.js'), srv.uri, database, String(w), String(runs++)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let buf = ''
    child.stdout.on('data', (d) => {
      buf += d
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const [kind, a, b, c] = line.split(' ')
        if (kind === 'T' || kind === 'A') note(kind, a, b, c.split(','))
        else if (kind === 'E') errors[a] = (errors[a] || 0) + 1
      }
    })
    let err = ''
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)))
    const exited = new Promise((r) =>
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') crashes.push(`worker ${w} exited ${code}: ${err.trim().split('\n')[0]}`)
        r()
      }),
    )
    workers.set(w, { child, exited })
  }
  for (let w = 0; w < o.workers; w++) spawnWorker(w)
  await sleep(1500)

  for (let cycle = 1; cycle <= o.cycles; cycle++) {
    await sleep(200 + Math.floor(Math.random() * 600))
    const w = Math.floor(Math.random() * o.workers)
    const { child, exited } = workers.get(w)
    child.kill('SIGKILL')
    await exited
    if (o.serverEvery > 0 && cycle % o.serverEvery === 0) {
      await srv.kill()
      await sleep(300)
      srv = await startServer({ syncOnCommit: true, dir, port: srv.port })
      serverRestarts++
    }
    spawnWorker(w)
    if (!o.json && cycle % 10 === 0) process.stdout.write(`  ${cycle}/${o.cycles} kill cycles\n`)
  }
  await sleep(1000)
  for (const { child, exited } of workers.values()) {
    child.kill('SIGKILL')
    await exited
  }

  // The checks.
  const argon = await Argon.connect(srv.uri, { database, monitor: false })
  const result = { cycles: o.cycles, workers: o.workers, serverRestarts, seconds: 0, acknowledged: 0, lost: 0, resurrected: 0, phantom: 0, counters: {}, verify: null, errors, crashes }
  try {
    for (const branch of ['main', 'soak-b']) {
      const c = argon.branch(branch).collection('soak')
      const stored = new Set((await c.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id))
      const ackIns = new Map([...(log.A.get(`insertOne ${branch}`) || []), ...(log.A.get(`insertMany ${branch}`) || [])])
      const triedIns = new Set([...(log.T.get(`insertOne ${branch}`) || new Map()).keys(), ...(log.T.get(`insertMany ${branch}`) || new Map()).keys()])
      const ackDel = log.A.get(`delete ${branch}`) || new Map()
      const triedDel = log.T.get(`delete ${branch}`) || new Map()
      for (const id of ackIns.keys()) if (!triedDel.has(id) && !stored.has(id)) result.lost++
      for (const id of ackDel.keys()) if (stored.has(id)) result.resurrected++
      for (const id of stored) if (id !== 'ctr' && !triedIns.has(id)) result.phantom++
      const acked = (log.A.get(`inc ${branch}`) || new Map()).get('ctr') || 0
      const tried = (log.T.get(`inc ${branch}`) || new Map()).get('ctr') || 0
      const n = (await c.findOne({ _id: 'ctr' })).n
      let versions = 0
      let before
      for (;;) {
        const page = await c.history('ctr', { limit: 10000, before })
        versions += page.filter((v) => v.op === 'update').length
        if (page.length < 10000) break
        before = page[page.length - 1].lsn
      }
      result.counters[branch] = { acknowledged: acked, attempted: tried, n, walVersions: versions, ok: acked <= n && n <= tried && n === versions }
      result.acknowledged += acked + [...ackIns.values()].reduce((s, x) => s + x, 0) + [...ackDel.values()].reduce((s, x) => s + x, 0)
    }
    const v = await argon.verify()
    result.verify = v.ok
  } finally {
    await argon.close()
    await srv.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  result.seconds = Math.round((Date.now() - started) / 1000)
  // A worker that died on its own (not killed) or wrote nothing means the soak tested nothing.
  const ok = crashes.length === 0 && result.acknowledged > 0 && result.lost === 0 && result.resurrected === 0 && result.phantom === 0 && result.verify === true && Object.values(result.counters).every((c) => c.ok)
  result.ok = ok
  if (o.json) process.stdout.write(JSON.stringify(result) + '\n')
  else {
    process.stdout.write(`soak: ${result.cycles} worker kills, ${serverRestarts} server restarts, ${result.seconds} s, ${result.acknowledged} writes acknowledged\n`)
    for (const c of crashes) process.stdout.write(`  ${c}\n`)
    const told = Object.entries(errors).map(([k, v]) => `${k} ${v}`).join(', ')
    process.stdout.write(`  errors the workers were told (typed, during kills and restarts): ${told || 'none'}\n`)
    process.stdout.write(`  lost ${result.lost}, resurrected ${result.resurrected}, phantom ${result.phantom}, verify ${result.verify ? 'ok' : 'FAILED'}\n`)
    for (const [b, c] of Object.entries(result.counters)) process.stdout.write(`  ${b}: ctr n=${c.n}, acknowledged ${c.acknowledged} <= n <= attempted ${c.attempted}, WAL versions ${c.walVersions}: ${c.ok ? 'ok' : 'FAILED'}\n`)
    process.stdout.write(ok ? 'soak: ok\n' : 'soak: FAILED\n')
  }
  if (!ok) process.exitCode = 1
}

main().catch((e) => {
  process.stderr.write(`soak: ${e && e.stack}\n`)
  process.exitCode = 1
})
