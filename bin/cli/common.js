'use strict'
/**
 * What every command module of the CLI shares: output (plain text, tables, JSON), errors
 * with a stable code, connecting to the project, points in time on the command line, and
 * progress bars.
 *
 * Conventions: a command prints one JSON document on stdout with `--json` (`argon top`
 * prints one per line, per frame) and nothing else; errors reach `main()` in bin/argon.js,
 * which prints `error [CODE]: message` on stderr and exits 1. Progress bars go to stderr,
 * only on a terminal and never with `--json`.
 */
const cliProgress = require('cli-progress')
const { parsePointText } = require('../../lib/timetravel')

// The native addon loads on first use, so `--help` works even without it.
const argondb = () => require('../../index.js')

function cliError(code, message) {
  const { ArgonError } = argondb()
  return new ArgonError(code, message)
}

// ---------------------------------------------------------------------------------------
// Output

function print(text = '') {
  process.stdout.write(text + '\n')
}

function printJson(value) {
  print(JSON.stringify(value, null, 2))
}

/** A plain left-aligned text table. */
function table(headers, rows) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c)))
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)))
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

/** Bytes for people: `812 B`, `4.1 KiB`, `12.0 MiB`. */
function formatBytes(n) {
  if (n == null || Number.isNaN(n)) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = Number(n)
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u += 1
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`
}

/** The stable code of an error: Argon's string code, the server's code name or number. */
function errorCode(err) {
  if (err && typeof err.code === 'string') return err.code
  if (err && err.codeName) return err.codeName
  if (err && typeof err.code === 'number') return `SERVER_${err.code}`
  return 'INTERNAL'
}

// ---------------------------------------------------------------------------------------
// Connecting

function globals(cmd) {
  return cmd.optsWithGlobals()
}

/** Connect options from the global options (`--retention-ms`). */
function connectOptions(o) {
  const out = {}
  if (o.retentionMs !== undefined) {
    const n = Number(o.retentionMs)
    if (!Number.isSafeInteger(n) || n <= 0) throw cliError('INVALID_ARGUMENT', `--retention-ms must be a positive integer, not ${o.retentionMs}`)
    out.retentionMs = n
  }
  return out
}

/** Runs `fn(argon, options)` on a connection to the project; always closes it. */
async function withArgon(cmd, fn) {
  const o = globals(cmd)
  if (!o.uri) throw cliError('INVALID_URI', 'no MongoDB connection string: pass --uri or set MONGODB_URI')
  const extra = connectOptions(o)
  // The CLI is not an application process: it does not publish a snapshot of its own.
  const argon = await argondb().Argon.connect(o.uri, { database: o.db, appName: 'argon-cli', monitor: false, ...extra })
  try {
    return await fn(argon, o)
  } finally {
    await argon.close()
  }
}

/** A positive integer option (`--interval 500`), or a typed error naming the option. */
function positiveInt(value, flag) {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0) throw cliError('INVALID_ARGUMENT', `${flag} must be a positive integer, not ${value}`)
  return n
}

// ---------------------------------------------------------------------------------------
// Progress

/** Whether progress bars are drawn: on a terminal (stderr), never with --json. */
function showsProgress(o) {
  return !o.json && Boolean(process.stderr.isTTY)
}

/**
 * A progress bar on stderr for a long operation (cli-progress), or one that draws nothing
 * when stderr is not a terminal or with --json. `update({ done, total, phase })` takes
 * the engine's progress events (`onProgress` of gc, resetBranch, verify and a detailed
 * diff) as they are; `stop()` clears the bar.
 */
function progressBar(o, label) {
  if (!showsProgress(o)) return { onProgress: undefined, update() {}, stop() {} }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% {value}/{total} {phase}`,
      // The cursor stays visible: ctrl-c must still end the process at once, and
      // cli-progress restores a hidden cursor only by catching SIGINT itself.
      hideCursor: false,
      clearOnComplete: true,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  )
  let started = false
  let stopped = false
  const update = ({ done, total, phase = '' }) => {
    // Reports still queued when the operation has returned are dropped.
    if (stopped) return
    if (!started) {
      bar.start(Math.max(total, 1), done, { phase })
      started = true
      return
    }
    if (bar.getTotal() !== Math.max(total, 1)) bar.setTotal(Math.max(total, 1))
    bar.update(done, { phase })
  }
  return {
    onProgress: update,
    update,
    stop() {
      if (started) bar.stop()
      stopped = true
    },
  }
}

/** Runs `fn(onProgress)` under a progress bar, stopping the bar however it ends. */
async function withProgress(o, label, fn) {
  const bar = progressBar(o, label)
  try {
    return await fn(bar.onProgress)
  } finally {
    bar.stop()
  }
}

module.exports = {
  argondb,
  cliError,
  print,
  printJson,
  table,
  formatBytes,
  errorCode,
  globals,
  withArgon,
  // A point in time on the command line: an LSN (digits), an ISO date, or a tag name.
  parsePoint: parsePointText,
  positiveInt,
  showsProgress,
  progressBar,
  withProgress,
}
