'use strict'
/**
 * 3. Reads at an LSN halfway through the history, for histories of several lengths
 * (default 10k, 100k and 1M WAL entries). Each history is N inserts through argon
 * (batches of 1,000) followed by U updates of documents from the first half, so the
 * halfway read must find both head rows written before the cut and closed versions in
 * the WAL. The read is `argon.branch('main').at(L)` where L is the LSN that ended the
 * first N/2 inserts (an insertMany of 1,000 documents is one LSN and 1,000 WAL records,
 * so "halfway" is counted in WAL records, and exactly the _ids < N/2 are alive at L).
 *
 * Baseline: the driver on a plain collection holding the documents alive at L (the first
 * N/2 `_id`s). All sizes and baselines alternate in the same rounds, so the flatness
 * check (largest history vs smallest) compares numbers taken under the same conditions.
 */
const { alternate, costs, row, skippedRow, targets } = require('../lib/harness')
const { COLL, K, mainDocs, lateUpdates, rawDocs, pick } = require('../lib/fixtures')

const fmtN = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1000 ? `${n / 1000}k` : String(n))

module.exports = {
  number: 3,
  name: 'time-travel',
  title: 'reads at an LSN halfway through the history',
  async run(ctx) {
    const sizes = ctx.opts.historySizes
    const cases = ['findOne by _id', 'find({k}).limit(20)']
    if (!ctx.api.branchAt) {
      const rows = []
      for (const c of cases) {
        for (const s of sizes) rows.push(skippedRow({ scenario: '3', id: `${c}@${s}`, name: `${c} at half history (${fmtN(s)} history)`, reason: 'API not available (branch.at)', target: targets.atMost(2) }))
        rows.push(skippedRow({ scenario: '3', id: `${c}-flat`, name: `${c}: ${fmtN(sizes.at(-1))} vs ${fmtN(sizes[0])} history`, reason: 'API not available (branch.at)', target: targets.flat(0.2) }))
      }
      return rows
    }
    const U = ctx.opts.historyUpdates
    const hs = []
    for (const size of sizes) {
      const fx = await lateUpdates(ctx, await mainDocs(ctx, size), U)
      const argon = await ctx.direct.argon(fx.db)
      const tt = await argon.timeTravelInfo('main')
      const L = fx.midLsn
      const half = fx.half
      const raw = await rawDocs(ctx, half)
      // sanity: the past view shows a document of the first half, and an updated document
      // with its value before the update
      const past = argon.branch('main').at(L).collection(COLL)
      const d = await past.findOne({ _id: 1 })
      if (!d || d._id !== 1) throw new Error(`at(${L}).findOne({_id: 1}) returned ${JSON.stringify(d)}`)
      const u = await past.findOne({ _id: fx.updatedIds[0] })
      if (!u || u.v !== 0) throw new Error(`at(${L}) shows the late update of _id ${fx.updatedIds[0]}: ${JSON.stringify(u)}`)
      const late = await past.findOne({ _id: half })
      if (late) throw new Error(`at(${L}) shows a document inserted after L`)
      hs.push({ size, fx, L, half, raw, entries: tt.entries, headLsn: tt.latestLsn })
    }

    const rows = []
    const defs = [
      { id: 'findOne-by-id', name: cases[0], op: (c, i, h) => c.findOne({ _id: pick(i, h.half) }) },
      { id: 'find-indexed-limit20', name: cases[1], op: (c, i) => c.find({ k: pick(i, K, 1) }).limit(20).toArray() },
      // Write cost against the WAL's length: an update at main's head, in each project.
      { id: 'updateOne-head', name: 'updateOne $inc on main', write: true, op: (c, i, h) => c.updateOne({ _id: pick(i, h.half, 3) }, { $inc: { v: 1 } }) },
    ]
    for (const def of defs) {
      const where = def.write ? 'at the head' : 'at half history'
      ctx.log(`  ${def.name} ${where}, histories ${sizes.map(fmtN).join(', ')}`)
      const sides = []
      for (const h of hs) {
        sides.push({ key: `ours@${h.size}`, kind: 'latency', make: async (hd) => { const b = (await hd.argon(h.fx.db)).branch('main'); const c = (def.write ? b : b.at(h.L)).collection(COLL); return (i) => def.op(c, i, h) } })
        sides.push({ key: `raw@${h.size}`, kind: 'latency', make: async (hd) => { const c = hd.client.db(h.raw.rawDb).collection(COLL); return (i) => def.op(c, i, h) } })
      }
      const stats = await alternate(ctx, sides, { ops: ctx.opts.timeTravelOps, rounds: ctx.opts.rounds })
      for (const [j, h] of hs.entries()) {
        const c = await costs(ctx, sides[2 * j], sides[2 * j + 1], def.write ? ctx.opts.rtWriteOps : ctx.opts.rtReadOps)
        rows.push(
          row({
            scenario: '3',
            id: `${def.id}@${h.size}`,
            name: `${def.name} ${where} (${fmtN(h.size)} history)`,
            unit: 'us',
            ours: stats[2 * j],
            baseline: stats[2 * j + 1],
            target: def.write ? targets.info() : targets.atMost(2),
            roundTrips: c.roundTrips,
            cpu: c.cpu,
            params: { historyEntries: h.entries, headLsn: h.headLsn, lsn: h.L, docsAliveAtL: h.half, lateUpdates: U },
          }),
        )
      }
      const first = stats[0]
      const last = stats[2 * (hs.length - 1)]
      rows.push(
        row({
          scenario: '3',
          id: `${def.id}-flat`,
          name: `${def.name}: ${fmtN(sizes.at(-1))} vs ${fmtN(sizes[0])} history`,
          unit: 'us',
          ours: last,
          baseline: first,
          ratio: last.median / first.median,
          ratioOf: `ours@${sizes.at(-1)}/ours@${sizes[0]}`,
          target: targets.flat(0.2),
          params: { sizes },
          notes: ['baseline column = ours on the smallest history'],
        }),
      )
    }
    return rows
  },
}
