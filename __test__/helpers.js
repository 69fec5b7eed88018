'use strict'
/** Shared test helpers: one real test server per test file, fresh databases per test. */
const { startServer } = require('../scripts/test-server')
const { Argon } = require('..')

let counter = 0
/** A database name unique to this process and call. */
function freshDb(prefix = 't') {
  counter += 1
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`
}

/**
 * Starts a server for the calling test file (or uses $ARGON_TEST_URI) and returns
 * `{ uri, stop }`. Call from `before`, and `stop` from `after`.
 */
async function server(opts = {}) {
  if (process.env.ARGON_TEST_URI && !opts.standalone) return { uri: process.env.ARGON_TEST_URI, stop: async () => {} }
  return startServer(opts)
}

/**
 * For a test file that also needs the official driver: registers `before`/`after` hooks
 * that start a server (as `server()` does) and connect a `MongoClient` to it, and close
 * both at the end; `setup(env)`, if given, runs once both are up. Returns `{ srv, raw }`,
 * filled in once the hooks have run.
 */
function serverAndDriver(setup = async () => {}) {
  const { before, after } = require('node:test')
  const { MongoClient } = require('mongodb')
  const env = { srv: null, raw: null }
  before(async () => {
    env.srv = await server()
    env.raw = new MongoClient(env.srv.uri)
    await env.raw.connect()
    await setup(env)
  })
  after(async () => {
    await env.raw.close()
    await env.srv.stop()
  })
  return env
}

async function connect(uri, database = freshDb()) {
  return Argon.connect(uri, { database, serverSelectionTimeoutMs: 5000 })
}

/** Deterministic PRNG (mulberry32) so failing seeds can be replayed. */
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Polls until `fn` resolves to a truthy value and returns it (for background work). */
async function eventually(fn, ms = 30_000) {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * Starts `node args…` and resolves `{ child, match, stderr() }` once its stdout matches
 * `pattern`; rejects (with its stderr) if it exits before. The caller stops the child.
 */
function spawnUntil(args, pattern) {
  const { spawn } = require('node:child_process')
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d
      const match = out.match(pattern)
      if (match) resolve({ child, match, stderr: () => err })
    })
    child.on('exit', (code, signal) => reject(new Error(`${args.join(' ')} exited ${code ?? signal} before printing ${pattern}: ${err}`)))
  })
}

module.exports = { server, serverAndDriver, connect, freshDb, rng, eventually, spawnUntil }
