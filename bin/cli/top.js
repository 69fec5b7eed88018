'use strict'
/**
 * `argon top`: a live view of the project's operations, summed over the processes that
 * report (`__argon.processes`, see bin/cli/operator.js): per operation, operations and
 * errors per second, average latency over the last interval, p50 / p99.
 *
 * How rates are computed: every process publishes cumulative counters per operation
 * (count, errors, average latency) with its report time (`reportedAt`, stamped by the
 * server). For each process `top` keeps its last two *distinct* snapshots and divides
 * the counter differences by the difference of their report times, so a refresh faster
 * than the processes publish shows their latest rate instead of zero, and the rate never
 * depends on when `top` happened to read. The average latency over that span is
 * (sum₂ − sum₁) / (count₂ − count₁), with sum = average × count. p50 / p99 are the
 * processes' own cumulative percentiles (the highest of them: percentiles do not add).
 * A process silent for three of its intervals counts for nothing.
 */
const { Command, Option } = require('commander')
const { withArgon, print, table, positiveInt } = require('./common')
const { operationsOf, reporting } = require('../../lib/fleet')

/** Per process: its last two distinct snapshots (by report time). */
class Rates {
  constructor() {
    this.seen = new Map()
  }

  /** Records a read of the processes; returns the frame's figures. */
  observe(processes) {
    const live = new Set()
    for (const p of processes) {
      live.add(p.id)
      const t = new Date(p.reportedAt).getTime()
      const s = this.seen.get(p.id)
      const snap = { t, ops: operationsOf(p) }
      if (!s) this.seen.set(p.id, { prev: null, last: snap })
      else if (t > s.last.t) this.seen.set(p.id, { prev: s.last, last: snap })
    }
    for (const id of [...this.seen.keys()]) if (!live.has(id)) this.seen.delete(id)

    const operations = {}
    const perProcess = []
    for (const p of processes) {
      const { prev, last } = this.seen.get(p.id)
      const span = prev ? (last.t - prev.t) / 1000 : 0
      let opsPerSec = null
      if (prev && span > 0 && !p.silent) opsPerSec = 0
      for (const [name, o] of Object.entries(last.ops)) {
        const s = (operations[name] ??= { opsPerSec: null, errorsPerSec: null, intervalCount: 0, intervalErrors: 0, intervalSumMs: 0, count: 0, errors: 0, avgMs: null, p50Ms: null, p99Ms: null, cumSumMs: 0 })
        s.count += o.count
        s.errors += o.errors
        s.cumSumMs += (o.avgMs ?? 0) * o.count
        // Percentiles of the process's last interval when it ran the operation in it, else
        // since it started; over processes the highest (percentiles do not add).
        const pct = o.interval ?? o
        s.p50Ms = Math.max(s.p50Ms ?? 0, pct.p50Ms ?? 0)
        s.p99Ms = Math.max(s.p99Ms ?? 0, pct.p99Ms ?? 0)
        if (opsPerSec === null) continue
        const before = prev.ops[name] || { count: 0, errors: 0, avgMs: 0 }
        // Counters only grow; a smaller one means the process reset its metrics.
        const reset = o.count < before.count
        const dCount = reset ? o.count : o.count - before.count
        const dErrors = reset ? o.errors : Math.max(0, o.errors - before.errors)
        const dSum = reset ? (o.avgMs ?? 0) * o.count : (o.avgMs ?? 0) * o.count - (before.avgMs ?? 0) * before.count
        s.opsPerSec = (s.opsPerSec ?? 0) + dCount / span
        s.errorsPerSec = (s.errorsPerSec ?? 0) + dErrors / span
        s.intervalCount += dCount
        s.intervalErrors += dErrors
        s.intervalSumMs += Math.max(0, dSum)
        opsPerSec += dCount / span
      }
      perProcess.push({ id: p.id, pid: p.pid, app: p.app ?? null, status: p.status, silent: p.silent, reportedAt: p.reportedAt, opsPerSec })
    }
    const out = {}
    let totalOps = null
    let totalErrors = null
    for (const [name, s] of Object.entries(operations).sort((a, b) => (b[1].opsPerSec ?? -1) - (a[1].opsPerSec ?? -1) || b[1].count - a[1].count)) {
      out[name] = {
        opsPerSec: s.opsPerSec,
        errorsPerSec: s.errorsPerSec,
        // Over the last interval when there is one, else since the processes started.
        avgMs: s.intervalCount > 0 ? s.intervalSumMs / s.intervalCount : s.count > 0 ? s.cumSumMs / s.count : null,
        p50Ms: s.p50Ms,
        p99Ms: s.p99Ms,
        intervalCount: s.intervalCount,
        intervalErrors: s.intervalErrors,
        count: s.count,
        errors: s.errors,
      }
      if (s.opsPerSec !== null) totalOps = (totalOps ?? 0) + s.opsPerSec
      if (s.errorsPerSec !== null) totalErrors = (totalErrors ?? 0) + s.errorsPerSec
    }
    return { operations: out, processes: perProcess, totals: { opsPerSec: totalOps, errorsPerSec: totalErrors } }
  }
}

