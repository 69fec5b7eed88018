'use strict'
/**
 * The MongoDB wire protocol, as the endpoint speaks it: message framing, OP_MSG (body,
 * document sequences, `moreToCome`, CRC-32C checksums), the legacy OP_QUERY handshake and
 * its OP_REPLY. Written from the protocol's description; nothing here touches the network.
 */

const OP_REPLY = 1
const OP_QUERY = 2004
const OP_MSG = 2013
const HEADER = 16
/** MongoDB's `maxMessageSizeBytes`. */
const MAX_MESSAGE = 48000000

const FLAG_CHECKSUM = 1 << 0
const FLAG_MORE_TO_COME = 1 << 1
const FLAG_EXHAUST_ALLOWED = 1 << 16
/** Bits 0-15 must be understood by the receiver; only these two are defined there. */
const REQUIRED_MASK = 0xffff
const KNOWN_REQUIRED = FLAG_CHECKSUM | FLAG_MORE_TO_COME

/** A protocol error: the message cannot be understood (the reply is an error document). */
class WireError extends Error {
  constructor(code, codeName, message) {
    super(message)
    this.code = code
    this.codeName = codeName
  }
}

/** A MongoDB error document's error: `fail(59, 'CommandNotFound', '…')`. */
const fail = (code, codeName, message) => new WireError(code, codeName, message)

// CRC-32C (Castagnoli), reflected, as OP_MSG checksums use.
const CRC_TABLE = (() => {
  const t = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[n] = c
  }
  return t
})()

function crc32c(buf, start = 0, end = buf.length) {
  let c = -1
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8)
  return (c ^ -1) >>> 0
}

/**
 * Splits a byte stream into whole messages. `push(chunk)` returns the complete messages so
 * far; a length outside [16, maxMessage] throws (the connection must then close, since the
 * stream can no longer be framed).
 */
class Framer {
  constructor(maxMessage = MAX_MESSAGE) {
    this.max = maxMessage
    this.chunks = []
    this.size = 0
  }

  push(chunk) {
    this.chunks.push(chunk)
    this.size += chunk.length
    const out = []
    while (this.size >= 4) {
      const head = this.chunks[0].length >= 4 ? this.chunks[0] : Buffer.concat(this.chunks)
      if (head !== this.chunks[0]) this.chunks = [head]
      const len = head.readInt32LE(0)
      if (len < HEADER || len > this.max) {
        throw new WireError(len > this.max ? 10334 : 2, len > this.max ? 'BSONObjectTooLarge' : 'BadValue', `message length ${len} is outside [${HEADER}, ${this.max}]`)
      }
      if (this.size < len) break
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
      out.push(all.subarray(0, len))
      const rest = all.subarray(len)
      this.chunks = rest.length ? [rest] : []
      this.size = rest.length
    }
    return out
  }
}

function header(msg) {
  return { length: msg.readInt32LE(0), requestId: msg.readInt32LE(4), responseTo: msg.readInt32LE(8), opCode: msg.readInt32LE(12) }
}

/** Reads a BSON document's bytes at `off` (bounds-checked), without parsing it. */
function docAt(buf, off, end) {
  if (off + 5 > end) throw new WireError(22, 'InvalidBSON', 'truncated document')
  const len = buf.readInt32LE(off)
  if (len < 5 || off + len > end) throw new WireError(22, 'InvalidBSON', `document length ${len} overruns the message`)
  return buf.subarray(off, off + len)
}

function cstringAt(buf, off, end) {
  const zero = buf.indexOf(0, off)
  if (zero < 0 || zero >= end) throw new WireError(2, 'BadValue', 'unterminated string')
  return [buf.toString('utf8', off, zero), zero + 1]
}

/**
 * Parses an OP_MSG into `{ flags, body (bytes), sequences: [{ id, docs: [bytes] }] }`,
 * verifying the checksum when present.
 */
