'use strict'
/**
 * 8. diff and restorePreview cost against the number of changed documents. For each n
 * in --diff-changes (default 10, 100, 1,000), a branch of `main` (--docs documents) gets
 * n documents changed by updateMany; then
 *   - `argon.diff('main', branch)` (what differs between main and the branch), and
 *   - `argon.restorePreview(branch, { to: forkLsn })` (what resetting the branch to its
 *     fork point would change)
 * are timed. Baseline: the driver reading exactly those n documents from a plain
 * collection (`find({_id: {$in: ids}})`), the least work any diff of n documents needs.
 * The cost should grow with n, not with the size of main: the growth row reports
 * ours at the largest n / ours at the smallest n (informational).
 */
const { alternate, costs, row, skippedRow, targets } = require('../lib/harness')
const { COLL, baseProject } = require('../lib/fixtures')

module.exports = {
  number: 8,
  name: 'diff-restore',
  title: 'diff and restorePreview vs number of changed documents',
  async run(ctx) {
    const ns = ctx.opts.diffChanges
    const ops = [
      { id: 'diff', label: "diff('main', branch)", available: ctx.api.diff, api: 'argon.diff' },
      { id: 'restorePreview', label: 'restorePreview(branch, {to: forkLsn})', available: ctx.api.restorePreview, api: 'argon.restorePreview' },
    ]
    if (!ops.some((o) => o.available)) {
      return ops.flatMap((o) => ns.map((n) => skippedRow({ scenario: '8', id: `${o.id}@${n}`, name: `${o.label}, ${n} changed`, reason: `API not available (${o.api})` })))
    }
    const fx = await baseProject(ctx, 'diff', ctx.opts.docs)
    const argon = await ctx.direct.argon(fx.db)
    const branches = []
    for (const n of ns) {
      const name = `d${n}`
      await argon.createBranch(name, { from: 'main' })
      const info = await argon.branchInfo(name)
      const ids = Array.from({ length: n }, (_, j) => Math.floor(((j + 0.5) * fx.n) / n))
      const c = argon.branch(name).collection(COLL)
      for (let j = 0; j < ids.length; j += 500) await c.updateMany({ _id: { $in: ids.slice(j, j + 500) } }, { $inc: { v: 1 } })
      branches.push({ n, name, forkLsn: info.forkLsn, ids })
    }
    // sanity: both report exactly the n changed documents
    for (const b of branches) {
      if (ctx.api.diff) {
        const d = await argon.diff('main', b.name)
        if (d.changed + d.added + d.removed !== b.n) throw new Error(`diff('main', ${b.name}) = ${JSON.stringify(d)}, expected ${b.n} changes`)
      }
      if (ctx.api.restorePreview) {
        const p = await argon.restorePreview(b.name, { to: b.forkLsn })
        if (p.changed + p.added + p.removed !== b.n) throw new Error(`restorePreview(${b.name}) = ${JSON.stringify(p)}, expected ${b.n} changes`)
      }
    }
    const rows = []
    for (const o of ops) {
      if (!o.available) {
        for (const n of ns) rows.push(skippedRow({ scenario: '8', id: `${o.id}@${n}`, name: `${o.label}, ${n} changed`, reason: `API not available (${o.api})` }))
        continue
      }
      ctx.log(`  ${o.label} for ${ns.join(', ')} changed documents`)
      const sides = []
      for (const b of branches) {
        const call = o.id === 'diff' ? (a) => a.diff('main', b.name) : (a) => a.restorePreview(b.name, { to: b.forkLsn })
        sides.push({ key: `ours@${b.n}`, kind: 'latency', make: async (h) => { const a = await h.argon(fx.db); return () => call(a) } })
        sides.push({ key: `raw@${b.n}`, kind: 'latency', make: async (h) => { const c = h.client.db(fx.rawDb).collection(COLL); return () => c.find({ _id: { $in: b.ids } }).toArray() } })
      }
      const stats = await alternate(ctx, sides, { ops: ctx.opts.diffOps, rounds: ctx.opts.rounds })
      for (const [j, b] of branches.entries()) {
        const c = await costs(ctx, sides[2 * j], sides[2 * j + 1], ctx.opts.diffOps)
        rows.push(row({ scenario: '8', id: `${o.id}@${b.n}`, name: `${o.label}, ${b.n} changed`, unit: 'us', ours: stats[2 * j], baseline: stats[2 * j + 1], target: targets.info(), roundTrips: c.roundTrips, cpu: c.cpu, params: { changed: b.n, docsInMain: fx.n, perChangedDocUs: stats[2 * j].median / b.n } }))
      }
      const first = stats[0]
      const last = stats[2 * (branches.length - 1)]
      rows.push(row({ scenario: '8', id: `${o.id}-growth`, name: `${o.id}: ${ns.at(-1)} vs ${ns[0]} changed`, unit: 'us', ours: last, baseline: first, ratio: last.median / first.median, ratioOf: `ours@${ns.at(-1)}/ours@${ns[0]}`, target: targets.info(`info (n ×${ns.at(-1) / ns[0]})`), notes: ['baseline column = ours at the smallest n'] }))
    }
    return rows
  },
}
