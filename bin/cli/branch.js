'use strict'
/** `argon branch list | create | delete | info | protect | unprotect`. */
const { Command } = require('commander')
const { withArgon, print, printJson, table, parsePoint } = require('./common')

function branchTable(branches) {
  return table(
    ['NAME', 'PARENT', 'FORK LSN', 'HEAD LSN', 'PROTECTED', 'CREATED'],
    branches.map((b) => [b.name, b.parent ?? '-', b.forkLsn, b.headLsn, b.protected ? 'yes' : 'no', b.createdAt.toISOString()]),
  )
}

function printInfo(info) {
  print(
    table(['', ''], [
      ['name', info.name],
      ['parent', info.parent ?? '-'],
      ['forkLsn', info.forkLsn],
      ['headLsn', info.headLsn],
      ['protected', info.protected ? 'yes' : 'no'],
      ['created', info.createdAt.toISOString()],
    ])
      .split('\n')
      .slice(1)
      .join('\n'),
  )
}

function commands() {
  const branch = new Command('branch').description('list, create, inspect, protect and delete branches')

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
    .description('create a branch (O(1): no data is copied), from the head or from a past point')
    .option('--from <branch>', "branch to fork from (default main, or the tag's branch)")
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
  return [branch]
}

module.exports = { commands }
