'use strict'
/**
 * `Argon` (a connected project) and `Branch` (a handle on one branch). Branch handles are
 * cheap and do no I/O until used.
 */
const { loadBson, Codec } = require('./bson')
const { Collection } = require('./collection')
const { call, callSync, ArgonError } = require('./errors')
const { atSpec, resetTarget, point, countsOf, DiffCursor } = require('./timetravel')
const native = require('../binding.js')
const { EventEmitter } = require('node:events')
const ops = require('./ops')

let warnedCapture = false

/**
 * `onProgress` of a long operation: a function called with `{ phase, done, total }` as it
 * goes (throttled by the engine), or nothing. An exception it throws is ignored.
 */
function progressCallback(onProgress, what) {
  if (onProgress === undefined || onProgress === null) return undefined
  if (typeof onProgress !== 'function') throw new ArgonError('INVALID_ARGUMENT', `${what}: onProgress must be a function`)
  return (e) => {
    try {
      onProgress({ phase: e.phase, done: Number(e.done), total: Number(e.total) })
    } catch {
      // a progress display must not break the operation
    }
  }
}

function toInfo(d) {
  return {
    name: d.name,
    parent: d.parent ?? null,
    forkLsn: Number(d.forkLsn),
    headLsn: Number(d.headLsn),
    createdAt: d.createdAt,
    protected: Boolean(d.protected),
  }
}

class Branch {
  constructor(argon, name, at) {
    this._argon = argon
    this.name = name
    this._at = at
    this._atSpec = at === undefined ? undefined : atSpec(at)
  }

  /** A collection on this branch (or, for a past view, a read-only one). */
  collection(name) {
    const a = this._argon
    const at = this._atSpec ? a._codec.encode(this._atSpec) : null
    const n = callSync(() => a._native.collection(this.name, String(name), at), a._codec.EJSON)
    return new Collection(a, n, this.name, String(name), Boolean(this._atSpec))
  }

  /**
   * A read-only view of this branch as of an LSN, a Date (the last LSN committed at or
   * before it) or a tag. Reads work as on the branch; writes reject with READ_ONLY.
   */
  at(point) {
    if (this._atSpec) throw new ArgonError('INVALID_ARGUMENT', 'this is already a past view')
    return new Branch(this._argon, this.name, point)
  }

  /** The point this view reads at (`undefined` for the branch's head). */
  get point() {
    return this._at
  }

  /** A change stream of this branch's own writes, every collection (see Collection#watch). */
  watch(pipeline = [], options = {}) {
    if (this._atSpec) throw new ArgonError('INVALID_ARGUMENT', 'a past view has no changes to watch')
    const { ArgonChangeStream } = require('./changestream')
    return new ArgonChangeStream(this._argon, { branch: this.name }, pipeline, options)
  }

  /** The collections this branch shows (its own and its ancestors'), as `[{ name, type: 'collection' }]`. */
  async listCollections() {
    const names = await call(this._argon._native.listCollections(this.name), this._argon._codec.EJSON)
    return names.map((name) => ({ name, type: 'collection' }))
  }

  /** `{ name, parent, forkLsn, headLsn, createdAt, protected }` */
  async info() {
    return this._argon.branchInfo(this.name)
  }
}

class Argon extends EventEmitter {
  constructor(nativeArgon, codec, logger) {
    super()
    this._native = nativeArgon
    this._codec = codec
    this._logger = logger
    this._closing = null
    // Calls issued and not yet settled, so close() can wait for them.
    this._inFlight = new Set()
    this._trackCall = (p) => {
      this._inFlight.add(p)
      const done = () => this._inFlight.delete(p)
      p.then(done, done)
      return p
    }
    // One channel for every engine event: alerts, breaker transitions, log records.
    nativeArgon.onEvent((buf) => this._onEvent(buf))
  }

  _onEvent(buf) {
    let d
    try {
      d = this._codec.decode(buf)
    } catch {
      return
    }
    if (d.type === 'log') {
      if (this._logger) ops.writeLog(this._logger, d)
    } else if (d.type === 'alert') {
      const { type: _t, ...a } = d
      this.emit('alert', ops.alert(a))
    } else if (d.type === 'breaker') {
      this.emit('breaker', d.state)
    }
  }

