'use strict'
/**
 * 9. Memory while streaming: the peak RSS of a fresh Node process that reads every
 * document of a collection through a cursor (`for await`), for 10k and 1M documents
 * (quick: smaller). One child process per size and side, so fixtures and other scenarios
 * never pollute the measurement. Sides: ours on `main` (a plain find), ours on a child
 * branch of it (the $unionWith aggregation), and the driver on the same collection.
 * Target: streaming is flat, the peak RSS at the largest size is at most 1.2× the peak
 * at the smallest size. Round trips are per whole stream (connection set-up excluded),
 * counted on the server. A stream that does not finish within --stream-timeout seconds
 * (default 300) is killed and its rows say so (with how far it got), instead of a number.
 */
const { spawn } = require('node:child_process')
const path = require('node:path')
const { row, skippedRow, targets } = require('../lib/harness')
const { summarize, median } = require('../lib/stats')
const { COLL, mainDocs } = require('../lib/fixtures')

const fmtN = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1000 ? `${n / 1000}k` : String(n))
const CHILD = path.join(__dirname, '..', 'lib', 'stream-child.js')

/**
 * Runs one stream child; `around(phase)` is awaited when the child is connected
 * ('before') and when it has streamed everything ('after'), so the caller can read the
 * server's counters around the stream alone.
 */
function runChild(args, around, timeoutMs) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', CHILD, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let result = null
    let failed = null
    let progress = { count: 0, rssPeakMB: null }
    const timer = setTimeout(() => {
      const rss = progress.rssPeakMB == null ? 'not sampled yet' : `${progress.rssPeakMB} MB`
      const e = new Error(`did not finish within ${timeoutMs / 1000} s (${progress.count} docs streamed, peak RSS so far ${rss})`)
      e.timedOut = true
      e.progress = progress
      failed = e
      try {
        process.kill(p.pid, 'SIGKILL')
      } catch {}
    }, timeoutMs)
    p.stderr.on('data', (d) => (err += d))
    p.stdout.on('data', async (d) => {
      out += d
      let nl
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl).trim()
        out = out.slice(nl + 1)
        try {
          if (line.startsWith('progress ')) {
            const [, c, r] = line.split(' ')
            progress = { count: Number(c), rssPeakMB: Number(r) }
          } else if (line === 'ready') {
            await around('before')
            p.stdin.write('go\n')
          } else if (line.startsWith('{')) {
            result = JSON.parse(line)
            await around('after')
            p.stdin.write('bye\n')
          }
        } catch (e) {
          failed = e
          p.stdin.write('bye\n')
        }
      }
    })
    p.on('error', reject)
    p.on('exit', (code) => {
      clearTimeout(timer)
      if (failed) return reject(failed)
      const why = err.split('\n').filter((l) => l.trim() && !/^\s+at /.test(l)).slice(-2).join(' | ')
      if (code !== 0 || !result) return reject(new Error(`stream child (${args.mode}) exited ${code ?? 'by a signal'}: ${why}`))
      resolve(result)
    })
  })
}

async function streamBranch(ctx, fx) {
  const key = `stream-branch:${fx.db}`
  if (ctx.fixtures.has(key)) return ctx.fixtures.get(key)
  const argon = await ctx.direct.argon(fx.db)
  await argon.createBranch('stream', { from: 'main' })
  const ids = Array.from({ length: 10 }, (_, j) => Math.floor(((j + 0.5) * fx.n) / 10))
  await argon.branch('stream').collection(COLL).updateMany({ _id: { $in: ids } }, { $inc: { v: 1 } })
  ctx.fixtures.set(key, 'stream')
  return 'stream'
}

