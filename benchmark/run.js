#!/usr/bin/env node
'use strict'
/**
 * argondb benchmark suite (`npm run bench`). See docs/benchmarks.md.
 *
 *   node benchmark/run.js [--quick] [--only <names|numbers>] [--rounds N] [options]
 *
 * Runs against $MONGODB_URI, or starts a local secantusd-rs on a free loopback port.
 * Every case runs our path and the official driver side by side in this process,
 * alternating over rounds, and reports medians, the round-to-round spread, the ratio
 * ours/baseline, the target, and server round trips per operation.
 *
 * Writes benchmark/results/latest.json (full runs) or benchmark/results/quick.json
 * (--quick), or the file given with --out. Exit code: 0 when every scenario ran (in full
 * runs also: no target missed, unless --no-fail); 1 when a full run missed a target;
 * 2 when a scenario failed with an error. --quick never fails on timing.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { createContext, addonStamp } = require('./lib/context')
const { resultsTable, costTable, mark } = require('./lib/table')

const HELP = `usage: node benchmark/run.js [options]
  --quick                 small data, few rounds (under 2 minutes); never fails on timing
  --only <list>           scenarios by name or number, comma-separated (e.g. 1,5 or reads-main)
  --rounds <n>            alternation rounds per case
  --docs <n>              documents in the read/write fixtures (scenarios 1, 2, 4, 6, 8)
  --read-ops <n>          timed operations per side per round for reads
  --write-ops <n>         timed operations per side per round for writes
  --history-sizes <list>  history lengths for scenario 3 (e.g. 10000,100000,1000000)
  --history-updates <n>   updates appended to each history (after its halfway point)
  --branch-sizes <list>   documents in main for scenario 7
  --stream-sizes <list>   documents streamed in scenario 9
  --diff-changes <list>   changed documents for scenario 8
  --writers <list>        concurrent writers for scenario 6 (default 8,32)
  --ops-per-writer <n>    operations per writer per timed block in scenario 6
  --insert-batches <n>    insertMany batches of 1,000 per timed block in scenario 5
  --block-ms <n>          a timed latency block stops after this long once it has --min-ops samples
  --min-ops <n>           at least this many samples per block (default 3, quick 2)
  --mem-rounds <n>        rounds of child processes in scenario 9
  --stream-timeout <s>    give up on one stream of scenario 9 after this many seconds (300, quick 120)
  --rt-proxy              count round trips through a loopback proxy instead of serverStatus
  --no-round-trips        skip the round-trip / CPU pass
  --out <file>            write the JSON here instead of benchmark/results/{latest,quick}.json
  --no-fail               exit 0 even when a full run misses a target
  --keep                  keep the benchmark databases on an external server
  --list                  list the scenarios and exit`

const FULL = {
  rounds: 7,
  docs: 10_000,
  readOps: 200,
  writeOps: 20,
  rtReadOps: 100,
  rtWriteOps: 20,
  timeTravelOps: 100,
  historySizes: [10_000, 100_000, 1_000_000],
  historyUpdates: 20,
  branchSizes: [1_000, 100_000, 1_000_000],
  branchOps: 10,
  streamSizes: [10_000, 1_000_000],
  memRounds: 2,
  streamTimeoutSec: 300,
  diffChanges: [10, 100, 1_000],
  diffOps: 10,
  writers: [8, 32],
  opsPerWriter: 4,
  insertBatches: 3,
  blockMs: 3000,
  minOps: 3,
}

const QUICK = {
  rounds: 3,
  docs: 2_000,
  readOps: 40,
  writeOps: 6,
  rtReadOps: 20,
  rtWriteOps: 5,
  timeTravelOps: 10,
  historySizes: [1_000, 4_000, 16_000],
  historyUpdates: 5,
  branchSizes: [1_000, 4_000, 16_000],
  branchOps: 4,
  streamSizes: [1_000, 16_000],
  memRounds: 1,
  streamTimeoutSec: 120,
  diffChanges: [10, 100],
  diffOps: 4,
  writers: [8, 32],
  opsPerWriter: 1,
  insertBatches: 1,
  blockMs: 600,
  minOps: 2,
}

function parseArgs(argv) {
  const flags = {}
  const list = (v) => String(v).split(',').map((x) => Number(x.replace(/_/g, ''))).filter((x) => Number.isFinite(x) && x > 0)
  const num = (v, name) => {
    const n = Number(v)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, got ${v}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    switch (a) {
      case '--quick': flags.quick = true; break
      case '--only': flags.only = val().split(',').map((s) => s.trim()).filter(Boolean); break
      case '--rounds': flags.rounds = num(val(), a); break
      case '--docs': flags.docs = num(val(), a); break
      case '--read-ops': flags.readOps = num(val(), a); break
      case '--write-ops': flags.writeOps = num(val(), a); break
      case '--history-sizes': flags.historySizes = list(val()); break
      case '--history-updates': flags.historyUpdates = num(val(), a); break
      case '--branch-sizes': flags.branchSizes = list(val()); break
      case '--stream-sizes': flags.streamSizes = list(val()); break
      case '--diff-changes': flags.diffChanges = list(val()); break
      case '--writers': flags.writers = list(val()); break
      case '--ops-per-writer': flags.opsPerWriter = num(val(), a); break
      case '--insert-batches': flags.insertBatches = num(val(), a); break
      case '--mem-rounds': flags.memRounds = num(val(), a); break
      case '--stream-timeout': flags.streamTimeoutSec = num(val(), a); break
      case '--block-ms': flags.blockMs = num(val(), a); break
      case '--min-ops': flags.minOps = num(val(), a); break
      case '--rt-proxy': flags.rtProxy = true; break
      case '--no-round-trips': flags.noRoundTrips = true; break
      case '--out': flags.out = val(); break
      case '--no-fail': flags.noFail = true; break
      case '--keep': flags.keep = true; break
      case '--list': flags.list = true; break
      case '-h':
      case '--help': flags.help = true; break
      default: throw new Error(`unknown option ${a}\n${HELP}`)
    }
  }
  return flags
}

function loadScenarios() {
  const dir = path.join(__dirname, 'scenarios')
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d+-.*\.js$/.test(f))
    .sort()
    .map((f) => require(path.join(dir, f)))
}

function select(all, only) {
  if (!only) return all
  const picked = all.filter((s) => only.includes(s.name) || only.includes(String(s.number)))
  const unknown = only.filter((o) => !all.some((s) => s.name === o || String(s.number) === o))
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')} (known: ${all.map((s) => `${s.number}=${s.name}`).join(', ')})`)
  return picked
}

async function main() {
  const flags = parseArgs(process.argv.slice(2))
  const scenarios = loadScenarios()
  if (flags.help) return console.log(HELP)
  if (flags.list) {
    for (const s of scenarios) console.log(`${s.number}  ${s.name.padEnd(20)} ${s.title}`)
    return
  }
  const chosen = select(scenarios, flags.only)
  const opts = { ...(flags.quick ? QUICK : FULL), ...flags }
  const log = (m) => process.stderr.write(`${m}\n`)
  const started = new Date()
  log(`argondb benchmark (${opts.quick ? 'quick' : 'full'}): ${chosen.map((s) => s.name).join(', ')}`)
  // Ctrl-C / SIGTERM: stop the server this run started (by PID) before exiting.
  let serverHandle = null
  createContext.onServer = (srv) => (serverHandle = srv)
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      log(`\n${sig}: stopping`)
      const stop = serverHandle ? serverHandle.stop() : Promise.resolve()
      stop.finally(() => process.exit(130))
    })
  }
  const ctx = await createContext(opts, log)
  const rows = []
  const scenarioOut = {}
  let errors = 0
  const out = flags.out ? path.resolve(flags.out) : path.join(__dirname, 'results', opts.quick ? 'quick.json' : 'latest.json')
  fs.mkdirSync(path.dirname(out), { recursive: true })

  // The results file is rewritten after every scenario (`"partial": true` until the end),
  // so an interrupted run still leaves what it measured.
  const writeResults = (partial) => {
    const summary = { cases: rows.length, pass: 0, miss: 0, info: 0, skipped: 0, errors: 0 }
    for (const r of rows) {
      const m = mark(r)
      if (m === 'pass') summary.pass++
      else if (m === 'MISS') summary.miss++
      else if (m === 'skip') summary.skipped++
      else if (m === 'ERROR') summary.errors++
      else summary.info++
    }
    const result = {
      format: 1,
      mode: opts.quick ? 'quick' : 'full',
      partial,
      startedAt: started.toISOString(),
      durationSec: (Date.now() - started.getTime()) / 1000,
      machine: ctx.machine,
      server: ctx.server,
      build: ctx.build,
      roundTripMethod: ctx.counterMethod,
      api: ctx.api,
      options: Object.fromEntries(Object.entries(opts).filter(([k]) => !['list', 'help'].includes(k))),
      summary,
      scenarios: scenarioOut,
    }
    fs.writeFileSync(out + '.tmp', JSON.stringify(result, null, 2) + '\n')
    fs.renameSync(out + '.tmp', out)
    return result
  }

  let result
  try {
    log(`round trips: ${ctx.counterMethod}; API: ${JSON.stringify(ctx.api)}`)
    for (const s of chosen) {
      const t0 = Date.now()
      log(`[${s.number}] ${s.title}`)
      let cases
      try {
        cases = await s.run(ctx)
      } catch (e) {
        errors += 1
        log(`  ERROR: ${e.stack || e}`)
        cases = [{ scenario: String(s.number), id: 'error', case: s.title, error: String(e.message || e).split('\n')[0], pass: null, skipped: null, target: null }]
      }
      const sec = (Date.now() - t0) / 1000
      log(`  done in ${sec.toFixed(1)} s`)
      rows.push(...cases)
      scenarioOut[s.name] = { number: s.number, title: s.title, seconds: sec, cases }
      writeResults(true)
    }
  } finally {
    const now = addonStamp()
    if (JSON.stringify(now) !== JSON.stringify(ctx.build.addon)) {
      ctx.build.addonChangedDuringRun = true
      ctx.build.addonAtEnd = now
      log('WARNING: the addon was rebuilt during this run; child processes (scenario 9) may have loaded the new build')
    }
    ctx.machine.loadavgAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100)
    await ctx.close().catch((e) => log(`cleanup: ${e.message}`))
    result = writeResults(false)
  }
  const summary = result.summary

  const m = ctx.machine
  const b = ctx.build
  console.log(`\nargondb benchmark, ${result.mode} run${b.commit ? ` at ${b.commit.slice(0, 7)}${b.dirty ? '+dirty' : ''}` : ''}, ${result.durationSec.toFixed(0)} s: ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, node ${m.node}, server ${ctx.server.version}${ctx.server.secantusVersion ? ` (secantusd-rs ${ctx.server.secantusVersion})` : ''}${ctx.server.local ? ', local' : ''}; load avg ${m.loadavgAtStart.join('/')} -> ${m.loadavgAtEnd.join('/')}`)
  console.log(`medians; ratio = ours/baseline (throughput: higher is better; flatness rows: largest/smallest size); RT/op = server round trips per operation (ours: ${ctx.counterMethod}; baseline: driver commandStarted)\n`)
  console.log(resultsTable(rows))
  console.log(`\ncosts: min..max = spread of the per-round medians; commands/op by name; CPU/op = client (this process, all threads) + server\n`)
  console.log(costTable(rows))
  console.log(`\n${summary.pass} pass, ${summary.miss} miss, ${summary.info} info, ${summary.skipped} skipped, ${summary.errors} errors; results in ${path.relative(process.cwd(), out)}`)
  if (opts.quick && summary.miss) console.log('(--quick: timing targets are recorded, never enforced)')
  if (ctx.build.addon?.debugInfo) console.log('NOTE: the addon has debug info (a dev build?); release builds are faster, so these "ours" numbers are pessimistic')
  if (ctx.build.addonChangedDuringRun) console.log('WARNING: the addon was rebuilt during this run; numbers may mix two builds')

  if (errors) process.exitCode = 2
  else if (!opts.quick && !opts.noFail && summary.miss) process.exitCode = 1
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`)
  process.exitCode = 2
})
