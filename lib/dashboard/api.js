'use strict'
/**
 * What the dashboard's page asks for: plain functions from an `Argon` instance and the
 * request's parameters to JSON-able values. The HTTP layer (index.js) routes, checks and
 * serialises; nothing here knows about requests.
 */
const { ArgonError } = require('../errors')
const fleet = require('../fleet')
const { parsePointText, parseResetText } = require('../timetravel')

function str(v, what, { optional = false } = {}) {
  if ((v === undefined || v === '') && optional) return undefined
  if (typeof v !== 'string' || v === '' || v.length > 500) throw new ArgonError('INVALID_ARGUMENT', `${what} is required`)
  return v
}

function int(v, what, min, max, dflt) {
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new ArgonError('INVALID_ARGUMENT', `${what} must be an integer from ${min} to ${max}`)
  return n
}

/** Extended JSON text (as typed in the page) to a value. */
function ejson(argon, text, what) {
  if (text === undefined || text === '') return undefined
  try {
    return argon._codec.EJSON.parse(text, { relaxed: false })
  } catch (e) {
    throw new ArgonError('INVALID_ARGUMENT', `${what} is not valid Extended JSON: ${e.message}`)
  }
}

/** Health, trends, operations, recent and slow operations and alerts of every reporting process. */
async function overview(argon, q, settings) {
  const { server, now, processes } = await fleet.reporting(argon)
  const slowMs = int(q.slowMs, 'slowMs', 0, 3_600_000, settings.slowMs)
  const operations = fleet.sumOperations(processes)
  const totals = Object.values(operations).reduce((a, o) => ({ count: a.count + o.count, errors: a.errors + o.errors, ms: a.ms + (o.avgMs ?? 0) * o.count }), { count: 0, errors: 0, ms: 0 })
  // The last 60 s of every process: operations and errors add, the mean is weighted by count.
  const window = processes.reduce((a, p) => {
    const w = p.metrics?.window || {}
    const n = Number(w.operations || 0)
    return { operations: a.operations + n, errors: a.errors + Number(w.errors || 0), ms: a.ms + Number(w.avgMs || 0) * n }
  }, { operations: 0, errors: 0, ms: 0 })
  const errorsByCode = []
  for (const [op, o] of Object.entries(operations)) for (const [code, count] of Object.entries(o.errorsByCode)) errorsByCode.push({ operation: op, code, count })
  errorsByCode.sort((a, b) => b.count - a.count)
  // Slow: every process's slow ring and recent ring, over this page's threshold.
  const slowSeen = new Set()
  const slow = [...fleet.mergedList(processes, 'slow'), ...fleet.mergedList(processes, 'recent')]
    .filter((e) => e.ms >= slowMs)
    .filter((e) => {
      const k = `${e.process}|${new Date(e.at).getTime()}|${e.op}|${e.ms}`
      return slowSeen.has(k) ? false : slowSeen.add(k)
    })
    .sort((a, b) => new Date(b.at) - new Date(a.at))
    .slice(0, 50)
  const active = []
  for (const p of processes) for (const a of p.alerts || []) active.push({ ...a, process: p.id, pid: p.pid })
  return {
    project: argon.database,
    server: { version: server.version, kind: server.kind, setName: server.setName ?? null, transactions: server.transactions, lsn: server.lsn },
    now: new Date(now),
    status: fleet.overall(processes),
    cards: {
      status: fleet.overall(processes),
      uptimeMs: processes.reduce((m, p) => Math.max(m, Number(p.metrics?.system?.uptimeMs ?? p.health?.uptimeMs ?? 0)), 0),
      avgLatencyMs: window.operations ? window.ms / window.operations : null,
      avgLatencySinceStartMs: totals.count ? totals.ms / totals.count : null,
      errorRate: window.operations ? window.errors / window.operations : null,
      operations: totals.count,
      errors: totals.errors,
    },
    processes: processes.map((p) => ({ id: p.id, pid: p.pid, host: p.host, app: p.app, status: p.status, silent: p.silent, reportedAt: p.reportedAt, startedAt: p.startedAt, uptimeMs: Number(p.metrics?.system?.uptimeMs ?? 0), intervalMs: p.intervalMs })),
    // One point per publishing interval (at least a second), over the last hour.
    series: fleet.mergedHistory(processes, now, { stepMs: Math.max(1000, Math.min(10_000, ...processes.map((p) => Number(p.intervalMs) || 10_000))) }),
    operations,
    errorsByCode,
    recent: fleet.mergedList(processes, 'recent'),
    slowMs,
    slow,
    alerts: { active, history: fleet.mergedList(processes, 'alertHistory', (a) => a.resolvedAt ?? a.since) },
  }
}

