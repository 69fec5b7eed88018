'use strict'
/**
 * `argon dashboard`: the web dashboard (lib/dashboard) on its own port until SIGINT or
 * SIGTERM: health, branches and time travel of the project, from what its processes
 * publish. Read-only unless --read-write; binds loopback unless --host is given.
 *
 * `$ARGON_DASHBOARD_AUTH=user:password` turns on HTTP Basic authentication (the browser
 * asks); a non-loopback --host requires it. From the environment, not an option, so the
 * password never shows in `ps`.
 */
const crypto = require('node:crypto')
const { Command, Option } = require('commander')
const { print, printJson, cliError, withArgon } = require('./common')

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/

/** An auth hook checking HTTP Basic credentials against `user:password` (timing-safe). */
function basicAuth(spec) {
  const i = spec.indexOf(':')
  if (i <= 0 || i === spec.length - 1) throw cliError('INVALID_ARGUMENT', 'ARGON_DASHBOARD_AUTH must be user:password')
  const digest = (v) => crypto.createHash('sha256').update(v).digest()
  const want = digest(`Basic ${Buffer.from(spec).toString('base64')}`)
  return (req) => crypto.timingSafeEqual(digest(String(req.headers.authorization || '')), want)
}

function commands() {
  const dashboard = new Command('dashboard')
    .description('serve the web dashboard (health, branches, time travel) on http://127.0.0.1:<port>/; $ARGON_DASHBOARD_AUTH=user:password requires a login (needed for a non-loopback --host)')
    .addOption(new Option('--port <port>', 'TCP port (0 picks a free one)').default('4000'))
    .addOption(new Option('--host <host>', 'address to bind (loopback unless given)').default('127.0.0.1'))
    .option('--read-write', 'allow restore preview and reset from the page (default: read-only)')
    .addOption(new Option('--slow-ms <ms>', "the slow-operations tab's default threshold").default('100'))
    .action((opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        const port = Number(opts.port)
        const slowMs = Number(opts.slowMs)
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw cliError('INVALID_ARGUMENT', `--port must be 0-65535, not ${opts.port}`)
        if (!Number.isInteger(slowMs) || slowMs < 0) throw cliError('INVALID_ARGUMENT', '--slow-ms must be a non-negative integer')
        const spec = process.env.ARGON_DASHBOARD_AUTH
        if (!spec && !LOOPBACK.test(opts.host)) {
          throw cliError('INVALID_ARGUMENT', `--host ${opts.host} is not a loopback address: set ARGON_DASHBOARD_AUTH=user:password to require a login`)
        }
        const auth = spec ? { auth: basicAuth(spec), realm: 'argon' } : {}
        const { startDashboard } = require('../../lib/dashboard')
        const d = await startDashboard(argon, { port, host: opts.host, readOnly: !opts.readWrite, slowMs, ...auth })
        try {
          if (o.json) printJson({ url: d.url, database: o.db, readOnly: !opts.readWrite, login: Boolean(spec) })
          else print(`argon dashboard: project ${o.db} at ${d.url} (${opts.readWrite ? 'read-write' : 'read-only'}${spec ? ', login required' : ''}; ctrl-c stops it)`)
          await new Promise((resolve) => {
            process.once('SIGINT', resolve)
            process.once('SIGTERM', resolve)
          })
        } finally {
          await d.close()
        }
      }),
    )
  return [dashboard]
}

module.exports = { commands }
