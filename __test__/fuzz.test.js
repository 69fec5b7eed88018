'use strict'
/**
 * Hostile input (issue 11): random and malformed filters, updates, pipelines, options and
 * documents through the public API, and random bytes at the native boundary. Every call
 * must resolve or reject with a typed error (an Argon code string, or a server code
 * number), the process must survive (no panic reaches Node), and a rejected write must
 * change nothing. Seeded (mulberry32), so a failure names the seed that reproduces it.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { randomBytes } = require('node:crypto')
const { Argon } = require('..')
const { serverAndDriver, freshDb, rng } = require('./helpers')

const env = serverAndDriver()
const SEED = Number(process.env.ARGON_FUZZ_SEED || 20261204)
const ROUNDS = Number(process.env.ARGON_FUZZ_ROUNDS || 300)

/** A random value of any shape, including the awkward ones. */
function value(r, depth = 0) {
  const pick = Math.floor(r() * (depth > 3 ? 8 : 12))
  switch (pick) {
    case 0:
      return null
    case 1:
      return Math.floor(r() * 2 ** 31) * (r() < 0.5 ? -1 : 1)
    case 2:
      return r() < 0.2 ? NaN : r() * 1e300
    case 3:
      return ['', 'a', '$x', 'a.b', '\u0000', '\ud800', 'é'.repeat(Math.floor(r() * 50))][Math.floor(r() * 7)]
    case 4:
      return r() < 0.5
    case 5:
      return new Date(Math.floor(r() * 2 ** 40))
    case 6:
      return undefined
    case 7:
      return /x+/i
    case 8:
      return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1))
    default:
      return object(r, depth + 1)
  }
}

function key(r) {
  const keys = ['a', 'b', '_id', '$set', '$inc', '$gt', '$in', '$where', '$expr', '$bogus', 'a.b', '$', '', '__argon_lsn', 'x'.repeat(200), '\u0000k', '$match', '$group', '$out', '$lookup']
  return keys[Math.floor(r() * keys.length)]
}

function object(r, depth = 0) {
  const o = {}
  const n = Math.floor(r() * 4)
  for (let i = 0; i < n; i++) o[key(r)] = value(r, depth + 1)
  return o
}

function deep(levels) {
  let d = { leaf: 1 }
  for (let i = 0; i < levels; i++) d = { d }
  return d
}

/** Asserts a settled call is a success or a typed error. */
async function settles(what, p) {
  try {
    await p
    return true
  } catch (e) {
    assert.ok(e instanceof Error, `${what}: threw a non-Error ${String(e)}`)
    const typed = (typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code)) || typeof e.code === 'number'
    assert.ok(typed, `${what}: untyped error ${e.name}: ${e.message}`)
    assert.ok(!/panicked|RUST_BACKTRACE/.test(e.message), `${what}: a Rust panic reached Node: ${e.message}`)
    return false
  }
}

test(`random filters, updates, pipelines, options and documents settle with typed errors (seed ${SEED}, ${ROUNDS} rounds)`, { timeout: 600_000 }, async () => {
  const argon = await Argon.connect(env.srv.uri, { database: freshDb('fuzz'), monitor: false })
  try {
    await argon.branch('main').collection('f').insertMany([{ _id: 1, a: 1 }, { _id: 2, a: 'x', b: [1, 2] }])
    await argon.createBranch('fz')
    const r = rng(SEED)
    for (let i = 0; i < ROUNDS; i++) {
      const branch = r() < 0.5 ? 'main' : 'fz'
      const c = argon.branch(branch).collection('f')
      const before = await c.find({}).sort({ _id: 1 }).toArray()
      const f = object(r)
      const u = r() < 0.3 ? [object(r)] : object(r)
      const o = object(r)
      const calls = [
        ['find', () => c.find(f, o).toArray()],
        ['findOne', () => c.findOne(f, o)],
        ['countDocuments', () => c.countDocuments(f, o)],
        ['distinct', () => c.distinct(key(r), f, o)],
        ['aggregate', () => c.aggregate([object(r), object(r)], o).toArray()],
        ['updateOne', () => c.updateOne(f, u, o)],
        ['updateMany', () => c.updateMany(f, u, o)],
        ['replaceOne', () => c.replaceOne(f, object(r), o)],
        ['deleteOne', () => c.deleteOne(f, o)],
        ['findOneAndUpdate', () => c.findOneAndUpdate(f, u, o)],
        ['insertOne', () => c.insertOne({ _id: `fz${i}`, ...object(r) })],
        ['bulkWrite', () => c.bulkWrite([{ [key(r)]: object(r) }], o)],
      ]
      const [name, call] = calls[Math.floor(r() * calls.length)]
      const ok = await settles(`round ${i} ${name} on ${branch}: ${JSON.stringify({ f, u, o })}`, call())
      if (!ok && !['find', 'findOne', 'countDocuments', 'distinct', 'aggregate'].includes(name)) {
        const after = await c.find({}).sort({ _id: 1 }).toArray()
        assert.deepEqual(after, before, `round ${i}: a rejected ${name} changed the collection`)
      }
    }
  } finally {
    await argon.close()
  }
})

