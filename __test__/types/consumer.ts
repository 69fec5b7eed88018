/**
 * A strict TypeScript consumer of argondb's hand-written `index.d.ts`. Never run: it is
 * type-checked by `__test__/types.test.js` (`tsc -p __test__/types`). Every
 * `// @ts-expect-error` line must really be an error, or tsc fails with "Unused
 * '@ts-expect-error' directive" — so the negative cases are tested as well.
 */
import * as BSON from 'bson'
import { ObjectId } from 'bson'
import type { Document, InsertManyResult, InsertOneResult, ModifyResult, UpdateResult, DeleteResult, WithId } from 'mongodb'
import {
  Argon,
  ArgonBulkWriteError,
  ArgonError,
  ArgonServerError,
  AggregationCursor,
  Branch,
  Collection,
  ErrorCodes,
  FindCursor,
  type BranchInfo,
  type ConnectOptions,
  type ErrorCode,
  type Alert,
  type BreakerState,
  type Health,
  type MetricsJson,
} from 'argondb'

interface User {
  _id?: ObjectId
  name: string
  age: number
  tags: string[]
  address?: { city: string }
}

/** Compile-time equality check. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
function assertType<T extends true>(_: T): void {}

async function main(): Promise<void> {
  const options: ConnectOptions = { database: 'app', serverSelectionTimeoutMs: 2000, appName: 'types', maxTransactionRetries: 5, metadataCacheMs: 500, metadataCacheSize: 64, bson: BSON }
  const argon: Argon = await Argon.connect('mongodb://localhost:27017', options)
  // @ts-expect-error: `database` is required
  await Argon.connect('mongodb://localhost:27017', {})
  // @ts-expect-error: unknown connect option
  await Argon.connect('mongodb://localhost:27017', { database: 'app', poolSize: 3 })
  // @ts-expect-error: the constructor is private; use Argon.connect
  new Argon()

  const tx: boolean = argon.transactions
  void tx

  // --- branches -------------------------------------------------------------------------
  const main: Branch = argon.branch('main')
  const feature: Branch = await argon.createBranch('feature-x', { from: 'main' })
  await argon.createBranch('feature-y')
  // @ts-expect-error: `from` is a branch name
  await argon.createBranch('feature-z', { from: 1 })
  const info: BranchInfo = await feature.info()
  const parent: string | null = info.parent
  const lsns: number = info.forkLsn + info.headLsn
  const created: Date = info.createdAt
  const isProtected: boolean = info.protected
  void [parent, lsns, created, isProtected]
  // @ts-expect-error: parent may be null
  const parentName: string = info.parent
  void parentName
  const all: BranchInfo[] = await argon.listBranches()
  const names: string[] = all.map((b) => b.name)
  void names
  assertType<Equals<Awaited<ReturnType<Argon['branchInfo']>>, BranchInfo>>(true)
  await argon.protectBranch('feature-x')
  await argon.protectBranch('feature-x', false)
  await argon.deleteBranch('feature-y')
  const branchName: string = feature.name
  void branchName

  // --- a typed collection ---------------------------------------------------------------
  const users: Collection<User> = main.collection<User>('users')
  const untyped: Collection<Document> = feature.collection('things')
  void untyped

  const one: InsertOneResult<User> = await users.insertOne({ name: 'ada', age: 36, tags: ['admin'] })
  const oid: ObjectId = one.insertedId
  void oid
  // @ts-expect-error: `age` must be a number
  await users.insertOne({ name: 'bob', age: '41', tags: [] })
  // @ts-expect-error: `tags` is required
  await users.insertOne({ name: 'bob', age: 41 })
  const many: InsertManyResult<User> = await users.insertMany([{ name: 'bob', age: 41, tags: [] }, { name: 'cyd', age: 29, tags: ['x'] }], { ordered: false })
  const firstId: ObjectId = many.insertedIds[0]
  void [firstId, many.insertedCount]

  const found: WithId<User> | null = await users.findOne({ name: 'ada' })
  if (found) {
    const id: ObjectId = found._id
    const age: number = found.age
    void [id, age]
  }
  await users.findOne({ age: { $gte: 30 }, 'address.city': 'Paris' }, { projection: { name: 1 }, sort: { age: -1 } })
  // @ts-expect-error: `age` is a number, not a string
  await users.findOne({ age: 'old' })
  const named = await users.findOne<{ name: string }>({}, { projection: { _id: 0, name: 1 } })
  assertType<Equals<typeof named, { name: string } | null>>(true)

  // find + cursor
  const cursor: FindCursor<WithId<User>> = users.find({ tags: 'admin' }).sort({ age: -1 }).skip(1).limit(10).batchSize(100)
  const list: WithId<User>[] = await cursor.toArray()
  void list
  users.find().sort('age', 'desc')
  users.find().sort([['age', -1], ['name', 1]])
  const first: WithId<User> | null = await users.find({}).next()
  void first
  const more: boolean = await users.find().hasNext()
  void more
  const ages: number[] = await users.find().map((u) => u.age).toArray()
  void ages
  const projected: FindCursor<{ name: string }> = users.find().project<{ name: string }>({ _id: 0, name: 1 })
  void projected
  for await (const u of users.find({ age: { $lt: 50 } })) {
    const n: string = u.name
    void n
    // @ts-expect-error: no such field on User
    void u.email
  }
  await users.find().forEach((u) => {
    void u.tags
  })
  await users.find().forEach(async (u) => u.age < 40)
  await users.find().close()
  // @ts-expect-error: limit takes a number
  users.find().limit('10')

  // updates and deletes
  const upd: UpdateResult<User> = await users.updateOne({ name: 'ada' }, { $set: { age: 37 }, $push: { tags: 'owner' } }, { upsert: true })
  const modified: number = upd.modifiedCount
  const upsertedId: ObjectId | null = upd.upsertedId
  void [modified, upsertedId]
  await users.updateMany({ age: { $gt: 30 } }, { $inc: { age: 1 } })
  await users.updateOne({ name: 'ada' }, [{ $set: { age: { $add: ['$age', 1] } } }])
  // @ts-expect-error: $set of a number field to a string
  await users.updateOne({ name: 'ada' }, { $set: { age: 'x' } })
  // @ts-expect-error: $inc needs a number
  await users.updateMany({}, { $inc: { name: 'x' } })
  await users.replaceOne({ name: 'bob' }, { name: 'bob', age: 42, tags: [] })
  const del: DeleteResult = await users.deleteOne({ name: 'cyd' })
  const deleted: number = del.deletedCount
  void deleted
  await users.deleteMany({})
  await users.deleteMany()

  // a driver session is not an Argon session; the driver's query options type-check
  // @ts-expect-error: sessions come from argon.startSession()
  await users.updateOne({ name: 'ada' }, { $set: { age: 1 } }, { session: {} as import('mongodb').ClientSession })
  users.find({}, { collation: { locale: 'fr' }, hint: 'name_1', comment: 'c', maxTimeMS: 50, let: { v: 1 } }).collation({ locale: 'en', strength: 2 }).maxTimeMS(10)
  const kinds: string[] = await users.distinct('name', {}, { collation: { locale: 'en' }, maxTimeMS: 100 })
  void kinds
  // @ts-expect-error: collation needs a locale
  users.find({}, { collation: { strength: 2 } })

  // find-and-modify
  const after: WithId<User> | null = await users.findOneAndUpdate({ name: 'ada' }, { $set: { age: 40 } }, { returnDocument: 'after', upsert: true })
  const replaced: WithId<User> | null = await users.findOneAndReplace({ name: 'ada' }, { name: 'ada', age: 41, tags: [] })
  const removed: WithId<User> | null = await users.findOneAndDelete({ name: 'ada' })
  const withMeta: ModifyResult<User> = await users.findOneAndDelete({ name: 'bob' }, { includeResultMetadata: true })
  void [after, replaced, removed, withMeta.value]
  // @ts-expect-error: the result can be null
  const notNull: WithId<User> = await users.findOneAndUpdate({ name: 'ada' }, { $set: { age: 1 } })
  void notNull

  // counts, distinct, aggregate
  const count: number = await users.countDocuments({ age: { $gte: 18 } }, { limit: 100 })
  const estimate: number = await users.estimatedDocumentCount()
  void [count, estimate]
  const distinctAges: number[] = await users.distinct('age')
  const distinctTags: string[] = await users.distinct('tags', { age: { $gt: 1 } })
  const distinctAny: any[] = await users.distinct('address.city')
  void [distinctAges, distinctTags, distinctAny]
  const agg: AggregationCursor<{ _id: string; n: number }> = users.aggregate<{ _id: string; n: number }>([{ $group: { _id: '$name', n: { $sum: 1 } } }])
  const groups: { _id: string; n: number }[] = await agg.toArray()
  void groups
  const raw: Document[] = await users.aggregate([{ $match: { age: 1 } }]).toArray()
  void raw

  // indexes
  const idx: string = await users.createIndex({ name: 1, age: -1 }, { unique: true, name: 'by_name' })
  await users.createIndex('age')
  await users.createIndex(['name', 'age'])
  await users.createIndex([['name', 1], ['address.city', -1]])
  void idx
  await users.dropIndex('by_name')
  const idxList = await users.listIndexes().toArray()
  const keys: Document[] = idxList.map((i) => i.key)
  const indexNames: (string | undefined)[] = (await users.indexes()).map((i) => i.name)
  void [keys, indexNames]
  const dropped: boolean = await users.drop()
  void dropped

  // Transactions (issue 9).
  const session = argon.startSession()
  const moved: number = await session.withTransaction(async (s) => {
    await users.updateOne({ name: 'a' }, { $inc: { age: 1 } }, { session: s })
    const u = await users.findOne({ name: 'a' }, { session: s })
    return u ? u.age : 0
  })
  void moved
  session.startTransaction()
  await users.insertOne({ name: 'b', age: 2, tags: [] }, { session })
  await session.commitTransaction()
  await session.endSession()

  // Change streams (issue 9).
  const stream = users.watch([{ $match: { operationType: 'insert' } }], { fullDocument: 'updateLookup' })
  const ev = await stream.next()
  if (ev) {
    const age: number | undefined = ev.fullDocument?.age
    const lsnOfEvent: number = ev.lsn
    void [age, lsnOfEvent]
  }
  for await (const e of argon.watch([], { startAtLsn: 3 })) void e.operationType
  await stream.close()

  // bulkWrite (issue 9).
  const bw = await users.bulkWrite([
    { insertOne: { document: { name: 'z', age: 1, tags: [] } } },
    { updateOne: { filter: { name: 'z' }, update: { $inc: { age: 1 } }, upsert: true } },
    { deleteMany: { filter: { age: { $gt: 100 } } } },
  ], { ordered: false })
  const counts: number = bw.insertedCount + bw.matchedCount + bw.modifiedCount + bw.deletedCount + bw.upsertedCount
  void counts
  // @ts-expect-error: not a bulk operation
  void users.bulkWrite([{ frobnicate: {} }])

  // Operations (issue 8).
  const ops = await Argon.connect('mongodb://localhost', {
    database: 'ops',
    logger: console,
    logLevel: 'warn',
    monitor: { intervalMs: 30_000, thresholds: { errorRate: 0.1 }, rules: [{ name: 'errs', metric: 'errorRate', op: '>=', threshold: 0.5, forMs: 60_000, severity: 'critical' }] },
    retry: { strategy: 'exponential', maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 2_000, jitter: true },
    breaker: { failureThreshold: 5, openMs: 30_000, halfOpenSuccesses: 3 },
    slowOperationMs: 500,
  })
  // @ts-expect-error: not a retry strategy
  void Argon.connect('mongodb://localhost', { database: 'x', retry: { strategy: 'quadratic' } })
  // @ts-expect-error: not a severity
  void Argon.connect('mongodb://localhost', { database: 'x', monitor: { rules: [{ name: 'r', metric: 'errorRate', threshold: 1, severity: 'fatal' }] } })
  void Argon.connect('mongodb://localhost', { database: 'x', monitor: false })
  const text: string = await ops.metrics()
  const json: MetricsJson = await ops.metrics({ format: 'json' })
  const p99: number = json.operations['insertOne'].p99Ms
  const h: Health = await ops.health()
  const st: 'healthy' | 'degraded' | 'unhealthy' = h.status
  const br: BreakerState = h.checks.breaker.state
  const active: Alert[] = ops.alerts()
  const hist: Alert[] = ops.alerts({ history: true })
  ops.on('alert', (a) => {
    const sev: 'info' | 'warning' | 'error' | 'critical' = a.severity
    void sev
  })
  ops.on('breaker', (s) => {
    const ok: 'closed' | 'open' | 'half-open' = s
    void ok
  })
  ops.resetMetrics()
  void [text, p99, st, br, active, hist, ops.live().status, (await ops.ready()).status]
  await ops.close({ timeoutMs: 10_000 })

  await argon.close()
}

// --- errors ------------------------------------------------------------------------------
function describe(e: unknown): string {
  if (e instanceof ArgonError) {
    const code: ErrorCode = e.code
    if (e.code === ErrorCodes.BRANCH_NOT_FOUND) return 'no such branch'
    // @ts-expect-error: not an ErrorCode
    if (e.code === 'NOT_A_CODE') return 'never'
    return code
  }
  if (e instanceof ArgonBulkWriteError) return `${e.writeErrors.length} failed, ${e.insertedCount} inserted, first at ${e.writeErrors[0].index}`
  if (e instanceof ArgonServerError) {
    const n: number = e.code
    return `${n} ${e.codeName ?? ''} ${e.errmsg}`
  }
  return String(e)
}
const code: 'BRANCH_EXISTS' = ErrorCodes.BRANCH_EXISTS
// @ts-expect-error: ErrorCodes is read-only
ErrorCodes.INTERNAL = 'INTERNAL'
// @ts-expect-error: unknown code
void ErrorCodes.NOPE
const err = new ArgonError('BRANCH_EXISTS', 'exists')
// @ts-expect-error: codes are a closed union
void new ArgonError('WHATEVER', 'x')

void [main, describe, code, err]

// Time travel
async function timeTravel(argon: Argon): Promise<void> {
  const main = argon.branch('main')
  const past = main.at(1842)
  const pro: WithId<User>[] = await past.collection<User>('users').find({ plan: 'pro' }).sort({ createdAt: -1 }).limit(20).toArray()
  void pro
  main.at(new Date())
  main.at('v1-release')
  // @ts-expect-error: a point is a number, a Date or a tag name
  main.at({ lsn: 1 })
  await argon.createBranch('before', { from: 'main', at: new Date(Date.now() - 3_600_000) })
  const info = await argon.timeTravelInfo('main')
  const n: number = info.earliestLsn + info.latestLsn + info.entries
  void n
  const cap: 'active' | 'off' | 'unavailable' = info.capture
  void cap
  const enabled: string[] = (await argon.enableCapture()).collections
  void enabled
  const g = await argon.gc({ dryRun: true })
  const freed: number = g.recordsRemoved + g.bytesFreed + g.oldestRetainedLsn
  void freed
  const kind: 'branch' | 'tag' | 'backup' | undefined = g.pinnedBy[0]?.kind
  void kind
  // @ts-expect-error: dryRun is a boolean
  await argon.gc({ dryRun: 'yes' })
  await argon.gc({ onProgress: (p) => void (p.done / p.total + p.phase.length) })
  // @ts-expect-error: onProgress is a function
  await argon.gc({ onProgress: true })
  const usage = await argon.storage()
  const owned: number = usage.totals.documents + usage.collections[0].walRecords + usage.totals.gcBytes
  void owned
  const oldest: number | null = usage.collections[0].oldestLsn
  void oldest
  const ownerless: string | null = usage.collections[0].branch
  void ownerless
  const checked = await argon.verify({ branch: 'main', onProgress: ({ done }) => void done })
  void checked.problemCount
  await argon.resetBranch('feature-x', { to: 'parent', onProgress: ({ phase }) => void phase })
  await Argon.connect('mongodb://x', { database: 'd', gcIntervalMs: 60_000 })
  // @ts-expect-error: capture is 'auto' or 'off'
  await Argon.connect('mongodb://x', { database: 'd', capture: 'sometimes' })
  const h = await main.collection<User>('users').history('id', { limit: 10 })
  const op: 'insert' | 'update' | 'replace' | 'delete' | 'adopted' = h[0].op
  void op
  for await (const change of argon.diff('main', { branch: 'main', at: 5 }, { detailed: true })) {
    const kind: 'added' | 'changed' | 'removed' = change.change
    void kind
  }
  const s = await argon.diff('main', 'feature-x')
  const total: number = s.added + s.changed + s.removed
  void total
  // @ts-expect-error: the summary has no documents; use { detailed: true }
  void s.documents
  const preview = await argon.restorePreview('main', { to: 1500 })
  void preview.collections
  const backup: string | null = await argon.resetBranch('main', { to: 1500 })
  void backup
  await argon.resetBranch('feature-x', { to: 'parent', backup: false })
  const lsn: number = await argon.tag('v1', { branch: 'main', at: 10 })
  void lsn
}
void timeTravel

async function endpoint(argon: import('argondb').Argon) {
  const ep = await argon.serve({ port: 0 })
  const uri: string = ep.uriFor('pr-42', { at: 1500 })
  const db: string = ep.dbName('pr-42')
  const names: string[] = (await argon.branch('main').listCollections()).map((c) => c.name)
  void [uri, db, names, ep.uri, ep.port]
  // @ts-expect-error: the port is a number
  await argon.serve({ port: '27100' })
  await ep.close()
}
void endpoint

async function dashboard(argon: import('argondb').Argon) {
  const { argonDashboard, startDashboard } = await import('argondb/dashboard')
  const handler = argonDashboard(argon, { auth: (req) => req.headers['x-ops-key'] === 'k', readOnly: true, slowMs: 50 })
  void handler
  // @ts-expect-error: readOnly is a boolean
  argonDashboard(argon, { readOnly: 'no' })
  const d = await startDashboard(argon, { port: 0, host: '127.0.0.1' })
  const url: string = d.url
  void url
  await d.close()
  const t = await argon.timeline('main', { buckets: 30 })
  const first: number | null = t.points[0].firstLsn
  const when: Date = t.points[0].t
  void [first, when, t.bucketMs]
}
void dashboard
