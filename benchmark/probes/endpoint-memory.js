#!/usr/bin/env node
'use strict'
/**
 * Probe: does `argon serve` stay flat in memory while a client streams a whole collection
 * through it? Writes N documents (adopted: inserted before Argon first connects), starts
 * `argon serve` as its own process, streams every document with the driver (batchSize
 * 1000), and samples the endpoint process's RSS every 100 ms. Prints the peak RSS for each
 * size; flat means the peak does not grow with N.
 *
 *   node benchmark/probes/endpoint-memory.js [sizes, default 100000,1000000]
 */
const fs = require('node:fs')
const { startServe } = require('../../scripts/serve-process')
const { MongoClient } = require('mongodb')
const { startServer } = require('../../scripts/test-server')

const rssOf = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}

async function main() {
  const sizes = (process.argv[2] || '100000,1000000').split(',').map(Number)
  const srv = process.env.MONGODB_URI ? { uri: process.env.MONGODB_URI, stop: async () => {} } : await startServer({ syncOnCommit: false })
  const raw = await MongoClient.connect(srv.uri)
  try {
    for (const n of sizes) {
      const db = `ep_mem_${n}_${Date.now()}`
      const coll = raw.db(db).collection('docs')
      for (let i = 0; i < n; i += 10000) {
        const batch = []
        for (let j = i; j < Math.min(n, i + 10000); j++) batch.push({ _id: j, k: j % 97, pad: 'x'.repeat(100) })
        await coll.insertMany(batch, { ordered: false })
      }
      const served = await startServe({ uri: srv.uri, db })
      const child = served.child
      const before = rssOf(child.pid)
      let peak = before
      const timer = setInterval(() => (peak = Math.max(peak, rssOf(child.pid))), 100)
      const c = await MongoClient.connect(served.branches.main)
      const t0 = Date.now()
      let count = 0
      for await (const _ of c.db().collection('docs').find({}, { batchSize: 1000 })) count++
      clearInterval(timer)
      peak = Math.max(peak, rssOf(child.pid))
      await c.close()
      child.kill('SIGTERM')
      await raw.db(db).dropDatabase()
      console.log(JSON.stringify({ documents: n, streamed: count, seconds: (Date.now() - t0) / 1000, endpointRssBeforeMB: Math.round(before / 1048576), endpointRssPeakMB: Math.round(peak / 1048576) }))
    }
  } finally {
    await raw.close()
    await srv.stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
