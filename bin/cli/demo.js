'use strict'
/**
 * `argon demo`: a one-minute tour in a fresh, temporary database (branch, change the branch,
 * compare both sides, time travel, undo). Without --uri / $MONGODB_URI it starts a local
 * test server (source checkouts only).
 */
const { Command } = require('commander')
const { randomBytes } = require('node:crypto')
const { argondb, cliError, print, printJson, table, globals } = require('./common')

/** Without --uri/$MONGODB_URI, a throwaway local test server (source checkouts only). */
async function startLocalServer() {
  let startServer
  try {
    ;({ startServer } = require('../../scripts/test-server.js'))
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e
    throw cliError('INVALID_URI', 'no MongoDB connection string: pass --uri or set MONGODB_URI')
  }
  try {
    return await startServer()
  } catch (e) {
    const missing = /cannot start secantusd-rs/.test(e.message)
    throw cliError(
      'SERVER_UNREACHABLE',
      (missing ? 'no MongoDB URI given and the local test server (secantusd-rs) is not installed' : `no MongoDB URI given and the local test server failed to start: ${e.message}`) +
        '. Set MONGODB_URI (or pass --uri), or install the test server with scripts/install-test-server.sh',
    )
  }
}

/** Drops the demo's database with the official driver when it is installed (optional peer). */
async function dropDatabase(uri, db) {
  let MongoClient
  try {
    ;({ MongoClient } = require('mongodb'))
  } catch {
    return false
  }
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 })
  try {
    await client.db(db).dropDatabase()
    return true
  } finally {
    await client.close()
  }
}

async function demo(o) {
  const log = o.json ? () => {} : print
  const server = o.uri ? null : await startLocalServer()
  const uri = o.uri || server.uri
  const db = `argon_demo_${randomBytes(4).toString('hex')}`
  try {
    log(`argon demo: Git-like branches for MongoDB`)
    log(`  server:   ${server ? 'a local test server, started for this demo' : 'the one given by --uri / $MONGODB_URI'}`)
    log(`  database: ${db} (fresh, temporary)\n`)

    const argon = await argondb().Argon.connect(uri, { database: db, appName: 'argon-demo' })
    let result
    let dropped = false
    try {
      const main = argon.branch('main').collection('users')
      await main.insertMany([
        { name: 'ada', role: 'admin' },
        { name: 'bob', role: 'dev' },
        { name: 'cyd', role: 'dev' },
      ])
      log('1. on main:      inserted ada (admin), bob (dev), cyd (dev)')

      const feature = (await argon.createBranch('feature-x', { from: 'main' })).collection('users')
      log('2. branched:     feature-x from main, in O(1) (nothing is copied)')

      await feature.updateOne({ name: 'bob' }, { $set: { role: 'lead' } })
      await feature.deleteOne({ name: 'cyd' })
      await feature.insertOne({ name: 'dan', role: 'intern' })
      log('3. on feature-x: promoted bob to lead, deleted cyd, inserted dan\n')

      const read = (c) => c.find({}, { projection: { _id: 0 } }).sort({ name: 1 }).toArray()
      const [onMain, onFeature] = await Promise.all([read(main), read(feature)])
      const role = (docs, name) => docs.find((d) => d.name === name)?.role ?? '(none)'
      const names = [...new Set([...onMain, ...onFeature].map((d) => d.name))].sort()
      log(table(['USER', 'ON MAIN', 'ON FEATURE-X'], names.map((n) => [n, role(onMain, n), role(onFeature, n)])))

      // The point of the demo: main must be exactly what was inserted in step 1.
      const untouched = role(onMain, 'bob') === 'dev' && role(onMain, 'cyd') === 'dev' && role(onMain, 'dan') === '(none)'
      if (!untouched) throw cliError('INTERNAL', 'isolation check failed: main changed')
      log(`\nmain is untouched (${onMain.length} users); feature-x has its own changes (${onFeature.length} users).\n`)

      // Time travel: feature-x as of its fork point, then an undo of its changes.
      const fork = (await argon.branchInfo('feature-x')).forkLsn
      const past = await read(argon.branch('feature-x').at(fork).collection('users'))
      log(`4. time travel:  feature-x as of LSN ${fork} (its fork point): ${past.map((d) => `${d.name} (${d.role})`).join(', ')}`)
      const preview = await argon.restorePreview('feature-x', { to: fork })
      const backup = await argon.resetBranch('feature-x', { to: fork })
      const restored = await read(feature)
      if (role(restored, 'bob') !== 'dev' || role(restored, 'dan') !== '(none)') throw cliError('INTERNAL', 'reset check failed')
      log(`5. undo:         reset feature-x to LSN ${fork} (re-adds ${preview.added}, reverts ${preview.changed}, removes ${preview.removed});`)
      log(`                 its previous state is kept on branch ${backup}\n`)

      const branches = await argon.listBranches()
      log(table(['BRANCH', 'PARENT', 'FORK LSN', 'HEAD LSN'], branches.map((b) => [b.name, b.parent ?? '-', b.forkLsn, b.headLsn])))
      log("(forkLsn: the parent's position in the WAL when the branch was made; headLsn: the branch's latest write)\n")
      result = { database: db, main: onMain, 'feature-x': onFeature, past, backup, branches }

      await argon.deleteBranch(backup)
      await argon.deleteBranch('feature-x')
      await main.drop()
    } finally {
      await argon.close()
      // Argon keeps its metadata in the project database: drop it (also after a failure).
      dropped = server ? true : await dropDatabase(uri, db).catch(() => false)
    }
    log(dropped ? 'cleaned up: deleted feature-x and the demo database.' : `cleaned up feature-x; drop the database ${db} to remove the rest.`)
    if (o.json) printJson({ ...result, cleanedUp: dropped })
  } finally {
    if (server) await server.stop()
  }
}

function commands() {
  return [
    new Command('demo')
      .description('a short tour in a fresh, temporary database: branch, change the branch, compare both sides')
      .action((opts, cmd) => demo(globals(cmd))),
  ]
}

module.exports = { commands }
