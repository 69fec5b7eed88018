/* Argon dashboard page. Plain DOM; every value from the server goes in with textContent
 * (never innerHTML), so nothing from the database can become markup. */
'use strict'
;(function () {
  const $ = (id) => document.getElementById(id)
  const state = { session: null, view: null, timer: null, charts: {}, tt: { skip: 0 }, slowMs: null }

  // ---------------------------------------------------------------------------------
  // Helpers

  function el(tag, props, ...children) {
    const e = document.createElement(tag)
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'text') e.textContent = v
      else if (k === 'class') e.className = v
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
      else if (k === 'dataset') Object.assign(e.dataset, v)
      else e.setAttribute(k, v)
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)))
    return e
  }

  /** Fills a <table> with a header row and rows of cells (strings, numbers or nodes). */
  function fill(table, headers, rows, empty = 'nothing yet') {
    table.replaceChildren()
    table.append(el('thead', null, el('tr', null, ...headers.map((h) => el('th', { text: h })))))
    const body = el('tbody')
    if (rows.length === 0) body.append(el('tr', null, el('td', { colspan: String(headers.length), class: 'muted', text: empty })))
    for (const r of rows) body.append(el('tr', r.attrs || null, ...(r.cells || r).map((c) => el('td', null, c === null || c === undefined ? '-' : c))))
    table.append(body)
  }

  const ms = (v) => (v === null || v === undefined ? '-' : `${Number(v).toFixed(2)} ms`)
  const pct = (v) => (v === null || v === undefined ? '-' : `${(v * 100).toFixed(2)}%`)
  const time = (t) => (t ? new Date(t).toISOString().replace('T', ' ').replace('Z', '') : '-')
  function bytes(n) {
    if (n < 1024) return `${n} B`
    return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`
  }

  function duration(msv) {
    if (msv < 1000) return `${Math.round(msv)} ms`
    const s = Math.floor(msv / 1000)
    if (s < 60) return `${s}s`
    const m = Math.floor(s / 60)
    if (m < 60) return `${m}m ${s % 60}s`
    const h = Math.floor(m / 60)
    return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`
  }

  function showError(message) {
    const box = $('error')
    box.textContent = message
    box.hidden = !message
  }

  async function get(name, params = {}) {
    const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''))
    const res = await fetch(`api/${name}${qs.toString() ? `?${qs}` : ''}`, { credentials: 'same-origin' })
    return answer(res)
  }

  async function post(name, body) {
    const res = await fetch(`api/${name}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-argon-csrf': state.session.csrfToken },
      body: JSON.stringify(body),
    })
    return answer(res)
  }

  /** Relaxed Extended JSON dates (`{ $date: '…' }`) become their ISO text. */
  const dates = (k, x) => (x && typeof x === 'object' && typeof x.$date === 'string' && Object.keys(x).length === 1 ? x.$date : x)

  async function answer(res) {
    const body = await res.text().then((t) => JSON.parse(t, dates)).catch(() => ({}))
    if (!res.ok) {
      const e = new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`)
      e.code = body.error && body.error.code
      throw e
    }
    return body
  }

  /** A value as compact JSON (dates are already ISO text; other BSON types stay Extended JSON). */
  const show = (v) => JSON.stringify(v)

  // ---------------------------------------------------------------------------------
  // Charts (uPlot)

  /** A time-series chart: `lines` are `{ label, color, ys }`, drawn over the same times `xs` (seconds). */
  function chart(id, xs, lines, opts = {}) {
    const host = $(id)
    const width = Math.max(280, host.clientWidth || 480)
    const data = [xs, ...lines.map((l) => l.ys)]
    host.dataset.points = String(xs.length)
    if (state.charts[id] && state.charts[id].width === width) {
      state.charts[id].setData(data)
      return state.charts[id]
    }
    if (state.charts[id]) state.charts[id].destroy()
    host.replaceChildren()
    const plot = new uPlot(
      {
        width,
        height: opts.height || 180,
        legend: { show: lines.length > 1 },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, opts.minMax || 1)] } },
        axes: [{ stroke: '#888' }, { stroke: '#888', size: 60 }],
        series: [{}, ...lines.map((l, i) => ({ label: l.label, stroke: l.color, fill: i === 0 ? `${l.color}22` : undefined, width: 2, points: { show: xs.length < 60 } }))],
        hooks: opts.hooks || {},
      },
      data,
      host,
    )
    state.charts[id] = plot
    return plot
  }

  // ---------------------------------------------------------------------------------
  // Health

  async function loadHealth() {
    const slowMs = state.slowMs ?? state.session.slowMs
    const o = await get('overview', { slowMs })
    const status = $('card-status').querySelector('.value')
    status.textContent = o.cards.status
    status.className = `value status-${o.cards.status}`
    $('card-uptime').querySelector('.value').textContent = o.processes.length ? duration(o.cards.uptimeMs) : '-'
    $('card-latency').querySelector('.value').textContent = ms(o.cards.avgLatencyMs)
    $('card-errors').querySelector('.value').textContent = pct(o.cards.errorRate)
    $('health-meta').textContent = `MongoDB ${o.server.version} (${o.server.kind}), LSN ${o.server.lsn}; ${o.processes.length} process${o.processes.length === 1 ? '' : 'es'} reporting; ${o.cards.operations} operations, ${o.cards.errors} errors since they started; updated ${time(o.now)}`

    const xs = o.series.map((p) => new Date(p.t).getTime() / 1000)
    chart('chart-latency', xs, [
      { label: 'p99 ms', color: '#2f6fdf', ys: o.series.map((p) => p.p99Ms) },
      { label: 'average ms', color: '#7c3aed', ys: o.series.map((p) => p.avgMs) },
    ])
    chart('chart-errors', xs, [{ label: 'error rate', color: '#d9480f', ys: o.series.map((p) => p.errorRate) }], { minMax: 0.01 })

    fill($('processes'), ['Process', 'PID', 'Host', 'App', 'Status', 'Uptime', 'Reported'], o.processes.map((p) => [p.id, p.pid, p.host || '-', p.app || '-', p.silent ? 'unhealthy (silent)' : p.status, duration(p.uptimeMs), time(p.reportedAt)]), 'no process reports (processes publish their metrics while their monitor is on)')
    fill(
      $('operations'),
      ['Operation', 'Count', 'Success', 'Avg', 'p50', 'p99', 'Errors', 'Last interval: calls', 'p50', 'p99'],
      Object.entries(o.operations)
        .sort((a, b) => b[1].count - a[1].count)
        .map(([name, s]) => ({ attrs: { 'data-op': name }, cells: [name, s.count, pct(s.successRate), ms(s.avgMs), ms(s.p50Ms), ms(s.p99Ms), s.errors, s.interval ? s.interval.count : 0, ms(s.interval && s.interval.p50Ms), ms(s.interval && s.interval.p99Ms)] })),
    )
    if (document.activeElement !== $('slow-ms')) $('slow-ms').value = String(o.slowMs)
    const opRow = (e) => [time(e.at), e.op, e.branch ? `${e.branch}/${e.collection}` : '-', ms(e.ms), e.ok ? 'ok' : e.code, e.pid]
    fill($('slow'), ['Time', 'Operation', 'Branch/collection', 'Duration', 'Outcome', 'PID'], o.slow.map(opRow), `no operation over ${o.slowMs} ms`)
    fill($('errors'), ['Operation', 'Code', 'Count'], o.errorsByCode.map((e) => [e.operation, e.code, e.count]), 'no errors')
    fill($('recent'), ['Time', 'Operation', 'Branch/collection', 'Duration', 'Outcome', 'PID'], o.recent.map(opRow))
    const alertRow = (a) => [a.rule, a.severity, a.state, a.summary || '-', a.value, a.threshold, time(a.since), a.resolvedAt ? time(a.resolvedAt) : '-', a.pid]
    const alertHead = ['Rule', 'Severity', 'State', 'Summary', 'Value', 'Threshold', 'Since', 'Resolved', 'PID']
    fill($('alerts-active'), alertHead, o.alerts.active.map(alertRow), 'no active alerts')
    fill($('alerts-history'), alertHead, o.alerts.history.map(alertRow), 'no alert transitions')
    document.body.dataset.loaded = 'health'
  }

  // ---------------------------------------------------------------------------------
  // Branches

  const branchCells = (b) => [b.parent || '-', b.forkLsn, time(b.createdAt), b.headLsn, b.documents, b.walRecords, bytes(b.walBytes), b.protected ? 'yes' : 'no']

  async function loadBranches() {
    const { branches, tags } = await get('branches')
    const children = new Map()
    for (const b of branches) {
      const k = b.parent || ''
      if (!children.has(k)) children.set(k, [])
      children.get(k).push(b)
    }
    const rows = []
    const walk = (parent, depth) => {
      for (const b of (children.get(parent) || []).sort((x, y) => x.name.localeCompare(y.name))) {
        const name = el('span', { class: 'tree', text: `${depth ? '└ ' : ''}${b.name}` })
        name.style.paddingLeft = `${depth * 1.2}em`
        rows.push({ attrs: { 'data-branch': b.name }, cells: [name, ...branchCells(b)] })
        walk(b.name, depth + 1)
      }
    }
    walk('', 0)
    // Branches whose parent is gone still show.
    for (const b of branches) if (!rows.some((r) => r.attrs['data-branch'] === b.name)) rows.push({ attrs: { 'data-branch': b.name }, cells: [b.name, ...branchCells(b)] })
    fill($('branch-tree'), ['Branch', 'Parent', 'Fork LSN', 'Forked at', 'Head LSN', 'Documents owned', 'WAL records', 'WAL bytes', 'Protected'], rows)
    fill($('tags'), ['Tag', 'Branch', 'LSN', 'Created'], tags.map((t) => ({ attrs: { 'data-tag': t.name }, cells: [t.name, t.branch, t.lsn, time(t.createdAt)] })), 'no tags')
    document.body.dataset.loaded = 'branches'
  }

  // ---------------------------------------------------------------------------------
  // Time travel

  async function loadTimeTravel() {
    const select = $('tt-branch')
    if (select.options.length === 0) {
      const { branches } = await get('branches')
      for (const b of branches) select.append(el('option', { value: b.name, text: b.name }))
      const wanted = new URLSearchParams(location.hash.split('?')[1] || '').get('branch')
      if (wanted && branches.some((b) => b.name === wanted)) select.value = wanted
    }
    $('tt-restore').hidden = state.session.readOnly
    await branchChanged()
  }

  async function branchChanged() {
    const branch = $('tt-branch').value
    const [t, c] = await Promise.all([get('timeline', { branch, buckets: 60 }), get('collections', { branch })])
    const coll = $('tt-collection')
    const before = coll.value
    coll.replaceChildren(...c.collections.map((n) => el('option', { value: n, text: n })))
    if (c.collections.includes(before)) coll.value = before
    const info = t.info
    $('tt-info').textContent = `${branch}: LSN ${info.earliestLsn} to ${info.latestLsn} readable (${info.entries} WAL records in the retention window of ${duration(info.retentionMs)}); ${t.points.length} buckets of ${duration(t.bucketMs)}`
    const xs = t.points.map((p) => new Date(p.t).getTime() / 1000)
    const points = t.points
    chart('chart-timeline', xs, [{ label: 'writes', color: '#0b7285', ys: points.map((p) => p.writes) }], {
      height: 160,
      hooks: {
        ready: [
          (u) =>
            u.over.addEventListener('click', () => {
              const i = u.cursor.idx
              if (i === null || i === undefined) return
              // The point after the bucket's last write (or the last LSN before an empty one).
              let lsn = null
              for (let j = i; j >= 0 && lsn === null; j--) lsn = points[j].lastLsn
              if (lsn !== null) {
                $('tt-point').value = String(lsn)
                browse(0)
              }
            }),
        ],
      },
    })
    document.body.dataset.loaded = 'timetravel'
  }

  function point() {
    return $('tt-point').value.trim()
  }

  async function browse(skip = 0) {
    const branch = $('tt-branch').value
    const collection = $('tt-collection').value
    if (!collection) return showError('this branch has no collection to browse')
    state.tt.skip = skip
    const r = await get('documents', { branch, collection, at: point(), filter: $('tt-filter').value.trim(), skip, limit: 50 })
    $('tt-docs-title').textContent = `${collection} on ${branch}${point() ? ` as of ${point()}` : ' (head)'}: ${skip + r.documents.length}${r.more ? '+' : ''} documents`
    const rows = r.documents.map((d) => ({
      attrs: { 'data-id': show(d._id) },
      cells: [el('a', { href: '#', class: 'doc-id', text: show(d._id), onclick: (ev) => (ev.preventDefault(), docHistory(d._id)) }), el('code', { text: show(d) })],
    }))
    if (skip === 0) fill($('tt-docs'), ['_id', 'Document'], rows, 'no documents')
    else for (const r2 of rows) $('tt-docs').tBodies[0].append(el('tr', r2.attrs, ...r2.cells.map((c) => el('td', null, c))))
    $('tt-more').hidden = !r.more
    document.body.dataset.browsed = `${branch}|${collection}|${point()}|${skip}`
  }

  async function docHistory(id) {
    const branch = $('tt-branch').value
    const collection = $('tt-collection').value
    const r = await get('history', { branch, collection, id: JSON.stringify(id) })
    $('tt-side-title').textContent = `History of ${show(id)}`
    const table = el('table', { id: 'tt-history' })
    fill(table, ['LSN', 'Time', 'Operation', 'Document'], r.versions.map((v) => [v.lsn, time(v.time), v.op, el('code', { text: v.document === null ? '(deleted)' : show(v.document) })]))
    $('tt-side').replaceChildren(table)
  }

  async function diff() {
    const branch = $('tt-branch').value
    if (!point()) return showError('pick a point first (an LSN, a time or a tag, or click the timeline)')
    const r = await get('diff', { branch, at: point(), limit: 100 })
    $('tt-side-title').textContent = `${branch} at ${point()} → head: ${r.summary.added} added, ${r.summary.changed} changed, ${r.summary.removed} removed`
    const table = el('table', { id: 'tt-diff-table' })
    fill(table, ['Change', 'Collection', '_id', 'Before', 'After'], r.documents.map((d) => ({ attrs: { class: `change-${d.change}` }, cells: [d.change, d.collection, show(d._id), el('code', { text: d.before ? show(d.before) : '-' }), el('code', { text: d.after ? show(d.after) : '-' })] })), 'no differences')
    $('tt-side').replaceChildren(table, r.more ? el('p', { class: 'muted', text: `showing the first ${r.documents.length}` }) : '')
  }

  async function preview() {
    const branch = $('tt-branch').value
    if (!point()) return showError('pick a point first')
    const r = await get('preview', { branch, to: point() })
    const p = r.preview
    $('tt-preview-result').textContent = `a reset of ${branch} to ${point()} would re-add ${p.added}, revert ${p.changed} and remove ${p.removed} documents`
    $('tt-reset-box').hidden = false
    $('tt-confirm').value = ''
  }

  async function reset() {
    const branch = $('tt-branch').value
    const r = await post('reset', { branch, to: point(), confirm: $('tt-confirm').value })
    $('tt-reset-result').textContent = `reset ${r.branch} to ${point()}; its previous state is kept on branch ${r.backup}`
    $('tt-reset-box').hidden = true
    $('tt-branch').replaceChildren()
    await loadTimeTravel()
  }

  // ---------------------------------------------------------------------------------
  // Navigation and refresh

  const LOADERS = { health: loadHealth, branches: loadBranches, timetravel: loadTimeTravel }
  const REFRESH = { health: 5000 }

  function guard(fn) {
    return (...args) =>
      Promise.resolve()
        .then(() => (showError(''), fn(...args)))
        .catch((e) => showError(e.message))
  }

  async function go() {
    const view = (location.hash.replace(/^#/, '').split('?')[0] || 'health').toLowerCase()
    const name = Object.hasOwn(LOADERS, view) ? view : 'health'
    state.view = name
    clearInterval(state.timer)
    for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== `view-${name}`
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === name)
    await guard(LOADERS[name])()
    if (REFRESH[name]) state.timer = setInterval(guard(LOADERS[name]), REFRESH[name])
  }

  async function start() {
    state.session = await get('session')
    $('project').textContent = state.session.project
    $('mode').textContent = state.session.readOnly ? 'read-only' : 'read-write'
    for (const b of document.querySelectorAll('#health-tabs button')) {
      b.addEventListener('click', () => {
        for (const x of document.querySelectorAll('#health-tabs button')) x.classList.toggle('active', x === b)
        for (const t of document.querySelectorAll('#view-health .tab')) t.hidden = t.id !== `tab-${b.dataset.tab}`
      })
    }
    $('slow-ms').addEventListener('change', guard(() => {
      const v = Number($('slow-ms').value)
      state.slowMs = Number.isInteger(v) && v >= 0 ? v : null
      return loadHealth()
    }))
    $('tt-branch').addEventListener('change', guard(branchChanged))
    $('tt-browse').addEventListener('click', guard(() => browse(0)))
    $('tt-more').addEventListener('click', guard(() => browse(state.tt.skip + 50)))
    $('tt-diff').addEventListener('click', guard(diff))
    $('tt-preview').addEventListener('click', guard(preview))
    $('tt-reset').addEventListener('click', guard(reset))
    window.addEventListener('hashchange', go)
    await go()
  }

  document.addEventListener('DOMContentLoaded', () => guard(start)())
})()
