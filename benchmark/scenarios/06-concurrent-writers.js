'use strict'
/**
 * 6. Concurrent writers: W concurrent updateOne ($inc on random documents) on one branch
 * (`main`) from one process, for W in --writers (default 8 and 32). Throughput in
 * operations per second; a block is W x --ops-per-writer operations. Every argon write
 * increments the one LSN counter document inside its transaction, so concurrent writers
 * conflict there and retry; round trips per operation include those retries, and the
 * cost table shows transactions aborted per operation.
 */
const { compare, targets } = require('../lib/harness')
const { COLL, baseProject, pick } = require('../lib/fixtures')

module.exports = {
  number: 6,
  name: 'concurrent-writers',
  title: 'concurrent updateOne on one branch',
  async run(ctx) {
    const fx = await baseProject(ctx, 'concurrent', ctx.opts.docs)
    const n = fx.n
    const rows = []
    let salt = 10
    for (const w of ctx.opts.writers) {
      const per = ctx.opts.opsPerWriter
      const block = (c) => async (blockNo) => {
        let k = 0
        const s = salt++
        const worker = async () => {
          while (k < w * per) {
            const i = k++
            await c.updateOne({ _id: pick(blockNo * 100000 + i, n, s) }, { $inc: { v: 1 } })
          }
        }
        await Promise.all(Array.from({ length: w }, worker))
        return { items: w * per, ops: w * per }
      }
      rows.push(
        await compare(ctx, {
          scenario: '6',
          id: `concurrent-${w}`,
          name: `${w} concurrent updateOne (main)`,
          kind: 'throughput',
          unit: 'ops/s',
          ours: async (h) => block((await h.argon(fx.db)).branch('main').collection(COLL)),
          base: async (h) => block(h.client.db(fx.rawDb).collection(COLL)),
          ops: 1,
          warmup: 1,
          rtOps: 1,
          target: targets.info(),
          params: { writers: w, opsPerBlock: w * per, docs: n },
        }),
      )
    }
    return rows
  },
}
