'use strict'
/**
 * The measuring core: alternation of sides (ours, baseline, ...) over rounds, the
 * round-trip/CPU pass, and result rows with ratios and targets.
 *
 * A *side* is `{ key, kind, make }`:
 *  - `kind: 'latency'`: `make(h)` resolves to `fn(i)`, one logical operation; every call
 *    is timed on its own (µs).
 *  - `kind: 'throughput'`: `make(h)` resolves to `fn(i)`, one block of work that resolves
 *    to `{ items, ops }`; the block is timed and gives one rate sample (items/s). `ops`
 *    is the number of logical operations in the block (for round trips per operation).
 * `h` is a handle set: `{ client, argon(db) }`. Timed runs get `ctx.direct`; the
 * round-trip pass gets `ctx.rt` (the same connections, or ones through the counting
 * proxy), so a scenario builds its operations from whatever it is handed.
 */
const { summarize, median } = require('./stats')
const { selfCpuNs } = require('./roundtrips')

const nowNs = () => process.hrtime.bigint()

/**
 * One block: `count` timed calls, but a latency block stops early once it has run for
 * `budget.ms` and has at least `budget.minOps` samples (slow cases, e.g. reads over a
 * long history, would otherwise take hours).
 */
async function runBlock(kind, fn, count, next, budget = null) {
  const samples = []
  if (kind === 'latency') {
    const start = nowNs()
    for (let k = 0; k < count; k++) {
      const i = next()
      const t0 = nowNs()
      await fn(i)
      const t1 = nowNs()
      samples.push(Number(t1 - t0) / 1000)
      if (budget && samples.length >= budget.minOps && Number(t1 - start) / 1e6 > budget.ms) break
    }
  } else {
    for (let k = 0; k < count; k++) {
      const i = next()
      const t0 = nowNs()
      const r = await fn(i)
      const s = Number(nowNs() - t0) / 1e9
      samples.push(r.items / s)
    }
  }
  return samples
}

/**
 * Runs every side `rounds` times, alternating: even rounds in the given order, odd rounds
 * reversed (A B, B A, A B, ... for two sides), after one warm-up block per side.
 * `ops` is the number of operations (latency) or blocks (throughput) per side per round.
 */
async function alternate(ctx, sides, { ops, rounds, warmup }) {
  const fns = []
  for (const s of sides) fns.push(await s.make(ctx.direct))
  let counter = 0
  const next = () => counter++
  const w = warmup ?? Math.max(1, Math.ceil(ops / 4))
  const budget = { ms: ctx.opts.blockMs, minOps: ctx.opts.minOps }
  const warmBudget = { ms: ctx.opts.blockMs / 4, minOps: 1 }
  for (const [j, s] of sides.entries()) if (w > 0) await runBlock(s.kind, fns[j], w, next, warmBudget)
  const acc = sides.map(() => ({ samples: [], roundMedians: [] }))
  for (let r = 0; r < rounds; r++) {
    const order = sides.map((_, j) => j)
    if (r % 2 === 1) order.reverse()
    for (const j of order) {
      const s = await runBlock(sides[j].kind, fns[j], ops, next, budget)
      acc[j].samples.push(...s)
      acc[j].roundMedians.push(median(s))
    }
  }
  return sides.map((_, j) => summarize(acc[j].samples, acc[j].roundMedians))
}

/**
 * The cost pass of one side: `n` operations (or blocks) through `ctx.rt`, with no other
 * client active, counting server requests, driver commands and CPU.
 */
async function costPass(ctx, side, n) {
  const fn = await side.make(ctx.rt)
  let i = 5_000_000 + Math.floor(Math.random() * 1_000_000)
  // one untimed call first: connections, branch metadata and head caches are warm
  if (side.kind === 'latency') await fn(i++)
  else await fn(i++)
  const a = await ctx.counter.snapshot()
  ctx.driverCounter.start()
  const c0 = selfCpuNs()
  const t0 = nowNs()
  let ops = 0
  for (let k = 0; k < n; k++) {
    if (side.kind === 'latency') {
      await fn(i++)
      ops += 1
      // same budget as a timed block: slow cases stop after minOps once over time
      if (ops >= ctx.opts.minOps && Number(nowNs() - t0) / 1e6 > ctx.opts.blockMs) break
    } else {
      ops += (await fn(i++)).ops
    }
  }
  const wallNs = Number(nowNs() - t0)
  const clientNs = selfCpuNs() - c0
  const drv = ctx.driverCounter.stop()
  const b = await ctx.counter.snapshot()
  const srv = ctx.counter.delta(a, b)
  return {
    ops,
    serverRequests: srv.requests,
    serverRawRequests: srv.rawRequests ?? srv.requests,
    heartbeats: srv.heartbeats ?? null,
    serverByCommand: srv.byCommand,
    txnCommitted: srv.txnCommitted,
    txnAborted: srv.txnAborted,
    driverRequests: drv.requests,
    driverByCommand: drv.byCommand,
    clientCpuUsPerOp: clientNs / 1000 / ops,
    serverCpuUsPerOp: srv.serverCpuNs == null ? null : srv.serverCpuNs / 1000 / ops,
    wallUsPerOp: wallNs / 1000 / ops,
  }
}

const per = (x, ops) => (x == null ? null : Math.round((x / ops) * 100) / 100)
const perMap = (m, ops) => Object.fromEntries(Object.entries(m || {}).map(([k, v]) => [k, per(v, ops)]))

