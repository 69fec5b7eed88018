#!/usr/bin/env node
'use strict'
/**
 * The `argon` CLI. This file builds the program and its global options and registers one
 * module per command group (bin/cli/); each module exports `commands()`, the commander
 * `Command`s it adds (commander's `addCommand`, as in its nestedCommands example).
 *
 *   argon branch list | create | info | delete | protect | unprotect     (bin/cli/branch.js)
 *   argon tag create | list | delete                                    (bin/cli/tag.js)
 *   argon history | diff | preview | reset                              (bin/cli/history.js)
 *   argon gc | verify | storage                                         (bin/cli/maintenance.js)
 *   argon status | health | metrics                                     (bin/cli/operator.js)
 *   argon top                                                           (bin/cli/top.js)
 *   argon dashboard                                                     (bin/cli/dashboard.js)
 *   argon serve                                                         (bin/cli/serve.js)
 *   argon demo                                                          (bin/cli/demo.js)
 *
 * Global options: --uri (default $MONGODB_URI), --db (default $ARGON_DB or "argon"),
 * --retention-ms (default $ARGON_RETENTION_MS, else the library's 7 days), --json (one JSON
 * document on stdout and nothing else; `top` prints one per frame, one per line).
 * Exit codes: 0 on success, 1 on an error (`error [CODE]: message` on stderr) or when
 * `verify` finds a problem, 2 when `health` reports unhealthy.
 */
const { Command, CommanderError, Option } = require('commander')
const { version } = require('../package.json')
const { errorCode } = require('./cli/common')

/**
 * The command groups, in the order `--help` lists them. To add a group, write
 * bin/cli/<group>.js exporting `commands()` and add it here.
 */
const GROUPS = [
  require('./cli/branch'),
  require('./cli/tag'),
  require('./cli/history'),
  require('./cli/maintenance'),
  require('./cli/operator'),
  require('./cli/top'),
  require('./cli/dashboard'),
  require('./cli/serve'),
  require('./cli/demo'),
]

/**
 * Subcommands made with `new Command()` do not inherit the program's settings the way
 * `.command()` ones do; copy them down the tree (exitOverride above all: errors must reach
 * main(), which sets the exit code, never process.exit()).
 */
function inherit(cmd, parent) {
  cmd.copyInheritedSettings(parent)
  for (const sub of cmd.commands) inherit(sub, cmd)
}

function buildProgram() {
  const program = new Command()
  program
    .name('argon')
    .description('Git-like branches, a durable WAL and time travel for MongoDB')
    .version(version)
    .exitOverride() // never process.exit(): errors reach main() and set process.exitCode
    .addOption(new Option('--uri <uri>', 'MongoDB connection string').env('MONGODB_URI'))
    .addOption(new Option('--db <name>', 'project database').env('ARGON_DB').default('argon'))
    .addOption(new Option('--retention-ms <ms>', "the time-travel retention window the project's applications use (gc, storage, history)").env('ARGON_RETENTION_MS'))
    .option('--json', 'machine-readable JSON output')
    .configureHelp({ showGlobalOptions: true }) // every command's --help lists --uri, --db, --json
  for (const group of GROUPS) {
    for (const cmd of group.commands()) {
      inherit(cmd, program)
      program.addCommand(cmd)
    }
  }
  return program
}

async function main(argv) {
  try {
    await buildProgram().parseAsync(argv)
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

if (require.main === module) main(process.argv)

module.exports = { buildProgram, main, GROUPS }
