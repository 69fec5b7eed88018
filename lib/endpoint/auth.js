'use strict'
/**
 * SCRAM-SHA-256 users for the endpoint (RFC 5802 / 7677, as MongoDB runs it over
 * `saslStart` / `saslContinue`). Users are the endpoint's own: never the upstream
 * MongoDB credentials. A user is stored as SCRAM keys (salt, iterations, StoredKey,
 * ServerKey); a plain password given at start-up is turned into keys at once and dropped.
 * No password, proof or key ever appears in an error or a log.
 */
const crypto = require('node:crypto')
const { fail } = require('./wire')

const MECHANISM = 'SCRAM-SHA-256'
const DEFAULT_ITERATIONS = 15000

const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest()
const sha256 = (data) => crypto.createHash('sha256').update(data).digest()


/** SCRAM keys for a password (SASLprep approximated by NFKC normalisation). */
function keysFor(password, salt = crypto.randomBytes(28), iterations = DEFAULT_ITERATIONS) {
  const salted = crypto.pbkdf2Sync(Buffer.from(String(password).normalize('NFKC'), 'utf8'), salt, iterations, 32, 'sha256')
  const clientKey = hmac(salted, 'Client Key')
  return { salt: salt.toString('base64'), iterations, storedKey: sha256(clientKey).toString('base64'), serverKey: hmac(salted, 'Server Key').toString('base64') }
}

/**
 * Users from `[{ user, password }]` or `[{ user, salt, iterations, storedKey, serverKey }]`
 * (the form `argon serve --auth-file` reads; `keysFor` makes it). Returns a Map or null.
 */
function loadUsers(list) {
  if (list === undefined || list === null) return null
  if (!Array.isArray(list) || list.length === 0) throw fail(2, 'BadValue', 'users must be a non-empty array of { user, password } or { user, salt, iterations, storedKey, serverKey }')
  const users = new Map()
  for (const u of list) {
    if (!u || typeof u.user !== 'string' || !u.user) throw fail(2, 'BadValue', 'each user needs a name (user)')
    let keys
    if (typeof u.password === 'string' && u.password) keys = keysFor(u.password)
    else if (u.salt && u.storedKey && u.serverKey && Number.isInteger(u.iterations) && u.iterations >= 4096) keys = { salt: u.salt, iterations: u.iterations, storedKey: u.storedKey, serverKey: u.serverKey }
    else throw fail(2, 'BadValue', `user ${JSON.stringify(u.user)} needs a password or SCRAM keys (salt, iterations >= 4096, storedKey, serverKey)`)
    users.set(u.user, keys)
  }
  return users
}

function parseAttrs(text) {
  const out = {}
  for (const part of text.split(',')) {
    const eq = part.indexOf('=')
    if (eq === 1) out[part[0]] = part.slice(2)
  }
  return out
}

const unescapeName = (n) => n.replace(/=2C/g, ',').replace(/=3D/g, '=')

/** One connection's SCRAM conversation. */
class Conversation {
  constructor(users) {
    this.users = users
    this.state = null
  }

  /** `saslStart`: returns the server-first message. */
  start(mechanism, payload) {
    if (mechanism !== MECHANISM) throw fail(2, 'BadValue', `unsupported mechanism ${JSON.stringify(mechanism)}: the endpoint supports ${MECHANISM}`)
    const text = Buffer.from(payload).toString('utf8')
    if (!text.startsWith('n,')) throw fail(18, 'AuthenticationFailed', 'Authentication failed.')
    const bare = text.slice(text.indexOf(',', 2) + 1)
    const a = parseAttrs(bare)
    const user = unescapeName(a.n || '')
    const keys = this.users.get(user)
    if (!a.r || !keys) throw fail(18, 'AuthenticationFailed', 'Authentication failed.')
    const nonce = a.r + crypto.randomBytes(24).toString('base64')
    const serverFirst = `r=${nonce},s=${keys.salt},i=${keys.iterations}`
    this.state = { user, keys, bare, serverFirst, nonce }
    return Buffer.from(serverFirst)
  }

  /** `saslContinue`: checks the proof; returns the server's signature and the user. */
  finish(payload) {
    const st = this.state
    this.state = null
    if (!st) throw fail(17, 'ProtocolError', 'no SASL conversation in progress')
    const text = Buffer.from(payload).toString('utf8')
    const p = text.lastIndexOf(',p=')
    if (p < 0) throw fail(18, 'AuthenticationFailed', 'Authentication failed.')
    const withoutProof = text.slice(0, p)
    const a = parseAttrs(text)
    if (a.r !== st.nonce || !a.p) throw fail(18, 'AuthenticationFailed', 'Authentication failed.')
    const authMessage = `${st.bare},${st.serverFirst},${withoutProof}`
    const storedKey = Buffer.from(st.keys.storedKey, 'base64')
    const signature = hmac(storedKey, authMessage)
    const proof = Buffer.from(a.p, 'base64')
    if (proof.length !== signature.length) throw fail(18, 'AuthenticationFailed', 'Authentication failed.')
    const clientKey = Buffer.alloc(proof.length)
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ signature[i]
    if (!crypto.timingSafeEqual(sha256(clientKey), storedKey)) throw fail(18, 'AuthenticationFailed', 'Authentication failed.')
    const serverSignature = hmac(Buffer.from(st.keys.serverKey, 'base64'), authMessage).toString('base64')
    return { user: st.user, payload: Buffer.from(`v=${serverSignature}`) }
  }
}

/** Commands a connection may run before it authenticates. */
const OPEN_COMMANDS = new Set(['hello', 'ismaster', 'saslstart', 'saslcontinue', 'ping', 'buildinfo', 'endsessions'])

module.exports = { MECHANISM, keysFor, loadUsers, Conversation, OPEN_COMMANDS }
