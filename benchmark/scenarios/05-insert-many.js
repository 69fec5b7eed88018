'use strict'
/**
 * 5. insertMany in batches of 1,000 documents: throughput in documents per second. A
 * block is `--insert-batches` consecutive insertMany calls; each round times one block
 * per side. Ours writes one transaction per batch (head rows + WAL records).
 */
const { compare, targets } = require('../lib/harness')
const { COLL, range } = require('../lib/fixtures')

const BATCH = 1000
let nextId = 200_000_000

module.exports = {
  number: 5,
  name: 'insert-many',
  title: 'insertMany in batches of 1,000',
  async run(ctx) {
    const db = ctx.dbName('insertmany')
    const rawDb = ctx.dbName('insertmany_raw')
    const argon = await ctx.direct.argon(db)
    await argon.branch('main').collection(COLL).createIndex({ k: 1 })
    await ctx.direct.client.db(rawDb).collection(COLL).createIndex({ k: 1 })
    const batches = ctx.opts.insertBatches
    const block = (c) => async () => {
      for (let b = 0; b < batches; b++) {
        const start = nextId
        nextId += BATCH
        await c.insertMany(range(start, start + BATCH))
      }
      return { items: batches * BATCH, ops: batches }
    }
    return [
      await compare(ctx, {
        scenario: '5',
        id: 'insertMany-1000',
        name: 'insertMany ×1000 docs (main)',
        kind: 'throughput',
        unit: 'docs/s',
        ours: async (h) => block((await h.argon(db)).branch('main').collection(COLL)),
        base: async (h) => block(h.client.db(rawDb).collection(COLL)),
        ops: 1,
        warmup: 1,
        rtOps: 1,
        target: targets.atLeast(0.5),
        params: { batchSize: BATCH, batchesPerBlock: batches },
        notes: ['round trips are per insertMany call (1,000 documents)'],
      }),
    ]
  },
}
