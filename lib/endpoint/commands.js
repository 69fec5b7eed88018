'use strict'
/**
 * The endpoint's commands: each runs on the branch or past point the database name selects,
 * through Argon's collections, and answers with MongoDB's reply shape. Results of reads
 * travel as the BSON Argon returned (never re-typed through JavaScript numbers); command
 * arguments are decoded with exact BSON types (Int32, Double, Long kept).
 */
const { call } = require('../errors')
const { parseDbName, dbNameFor } = require('./names')
const auth = require('./auth')
const { fail } = require('./wire')

const MAX_BSON = 16 * 1024 * 1024
const WIRE_VERSION = 21 // MongoDB 7.0
const SERVER_VERSION = '7.0.0'

/** Argon's error codes as MongoDB error codes, so drivers throw their ordinary errors. */
const SERVER_CODES = {
  INVALID_ARGUMENT: [2, 'BadValue'],
  INVALID_BRANCH_NAME: [73, 'InvalidNamespace'],
  RESERVED_NAME: [73, 'InvalidNamespace'],
  SERVER_UNREACHABLE: [6, 'HostUnreachable'],
  CAPTURE_BEHIND: [262, 'ExceededTimeLimit'],
  // Not 20 (IllegalOperation): drivers read 20 on a retryable write as "this deployment
  // has no retryable writes". A past point is read-only as a view is.
  READ_ONLY: [166, 'CommandNotSupportedOnView'],
  BRANCH_PROTECTED: [13, 'Unauthorized'],
  BRANCH_NOT_FOUND: [26, 'NamespaceNotFound'],
  BRANCH_EXISTS: [48, 'NamespaceExists'],
  TAG_NOT_FOUND: [26, 'NamespaceNotFound'],
  LSN_OUT_OF_RANGE: [2, 'BadValue'],
  DOCUMENT_TOO_LARGE: [10334, 'BSONObjectTooLarge'],
  INVALID_TRANSACTION: [251, 'NoSuchTransaction'],
  TRANSACTIONS_REQUIRED: [115, 'CommandNotSupported'],
  CIRCUIT_OPEN: [6, 'HostUnreachable'],
  CLIENT_CLOSED: [91, 'ShutdownInProgress'],
}

/** A MongoDB error document for any error. */
function errorDoc(e) {
  if (typeof e.code === 'number') {
    const d = { ok: 0, errmsg: String(e.errmsg || e.message), code: e.code, codeName: e.codeName || codeNameOf(e.code) }
    if (e.keyValue) d.keyValue = e.keyValue
    if (e.keyPattern) d.keyPattern = e.keyPattern
    if (e.errorLabels && e.errorLabels.length) d.errorLabels = e.errorLabels
    return d
  }
  const [code, codeName] = SERVER_CODES[e.code] || [1, 'InternalError']
  const d = { ok: 0, errmsg: e.code ? `[${e.code}] ${e.message}` : String(e.message || e), code, codeName }
  if (e.errorLabels && e.errorLabels.length) d.errorLabels = e.errorLabels
  return d
}

function codeNameOf(code) {
  return { 2: 'BadValue', 11000: 'DuplicateKey', 26: 'NamespaceNotFound', 50: 'MaxTimeMSExpired', 59: 'CommandNotFound', 66: 'ImmutableField' }[code] || ''
}


const num = (v, dflt) => (v === undefined || v === null ? dflt : Number(typeof v === 'object' && 'valueOf' in v ? v.valueOf() : v))

/** Drops undefined fields. */
function clean(o) {
  const out = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out
}

// ----------------------------------------------------------------------------------------
// Raw BSON building: cursor replies embed documents exactly as Argon returned them.

function cstr(s) {
  return Buffer.from(s + '\0', 'utf8')
}

function rawArray(docs) {
  const parts = []
  docs.forEach((d, i) => parts.push(Buffer.from([0x03]), cstr(String(i)), d))
  return wrapDoc(parts)
}

function wrapDoc(parts) {
  const len = 4 + parts.reduce((n, p) => n + p.length, 0) + 1
  const head = Buffer.alloc(4)
  head.writeInt32LE(len, 0)
  return Buffer.concat([head, ...parts, Buffer.from([0])])
}

