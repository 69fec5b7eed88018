'use strict'
/**
 * The run context shared by every scenario: the server (started here unless
 * $MONGODB_URI is set), the connections, the round-trip counter, API feature detection,
 * machine and server information, fixtures, and cleanup.
 */
const os = require('node:os')
const path = require('node:path')
const { MongoClient } = require('mongodb')
const { ServerCounter, DriverCounter, CountingProxy } = require('./roundtrips')

const ROOT = path.join(__dirname, '..', '..')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Loads the package; the addon may be being rebuilt by someone else, so retry briefly. */
async function loadArgondb(log) {
  for (let attempt = 1; ; attempt++) {
    try {
      return require(ROOT)
    } catch (e) {
      if (attempt >= 10) throw e
      log(`  cannot load argondb yet (${e.message.split('\n')[0]}); retrying in 3 s`)
      await sleep(3000)
    }
  }
}

function apiFeatures(argondb) {
  const { Argon, Branch } = argondb
  return {
    branchAt: typeof Branch?.prototype?.at === 'function',
    diff: typeof Argon?.prototype?.diff === 'function',
    restorePreview: typeof Argon?.prototype?.restorePreview === 'function',
  }
}

/** Which engine build and commit a run measured (the addon can be rebuilt under a run). */
function buildInfo() {
  const out = { commit: null, dirty: null, addon: null }
  try {
    const { execFileSync } = require('node:child_process')
    out.commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    out.dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().length > 0
  } catch {
    // not a git checkout
  }
  out.addon = addonStamp()
  return out
}

function addonStamp() {
  const fs = require('node:fs')
  try {
    const f = fs.readdirSync(ROOT).find((n) => n.startsWith('argondb.') && n.endsWith('.node'))
    if (!f) return null
    const st = fs.statSync(path.join(ROOT, f))
    // A release build (`napi build --release --strip`) carries no DWARF sections; a dev
    // build does, and its unoptimised Rust makes every "ours" number slower.
    return { file: f, size: st.size, mtime: st.mtime.toISOString(), debugInfo: hasDebugSections(path.join(ROOT, f)) }
  } catch {
    return null
  }
}

/** Whether an ELF64 little-endian file has `.debug_*` sections (null when not ELF64 LE). */
function hasDebugSections(file) {
  const fs = require('node:fs')
  const b = fs.readFileSync(file)
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return null
  const shoff = Number(b.readBigUInt64LE(0x28))
  const shentsize = b.readUInt16LE(0x3a)
  const shnum = b.readUInt16LE(0x3c)
  const shstrndx = b.readUInt16LE(0x3e)
  if (!shoff || shstrndx >= shnum) return null
  const sec = (i) => shoff + i * shentsize
  const strOff = Number(b.readBigUInt64LE(sec(shstrndx) + 0x18))
  for (let i = 0; i < shnum; i++) {
    const nameOff = strOff + b.readUInt32LE(sec(i))
    const name = b.toString('latin1', nameOff, b.indexOf(0, nameOff))
    if (name.startsWith('.debug_')) return true
  }
  return false
}

function machineInfo() {
  const cpus = os.cpus()
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  }
}

async function createContext(opts, log) {
  const argondb = await loadArgondb(log)
  const ctx = {
    opts,
    log,
    argondb,
    api: apiFeatures(argondb),
    fixtures: new Map(),
    machine: machineInfo(),
    build: buildInfo(),
    databases: [],
    closers: [],
  }
  const tag = `${Date.now().toString(36)}${process.pid.toString(36)}`
  let n = 0
  ctx.dbName = (purpose) => {
    const name = `bench_${tag}_${n++}_${purpose}`.slice(0, 60)
    ctx.databases.push(name)
    return name
  }

  let uri = process.env.MONGODB_URI
  let serverPid = null
  if (!uri) {
    const { startServer } = require(path.join(ROOT, 'scripts', 'test-server.js'))
    const srv = await startServer({ cacheSize: opts.cacheSize })
    uri = srv.uri
    serverPid = srv.pid
    ctx.stopServer = srv.stop
    createContext.onServer?.(srv)
    log(`started secantusd-rs pid ${srv.pid} at ${uri}`)
  } else {
    log(`using MONGODB_URI (round-trip counts assume no other client is active on it)`)
  }
  ctx.uri = uri
  ctx.serverPid = serverPid
  ctx.localServer = serverPid != null

  ctx.admin = await MongoClient.connect(uri)
  const bi = await ctx.admin.db('admin').command({ buildInfo: 1 })
  ctx.server = {
    local: ctx.localServer,
    version: bi.version ?? null,
    secantusVersion: bi.secantusVersion ?? null,
    allocator: bi.allocator ?? null,
  }
  ctx.machine.serverVersion = ctx.server.secantusVersion ? `${ctx.server.version} (secantusd-rs ${ctx.server.secantusVersion})` : ctx.server.version

  // Timed connections: the plain driver client (no monitoring) and one Argon per project.
  const timedClient = await MongoClient.connect(uri)
  const argons = new Map()
  // `extra` connect options (e.g. `{ metrics: false }`) get an Argon of their own.
  const argonFor = (u, cache) => async (db, extra = {}) => {
    const key = `${db} ${JSON.stringify(extra)}`
    if (!cache.has(key)) cache.set(key, await argondb.Argon.connect(u, { database: db, serverSelectionTimeoutMs: 10000, ...extra }))
    return cache.get(key)
  }
  ctx.direct = { client: timedClient, argon: argonFor(uri, argons) }

  // Round-trip counting.
  const counter = await new ServerCounter(ctx.admin, serverPid).init()
  let rtUri = uri
  let rtArgon = ctx.direct.argon
  if (counter.usable && !opts.rtProxy) {
    ctx.counter = counter
    ctx.counterMethod = counter.hasCommands ? 'serverStatus.metrics.commands' : 'serverStatus.network.numRequests'
  } else {
    const u = new URL(uri.replace(/^mongodb:\/\//, 'http://'))
    const proxy = await new CountingProxy(u.hostname, Number(u.port || 27017)).start()
    ctx.closers.push(() => proxy.stop())
    ctx.counter = proxy
    ctx.counterMethod = 'loopback proxy (request messages)'
    rtUri = proxy.uriFor(uri)
    const proxied = new Map()
    ctx.closers.push(async () => {
      for (const a of proxied.values()) await a.close().catch(() => {})
    })
    rtArgon = argonFor(rtUri, proxied)
  }
  const rtClient = await MongoClient.connect(rtUri, { monitorCommands: true })
  ctx.driverCounter = new DriverCounter(rtClient)
  ctx.rt = { client: rtClient, argon: rtArgon }
  ctx.rtUri = rtUri

  ctx.close = async () => {
    for (const c of ctx.closers.reverse()) await c().catch(() => {})
    for (const a of argons.values()) await a.close().catch(() => {})
    if (!ctx.localServer && !opts.keep) {
      for (const db of ctx.databases) await ctx.admin.db(db).dropDatabase().catch(() => {})
    }
    await rtClient.close().catch(() => {})
    await timedClient.close().catch(() => {})
    await ctx.admin.close().catch(() => {})
    if (ctx.stopServer) await ctx.stopServer()
  }
  return ctx
}

module.exports = { createContext, loadArgondb, apiFeatures, machineInfo, addonStamp, hasDebugSections }
