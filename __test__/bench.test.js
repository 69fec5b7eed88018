'use strict'
/**
 * Smoke test of the benchmark harness (never of timing): a --quick run of two cheap
 * scenarios exits 0 and writes a results JSON with the expected shape.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')

test('npm run bench --quick runs two scenarios and writes the results JSON', { timeout: 240_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argon-bench-'))
  const out = path.join(dir, 'quick.json')
  try {
    const env = { ...process.env }
    // the benchmark starts its own server unless MONGODB_URI is set; tests use ARGON_TEST_URI
    if (!env.MONGODB_URI && env.ARGON_TEST_URI) env.MONGODB_URI = env.ARGON_TEST_URI
    const r = spawnSync(process.execPath, [path.join(ROOT, 'benchmark', 'run.js'), '--quick', '--only', 'reads-main,insert-many', '--rounds', '2', '--out', out], { cwd: ROOT, env, encoding: 'utf8', timeout: 230_000 })
    assert.equal(r.status, 0, `benchmark exited ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`)
    assert.match(r.stdout, /ours \(median\)/, 'prints the results table')

    const j = JSON.parse(fs.readFileSync(out, 'utf8'))
    for (const k of ['format', 'mode', 'startedAt', 'durationSec', 'machine', 'server', 'roundTripMethod', 'options', 'summary', 'scenarios']) assert.ok(k in j, `results JSON has ${k}`)
    assert.equal(j.mode, 'quick')
    for (const k of ['cores', 'memoryBytes', 'node', 'serverVersion']) assert.ok(j.machine[k] != null, `machine.${k}`)
    assert.ok(j.server.version, 'server.version')
    assert.deepEqual(Object.keys(j.scenarios).sort(), ['insert-many', 'reads-main'])
    assert.equal(j.summary.errors, 0)

    const cases = Object.values(j.scenarios).flatMap((s) => s.cases)
    assert.equal(cases.length, 4, 'two read cases, the operations-cost case, and one insertMany case')
    assert.ok(cases.some((c) => c.id === 'findOne-ops-overhead'), 'the operations-cost row')
    for (const c of cases) {
      assert.equal(c.skipped, null, `${c.case} ran`)
      for (const k of ['scenario', 'id', 'case', 'unit', 'ours', 'baseline', 'ratio', 'target', 'pass', 'roundTrips', 'cpu']) assert.ok(k in c, `${c.case}: has ${k}`)
      for (const side of [c.ours, c.baseline]) {
        for (const k of ['median', 'min', 'max', 'n']) assert.equal(typeof side[k], 'number', `${c.case}: ${k} is a number`)
        assert.ok(side.median > 0 && side.min <= side.max)
      }
      assert.ok(c.ratio > 0, `${c.case}: ratio`)
      assert.ok(['ratio<=', 'ratio>='].includes(c.target.type) && typeof c.target.value === 'number', `${c.case}: target`)
      assert.ok(typeof c.pass === 'boolean', `${c.case}: pass/miss recorded`)
      // round trips: whole numbers of requests spread over the pass; never zero
      assert.ok(c.roundTrips.ours >= 1 && c.roundTrips.baseline >= 1, `${c.case}: round trips ${JSON.stringify(c.roundTrips)}`)
    }
    const read = cases.find((c) => c.id === 'findOne-by-id')
    assert.equal(read.roundTrips.baseline, 1, 'the driver findOne is one find command')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('the capture scenario measures the barrier and the capture lag of every outside write', { timeout: 240_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argon-bench-'))
  const out = path.join(dir, 'quick.json')
  try {
    const env = { ...process.env }
    if (!env.MONGODB_URI && env.ARGON_TEST_URI) env.MONGODB_URI = env.ARGON_TEST_URI
    const r = spawnSync(process.execPath, [path.join(ROOT, 'benchmark', 'run.js'), '--quick', '--only', 'capture', '--rounds', '2', '--out', out], { cwd: ROOT, env, encoding: 'utf8', timeout: 230_000 })
    assert.equal(r.status, 0, `benchmark exited ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`)
    const cases = JSON.parse(fs.readFileSync(out, 'utf8')).scenarios.capture.cases
    assert.deepEqual(cases.map((c) => c.id), ['barrier-child-findOne', 'barrier-past-findOne', 'capture-lag'])
    for (const c of cases.slice(0, 2)) assert.ok(c.ratio > 0 && c.roundTrips.ours >= 2, `${c.case}: measured with round trips`)
    const lag = cases[2]
    assert.equal(lag.params.captured, lag.params.changes, 'every outside write that changed a document was captured')
    assert.ok(lag.params.changes >= lag.params.writes * 0.9)
    assert.ok(lag.params.lagP99Ms >= 0 && lag.params.lagP50Ms <= lag.params.lagP99Ms)
    assert.equal(lag.target.type, 'abs<=')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
