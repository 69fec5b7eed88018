'use strict'
/**
 * 7. createBranch with 1k, 100k and 1M documents in `main` (quick: smaller). Creating a
 * branch must be a metadata write whose cost does not depend on the data: target ≤ 5 ms
 * median at every size, and the same median at the largest and the smallest size
 * (±20%, the noise of this machine). All sizes alternate in the same rounds.
 *
 * Baseline: the cheapest possible metadata write with the driver, one insertOne of a
 * small branch-like record into a plain collection. It gives the ratio column a floor to
 * compare with; the targets themselves are absolute.
 *
 * When `createBranch(name, { from, at })` is available, one more row forks the largest
 * project at its halfway LSN.
 */
const { alternate, costs, row, skippedRow, targets } = require('../lib/harness')
const { mainDocs } = require('../lib/fixtures')

const fmtN = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1000 ? `${n / 1000}k` : String(n))
let seq = 0

async function supportsAt(ctx, db) {
  const argon = await ctx.direct.argon(db)
  const info = await argon.branchInfo('main')
  const L = Math.max(1, Math.floor(info.headLsn / 2))
  const name = `probe-at-${seq++}`
  try {
    await argon.createBranch(name, { from: 'main', at: L })
  } catch (e) {
    return { ok: false, why: `createBranch({ at }) failed: ${e.message}` }
  }
  const b = await argon.branchInfo(name)
  await argon.deleteBranch(name).catch(() => {})
  if (b.forkLsn !== L) return { ok: false, why: 'API not available (createBranch { at } was ignored)' }
  return { ok: true, L }
}

module.exports = {
  number: 7,
  name: 'create-branch',
  title: 'createBranch cost vs data size',
  async run(ctx) {
    const sizes = ctx.opts.branchSizes
    const fxs = []
    for (const s of sizes) fxs.push(await mainDocs(ctx, s))
    const rawDb = ctx.dbName('branches_raw')
    const sides = fxs.map((fx) => ({
      key: `ours@${fx.n}`,
      kind: 'latency',
      make: async (h) => {
        const argon = await h.argon(fx.db)
        return () => argon.createBranch(`b${seq++}`, { from: 'main' })
      },
    }))
    const base = {
      key: 'raw insertOne',
      kind: 'latency',
      make: async (h) => {
        const c = h.client.db(rawDb).collection('branches')
        return () => c.insertOne({ _id: `b${seq++}`, parent: 'main', forkLsn: seq, createdAt: new Date(), protected: false })
      },
    }
    ctx.log(`  createBranch with ${sizes.map(fmtN).join(', ')} docs in main`)
    const stats = await alternate(ctx, [...sides, base], { ops: ctx.opts.branchOps, rounds: ctx.opts.rounds })
    const baseStats = stats[sides.length]
    const rows = []
    for (const [j, fx] of fxs.entries()) {
      const c = await costs(ctx, sides[j], j === 0 ? base : null, ctx.opts.branchOps)
      if (j > 0 && rows[0].roundTrips && c.roundTrips) {
        c.roundTrips.baseline = rows[0].roundTrips.baseline
        c.roundTrips.baselineByCommand = rows[0].roundTrips.baselineByCommand
      }
      rows.push(row({ scenario: '7', id: `createBranch@${fx.n}`, name: `createBranch (${fmtN(fx.n)} docs in main)`, unit: 'us', ours: stats[j], baseline: baseStats, target: targets.absAtMost(5000, '≤5 ms'), roundTrips: c.roundTrips, cpu: c.cpu, params: { docsInMain: fx.n } }))
    }
    const first = stats[0]
    const last = stats[sides.length - 1]
    rows.push(row({ scenario: '7', id: 'createBranch-flat', name: `createBranch: ${fmtN(sizes.at(-1))} vs ${fmtN(sizes[0])} docs`, unit: 'us', ours: last, baseline: first, ratio: last.median / first.median, ratioOf: `ours@${sizes.at(-1)}/ours@${sizes[0]}`, target: targets.flat(0.2), notes: ['baseline column = ours at the smallest size'] }))

    // fork at a past LSN, when the API supports it
    const big = fxs.at(-1)
    const probe = await supportsAt(ctx, big.db)
    if (!probe.ok) {
      rows.push(skippedRow({ scenario: '7', id: 'createBranch-at', name: `createBranch at L=head/2 (${fmtN(big.n)} docs)`, reason: probe.why, target: targets.absAtMost(5000, '≤5 ms') }))
    } else {
      const atSide = { key: 'ours-at', kind: 'latency', make: async (h) => { const argon = await h.argon(big.db); return () => argon.createBranch(`a${seq++}`, { from: 'main', at: probe.L }) } }
      const [s, b] = await alternate(ctx, [atSide, base], { ops: ctx.opts.branchOps, rounds: ctx.opts.rounds })
      const c = await costs(ctx, atSide, base, ctx.opts.branchOps)
      rows.push(row({ scenario: '7', id: 'createBranch-at', name: `createBranch at L=head/2 (${fmtN(big.n)} docs)`, unit: 'us', ours: s, baseline: b, target: targets.absAtMost(5000, '≤5 ms'), roundTrips: c.roundTrips, cpu: c.cpu, params: { docsInMain: big.n, at: probe.L } }))
    }
    return rows
  },
}
