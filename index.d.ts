/**
 * argondb: Git-like branches, a durable WAL and time travel for MongoDB.
 *
 * Hand-written types for the public API (`index.js` + `lib/*.js`). Collections follow the
 * official `mongodb` driver's signatures and result types, which are imported from it;
 * `mongodb` is an optional peerDependency that TypeScript users need installed for these
 * types (JavaScript users do not).
 */
import type {
  AggregateOptions,
  AnyBulkWriteOperation,
  BulkWriteOptions,
  CountDocumentsOptions,
  CollationOptions,
  DistinctOptions,
  CreateIndexesOptions,
  DeleteOptions,
  DeleteResult,
  Document,
  EstimatedDocumentCountOptions,
  Filter,
  FindOneAndDeleteOptions,
  FindOneAndReplaceOptions,
  FindOneAndUpdateOptions,
  FindOneOptions,
  FindOptions,
  Flatten,
  IndexDescriptionInfo,
  IndexSpecification,
  InsertManyResult,
  InsertOneOptions,
  InsertOneResult,
  ModifyResult,
  OptionalUnlessRequiredId,
  ReplaceOptions,
  Sort,
  SortDirection,
  UpdateFilter,
  UpdateOptions,
  UpdateResult,
  WithId,
  WithoutId,
} from 'mongodb'

export type { Document, Filter, UpdateFilter, WithId, OptionalUnlessRequiredId, Sort } from 'mongodb'

/**
 * Driver options, with argondb's own session type. `collation`, `hint`, `comment`, `let`
 * and `maxTimeMS` are honoured on every level of a branch or past view, as MongoDB
 * evaluates them (docs/compatibility.md).
 */
export type ArgonOptions<O> = Omit<O, 'session'> & {
  /** A session from `argon.startSession()`: the call runs in its transaction, if one is in progress. */
  session?: ArgonSession
}

/**
 * A session for transactions the driver's way. All writes of one transaction (on one
 * branch, at its head) commit atomically under one LSN; reads in it see its own writes.
 * Inside a transaction: insertOne/insertMany, updateOne/updateMany, replaceOne,
 * deleteOne/deleteMany, findOneAnd*, find/findOne, countDocuments, aggregate and
 * distinct; other calls fail with `INVALID_TRANSACTION`.
 */
export declare class ArgonSession {
  private constructor()
  readonly inTransaction: boolean
  readonly hasEnded: boolean
  startTransaction(): void
  commitTransaction(): Promise<void>
  abortTransaction(): Promise<void>
  /** Runs `fn` in a transaction and commits it; retries on `TransientTransactionError` for up to 120 s. */
  withTransaction<T>(fn: (session: ArgonSession) => Promise<T>): Promise<T>
  endSession(): Promise<void>
}

// ---------------------------------------------------------------------------------------
// Connection

