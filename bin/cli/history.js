'use strict'
/**
 * History commands: `argon history` (a branch's readable range), `argon diff` (what changed
 * between two points), `argon preview` and `argon reset` (undo to a past point or the
 * parent). `diff --details` and `reset` draw a progress bar on a terminal.
 */
const { Command } = require('commander')
const { withArgon, print, printJson, table, parsePoint, withProgress } = require('./common')

/**
 * A diff side: `branch` or `branch@point`. Branch names may contain '@', so a text that
 * names an existing branch is that branch; otherwise the point follows the last '@'.
 */
async function parseSide(argon, text) {
  const at = text.lastIndexOf('@')
  if (at <= 0) return { branch: text }
  const exists = await argon.branchInfo(text).then(
    () => true,
    (e) => (e.code === 'BRANCH_NOT_FOUND' ? false : Promise.reject(e)),
  )
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

/** `--to`: an LSN, an ISO date, a tag, or 'parent'. */
const { parseResetText: resetPoint } = require('../../lib/timetravel')

function commands() {
  const history = new Command('history')
    .argument('<branch>')
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

  const diff = new Command('diff')
    .argument('<from>')
    .argument('<to>')
    .description('documents added, changed and removed between two points (branch or branch@point)')
    .option('--details', 'list every changed document (with a progress bar on a terminal)')
    .action((from, to, opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        const a = await parseSide(argon, from)
        const b = await parseSide(argon, to)
        // With --details, the summary is counted from the listing: one diff, one snapshot.
        const documents = opts.details
          ? await withProgress(o, 'diff', (onProgress) => argon.diff(a, b, { detailed: true, onProgress }).toArray())
          : undefined
        const d = documents ? countsFromDocuments(documents) : await argon.diff(a, b)
        if (o.json) return printJson(documents ? { ...d, documents } : d)
        print(countsTable(d))
        for (const doc of documents || []) print(`${doc.change.padEnd(8)} ${doc.collection} ${JSON.stringify(doc._id)}`)
      }),
    )

  const preview = new Command('preview')
    .argument('<branch>')
    .description('what a reset of <branch> to --to would change (changes nothing)')
    .requiredOption('--to <point>', "an LSN, an ISO date, a tag, or 'parent'")
    .action((name, opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        const p = await argon.restorePreview(name, { to: resetPoint(opts.to) })
        if (o.json) printJson(p)
        else print(countsTable(p))
      }),
    )

  const reset = new Command('reset')
    .argument('<branch>')
    .description('reset a branch to a past point or its parent, keeping a backup branch (with a progress bar on a terminal)')
    .requiredOption('--to <point>', "an LSN, an ISO date, a tag, or 'parent'")
    .option('--backup <name>', 'name of the backup branch')
    .option('--no-backup', 'do not keep a backup branch')
    .action((name, opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        const to = resetPoint(opts.to)
        const backup = await withProgress(o, 'reset', (onProgress) =>
          argon.resetBranch(name, { to, backup: opts.backup === undefined ? true : opts.backup, onProgress }),
        )
        if (o.json) printJson({ branch: name, backup })
        else print(backup ? `reset ${name}; the previous state is on branch ${backup}` : `reset ${name} (no backup kept)`)
      }),
    )

  return [history, diff, preview, reset]
}

module.exports = { commands, parseSide, countsFromDocuments, countsTable }
