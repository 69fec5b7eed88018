'use strict'
/**
 * Time travel in JS: points in time (`at()` arguments), read-only past views, and the
 * encoding of diff sides and reset targets for the native layer.
 */
const { ArgonError, call } = require('./errors')
const { ArgonCursor } = require('./cursor')

/**
 * Validates an `at()` argument: a non-negative integer LSN, a valid Date, or a tag name.
 * Returns the BSON form `{lsn}` | `{time}` | `{tag}` the native layer takes.
 */
function atSpec(at) {
  if (typeof at === 'number' || typeof at === 'bigint') {
    const n = Number(at)
    if (!Number.isSafeInteger(n) || n < 0) throw new ArgonError('INVALID_ARGUMENT', `an LSN must be a non-negative integer, got ${String(at)}`)
    return { lsn: n }
  }
  if (at instanceof Date) {
    if (Number.isNaN(at.getTime())) throw new ArgonError('INVALID_ARGUMENT', 'invalid Date')
    return { time: at }
  }
  if (typeof at === 'string' && at.length > 0) return { tag: at }
  throw new ArgonError('INVALID_ARGUMENT', 'a point in time must be an LSN (number), a Date or a tag name (string)')
}

/** Reset targets: an LSN, a Date, a tag, or the string 'parent'. */
function resetTarget(to) {
  if (to === 'parent') return { parent: true }
  if (to === undefined || to === null) throw new ArgonError('INVALID_ARGUMENT', 'resetBranch needs `to`: an LSN, a Date, a tag or "parent"')
  return atSpec(to)
}

/**
 * A diff side: a branch name, a Branch handle, a past view (`branch.at(x)`), or
 * `{ branch, at }`. Handles from another Argon instance are refused.
 */
function point(argon, p) {
  if (typeof p === 'string') return { branch: p }
  if (p && typeof p === 'object') {
    if (p._argon && p._argon !== argon) throw new ArgonError('PROJECT_MISMATCH', 'both sides of a diff must belong to the same Argon project')
    const branch = typeof p.branch === 'string' ? p.branch : p.name
    if (typeof branch !== 'string') throw new ArgonError('INVALID_ARGUMENT', 'a diff side needs a branch name')
    const at = p._at !== undefined ? p._at : p.at
    return at === undefined || at === null ? { branch } : { branch, at: atSpec(at) }
  }
  throw new ArgonError('INVALID_ARGUMENT', 'a diff side must be a branch name, a branch handle or { branch, at }')
}

function countsOf(collections) {
  const out = { added: 0, changed: 0, removed: 0, collections: {} }
  for (const [name, c] of Object.entries(collections)) {
    const counts = { added: Number(c.added), changed: Number(c.changed), removed: Number(c.removed) }
    out.collections[name] = counts
    out.added += counts.added
    out.changed += counts.changed
    out.removed += counts.removed
  }
  return out
}

/**
 * The detailed form of a diff: a lazy cursor of `{ collection, _id, change, before, after }`.
 * The first read pins the snapshot and lists the candidate ids (what changed between the
 * two points); documents are then fetched `chunkSize` ids at a time. Iteration (`next`,
 * `toArray`, `for await`) is ArgonCursor's; only the batch source differs.
 */
class DiffCursor extends ArgonCursor {
  constructor(argon, a, b, chunkSize = 500, onProgress = undefined) {
    super(argon._codec, null)
    this._argon = argon
    this._a = argon._codec.encode(point(argon, a))
    this._b = argon._codec.encode(point(argon, b))
    this._chunkSize = chunkSize
    this._plan = null
    this._chunks = []
    // Progress: candidate ids compared so far, of all the plan lists.
    this._onProgress = onProgress
    this._compared = 0
    this._candidates = 0
  }

  _progress() {
    if (this._onProgress) this._onProgress({ phase: 'compare', done: this._compared, total: this._candidates })
  }

  async _decode(p) {
    return this._codec.decode(await call(p, this._codec.EJSON))
  }

  async _fill() {
    const native = this._argon._native
    if (!this._plan) {
      this._plan = await this._decode(native.diffPlan(this._a, this._b))
      for (const [coll, keys] of Object.entries(this._plan.keys)) {
        this._candidates += keys.length
        for (let i = 0; i < keys.length; i += this._chunkSize) this._chunks.push([coll, keys.slice(i, i + this._chunkSize)])
      }
      this._progress()
    }
    while (this._buffer.length === 0 && this._chunks.length > 0) {
      const [coll, keys] = this._chunks.shift()
      const reply = await this._decode(native.diffChunk(this._a, this._b, Number(this._plan.snapshot), coll, this._codec.encode({ v: keys })))
      this._buffer = reply.v
      this._compared += keys.length
      this._progress()
    }
    if (this._buffer.length === 0) this._done = true
  }

  async close() {
    this._chunks = []
    this._buffer = []
    this._done = true
  }
}

/**
 * A point typed as text (the CLI, the dashboard): an LSN (digits), an ISO date, or a tag
 * name; `undefined` for nothing. `what` names the argument in the error.
 */
function parsePointText(text, what = 'point') {
  if (text === undefined || text === null || text === '') return undefined
  if (typeof text !== 'string' || text.length > 200) throw new ArgonError('INVALID_ARGUMENT', `${what} must be an LSN, an ISO date or a tag`)
  if (/^\d+$/.test(text)) return Number(text)
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const d = new Date(text)
    if (Number.isNaN(d.getTime())) throw new ArgonError('INVALID_ARGUMENT', `${what}: not a valid date: ${text}`)
    return d
  }
  return text
}

/** A reset target typed as text: `parent`, or a point as `parsePointText` reads it. */
const parseResetText = (text, what = 'to') => (text === 'parent' ? 'parent' : parsePointText(text, what))

module.exports = { atSpec, resetTarget, point, countsOf, DiffCursor, parsePointText, parseResetText }
