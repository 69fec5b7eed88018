'use strict'
/**
 * The operations surface of `Argon`: metrics, health, alerts, events and the user's
 * logger. The engine computes everything (ops/ in the core crate); this layer decodes it,
 * routes events to an EventEmitter and log records to the logger.
 */
const { ArgonError } = require('./errors')

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error']

/** Checks a `logger` option: anything with pino/console-style level methods. */
function checkLogger(logger) {
  if (logger === undefined || logger === null) return null
  if (typeof logger !== 'object' && typeof logger !== 'function') {
    throw new ArgonError('INVALID_ARGUMENT', 'logger must be an object with level methods (pino, console, …)')
  }
  const missing = ['info', 'warn', 'error'].filter((l) => typeof logger[l] !== 'function')
  if (missing.length) throw new ArgonError('INVALID_ARGUMENT', `logger lacks ${missing.join(', ')}()`)
  return logger
}

function checkLogLevel(level) {
  if (level === undefined) return 'info'
  if (!LEVELS.includes(level)) throw new ArgonError('INVALID_ARGUMENT', `logLevel must be one of ${LEVELS.join(', ')}`)
  return level
}

/** Int64 and Double BSON values as plain numbers, recursively. */
function plain(v) {
  if (v === null || v === undefined) return v
  if (typeof v === 'bigint') return Number(v)
  if (Array.isArray(v)) return v.map(plain)
  if (v instanceof Date) return v
  if (typeof v === 'object') {
    if (v._bsontype === 'Long' || v._bsontype === 'Int32' || v._bsontype === 'Double') return Number(v)
    const out = {}
    for (const [k, x] of Object.entries(v)) out[k] = plain(x)
    return out
  }
  return v
}

/** Writes one engine log record to the user's logger, pino-style: (fields, message). */
function writeLog(logger, rec) {
  const level = rec.level
  const fn = logger[level] ?? (level === 'trace' ? logger.debug : undefined) ?? logger.info
  if (typeof fn !== 'function') return
  const fields = { ...plain(rec.fields), target: rec.target, time: rec.time }
  try {
    fn.call(logger, fields, rec.message)
  } catch {
    // A logger that throws must not break the engine's event delivery.
  }
}

/** Decodes a health document. */
function health(d) {
  return plain(d)
}

/** Decodes an alert document. */
function alert(d) {
  const a = plain(d)
  if (a.resolvedAt === null) delete a.resolvedAt
  if (a.summary === null) delete a.summary
  return a
}

/** Adds what only JS knows (heap, event loop) to the JSON metrics. */
function withNodeSystem(m) {
  const mem = process.memoryUsage()
  m.system = {
    ...m.system,
    heapUsedBytes: mem.heapUsed,
    heapTotalBytes: mem.heapTotal,
    externalBytes: mem.external,
    nodeVersion: process.version,
    pid: process.pid,
  }
  return m
}

module.exports = { checkLogger, checkLogLevel, writeLog, health, alert, plain, withNodeSystem, LEVELS }