function int64Elem(name, v) {
  const b = Buffer.alloc(8)
  b.writeBigInt64LE(BigInt(v), 0)
  return [Buffer.from([0x12]), cstr(name), b]
}

function stringElem(name, s) {
  const str = Buffer.from(s, 'utf8')
  const len = Buffer.alloc(4)
  len.writeInt32LE(str.length + 1, 0)
  return [Buffer.from([0x02]), cstr(name), len, str, Buffer.from([0])]
}

function doubleElem(name, v) {
  const b = Buffer.alloc(8)
  b.writeDoubleLE(v, 0)
  return [Buffer.from([0x01]), cstr(name), b]
}

/** `{ cursor: { firstBatch | nextBatch: [...], id, ns }, ok: 1 }` as BSON bytes. */
function cursorReply(batchName, docs, id, ns) {
  const cursor = wrapDoc([Buffer.from([0x04]), cstr(batchName), rawArray(docs), ...int64Elem('id', id), ...stringElem('ns', ns)])
  return wrapDoc([Buffer.from([0x03]), cstr('cursor'), cursor, ...doubleElem('ok', 1)])
}

/** Splits concatenated BSON documents into their byte ranges. */
function splitDocs(buf) {
  const out = []
  let off = 0
  while (off + 4 <= buf.length) {
    const len = buf.readInt32LE(off)
    out.push(buf.subarray(off, off + len))
    off += len
  }
  return out
}

// ----------------------------------------------------------------------------------------

/**
 * Runs commands for one endpoint. `ctx`: `{ argon, project, cursors, sessions, host, port,
 * connectionId }`. Returns the reply as a JS object, or as BSON bytes (`Buffer`) for
 * cursor replies.
 */
class Commands {
  constructor(endpoint) {
    this.ep = endpoint
    this.argon = endpoint.argon
    this.codec = endpoint.argon._codec
    this.BSON = this.codec.BSON
    // Collection handles by database and name: making one is a native call.
    this.handles = new Map()
  }

  decode(bytes) {
    return this.BSON.deserialize(bytes, { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true })
  }

  /** Runs one command (`cmd` decoded, `$db` in it). */
  async run(cmd, conn) {
    const name = Object.keys(cmd)[0]
    if (name === undefined) throw fail(59, 'CommandNotFound', 'no command given')
    const handler = HANDLERS[name] || HANDLERS[name.toLowerCase()]
    if (!handler) throw fail(59, 'CommandNotFound', `no such command: '${name}'`)
    if (this.ep.users && !conn.user && !auth.OPEN_COMMANDS.has(name.toLowerCase())) {
      throw fail(13, 'Unauthorized', `command ${name} requires authentication`)
    }
    return handler.call(this, cmd, conn, name)
  }

  /** The branch view a database name selects: `{ branch, at, handle }`. */
  target(cmd) {
    const db = String(cmd.$db || '')
    const t = parseDbName(this.ep.project, db)
    if (!t) throw fail(26, 'NamespaceNotFound', `database '${db}' is not served here: use '${this.ep.project}' or '${this.ep.project}@<branch>[~<lsn|tag>]'`)
    const b = this.argon.branch(t.branch)
    return { ...t, db, handle: t.at === undefined ? b : b.at(t.at) }
  }

  collection(cmd, field) {
    const name = cmd[field]
    if (typeof name !== 'string' || !name) throw fail(73, 'InvalidNamespace', `collection name must be a non-empty string`)
    const key = `${cmd.$db}\u0000${name}`
    let h = this.handles.get(key)
    if (!h) {
      const t = this.target(cmd)
      h = { t, name, coll: t.handle.collection(name), ns: `${t.db}.${name}` }
      if (this.handles.size >= 10_000) this.handles.clear()
      this.handles.set(key, h)
    }
    return h
  }

