'use strict'
/**
 * Starts and stops a local SecantusDB Rust server (`secantusd-rs`) on a free loopback port,
 * for tests, the demo and benchmarks. It runs as a separate process and is never shipped.
 *
 *   const { startServer } = require('./scripts/test-server')
 *   const srv = await startServer()        // { uri, pid, stop() }
 *
 * As a command: `node scripts/test-server.js` prints the URI and runs until SIGINT/SIGTERM.
 */
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const net = require('node:net')

function findBinary() {
  if (process.env.SECANTUSD_BIN) return process.env.SECANTUSD_BIN
  const candidates = [path.join(os.homedir(), '.cargo', 'bin', 'secantusd-rs'), 'secantusd-rs']
  for (const c of candidates) {
    if (c.includes(path.sep) && fs.existsSync(c)) return c
  }
  return 'secantusd-rs'
}

/** Sends a raw OP_MSG `ping` and resolves true when the server answers. */
function ping(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => {
      // OP_MSG: header(16) flags(4) kind0 + BSON {ping:1, $db:'admin'}
      const body = Buffer.from([
        0x1f, 0, 0, 0, 0x10, 0x70, 0x69, 0x6e, 0x67, 0, 1, 0, 0, 0, 0x02, 0x24, 0x64, 0x62, 0,
        6, 0, 0, 0, 0x61, 0x64, 0x6d, 0x69, 0x6e, 0, 0,
      ])
      const len = 16 + 4 + 1 + body.length
      const msg = Buffer.alloc(len)
      msg.writeInt32LE(len, 0)
      msg.writeInt32LE(1, 4)
      msg.writeInt32LE(0, 8)
      msg.writeInt32LE(2013, 12)
      msg.writeInt32LE(0, 16)
      msg.writeUInt8(0, 20)
      body.copy(msg, 21)
      sock.write(msg)
    })
    sock.setTimeout(1000)
    sock.once('data', () => { sock.destroy(); resolve(true) })
    sock.once('error', () => resolve(false))
    sock.once('timeout', () => { sock.destroy(); resolve(false) })
  })
}

/**
 * `opts.port` and `opts.dir` restart a server on the port and data of an earlier one
 * (whose `kill()` left them); a caller-given `dir` is not removed by `stop()`.
 */
async function startServer(opts = {}) {
  const ownDir = !opts.dir
  const dir = opts.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'argon-secantus-'))
  const args = ['--host', '127.0.0.1', '--port', String(opts.port || 0), '--storage-path', dir, '--log-file-max', '16MB', '--cache-size', opts.cacheSize || '512M']
  if (opts.standalone) args.push('--standalone')
  // Tests that kill the server need acknowledged commits on disk (see the test-server notes).
  if (opts.syncOnCommit) args.push('--sync-on-commit')
  const child = spawn(findBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  let port
  try {
    port = await new Promise((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error('secantusd-rs did not report a port within 20s: ' + stderr)), 20000)
      child.once('error', (e) => { clearTimeout(timer); reject(new Error(`cannot start secantusd-rs (${e.message}); run scripts/install-test-server.sh`)) })
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`secantusd-rs exited with ${code}: ${stderr}`)) })
      child.stdout.on('data', (d) => {
        out += d
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out)
        if (m) { clearTimeout(timer); resolve(Number(m[1])) }
      })
    })
  } catch (e) {
    // do not leave a half-started server or its storage directory behind
    if (child.exitCode === null && child.pid) try { process.kill(child.pid, 'SIGKILL') } catch {}
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true })
    throw e
  }
  child.removeAllListeners('exit')
  for (let i = 0; i < 100 && !(await ping(port)); i++) await new Promise((r) => setTimeout(r, 50))
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', resolve)
      process.kill(child.pid, 'SIGTERM')
      setTimeout(() => { try { process.kill(child.pid, 'SIGKILL') } catch {} }, 5000).unref()
    })
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true })
  }
  /** SIGKILLs the server and leaves its data for a restart (`stop()` still cleans up). */
  const kill = async () => {
    await new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', resolve)
      process.kill(child.pid, 'SIGKILL')
    })
  }
  return { uri: `mongodb://127.0.0.1:${port}/?directConnection=true`, port, pid: child.pid, dir, stop, kill }
}

module.exports = { startServer }

if (require.main === module) {
  startServer({ standalone: process.argv.includes('--standalone') }).then((srv) => {
    console.log(srv.uri)
    const shutdown = () => srv.stop().then(() => { process.exitCode = 0 })
    process.once('SIGINT', shutdown)
    process.once('SIGTERM', shutdown)
  }, (e) => { console.error(e.message); process.exitCode = 1 })
}
