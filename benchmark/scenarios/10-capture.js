'use strict'
/**
 * 10. Existing data and outside writers (issue 12).
 *  - The capture barrier's cost: findOne by _id on a child branch (1% changed) and a
 *    past read of main, with capture on (the default) against the same project opened with
 *    `capture: 'off'` in the same run; the ratio is the barrier's price.
 *  - Capture lag: an outside client (the official driver) writes at a paced rate
 *    (500 writes/s in a full run) while one Argon process captures; lag is the time from
 *    the outside write (its change event's wallTime) to the commit of its WAL record (`t`),
 *    both from the server's clock. Target: p99 under 1 s.
 */
const { compare, row, targets } = require('../lib/harness')
const { quantile } = require('../lib/stats')
const { COLL, baseProject, pick } = require('../lib/fixtures')
const { childWithChanges } = require('./02-reads-branch')

async function offArgon(ctx, db, cache) {
  if (!cache.has(db)) cache.set(db, await ctx.argondb.Argon.connect(ctx.uri, { database: db, capture: 'off', serverSelectionTimeoutMs: 10000 }))
  return cache.get(db)
}

async function barrierCases(ctx) {
  const fx = await baseProject(ctx, 'reads', ctx.opts.docs)
  const child = await childWithChanges(ctx, fx, 'feature', 0.01)
  const n = fx.n
  const off = new Map()
  ctx.closers.push(async () => { for (const a of off.values()) await a.close() })
  const info = await (await ctx.direct.argon(fx.db)).timeTravelInfo('main')
  const past = Math.max(1, Math.floor(info.latestLsn / 2))
  const rows = []
  for (const [id, name, view] of [
    ['child-findOne', 'findOne by _id on a child (1% changed)', (a) => a.branch(child.name)],
    ['past-findOne', `findOne by _id on main at LSN ${past}`, (a) => a.branch('main').at(past)],
  ]) {
    rows.push(
      await compare(ctx, {
        scenario: '10',
        id: `barrier-${id}`,
        name: `${name}: capture on vs capture off`,
        ours: async (h) => { const c = view(await h.argon(fx.db)).collection(COLL); return (i) => c.findOne({ _id: pick(i, n) }) },
        base: async () => { const c = view(await offArgon(ctx, fx.db, off)).collection(COLL); return (i) => c.findOne({ _id: pick(i, n) }) },
        ops: ctx.opts.readOps,
        rtOps: ctx.opts.rtReadOps,
        target: targets.info('info (barrier cost)'),
        params: { docs: n, baseline: "the same Argon read with capture: 'off'" },
        notes: ['the barrier is one change-stream aggregate (plus an unawaited killCursors) when nothing is pending'],
      }),
    )
  }
  return rows
}

async function lagCase(ctx) {
  const rate = ctx.opts.quick ? 200 : 500
  const seconds = ctx.opts.quick ? 2 : 10
  const db = ctx.dbName('capture')
  const argon = await ctx.direct.argon(db) // the capturing process (capture: 'auto')
  await argon.branch('main').collection('outside').insertOne({ _id: 'seed' })
  const outside = ctx.direct.client.db(db).collection('outside')
  ctx.log(`  capture lag: ${rate} outside writes/s for ${seconds} s`)
  const total = rate * seconds
  const t0 = Date.now()
  const inflight = []
  let changes = 0
  // An update can overtake the insert it follows (replies are not awaited one by one):
  // count the writes that changed a document, one change event each.
  const counted = (p) => p.then((r) => { if (r.insertedId !== undefined || r.modifiedCount === 1) changes++ })
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate
    const wait = due - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    // Paced, not waiting for each reply: a steady offered load like an independent service.
    inflight.push(counted(i % 3 === 0 ? outside.insertOne({ _id: i, n: 0 }) : outside.updateOne({ _id: i - (i % 3) }, { $inc: { n: 1 } })))
    if (inflight.length > 64) await inflight.shift()
  }
  await Promise.all(inflight)
  const achieved = total / ((Date.now() - t0) / 1000)
  const wal = ctx.direct.client.db(db).collection('__argon.wal')
  const end = Date.now() + 60_000
  let recs
  for (;;) {
    recs = await wal.find({ c: 'outside', x: true }, { projection: { t: 1, w: 1 } }).toArray()
    if (recs.length >= changes || Date.now() > end) break
    await new Promise((r) => setTimeout(r, 100))
  }
  const lags = recs.filter((r) => r.w && r.t).map((r) => r.t.getTime() - r.w.getTime())
  const p50 = quantile(lags, 0.5)
  const p99 = quantile(lags, 0.99)
  const max = lags.length ? Math.max(...lags) : NaN
  return row({
    scenario: '10',
    id: 'capture-lag',
    name: `capture lag p99, ${rate} outside writes/s`,
    unit: 'ms',
    // The row's "median" column shows the p99 (the target); min..max are p50..max.
    ours: { median: p99, min: p50, max, n: lags.length, roundMedians: [] },
    baseline: null,
    ratio: null,
    target: targets.absAtMost(1000, 'p99 < 1000 ms'),
    params: { rate, achievedRate: Math.round(achieved), writes: total, changes, captured: recs.length, lagP50Ms: p50, lagP99Ms: p99, lagMaxMs: max },
    notes: [`captured ${recs.length} of ${changes} changes (${total} writes); p50 ${p50} ms, p99 ${p99} ms, max ${max} ms (server clock, ms resolution)`],
  })
}

module.exports = {
  number: 10,
  name: 'capture',
  title: 'existing data and outside writers: barrier cost, capture lag',
  async run(ctx) {
    const rows = await barrierCases(ctx)
    rows.push(await lagCase(ctx))
    return rows
  },
}
