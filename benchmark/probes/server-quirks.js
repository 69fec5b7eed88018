#!/usr/bin/env node
'use strict'
/**
 * Reproduces the test-server properties cited in docs/benchmarks.md ("Reading the
 * numbers") with plain collections and the official driver, no argon involved:
 *   1. equality on an index prefix + a predicate no index covers, with a second index
 *      sharing the prefix, costs time in proportion to the collection;
 *   2. a hint()ed indexed query costs time in proportion to the collection;
 *   3. an indexed equality inside a $unionWith sub-pipeline costs time in proportion to
 *      the unioned collection.
 * Each probe runs at two sizes; a time that grows about as fast as the size is linear.
 *
 *   node benchmark/probes/server-quirks.js [sizeA sizeB]     (default 10000 40000)
 *
 * Uses $MONGODB_URI, or starts (and stops) a local secantusd-rs.
 */
const path = require('node:path')
const { MongoClient } = require('mongodb')

async function timeIt(f, n = 10) {
  await f()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await f()
  return Number(process.hrtime.bigint() - t0) / n / 1e6
}

async function main() {
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0)
  if (sizes.length < 2) sizes.splice(0, sizes.length, 10_000, 40_000)
  let srv = null
  let uri = process.env.MONGODB_URI
  if (!uri) {
    srv = await require(path.join(__dirname, '..', '..', 'scripts', 'test-server.js')).startServer()
    uri = srv.uri
  }
  const client = await MongoClient.connect(uri)
  const db = client.db(`probe_${process.pid}`)
  try {
    const rows = []
    for (const n of sizes) {
      const c = db.collection(`c${n}`)
      const small = db.collection(`s${n}`)
      await c.createIndex({ b: 1, c: 1, k: 1, _id: -1 }, { name: 'bck' })
      await c.createIndex({ b: 1, _id: -1 }, { name: 'b_id' })
      for (let i = 0; i < n; i += 5000) await c.insertMany(Array.from({ length: Math.min(5000, n - i) }, (_, j) => ({ _id: i + j, b: 0, c: 'c', k: i + j })))
      await small.insertOne({ _id: 1 })
      const eq = { b: 0, c: 'c', k: 5 }
      rows.push({
        docs: n,
        'indexed equality': await timeIt(() => c.find(eq).toArray()),
        '+ uncovered predicate': await timeIt(() => c.find({ ...eq, zz: { $exists: false } }).toArray()),
        'hint(bck)': await timeIt(() => c.find(eq).hint('bck').toArray()),
        '_id equality': await timeIt(() => c.find({ _id: 5 }).toArray()),
        '_id equality in $unionWith': await timeIt(() => small.aggregate([{ $match: { _id: 1 } }, { $unionWith: { coll: `c${n}`, pipeline: [{ $match: { _id: 5 } }] } }]).toArray()),
      })
    }
    const keys = Object.keys(rows[0]).filter((k) => k !== 'docs')
    console.log(`${'query (ms per call)'.padEnd(30)}${rows.map((r) => `${r.docs} docs`.padStart(14)).join('')}   growth`)
    for (const k of keys) {
      const g = rows.at(-1)[k] / rows[0][k]
      console.log(`${k.padEnd(30)}${rows.map((r) => r[k].toFixed(2).padStart(14)).join('')}   ${g.toFixed(1)}× (size ${(rows.at(-1).docs / rows[0].docs).toFixed(1)}×)`)
    }
  } finally {
    await db.dropDatabase().catch(() => {})
    await client.close()
    if (srv) await srv.stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