test('oversized, too deeply nested (which crashed the process before), cyclic and reserved-keyed documents are refused with a code; nothing is written', { timeout: 120_000 }, async () => {
  const argon = await Argon.connect(env.srv.uri, { database: freshDb('fuzz_docs'), monitor: false })
  try {
    const c = argon.branch('main').collection('d')
    const cyclic = { a: 1 }
    cyclic.self = cyclic
    const cases = [
      ['16 MB', { _id: 'big', s: 'x'.repeat(16 * 1024 * 1024) }],
      ['just over 16 MB', { _id: 'big2', s: 'x'.repeat(16 * 1024 * 1024 - 20) }],
      ['nesting 200 deep', { _id: 'deep', d: deep(200) }],
      ['cyclic', cyclic],
      ['reserved field', { _id: 'res', __argon_lsn: 5 }],
      ['huge array', { _id: 'arr', a: new Array(2_000_000).fill(1) }],
    ]
    for (const [what, doc] of cases) {
      const ok = await settles(what, c.insertOne(doc))
      assert.equal(ok, false, `${what} was accepted`)
    }
    assert.equal(await c.countDocuments(), 0, 'nothing was written')
    // At the limit and just under it: accepted.
    assert.equal(await settles('15 MB', c.insertOne({ _id: 'ok', s: 'x'.repeat(15 * 1024 * 1024) })), true)
    assert.equal(await settles('nesting 90 deep', c.insertOne({ _id: 'deepok', d: deep(90) })), true)
    assert.equal(await c.countDocuments(), 2)
  } finally {
    await argon.close()
  }
})

test('random bytes at the native boundary are INVALID_ARGUMENT, never a crash', async () => {
  const argon = await Argon.connect(env.srv.uri, { database: freshDb('fuzz_native'), monitor: false })
  try {
    const coll = argon.branch('main').collection('n')
    await coll.insertOne({ _id: 1 })
    const native = coll._native
    const r = rng(SEED + 1)
    const junk = () => {
      const b = randomBytes(Math.floor(r() * 64))
      // Sometimes a plausible length prefix, so the parser goes further before failing.
      if (b.length >= 4 && r() < 0.5) b.writeInt32LE(b.length, 0)
      return b
    }
    for (let i = 0; i < 200; i++) {
      const calls = [
        () => native.find(junk(), junk(), 'find'),
        () => native.countDocuments(junk(), junk()),
        () => native.insertMany(junk(), true, 'insertMany'),
        () => native.modify('updateOne', junk(), junk(), junk()),
        () => native.aggregate(junk(), junk()),
        () => native.distinct('a', junk(), junk()),
        () => native.bulkWrite(junk(), true),
      ]
      const call = calls[Math.floor(r() * calls.length)]
      try {
        await call()
      } catch (e) {
        assert.ok(/INVALID_ARGUMENT|DOCUMENT_TOO_LARGE/.test(e.message) || /"code"/.test(e.message), `round ${i}: ${e.message}`)
        assert.ok(!/panicked/.test(e.message), `round ${i}: a panic reached Node: ${e.message}`)
      }
    }
    assert.deepEqual(await coll.find().toArray(), [{ _id: 1 }], 'nothing was written')
  } finally {
    await argon.close()
  }
})