export interface ConnectOptions {
  /** The MongoDB database that holds the project (its branches, WAL and data). Required. */
  database: string
  /** How long to wait for a usable server before failing with `SERVER_UNREACHABLE`.
   *  Defaults to the URI's `serverSelectionTimeoutMS`, else 10 000 ms. */
  serverSelectionTimeoutMs?: number
  /** Application name reported to the server. */
  appName?: string
  /** Retries of a write transaction after a transient error (write conflict). Default 10 000. */
  maxTransactionRetries?: number
  /** How long a write keeps retrying transient errors, in ms. Default 75 000 (longer than
   *  MongoDB's 60 s lifetime of a transaction abandoned by a crashed process). */
  transactionTimeoutMs?: number
  /** How long cached branch metadata is trusted, in ms. Default 1000. */
  metadataCacheMs?: number
  /** Entries in the branch-metadata LRU cache. Default 1024. */
  metadataCacheSize?: number
  /** How far back reads and branch creation may go, in ms. Default 7 days. Points
   *  before the window fail with `LSN_OUT_OF_RANGE`. */
  retentionMs?: number
  /** Capture of writes made outside Argon on main's collections (another service,
   *  mongosh, a migration script) into the WAL, so they never show in branches or past
   *  views: `'auto'` (default; needs change streams) or `'off'`. */
  capture?: 'auto' | 'off'
  /** Collects history in the background every this many ms (see `Argon.gc`). Off by default. */
  gcIntervalMs?: number
  /** The `bson` module to decode results with (default: `require('bson')`), so the
   *  ObjectIds in results are the same class your code and driver use. */
  bson?: typeof import('bson')
  /** Receives the engine's log records, pino-style `logger[level](fields, message)`:
   *  pino, console, or anything with `info`, `warn` and `error` methods. Default: silent. */
  logger?: Logger
  /** The least severe level sent to `logger`. Default `'info'`. */
  logLevel?: LogLevel
  /** Background checks of the database, health thresholds and alert rules; `false`
   *  turns the checks off (health() still checks on demand). */
  monitor?: false | MonitorOptions
  /** Retries of operations after network errors, timeouts and failovers. */
  retry?: RetryOptions
  /** The circuit breaker. */
  breaker?: BreakerOptions
  /** Operations slower than this are logged at warn with their duration, ms. Default 1000. */
  slowOperationMs?: number
  /** Records per-operation metrics. Default true; `false` keeps the breaker, retries,
   *  health checks and logs. */
  metrics?: boolean
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error'
/** Anything with pino/console-style level methods. */
export interface Logger {
  info(fields: LogFields, message: string): unknown
  warn(fields: LogFields, message: string): unknown
  error(fields: LogFields, message: string): unknown
  debug?(fields: LogFields, message: string): unknown
  trace?(fields: LogFields, message: string): unknown
}
/** Structured fields of a log record (operation, duration_ms, code, branch, … as the
 *  engine records them), plus where and when. */
export interface LogFields {
  target: string
  time: Date
  operation?: string
  duration_ms?: number
  code?: string
  [field: string]: unknown
}

export interface MonitorOptions {
  /** How often the monitor checks the database and evaluates alert rules, ms. Default 30 000; 0: off. */
  intervalMs?: number
  /** A database check slower than this fails, ms. Default 2000. */
  checkTimeoutMs?: number
  /** How often this process publishes its snapshot for `argon status` and the dashboard (default 10 000; 0: never). */
  publishIntervalMs?: number
  thresholds?: HealthThresholds
  /** Rules evaluated with the defaults. */
  rules?: AlertRule[]
  /** Whether the default rules run. Default true. */
  defaultRules?: boolean
}

export interface HealthThresholds {
  /** Error rate over the last 60 s above which health is degraded. Default 0.05. */
  errorRate?: number
  /** p99 latency over the last 60 s above which health is degraded, ms. Default 1000. */
  p99Ms?: number
  /** Consecutive failed database checks that make health unhealthy. Default 3. */
  consecutiveFailures?: number
  /** Resident memory above which health is degraded, bytes. Default 2 GiB. */
  memoryBytes?: number
  /** Fewest operations in the window before rates count. Default 10. */
  minOperations?: number
}

export type Severity = 'info' | 'warning' | 'error' | 'critical'

export interface AlertRule {
  /** Letters, digits, `_` and `-`. */
  name: string
  metric: 'errorRate' | 'p99Ms' | 'databaseFailures' | 'memoryBytes' | 'breakerOpen'
  /** Default `'>'`. */
  op?: '>' | '>=' | '<' | '<='
  threshold: number
  /** How long the condition must hold before the alert fires, ms. Default 0. */
  forMs?: number
  severity: Severity
  summary?: string
}

export interface RetryOptions {
  /** Default `'exponential'`. */
  strategy?: 'fixed' | 'linear' | 'exponential'
  /** Attempts in all, the first included. Default 5. */
  maxAttempts?: number
  /** Default 50 ms. */
  baseDelayMs?: number
  /** Default 2000 ms. */
  maxDelayMs?: number
  /** Full jitter (a delay anywhere between 0 and the computed one). Default true. */
  jitter?: boolean
  /** Retries allowed per call on average (the retry budget's refill). Default 0.2. */
  budgetRatio?: number
}

export interface BreakerOptions {
  /** Consecutive failures to reach the database that open the breaker. Default 5. */
  failureThreshold?: number
  /** How long it stays open before letting probe calls through, ms. Default 30 000. */
  openMs?: number
  /** Successful probes that close it again. Default 3. */
  halfOpenSuccesses?: number
}

export type BreakerState = 'closed' | 'open' | 'half-open'
export type CheckStatus = 'pass' | 'warn' | 'fail'

export interface Health {
  status: 'healthy' | 'degraded' | 'unhealthy'
  checks: {
    database: { status: CheckStatus; latencyMs: number; consecutiveFailures: number; threshold: number; error: string | null; lastCheck: Date | null }
    errorRate: { status: CheckStatus; value: number; threshold: number; operations: number; errors: number }
    latency: { status: CheckStatus; p99Ms: number; threshold: number }
    memory: { status: CheckStatus; rssBytes: number; threshold: number }
    breaker: { status: CheckStatus; state: BreakerState }
  }
  consecutiveFailures: number
  lastCheck: Date | null
  uptimeMs: number
  closing: boolean
}

export interface Alert {
  id: string
  rule: string
  severity: Severity
  state: 'firing' | 'resolved'
  value: number
  threshold: number
  /** When it fired. */
  since: Date
  resolvedAt?: Date
  summary?: string
}

export interface OperationStats {
  count: number
  errors: number
  successRate: number
  avgMs: number
  minMs: number
  maxMs: number
  p50Ms: number
  p99Ms: number
  lastSeen: Date
}

/** A change event, as the driver's, plus the write's `lsn` and `branch`. */
export interface ArgonChangeEvent<TSchema = Document> {
  /** The resume token. */
  _id: { _data: string }
  operationType: 'insert' | 'update' | 'replace' | 'delete'
  ns: { db: string; coll: string }
  documentKey: { _id: any }
  /** insert and replace; update too with `fullDocument` other than 'default' (the version the update wrote). */
  fullDocument?: TSchema
  updateDescription?: { updatedFields: Partial<TSchema>; removedFields: string[]; truncatedArrays: unknown[] }
  clusterTime: unknown
  wallTime: Date
  lsn: number
  branch: string
}

export interface WatchOptions {
  resumeAfter?: { _data: string }
  startAfter?: { _data: string }
  /** Start with the writes of this LSN. */
  startAtLsn?: number
  fullDocument?: 'default' | 'updateLookup' | 'whenAvailable' | 'required'
  batchSize?: number
  /** How long `next()` waits between looks at the WAL when nothing is new, ms. Default 100. */
  maxAwaitTimeMS?: number
}

/** A change stream over the WAL: commit order, one event per document, only after commit. */
export declare class ArgonChangeStream<TSchema = Document> implements AsyncIterable<ArgonChangeEvent<TSchema>> {
  private constructor()
  next(): Promise<ArgonChangeEvent<TSchema> | null>
  tryNext(): Promise<ArgonChangeEvent<TSchema> | null>
  hasNext(): Promise<boolean>
  readonly resumeToken: { _data: string } | null
  readonly closed: boolean
  close(): Promise<void>
  on(event: 'change', listener: (e: ArgonChangeEvent<TSchema>) => void): this
  on(event: 'error', listener: (e: Error) => void): this
  on(event: 'close', listener: () => void): this
  [Symbol.asyncIterator](): AsyncGenerator<ArgonChangeEvent<TSchema>, void, void>
}

/** What `bulkWrite` did; `insertedIds` and `upsertedIds` are keyed by operation index. */
export interface ArgonBulkWriteResult {
  ok: 1
  insertedCount: number
  matchedCount: number
  modifiedCount: number
  deletedCount: number
  upsertedCount: number
  insertedIds: { [index: number]: any }
  upsertedIds: { [index: number]: any }
}

export interface VerifyProblem {
  kind: 'branch_meta' | 'orphan_records' | 'missing_row' | 'tombstone' | 'head_stamp' | 'head_image' | 'first_write' | 'chain'
  branch: string | null
  collection: string | null
  id: unknown
  detail: string
}

export interface VerifyReport {
  ok: boolean
  checked: { branches: number; collections: number; rows: number; records: number }
  problemCount: number
  /** The first 1000 problems. */
  problems: VerifyProblem[]
}

export interface MetricsJson {
  /** Per operation name (`insertOne`, `find`, …) since start or the last reset. */
  operations: Record<string, OperationStats>
  /** Unlabelled counters by metric name without `argon_` (`wal_records_total`, …). */
  counters: Record<string, number>
  /** The last 60 s, as health reads it. */
  window: { seconds: number; operations: number; errors: number; errorRate: number; p99Ms: number; avgMs: number }
  system: { rssBytes: number; uptimeMs: number; up: boolean; version: string; heapUsedBytes: number; heapTotalBytes: number; externalBytes: number; nodeVersion: string; pid: number }
  lsn: number
  branches: number
  breaker: BreakerState
}

export interface BranchInfo {
  name: string
  /** The branch it was forked from; `null` for `main`. */
  parent: string | null
  /** The parent's LSN at the moment of the fork. */
  forkLsn: number
  /** The LSN of the branch's latest write. */
  headLsn: number
  createdAt: Date
  protected: boolean
}

/**
 * A point in a branch's history: an LSN, a `Date` (the last LSN committed at or before
 * it), or the name of a tag.
 */
export type PointInTime = number | Date | string

export interface CreateBranchOptions {
  /** The branch to fork from. Default `'main'` (or the tag's branch when `at` is a tag). */
  from?: string
  /** Fork from this past point instead of the head. Still O(1). */
  at?: PointInTime
  /** Create the branch protected (no delete, no reset). */
  protected?: boolean
}

/** One side of a diff. */
export type DiffSide = string | Branch | { branch: string; at?: PointInTime }

export interface ChangeCounts {
  added: number
  changed: number
  removed: number
}

export interface DiffSummary extends ChangeCounts {
  /** Counts per collection (collections without changes are absent). */
  collections: Record<string, ChangeCounts>
}

export interface DiffDocument {
  collection: string
  _id: unknown
  change: 'added' | 'changed' | 'removed'
  before: Document | null
  after: Document | null
}

/** The detailed form of a diff: documents are fetched lazily, `chunkSize` ids at a time. */
export declare class DiffCursor extends ArgonCursor<DiffDocument> {
  private constructor()
}

export interface Timeline {
  branch: string
  /** Oldest and newest record time in the window; null when it holds no record. */
  from: Date | null
  to: Date | null
  bucketMs: number
  points: Array<{ t: Date; writes: number; firstLsn: number | null; lastLsn: number | null }>
}

/**
 * A long operation's progress (`onProgress` of `gc`, `verify`, `resetBranch` and a
 * detailed `diff`), reported a few times a second at most. `phase`: `size` / `collect`
 * (gc, one step per branch), `check` (verify, per branch and collection), `plan` / `write`
 * (resetBranch, per document written), `compare` (diff, per candidate document).
 */
export interface Progress {
  phase: string
  done: number
  total: number
}

/** Follows a long operation; an exception it throws is ignored. */
export type ProgressCallback = (progress: Progress) => void

/** One branch and collection in `argon.storage()`. Bytes are `$bsonSize` (as stored, before compression, without indexes). */
export interface StorageRow {
  /** `null` for WAL records of a branch that no longer exists. */
  branch: string | null
  branchId: number
  collection: string
  /** Documents the branch owns: main's collection; a child's head rows that are not tombstones. */
  documents: number
  documentBytes: number
  walRecords: number
  walBytes: number
  /** The oldest write still in the WAL for this branch and collection (null: none). */
  oldestLsn: number | null
  oldestTime: Date | null
  /** What `gc()` could remove now (its own plan: the totals equal `gc({ dryRun: true })`). */
  gcRecords: number
  gcBytes: number
}

export interface StorageReport {
  collections: StorageRow[]
  totals: { documents: number; documentBytes: number; walRecords: number; walBytes: number; gcRecords: number; gcBytes: number }
  gc: { oldestRetainedLsn: number; pinnedBy: GcPin[] }
}

/** Something that keeps history older than the retention window. */
export interface GcPin {
  kind: 'branch' | 'tag' | 'backup'
  name: string
  lsn: number
}

export interface GcResult {
  recordsRemoved: number
  bytesFreed: number
  /** The oldest LSN any allowed read still needs: the window's start or an older pin. */
  oldestRetainedLsn: number
  pinnedBy: GcPin[]
  dryRun: boolean
}

export interface TimeTravelInfo {
  /** The oldest readable LSN (the state current when the retention window began). */
  earliestLsn: number
  latestLsn: number
  earliestTime: Date | null
  latestTime: Date | null
  /** WAL records the branch itself wrote inside the window. */
  entries: number
  retentionMs: number
  /** Capture of outside writes in this process: `'active'`, `'off'` (`capture: 'off'`),
   *  or `'unavailable'` (a standalone server has no change streams). */
  capture: 'active' | 'off' | 'unavailable'
}

export interface TagInfo {
  name: string
  branch: string
  lsn: number
  createdAt: Date
}

export interface ResetOptions {
  /** A past point of the branch, or `'parent'` for the parent's current head. */
  to: PointInTime | 'parent'
  /** Keep a backup branch of the current state (default `true`); a string names it. */
  backup?: boolean | string
  /** Follows the reset: `plan`, then `write` (one step per document written). */
  onProgress?: ProgressCallback
}

export interface HistoryEntry<TSchema> {
  lsn: number
  time: Date
  /** `'adopted'`: the document as Argon first met its collection (its oldest version). */
  op: 'insert' | 'update' | 'replace' | 'delete' | 'adopted'
  /** The document after this version's write; `null` for a delete. */
  document: WithId<TSchema> | null
}

/** A connected project. */
export declare class Argon {
  private constructor()

