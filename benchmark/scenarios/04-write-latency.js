'use strict'
/**
 * 4. insertOne and updateOne latency, on `main` and on a child branch. Each argon write
 * is one transaction (LSN counter, copy-on-write, the update itself, WAL append); the
 * baseline is the driver's plain insertOne / updateOne with its default write concern.
 * Updates `$inc` a random existing document; on the child branch the first update of a
 * document also copies it from main (copy-on-write), as it would in real use.
 */
const { compare, targets } = require('../lib/harness')
const { COLL, baseProject, docFor, pick } = require('../lib/fixtures')
const { childWithChanges } = require('./02-reads-branch')

let nextId = 100_000_000

module.exports = {
  number: 4,
  name: 'write-latency',
  title: 'insertOne / updateOne latency',
  async run(ctx) {
    const fx = await baseProject(ctx, 'writes', ctx.opts.docs)
    const child = await childWithChanges(ctx, fx, 'feature', 0.01)
    const n = fx.n
    const rows = []
    const base = (make) => async (h) => make(h.client.db(fx.rawDb).collection(COLL))
    for (const branch of ['main', child.name]) {
      const label = branch === 'main' ? 'main' : 'child'
      const ours = (make) => async (h) => make((await h.argon(fx.db)).branch(branch).collection(COLL))
      rows.push(
        await compare(ctx, {
          scenario: '4',
          id: `insertOne-${label}`,
          name: `insertOne (${label})`,
          ours: ours((c) => () => c.insertOne(docFor(nextId++))),
          base: base((c) => () => c.insertOne(docFor(nextId++))),
          ops: ctx.opts.writeOps,
          rtOps: ctx.opts.rtWriteOps,
          target: targets.atMost(2.5),
          params: { docs: n, branch },
        }),
      )
      rows.push(
        await compare(ctx, {
          scenario: '4',
          id: `updateOne-${label}`,
          name: `updateOne $inc (${label})`,
          ours: ours((c) => (i) => c.updateOne({ _id: pick(i, n, 2) }, { $inc: { v: 1 } })),
          base: base((c) => (i) => c.updateOne({ _id: pick(i, n, 2) }, { $inc: { v: 1 } })),
          ops: ctx.opts.writeOps,
          rtOps: ctx.opts.rtWriteOps,
          target: targets.atMost(2.5),
          params: { docs: n, branch },
        }),
      )
    }
    return rows
  },
}