  /**
   * Connects to MongoDB and opens the project stored in `options.database`, creating its
   * metadata (and the `main` branch) on first use.
   */
  static async connect(uri, options = {}) {
    if (typeof uri !== 'string' || uri.length === 0) throw new ArgonError('INVALID_URI', 'a MongoDB connection string is required')
    if (!options || typeof options.database !== 'string') throw new ArgonError('INVALID_ARGUMENT', 'options.database (the project database) is required')
    const codec = new Codec(loadBson(options.bson))
    const { bson: _ignored, logger: userLogger, logLevel, ...rest } = options
    const logger = ops.checkLogger(userLogger)
    const level = ops.checkLogLevel(logLevel)
    const n = await call(native.connect(uri, JSON.stringify(rest)), codec.EJSON)
    if (n.capture === 'unavailable' && !warnedCapture) {
      warnedCapture = true
      process.emitWarning('this MongoDB deployment has no change streams (a standalone server): writes made outside Argon cannot be captured and would show in branches and past views; write through Argon only', { code: 'ARGON_CAPTURE_UNAVAILABLE' })
    }
    const argon = new Argon(n, codec, logger)
    argon.database = options.database
    if (logger) callSync(() => n.setLogLevel(level), codec.EJSON)
    return argon
  }

  /**
   * A MongoDB endpoint for this project: any driver, mongoose or mongosh connects to
   * `endpoint.uri` (branch `main`) or `endpoint.uriFor('feature-x', { at })`; the database
   * name `<db>@<branch>[~<lsn|tag|ISO time>]` selects what a client sees. Binds 127.0.0.1
   * unless `options.host` is given; `port: 0` (the default) picks a free port. Options:
   * `maxConnections` (1000), `cursorIdleMs` (10 minutes).
   */
  async serve(options = {}) {
    if (this._closing) throw new ArgonError('CLIENT_CLOSED', 'the Argon client is closed')
    const { serve } = require('./endpoint')
    const ep = await serve(this, options)
    ;(this._endpoints ??= new Set()).add(ep)
    const close = ep.close.bind(ep)
    ep.close = async () => {
      this._endpoints.delete(ep)
      await close()
    }
    return ep
  }

  /**
   * A session for transactions the driver's way: `session.withTransaction(fn)`, or
   * `startTransaction` / `commitTransaction` / `abortTransaction`, with `{ session }` on
   * each collection call. One transaction is on one branch and commits under one LSN.
   */
  startSession() {
    if (this._closing) throw new ArgonError('CLIENT_CLOSED', 'the Argon client is closed')
    const { ArgonSession } = require('./session')
    return new ArgonSession(this)
  }

  /** A change stream of every write of the project: every branch, every collection. */
  watch(pipeline = [], options = {}) {
    const { ArgonChangeStream } = require('./changestream')
    return new ArgonChangeStream(this, {}, pipeline, options)
  }

  /** Whether writes run in MongoDB transactions (replica sets and sharded clusters). */
  get transactions() {
    return this._native.transactions
  }

  branch(name) {
    if (typeof name !== 'string') throw new ArgonError('INVALID_BRANCH_NAME', 'a branch name must be a string')
    return new Branch(this, name)
  }

  /**
   * Creates a branch of `options.from` (default `main`, or the tag's branch when `at` is
   * a tag) in O(1), from its head or from a past point `options.at` (LSN, Date or tag).
   */
  async createBranch(name, options = {}) {
    if (typeof name !== 'string') throw new ArgonError('INVALID_BRANCH_NAME', 'a branch name must be a string')
    const at = options.at === undefined ? null : this._codec.encode(atSpec(options.at))
    const from = options.from === undefined ? null : String(options.from)
    // Created protected in the same metadata write: never visible unprotected.
    await call(this._native.createBranch(name, from, at, Boolean(options.protected)), this._codec.EJSON)
    return new Branch(this, name)
  }

  /** Names a point: `options.branch` (default main) at `options.at` (default now). Returns its LSN. */
  async tag(name, options = {}) {
    const at = options.at === undefined ? null : this._codec.encode(atSpec(options.at))
    return call(this._native.tag(String(name), String(options.branch ?? 'main'), at), this._codec.EJSON)
  }

  /** `[{ name, branch, lsn, createdAt }]` */
  async listTags() {
    const v = this._codec.decode(await call(this._native.listTags(), this._codec.EJSON)).v
    return v.map((t) => ({ name: t._id, branch: t.branch, lsn: Number(t.lsn), createdAt: t.createdAt }))
  }