  /**
   * Connects to MongoDB and opens the project stored in `options.database`, creating its
   * metadata (and the `main` branch) on first use.
   */
  static connect(uri: string, options: ConnectOptions): Promise<Argon>

  /** Whether writes run in MongoDB transactions (replica sets and sharded clusters). */
  readonly transactions: boolean
  /** A session for transactions (`withTransaction`, `{ session }` on collection calls). */
  startSession(): ArgonSession
  /** The project database given to connect(). */
  readonly database: string
  /**
   * A MongoDB endpoint for this project: any driver, mongoose or mongosh connects to
   * `endpoint.uri` (branch main) or `endpoint.uriFor('feature-x')`; the database name
   * `<db>@<branch>[~<lsn|tag|ISO time>]` selects a branch or a read-only past point.
   */
  serve(options?: ServeOptions): Promise<Endpoint>
  /** A change stream of every write of the project: every branch, every collection. */
  watch(pipeline?: Document[], options?: WatchOptions): ArgonChangeStream

  /** A handle on a branch; no I/O until used. */
  branch(name: string): Branch
  /** Creates a branch of `options.from` (default `main`) in O(1) and returns its handle. */
  createBranch(name: string, options?: CreateBranchOptions): Promise<Branch>
  branchInfo(name: string): Promise<BranchInfo>
  listBranches(): Promise<BranchInfo[]>
  /** Fails with `BRANCH_PROTECTED` for `main` and protected branches. */
  deleteBranch(name: string): Promise<void>
  /** Protects (default) or, with `value = false`, unprotects a branch. */
  protectBranch(name: string, value?: boolean): Promise<void>

