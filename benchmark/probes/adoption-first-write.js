#!/usr/bin/env node
'use strict'
/**
 * Probe: what the first change of an adopted document costs (invariant 24: a write that
 * meets an unstamped row on main waits for capture once, then runs again), against the
 * second change of the same document (stamped: the ordinary write path) and the raw
 * driver's updateOne, in one run. N documents are inserted with the driver before Argon
 * first connects (adopted, capture on).
 *
 *   node benchmark/probes/adoption-first-write.js [n, default 300]
 */
const { MongoClient } = require('mongodb')
const { Argon } = require('../..')
const { startServer } = require('../../scripts/test-server')

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

async function timeEach(n, fn) {
  const out = []
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    await fn(i)
    out.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  return out
}

async function main() {
  const n = Number(process.argv[2] || 300)
  const srv = process.env.MONGODB_URI ? { uri: process.env.MONGODB_URI, stop: async () => {} } : await startServer({ syncOnCommit: false })
  const raw = await MongoClient.connect(srv.uri)
  const db = `adopt_probe_${Date.now()}`
  try {
    const docs = Array.from({ length: n }, (_, i) => ({ _id: i, v: 0 }))
    await raw.db(db).collection('items').insertMany(docs)
    await raw.db(db).collection('plain').insertMany(docs)
    const argon = await Argon.connect(srv.uri, { database: db })
    const items = argon.branch('main').collection('items')
    await items.findOne({ _id: 0 }) // Argon meets the collection; capture starts
    await argon.timeTravelInfo('main')
    const first = await timeEach(n, (i) => items.updateOne({ _id: i }, { $inc: { v: 1 } }))
    const second = await timeEach(n, (i) => items.updateOne({ _id: i }, { $inc: { v: 1 } }))
    const plain = raw.db(db).collection('plain')
    const driver = await timeEach(n, (i) => plain.updateOne({ _id: i }, { $inc: { v: 1 } }))
    const us = (x) => `${Math.round(x)} µs`
    console.log(`adopted documents: ${n}`)
    console.log(`first change of an adopted document (waits for capture once): median ${us(median(first))}`)
    console.log(`second change (stamped row, ordinary path):                median ${us(median(second))}`)
    console.log(`raw driver updateOne:                                      median ${us(median(driver))}`)
    console.log(`first / second: ${(median(first) / median(second)).toFixed(2)}x`)
    await argon.close()
  } finally {
    await raw.db(db).dropDatabase().catch(() => {})
    await raw.close()
    await srv.stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