/** The branch tree with what each branch stores (documents it owns, WAL records), and the tags. */
async function branches(argon) {
  const [list, tags, storage] = await Promise.all([argon.listBranches(), argon.listTags(), argon.storage()])
  const per = new Map()
  for (const row of storage.collections) {
    if (row.branch === null) continue
    const b = per.get(row.branch) ?? { documents: 0, walRecords: 0, walBytes: 0 }
    b.documents += row.documents
    b.walRecords += row.walRecords
    b.walBytes += row.walBytes
    per.set(row.branch, b)
  }
  const none = { documents: 0, walRecords: 0, walBytes: 0 }
  return { branches: list.map((b) => ({ ...b, ...(per.get(b.name) ?? none) })), tags }
}

async function timeline(argon, q) {
  const branch = str(q.branch, 'branch')
  const [t, info] = await Promise.all([argon.timeline(branch, { buckets: int(q.buckets, 'buckets', 1, 500, 60) }), argon.timeTravelInfo(branch)])
  return { ...t, info }
}

async function collections(argon, q) {
  const branch = str(q.branch, 'branch')
  return { collections: (await argon.branch(branch).listCollections()).map((c) => c.name).filter((n) => !n.startsWith('__argon')) }
}

function view(argon, q) {
  const branch = argon.branch(str(q.branch, 'branch'))
  const at = parsePointText(q.at, 'at')
  return (at === undefined ? branch : branch.at(at)).collection(str(q.collection, 'collection'))
}

/** One page of a collection's documents as of a point, with an optional filter. */
async function documents(argon, q) {
  const coll = view(argon, q)
  const filter = ejson(argon, q.filter, 'filter') ?? {}
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) throw new ArgonError('INVALID_ARGUMENT', 'filter must be an object')
  const limit = int(q.limit, 'limit', 1, 200, 50)
  const skip = int(q.skip, 'skip', 0, 1_000_000, 0)
  const docs = await coll.find(filter).sort({ _id: 1 }).skip(skip).limit(limit + 1).toArray()
  return { documents: docs.slice(0, limit), more: docs.length > limit, skip, limit }
}

/** Every version of one document, newest first. */
async function history(argon, q) {
  const id = ejson(argon, q.id, 'id')
  if (id === undefined) throw new ArgonError('INVALID_ARGUMENT', 'id is required')
  const coll = argon.branch(str(q.branch, 'branch')).collection(str(q.collection, 'collection'))
  return { versions: await coll.history(id, { limit: int(q.limit, 'limit', 1, 200, 50) }) }
}

/** What changed on a branch from a point to its head: counts, and the first documents. */
async function diff(argon, q) {
  const branch = str(q.branch, 'branch')
  const at = parsePointText(str(q.at, 'at'), 'at')
  const a = { branch, at }
  const b = { branch }
  const summary = await argon.diff(a, b)
  const limit = int(q.limit, 'limit', 1, 500, 100)
  const cursor = argon.diff(a, b, { detailed: true })
  const docs = []
  try {
    for await (const d of cursor) {
      if (docs.length === limit) break
      docs.push(d)
    }
  } finally {
    await cursor.close?.()
  }
  return { summary, documents: docs, more: summary.added + summary.changed + summary.removed > docs.length }
}

async function preview(argon, q) {
  const branch = str(q.branch, 'branch')
  return { branch, preview: await argon.restorePreview(branch, { to: parseResetText(str(q.to, 'to')) }) }
}

/** Resets a branch (keeping a backup branch); `confirm` must repeat the branch's name. */
async function reset(argon, body) {
  const branch = str(body.branch, 'branch')
  if (body.confirm !== branch) throw new ArgonError('INVALID_ARGUMENT', 'confirm must repeat the branch name')
  const backup = await argon.resetBranch(branch, { to: parseResetText(str(body.to, 'to')), backup: true })
  return { branch, backup }
}

/** The metrics as rows for export: one per process and operation. */
async function metricsRows(argon) {
  const { processes } = await fleet.reporting(argon)
  const rows = []
  for (const p of processes) {
    for (const [operation, o] of Object.entries(fleet.operationsOf(p))) {
      rows.push({ process: p.id, pid: p.pid, app: p.app, reportedAt: p.reportedAt, operation, count: o.count, errors: o.errors, successRate: o.successRate, avgMs: o.avgMs, p50Ms: o.p50Ms, p99Ms: o.p99Ms, errorsByCode: Object.entries(o.errorsByCode).map(([c, n]) => `${c}:${n}`).join(' ') })
    }
  }
  return rows
}

/** RFC 4180 CSV; cells that a spreadsheet would run as a formula are prefixed with '. */
function csv(rows) {
  if (rows.length === 0) return ''
  const headers = Object.keys(rows[0])
  const cell = (v) => {
    let s = v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : String(v)
    if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string') s = `'${s}`
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  }
  return [headers.join(','), ...rows.map((r) => headers.map((h) => cell(r[h])).join(','))].join('\r\n') + '\r\n'
}

module.exports = { overview, branches, timeline, collections, documents, history, diff, preview, reset, metricsRows, csv }
