'use strict'
/**
 * Change streams over the WAL (`collection.watch()`, `branch.watch()`, `argon.watch()`),
 * shaped like the driver's ChangeStream: `next()`, `tryNext()`, `hasNext()`, `for await`,
 * `.on('change')`, `close()`, `resumeToken`. Events come in commit order, one per document
 * a write changed, only after commit; a child branch's stream has its own writes only.
 * The engine side is `crates/argon-core/src/read/stream.rs`.
 */
const { EventEmitter } = require('node:events')
const { call, ArgonError } = require('./errors')

const FULL_DOCUMENT = ['default', 'updateLookup', 'whenAvailable', 'required']

class ArgonChangeStream extends EventEmitter {
  /**
   * @param argon the Argon
   * @param scope `{ branch?, collection? }`
   */
  constructor(argon, scope, pipeline = [], options = {}) {
    super()
    if (!Array.isArray(pipeline)) throw new ArgonError('INVALID_ARGUMENT', 'watch needs an array pipeline')
    if (options === null || typeof options !== 'object') throw new ArgonError('INVALID_ARGUMENT', 'watch options must be an object')
    const full = options.fullDocument ?? 'default'
    if (!FULL_DOCUMENT.includes(full)) throw new ArgonError('INVALID_ARGUMENT', `fullDocument must be one of ${FULL_DOCUMENT.join(', ')}`)
    const token = options.resumeAfter ?? options.startAfter
    const given = [token !== undefined, options.startAtLsn !== undefined, options.startAtOperationTime !== undefined].filter(Boolean).length
    if (given > 1) throw new ArgonError('INVALID_ARGUMENT', 'give at most one of resumeAfter/startAfter and startAtLsn')
    if (options.startAtOperationTime !== undefined) throw new ArgonError('INVALID_ARGUMENT', 'startAtOperationTime is not supported: use startAtLsn')
    if (options.startAtLsn !== undefined && !(Number.isInteger(options.startAtLsn) && options.startAtLsn >= 0)) {
      throw new ArgonError('INVALID_ARGUMENT', 'startAtLsn must be a non-negative integer')
    }
    this._argon = argon
    this._spec = { ...scope, fullDocument: full !== 'default', pipeline, limit: Math.min(Math.max(options.batchSize ?? 1000, 1), 10_000) }
    this._waitMs = Math.max(Number(options.maxAwaitTimeMS ?? 100), 10)
    this._buffer = []
    this._closed = false
    this._polling = false
    if (token !== undefined) {
      if (!token || typeof token._data !== 'string' || !/^\d+$/.test(token._data)) throw new ArgonError('INVALID_ARGUMENT', 'not an argondb resume token')
      this._after = Promise.resolve(token._data)
    } else {
      this._after = call(argon._native.streamStart(options.startAtLsn ?? null), argon._codec.EJSON)
    }
    // Settle now: a failure to start is reported by the first read, not unhandled.
    this._after.catch(() => {})
    this.on('newListener', (name) => {
      if (name === 'change') setImmediate(() => this._pump())
    })
  }

  /** The token to resume after the last event returned (`resumeAfter`). */
  get resumeToken() {
    return this._token ?? null
  }

  get closed() {
    return this._closed
  }

  async _fetch() {
    const after = await this._after
    const a = this._argon
    const buf = await call(a._native.streamEvents(after, a._codec.encode(this._spec)), a._codec.EJSON)
    const events = a._codec.decode(buf).v
    if (events.length) this._after = Promise.resolve(events[events.length - 1]._id._data)
    for (const e of events) {
      e.lsn = Number(e.lsn)
      this._buffer.push(e)
    }
    return events.length
  }

  _take() {
    const e = this._buffer.shift()
    this._token = e._id
    return e
  }

  /** The next event, waiting for one. Resolves null once closed. */
  async next() {
    while (this._buffer.length === 0) {
      if (this._closed) return null
      if ((await this._fetch()) === 0) await new Promise((r) => setTimeout(r, this._waitMs))
    }
    return this._take()
  }

  /** The next event if one is there now, else null. */
  async tryNext() {
    if (this._buffer.length === 0 && !this._closed) await this._fetch()
    return this._buffer.length ? this._take() : null
  }

  async hasNext() {
    while (this._buffer.length === 0 && !this._closed) {
      if ((await this._fetch()) === 0) await new Promise((r) => setTimeout(r, this._waitMs))
    }
    return this._buffer.length > 0
  }

  async _pump() {
    if (this._polling) return
    this._polling = true
    try {
      while (!this._closed && this.listenerCount('change') > 0) {
        const e = await this.next()
        if (e) this.emit('change', e)
      }
    } catch (err) {
      if (!this._closed) this.emit('error', err)
    } finally {
      this._polling = false
    }
  }

  async close() {
    this._closed = true
    this._buffer = []
    this.emit('close')
  }

  async *[Symbol.asyncIterator]() {
    try {
      for (;;) {
        const e = await this.next()
        if (e === null) return
        yield e
      }
    } finally {
      await this.close()
    }
  }
}

module.exports = { ArgonChangeStream }
