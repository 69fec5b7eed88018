#!/usr/bin/env node
'use strict'
/**
 * The `argon` CLI: manage a project's branches, and `argon demo`, a one-minute tour.
 *
 *   argon branch list [--json]             argon branch create <name> [--from main]
 *   argon branch info <name>               argon branch delete <name>
 *   argon branch protect|unprotect <name>  argon demo
 *   argon serve [--port 27100] [--host 127.0.0.1]   (a MongoDB endpoint per branch)
 *   argon status | health | metrics [--process id] [--prometheus]   (what the processes report)
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
  // The CLI is not an application process: it does not publish a snapshot of its own.
  const argon = await argondb().Argon.connect(o.uri, { database: o.db, appName: 'argon-cli', monitor: false })
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

/** A point in time on the command line: an LSN (digits), an ISO date, or a tag name. */
function parsePoint(text) {
  if (text === undefined) return undefined
  if (/^\d+$/.test(text)) return Number(text)
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const d = new Date(text)
    if (Number.isNaN(d.getTime())) throw cliError('INVALID_ARGUMENT', `not a valid date: ${text}`)
    return d
  }
  return text
}

/**
 * A diff side: `branch` or `branch@point`. Branch names may contain '@', so a text that
 * names an existing branch is that branch; otherwise the point follows the last '@'.
 */
async function parseSide(argon, text) {
  const at = text.lastIndexOf('@')
  if (at <= 0) return { branch: text }
  const exists = await argon.branchInfo(text).then(() => true, (e) => (e.code === 'BRANCH_NOT_FOUND' ? false : Promise.reject(e)))
  if (exists) return { branch: text }
  return { branch: text.slice(0, at), at: parsePoint(text.slice(at + 1)) }
}

/** Counts per collection from a detailed diff's documents (the same shape as `argon.diff`). */
function countsFromDocuments(documents) {
  const out = { added: 0, changed: 0, removed: 0, collections: {} }
  for (const d of documents) {
    const c = (out.collections[d.collection] ??= { added: 0, changed: 0, removed: 0 })
    c[d.change] += 1
    out[d.change] += 1
  }
  return out
}

function countsTable(summary) {
  const rows = Object.entries(summary.collections).map(([c, n]) => [c, n.added, n.changed, n.removed])
  rows.push(['TOTAL', summary.added, summary.changed, summary.removed])
  return table(['COLLECTION', 'ADDED', 'CHANGED', 'REMOVED'], rows)
}

branch
  .command('create <name>')
  .description('create a branch (O(1): no data is copied), from the head or from a past point')
  .option('--from <branch>', 'branch to fork from (default main, or the tag\'s branch)')
  .option('--at <point>', 'fork from a past point: an LSN, an ISO date or a tag')
  .action((name, opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      await argon.createBranch(name, { from: opts.from, at: parsePoint(opts.at) })
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

const tag = program.command('tag').description('name points in history')
tag
  .command('create <name>')
  .description('tag a branch now, or at --at')
  .option('--branch <branch>', 'the branch', 'main')
  .option('--at <point>', 'an LSN, an ISO date or another tag')
  .action((name, opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      const lsn = await argon.tag(name, { branch: opts.branch, at: parsePoint(opts.at) })
      if (o.json) printJson({ name, branch: opts.branch, lsn })
      else print(`tagged ${opts.branch} at LSN ${lsn} as ${name}`)
    }),
  )
tag
  .command('list')
  .description('list tags')
  .action((opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      const tags = await argon.listTags()
      if (o.json) printJson(tags)
      else print(table(['TAG', 'BRANCH', 'LSN', 'CREATED'], tags.map((t) => [t.name, t.branch, t.lsn, t.createdAt.toISOString()])))
    }),
  )
tag
  .command('delete <name>')
  .description('delete a tag')
  .action((name, opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      await argon.deleteTag(name)
      if (o.json) printJson({ deleted: name })
      else print(`deleted tag ${name}`)
    }),
  )

