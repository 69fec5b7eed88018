'use strict'
/**
 * Counting server round trips and CPU per logical operation.
 *
 *  - Ours (the Rust driver inside the addon has no command-monitoring hook reachable from
 *    JS): counted on the SERVER side. `serverStatus` is read before and after N
 *    operations while no other client is active. The round trips are the change in
 *    `metrics.commands.<name>.total` summed over every command except `serverStatus` and
 *    the monitoring `hello`/`isMaster`; a server without that breakdown falls back to
 *    `network.numRequests` minus the serverStatus request itself (calibrated at start-up).
 *    Either way it is divided by N.
 *  - Baseline (the official Node driver): counted with `monitorCommands: true` and
 *    `commandStarted` events on a dedicated client; the server-side count of the same pass
 *    is recorded too, as a cross-check of the server-side method.
 *  - Fallback when the server has no usable counter (or with --rt-proxy): a loopback TCP
 *    proxy that counts request messages (OP_MSG and legacy OP_QUERY) on their way to the
 *    server. Only the round-trip pass goes through it, never the timed pass.
 *
 * CPU: the client's CPU (all threads of this process, including the addon's tokio
 * runtime) and, when the server runs on this machine with a known PID, the server's CPU,
 * both from /proc/<pid>/task/<tid>/schedstat (nanoseconds on CPU).
 */
const fs = require('node:fs')
const net = require('node:net')

/** Nanoseconds on CPU summed over all threads of `pid`, or null when unavailable. */
function cpuNs(pid) {
  if (pid == null) return null
  try {
    const dir = `/proc/${pid}/task`
    let total = 0
    for (const tid of fs.readdirSync(dir)) {
      try {
        total += Number(fs.readFileSync(`${dir}/${tid}/schedstat`, 'utf8').split(' ')[0])
      } catch {
        // the thread ended between readdir and read
      }
    }
    return total
  } catch {
    return null
  }
}

function selfCpuNs() {
  const v = cpuNs(process.pid)
  if (v != null) return v
  const u = process.cpuUsage()
  return (u.user + u.system) * 1000
}

const HEARTBEATS = new Set(['hello', 'isMaster', 'ismaster'])

class ServerCounter {
  constructor(admin, serverPid) {
    this.admin = admin
    this.serverPid = serverPid
    this.overhead = 1
    this.usable = false
  }

  async _status() {
    return this.admin.db('admin').command({ serverStatus: 1 })
  }

  /** Checks that the server exposes a request counter and measures the snapshot's own cost. */
  async init() {
    const s = await this._status()
    this.hasCommands = Boolean(s?.metrics?.commands)
    this.usable = this.hasCommands || (s?.network?.numRequests != null && !Number.isNaN(Number(s.network.numRequests)))
    this.hasTransactions = Boolean(s?.transactions)
    if (!this.usable) return this
    let best = Infinity
    let cpu = Infinity
    for (let i = 0; i < 5; i++) {
      const a = await this.snapshot()
      const b = await this.snapshot()
      best = Math.min(best, b.requests - a.requests)
      if (a.serverCpuNs != null) cpu = Math.min(cpu, b.serverCpuNs - a.serverCpuNs)
    }
    this.overhead = best
    // server CPU spent answering one serverStatus, subtracted from every measured pass
    this.cpuOverheadNs = Number.isFinite(cpu) ? cpu : 0
    return this
  }

  async snapshot() {
    const s = await this._status()
    const commands = {}
    for (const [name, v] of Object.entries(s?.metrics?.commands || {})) {
      if (v && typeof v === 'object' && v.total != null) commands[name] = Number(v.total)
    }
    const t = s.transactions || {}
    return {
      requests: Number(s?.network?.numRequests ?? NaN),
      commands,
      txnCommitted: Number(t.totalCommitted ?? 0),
      txnAborted: Number(t.totalAborted ?? 0),
      serverCpuNs: cpuNs(this.serverPid),
    }
  }

