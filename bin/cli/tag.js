'use strict'
/** `argon tag create | list | delete`: names for points in history. */
const { Command } = require('commander')
const { withArgon, print, printJson, table, parsePoint } = require('./common')

function commands() {
  const tag = new Command('tag').description('name points in history')
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
  return [tag]
}

module.exports = { commands }
