'use strict'
/**
 * Maintenance commands: `argon gc` (remove history no allowed read reaches), `argon verify`
 * (the integrity check; exit code 1 when it finds a problem) and `argon storage` (what each
 * branch and collection holds: documents, WAL records, the oldest retained point, what gc
 * could free). `gc` and `verify` draw a progress bar on a terminal.
 */
const { Command, Option } = require('commander')
const { withArgon, print, printJson, table, formatBytes, withProgress } = require('./common')

function pinsTable(pins) {
  return table(['PINNED BY', 'NAME', 'LSN'], pins.map((p) => [p.kind, p.name, p.lsn]))
}

function gcCommand() {
  return new Command('gc')
    .description('remove history no read in the retention window, at a fork point or at a tag can reach (a progress bar on a terminal)')
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

function verifyCommand() {
  return new Command('verify')
    .description('check the storage invariants (heads against the WAL, predecessor chains, branch metadata) and list every problem; changes nothing; exit code 1 when a problem is found (a progress bar on a terminal)')
    .addOption(new Option('--branch <name>', 'only this branch'))
    .addOption(new Option('--collection <name>', 'only this collection'))
    .action((opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        const r = await withProgress(o, 'verify', (onProgress) => argon.verify({ branch: opts.branch, collection: opts.collection, onProgress }))
        if (!r.ok) process.exitCode = 1
        if (o.json) return printJson(r)
        const c = r.checked
        const what = `${c.branches} branch${c.branches === 1 ? '' : 'es'}, ${c.collections} collection${c.collections === 1 ? '' : 's'}, ${c.rows} head rows, ${c.records} WAL records`
        if (r.ok) return print(`verify: ok (checked ${what})`)
        print(`verify: ${r.problemCount} problem${r.problemCount === 1 ? '' : 's'} found (checked ${what})`)
        print(table(['KIND', 'BRANCH', 'COLLECTION', 'ID', 'DETAIL'], r.problems.map((p) => [p.kind, p.branch ?? '-', p.collection ?? '-', p.id === null || p.id === undefined ? '-' : JSON.stringify(p.id), p.detail])))
        if (r.problems.length < r.problemCount) print(`(${r.problemCount - r.problems.length} more not listed)`)
      }),
    )
}

/** A branch's name as the storage table shows it (records of deleted branches have none). */
const branchLabel = (row) => row.branch ?? `(deleted #${row.branchId})`

function storageCommand() {
  return new Command('storage')
    .description('per branch and collection: documents the branch owns and their bytes, WAL records and bytes, the oldest retained point, and what gc could free (the same figures as gc --dry-run)')
    .action((opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        const s = await argon.storage()
        if (o.json) return printJson(s)
        const rows = s.collections.map((r) => [
          branchLabel(r),
          r.collection,
          r.documents,
          formatBytes(r.documentBytes),
          r.walRecords,
          formatBytes(r.walBytes),
          r.oldestLsn ?? '-',
          r.oldestTime ? r.oldestTime.toISOString() : '-',
          r.gcRecords,
          formatBytes(r.gcBytes),
        ])
        const t = s.totals
        rows.push(['TOTAL', '', t.documents, formatBytes(t.documentBytes), t.walRecords, formatBytes(t.walBytes), '', '', t.gcRecords, formatBytes(t.gcBytes)])
        print(table(['BRANCH', 'COLLECTION', 'DOCUMENTS', 'DOC BYTES', 'WAL RECORDS', 'WAL BYTES', 'OLDEST LSN', 'OLDEST TIME', 'GC RECORDS', 'GC BYTES'], rows))
        print('')
        print(`gc could free ${t.gcRecords} WAL records (${formatBytes(t.gcBytes)}); oldest LSN any allowed read needs: ${s.gc.oldestRetainedLsn}`)
        if (s.gc.pinnedBy.length) print(pinsTable(s.gc.pinnedBy))
      }),
    )
}

function commands() {
  return [gcCommand(), verifyCommand(), storageCommand()]
}

module.exports = { commands }
