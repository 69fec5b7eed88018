'use strict'
/**
 * The project's processes as an operator sees them, from the snapshots each publishes
 * into `__argon.processes` (`argon.processes()`): each one's status, the overall status,
 * operations summed over processes, and (for the dashboard) their merged trend points,
 * recent and slow operations and alerts. Shared by `argon status | health | metrics | top`
 * and the dashboard.
 */

const RANK = { healthy: 0, degraded: 1, unhealthy: 2 }

/**
 * Each process's status: its own health, or `unhealthy` when it has been silent for three
 * of its publishing intervals (by the server's clock): it crashed, hangs or lost the
 * database. A process that closes cleanly marks its snapshot closed.
 */
function withStatus(processes, now) {
  return processes.map((p) => {
    const silentMs = now - new Date(p.reportedAt).getTime()
    const silent = silentMs > 3 * (p.intervalMs || 10_000)
    return { ...p, silent, status: silent ? 'unhealthy' : p.health?.status ?? 'unknown' }
  })
}

/** The worst status among the processes reporting (unknown when none report). */
function overall(processes) {
  if (processes.length === 0) return 'unknown'
  return processes.map((p) => p.status || 'unknown').reduce((a, b) => ((RANK[b] ?? 3) > (RANK[a] ?? 3) ? b : a))
}

/** The processes with their status, judged by the server's clock. */
async function reporting(argon) {
  const [server, processes] = await Promise.all([argon.serverInfo(), argon.processes()])
  const now = server.localTime ? new Date(server.localTime).getTime() : Date.now()
  return { server, now, processes: withStatus(processes, now) }
}

/** Per-operation figures of one process's metrics document. */
function operationsOf(p) {
  const out = {}
  for (const [name, o] of Object.entries(p.metrics?.operations || {})) {
    const count = Number(o.count || 0)
    const errors = Number(o.errors || 0)
    out[name] = { count, errors, successRate: count ? (count - errors) / count : null, avgMs: o.avgMs ?? null, p50Ms: o.p50Ms ?? null, p99Ms: o.p99Ms ?? null, errorsByCode: o.errorsByCode || {} }
    // The process's last publishing interval (absent when the operation did not run in it).
    const i = p.interval?.[name]
    out[name].interval = i ? { count: Number(i.count), avgMs: i.avgMs, p50Ms: i.p50Ms, p99Ms: i.p99Ms } : null
  }
  return out
}

/**
 * Sums operations over processes: counts and errors add, the average is weighted by count,
 * p50 and p99 are the highest of the processes' (an upper bound: percentiles do not add),
 * since they started and (`interval`) over their last publishing interval.
 */
function sumOperations(processes) {
  const out = {}
  for (const p of processes) {
    for (const [name, o] of Object.entries(operationsOf(p))) {
      const s = (out[name] ??= { count: 0, errors: 0, successRate: null, avgMs: null, p50Ms: null, p99Ms: null, errorsByCode: {} })
      const total = s.count + o.count
      if (o.avgMs != null) s.avgMs = total ? ((s.avgMs ?? 0) * s.count + o.avgMs * o.count) / total : o.avgMs
      s.count = total
      s.errors += o.errors
      s.p50Ms = Math.max(s.p50Ms ?? 0, o.p50Ms ?? 0)
      s.p99Ms = Math.max(s.p99Ms ?? 0, o.p99Ms ?? 0)
      for (const [code, n] of Object.entries(o.errorsByCode)) s.errorsByCode[code] = (s.errorsByCode[code] || 0) + Number(n)
      if (o.interval) {
        const i = (s.interval ??= { count: 0, p50Ms: 0, p99Ms: 0 })
        i.count += o.interval.count
        i.p50Ms = Math.max(i.p50Ms, o.interval.p50Ms)
        i.p99Ms = Math.max(i.p99Ms, o.interval.p99Ms)
      }
    }
  }
  for (const s of Object.values(out)) {
    s.successRate = s.count ? (s.count - s.errors) / s.count : null
    s.interval ??= null
  }
  return out
}

/**
 * The processes' summary points of the last `windowMs` merged into buckets of `stepMs`:
 * operations and errors add (each point is a process's last-60-s window), the mean is
 * weighted by operations, p99 is the highest; oldest first.
 */
function mergedHistory(processes, now, { windowMs = 3_600_000, stepMs = 10_000 } = {}) {
  const buckets = new Map()
  for (const p of processes) {
    for (const h of p.history || []) {
      const t = new Date(h.t).getTime()
      if (!(t >= now - windowMs)) continue
      const k = Math.floor(t / stepMs) * stepMs
      const b = buckets.get(k) ?? { t: new Date(k), operations: 0, errors: 0, errorRate: 0, p99Ms: 0, avgMs: 0 }
      const n = Number(h.operations || 0)
      // The mean weighted by each point's operations (summed here, divided below).
      b.avgMs += Number(h.avgMs || 0) * n
      b.operations += n
      b.errors += Number(h.errors || 0)
      b.p99Ms = Math.max(b.p99Ms, Number(h.p99Ms || 0))
      buckets.set(k, b)
    }
  }
  const out = [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b)
  for (const b of out) {
    b.errorRate = b.operations ? b.errors / b.operations : 0
    b.avgMs = b.operations ? b.avgMs / b.operations : 0
  }
  return out
}

/** Entries of one list field (`recent`, `slow`, `alertHistory`) of every process, tagged with it, newest first. */
function mergedList(processes, field, timeOf = (e) => e.at, limit = 50) {
  const all = []
  for (const p of processes) for (const e of p[field] || []) all.push({ ...e, process: p.id, pid: p.pid })
  return all.sort((a, b) => new Date(timeOf(b)).getTime() - new Date(timeOf(a)).getTime()).slice(0, limit)
}

module.exports = { withStatus, overall, reporting, operationsOf, sumOperations, mergedHistory, mergedList, RANK }