/** Round trips and CPU of ours (server-side count) and of the baseline (driver events). */
async function costs(ctx, oursSide, baseSide, n, baselineOnServer = false) {
  if (ctx.opts.noRoundTrips) return { roundTrips: null, cpu: null }
  const o = oursSide ? await costPass(ctx, oursSide, n) : null
  const b = baseSide ? await costPass(ctx, baseSide, n) : null
  const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10)
  return {
    roundTrips: {
      method: ctx.counterMethod,
      ours: o ? per(o.serverRequests, o.ops) : null,
      // A baseline that is not the driver (argondb itself, with other options) is counted on
      // the server, as ours is.
      baseline: b ? per(baselineOnServer ? b.serverRequests : b.driverRequests, b.ops) : null,
      baselineServerSide: b ? per(b.serverRequests, b.ops) : null,
      oursByCommand: o ? perMap(o.serverByCommand, o.ops) : null,
      baselineByCommand: b ? perMap(b.driverByCommand, b.ops) : null,
      oursTxnAbortedPerOp: o ? per(o.txnAborted, o.ops) : null,
      heartbeatsExcluded: { ours: o?.heartbeats ?? null, baseline: b?.heartbeats ?? null },
      numRequestsPerOp: { ours: o ? per(o.serverRawRequests, o.ops) : null, baseline: b ? per(b.serverRawRequests, b.ops) : null },
      passOps: { ours: o?.ops ?? null, baseline: b?.ops ?? null },
    },
    cpu: {
      oursClientUs: o ? r1(o.clientCpuUsPerOp) : null,
      oursServerUs: o ? r1(o.serverCpuUsPerOp) : null,
      baselineClientUs: b ? r1(b.clientCpuUsPerOp) : null,
      baselineServerUs: b ? r1(b.serverCpuUsPerOp) : null,
    },
  }
}

/** Target helpers: ratio bounds, flatness (|r - 1| <= v) and absolute bounds on ours. */
const targets = {
  atMost: (v) => ({ type: 'ratio<=', value: v, text: `≤${v.toFixed(2)}×` }),
  atLeast: (v) => ({ type: 'ratio>=', value: v, text: `≥${v.toFixed(2)}×` }),
  flat: (v) => ({ type: 'within', value: v, text: `±${Math.round(v * 100)}%` }),
  absAtMost: (v, text) => ({ type: 'abs<=', value: v, text }),
  /** ours.median - baseline.median at most `v` (in the row's unit). */
  addsAtMost: (v, text) => ({ type: 'diff<=', value: v, text }),
  info: (text = 'info') => ({ type: 'info', value: null, text }),
}

function evaluate(target, ratio, ours, baseline) {
  if (!target || target.type === 'info' || ours == null) return null
  switch (target.type) {
    case 'ratio<=':
      return ratio <= target.value
    case 'ratio>=':
      return ratio >= target.value
    case 'within':
      return Math.abs(ratio - 1) <= target.value
    case 'abs<=':
      return ours.median <= target.value
    case 'diff<=':
      return baseline ? ours.median - baseline.median <= target.value : null
    default:
      return null
  }
}

/**
 * A result row. `unit` is the unit of medians ('us' latency, 'docs/s', 'ops/s', 'MB');
 * `better` says which direction is good. `ratio` is ours / baseline (for flatness rows,
 * large size / small size).
 */
function row({ scenario, id, name, unit, better = 'lower', ours, baseline, ratio, target, roundTrips = null, cpu = null, params = {}, notes = [], ratioOf = 'ours/baseline' }) {
  const r = ratio ?? (ours && baseline ? ours.median / baseline.median : null)
  const tgt = target ?? targets.info()
  return {
    scenario,
    id,
    case: name,
    unit,
    better,
    ours: ours ?? null,
    baseline: baseline ?? null,
    ratio: r,
    ratioOf,
    target: tgt,
    pass: evaluate(tgt, r, ours, baseline),
    roundTrips,
    cpu,
    params,
    notes,
    skipped: null,
  }
}

function skippedRow({ scenario, id, name, reason, target, params = {} }) {
  return { scenario, id, case: name, unit: null, better: null, ours: null, baseline: null, ratio: null, target: target ?? targets.info(), pass: null, roundTrips: null, cpu: null, params, notes: [], skipped: reason }
}

/**
 * The usual case: one ours side against one baseline side, alternating, then a cost pass.
 * `spec`: { scenario, id, name, kind, unit, better, ours, base, ops, rounds, warmup,
 *           rtOps, target, params, notes }
 */
async function compare(ctx, spec) {
  const kind = spec.kind || 'latency'
  const sides = [
    { key: 'ours', kind, make: spec.ours },
    { key: 'baseline', kind, make: spec.base },
  ]
  ctx.log(`  ${spec.name}`)
  const [ours, baseline] = await alternate(ctx, sides, { ops: spec.ops, rounds: spec.rounds ?? ctx.opts.rounds, warmup: spec.warmup })
  const c = await costs(ctx, sides[0], sides[1], spec.rtOps ?? (kind === 'latency' ? 50 : 1), spec.baselineOnServer)
  const better = spec.better || (kind === 'latency' ? 'lower' : 'higher')
  return row({ ...spec, unit: spec.unit || (kind === 'latency' ? 'us' : 'items/s'), better, ours, baseline, roundTrips: c.roundTrips, cpu: c.cpu })
}

module.exports = { alternate, costPass, costs, compare, row, skippedRow, targets, evaluate }