function parseOpMsg(msg) {
  let end = msg.length
  if (end < HEADER + 5) throw new WireError(2, 'BadValue', 'OP_MSG too short')
  const flags = msg.readUInt32LE(HEADER)
  if (flags & REQUIRED_MASK & ~KNOWN_REQUIRED) throw new WireError(2, 'BadValue', `unknown required OP_MSG flag bits ${flags & REQUIRED_MASK & ~KNOWN_REQUIRED}`)
  if (flags & FLAG_CHECKSUM) {
    if (end < HEADER + 9) throw new WireError(2, 'BadValue', 'OP_MSG too short for its checksum')
    end -= 4
    const want = msg.readUInt32LE(end)
    if (crc32c(msg, 0, end) !== want) throw new WireError(2, 'BadValue', 'OP_MSG checksum mismatch')
  }
  let off = HEADER + 4
  let body = null
  const sequences = []
  while (off < end) {
    const kind = msg[off]
    off += 1
    if (kind === 0) {
      if (body) throw new WireError(2, 'BadValue', 'OP_MSG has more than one body section')
      body = docAt(msg, off, end)
      off += body.length
    } else if (kind === 1) {
      if (off + 4 > end) throw new WireError(2, 'BadValue', 'truncated document sequence')
      const size = msg.readInt32LE(off)
      const stop = off + size
      if (size < 5 || stop > end) throw new WireError(2, 'BadValue', 'document sequence overruns the message')
      const [id, next] = cstringAt(msg, off + 4, stop)
      const docs = []
      let p = next
      while (p < stop) {
        const d = docAt(msg, p, stop)
        docs.push(d)
        p += d.length
      }
      sequences.push({ id, docs })
      off = stop
    } else {
      throw new WireError(2, 'BadValue', `unknown OP_MSG section kind ${kind}`)
    }
  }
  if (!body) throw new WireError(2, 'BadValue', 'OP_MSG has no body section')
  return { flags, body, sequences }
}

/** Encodes an OP_MSG reply holding one body document (BSON bytes). */
function encodeOpMsg(requestId, responseTo, body, flags = 0) {
  const msg = Buffer.allocUnsafe(HEADER + 4 + 1 + body.length)
  msg.writeInt32LE(msg.length, 0)
  msg.writeInt32LE(requestId, 4)
  msg.writeInt32LE(responseTo, 8)
  msg.writeInt32LE(OP_MSG, 12)
  msg.writeUInt32LE(flags, 16)
  msg[20] = 0
  body.copy(msg, 21)
  return msg
}

/** Parses a legacy OP_QUERY: `{ collection, skip, limit, query (bytes) }`. */
function parseOpQuery(msg) {
  const end = msg.length
  let off = HEADER + 4
  const [collection, next] = cstringAt(msg, off, end)
  off = next
  if (off + 8 > end) throw new WireError(2, 'BadValue', 'truncated OP_QUERY')
  const skip = msg.readInt32LE(off)
  const limit = msg.readInt32LE(off + 4)
  off += 8
  const query = docAt(msg, off, end)
  return { collection, skip, limit, query }
}

/** Encodes an OP_REPLY holding one document (the answer to a legacy handshake). */
function encodeOpReply(requestId, responseTo, doc) {
  const msg = Buffer.allocUnsafe(HEADER + 20 + doc.length)
  msg.writeInt32LE(msg.length, 0)
  msg.writeInt32LE(requestId, 4)
  msg.writeInt32LE(responseTo, 8)
  msg.writeInt32LE(OP_REPLY, 12)
  msg.writeInt32LE(0, 16) // responseFlags
  msg.writeBigInt64LE(0n, 20) // cursorID
  msg.writeInt32LE(0, 28) // startingFrom
  msg.writeInt32LE(1, 32) // numberReturned
  doc.copy(msg, 36)
  return msg
}

module.exports = {
  OP_MSG,
  OP_QUERY,
  OP_REPLY,
  MAX_MESSAGE,
  FLAG_CHECKSUM,
  FLAG_MORE_TO_COME,
  FLAG_EXHAUST_ALLOWED,
  WireError,
  fail,
  Framer,
  crc32c,
  header,
  parseOpMsg,
  encodeOpMsg,
  parseOpQuery,
  encodeOpReply,
}
