'use strict'
/**
 * Sessions and transactions the driver's way:
 *
 *   const session = argon.startSession()
 *   await session.withTransaction(async () => {
 *     await accounts.updateOne({ _id: a }, { $inc: { balance: -10 } }, { session })
 *     await accounts.updateOne({ _id: b }, { $inc: { balance: 10 } }, { session })
 *   })
 *   await session.endSession()
 *
 * All writes of one transaction (on one branch) commit atomically under one LSN; reads in
 * it see its own writes; nothing is visible outside before commit; an abort leaves no
 * trace. The engine side is `crates/argon-core/src/write/session.rs`.
 */
const { call, ArgonError } = require('./errors')

/** How long withTransaction keeps retrying, as the driver does. */
const RETRY_MS = 120_000

const hasLabel = (e, label) => Boolean(e && typeof e.hasErrorLabel === 'function' && e.hasErrorLabel(label))

class ArgonSession {
  constructor(argon) {
    this._argon = argon
    this._state = 'none' // none | active | committed | aborted
    this._begin = null // the native begin's promise: the transaction's id
    this._ended = false
  }

  /** Whether a transaction is in progress. */
  get inTransaction() {
    return this._state === 'active'
  }

  get hasEnded() {
    return this._ended
  }

  /** Starts a transaction (it begins on the server at its first operation). */
  startTransaction(options = {}) {
    if (this._ended) throw new ArgonError('INVALID_TRANSACTION', 'the session has ended')
    if (this._state === 'active') throw new ArgonError('INVALID_TRANSACTION', 'a transaction is already in progress')
    if (options && (options.readConcern || options.writeConcern || options.readPreference)) {
      throw new ArgonError('INVALID_ARGUMENT', 'transaction options are not supported: Argon uses snapshot reads and majority, journaled writes')
    }
    this._state = 'active'
    this._begin = null
  }

  /** The running transaction's id (begun on first use). */
  async _txn() {
    if (this._state !== 'active') throw new ArgonError('INVALID_TRANSACTION', 'no transaction is in progress')
    if (!this._begin) this._begin = call(this._argon._native.beginTransaction(), this._argon._codec.EJSON)
    return this._begin
  }

  async commitTransaction() {
    if (this._state !== 'active') throw new ArgonError('INVALID_TRANSACTION', `no transaction to commit (${this._state === 'none' ? 'none started' : `it was ${this._state}`})`)
    if (!this._begin) {
      this._state = 'committed'
      return
    }
    const id = await this._begin
    await call(this._argon._native.commitTransaction(id), this._argon._codec.EJSON)
    this._state = 'committed'
    this._argon._native.endTransaction(id)
  }

  async abortTransaction() {
    if (this._state !== 'active') throw new ArgonError('INVALID_TRANSACTION', `no transaction to abort (${this._state === 'none' ? 'none started' : `it was ${this._state}`})`)
    this._state = 'aborted'
    if (!this._begin) return
    const id = await this._begin.catch(() => null)
    if (id !== null) await call(this._argon._native.abortTransaction(id), this._argon._codec.EJSON)
  }

  /**
   * Runs `fn(session)` in a transaction and commits it; retries the whole callback on
   * `TransientTransactionError` (write conflicts with other writers) for up to 120 s, as
   * the driver does. Resolves what `fn` resolved.
   */
  async withTransaction(fn, options = {}) {
    const start = Date.now()
    for (;;) {
      this.startTransaction(options)
      let result
      try {
        result = await fn(this)
      } catch (e) {
        if (this.inTransaction) await this.abortTransaction().catch(() => {})
        if (hasLabel(e, 'TransientTransactionError') && Date.now() - start < RETRY_MS) continue
        throw e
      }
      if (!this.inTransaction) return result // the callback committed or aborted itself
      try {
        await this.commitTransaction()
        return result
      } catch (e) {
        if (this.inTransaction) await this.abortTransaction().catch(() => {})
        if (hasLabel(e, 'TransientTransactionError') && Date.now() - start < RETRY_MS) continue
        throw e
      }
    }
  }

  /** Ends the session, aborting a transaction still in progress. */
  async endSession() {
    if (this.inTransaction) await this.abortTransaction().catch(() => {})
    this._ended = true
  }
}

/**
 * For a collection call: the session's running transaction, or null when the options
 * carry no session or its session is not in a transaction. Removes `session` from them.
 */
function takeSession(options) {
  if (!options || options.session === undefined) return null
  const s = options.session
  delete options.session
  if (!(s instanceof ArgonSession)) throw new ArgonError('INVALID_ARGUMENT', 'options.session must come from argon.startSession()')
  if (s.hasEnded) throw new ArgonError('INVALID_TRANSACTION', 'the session has ended')
  return s.inTransaction ? s : null
}

module.exports = { ArgonSession, takeSession }