program
  .command('history <branch>')
  .description("show a branch's readable time range (retention window)")
  .action((name, opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      const info = await argon.timeTravelInfo(name)
      if (o.json) printJson(info)
      else {
        print(`earliest LSN  ${info.earliestLsn}${info.earliestTime ? `  (${info.earliestTime.toISOString()})` : ''}`)
        print(`latest LSN    ${info.latestLsn}${info.latestTime ? `  (${info.latestTime.toISOString()})` : ''}`)
        print(`entries       ${info.entries}`)
        print(`retention     ${Math.round(info.retentionMs / 3_600_000)} h`)
      }
    }),
  )

program
  .command('gc')
  .description('remove history no read in the retention window, at a fork point or at a tag can reach')
  .option('--dry-run', 'only report what would be removed')
  .action((opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      const r = await argon.gc({ dryRun: Boolean(opts.dryRun) })
      if (o.json) return printJson(r)
      print(`${r.dryRun ? 'would remove' : 'removed'} ${r.recordsRemoved} WAL records (${r.bytesFreed} bytes)`)
      print(`oldest retained LSN  ${r.oldestRetainedLsn}`)
      if (r.pinnedBy.length) print(table(['PINNED BY', 'NAME', 'LSN'], r.pinnedBy.map((p) => [p.kind, p.name, p.lsn])))
    }),
  )

program
  .command('diff <from> <to>')
  .description('documents added, changed and removed between two points (branch or branch@point)')
  .option('--details', 'list every changed document')
  .action((from, to, opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      const a = await parseSide(argon, from)
      const b = await parseSide(argon, to)
      // With --details, the summary is counted from the listing: one diff, one snapshot.
      const documents = opts.details ? await argon.diff(a, b, { detailed: true }).toArray() : undefined
      const d = documents ? countsFromDocuments(documents) : await argon.diff(a, b)
      if (o.json) return printJson(documents ? { ...d, documents } : d)
      print(countsTable(d))
      for (const doc of documents || []) print(`${doc.change.padEnd(8)} ${doc.collection} ${JSON.stringify(doc._id)}`)
    }),
  )

program
  .command('preview <branch>')
  .description('what a reset of <branch> to --to would change (changes nothing)')
  .requiredOption('--to <point>', "an LSN, an ISO date, a tag, or 'parent'")
  .action((name, opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      const to = opts.to === 'parent' ? 'parent' : parsePoint(opts.to)
      const p = await argon.restorePreview(name, { to })
      if (o.json) printJson(p)
      else print(countsTable(p))
    }),
  )

program
  .command('reset <branch>')
  .description('reset a branch to a past point or its parent, keeping a backup branch')
  .requiredOption('--to <point>', "an LSN, an ISO date, a tag, or 'parent'")
  .option('--backup <name>', 'name of the backup branch')
  .option('--no-backup', 'do not keep a backup branch')
  .action((name, opts, cmd) =>
    withArgon(cmd, async (argon, o) => {
      const to = opts.to === 'parent' ? 'parent' : parsePoint(opts.to)
      const backup = await argon.resetBranch(name, { to, backup: opts.backup === undefined ? true : opts.backup })
      if (o.json) printJson({ branch: name, backup })
      else print(backup ? `reset ${name}; the previous state is on branch ${backup}` : `reset ${name} (no backup kept)`)
    }),
  )

program
  .command('demo')
  .description('a short tour in a fresh, temporary database: branch, change the branch, compare both sides')
  .action((opts, cmd) => demo(globals(cmd)))

// ---------------------------------------------------------------------------------------
// demo

program.addCommand(require('./serve').serveCommand({ argondb, print, printJson, cliError }))
for (const c of require('./operator').operatorCommands({ withArgon, print, printJson, table, cliError })) program.addCommand(c)

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
