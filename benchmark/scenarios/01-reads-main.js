'use strict'
/**
 * 1. Reads on `main` at its head: findOne by _id, and find on an indexed field with
 * limit(20). Ours reads the user's collection directly (a plain find); the baseline is
 * the official driver on a plain collection holding the same documents.
 */
const { compare, targets } = require('../lib/harness')
const { COLL, K, baseProject, pick } = require('../lib/fixtures')

async function readCases(ctx, { scenario, fx, branch, target, label }) {
  const n = fx.n
  const ours = (make) => async (h) => make((await h.argon(fx.db)).branch(branch).collection(COLL))
  const base = (make) => async (h) => make(h.client.db(fx.rawDb).collection(COLL))
  // sanity: both sides return the same document before anything is timed
  const probe = await (await ctx.direct.argon(fx.db)).branch(branch).collection(COLL).findOne({ _id: 7 })
  if (!probe || probe._id !== 7) throw new Error(`findOne on ${branch} returned ${JSON.stringify(probe)}`)
  const rows = []
  rows.push(
    await compare(ctx, {
      scenario,
      id: 'findOne-by-id',
      name: `findOne by _id (${label})`,
      ours: ours((c) => (i) => c.findOne({ _id: pick(i, n) })),
      base: base((c) => (i) => c.findOne({ _id: pick(i, n) })),
      ops: ctx.opts.readOps,
      rtOps: ctx.opts.rtReadOps,
      target,
      params: { docs: n, branch },
    }),
  )
  rows.push(
    await compare(ctx, {
      scenario,
      id: 'find-indexed-limit20',
      name: `find({k}).limit(20) (${label})`,
      ours: ours((c) => (i) => c.find({ k: pick(i, K, 1) }).limit(20).toArray()),
      base: base((c) => (i) => c.find({ k: pick(i, K, 1) }).limit(20).toArray()),
      ops: ctx.opts.readOps,
      rtOps: ctx.opts.rtReadOps,
      target,
      params: { docs: n, branch, matchesPerKey: Math.floor(n / K) },
    }),
  )
  return rows
}

module.exports = {
  number: 1,
  name: 'reads-main',
  title: 'reads on main at head',
  async run(ctx) {
    const fx = await baseProject(ctx, 'reads', ctx.opts.docs)
    const rows = await readCases(ctx, { scenario: '1', fx, branch: 'main', target: targets.atMost(1.1), label: 'main' })
    // What operations cost (issue 8): the same findOne with metrics recorded and the
    // monitor checking every second, against metrics and monitor off.
    const n = fx.n
    const side = (extra) => async (h) => {
      const c = (await h.argon(fx.db, extra)).branch('main').collection(COLL)
      return (i) => c.findOne({ _id: pick(i, n) })
    }
    rows.push(
      await compare(ctx, {
        scenario: '1',
        id: 'findOne-ops-overhead',
        name: 'findOne by _id (main): metrics + monitor on vs off',
        ours: side({ monitor: { intervalMs: 1000 } }),
        base: side({ metrics: false, monitor: false }),
        ops: ctx.opts.readOps,
        rtOps: ctx.opts.rtReadOps,
        target: targets.atMost(1.03),
        baselineOnServer: true,
        params: { docs: n, baseline: 'argondb with { metrics: false, monitor: false }' },
      }),
    )
    return rows
  },
  readCases,
}
