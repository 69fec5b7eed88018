#!/usr/bin/env node
'use strict'
/**
 * Probe: the dashboard's first render, in Debian's chromium (playwright-core). A project
 * with an application process's snapshot (monitor on) and a few branches; the page is
 * loaded N times in fresh browser contexts (no cache), timing navigation start to a filled
 * view (`body[data-loaded]`) for each view. Prints median and max per view, and the
 * gzipped size of what the page loads.
 *
 *   node benchmark/probes/dashboard-render.js [loads, default 20]
 */
const fs = require('node:fs')
const zlib = require('node:zlib')
const { chromium } = require('playwright-core')
const { Argon } = require('../..')
const { startDashboard, ASSETS } = require('../../lib/dashboard')
const { startServer } = require('../../scripts/test-server')

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  const loads = Number(process.argv[2] || 20)
  const srv = process.env.MONGODB_URI ? { uri: process.env.MONGODB_URI, stop: async () => {} } : await startServer({ syncOnCommit: false })
  const database = `dash_probe_${Date.now()}`
  const argon = await Argon.connect(srv.uri, { database, monitor: { publishIntervalMs: 1000 } })
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] })
  const d = await startDashboard(argon, { port: 0 })
  try {
    const users = argon.branch('main').collection('users')
    await users.insertMany(Array.from({ length: 1000 }, (_, i) => ({ _id: i, name: `u${i}`, role: i % 3 ? 'dev' : 'ops' })))
    for (let i = 0; i < 200; i++) await users.updateOne({ _id: i }, { $set: { seen: i } })
    for (const b of ['feature-a', 'feature-b', 'pr-42']) await (await argon.createBranch(b)).collection('users').insertOne({ _id: `${b}-1` })
    await argon.publishSnapshot()
    const bytes = Object.values(ASSETS).reduce((a, [f]) => a + zlib.gzipSync(fs.readFileSync(f), { level: 9 }).length, 0)
    console.log(`assets: ${bytes} bytes gzipped; ${loads} loads per view, each in a fresh context`)
    for (const view of ['health', 'branches', 'timetravel']) {
      const times = []
      for (let i = 0; i < loads; i++) {
        const ctx = await browser.newContext()
        const page = await ctx.newPage()
        const t0 = Date.now()
        await page.goto(`${d.url}#${view}`)
        await page.waitForSelector(`body[data-loaded="${view}"]`, { timeout: 10_000 })
        times.push(Date.now() - t0)
        await ctx.close()
      }
      console.log(`${view.padEnd(10)} first render: median ${median(times)} ms, max ${Math.max(...times)} ms`)
    }
  } finally {
    await d.close()
    await browser.close()
    await argon.close()
    await srv.stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
