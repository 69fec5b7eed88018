'use strict'
/**
 * Typed errors. Native calls fail with `ARGON_ERR:{json}`; `rethrow` turns that into
 * an `ArgonError` (stable string `code`) or, for errors the MongoDB server returned, a
 * `MongoServerError` with the server's numeric `code`, `codeName` and `keyValue`, exactly
 * as the official driver throws them (the driver's own class when `mongodb` is installed).
 */

/** Stable codes of `ArgonError`; see docs/errors.md. */
const ErrorCodes = Object.freeze({
  INVALID_URI: 'INVALID_URI',
  SERVER_UNREACHABLE: 'SERVER_UNREACHABLE',
  BRANCH_NOT_FOUND: 'BRANCH_NOT_FOUND',
  BRANCH_EXISTS: 'BRANCH_EXISTS',
  INVALID_BRANCH_NAME: 'INVALID_BRANCH_NAME',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  RESERVED_NAME: 'RESERVED_NAME',
  DOCUMENT_TOO_LARGE: 'DOCUMENT_TOO_LARGE',
  BRANCH_PROTECTED: 'BRANCH_PROTECTED',
  BRANCH_HAS_CHILDREN: 'BRANCH_HAS_CHILDREN',
  READ_ONLY: 'READ_ONLY',
  LSN_OUT_OF_RANGE: 'LSN_OUT_OF_RANGE',
  TAG_NOT_FOUND: 'TAG_NOT_FOUND',
  TAG_EXISTS: 'TAG_EXISTS',
  PROJECT_MISMATCH: 'PROJECT_MISMATCH',
  TRANSACTIONS_REQUIRED: 'TRANSACTIONS_REQUIRED',
  FORMAT_VERSION: 'FORMAT_VERSION',
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  CAPTURE_BEHIND: 'CAPTURE_BEHIND',
  INTERNAL: 'INTERNAL',
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  INVALID_TRANSACTION: 'INVALID_TRANSACTION',
})

class ArgonError extends Error {
  constructor(code, message) {
    super(message)
    this.name = 'ArgonError'
    this.code = code
    this.errorLabels = []
  }

  /** The driver's error labels (`TransientTransactionError` when the transaction can run again). */
  hasErrorLabel(label) {
    return this.errorLabels.includes(label)
  }
}

let DriverServerError = null
let DriverBulkWriteError = null
try {
  // Optional peer: when the official driver is installed, throw its own classes so
  // `err instanceof MongoServerError` holds in user code.
  const driver = require('mongodb')
  DriverServerError = driver.MongoServerError
  DriverBulkWriteError = driver.MongoBulkWriteError
} catch {
  // not installed
}

/** Server error shaped like the driver's MongoServerError. */
class ArgonServerError extends Error {
  constructor(info) {
    super(info.errmsg)
    this.name = 'MongoServerError'
    this.code = info.code
    this.codeName = info.codeName
    this.errmsg = info.errmsg
    if (info.keyValue) this.keyValue = info.keyValue
    if (info.keyPattern) this.keyPattern = info.keyPattern
    this.errorLabels = info.errorLabels || []
  }

  hasErrorLabel(label) {
    return this.errorLabels.includes(label)
  }
}

function serverError(info) {
  const payload = { ok: 0, errmsg: info.errmsg, code: info.code, codeName: info.codeName }
  if (info.errorLabels && info.errorLabels.length) payload.errorLabels = info.errorLabels
  if (info.keyValue) payload.keyValue = info.keyValue
  if (info.keyValue) payload.keyPattern = Object.fromEntries(Object.keys(info.keyValue).map((k) => [k, 1]))
  if (DriverServerError) {
    try {
      return new DriverServerError(payload)
    } catch {
      // fall through to our own class
    }
  }
  return new ArgonServerError(payload)
}

/** insertMany partial failure, shaped like the driver's MongoBulkWriteError. */
class ArgonBulkWriteError extends Error {
  constructor(first, writeErrors, result) {
    super(first.errmsg)
    this.name = 'MongoBulkWriteError'
    this.code = first.code
    this.codeName = first.codeName
    this.writeErrors = writeErrors
    this.result = result
    for (const k of ['insertedCount', 'matchedCount', 'modifiedCount', 'deletedCount', 'upsertedCount', 'insertedIds', 'upsertedIds']) {
      if (k in result) this[k] = result[k]
    }
    if (first.keyValue) this.keyValue = first.keyValue
  }
}

function parse(err, EJSON) {
  const msg = err && typeof err.message === 'string' ? err.message : ''
  const at = msg.indexOf('ARGON_ERR:')
  if (at < 0) return err
  let info
  try {
    info = JSON.parse(msg.slice(at + 'ARGON_ERR:'.length))
  } catch {
    return new ArgonError('INTERNAL', msg)
  }
  const labels = Array.isArray(info.labels) ? info.labels : []
  if (info.code === 'MONGO_SERVER_ERROR') {
    const keyValue = info.keyValue ? EJSON.deserialize(info.keyValue, { relaxed: false }) : undefined
    return serverError({ code: info.serverCode, codeName: info.codeName || undefined, errmsg: info.message, keyValue, errorLabels: labels })
  }
  const typed = new ArgonError(info.code, info.message)
  typed.errorLabels = labels
  return typed
}

/** Awaits a native promise and rethrows its failure as a typed error. */
async function call(promise, EJSON) {
  try {
    return await promise
  } catch (e) {
    throw parse(e, EJSON)
  }
}

/** The same for synchronous native calls. */
function callSync(fn, EJSON) {
  try {
    return fn()
  } catch (e) {
    throw parse(e, EJSON)
  }
}

module.exports = { ArgonError, ArgonServerError, ArgonBulkWriteError, ErrorCodes, serverError, call, callSync, DriverBulkWriteError }