  /** Names a point: `options.branch` (default main) at `options.at` (default now). Returns its LSN. */
  tag(name: string, options?: { branch?: string; at?: PointInTime }): Promise<number>
  listTags(): Promise<TagInfo[]>
  deleteTag(name: string): Promise<void>
  /** The readable range of a branch's history. */
  timeTravelInfo(branch: string): Promise<TimeTravelInfo>
  /**
   * A branch's writes over time inside the retention window, in `buckets` (1 to 500,
   * default 60) equal time buckets; `writes` counts WAL records (one per changed document).
   */
  timeline(branch: string, options?: { buckets?: number }): Promise<Timeline>
  /** Removes history that no read inside the retention window, at a branch's fork point
   *  or at a tag can reach; never changes the answer of a read it still allows.
   *  `dryRun` only reports what it would remove. */
  gc(options?: { dryRun?: boolean; onProgress?: ProgressCallback }): Promise<GcResult>
  /** Turns on capture of outside writes for every collection of the project (MongoDB's
   *  `changeStreamPreAndPostImages`, so captured versions are exact) and starts it in this
   *  process if it was off. */
  enableCapture(): Promise<{ capture: 'active' | 'off' | 'unavailable'; collections: string[] }>
  /**
   * What changes from `a` to `b`: counts per collection, or with `{ detailed: true }` a
   * lazy cursor of the changed documents. Costs what changed between them, not the data size.
   */
  diff(a: DiffSide, b: DiffSide, options: { detailed: true; chunkSize?: number; onProgress?: ProgressCallback }): DiffCursor
  diff(a: DiffSide, b: DiffSide, options?: { detailed?: false }): Promise<DiffSummary>
  /** What `resetBranch(branch, { to })` would change. Changes nothing. */
  restorePreview(branch: string, options: { to: PointInTime | 'parent' }): Promise<DiffSummary>
  /**
   * Resets a branch atomically (readers see the old state or the new one). Returns the
   * backup branch's name, or `null` with `backup: false`.
   */
  resetBranch(branch: string, options: ResetOptions): Promise<string | null>

