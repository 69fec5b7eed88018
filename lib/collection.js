'use strict'
/**
 * `Collection<T>`: the official driver's collection API over one branch (or a read-only
 * past view). Arguments travel to Rust as BSON; results come back in the driver's shapes.
 */
const { FindCursor, AggregationCursor, normalizeSort, normalizeIndexSpec } = require('./cursor')
const { takeSession } = require('./session')
const { call, ArgonError, ArgonBulkWriteError, serverError, DriverBulkWriteError } = require('./errors')

class Collection {
  /** Made by `Branch.collection()`: `past` when the branch handle is a past view. */
  constructor(argon, native, branchName, name, past) {
    this._argon = argon
    this._codec = argon._codec
    this._native = native
    this.branchName = branchName
    this.collectionName = name
    this._past = past
  }

  _call(p) {
    return this._argon._trackCall(call(p, this._codec.EJSON))
  }

  _ensureId(doc) {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new ArgonError('INVALID_ARGUMENT', 'a document must be an object')
    }
    if (doc._id === undefined) doc._id = new this._codec.ObjectId()
    return doc
  }

  /** `[session in a transaction | null, options without session]`. */
  _session(options) {
    const o = { ...(options || {}) }
    return [takeSession(o), o]
  }

  /** Refuses, inside a transaction, a method transactions do not support yet. */
  _noTxn(name, options) {
    const [s, o] = this._session(options)
    if (s) throw new ArgonError('INVALID_TRANSACTION', `${name} inside a transaction is not supported yet`)
    return o
  }

  async _insertTxn(session, docs, op) {
    const id = await session._txn()
    await this._call(this._native.insertManyTxn(id, this._codec.encodeMany(docs), op))
  }

  async insertOne(doc, options = {}) {
    const [s] = this._session(options)
    this._ensureId(doc)
    if (s) {
      await this._insertTxn(s, [doc], 'insertOne')
      return { acknowledged: true, insertedId: doc._id }
    }
    const r = await this._insert([doc], true, 'insertOne')
    if (r.errors.length) throw this._writeError(r.errors[0])
    return { acknowledged: true, insertedId: doc._id }
  }

  async insertMany(docs, options = {}) {
    if (!Array.isArray(docs)) throw new ArgonError('INVALID_ARGUMENT', 'insertMany needs an array of documents')
    if (docs.length === 0) throw new ArgonError('INVALID_ARGUMENT', 'Invalid BulkOperation, Batch cannot be empty')
    docs.forEach((d) => this._ensureId(d))
    const [session, opts] = this._session(options)
    options = opts
    if (session) {
      await this._insertTxn(session, docs, 'insertMany')
      return { acknowledged: true, insertedCount: docs.length, insertedIds: Object.fromEntries(docs.map((d, i) => [i, d._id])) }
    }
    const ordered = options.ordered !== false
    const r = await this._insert(docs, ordered)
    const insertedIds = {}
    for (const i of r.inserted) insertedIds[i] = docs[i]._id
    const result = { acknowledged: true, insertedCount: r.inserted.length, insertedIds }
    if (r.errors.length) {
      // The driver's error carries a whole BulkWriteResult.
      throw bulkWriteError(r.errors, { ...result, matchedCount: 0, modifiedCount: 0, deletedCount: 0, upsertedCount: 0, upsertedIds: {} })
    }
    return result
  }

  async _insert(docs, ordered, op = 'insertMany') {
    const buf = await this._call(this._native.insertMany(this._codec.encodeMany(docs), ordered, op))
    const r = this._codec.decode(buf)
    return { inserted: r.inserted.map(Number), errors: r.errors.map((e) => ({ ...e, index: Number(e.index) })) }
  }

  /**
   * The driver's `bulkWrite`: `insertOne`, `updateOne`, `updateMany`, `replaceOne`,
   * `deleteOne`, `deleteMany`, as one logical write (one LSN). `ordered` (default true)
   * stops at the first failing operation, the ones before it applied; unordered applies
   * every operation that does not fail. Failures throw the driver's `MongoBulkWriteError`
   * shape, with the partial result and `writeErrors`.
   */
  async bulkWrite(operations, options = {}) {
    options = this._noTxn('bulkWrite', options)
    if (!Array.isArray(operations)) throw new ArgonError('INVALID_ARGUMENT', 'bulkWrite needs an array of operations')
    if (operations.length === 0) throw new ArgonError('INVALID_ARGUMENT', 'Invalid BulkOperation, Batch cannot be empty')
    if (options === null || typeof options !== 'object') throw new ArgonError('INVALID_ARGUMENT', 'bulkWrite options must be an object')
    if (options.bypassDocumentValidation) {
      throw new ArgonError('INVALID_ARGUMENT', 'bypassDocumentValidation: true is not supported by argondb yet (it would skip the validation of your collection)')
    }
    const ordered = options.ordered !== false
    const ops = operations.map((o, i) => {
      const names = o && typeof o === 'object' ? Object.keys(o) : []
      if (names.length !== 1) throw new ArgonError('INVALID_ARGUMENT', `bulkWrite operation ${i} must have exactly one of insertOne, updateOne, updateMany, replaceOne, deleteOne, deleteMany`)
      const name = names[0]
      const spec = o[name] || {}
      // Per operation: collation and hint; for the whole bulk: let and comment.
      const common = { collation: spec.collation, hint: spec.hint, let: options.let, comment: options.comment }
      const opts = (extra) => cleanOptions({ upsert: spec.upsert, arrayFilters: spec.arrayFilters, sort: spec.sort, ...common, ...extra })
      switch (name) {
        case 'insertOne':
          return { op: name, document: this._ensureId(spec.document) }
        case 'updateOne':
        case 'updateMany':
          if (spec.update === undefined) throw new ArgonError('INVALID_ARGUMENT', `bulkWrite operation ${i} (${name}) needs an update`)
          return { op: name, filter: spec.filter ?? {}, change: spec.update, options: opts() }
        case 'replaceOne':
          if (spec.replacement === undefined) throw new ArgonError('INVALID_ARGUMENT', `bulkWrite operation ${i} (replaceOne) needs a replacement`)
          return { op: name, filter: spec.filter ?? {}, change: spec.replacement, options: opts({ arrayFilters: undefined }) }
        case 'deleteOne':
        case 'deleteMany':
          return { op: name, filter: spec.filter ?? {}, options: cleanOptions(common) }
        default:
          throw new ArgonError('INVALID_ARGUMENT', `bulkWrite operation ${i}: unknown operation ${name}`)
      }
    })
    const r = this._codec.decode(await this._call(this._native.bulkWrite(this._codec.encode({ v: ops }), ordered)))
    const result = { ok: 1, insertedCount: 0, matchedCount: 0, modifiedCount: 0, deletedCount: 0, upsertedCount: 0, insertedIds: {}, upsertedIds: {} }
    for (const a of r.applied) {
      const i = Number(a.i)
      if (a.inserted) {
        result.insertedCount += 1
        result.insertedIds[i] = r.ids[i]
        continue
      }
      // Deletes count in deletedCount only (the engine also counts what they matched).
      if (ops[i].op !== 'deleteOne' && ops[i].op !== 'deleteMany') result.matchedCount += Number(a.matched)
      result.modifiedCount += Number(a.modified)
      result.deletedCount += Number(a.deleted)
      if (a.upsertedId !== null && a.upsertedId !== undefined) {
        result.upsertedCount += 1
        result.upsertedIds[i] = a.upsertedId
      }
    }
    if (r.errors.length) {
      if (ordered) {
        // As the driver reports it: an ordered bulk's insertedIds name every insert it
        // attempted, the failing one included (insertedCount counts only those inserted).
        const stop = Number(r.errors[0].index)
        for (let i = 0; i <= stop; i++) if (ops[i].op === 'insertOne') result.insertedIds[i] = r.ids[i]
      }
      throw bulkWriteError(r.errors, result)
    }
    return result
  }

  _writeError(e) {
    if (e.code) return serverError({ code: e.code, codeName: e.code === 11000 ? 'DuplicateKey' : undefined, errmsg: e.errmsg, keyValue: e.keyValue || undefined })
    return new ArgonError(e.argonCode, e.errmsg)
  }

  async _modify(op, filter, change, options) {
    const [session, o] = this._session(options)
    const txn = session ? await session._txn() : null
    const buf = await this._call(this._native.modify(op, this._codec.encode(filter), change === undefined ? null : this._codec.encodeValue(change), this._codec.encode(cleanOptions(o)), txn))
    return this._codec.decode(buf)
  }

  async updateOne(filter, update, options = {}) {
    return updateResult(await this._modify('updateOne', filter, update, options))
  }

  async updateMany(filter, update, options = {}) {
    return updateResult(await this._modify('updateMany', filter, update, options))
  }

  async replaceOne(filter, replacement, options = {}) {
    return updateResult(await this._modify('replaceOne', filter, replacement, options))
  }

  async deleteOne(filter = {}, options = {}) {
    const r = await this._modify('deleteOne', filter, undefined, options)
    return { acknowledged: true, deletedCount: Number(r.deletedCount) }
  }

  async deleteMany(filter = {}, options = {}) {
    const r = await this._modify('deleteMany', filter, undefined, options)
    return { acknowledged: true, deletedCount: Number(r.deletedCount) }
  }

  async findOneAndUpdate(filter, update, options = {}) {
    return findAndResult(await this._modify('findOneAndUpdate', filter, update, options), options)
  }

  async findOneAndReplace(filter, replacement, options = {}) {
    return findAndResult(await this._modify('findOneAndReplace', filter, replacement, options), options)
  }

  async findOneAndDelete(filter, options = {}) {
    return findAndResult(await this._modify('findOneAndDelete', filter, undefined, options), options, true)
  }

  find(filter = {}, options = {}) {
    return this._find(filter, options, 'find')
  }

  _find(filter, options, op) {
    const [session, o] = this._session(options)
    const opts = cleanOptions(o)
    if (opts.sort !== undefined) opts.sort = normalizeSort(opts.sort)
    if (session) {
      // Inside a transaction: read in its session (its own writes included), all at once.
      const native = {
        find: async (f, optsBuf) => {
          const buf = await this._call(this._native.findTxn(await session._txn(), f, optsBuf))
          return prefetched(this._codec, this._codec.decode(buf).v)
        },
      }
      return new FindCursor(this._codec, native, filter, opts, op)
    }
    return new FindCursor(this._codec, this._native, filter, opts, op)
  }

  async findOne(filter = {}, options = {}) {
    const c = this._find(filter, { ...options, limit: 1 }, 'findOne')
    const d = await c.next()
    await c.close()
    return d
  }

  /**
   * A change stream of this collection on this branch (its own writes), read from the WAL
   * in commit order: `{ _id: resumeToken, operationType, ns, documentKey, fullDocument?,
   * updateDescription?, clusterTime, wallTime, lsn, branch }`. Options: `resumeAfter` /
   * `startAfter` (a token), `startAtLsn`, `fullDocument` ('default' | 'updateLookup' |
   * 'whenAvailable' | 'required'), `batchSize`, `maxAwaitTimeMS`. The pipeline may hold
   * `$match` stages.
   */
  watch(pipeline = [], options = {}) {
    if (this._past) throw new ArgonError('INVALID_ARGUMENT', 'a past view has no changes to watch')
    options = this._noTxn('watch', options)
    const { ArgonChangeStream } = require('./changestream')
    return new ArgonChangeStream(this._argon, { branch: this.branchName, collection: this.collectionName }, pipeline, options)
  }

  aggregate(pipeline = [], options = {}) {
    const [session, o] = this._session(options)
    if (!Array.isArray(pipeline)) throw new ArgonError('INVALID_ARGUMENT', 'aggregate needs an array pipeline')
    if (session) {
      // Inside a transaction: run in its session (its own writes included), all at once.
      const native = {
        aggregate: async (p, optsBuf) => {
          const buf = await this._call(this._native.aggregateTxn(await session._txn(), p, optsBuf))
          return prefetched(this._codec, this._codec.decode(buf).v)
        },
      }
      return new AggregationCursor(this._codec, native, pipeline, cleanOptions(o))
    }
    return new AggregationCursor(this._codec, this._native, pipeline, cleanOptions(o))
  }

  async countDocuments(filter = {}, options = {}) {
    const [session, o] = this._session(options)
    if (session) {
      const { skip, limit, collation, hint, comment, maxTimeMS } = o
      const opts = cleanOptions({ skip, limit, collation, hint, comment, maxTimeMS, let: o.let })
      const buf = await this._call(this._native.findTxn(await session._txn(), this._codec.encode(filter), this._codec.encode(opts)))
      return this._codec.decode(buf).v.length
    }
    return this._call(this._native.countDocuments(this._codec.encode(filter), this._codec.encode(cleanOptions(o))))
  }

  async estimatedDocumentCount() {
    return this._call(this._native.estimatedDocumentCount())
  }

  /** Options: collation, hint, comment, maxTimeMS (MongoDB's distinct takes no others), session. */
  async distinct(key, filter = {}, options = {}) {
    const [session, o] = this._session(options)
    const opts = cleanOptions(o)
    for (const k of Object.keys(opts)) {
      if (!DISTINCT_OPTIONS.has(k)) throw new ArgonError('INVALID_ARGUMENT', `option \`${k}\` is not an option of distinct`)
    }
    const txn = session ? await session._txn() : null
    const buf = await this._call(this._native.distinct(String(key), this._codec.encode(filter), this._codec.encode(opts), txn))
    return this._codec.decode(buf).v
  }

  async createIndex(spec, options = {}) {
    options = this._noTxn('createIndex', options)
    const keys = normalizeIndexSpec(spec)
    return this._call(this._native.createIndex(this._codec.encode(keys), this._codec.encode(cleanOptions(options))))
  }

  async dropIndex(name) {
    await this._call(this._native.dropIndex(String(name)))
    return { ok: 1 }
  }

  listIndexes() {
    const load = async () => this._codec.decode(await this._call(this._native.listIndexes())).v
    return { toArray: load }
  }

  async indexes() {
    return this.listIndexes().toArray()
  }

  /**
   * Every version of one document as this branch's history has it, newest first:
   * `[{ lsn, time, op, document | null }]`. Page with `{ limit, before: lsn }`.
   */
  async history(id, options = {}) {
    const limit = options.limit ?? 100
    const before = options.before === undefined ? null : Number(options.before)
    const buf = await this._call(this._native.history(this._codec.encode({ id }), limit, before))
    return this._codec.decode(buf).v.map((h) => ({ lsn: Number(h.lsn), time: h.time, op: h.op, document: h.document ?? null }))
  }

  async drop() {
    return this._call(this._native.drop())
  }
}