  /** The transaction this command belongs to (from `lsid`, `txnNumber`, `autocommit: false`). */
  async txn(cmd) {
    if (cmd.autocommit === undefined || cmd.autocommit === true) return null
    if (!cmd.lsid || !cmd.lsid.id) throw fail(50768, 'NotARetryableWriteCommand', 'a transaction needs a session (lsid)')
    const key = sessionKey(cmd.lsid)
    const n = num(cmd.txnNumber, 0)
    let s = this.ep.sessions.get(key)
    if (cmd.startTransaction) {
      if (s && s.session.inTransaction) await s.session.abortTransaction().catch(() => {})
      if (!s) {
        s = { session: this.argon.startSession(), txnNumber: n }
        this.ep.sessions.set(key, s)
      }
      s.txnNumber = n
      s.session.startTransaction()
    }
    if (!s || s.txnNumber !== n || !s.session.inTransaction) {
      throw Object.assign(fail(251, 'NoSuchTransaction', `transaction ${n} is not in progress`), { errorLabels: ['TransientTransactionError'] })
    }
    return s.session._txn()
  }

  /**
   * The first batch of a native cursor. It stays open on the endpoint (a non-zero id) only
   * when more can come: not after a single batch, nor once a limit is reached.
   */
  async cursorFromNative(native, ns, batchSize, { single = false, limit = 0 } = {}) {
    const first = native.takePrefetched()
    const docs = first ? splitDocs(first) : []
    let id = 0n
    const done = native.exhausted || single || (limit > 0 && docs.length >= limit)
    if (done) {
      if (!native.exhausted) native.close().catch(() => {})
    } else {
      id = this.ep.cursors.add({ native, ns, batchSize, left: limit > 0 ? limit - docs.length : null })
    }
    return cursorReply('firstBatch', docs, id, ns)
  }

  /** A cursor reply over documents already read (inside a transaction). */
  allAtOnce(docs, ns) {
    return cursorReply('firstBatch', docs.map((d) => this.codec.encode(d)), 0n, ns)
  }
}

function sessionKey(lsid) {
  const id = lsid.id
  return Buffer.isBuffer(id) ? id.toString('hex') : id && id.buffer ? Buffer.from(id.buffer).toString('hex') : String(id)
}

/** The bytes of a BSON Binary (or Buffer) payload. */
function bytesOf(b) {
  if (!b) return Buffer.alloc(0)
  if (Buffer.isBuffer(b)) return b
  if (b.buffer instanceof Uint8Array) return Buffer.from(b.buffer.buffer, b.buffer.byteOffset, b.position ?? b.buffer.length)
  return Buffer.from(b)
}

function isReplacement(u) {
  return u && typeof u === 'object' && !Array.isArray(u) && !Object.keys(u).some((k) => k.startsWith('$'))
}

