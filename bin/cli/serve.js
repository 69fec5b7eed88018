'use strict'
/**
 * `argon serve`: a MongoDB endpoint for the project until SIGINT or SIGTERM. Prints the
 * connection string of every branch (one line each; with --json one document), so nobody
 * has to percent-encode `<db>@<branch>` by hand.
 */
const { Command, Option } = require('commander')
const { argondb, print, printJson, cliError } = require('./common')

function commands() {
  const serve = new Command('serve')
    .description('serve the project over the MongoDB wire protocol: database <db>@<branch>[~<lsn|tag>] selects a branch or a past point')
    .addOption(new Option('--port <port>', 'TCP port (0 picks a free one)').default('27100'))
    .addOption(new Option('--host <host>', 'address to bind (loopback unless given)').default('127.0.0.1'))
    .addOption(new Option('--max-connections <n>', 'connection limit').default('1000'))
    .addOption(new Option('--auth-file <path>', 'JSON users for the endpoint (SCRAM-SHA-256): { "users": [{ "user", "password" } | { "user", "salt", "iterations", "storedKey", "serverKey" }] }'))
    .action(async (opts, cmd) => {
      const o = cmd.optsWithGlobals()
      if (!o.uri) throw cliError('INVALID_URI', 'no MongoDB connection string: pass --uri or set MONGODB_URI')
      const port = Number(opts.port)
      const maxConnections = Number(opts.maxConnections)
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw cliError('INVALID_ARGUMENT', `--port must be 0-65535, not ${opts.port}`)
      if (!Number.isInteger(maxConnections) || maxConnections < 1) throw cliError('INVALID_ARGUMENT', '--max-connections must be a positive integer')
      let users
      if (opts.authFile) {
        let parsed
        try {
          parsed = JSON.parse(require('node:fs').readFileSync(opts.authFile, 'utf8'))
        } catch (e) {
          throw cliError('INVALID_ARGUMENT', `cannot read --auth-file ${opts.authFile}: ${e.code || 'invalid JSON'}`)
        }
        users = Array.isArray(parsed) ? parsed : parsed && parsed.users
      }
      const argon = await argondb().Argon.connect(o.uri, { database: o.db, appName: 'argon-serve' })
      let ep
      try {
        ep = await argon.serve({ port, host: opts.host, maxConnections, users })
        const branches = await argon.listBranches()
        const uris = Object.fromEntries(branches.map((b) => [b.name, ep.uriFor(b.name)]))
        if (o.json) printJson({ uri: ep.uri, port: ep.port, host: ep.host, database: o.db, branches: uris })
        else {
          print(`argon serve: project ${o.db} on ${ep.host}:${ep.port}`)
          for (const [name, uri] of Object.entries(uris)) print(`  ${name.padEnd(20)} ${uri}`)
          print(`  (a past point: ${ep.uriFor('main', { at: 'LSN-or-tag' }).replace('LSN-or-tag', '<lsn|tag>')}; branches made later are reachable too)`)
        }
        await new Promise((resolve) => {
          process.once('SIGINT', resolve)
          process.once('SIGTERM', resolve)
        })
      } finally {
        if (ep) await ep.close()
        await argon.close()
      }
    })
  return [serve]
}

module.exports = { commands }