  /**
   * Requests and per-command counts between two snapshots, minus the snapshot itself and
   * minus server-monitoring heartbeats (`hello`/`isMaster`, sent by every connected
   * client's monitor on its own schedule, not by the operations measured).
   */
  delta(a, b) {
    const byCommand = {}
    let heartbeats = 0
    for (const [k, v] of Object.entries(b.commands)) {
      const d = v - (a.commands[k] || 0)
      if (d <= 0 || k === 'serverStatus') continue
      if (HEARTBEATS.has(k)) heartbeats += d
      else byCommand[k] = d
    }
    // With a per-command breakdown, the round trips are the sum of the non-monitoring
    // commands. (Subtracting `hello` from numRequests is not enough: a driver's streaming
    // `hello` is one request with many replies, counted once in numRequests but once per
    // reply in metrics.commands.) Without one, numRequests minus the snapshot itself.
    const commands = Object.values(byCommand).reduce((x, y) => x + y, 0)
    const rawRequests = b.requests - a.requests - this.overhead
    return {
      requests: this.hasCommands ? commands : rawRequests,
      rawRequests,
      heartbeats,
      byCommand,
      txnCommitted: b.txnCommitted - a.txnCommitted,
      txnAborted: b.txnAborted - a.txnAborted,
      serverCpuNs: a.serverCpuNs != null && b.serverCpuNs != null ? Math.max(0, b.serverCpuNs - a.serverCpuNs - this.cpuOverheadNs) : null,
    }
  }
}

/** Counts commandStarted events of one monitored driver client while enabled. */
class DriverCounter {
  constructor(client) {
    this.on = false
    this.count = 0
    this.byCommand = {}
    client.on('commandStarted', (e) => {
      if (!this.on) return
      this.count += 1
      this.byCommand[e.commandName] = (this.byCommand[e.commandName] || 0) + 1
    })
  }

  start() {
    this.count = 0
    this.byCommand = {}
    this.on = true
  }

  stop() {
    this.on = false
    return { requests: this.count, byCommand: { ...this.byCommand } }
  }
}

/** A loopback TCP proxy counting MongoDB request messages (client -> server). */
class CountingProxy {
  constructor(host, port) {
    this.target = { host, port }
    this.count = 0
    this.byOpcode = {}
    this.sockets = new Set()
  }

  async start() {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target)
      this.sockets.add(client)
      this.sockets.add(upstream)
      let pending = Buffer.alloc(0)
      client.on('data', (chunk) => {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk
        while (pending.length >= 16) {
          const len = pending.readInt32LE(0)
          if (pending.length < len) break
          const op = pending.readInt32LE(12)
          this.count += 1
          this.byOpcode[op] = (this.byOpcode[op] || 0) + 1
          pending = pending.subarray(len)
        }
        upstream.write(chunk)
      })
      upstream.on('data', (d) => client.write(d))
      const close = () => {
        client.destroy()
        upstream.destroy()
        this.sockets.delete(client)
        this.sockets.delete(upstream)
      }
      client.on('error', close)
      upstream.on('error', close)
      client.on('close', close)
      upstream.on('close', close)
    })
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = this.server.address().port
    return this
  }

  uriFor(uri) {
    return uri.replace(/\/\/[^/?]+/, `//127.0.0.1:${this.port}`)
  }

  snapshot() {
    return { requests: this.count, commands: {}, txnCommitted: 0, txnAborted: 0, serverCpuNs: null }
  }

  delta(a, b) {
    return { requests: b.requests - a.requests, byCommand: {}, txnCommitted: null, txnAborted: null, serverCpuNs: null }
  }

  async stop() {
    for (const s of this.sockets) s.destroy()
    await new Promise((resolve) => this.server.close(resolve))
  }
}

module.exports = { ServerCounter, DriverCounter, CountingProxy, cpuNs, selfCpuNs }