const HANDLERS = {
  async hello(cmd, conn, name) {
    const legacy = name.toLowerCase() === 'ismaster'
    const me = `${this.ep.host}:${this.ep.port}`
    const d = {
      helloOk: true,
      isWritablePrimary: true,
      topologyVersion: { processId: this.ep.processId, counter: this.BSON.Long.fromNumber(0) },
      setName: 'argon',
      setVersion: 1,
      hosts: [me],
      primary: me,
      me,
      secondary: false,
      maxBsonObjectSize: MAX_BSON,
      maxMessageSizeBytes: 48000000,
      maxWriteBatchSize: 100000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId: conn.id,
      minWireVersion: 0,
      maxWireVersion: WIRE_VERSION,
      readOnly: false,
      ok: 1,
    }
    if (legacy) {
      delete d.isWritablePrimary
      d.ismaster = true
    }
    if (this.ep.users && cmd.saslSupportedMechs !== undefined) d.saslSupportedMechs = [auth.MECHANISM]
    return d
  },
  async saslStart(cmd, conn) {
    if (!this.ep.users) throw fail(18, 'AuthenticationFailed', 'Authentication failed: this endpoint has no users (start it with users / --auth-file)')
    conn.sasl = new auth.Conversation(this.ep.users)
    conn.skipEmptyExchange = Boolean(cmd.options && cmd.options.skipEmptyExchange)
    const payload = conn.sasl.start(cmd.mechanism, bytesOf(cmd.payload))
    return { conversationId: 1, done: false, payload: new this.BSON.Binary(payload), ok: 1 }
  },
  async saslContinue(cmd, conn) {
    if (conn.pendingUser) {
      // The empty last exchange of a client that did not ask to skip it.
      conn.user = conn.pendingUser
      conn.pendingUser = null
      return { conversationId: 1, done: true, payload: new this.BSON.Binary(Buffer.alloc(0)), ok: 1 }
    }
    if (!conn.sasl) throw fail(17, 'ProtocolError', 'no SASL conversation in progress')
    const r = conn.sasl.finish(bytesOf(cmd.payload))
    conn.sasl = null
    if (conn.skipEmptyExchange) conn.user = r.user
    else conn.pendingUser = r.user
    return { conversationId: 1, done: conn.skipEmptyExchange, payload: new this.BSON.Binary(r.payload), ok: 1 }
  },
  async ping() {
    return { ok: 1 }
  },
  async buildinfo() {
    return { version: SERVER_VERSION, versionArray: [7, 0, 0, 0], gitVersion: 'argondb', bits: 64, maxBsonObjectSize: MAX_BSON, storageEngines: ['argon'], modules: [], argondb: require('../../package.json').version, ok: 1 }
  },
  async getParameter(cmd) {
    const d = { ok: 1 }
    if (cmd.featureCompatibilityVersion !== undefined || cmd.getParameter === '*') d.featureCompatibilityVersion = { version: '7.0' }
    return d
  },
  async connectionStatus() {
    return { authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 }
  },
  async whatsmyuri(cmd, conn) {
    return { you: conn.remote, ok: 1 }
  },
  async endSessions(cmd) {
    for (const lsid of cmd.endSessions || []) {
      const key = sessionKey(lsid)
      const s = this.ep.sessions.get(key)
      if (s) {
        this.ep.sessions.delete(key)
        await s.session.endSession().catch(() => {})
      }
    }
    return { ok: 1 }
  },
  async listDatabases(cmd) {
    const branches = await this.argon.listBranches()
    const databases = branches.map((b) => ({ name: dbNameFor(this.ep.project, b.name), sizeOnDisk: 0, empty: false }))
    if (cmd.nameOnly) return { databases: databases.map(({ name }) => ({ name })), ok: 1 }
    return { databases, totalSize: 0, totalSizeMb: 0, ok: 1 }
  },
  async listCollections(cmd) {
    const t = this.target(cmd)
    const names = await this.argon.branch(t.branch).listCollections()
    const filter = cmd.filter || {}
    const want = (n) => {
      const f = filter.name
      if (f === undefined) return true
      if (typeof f === 'string') return n === f
      if (f && Array.isArray(f.$in)) return f.$in.includes(n)
      if (f instanceof RegExp) return f.test(n)
      if (f && f._bsontype === 'BSONRegExp') return new RegExp(f.pattern, f.options.replace(/[^imsu]/g, '')).test(n)
      return true
    }
    const docs = names
      .filter(({ name }) => want(name))
      .map(({ name }) => (cmd.nameOnly ? { name, type: 'collection' } : { name, type: 'collection', options: {}, info: { readOnly: t.at !== undefined }, idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } }))
    return this.allAtOnce(docs, `${t.db}.$cmd.listCollections`)
  },
  async listIndexes(cmd) {
    const { coll, ns } = this.collection(cmd, 'listIndexes')
    const indexes = await coll.indexes()
    return this.allAtOnce(indexes, ns)
  },
  async create(cmd) {
    const { coll } = this.collection(cmd, 'create')
    if (cmd.capped || cmd.timeseries || cmd.viewOn || cmd.validator || cmd.clusteredIndex) {
      throw fail(2, 'BadValue', 'argondb collections are plain collections: capped, time-series, views, validators and clustered indexes are not supported')
    }
    await coll._call(coll._native.create())
    return { ok: 1 }
  },
  async drop(cmd) {
    const { coll, ns } = this.collection(cmd, 'drop')
    await coll.drop()
    return { ns, nIndexesWas: 1, ok: 1 }
  },
  async createIndexes(cmd) {
    const { coll } = this.collection(cmd, 'createIndexes')
    const before = (await coll.indexes()).length
    for (const spec of cmd.indexes || []) {
      const { key, name, v, ...options } = spec
      if (!key) throw fail(2, 'BadValue', 'an index needs a key')
      await coll._call(coll._native.createIndex(this.codec.encode(key), this.codec.encode(clean({ ...options, name }))))
    }
    const after = (await coll.indexes()).length
    return { createdCollectionAutomatically: before === 0, numIndexesBefore: before, numIndexesAfter: after, ok: 1 }
  },
  async dropIndexes(cmd) {
    const { coll } = this.collection(cmd, 'dropIndexes')
    const indexes = await coll.indexes()
    const which = cmd.index
    let names
    if (which === '*') names = indexes.map((i) => i.name).filter((n) => n !== '_id_')
    else if (typeof which === 'string') names = [which]
    else if (Array.isArray(which)) names = which
    else {
      const key = JSON.stringify(this.codec.EJSON.serialize(which))
      const found = indexes.find((i) => JSON.stringify(this.codec.EJSON.serialize(i.key)) === key)
      if (!found) throw fail(27, 'IndexNotFound', `can't find index with key: ${key}`)
      names = [found.name]
    }
    for (const n of names) await coll.dropIndex(n)
    return { nIndexesWas: indexes.length, ok: 1 }
  },
  async find(cmd) {
    const { coll, ns } = this.collection(cmd, 'find')
    const limit = num(cmd.limit)
    const batchSize = num(cmd.batchSize)
    const opts = clean({
      sort: cmd.sort,
      projection: cmd.projection,
      skip: num(cmd.skip),
      limit: cmd.singleBatch && limit ? -Math.abs(limit) : limit,
      batchSize,
      collation: cmd.collation,
      hint: cmd.hint,
      comment: cmd.comment,
      let: cmd.let,
      maxTimeMS: num(cmd.maxTimeMS),
    })
    const txn = await this.txn(cmd)
    if (txn !== null) {
      const buf = await coll._call(coll._native.findTxn(txn, this.codec.encode(cmd.filter || {}), this.codec.encode(opts)))
      return this.allAtOnce(this.decode(buf).v || [], ns)
    }
    const native = await coll._call(coll._native.find(this.codec.encode(cmd.filter || {}), this.codec.encode(opts), 'find'))
    return this.cursorFromNative(native, ns, batchSize, { single: Boolean(cmd.singleBatch), limit: Math.abs(limit || 0) })
  },
  async getMore(cmd) {
    const id = BigInt(String(cmd.getMore))
    const c = this.ep.cursors.get(id)
    if (!c) throw fail(43, 'CursorNotFound', `cursor id ${id} not found`)
    let batch = num(cmd.batchSize, c.batchSize || 101)
    if (c.left !== null && c.left !== undefined) batch = Math.min(batch, c.left)
    const buf = await this.argon._trackCall(call(c.native.nextBatch(batch), this.codec.EJSON)).catch((e) => {
      this.ep.cursors.remove(id)
      throw e
    })
    const docs = splitDocs(buf)
    let out = id
    if (c.left !== null && c.left !== undefined) c.left -= docs.length
    const limited = c.left !== null && c.left !== undefined && c.left <= 0
    if (c.native.exhausted || docs.length === 0 || limited) {
      this.ep.cursors.remove(id)
      out = 0n
    }
    return cursorReply('nextBatch', docs, out, c.ns)
  },
  async killCursors(cmd) {
    const killed = []
    const notFound = []
    for (const raw of cmd.cursors || []) {
      const id = BigInt(String(raw))
      if (this.ep.cursors.remove(id)) killed.push(raw)
      else notFound.push(raw)
    }
    return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 }
  },
  async aggregate(cmd) {
    if (typeof cmd.aggregate !== 'string') throw fail(59, 'CommandNotFound', 'database-level aggregate is not supported by the argondb endpoint')
    const { coll, ns } = this.collection(cmd, 'aggregate')
    if (cmd.explain) throw fail(59, 'CommandNotFound', 'explain is not supported by the argondb endpoint')
    const batchSize = num(cmd.cursor && cmd.cursor.batchSize)
    const opts = clean({ batchSize, collation: cmd.collation, hint: cmd.hint, comment: cmd.comment, let: cmd.let, maxTimeMS: num(cmd.maxTimeMS) })
    const pipeline = this.codec.encode({ p: cmd.pipeline || [] })
    const txn = await this.txn(cmd)
    if (txn !== null) {
      const buf = await coll._call(coll._native.aggregateTxn(txn, pipeline, this.codec.encode(opts)))
      return this.allAtOnce(this.decode(buf).v || [], ns)
    }
    const native = await coll._call(coll._native.aggregate(pipeline, this.codec.encode(opts)))
    return this.cursorFromNative(native, ns, batchSize)
  },
  async count(cmd) {
    const { coll } = this.collection(cmd, 'count')
    const opts = clean({ skip: num(cmd.skip), limit: num(cmd.limit), collation: cmd.collation, hint: cmd.hint, comment: cmd.comment, maxTimeMS: num(cmd.maxTimeMS) })
    const txn = await this.txn(cmd)
    if (txn !== null) {
      const buf = await coll._call(coll._native.findTxn(txn, this.codec.encode(cmd.query || {}), this.codec.encode(opts)))
      return { n: (this.decode(buf).v || []).length, ok: 1 }
    }
    const n = await coll._call(coll._native.countDocuments(this.codec.encode(cmd.query || {}), this.codec.encode(opts)))
    return { n, ok: 1 }
  },
  async distinct(cmd) {
    const { coll } = this.collection(cmd, 'distinct')
    const opts = clean({ collation: cmd.collation, hint: cmd.hint, comment: cmd.comment, maxTimeMS: num(cmd.maxTimeMS) })
    const txn = await this.txn(cmd)
    const buf = await coll._call(coll._native.distinct(String(cmd.key), this.codec.encode(cmd.query || {}), this.codec.encode(opts), txn))
    return { values: this.decode(buf).v, ok: 1 }
  },
  async insert(cmd) {
    const { coll } = this.collection(cmd, 'insert')
    const docs = cmd.documents || []
    const ordered = cmd.ordered !== false
    const txn = await this.txn(cmd)
    const buf = Buffer.concat(docs.map((d) => (Buffer.isBuffer(d) ? d : this.codec.encode(d))))
    if (txn !== null) {
      await coll._call(coll._native.insertManyTxn(txn, buf, 'insertMany'))
      return { n: docs.length, ok: 1 }
    }
    const r = this.decode(await coll._call(coll._native.insertMany(buf, ordered, 'insertMany')))
    const reply = { n: r.inserted.length, ok: 1 }
    if (r.errors.length) reply.writeErrors = r.errors.map(writeError)
    return reply
  },
  async update(cmd) {
    const reply = { n: 0, nModified: 0, ok: 1 }
    const upserted = []
    await this.statements(cmd, 'update', 'updates', reply, async (u, i, coll, txn) => {
      const op = u.multi ? 'updateMany' : isReplacement(u.u) ? 'replaceOne' : 'updateOne'
      const opts = clean({ upsert: u.upsert || undefined, arrayFilters: u.arrayFilters, collation: u.collation, hint: u.hint, sort: u.sort, let: cmd.let, comment: cmd.comment })
      const r = await this.modify(coll, txn, op, u.q || {}, u.u, opts)
      if (r.upsertedId !== null && r.upsertedId !== undefined) {
        upserted.push({ index: i, _id: r.upsertedId })
        reply.n += 1
      } else {
        reply.n += num(r.matchedCount, 0)
        reply.nModified += num(r.modifiedCount, 0)
      }
    })
    if (upserted.length) reply.upserted = upserted
    return reply
  },
  async delete(cmd) {
    const reply = { n: 0, ok: 1 }
    await this.statements(cmd, 'delete', 'deletes', reply, async (d, i, coll, txn) => {
      const op = num(d.limit, 0) === 1 ? 'deleteOne' : 'deleteMany'
      const r = await this.modify(coll, txn, op, d.q || {}, undefined, clean({ collation: d.collation, hint: d.hint, let: cmd.let, comment: cmd.comment }))
      reply.n += num(r.deletedCount, 0)
    })
    return reply
  },
  async findAndModify(cmd) {
    const { coll } = this.collection(cmd, cmd.findAndModify !== undefined ? 'findAndModify' : 'findandmodify')
    const txn = await this.txn(cmd)
    const remove = Boolean(cmd.remove)
    if (remove && cmd.update !== undefined) throw fail(9, 'FailedToParse', 'Cannot specify both an update and remove=true')
    if (!remove && cmd.update === undefined) throw fail(9, 'FailedToParse', 'Either an update or remove=true must be specified')
    const op = remove ? 'findOneAndDelete' : isReplacement(cmd.update) ? 'findOneAndReplace' : 'findOneAndUpdate'
    const opts = clean({
      sort: cmd.sort,
      projection: cmd.fields,
      upsert: cmd.upsert || undefined,
      returnDocument: cmd.new ? 'after' : 'before',
      arrayFilters: cmd.arrayFilters,
      collation: cmd.collation,
      hint: cmd.hint,
      comment: cmd.comment,
      let: cmd.let,
      maxTimeMS: num(cmd.maxTimeMS),
    })
    const r = await this.modify(coll, txn, op, cmd.query || {}, remove ? undefined : cmd.update, opts)
    const upserted = r.upsertedId !== null && r.upsertedId !== undefined
    const lastErrorObject = remove ? { n: num(r.deletedCount, 0) } : { n: upserted || num(r.matchedCount, 0) > 0 ? 1 : 0, updatedExisting: num(r.matchedCount, 0) > 0 }
    if (upserted) lastErrorObject.upserted = r.upsertedId
    return { lastErrorObject, value: r.value === undefined ? null : r.value, ok: 1 }
  },
  async commitTransaction(cmd) {
    const s = this.ep.sessions.get(sessionKey(cmd.lsid || {}))
    if (!s) throw Object.assign(fail(251, 'NoSuchTransaction', 'no transaction to commit'), { errorLabels: ['TransientTransactionError'] })
    if (!s.session.inTransaction) return { ok: 1 } // a retried commit of a committed transaction
    await s.session.commitTransaction()
    return { ok: 1 }
  },
  async abortTransaction(cmd) {
    const s = this.ep.sessions.get(sessionKey(cmd.lsid || {}))
    if (!s || !s.session.inTransaction) throw fail(251, 'NoSuchTransaction', 'no transaction to abort')
    await s.session.abortTransaction()
    return { ok: 1 }
  },
}
HANDLERS.ismaster = HANDLERS.hello
HANDLERS.isMaster = HANDLERS.hello
HANDLERS.buildInfo = HANDLERS.buildinfo
HANDLERS.findandmodify = HANDLERS.findAndModify
HANDLERS.saslstart = HANDLERS.saslStart
HANDLERS.saslcontinue = HANDLERS.saslContinue

