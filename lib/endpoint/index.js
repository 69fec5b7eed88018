'use strict'
/**
 * A MongoDB endpoint for an Argon project: any driver, mongoose or mongosh connects to it
 * and uses a branch, or a past point, through the database name (`lib/endpoint/names.js`).
 * Commands run through Argon (`lib/endpoint/commands.js`); this file is the TCP side:
 * connections, framing, replies, server-side cursors, transactions by session, limits.
 */
const net = require('node:net')
const { randomBytes } = require('node:crypto')
const wire = require('./wire')
const { Commands, errorDoc } = require('./commands')
const { uriFor, dbNameFor } = require('./names')
const { ArgonError } = require('../errors')
const { loadUsers } = require('./auth')

const CURSOR_IDLE_MS = 10 * 60 * 1000

/** Server-side cursors: random positive 63-bit ids, closed after 10 idle minutes. */
class Cursors {
  constructor(idleMs = CURSOR_IDLE_MS) {
    this.map = new Map()
    this.idleMs = idleMs
    this.timer = setInterval(() => this.sweep(), Math.min(60000, idleMs)).unref()
  }

  add(c) {
    let id
    do id = randomBytes(8).readBigInt64LE(0) & 0x7fffffffffffffffn
    while (id === 0n || this.map.has(id))
    this.map.set(id, { ...c, used: Date.now() })
    return id
  }

  get(id) {
    const c = this.map.get(id)
    if (c) c.used = Date.now()
    return c
  }

  remove(id) {
    const c = this.map.get(id)
    if (!c) return false
    this.map.delete(id)
    c.native.close().catch(() => {})
    return true
  }

  sweep(now = Date.now()) {
    for (const [id, c] of this.map) if (now - c.used > this.idleMs) this.remove(id)
  }

  close() {
    clearInterval(this.timer)
    for (const id of [...this.map.keys()]) this.remove(id)
  }
}

class Endpoint {
  constructor(argon, options) {
    this.argon = argon
    this.project = argon.database
    this.host = options.host || '127.0.0.1'
    this.port = 0
    this.maxConnections = options.maxConnections ?? 1000
    this.maxMessage = options.maxMessageBytes ?? wire.MAX_MESSAGE
    this.users = loadUsers(options.users)
    this.cursors = new Cursors(options.cursorIdleMs)
    this.sessions = new Map()
    this.processId = new (argon._codec.BSON.ObjectId)()
    this.commands = new Commands(this)
    this.connections = new Set()
    this.nextConnId = 1
    this.nextRequestId = 1
    this.server = net.createServer((sock) => this._accept(sock))
    this.server.maxConnections = this.maxConnections
  }

  async listen(port) {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ port, host: this.host }, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    this.port = this.server.address().port
  }

  /** The connection string for `main`'s database. */
  get uri() {
    return uriFor(this.host, this.port, '')
  }

  /** A connection string selecting `branch` (optionally `{ at: lsn | tag | Date }`). */
  uriFor(branch = 'main', options = {}) {
    return uriFor(this.host, this.port, dbNameFor(this.project, String(branch), options.at))
  }

  /** The database name a client uses for `branch` (optionally at a point). */
  dbName(branch = 'main', options = {}) {
    return dbNameFor(this.project, String(branch), options.at)
  }

  _accept(sock) {
    const conn = { id: this.nextConnId++, sock, remote: `${sock.remoteAddress}:${sock.remotePort}`, queue: Promise.resolve(), user: null, sasl: null }
    this.connections.add(conn)
    sock.setNoDelay(true)
    const framer = new wire.Framer(this.maxMessage)
    sock.on('data', (chunk) => {
      let msgs
      try {
        msgs = framer.push(chunk)
      } catch {
        // The stream cannot be framed any more: close, as MongoDB does.
        sock.destroy()
        return
      }
      for (const m of msgs) conn.queue = conn.queue.then(() => this._handle(conn, m))
    })
    sock.on('error', () => {})
    sock.on('close', () => this.connections.delete(conn))
  }

  async _handle(conn, msg) {
    if (conn.sock.destroyed) return
    const h = wire.header(msg)
    let reply
    let quiet = false
    let legacy = false
    try {
      if (h.opCode === wire.OP_MSG) {
        const m = wire.parseOpMsg(msg)
        quiet = Boolean(m.flags & wire.FLAG_MORE_TO_COME)
        const cmd = this.commands.decode(m.body)
        for (const seq of m.sequences) cmd[seq.id] = seq.id === 'documents' ? seq.docs : seq.docs.map((d) => this.commands.decode(d))
        reply = await this.commands.run(cmd, conn)
      } else if (h.opCode === wire.OP_QUERY) {
        legacy = true
        const q = wire.parseOpQuery(msg)
        const cmd = this.commands.decode(q.query)
        const db = q.collection.split('.')[0]
        if (!q.collection.endsWith('.$cmd')) throw wire.fail(352, 'UnsupportedOpQueryCommand', 'OP_QUERY is supported only for commands')
        const inner = cmd.$query || cmd.query || cmd
        const name = Object.keys(inner)[0] || ''
        if (!['hello', 'ismaster', 'isMaster'].includes(name)) throw wire.fail(352, 'UnsupportedOpQueryCommand', `OP_QUERY is supported only for the handshake, not '${name}'`)
        reply = await this.commands.run({ ...inner, $db: db }, conn)
      } else {
        conn.sock.destroy()
        return
      }
    } catch (e) {
      reply = errorDoc(e)
    }
    if (quiet || conn.sock.destroyed) return
    let body
    try {
      body = Buffer.isBuffer(reply) ? reply : this.argon._codec.BSON.serialize(reply)
    } catch (e) {
      body = this.argon._codec.BSON.serialize(errorDoc(new ArgonError('INVALID_ARGUMENT', `reply could not be encoded: ${e.message}`)))
    }
    const id = this.nextRequestId++ & 0x7fffffff
    conn.sock.write(legacy ? wire.encodeOpReply(id, h.requestId, body) : wire.encodeOpMsg(id, h.requestId, body))
  }

  /** Stops listening, closes connections, cursors and open transactions. */
  async close() {
    await new Promise((resolve) => {
      this.server.close(() => resolve())
      for (const c of this.connections) c.sock.destroy()
    })
    this.cursors.close()
    for (const s of this.sessions.values()) await s.session.endSession().catch(() => {})
    this.sessions.clear()
  }
}

/**
 * Serves `argon`'s project on `options.port` (0 picks a free one), on 127.0.0.1 unless
 * `options.host` says otherwise. `options.users` (`[{ user, password }]` or SCRAM keys)
 * requires SCRAM-SHA-256 authentication. Resolves to the endpoint: `{ uri, port, host,
 * uriFor(), dbName(), close() }`.
 */
async function serve(argon, options = {}) {
  const ep = new Endpoint(argon, options)
  await ep.listen(options.port ?? 0)
  return ep
}

module.exports = { serve, Endpoint }
