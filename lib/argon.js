'use strict'
/**
 * `Argon` (a connected project) and `Branch` (a handle on one branch). Branch handles are
 * cheap and do no I/O until used.
 */
const { loadBson, Codec } = require('./bson')
const { Collection } = require('./collection')
const { call, callSync, ArgonError } = require('./errors')
const native = require('../binding.js')

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
  constructor(argon, name) {
    this._argon = argon
    this.name = name
  }

  /** A collection on this branch, with the official driver's API. */
  collection(name) {
    const a = this._argon
    const n = callSync(() => a._native.collection(this.name, String(name), null), a._codec.EJSON)
    return new Collection(a._codec, n, this.name, String(name))
  }

  /** `{ name, parent, forkLsn, headLsn, createdAt, protected }` */
  async info() {
    return this._argon.branchInfo(this.name)
  }
}

class Argon {
  constructor(nativeArgon, codec) {
    this._native = nativeArgon
    this._codec = codec
  }

  /**
   * Connects to MongoDB and opens the project stored in `options.database`, creating its
   * metadata (and the `main` branch) on first use.
   */
  static async connect(uri, options = {}) {
    if (typeof uri !== 'string' || uri.length === 0) throw new ArgonError('INVALID_URI', 'a MongoDB connection string is required')
    if (!options || typeof options.database !== 'string') throw new ArgonError('INVALID_ARGUMENT', 'options.database (the project database) is required')
    const codec = new Codec(loadBson(options.bson))
    const { bson: _ignored, ...rest } = options
    const n = await call(native.connect(uri, JSON.stringify(rest)), codec.EJSON)
    return new Argon(n, codec)
  }

  /** Whether writes run in MongoDB transactions (replica sets and sharded clusters). */
  get transactions() {
    return this._native.transactions
  }

  branch(name) {
    if (typeof name !== 'string') throw new ArgonError('INVALID_BRANCH_NAME', 'a branch name must be a string')
    return new Branch(this, name)
  }

  /** Creates a branch of `options.from` (default `main`) in O(1) and returns its handle. */
  async createBranch(name, options = {}) {
    if (typeof name !== 'string') throw new ArgonError('INVALID_BRANCH_NAME', 'a branch name must be a string')
    const from = options.from ?? 'main'
    await call(this._native.createBranch(name, String(from)), this._codec.EJSON)
    return new Branch(this, name)
  }

  async branchInfo(name) {
    const buf = await call(this._native.branchInfo(String(name)), this._codec.EJSON)
    return toInfo(this._codec.decode(buf))
  }

  async listBranches() {
    const buf = await call(this._native.listBranches(), this._codec.EJSON)
    return this._codec.decode(buf).branches.map(toInfo)
  }

  async deleteBranch(name) {
    await call(this._native.deleteBranch(String(name)), this._codec.EJSON)
  }

  async protectBranch(name, value = true) {
    await call(this._native.protectBranch(String(name), Boolean(value)), this._codec.EJSON)
  }

  async close() {
    await call(this._native.close(), this._codec.EJSON)
  }
}

module.exports = { Argon, Branch }