/**
 * Runs the statements of an `update` or `delete` command one by one, as MongoDB does: a
 * failing statement becomes a `writeErrors` entry (ordered: the rest are skipped), except
 * inside a transaction, where it fails the command.
 */
Commands.prototype.statements = async function statements(cmd, name, field, reply, each) {
  const { coll } = this.collection(cmd, name)
  const ordered = cmd.ordered !== false
  const txn = await this.txn(cmd)
  const errors = []
  const list = cmd[field] || []
  for (let i = 0; i < list.length; i++) {
    try {
      await each(list[i], i, coll, txn)
    } catch (e) {
      if (txn !== null) throw e
      errors.push({ index: i, ...writeErrorOf(e) })
      if (ordered) break
    }
  }
  if (errors.length) reply.writeErrors = errors
}

/** Runs a write through the native layer (in a transaction when `txn` is set). */
Commands.prototype.modify = async function modify(coll, txn, op, filter, change, opts) {
  const buf = await coll._call(coll._native.modify(op, this.codec.encode(filter), change === undefined ? null : this.codec.encodeValue(change), this.codec.encode(opts), txn))
  return this.decode(buf)
}

/** A per-statement write error from the native insert reply. */
function writeError(e) {
  const code = num(e.code, 0)
  if (code) return clean({ index: num(e.index, 0), code, errmsg: e.errmsg, keyValue: e.keyValue || undefined })
  const [c] = SERVER_CODES[e.argonCode] || [1]
  return { index: num(e.index, 0), code: c, errmsg: `[${e.argonCode}] ${e.errmsg}` }
}

function writeErrorOf(e) {
  const d = errorDoc(e)
  return clean({ code: d.code, errmsg: d.errmsg, keyValue: d.keyValue })
}

module.exports = { Commands, errorDoc }
