'use strict'
/**
 * Lazy cursors shaped like the driver's FindCursor / AggregationCursor: nothing runs
 * until the first `next()`/`toArray()`/`for await`; documents arrive in batches (one
 * native call per batch, one Buffer of BSON per batch).
 */
const { call, ArgonError } = require('./errors')

class ArgonCursor {
  constructor(codec, open) {
    this._codec = codec
    this._open = open
    this._native = null
    this._buffer = []
    this._done = false
    this._exhausted = false
    this._batchSize = 1000
    this._map = null
  }

  _checkNotStarted() {
    if (this._native || this._done) throw new ArgonError('INVALID_ARGUMENT', 'cursor options cannot change after iteration started')
  }

  batchSize(n) {
    this._checkNotStarted()
    if (!Number.isInteger(n) || n < 1) throw new ArgonError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${n}`)
    this._batchSize = n
    return this
  }

  map(fn) {
    const prev = this._map
    this._map = prev ? (d) => fn(prev(d)) : fn
    return this
  }

  async _fill() {
    if (this._done) return
    let buf
    if (!this._native) {
      // Opening fetches the first batch in the same native call.
      this._native = await call(this._open(this._batchSize), this._codec.EJSON)
      buf = this._native.takePrefetched() || Buffer.alloc(0)
    } else {
      buf = await call(this._native.nextBatch(this._batchSize), this._codec.EJSON)
    }
    if (buf.length === 0) {
      this._done = true
      return
    }
    this._buffer = this._codec.decodeMany(buf)
    if (this._native.exhausted) this._exhausted = true
  }

  async hasNext() {
    if (this._buffer.length === 0) {
      if (this._exhausted) this._done = true
      else await this._fill()
    }
    return this._buffer.length > 0
  }

  async next() {
    if (!(await this.hasNext())) return null
    const d = this._buffer.shift()
    return this._map ? this._map(d) : d
  }

  async tryNext() {
    return this.next()
  }

  async toArray() {
    const out = []
    for await (const d of this) out.push(d)
    return out
  }

  async forEach(fn) {
    for await (const d of this) {
      if ((await fn(d)) === false) break
    }
  }

  async close() {
    const wasOpen = this._native && !this._exhausted && !this._done
    this._done = true
    this._buffer = []
    if (wasOpen) await this._native.close()
  }

  get closed() {
    return this._done && this._buffer.length === 0
  }

  async *[Symbol.asyncIterator]() {
    try {
      for (;;) {
        const d = await this.next()
        if (d === null) return
        yield d
      }
    } finally {
      if (!this._done) await this.close()
    }
  }
}

class FindCursor extends ArgonCursor {
  /** `op` names the call in metrics: `find`, or `findOne` when findOne made this cursor. */
  constructor(codec, native, filter, options, op = 'find') {
    super(codec, (batch) => native.find(codec.encode(filter), codec.encode({ ...this._opts, batchSize: batch }), op))
    const { batchSize, ...rest } = options || {}
    this._opts = rest
    // `find(filter, { batchSize })` sets the batch size, as `.batchSize(n)` does.
    if (batchSize !== undefined) this.batchSize(batchSize)
  }

  sort(spec, direction) {
    this._checkNotStarted()
    this._opts.sort = normalizeSort(spec, direction)
    return this
  }

  skip(n) {
    this._checkNotStarted()
    this._opts.skip = n
    return this
  }

  limit(n) {
    this._checkNotStarted()
    this._opts.limit = n
    return this
  }

  project(p) {
    this._checkNotStarted()
    this._opts.projection = p
    return this
  }

  /** As the driver's: `collation({ locale, strength, ... })`, `hint(nameOrKeys)`, `comment(value)`, `maxTimeMS(ms)`. */
  collation(c) {
    return this._set('collation', c)
  }

  hint(h) {
    return this._set('hint', h)
  }

  comment(c) {
    return this._set('comment', c)
  }

  maxTimeMS(ms) {
    return this._set('maxTimeMS', ms)
  }

  _set(name, value) {
    this._checkNotStarted()
    this._opts[name] = value
    return this
  }
}

class AggregationCursor extends ArgonCursor {
  constructor(codec, native, pipeline, options) {
    const { batchSize, ...rest } = options || {}
    super(codec, (batch) => native.aggregate(codec.encode({ p: pipeline }), codec.encode({ ...rest, batchSize: batch })))
    if (batchSize !== undefined) this.batchSize(batchSize)
  }
}

/** A sort direction the driver accepts: 1, -1, 'asc', 'desc', 'ascending', 'descending' or `{ $meta }`. */
function isSortDirection(d) {
  if (d !== null && typeof d === 'object' && !Array.isArray(d)) return '$meta' in d
  return ['1', '-1', 'asc', 'desc', 'ascending', 'descending'].includes(String(d).toLowerCase())
}

/**
 * Accepts the driver's sort forms: `{a: 1}`, `'a'`, `['a', -1]`, `['a', 'b']`,
 * `[['a', 1], ['b', -1]]`, `{a: 'desc'}`, a Map. `{ $meta: ... }` directions pass through unchanged.
 */
function normalizeSort(spec, direction) {
  if (spec == null) return undefined
  const dir = (d) => {
    if (d !== null && typeof d === 'object') return d
    const v = String(d).toLowerCase()
    return v === '-1' || v === 'desc' || v === 'descending' ? -1 : 1
  }
  if (typeof spec === 'string') return { [spec]: dir(direction ?? 1) }
  if (spec instanceof Map) return Object.fromEntries([...spec].map(([k, v]) => [k, dir(v)]))
  if (Array.isArray(spec)) {
    if (spec.length === 2 && typeof spec[0] === 'string' && isSortDirection(spec[1])) return { [spec[0]]: dir(spec[1]) }
    return Object.fromEntries(spec.map((e) => (Array.isArray(e) ? [e[0], dir(e[1] ?? 1)] : [e, 1])))
  }
  if (typeof spec === 'object') return Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, dir(v)]))
  return spec
}

/** A createIndex direction the driver accepts as the second item of a `[field, direction]` pair. */
function isIndexDirection(d) {
  return typeof d === 'number' || d === '2d' || d === '2dsphere' || d === 'text' || d === 'geoHaystack'
}

/**
 * The driver's IndexSpecification forms, like its `parseIndexOptions`: `'a'`, `['a', 'b']`,
 * `['a', -1]`, `[['a', 1], ['loc', '2dsphere']]`, `{a: 1}`, a Map, or arrays mixing them.
 * Directions are kept as given (`'text'`, `'2dsphere'`, `-1`).
 */
function normalizeIndexSpec(spec) {
  const single = !Array.isArray(spec) || (spec.length === 2 && typeof spec[0] === 'string' && isIndexDirection(spec[1]))
  const keys = {}
  for (const s of single ? [spec] : spec) {
    if (typeof s === 'string') keys[s] = 1
    else if (Array.isArray(s)) keys[s[0]] = s[1] ?? 1
    else if (s instanceof Map) for (const [k, v] of s) keys[k] = v
    else if (s !== null && typeof s === 'object') Object.assign(keys, s)
  }
  return keys
}

module.exports = { ArgonCursor, FindCursor, AggregationCursor, normalizeSort, normalizeIndexSpec }