/** The options distinct takes (as the driver's DistinctOptions), besides `session`. */
const DISTINCT_OPTIONS = new Set(['collation', 'hint', 'comment', 'maxTimeMS', 'readPreference', 'readConcern'])

/** A native-cursor stand-in over documents read at once (inside a transaction). */
function prefetched(codec, docs) {
  return { takePrefetched: () => codec.encodeMany(docs), exhausted: true, nextBatch: async () => Buffer.alloc(0), close: async () => {} }
}

/**
 * The driver's MongoBulkWriteError (its own class when installed) for the per-item errors
 * `{ index, code, errmsg, keyValue }` of a batch write and its partial result.
 */
function bulkWriteError(errors, result) {
  const writeErrors = errors.map((e) => ({ index: Number(e.index), code: e.code, errmsg: e.errmsg, keyValue: e.keyValue || undefined }))
  const first = errors[0]
  const err = new ArgonBulkWriteError({ code: first.code, codeName: first.code === 11000 ? 'DuplicateKey' : undefined, errmsg: first.errmsg, keyValue: first.keyValue || undefined }, writeErrors, result)
  if (DriverBulkWriteError) Object.setPrototypeOf(err, DriverBulkWriteError.prototype)
  return err
}

/** Drops undefined options and normalises `sort` (object, `[['a', -1]]`, `'a'`, Map) once, for every method. */
function cleanOptions(o) {
  const out = {}
  for (const [k, v] of Object.entries(o || {})) if (v !== undefined) out[k] = v
  if (out.sort !== undefined) out.sort = normalizeSort(out.sort)
  return out
}

function updateResult(r) {
  const upserted = r.upsertedId !== null && r.upsertedId !== undefined
  return {
    acknowledged: true,
    matchedCount: Number(r.matchedCount),
    modifiedCount: Number(r.modifiedCount),
    upsertedCount: upserted ? 1 : 0,
    upsertedId: upserted ? r.upsertedId : null,
  }
}

function findAndResult(r, options, isDelete = false) {
  const value = r.value === undefined ? null : r.value
  if (options.includeResultMetadata) {
    // As the server reports it: a delete's lastErrorObject is just `{ n }`.
    if (isDelete) return { value, ok: 1, lastErrorObject: { n: Number(r.deletedCount) } }
    const lastErrorObject = { n: Number(r.matchedCount || (r.upsertedId != null ? 1 : 0)), updatedExisting: Number(r.matchedCount) > 0 }
    if (r.upsertedId != null) lastErrorObject.upserted = r.upsertedId
    return { value, ok: 1, lastErrorObject }
  }
  return value
}

module.exports = { Collection }