  async deleteTag(name) {
    await call(this._native.deleteTag(String(name)), this._codec.EJSON)
  }

  /**
   * Removes history that no read inside the retention window, at a branch's fork point or
   * at a tag can reach. `{ dryRun: true }` only reports what it would remove;
   * `onProgress({ phase, done, total })` follows it (`size`, then `collect`, per branch).
   * Resolves `{ recordsRemoved, bytesFreed, oldestRetainedLsn, pinnedBy, dryRun }`.
   */
  async gc(options = {}) {
    if (options === null || typeof options !== 'object') throw new ArgonError('INVALID_ARGUMENT', 'gc options must be an object')
    const progress = progressCallback(options.onProgress, 'gc')
    const d = this._codec.decode(await call(this._native.gc(Boolean(options.dryRun), progress), this._codec.EJSON))
    return {
      recordsRemoved: Number(d.recordsRemoved),
      bytesFreed: Number(d.bytesFreed),
      oldestRetainedLsn: Number(d.oldestRetainedLsn),
      pinnedBy: d.pinnedBy.map((p) => ({ kind: p.kind, name: p.name, lsn: Number(p.lsn) })),
      dryRun: d.dryRun,
    }
  }

  /** `{ earliestLsn, latestLsn, earliestTime, latestTime, entries, retentionMs }` */
  /**
   * A branch's writes over time inside the retention window: `{ branch, from, to,
   * bucketMs, points: [{ t, writes, firstLsn, lastLsn }] }`, `options.buckets` (1 to 500,
   * default 60) equal time buckets; `writes` counts WAL records.
   */
  async timeline(branch, options = {}) {
    const buckets = options && options.buckets !== undefined ? options.buckets : 60
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 500) throw new ArgonError('INVALID_ARGUMENT', 'timeline buckets must be an integer from 1 to 500')
    return ops.plain(this._codec.decode(await call(this._native.timeline(String(branch), buckets), this._codec.EJSON)))
  }

  async timeTravelInfo(branch) {
    const d = this._codec.decode(await call(this._native.timeTravelInfo(String(branch)), this._codec.EJSON))
    return {
      earliestLsn: Number(d.earliestLsn),
      latestLsn: Number(d.latestLsn),
      earliestTime: d.earliestTime ?? null,
      latestTime: d.latestTime ?? null,
      entries: Number(d.entries),
      retentionMs: Number(d.retentionMs),
      capture: d.capture,
    }
  }

  /**
   * Turns on capture of writes made outside Argon for every collection of the project
   * (with MongoDB's `changeStreamPreAndPostImages`, so captured versions are exact), and
   * starts it in this process if `capture: 'off'` was given. Resolves to
   * `{ capture, collections }`; `capture` is `'unavailable'` on a standalone server.
   */
  async enableCapture() {
    const collections = await call(this._native.enableCapture(), this._codec.EJSON)
    return { capture: this._native.capture, collections }
  }

  /**
   * What changes from `a` to `b` (branch names, handles, past views or `{branch, at}`).
   * Returns counts per collection. With `{ detailed: true }` returns a `DiffCursor` of
   * `{ collection, _id, change, before, after }` instead (`onProgress({ phase: 'compare',
   * done, total })` counts the candidate documents compared as it is read). Both cost what changed between
   * the two points, not the size of the data.
   */
  diff(a, b, options = {}) {
    if (options.detailed) return new DiffCursor(this, a, b, options.chunkSize, progressCallback(options.onProgress, 'diff'))
    const enc = (p) => this._codec.encode(point(this, p))
    return (async () => {
      const r = this._codec.decode(await call(this._native.diff(enc(a), enc(b), false), this._codec.EJSON))
      return countsOf(r.collections)
    })()
  }

  /** What `resetBranch(branch, { to })` would change, per collection. Changes nothing. */
  async restorePreview(branch, options = {}) {
    const to = this._codec.encode(resetTarget(options.to))
    const r = this._codec.decode(await call(this._native.restorePreview(String(branch), to), this._codec.EJSON))
    return countsOf(r.collections)
  }

  /**
   * Resets a branch to a past point (`to`: LSN, Date, tag) or to its parent's head
   * (`to: 'parent'`), atomically for readers. Keeps a backup branch of the current state
   * unless `backup: false` (`backup: 'name'` names it) and returns the backup's name.
   * `onProgress({ phase, done, total })` follows it (`plan`, then `write` per document).
   */
  async resetBranch(branch, options = {}) {
    const to = this._codec.encode(resetTarget(options.to))
    const keep = options.backup !== false
    const name = typeof options.backup === 'string' ? options.backup : null
    const progress = progressCallback(options.onProgress, 'resetBranch')
    const r = this._codec.decode(await call(this._native.resetBranch(String(branch), to, keep, name, progress), this._codec.EJSON))
    return r.backup ?? null
  }

  async branchInfo(name) {
    const buf = await call(this._native.branchInfo(String(name)), this._codec.EJSON)
    return toInfo(this._codec.decode(buf))
  }

  async listBranches() {
    const buf = await call(this._native.listBranches(), this._codec.EJSON)
    return this._codec.decode(buf).v.map(toInfo)
  }

  async deleteBranch(name) {
    await call(this._native.deleteBranch(String(name)), this._codec.EJSON)
  }

  async protectBranch(name, value = true) {
    await call(this._native.protectBranch(String(name), Boolean(value)), this._codec.EJSON)
  }

  /**
   * Metrics of this project: the Prometheus text exposition (format 0.0.4) by default, or
   * with `{ format: 'json' }` `{ operations, counters, window, system, lsn, branches, breaker }`.
   */
  async metrics(options = {}) {
    if (options === null || typeof options !== 'object') throw new ArgonError('INVALID_ARGUMENT', 'metrics options must be an object')
    const format = options.format ?? 'prometheus'
    if (format === 'prometheus' || format === 'text') return call(this._native.metricsText(), this._codec.EJSON)
    if (format !== 'json') throw new ArgonError('INVALID_ARGUMENT', "metrics format must be 'prometheus' or 'json'")
    const d = this._codec.decode(await call(this._native.metricsJson(), this._codec.EJSON))
    return ops.withNodeSystem(ops.plain(d))
  }

  /**
   * The snapshots every connected process of this project publishes (every 10 s with the
   * monitor on): `[{ id, pid, host, app, startedAt, reportedAt, metrics, health, alerts,
   * history: [{ t, operations, errors, errorRate, p99Ms }], prometheus }]`, newest report
   * first. What `argon status | health | metrics` and the dashboard read.
   */
  async processes() {
    const d = this._codec.decode(await call(this._native.processes(), this._codec.EJSON))
    return d.v.map(({ _id, ...rest }) => ops.plain({ id: _id, ...rest }))
  }

  /** The server: `{ version, kind: 'replicaSet' | 'sharded' | 'standalone', setName, transactions, lsn }`. */
  async serverInfo() {
    return ops.plain(this._codec.decode(await call(this._native.serverInfo(), this._codec.EJSON)))
  }

  /** Publishes this process's snapshot now, instead of at the monitor's next 10 s mark. */
  async publishSnapshot() {
    await call(this._native.publishNow(), this._codec.EJSON)
  }

  /**
   * Checks the storage invariants (ARCHITECTURE.md) of `options.branch` and
   * `options.collection` (default: all) and reports every problem found; changes nothing.
   * `onProgress({ phase: 'check', done, total })` follows it, per branch and collection.
   * Resolves `{ ok, checked: { branches, collections, rows, records }, problemCount, problems }`.
   */
  async verify(options = {}) {
    if (options === null || typeof options !== 'object') throw new ArgonError('INVALID_ARGUMENT', 'verify options must be an object')
    const str = (v, what) => {
      if (v === undefined || v === null) return null
      if (typeof v !== 'string') throw new ArgonError('INVALID_ARGUMENT', `verify: ${what} must be a string`)
      return v
    }
    const progress = progressCallback(options.onProgress, 'verify')
    const buf = await call(this._native.verify(str(options.branch, 'branch'), str(options.collection, 'collection'), progress), this._codec.EJSON)
    return ops.plain(this._codec.decode(buf))
  }

  /**
   * What each branch holds, per collection: the documents it owns (main: its collections;
   * a child: its head rows that are not tombstones) and their bytes, its WAL records and
   * their bytes, the oldest point still in the WAL, and what `gc()` could free now (by
   * the plan gc itself deletes with, so the totals are `gc({ dryRun: true })`'s).
   * Counted on the server. Resolves `{ collections: [{ branch, branchId, collection,
   * documents, documentBytes, walRecords, walBytes, oldestLsn, oldestTime, gcRecords,
   * gcBytes }], totals, gc: { oldestRetainedLsn, pinnedBy } }`.
   */
  async storage() {
    const d = this._codec.decode(await call(this._native.storage(), this._codec.EJSON))
    const num = (v) => (v === null || v === undefined ? null : Number(v))
    const sizes = (r) => ({
      documents: Number(r.documents),
      documentBytes: Number(r.documentBytes),
      walRecords: Number(r.walRecords),
      walBytes: Number(r.walBytes),
      gcRecords: Number(r.gcRecords),
      gcBytes: Number(r.gcBytes),
    })
    return {
      collections: d.collections.map((r) => {
        const s = sizes(r)
        return {
          branch: r.branch ?? null,
          branchId: Number(r.branchId),
          collection: r.collection,
          documents: s.documents,
          documentBytes: s.documentBytes,
          walRecords: s.walRecords,
          walBytes: s.walBytes,
          oldestLsn: num(r.oldestLsn),
          oldestTime: r.oldestTime ?? null,
          gcRecords: s.gcRecords,
          gcBytes: s.gcBytes,
        }
      }),
      totals: sizes(d.totals),
      gc: {
        oldestRetainedLsn: Number(d.gc.oldestRetainedLsn),
        pinnedBy: d.gc.pinnedBy.map((p) => ({ kind: p.kind, name: p.name, lsn: Number(p.lsn) })),
      },
    }
  }

  /** Starts every counter, statistic and the health window again from zero. */
  resetMetrics() {
    callSync(() => this._native.resetMetrics(), this._codec.EJSON)
  }

  /**
   * `{ status: 'healthy' | 'degraded' | 'unhealthy', checks: { database, errorRate, latency,
   * memory, breaker }, consecutiveFailures, lastCheck, uptimeMs }`. Runs a database check.
   */
  async health() {
    // While closing (and after), the engine reports the last checks and `unhealthy`.
    return ops.health(this._codec.decode(await call(this._native.health(), this._codec.EJSON)))
  }

  /** Liveness: the process and the library are alive (not closed). */
  live() {
    return { status: this._closing ? 'down' : 'up' }
  }

  /** Readiness: the database answers and the library is not closing. */
  async ready() {
    if (this._closing) return { status: 'down', reason: 'closing' }
    const h = await this.health()
    const db = h.checks.database
    const up = db.status !== 'fail' && h.checks.breaker.state !== 'open' && db.error === null
    return { status: up ? 'up' : 'down', database: db }
  }

  /** Active alerts, or with `{ history: true }` the last 100 transitions. */
  alerts(options = {}) {
    const buf = callSync(() => this._native.alerts(Boolean(options && options.history)), this._codec.EJSON)
    return this._codec.decode(buf).v.map(ops.alert)
  }

  /** Runs one monitor round now: database check, gauges, alert rules. */
  async checkNow() {
    await call(this._native.monitorTick(), this._codec.EJSON)
  }

  /**
   * Graceful close: stops taking operations, waits up to `timeoutMs` (default 10 000) for
   * those in flight, stops the monitor, delivers pending log records, closes the client.
   */
  async close(options = {}) {
    const timeoutMs = options && options.timeoutMs !== undefined ? options.timeoutMs : 10_000
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw new ArgonError('INVALID_ARGUMENT', 'close timeoutMs must be a non-negative integer')
    if (!this._closing) {
      // Endpoints stop first, so no new command arrives while in-flight calls settle.
      for (const ep of this._endpoints || []) ep.close().catch(() => {})
      const deadline = Date.now() + timeoutMs
      const settled = Promise.allSettled([...this._inFlight])
      let timer
      const waited = new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs)
      })
      this._closing = Promise.race([settled, waited])
        .then(() => clearTimeout(timer))
        .then(() => call(this._native.closeWithin(Math.max(0, Math.min(deadline - Date.now(), 2 ** 31 - 1))), this._codec.EJSON))
        // Let queued events (log records of the last operations) reach JS.
        .then((left) => new Promise((resolve) => setImmediate(() => resolve(left))))
    }
    await this._closing
  }
}

module.exports = { Argon, Branch }
