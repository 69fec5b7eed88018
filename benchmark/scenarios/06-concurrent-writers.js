'use strict'
/**
 * 6. Concurrent writers: W concurrent updateOne ($inc on random documents) on one branch
 * (`main`) from one process, for W in --writers (default 8 and 32). Throughput in
 * operations per second; a block is W x --ops-per-writer operations. Every argon write
 * increments the one LSN counter document inside its transaction, so concurrent writers
 * conflict there and retry; round trips per operation include those retries, and the
 * cost table shows transactions aborted per operation.
 */
const path = require('node:path')
const { spawn } = require('node:child_process')
const { compare, targets } = require('../lib/harness')
const { COLL, baseProject, pick } = require('../lib/fixtures')

const CHILD = path.join(__dirname, '..', 'lib', 'writer-child.js')

/** A writer process (see writer-child.js): `run(seed, ops)` resolves when it is done. */
function writerProcess(args) {
  const p = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] })
  let err = ''
  p.stderr.on('data', (d) => { err += d })
  const waiting = []
  let buf = ''
  p.stdout.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      waiting.shift()?.resolve(line)
    }
  })
  p.on('exit', (code) => { for (const w of waiting.splice(0)) w.reject(new Error(`writer exited (${code}): ${err}`)) })
  const next = () => new Promise((resolve, reject) => waiting.push({ resolve, reject }))
  const ready = next()
  return {
    ready,
    run: (seed, ops) => { const r = next(); p.stdin.write(`go ${seed} ${ops}\n`); return r },
    stop: () => new Promise((r) => { if (p.exitCode !== null) return r(); p.once('exit', r); p.stdin.end() }),
  }
}

module.exports = {
  number: 6,
  name: 'concurrent-writers',
  title: 'concurrent updateOne on one branch',
  async run(ctx) {
    const fx = await baseProject(ctx, 'concurrent', ctx.opts.docs)
    const n = fx.n
    const rows = []
    let salt = 10
    for (const w of ctx.opts.writers) {
      const per = ctx.opts.opsPerWriter
      const block = (c) => async (blockNo) => {
        let k = 0
        const s = salt++
        const worker = async () => {
          while (k < w * per) {
            const i = k++
            await c.updateOne({ _id: pick(blockNo * 100000 + i, n, s) }, { $inc: { v: 1 } })
          }
        }
        await Promise.all(Array.from({ length: w }, worker))
        return { items: w * per, ops: w * per }
      }
      rows.push(
        await compare(ctx, {
          scenario: '6',
          id: `concurrent-${w}`,
          name: `${w} concurrent updateOne (main)`,
          kind: 'throughput',
          unit: 'ops/s',
          ours: async (h) => block((await h.argon(fx.db)).branch('main').collection(COLL)),
          base: async (h) => block(h.client.db(fx.rawDb).collection(COLL)),
          ops: 1,
          warmup: 1,
          rtOps: 1,
          target: targets.atLeast(0.6),
          params: { writers: w, opsPerBlock: w * per, docs: n },
        }),
      )
    }
    // Two processes, each with W concurrent writers, on one branch: the cross-process
    // case (LSN order is kept by the counter both processes' transactions write).
    const PROCS = 2
    const w = ctx.opts.writers[0]
    const per = ctx.opts.opsPerWriter
    const procs = {}
    const start = async (mode, db) => {
      const ps = Array.from({ length: PROCS }, () => writerProcess({ mode, uri: ctx.uri, db, coll: COLL, docs: n, writers: w }))
      await Promise.all(ps.map((p) => p.ready))
      procs[mode] = ps
      return ps
    }
    try {
      const both = (mode, db) => async () => {
        const ps = procs[mode] || (await start(mode, db))
        return async (blockNo) => {
          await Promise.all(ps.map((p, j) => p.run(blockNo * 10 + j + salt, w * per)))
          return { items: PROCS * w * per, ops: PROCS * w * per }
        }
      }
      rows.push(
        await compare(ctx, {
          scenario: '6',
          id: `concurrent-2x${w}`,
          name: `${PROCS} processes x ${w} concurrent updateOne (main)`,
          kind: 'throughput',
          unit: 'ops/s',
          ours: both('ours', fx.db),
          base: both('raw', fx.rawDb),
          ops: 1,
          warmup: 1,
          rtOps: 1,
          target: targets.atLeast(0.5),
          params: { processes: PROCS, writers: w, opsPerBlock: PROCS * w * per, docs: n },
        }),
      )
    } finally {
      for (const ps of Object.values(procs)) await Promise.all(ps.map((p) => p.stop()))
    }
    return rows
  },
}
