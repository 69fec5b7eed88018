#!/usr/bin/env node
'use strict'
/**
 * The `argon` CLI: manage a project's branches, and `argon demo`, a one-minute tour.
 *
 *   argon branch list [--json]             argon branch create <name> [--from main]
 *   argon branch info <name>               argon branch delete <name>
 *   argon branch protect|unprotect <name>  argon demo
 *
 * Global options: --uri (default $MONGODB_URI), --db (default $ARGON_DB or "argon"), --json.
 * Errors print `error [CODE]: message` on stderr and exit with code 1.
 */
const { Command, CommanderError, Option } = require('commander')
const { randomBytes } = require('node:crypto')
const { version } = require('../package.json')

// The native addon loads on first use, so `--help` works even without it.
const argondb = () => require('../index.js')

function cliError(code, message) {
  const { ArgonError } = argondb()
  return new ArgonError(code, message)
}

// ---------------------------------------------------------------------------------------
// Output helpers

function print(text = '') {
  process.stdout.write(text + '\n')
}

function printJson(value) {
  print(JSON.stringify(value, null, 2))
}

/** A plain left-aligned text table. */
function table(headers, rows) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c)))
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)))
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}

function branchTable(branches) {
  return table(
    ['NAME', 'PARENT', 'FORK LSN', 'HEAD LSN', 'PROTECTED', 'CREATED'],
    branches.map((b) => [b.name, b.parent ?? '-', b.forkLsn, b.headLsn, b.protected ? 'yes' : 'no', b.createdAt.toISOString()]),
  )
}

function printInfo(info) {
  print(table(['', ''], [
    ['name', info.name],
    ['parent', info.parent ?? '-'],
    ['forkLsn', info.forkLsn],
    ['headLsn', info.headLsn],
    ['protected', info.protected ? 'yes' : 'no'],
    ['created', info.createdAt.toISOString()],
  ]).split('\n').slice(1).join('\n'))
}

function errorCode(err) {
  if (err && typeof err.code === 'string') return err.code
  if (err && err.codeName) return err.codeName
  if (err && typeof err.code === 'number') return `SERVER_${err.code}`
  return 'INTERNAL'
}

// ---------------------------------------------------------------------------------------
// Connecting

function globals(cmd) {
  return cmd.optsWithGlobals()
}

async function withArgon(cmd, fn) {
  const o = globals(cmd)
  if (!o.uri) throw cliError('INVALID_URI', 'no MongoDB connection string: pass --uri or set MONGODB_URI')
  const argon = await argondb().Argon.connect(o.uri, { database: o.db, appName: 'argon-cli' })
  try {
    return await fn(argon, o)
  } finally {
    await argon.close()
  }
}

// ---------------------------------------------------------------------------------------
// Commands

const program = new Command()
program
  .name('argon')
  .description('Git-like branches, a durable WAL and time travel for MongoDB')
  .version(version)
  .exitOverride() // never process.exit(): errors reach main() and set process.exitCode
  .addOption(new Option('--uri <uri>', 'MongoDB connection string').env('MONGODB_URI'))
  .addOption(new Option('--db <name>', 'project database').env('ARGON_DB').default('argon'))
  .option('--json', 'machine-readable JSON output')

const branch = program.command('branch').description('list, create, inspect, protect and delete branches')

branch
  .command('list')
  .description('list all branches')
  .action((opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      const branches = await argon.listBranches()
      if (o.json) printJson(branches)
      else print(branchTable(branches))
    }),
  )

branch
  .command('create <name>')
  .description('create a branch (O(1): no data is copied)')
  .option('--from <branch>', 'branch to fork from', 'main')
  .action((name, opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      await argon.createBranch(name, { from: opts.from })
      const info = await argon.branchInfo(name)
      if (o.json) printJson(info)
      else print(`created branch ${name} from ${info.parent} at LSN ${info.forkLsn}`)
    }),
  )

branch
  .command('delete <name>')
  .description('delete a branch (main and protected branches cannot be deleted)')
  .action((name, opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      await argon.deleteBranch(name)
      if (o.json) printJson({ deleted: name })
      else print(`deleted branch ${name}`)
    }),
  )

branch
  .command('info <name>')
  .description("show a branch's parent, LSNs and protection")
  .action((name, opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      const info = await argon.branchInfo(name)
      if (o.json) printJson(info)
      else printInfo(info)
    }),
  )

for (const [verb, value] of [['protect', true], ['unprotect', false]]) {
  branch
    .command(`${verb} <name>`)
    .description(value ? 'protect a branch from deletion' : 'allow a branch to be deleted again')
    .action((name, opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        await argon.protectBranch(name, value)
        const info = await argon.branchInfo(name)
        if (o.json) printJson(info)
        else print(`${verb}ed branch ${name}`)
      }),
    )
}

program
  .command('demo')
  .description('a short tour in a fresh, temporary database: branch, change the branch, compare both sides')
  .action((opts, cmd) => demo(globals(cmd)))

// ---------------------------------------------------------------------------------------
// demo

/** Without --uri/$MONGODB_URI, a throwaway local test server (source checkouts only). */
async function startLocalServer() {
  let startServer
  try {
    ;({ startServer } = require('../scripts/test-server.js'))
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

      const branches = await argon.listBranches()
      log(table(['BRANCH', 'PARENT', 'FORK LSN', 'HEAD LSN'], branches.map((b) => [b.name, b.parent ?? '-', b.forkLsn, b.headLsn])))
      log("(forkLsn: the parent's position in the WAL when the branch was made; headLsn: the branch's latest write)\n")
      result = { database: db, main: onMain, 'feature-x': onFeature, branches }

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

// ---------------------------------------------------------------------------------------

async function main(argv) {
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed the usage error or help
      process.exitCode = err.exitCode
      return
    }
    process.stderr.write(`error [${errorCode(err)}]: ${err && err.message ? err.message : String(err)}\n`)
    process.exitCode = 1
  }
}

main(process.argv)
