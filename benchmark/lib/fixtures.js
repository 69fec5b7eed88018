'use strict'
/**
 * Benchmark data. Every document is `{ _id: i, k: i % 500, v: 0, s: <100 chars> }`
 * (about 150 bytes of BSON), with an index on `k`; `_id`s are consecutive integers so
 * reads can pick any existing document without a lookup.
 *
 * Fixtures are cached per run: the large "N documents in main" projects are built once
 * and shared by the time-travel (3), createBranch (7) and memory (9) scenarios.
 */
const COLL = 'c'
const K = 500
const PAD = 'x'.repeat(100)

const docFor = (i) => ({ _id: i, k: i % K, v: 0, s: PAD })

function range(from, to) {
  const out = []
  for (let i = from; i < to; i++) out.push(docFor(i))
  return out
}

/** Inserts documents [from, to) through argon in insertMany batches of 1,000. */
async function loadOurs(ctx, coll, from, to, label) {
  const t0 = Date.now()
  let last = t0
  for (let i = from; i < to; i += 1000) {
    await coll.insertMany(range(i, Math.min(to, i + 1000)))
    if (Date.now() - last > 10000) {
      last = Date.now()
      ctx.log(`    ${label}: ${i + 1000 - from}/${to - from} docs (${Math.round((i + 1000 - from) / ((last - t0) / 1000))} docs/s)`)
    }
  }
}

async function loadRaw(coll, from, to) {
  for (let i = from; i < to; i += 5000) await coll.insertMany(range(i, Math.min(to, i + 5000)), { ordered: true })
}

/** A project whose `main` holds `n` documents, and a plain collection with the same ones. */
async function baseProject(ctx, purpose, n) {
  const key = `base:${purpose}:${n}`
  if (ctx.fixtures.has(key)) return ctx.fixtures.get(key)
  const db = ctx.dbName(purpose)
  const rawDb = ctx.dbName(`${purpose}_raw`)
  ctx.log(`  fixture ${purpose}: ${n} docs in main and in a plain collection`)
  const argon = await ctx.direct.argon(db)
  const main = argon.branch('main').collection(COLL)
  await main.createIndex({ k: 1 })
  await loadOurs(ctx, main, 0, n, purpose)
  const raw = ctx.direct.client.db(rawDb).collection(COLL)
  await raw.createIndex({ k: 1 })
  await loadRaw(raw, 0, n)
  const fx = { db, rawDb, n }
  ctx.fixtures.set(key, fx)
  return fx
}

/** A shared project with `n` documents in `main` (no plain copy). */
async function mainDocs(ctx, n) {
  const key = `main:${n}`
  if (ctx.fixtures.has(key)) return ctx.fixtures.get(key)
  const db = ctx.dbName(`m${n}`)
  const t0 = Date.now()
  ctx.log(`  fixture: ${n} docs in main of ${db}`)
  const argon = await ctx.direct.argon(db)
  const main = argon.branch('main').collection(COLL)
  await main.createIndex({ k: 1 })
  // The first half, then the LSN that ends it (the "halfway" point of scenario 3: the
  // documents alive there are exactly _id < n/2), then the second half.
  const half = Math.floor(n / 2)
  await loadOurs(ctx, main, 0, half, db)
  const midLsn = (await argon.branchInfo('main')).headLsn
  await loadOurs(ctx, main, half, n, db)
  const fx = { db, n, half, midLsn, lateUpdates: 0, buildSec: (Date.now() - t0) / 1000 }
  ctx.log(`    built in ${fx.buildSec.toFixed(1)} s (${Math.round(n / fx.buildSec)} docs/s through argon)`)
  ctx.fixtures.set(key, fx)
  return fx
}

/**
 * Appends `u` updateOne writes at the end of a mainDocs history, each to a different
 * document of the first half (ids spread evenly), so a read at the halfway LSN must
 * return closed versions from the WAL. Idempotent per fixture.
 *
 * Why only a few: on this server an update's cost still grows with the WAL's length (see
 * docs/benchmarks.md), so a history of a million updates cannot be built in a run.
 */
async function lateUpdates(ctx, fx, u) {
  if (fx.lateUpdates >= u) return fx
  const argon = await ctx.direct.argon(fx.db)
  const main = argon.branch('main').collection(COLL)
  const half = Math.floor(fx.n / 2)
  const t0 = Date.now()
  for (let j = fx.lateUpdates; j < u; j++) {
    const id = Math.floor(((j + 0.5) * half) / u)
    await main.updateOne({ _id: id }, { $inc: { v: 1 } })
  }
  const sec = (Date.now() - t0) / 1000
  ctx.log(`    ${u - fx.lateUpdates} late updates on ${fx.db} in ${sec.toFixed(1)} s (${((sec * 1000) / Math.max(1, u - fx.lateUpdates)).toFixed(1)} ms each)`)
  fx.lateUpdates = u
  fx.updatedIds = Array.from({ length: u }, (_, j) => Math.floor(((j + 0.5) * half) / u))
  return fx
}

/** A plain collection with documents [0, n), cached. */
async function rawDocs(ctx, n) {
  const key = `raw:${n}`
  if (ctx.fixtures.has(key)) return ctx.fixtures.get(key)
  const rawDb = ctx.dbName(`r${n}`)
  const raw = ctx.direct.client.db(rawDb).collection(COLL)
  await raw.createIndex({ k: 1 })
  await loadRaw(raw, 0, n)
  const fx = { rawDb, n }
  ctx.fixtures.set(key, fx)
  return fx
}

/** Deterministic pseudo-random integer in [0, n) for operation number i. */
function pick(i, n, salt = 0) {
  let x = (i + 1) * 0x9e3779b1 + salt * 0x85ebca6b
  x ^= x >>> 16
  x = Math.imul(x, 0x7feb352d)
  x ^= x >>> 15
  x = Math.imul(x, 0x846ca68b)
  x ^= x >>> 16
  return (x >>> 0) % n
}

module.exports = { COLL, K, docFor, range, loadOurs, loadRaw, baseProject, mainDocs, lateUpdates, rawDocs, pick }