  /** Prometheus text exposition (format 0.0.4) of this project's metrics. */
  metrics(options?: { format?: 'prometheus' }): Promise<string>
  /** The same metrics as an object, with averages, extremes, p50/p99 and last-seen times. */
  metrics(options: { format: 'json' }): Promise<MetricsJson>
  /** Starts every counter, statistic and the health window again from zero. */
  resetMetrics(): void
  /** Checks the storage invariants of a branch and collection (default: all) and reports
   *  every problem found; changes nothing. */
  verify(options?: { branch?: string; collection?: string; onProgress?: ProgressCallback }): Promise<VerifyReport>
  /** Per branch and collection: owned documents, WAL records, the oldest retained point and
   *  what gc could free; counted on the server. Changes nothing. */
  storage(): Promise<StorageReport>
  /** The snapshots every connected process publishes (monitor on), newest report first. */
  processes(): Promise<ProcessSnapshot[]>
  /** Publishes this process's snapshot now. */
  publishSnapshot(): Promise<void>
  /** The server: version, deployment kind, whether transactions are available, the newest committed LSN. */
  serverInfo(): Promise<{ version: string; kind: 'replicaSet' | 'sharded' | 'standalone'; setName: string | null; transactions: boolean; lsn: number; localTime: Date | null }>
  /** Runs a database check and evaluates every health check. */
  health(): Promise<Health>
  /** Liveness: the process and the library are alive (`down` once closed). */
  live(): { status: 'up' | 'down' }
  /** Readiness: the database answers and the library is not closing. */
  ready(): Promise<{ status: 'up' | 'down'; database?: Health['checks']['database']; reason?: string }>
  /** Active alerts, or with `{ history: true }` the last 100 transitions. */
  alerts(options?: { history?: boolean }): Alert[]
  /** Runs one monitor round now: database check, gauges, alert rules. */
  checkNow(): Promise<void>
  on(event: 'alert', listener: (alert: Alert) => void): this
  on(event: 'breaker', listener: (state: BreakerState) => void): this
  once(event: 'alert', listener: (alert: Alert) => void): this
  once(event: 'breaker', listener: (state: BreakerState) => void): this
  off(event: 'alert' | 'breaker', listener: (...args: any[]) => void): this
  /** Graceful close: stops taking calls, waits up to `timeoutMs` (default 10 000) for
   *  those in flight, stops the monitor, delivers pending log records. */
  close(options?: { timeoutMs?: number }): Promise<void>
}

/** A handle on one branch. */
/** One process's published snapshot (`argon.processes()`). */
export interface ProcessSnapshot {
  id: string
  pid: number
  host: string
  app: string
  startedAt: Date
  reportedAt: Date
  intervalMs: number
  metrics: Record<string, unknown>
  health: Record<string, unknown>
  alerts: Array<Record<string, unknown>>
  /** The last hour of summary points, one per publishing interval (each the last 60 s). */
  history: Array<{ t: Date; operations: number; errors: number; errorRate: number; p99Ms: number; avgMs: number }>
  /** This process's metrics in the Prometheus text format. */
  prometheus: string
  /** Per operation, its calls and latency since the previous snapshot (operations that ran). */
  interval: Record<string, { count: number; avgMs: number; p50Ms: number; p99Ms: number }>
  /** Its last 50 operations, newest first (`code` when one failed). */
  recent: RecentOperation[]
  /** Its last 50 operations slower than its `slowOperationMs`, newest first. */
  slow: RecentOperation[]
  slowOperationMs: number
  /** Its last 50 alert transitions (firing and resolved), newest first. */
  alertHistory: Alert[]
}

export interface RecentOperation {
  op: string
  /** Absent for project-wide operations (branch commands, gc, …). */
  branch?: string
  collection?: string
  ms: number
  ok: boolean
  code?: string
  at: Date
}

export interface ServeOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number
  /** Address to bind; 127.0.0.1 unless given. */
  host?: string
  /** Connections beyond this are refused (default 1000). */
  maxConnections?: number
  /** Idle server-side cursors are closed after this long (default 10 minutes). */
  cursorIdleMs?: number
  /** SCRAM-SHA-256 users of the endpoint (not the upstream MongoDB's): by password or SCRAM keys. */
  users?: Array<{ user: string; password: string } | { user: string; salt: string; iterations: number; storedKey: string; serverKey: string }>
}

