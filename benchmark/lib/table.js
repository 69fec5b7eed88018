'use strict'
/** Plain-text tables for stdout. */

function fmtValue(v, unit) {
  if (v == null || Number.isNaN(v)) return '—'
  switch (unit) {
    case 'us':
      if (v < 1000) return `${v.toFixed(0)} µs`
      if (v < 100000) return `${(v / 1000).toFixed(2)} ms`
      return `${(v / 1000).toFixed(0)} ms`
    case 'MB':
      return `${v.toFixed(1)} MB`
    default: {
      const u = unit || ''
      if (v >= 10000) return `${(v / 1000).toFixed(1)}k ${u}`
      if (v >= 100) return `${v.toFixed(0)} ${u}`
      return `${v.toFixed(1)} ${u}`
    }
  }
}

function fmtRatio(r) {
  if (r == null || Number.isNaN(r)) return '—'
  if (r >= 100) return `${r.toFixed(0)}×`
  return `${r.toFixed(2)}×`
}

function mark(row) {
  if (row.skipped) return 'skip'
  if (row.error) return 'ERROR'
  if (row.pass === true) return 'pass'
  if (row.pass === false) return 'MISS'
  return 'info'
}

function fmtRt(rt) {
  if (!rt) return '—'
  const f = (x) => (x == null ? '—' : Number.isInteger(x) ? String(x) : x.toFixed(2))
  return `${f(rt.ours)} / ${f(rt.baseline)}`
}

function render(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd()
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** The main table: one line per case. */
function resultsTable(rows) {
  const headers = ['scenario', 'case', 'ours (median)', 'baseline (median)', 'ratio', 'target', 'mark', 'RT/op ours / base']
  const body = rows.map((r) => {
    if (r.skipped || r.error) {
      const msg = `${r.skipped ? 'skipped' : 'error'}: ${r.skipped || r.error}`.replace(/\s+/g, ' ')
      return [r.scenario, r.case, msg.length > 90 ? `${msg.slice(0, 87)}...` : msg, '', '', r.target?.text || '', mark(r), '']
    }
    return [r.scenario, r.case, fmtValue(r.ours?.median, r.unit), fmtValue(r.baseline?.median, r.baselineUnit || r.unit), fmtRatio(r.ratio), r.target?.text || '', mark(r), fmtRt(r.roundTrips)]
  })
  return render(headers, body)
}

/** The cost table: spread, per-command round trips and CPU per operation. */
function costTable(rows) {
  const headers = ['case', 'ours min..max', 'base min..max', 'ours commands/op', 'base commands/op', 'CPU/op ours cli+srv', 'CPU/op base cli+srv']
  const cmd = (m) =>
    m
      ? Object.entries(m)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k}:${v}`)
          .join(' ') || '—'
      : '—'
  const cpu = (c, who) => {
    if (!c || c[`${who}ClientUs`] == null) return '—'
    const s = c[`${who}ServerUs`]
    return `${c[`${who}ClientUs`].toFixed(0)}+${s == null ? '?' : s.toFixed(0)} µs`
  }
  const body = rows
    .filter((r) => !r.skipped && !r.error && r.ours)
    .map((r) => [
      `${r.scenario} ${r.case}`,
      `${fmtValue(r.ours.min, r.unit)}..${fmtValue(r.ours.max, r.unit)}`,
      r.baseline ? `${fmtValue(r.baseline.min, r.baselineUnit || r.unit)}..${fmtValue(r.baseline.max, r.baselineUnit || r.unit)}` : '—',
      cmd(r.roundTrips?.oursByCommand),
      cmd(r.roundTrips?.baselineByCommand),
      cpu(r.cpu, 'ours'),
      cpu(r.cpu, 'baseline'),
    ])
  return render(headers, body)
}

module.exports = { resultsTable, costTable, fmtValue, fmtRatio, mark }
