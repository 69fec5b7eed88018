'use strict'
/**
 * `bulkWrite` (issue 9): the same operations through Argon (on main and on a child branch)
 * and through the official driver on a plain collection give the same result, the same
 * error shape and the same documents; ordered and unordered; one bulkWrite is one LSN.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Argon } = require('..')
const { serverAndDriver, freshDb } = require('./helpers')

const env = serverAndDriver()

const SEED = () => [
  { _id: 1, g: 1, v: 1 },
  { _id: 2, g: 1, v: 2 },
  { _id: 3, g: 2, v: 3 },
  { _id: 4, g: 2, v: 4 },
  { _id: 5, g: 3, v: 5 },
]

/** The comparable parts of a result or of a MongoBulkWriteError. */
function shape(x) {
  // The driver's own BulkWriteResult carries its raw reply in `result`; its error carries
  // the BulkWriteResult there.
  const r = x instanceof Error ? x.result : x
  const out = {}
  for (const k of ['insertedCount', 'matchedCount', 'modifiedCount', 'deletedCount', 'upsertedCount']) out[k] = r[k]
  out.insertedIds = r.insertedIds
  out.upsertedIds = r.upsertedIds
  if (x.writeErrors) out.writeErrors = x.writeErrors.map((e) => [e.index, e.code])
  if (x instanceof Error) out.name = x.name
  return out
}

const CASES = {
  'ordered, every kind of operation': {
    ordered: true,
    ops: () => [
      { insertOne: { document: { _id: 10, g: 9 } } },
      { updateOne: { filter: { _id: 1 }, update: { $inc: { v: 10 } } } },
      { updateMany: { filter: { g: 1 }, update: { $set: { touched: true } } } },
      { replaceOne: { filter: { _id: 2 }, replacement: { g: 7, replaced: true } } },
      { deleteOne: { filter: { g: 2 } } },
      { deleteMany: { filter: { g: 3 } } },
      { updateOne: { filter: { _id: 99 }, update: { $set: { v: 99 } }, upsert: true } },
      { replaceOne: { filter: { _id: 98 }, replacement: { v: 98 }, upsert: true } },
      { updateOne: { filter: { _id: 10 }, update: { $set: { g: 9 } } } },
      { insertOne: { document: { _id: 11 } } },
    ],
  },
  'ordered, a duplicate in the middle stops there': {
    ordered: true,
    ops: () => [
      { insertOne: { document: { _id: 20 } } },
      { updateOne: { filter: { _id: 1 }, update: { $inc: { v: 1 } } } },
      { insertOne: { document: { _id: 2 } } },
      { insertOne: { document: { _id: 21 } } },
      { deleteOne: { filter: { _id: 3 } } },
    ],
  },
  'unordered, every operation that does not fail is applied': {
    ordered: false,
    ops: () => [
      { insertOne: { document: { _id: 1 } } },
      { insertOne: { document: { _id: 30 } } },
      { updateMany: { filter: { g: 2 }, update: { $inc: { v: 100 } } } },
      { insertOne: { document: { _id: 4 } } },
      { deleteOne: { filter: { _id: 5 } } },
      { updateOne: { filter: { _id: 31 }, update: { $set: { x: 1 } }, upsert: true } },
    ],
  },
  'sort in string and array form picks the document': {
    ordered: true,
    ops: () => [
      { updateOne: { filter: {}, update: { $set: { first: true } }, sort: [['v', -1]] } },
      { replaceOne: { filter: { g: 1 }, replacement: { g: 1, r: true }, sort: 'v' } },
    ],
  },
}

for (const mode of ['main', 'child']) {
  for (const [name, c] of Object.entries(CASES)) {
    test(`bulkWrite on ${mode}: ${name}`, async () => {
      const argon = await Argon.connect(env.srv.uri, { database: freshDb('bulk'), serverSelectionTimeoutMs: 5000, monitor: false })
      try {
        await argon.branch('main').collection('c').insertMany(SEED())
        let branch = 'main'
        if (mode === 'child') {
          await argon.createBranch('f')
          branch = 'f'
        }
        const ours = argon.branch(branch).collection('c')
        const raw = env.raw.db(freshDb('bulk_raw')).collection('c')
        await raw.insertMany(SEED())
        const before = (await argon.branchInfo(branch)).headLsn
        const a = await ours.bulkWrite(c.ops(), { ordered: c.ordered }).catch((e) => e)
        if (c.ordered === false) assert.deepEqual(Object.keys(a.result.upsertedIds), ['5'], 'the upsert is operation 5')
        const b = await raw.bulkWrite(c.ops(), { ordered: c.ordered }).catch((e) => e)
        const [sa, sb] = [shape(a), shape(b)]
        if (!c.ordered) {
          // The driver (7.9) runs an unordered bulk as one batch per operation type and keys
          // upsertedIds by an index of its reordered batches; Argon keys them by the
          // operation's index in the input, as MongoDB documents it. Compare the ids.
          sa.upsertedIds = Object.values(sa.upsertedIds).sort()
          sb.upsertedIds = Object.values(sb.upsertedIds).sort()
        }
        assert.deepEqual(sa, sb)
        assert.deepEqual(await ours.find({}).sort({ _id: 1 }).toArray(), await raw.find({}).sort({ _id: 1 }).toArray())
        const after = (await argon.branchInfo(branch)).headLsn
        if (!(a instanceof Error)) assert.equal(after - before, 1, 'one bulkWrite is one LSN')
      } finally {
        await argon.close()
      }
    })
  }
}

test('bulkWrite refuses bad input with INVALID_ARGUMENT and writes nothing', async () => {
  const argon = await Argon.connect(env.srv.uri, { database: freshDb('bulk'), serverSelectionTimeoutMs: 5000, monitor: false })
  try {
    const c = argon.branch('main').collection('c')
    await c.insertOne({ _id: 1 })
    const bad = [
      [[]],
      ['nope'],
      [[{ frobnicate: {} }]],
      [[{ insertOne: {} }]],
      [[{ updateOne: { filter: {} } }]],
      [[{ insertOne: { document: { _id: 2 } }, deleteOne: { filter: {} } }]],
      [[{ insertOne: { document: { _id: 3 } } }], { bypassDocumentValidation: true }],
      [[{ updateOne: { filter: {}, update: { noop: 1 } } }]],
    ]
    for (const args of bad) {
      await assert.rejects(c.bulkWrite(...args), (e) => e.code === 'INVALID_ARGUMENT', JSON.stringify(args))
    }
    assert.deepEqual(await c.find({}).toArray(), [{ _id: 1 }])
  } finally {
    await argon.close()
  }
})