export interface Endpoint {
  /** `mongodb://127.0.0.1:<port>/?directConnection=true` */
  readonly uri: string
  readonly port: number
  readonly host: string
  /** A ready connection string for a branch (or a past point of it), `@` percent-encoded. */
  uriFor(branch?: string, options?: { at?: number | string | Date }): string
  /** The database name a client uses for a branch (or a past point of it). */
  dbName(branch?: string, options?: { at?: number | string | Date }): string
  close(): Promise<void>
}

export declare class Branch {
  private constructor()
  readonly name: string
  /** A collection on this branch, with the official driver's API. */
  collection<TSchema extends Document = Document>(name: string): Collection<TSchema>
  info(): Promise<BranchInfo>
  /** The collections this branch shows (its own and its ancestors'). */
  listCollections(): Promise<Array<{ name: string; type: 'collection' }>>
  /** A change stream of this branch's own writes, every collection. */
  watch(pipeline?: Document[], options?: WatchOptions): ArgonChangeStream
  /**
   * A read-only view of this branch at a past point: every read method works; writes
   * reject with `READ_ONLY`. An invalid point throws `INVALID_ARGUMENT` here; a point
   * outside the history fails on first use with `LSN_OUT_OF_RANGE` (or `TAG_NOT_FOUND`).
   */
  at(point: PointInTime): Branch
  /** The point this view reads at; `undefined` for the branch's head. */
  readonly point: PointInTime | undefined
}

// ---------------------------------------------------------------------------------------
// Collections

/** The result of `listIndexes()`: the branch's index descriptions. */
export interface ListIndexesCursor {
  toArray(): Promise<IndexDescriptionInfo[]>
}

/** One collection on one branch, shaped like the driver's `Collection<TSchema>`. */
export declare class Collection<TSchema extends Document = Document> {
  private constructor()
  readonly collectionName: string
  readonly branchName: string

  insertOne(doc: OptionalUnlessRequiredId<TSchema>, options?: ArgonOptions<InsertOneOptions>): Promise<InsertOneResult<TSchema>>
  /** Throws an `ArgonBulkWriteError` (the driver's `MongoBulkWriteError` class when installed) on partial failure. */
  insertMany(docs: ReadonlyArray<OptionalUnlessRequiredId<TSchema>>, options?: ArgonOptions<BulkWriteOptions>): Promise<InsertManyResult<TSchema>>
  /**
   * The driver's `bulkWrite`, as one logical write (one LSN): ordered (default) stops at the
   * first failing operation, unordered applies every operation that does not fail. Throws an
   * `ArgonBulkWriteError` (the driver's `MongoBulkWriteError` class when installed) with the
   * partial result and `writeErrors`. `bypassDocumentValidation: true` is refused.
   */
  bulkWrite(operations: ReadonlyArray<AnyBulkWriteOperation<TSchema>>, options?: ArgonOptions<BulkWriteOptions>): Promise<ArgonBulkWriteResult>
  /** A change stream of this collection on this branch (its own writes); the pipeline may hold `$match` stages. */
  watch(pipeline?: Document[], options?: WatchOptions): ArgonChangeStream<TSchema>

  updateOne(
    filter: Filter<TSchema>,
    update: UpdateFilter<TSchema> | Document[],
    options?: ArgonOptions<UpdateOptions> & { sort?: Sort },
  ): Promise<UpdateResult<TSchema>>
  updateMany(filter: Filter<TSchema>, update: UpdateFilter<TSchema> | Document[], options?: ArgonOptions<UpdateOptions>): Promise<UpdateResult<TSchema>>
  replaceOne(filter: Filter<TSchema>, replacement: WithoutId<TSchema>, options?: ArgonOptions<ReplaceOptions>): Promise<UpdateResult<TSchema>>
  deleteOne(filter?: Filter<TSchema>, options?: ArgonOptions<DeleteOptions>): Promise<DeleteResult>
  deleteMany(filter?: Filter<TSchema>, options?: ArgonOptions<DeleteOptions>): Promise<DeleteResult>

