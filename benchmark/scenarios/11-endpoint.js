'use strict'
/**
 * 11. The MongoDB endpoint (issue 13): the official driver talking to `argon.serve()` in
 * this process, against the same operation through Argon's JS API (target: the endpoint
 * adds at most 0.3 ms per operation at the median); the same through `argon serve` in its
 * own process (info: on a 2-core machine the server, the endpoint and the client then
 * compete for the cores); and beside the raw driver on a plain collection (info). Round
 * trips are counted on the server.
 */
const { startServe } = require('../../scripts/serve-process')
const { MongoClient } = require('mongodb')
const { compare, targets } = require('../lib/harness')
const { COLL, K, baseProject, pick } = require('../lib/fixtures')

module.exports = {
  number: 11,
  name: 'endpoint',
  title: 'the MongoDB endpoint: driver → endpoint → Argon',
  async run(ctx) {
    const fx = await baseProject(ctx, 'reads', ctx.opts.docs)
    const n = fx.n
    const clients = []
    // One endpoint per Argon handle (timed and round-trip passes use different handles).
    const endpoints = new Map()
    const viaEndpoint = (make) => async (h) => {
      const argon = await h.argon(fx.db)
      let coll = endpoints.get(argon)
      if (!coll) {
        const ep = await argon.serve({ port: 0 })
        const c = await MongoClient.connect(ep.uri, { maxPoolSize: 10 })
        clients.push(c)
        coll = c.db(argon.database).collection(COLL)
        endpoints.set(argon, coll)
      }
      return make(coll)
    }
    // `argon serve` in a child process.
    const served = await startServe({ uri: ctx.uri, db: fx.db })
    const child = served.child
    const outOfProcess = await MongoClient.connect(served.branches.main, { maxPoolSize: 10 })
    clients.push(outOfProcess)
    const viaServe = (make) => async () => make(outOfProcess.db().collection(COLL))
    const viaApi = (make) => async (h) => make((await h.argon(fx.db)).branch('main').collection(COLL))
    const raw = (make) => async (h) => make(h.client.db(fx.rawDb).collection(COLL))
    const findOne = (c) => (i) => c.findOne({ _id: pick(i, n) })
    const find20 = (c) => (i) => c.find({ k: pick(i, K, 1) }).limit(20).toArray()
    let next = 10_000_000
    const insertOne = (c) => () => c.insertOne({ _id: next++, k: 1, pad: 'x' })
    const rows = []
    try {
      const cases = [
        ['findOne-by-id', 'findOne by _id (main)', findOne, ctx.opts.readOps, ctx.opts.rtReadOps],
        ['find-indexed-limit20', 'find({k}).limit(20) (main)', find20, ctx.opts.readOps, ctx.opts.rtReadOps],
        ['insertOne', 'insertOne (main)', insertOne, ctx.opts.writeOps, ctx.opts.rtWriteOps],
      ]
      for (const [id, name, make, ops, rtOps] of cases) {
        rows.push(
          await compare(ctx, {
            scenario: '11',
            id: `serve-vs-api-${id}`,
            name: `${name}: argon serve vs JS API`,
            ours: viaServe(make),
            base: viaApi(make),
            ops,
            rtOps,
            baselineOnServer: true,
            target: targets.info(),
            params: { docs: n, baseline: 'the same call through the JS API', endpoint: 'argon serve, a separate process' },
          }),
        )
        rows.push(
          await compare(ctx, {
            scenario: '11',
            id: `endpoint-vs-api-${id}`,
            name: `${name}: argon.serve() in-process vs JS API`,
            ours: viaEndpoint(make),
            base: viaApi(make),
            ops,
            rtOps,
            target: targets.addsAtMost(300, '+≤300 µs'),
            baselineOnServer: true,
            params: { docs: n, baseline: 'the same call through the JS API', endpoint: 'argon.serve(), in this process' },
          }),
        )
        if (id !== 'insertOne') {
          rows.push(
            await compare(ctx, {
              scenario: '11',
              id: `endpoint-vs-driver-${id}`,
              name: `${name}: argon.serve() in-process vs raw driver`,
              ours: viaEndpoint(make),
              base: raw(make),
              ops,
              rtOps,
              target: targets.info(),
              params: { docs: n },
            }),
          )
        }
      }
    } finally {
      for (const c of clients) await c.close().catch(() => {})
      child.kill('SIGTERM')
    }
    return rows
  },
}
