'use strict'
/**
 * Reads below main's head are made of parts (each level's head rows, the versions it
 * superseded since its cut, each ancestor level). A write that commits between two parts
 * could make a read return a document twice or miss it. Bounded reads (a limit; counts)
 * read every part in one snapshot, so under concurrent writes to the very documents they
 * select they still return each document exactly once, and a read at a fixed LSN returns
 * the same result every time (ARCHITECTURE.md, invariant 13).
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { serverAndDriver, connect, freshDb, rng } = require('./helpers')

const env = serverAndDriver()
const DOCS = 300
const RUN_MS = 2500

/** Runs `writers` concurrent loops of `write(random)` until `stop()` is true. */
function writeWhile(stop, writers, seed, write) {
  const r = rng(seed)
  return Promise.all(Array.from({ length: writers }, async () => {
    let n = 0
    while (!stop()) {
      await write(r)
      n += 1
    }
    return n
  })).then((counts) => counts.reduce((a, b) => a + b, 0))
}

const ids = (docs) => docs.map((d) => d._id)

test('a read at a fixed LSN returns the same result while the documents it selects are rewritten', { timeout: 120_000 }, async () => {
  const argon = await connect(env.srv.uri, freshDb('snap-past'))
  try {
    const items = argon.branch('main').collection('items')
    await items.createIndex({ k: 1 })
    await items.insertMany(Array.from({ length: DOCS }, (_, i) => ({ _id: i, k: i % 10, n: 0 })))
    // A few versions already superseded, so the read needs both parts.
    for (let i = 0; i < DOCS; i += 7) await items.updateOne({ _id: i }, { $inc: { n: 1 } })
    const L = (await argon.branchInfo('main')).headLsn
    const past = argon.branch('main').at(L).collection('items')
    const expected = await past.find({ k: 3 }).sort({ _id: 1 }).limit(100).toArray()
    assert.equal(expected.length, DOCS / 10)
    const expectedOne = await past.findOne({ k: 3 }, { sort: { _id: 1 } })

    let done = false
    const stop = () => done
    const writes = writeWhile(stop, 8, 11, (r) => {
      // Rewrite the documents the read selects (k: 3) most of the time.
      const k = r() < 0.8 ? 3 : Math.floor(r() * 10)
      const id = k + 10 * Math.floor(r() * (DOCS / 10))
      return items.updateOne({ _id: id }, { $inc: { n: 1 } })
    })
    const deadline = Date.now() + RUN_MS
    let reads = 0
    try {
      while (Date.now() < deadline) {
        const [sorted, unsorted, count, one] = await Promise.all([
          past.find({ k: 3 }).sort({ _id: 1 }).limit(100).toArray(),
          past.find({ k: 3 }).limit(100).toArray(),
          past.countDocuments({ k: 3 }),
          past.findOne({ k: 3 }, { sort: { _id: 1 } }),
        ])
        assert.deepEqual(sorted, expected, `read ${reads}: the sorted read changed`)
        assert.deepEqual(ids(unsorted).sort((a, b) => a - b), ids(expected), `read ${reads}: the unsorted read changed`)
        assert.equal(count, expected.length, `read ${reads}: the count changed`)
        assert.deepEqual(one, expectedOne)
        reads += 1
      }
    } finally {
      done = true
      await writes.catch(() => {})
    }
    const n = await writes
    assert.ok(n > 50, `writers made ${n} writes`)
    assert.ok(reads > 5, `${reads} reads`)
  } finally {
    await argon.close()
  }
})

test('a child read returns each document once while the child rewrites what it inherited', { timeout: 120_000 }, async () => {
  const argon = await connect(env.srv.uri, freshDb('snap-child'))
  try {
    const main = argon.branch('main').collection('items')
    await main.insertMany(Array.from({ length: DOCS }, (_, i) => ({ _id: i, k: i % 10, n: 0 })))
    await argon.createBranch('feature', { from: 'main' })
    const child = argon.branch('feature').collection('items')
    // Writes move documents from the inherited level to the child's own head (first
    // touches), and deletes on main must not show through (main is past the fork).
    let done = false
    const stop = () => done
    let touched = 0
    const writes = writeWhile(stop, 8, 12, async (r) => {
      const id = Math.floor(r() * DOCS)
      if (r() < 0.1) return main.updateOne({ _id: id }, { $inc: { n: 100 } })
      await child.updateOne({ _id: id }, { $inc: { n: 1 } })
      touched += 1
    })
    const deadline = Date.now() + RUN_MS
    let reads = 0
    try {
      while (Date.now() < deadline) {
        const [all, some, count, countK] = await Promise.all([
          child.find({}).limit(DOCS + 10).toArray(),
          child.find({ k: 3 }).sort({ _id: 1 }).limit(100).toArray(),
          child.countDocuments({}),
          child.countDocuments({ k: 3 }),
        ])
        const seen = ids(all)
        assert.equal(new Set(seen).size, seen.length, `read ${reads}: a document came back twice`)
        assert.equal(seen.length, DOCS, `read ${reads}: ${DOCS - seen.length} documents missing`)
        assert.deepEqual(ids(some), Array.from({ length: DOCS / 10 }, (_, i) => 3 + 10 * i))
        assert.equal(count, DOCS)
        assert.equal(countK, DOCS / 10)
        // Nothing of main's writes after the fork shows on the child.
        for (const d of all) assert.ok(d.n < 100, `read ${reads}: main's write leaked into the child`)
        reads += 1
      }
    } finally {
      done = true
      await writes.catch(() => {})
    }
    await writes
    assert.ok(touched > 50, `child writes: ${touched}`)
    assert.ok(reads > 5, `${reads} reads`)
  } finally {
    await argon.close()
  }
})
