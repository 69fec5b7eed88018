'use strict'
const { ArgonError } = require('./errors')

const MAX_BSON = 16 * 1024 * 1024
/**
 * BSON conversion with the user's `bson` package (a peerDependency, ^6.10 or ^7), so the
 * ObjectIds our results contain are the same class the user's code and driver use.
 */

function loadBson(explicit) {
  if (explicit) return explicit
  try {
    return require('bson')
  } catch (e) {
    throw new ArgonError('INVALID_ARGUMENT', 'argondb needs the `bson` package (npm install bson): ' + e.message)
  }
}

class Codec {
  constructor(BSON) {
    this.BSON = BSON
    this.EJSON = BSON.EJSON
    this.ObjectId = BSON.ObjectId
  }

  encode(doc) {
    return this._serialize(doc == null ? {} : doc)
  }

  /** Serializes, turning the bson package's size failures into DOCUMENT_TOO_LARGE. */
  _serialize(doc) {
    try {
      return this.BSON.serialize(doc)
    } catch (e) {
      let size = -1
      try {
        size = this.BSON.calculateObjectSize(doc)
      } catch {}
      if (size > MAX_BSON) {
        throw new ArgonError('DOCUMENT_TOO_LARGE', `document is ${size} bytes; MongoDB's limit is ${MAX_BSON} bytes`)
      }
      throw new ArgonError('INVALID_ARGUMENT', `cannot encode as BSON: ${e.message}`)
    }
  }

  /** Wraps any value (an array pipeline, an update) as `{ v: value }`. */
  encodeValue(v) {
    return this._serialize({ v })
  }

  encodeMany(docs) {
    return Buffer.concat(docs.map((d) => this._serialize(d)))
  }

  decode(buf) {
    return this.BSON.deserialize(buf)
  }

  /** Splits a Buffer of concatenated BSON documents. */
  decodeMany(buf) {
    const out = []
    let off = 0
    while (off < buf.length) {
      const len = buf.readInt32LE(off)
      out.push(this.BSON.deserialize(buf.subarray(off, off + len)))
      off += len
    }
    return out
  }
}

module.exports = { loadBson, Codec }
