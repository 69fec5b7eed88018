'use strict'
/**
 * Child process of scenario 9: streams every document of one collection through a cursor
 * and reports its own RSS. Run alone per size and side so RSS isn't polluted by fixtures,
 * other scenarios or the other side.
 *
 *   node benchmark/lib/stream-child.js '{"mode":"ours"|"raw","uri":..,"db":..,"coll":..,"branch":"main"}'
 *
 * Protocol on stdio, so the parent can read the server's request counters around the
 * stream alone (not the connection set-up or close): the child prints `ready` once
 * connected and waits for a line on stdin, streams, prints one JSON line
 * { count, rssStartMB, rssPeakMB, rssEndMB, heapPeakMB, seconds }, waits for another line,
 * then closes its connection and exits. While streaming it prints `progress <count>
 * <rssPeakMB>` every 2 s.
 */
const path = require('node:path')
const readline = require('node:readline')

const lines = readline.createInterface({ input: process.stdin })
const waiting = []
lines.on('line', () => waiting.shift()?.())
const nextLine = () => new Promise((resolve) => waiting.push(resolve))

async function main() {
  const a = JSON.parse(process.argv[2])
  const MB = 1024 * 1024
  let cursor
  let close
  if (a.mode === 'ours') {
    const { Argon } = require(path.join(__dirname, '..', '..'))
    const argon = await Argon.connect(a.uri, { database: a.db })
    cursor = argon.branch(a.branch || 'main').collection(a.coll).find({})
    close = () => argon.close()
  } else {
    const { MongoClient } = require('mongodb')
    const client = await MongoClient.connect(a.uri)
    cursor = client.db(a.db).collection(a.coll).find({})
    close = () => client.close()
  }
  if (global.gc) global.gc()
  process.stdout.write('ready\n')
  await nextLine()
  const rssStart = process.memoryUsage.rss()
  let rssPeak = rssStart
  let heapPeak = process.memoryUsage().heapUsed
  const sample = () => {
    const r = process.memoryUsage.rss()
    if (r > rssPeak) rssPeak = r
  }
  let count = 0
  let ticks = 0
  const timer = setInterval(() => {
    sample()
    const h = process.memoryUsage().heapUsed
    if (h > heapPeak) heapPeak = h
    // every 2 s: progress, so a parent that gives up still knows how far it got
    if (++ticks % 100 === 0) process.stdout.write(`progress ${count} ${(rssPeak / MB).toFixed(1)}\n`)
  }, 20)
  const t0 = process.hrtime.bigint()
  for await (const d of cursor) {
    if (d == null) throw new Error('null document')
    count += 1
    if ((count & 1023) === 0) sample()
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  sample()
  clearInterval(timer)
  const rssEnd = process.memoryUsage.rss()
  process.stdout.write(JSON.stringify({ count, rssStartMB: rssStart / MB, rssPeakMB: rssPeak / MB, rssEndMB: rssEnd / MB, heapPeakMB: heapPeak / MB, seconds }) + '\n')
  await nextLine()
  await close()
  lines.close()
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n')
  process.exitCode = 1
})
