'use strict'
/** Maintenance commands: `argon gc` (remove history no allowed read reaches). */
const { Command } = require('commander')
const { withArgon, print, printJson, table, withProgress } = require('./common')

function pinsTable(pins) {
  return table(['PINNED BY', 'NAME', 'LSN'], pins.map((p) => [p.kind, p.name, p.lsn]))
}

function gcCommand() {
  return new Command('gc')
    .description('remove history no read in the retention window, at a fork point or at a tag can reach')
    .option('--dry-run', 'only report what would be removed')
    .action((opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        const r = await withProgress(o, 'gc', (onProgress) => argon.gc({ dryRun: Boolean(opts.dryRun), onProgress }))
        if (o.json) return printJson(r)
        print(`${r.dryRun ? 'would remove' : 'removed'} ${r.recordsRemoved} WAL records (${r.bytesFreed} bytes)`)
        print(`oldest retained LSN  ${r.oldestRetainedLsn}`)
        if (r.pinnedBy.length) print(pinsTable(r.pinnedBy))
      }),
    )
}

function commands() {
  return [gcCommand()]
}

module.exports = { commands }