const rate = (v) => (v == null ? '-' : v.toFixed(1))
const ms = (v) => (v == null ? '-' : `${v.toFixed(2)} ms`)

function render(frame, o) {
  const lines = []
  const n = frame.processes.length
  lines.push(`argon top  ${o.db}  ${frame.t}  ${n} process${n === 1 ? '' : 'es'} reporting, every ${(frame.intervalMs / 1000).toFixed(1)} s`)
  lines.push(`total ${rate(frame.totals.opsPerSec)} ops/s, ${rate(frame.totals.errorsPerSec)} errors/s`)
  lines.push('')
  const rows = Object.entries(frame.operations).map(([name, s]) => [name, rate(s.opsPerSec), rate(s.errorsPerSec), s.intervalErrors, s.errors, ms(s.avgMs), ms(s.p50Ms), ms(s.p99Ms), s.count])
  if (rows.length === 0) lines.push(n === 0 ? 'no process has reported (processes publish every 10 s while their monitor is on)' : 'no operations reported yet')
  else lines.push(table(['OPERATION', 'OPS/S', 'ERR/S', 'ERRORS', 'ERR TOTAL', 'AVG', 'P50', 'P99', 'COUNT'], rows))
  if (frame.processes.some((p) => p.opsPerSec === null && !p.silent)) lines.push('\n(-: a rate needs two reports of a process; processes publish every monitor.publishIntervalMs)')
  return lines.join('\n')
}

function commands() {
  const top = new Command('top')
    .description('live operations per second, errors and latency per operation, summed over the reporting processes (ctrl-c to stop)')
    .addOption(new Option('--interval <ms>', 'refresh every this many milliseconds').default('2000'))
    .option('--once', 'print one frame and exit')
    .addOption(new Option('--iterations <n>', 'print this many frames and exit'))
    .addHelpText(
      'after',
      '\nOn a terminal the frame is redrawn in place; when piped, each frame is printed after the previous one.\n' +
        'With --json, each frame is one JSON document on its own line (JSON Lines):\n' +
        '  { t, intervalMs, processes: [{ id, pid, app, status, silent, reportedAt, opsPerSec }],\n' +
        '    totals: { opsPerSec, errorsPerSec },\n' +
        '    operations: { <name>: { opsPerSec, errorsPerSec, avgMs, p50Ms, p99Ms, intervalCount, intervalErrors, count, errors } } }\n' +
        'Rates are counter differences between two reports of each process divided by the time between them;\n' +
        'null until a process has reported twice.',
    )
    .action((opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        const intervalMs = positiveInt(opts.interval, '--interval')
        const frames = opts.once ? 1 : opts.iterations !== undefined ? positiveInt(opts.iterations, '--iterations') : Infinity
        const redraw = !o.json && Boolean(process.stdout.isTTY)
        let stopped = false
        let wake = () => {}
        const stop = () => {
          stopped = true
          wake()
        }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
        const sleep = (msec) =>
          new Promise((resolve) => {
            const timer = setTimeout(resolve, msec)
            wake = () => {
              clearTimeout(timer)
              resolve()
            }
          })
        const rates = new Rates()
        try {
          // A baseline read, so the first frame already has a rate.
          rates.observe((await reporting(argon)).processes)
          for (let i = 0; i < frames && !stopped; i++) {
            await sleep(intervalMs)
            if (stopped) break
            const { now, processes } = await reporting(argon)
            const frame = { t: new Date(now).toISOString(), intervalMs, ...rates.observe(processes) }
            if (o.json) print(JSON.stringify(frame))
            else if (redraw) process.stdout.write(`\x1b[H\x1b[2J${render(frame, o)}\n`)
            else print(`${i > 0 ? '\n' : ''}${render(frame, o)}`)
          }
        } finally {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
        }
      }),
    )
  return [top]
}

module.exports = { commands, Rates }