  findOne(): Promise<WithId<TSchema> | null>
  findOne(filter: Filter<TSchema>): Promise<WithId<TSchema> | null>
  findOne(filter: Filter<TSchema>, options: ArgonOptions<Omit<FindOneOptions, 'timeoutMode'>>): Promise<WithId<TSchema> | null>
  findOne<T = TSchema>(): Promise<T | null>
  findOne<T = TSchema>(filter: Filter<TSchema>): Promise<T | null>
  findOne<T = TSchema>(filter: Filter<TSchema>, options?: ArgonOptions<Omit<FindOneOptions, 'timeoutMode'>>): Promise<T | null>

  find(): FindCursor<WithId<TSchema>>
  find(filter: Filter<TSchema>, options?: ArgonOptions<FindOptions>): FindCursor<WithId<TSchema>>
  find<T extends Document>(filter: Filter<TSchema>, options?: ArgonOptions<FindOptions>): FindCursor<T>

  countDocuments(filter?: Filter<TSchema>, options?: ArgonOptions<CountDocumentsOptions>): Promise<number>
  estimatedDocumentCount(options?: ArgonOptions<EstimatedDocumentCountOptions>): Promise<number>

  distinct<Key extends keyof WithId<TSchema>>(key: Key, filter?: Filter<TSchema>, options?: ArgonOptions<DistinctOptions>): Promise<Array<Flatten<WithId<TSchema>[Key]>>>
  distinct(key: string, filter?: Filter<TSchema>, options?: ArgonOptions<DistinctOptions>): Promise<any[]>

  findOneAndUpdate(
    filter: Filter<TSchema>,
    update: UpdateFilter<TSchema> | Document[],
    options: ArgonOptions<FindOneAndUpdateOptions> & { includeResultMetadata: true },
  ): Promise<ModifyResult<TSchema>>
  findOneAndUpdate(
    filter: Filter<TSchema>,
    update: UpdateFilter<TSchema> | Document[],
    options: ArgonOptions<FindOneAndUpdateOptions> & { includeResultMetadata: false },
  ): Promise<WithId<TSchema> | null>
  findOneAndUpdate(filter: Filter<TSchema>, update: UpdateFilter<TSchema> | Document[], options: ArgonOptions<FindOneAndUpdateOptions>): Promise<WithId<TSchema> | null>
  findOneAndUpdate(filter: Filter<TSchema>, update: UpdateFilter<TSchema> | Document[]): Promise<WithId<TSchema> | null>

  findOneAndReplace(
    filter: Filter<TSchema>,
    replacement: WithoutId<TSchema>,
    options: ArgonOptions<FindOneAndReplaceOptions> & { includeResultMetadata: true },
  ): Promise<ModifyResult<TSchema>>
  findOneAndReplace(
    filter: Filter<TSchema>,
    replacement: WithoutId<TSchema>,
    options: ArgonOptions<FindOneAndReplaceOptions> & { includeResultMetadata: false },
  ): Promise<WithId<TSchema> | null>
  findOneAndReplace(filter: Filter<TSchema>, replacement: WithoutId<TSchema>, options: ArgonOptions<FindOneAndReplaceOptions>): Promise<WithId<TSchema> | null>
  findOneAndReplace(filter: Filter<TSchema>, replacement: WithoutId<TSchema>): Promise<WithId<TSchema> | null>

  findOneAndDelete(filter: Filter<TSchema>, options: ArgonOptions<FindOneAndDeleteOptions> & { includeResultMetadata: true }): Promise<ModifyResult<TSchema>>
  findOneAndDelete(filter: Filter<TSchema>, options: ArgonOptions<FindOneAndDeleteOptions> & { includeResultMetadata: false }): Promise<WithId<TSchema> | null>
  findOneAndDelete(filter: Filter<TSchema>, options: ArgonOptions<FindOneAndDeleteOptions>): Promise<WithId<TSchema> | null>
  findOneAndDelete(filter: Filter<TSchema>): Promise<WithId<TSchema> | null>

  aggregate<T extends Document = Document>(pipeline?: Document[], options?: ArgonOptions<AggregateOptions>): AggregationCursor<T>

  /** Returns the index name. */
  createIndex(indexSpec: IndexSpecification, options?: CreateIndexesOptions): Promise<string>
  dropIndex(indexName: string): Promise<Document>
  listIndexes(): ListIndexesCursor
  indexes(): Promise<IndexDescriptionInfo[]>
  /** Drops the collection on this branch only. */
  drop(): Promise<boolean>
  /** Every version of one document in this branch's history, newest first; page with `before`. */
  history(id: unknown, options?: { limit?: number; before?: number }): Promise<HistoryEntry<TSchema>[]>
}