module.exports = {
  number: 9,
  name: 'memory',
  title: 'RSS while streaming a large cursor',
  async run(ctx) {
    const sizes = ctx.opts.streamSizes
    const fxs = []
    for (const s of sizes) {
      const fx = await mainDocs(ctx, s)
      await streamBranch(ctx, fx)
      fxs.push(fx)
    }
    const sides = [
      { key: 'ours-main', mode: 'ours', branch: 'main' },
      { key: 'ours-branch', mode: 'ours', branch: 'stream' },
      { key: 'raw', mode: 'raw', branch: null },
    ]
    const res = {}
    for (let r = 0; r < ctx.opts.memRounds; r++) {
      for (const fx of fxs) {
        const order = r % 2 === 0 ? sides : [...sides].reverse()
        for (const s of order) {
          ctx.log(`  stream ${fmtN(fx.n)} docs: ${s.key} (round ${r + 1})`)
          const k = `${s.key}@${fx.n}`
          res[k] ||= { peaks: [], rts: [], byCommand: [], docsPerSec: [], starts: [], failed: null }
          if (res[k].failed) continue // timed out in an earlier round: don't wait again
          let a
          let b
          let out
          try {
            out = await runChild(
              { mode: s.mode, uri: ctx.uri, db: fx.db, coll: COLL, branch: s.branch },
              async (phase) => {
                if (phase === 'before') a = await ctx.counter.snapshot()
                else b = await ctx.counter.snapshot()
              },
              ctx.opts.streamTimeoutSec * 1000,
            )
          } catch (e) {
            if (!e.timedOut) throw e
            ctx.log(`    ${s.key}: ${e.message}`)
            res[k].failed = e.message
            continue
          }
          const d = ctx.counter.delta(a, b)
          if (out.count !== fx.n) throw new Error(`${s.key} streamed ${out.count} of ${fx.n} documents`)
          res[k].peaks.push(out.rssPeakMB)
          res[k].starts.push(out.rssStartMB)
          res[k].rts.push(d.requests)
          res[k].byCommand.push(d.byCommand)
          res[k].docsPerSec.push(out.count / out.seconds)
        }
      }
    }
    const stat = (k) => summarize(res[k].peaks, res[k].peaks)
    const rt = (k) => median(res[k].rts)
    const failedRow = (id, name, why, target) => ({ ...skippedRow({ scenario: '9', id, name, reason: null, target }), skipped: null, error: why })
    const rows = []
    for (const fx of fxs) {
      for (const s of sides.slice(0, 2)) {
        const k = `${s.key}@${fx.n}`
        const kb = `raw@${fx.n}`
        const name = `peak RSS streaming ${fmtN(fx.n)} docs (${s.branch === 'main' ? 'main' : 'child branch'})`
        if (res[k].failed || res[kb].failed) {
          rows.push(failedRow(k, name, res[k].failed ? `ours ${res[k].failed}` : `driver ${res[kb].failed}`, targets.info()))
          continue
        }
        rows.push(
          row({
            scenario: '9',
            id: `${s.key}@${fx.n}`,
            name,
            unit: 'MB',
            ours: stat(k),
            baseline: stat(kb),
            target: targets.info(),
            roundTrips: { method: ctx.counterMethod + ' (per whole stream)', ours: rt(k), baseline: rt(kb), baselineServerSide: rt(kb), oursByCommand: res[k].byCommand[0], baselineByCommand: res[kb].byCommand[0] },
            params: { docs: fx.n, rssStartMB: median(res[k].starts), baselineRssStartMB: median(res[kb].starts), docsPerSec: Math.round(median(res[k].docsPerSec)), baselineDocsPerSec: Math.round(median(res[kb].docsPerSec)) },
          }),
        )
      }
    }
    const small = fxs[0].n
    const large = fxs.at(-1).n
    for (const s of sides) {
      const bad = res[`${s.key}@${large}`].failed || res[`${s.key}@${small}`].failed
      if (bad) {
        rows.push(failedRow(`${s.key}-flat`, `peak RSS ${fmtN(large)} vs ${fmtN(small)} docs (${s.key === 'raw' ? 'driver' : s.key.replace('ours-', 'ours, ')})`, bad, s.mode === 'raw' ? targets.info() : targets.atMost(1.2)))
        continue
      }
      const a = stat(`${s.key}@${large}`)
      const b = stat(`${s.key}@${small}`)
      rows.push(
        row({
          scenario: '9',
          id: `${s.key}-flat`,
          name: `peak RSS ${fmtN(large)} vs ${fmtN(small)} docs (${s.key === 'raw' ? 'driver' : s.key.replace('ours-', 'ours, ')})`,
          unit: 'MB',
          ours: a,
          baseline: b,
          ratio: a.median / b.median,
          ratioOf: `${s.key}@${large}/${s.key}@${small}`,
          target: s.mode === 'raw' ? targets.info() : targets.atMost(1.2),
          notes: ['baseline column = the same side at the smallest size'],
        }),
      )
    }
    return rows
  },
}
