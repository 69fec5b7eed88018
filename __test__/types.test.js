'use strict'
// Type-checks __test__/types/consumer.ts (a strict consumer of index.d.ts, including
// `// @ts-expect-error` lines that must really fail) with `tsc -p __test__/types`.
const { test } = require('node:test')
const assert = require('node:assert')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')

test('index.d.ts type-checks a strict consumer (tsc exit code 0)', { timeout: 120_000 }, () => {
  const r = spawnSync('npx', ['tsc', '-p', path.join('__test__', 'types')], {
    cwd: root,
    encoding: 'utf8',
    shell: process.platform === 'win32',
  })
  assert.ifError(r.error)
  assert.strictEqual(r.status, 0, `tsc failed:\n${r.stdout}\n${r.stderr}`)
})
