'use strict'
/**
 * Concurrency (engine guarantee 3): several processes, each with several concurrent
 * writers, do read-modify-write operations ($inc, findOneAndUpdate, $push) on the same
 * documents of one child branch (whose parent holds the documents, so the first writes
 * race to copy them). The totals must be exact, and main must be untouched.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const { server, connect, freshDb } = require('./helpers')

const PROCS = 2
const WRITERS = 4
const ROUNDS = Number(process.env.ARGON_CONC_ROUNDS || 15)
let srv
before(async () => { srv = await server() })
after(async () => { await srv.stop() })

function run(uri, database, branch) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'inc-writer.js'), uri, database, branch, String(WRITERS), String(ROUNDS)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => { err += d })
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer failed (${code}): ${err}`))))
  })
}

for (const branch of ['main', 'feature']) {
  test(`${PROCS} processes x ${WRITERS} writers keep exact totals on ${branch}`, { timeout: 10 * 60_000 }, async () => {
    const database = freshDb('conc')
    const argon = await connect(srv.uri, database)
    const main = argon.branch('main').collection('counters')
    await main.insertMany([{ _id: 'a', n: 0 }, { _id: 'b', n: 100 }, { _id: 'c', log: [] }])
    if (branch !== 'main') await argon.createBranch(branch, { from: 'main' })
    await Promise.all(Array.from({ length: PROCS }, () => run(srv.uri, database, branch)))
    const coll = argon.branch(branch).collection('counters')
    const total = PROCS * WRITERS * ROUNDS
    assert.equal((await coll.findOne({ _id: 'a' })).n, total)
    assert.equal((await coll.findOne({ _id: 'b' })).n, 100 + 2 * total)
    const log = (await coll.findOne({ _id: 'c' })).log
    assert.equal(log.length, total)
    assert.equal(new Set(log).size, total)
    if (branch !== 'main') {
      assert.deepEqual(await main.find({}).sort({ _id: 1 }).toArray(), [{ _id: 'a', n: 0 }, { _id: 'b', n: 100 }, { _id: 'c', log: [] }])
    }
    // Every acknowledged write has its own LSN: head LSN advanced by 3 per round.
    const info = await argon.branchInfo(branch)
    assert.ok(info.headLsn >= info.forkLsn + 3 * total)
    await argon.close()
  })
}