// ---------------------------------------------------------------------------------------
// Cursors

/** Lazy cursor: nothing runs until the first `next()` / `toArray()` / `for await`. */
declare abstract class ArgonCursor<TSchema = any> implements AsyncIterable<TSchema> {
  /** Documents fetched per native call. Only before iteration starts. */
  batchSize(value: number): this
  /** Maps each document; returns this cursor retyped. */
  map<T>(transform: (doc: TSchema) => T): ArgonCursor<T>
  hasNext(): Promise<boolean>
  next(): Promise<TSchema | null>
  tryNext(): Promise<TSchema | null>
  toArray(): Promise<TSchema[]>
  /** Stops early when `iterator` returns (or resolves to) `false`. */
  forEach(iterator: (doc: TSchema) => boolean | void | Promise<boolean | void>): Promise<void>
  close(): Promise<void>
  readonly closed: boolean
  [Symbol.asyncIterator](): AsyncGenerator<TSchema, void, void>
}

export declare class FindCursor<TSchema = any> extends ArgonCursor<TSchema> {
  private constructor()
  map<T>(transform: (doc: TSchema) => T): FindCursor<T>
  sort(sort: Sort, direction?: SortDirection): this
  skip(value: number): this
  limit(value: number): this
  /** Sets a projection; retype the result with the type argument, as with the driver. */
  project<T extends Document = Document>(value: Document): FindCursor<T>
  /** The collation the filter and sort use, on every level of the view. */
  collation(value: CollationOptions): this
  /** An index of the collection (name or key pattern) for the head parts of the read. */
  hint(value: string | Document): this
  comment(value: unknown): this
  /** The server's time limit for each query of the read; exceeded: code 50 (MaxTimeMSExpired). */
  maxTimeMS(value: number): this
}

export declare class AggregationCursor<TSchema = any> extends ArgonCursor<TSchema> {
  private constructor()
  map<T>(transform: (doc: TSchema) => T): AggregationCursor<T>
}

// ---------------------------------------------------------------------------------------
// Errors

/** Stable `ArgonError` codes; see docs/errors.md. */
export type ErrorCode =
  | 'INVALID_URI'
  | 'SERVER_UNREACHABLE'
  | 'BRANCH_NOT_FOUND'
  | 'BRANCH_EXISTS'
  | 'INVALID_BRANCH_NAME'
  | 'INVALID_ARGUMENT'
  | 'RESERVED_NAME'
  | 'DOCUMENT_TOO_LARGE'
  | 'BRANCH_PROTECTED'
  | 'BRANCH_HAS_CHILDREN'
  | 'READ_ONLY'
  | 'LSN_OUT_OF_RANGE'
  | 'TAG_NOT_FOUND'
  | 'TAG_EXISTS'
  | 'PROJECT_MISMATCH'
  | 'TRANSACTIONS_REQUIRED'
  | 'FORMAT_VERSION'
  | 'CLIENT_CLOSED'
  | 'CAPTURE_BEHIND'
  | 'INTERNAL'
  | 'CIRCUIT_OPEN'
  | 'INVALID_TRANSACTION'

export declare const ErrorCodes: { readonly [K in ErrorCode]: K }

/** An argondb error with a stable string `code`. */
export declare class ArgonError extends Error {
  constructor(code: ErrorCode, message: string)
  name: 'ArgonError'
  code: ErrorCode
  /** The driver's error labels, e.g. `TransientTransactionError`. */
  errorLabels: string[]
  hasErrorLabel(label: string): boolean
}

/**
 * An error the MongoDB server returned (e.g. a duplicate key), shaped like the driver's
 * `MongoServerError`. When `mongodb` is installed argondb throws the driver's own
 * `MongoServerError` instead, so check with `instanceof MongoServerError` (or `err.code`).
 */
export declare class ArgonServerError extends Error {
  constructor(info: { errmsg: string; code: number; codeName?: string; keyValue?: Document; keyPattern?: Document })
  name: 'MongoServerError'
  /** The server's numeric error code, e.g. 11000. */
  code: number
  codeName?: string
  errmsg: string
  keyValue?: Document
  keyPattern?: Document
}

export interface ArgonWriteError {
  /** Index of the failed document in the `insertMany` input. */
  index: number
  code: number
  errmsg: string
  keyValue?: Document
}

/**
 * A partial `insertMany` failure, shaped like the driver's `MongoBulkWriteError` (whose
 * prototype it takes when `mongodb` is installed).
 */
export declare class ArgonBulkWriteError extends Error {
  constructor(
    first: { code: number; codeName?: string; errmsg: string; keyValue?: Document },
    writeErrors: ArgonWriteError[],
    result: InsertManyResult<Document>,
  )
  name: 'MongoBulkWriteError'
  code: number
  codeName?: string
  writeErrors: ArgonWriteError[]
  result: InsertManyResult<Document>
  insertedCount: number
  insertedIds: { [key: number]: any }
  keyValue?: Document
}
