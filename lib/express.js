'use strict'
/**
 * `argondb/express`: an Express router with Argon's health, metrics and system endpoints.
 *
 *   const { argonRouter } = require('argondb/express')
 *   app.use('/ops', argonRouter(argon, { allowReset: false }))
 *
 * Routes (relative to where it is mounted):
 *   GET  /health           health document; 200 healthy or degraded, 503 unhealthy (application/health+json)
 *   GET  /health/live      liveness; 200 {status:'up'} or 503 {status:'down'}
 *   GET  /health/ready     readiness; 200 or 503, from argon.ready()
 *   GET  /health/detailed  /health plus `alerts` and `metrics` (JSON form); 200 or 503 like /health
 *   GET  /metrics          the Prometheus text exposition (format 0.0.4)
 *   GET  /system           process memory, CPU, event-loop delay, uptimes, Node version, pid
 *   GET  /operations/:name one operation's statistics; 404 {error:'unknown operation'} when none
 *   POST /reset            argon.resetMetrics(); only with `allowReset: true`, else no such route
 *
 * express is a peer dependency: it is loaded from the application, when the router is made.
 * Errors of a handler go to `next(err)`, the application's error handling.
 */
const { monitorEventLoopDelay } = require('node:perf_hooks')

const HEALTH_TYPE = 'application/health+json'
const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

function loadExpress() {
  try {
    return require('express')
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND' && /'express'/.test(e.message)) {
      throw new Error("argondb/express needs the 'express' package (a peer dependency): npm install express")
    }
    throw e
  }
}

// One event-loop delay histogram for the process, started by the first router. The
// histogram's timer does not keep the process alive.
const RESOLUTION_MS = 20
let loopDelay = null
function eventLoopDelay() {
  if (!loopDelay) {
    loopDelay = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
    loopDelay.enable()
  }
  return loopDelay
}

// The histogram records the time between two ticks of its timer: the delay is what
// exceeds the sampling interval.
const delayMs = (ns) => Math.max(0, Math.round(ns / 1e3 - RESOLUTION_MS * 1e3) / 1e3)

function loopDelayStats(h) {
  if (h.count === 0) return { samples: 0, resolutionMs: RESOLUTION_MS, minMs: null, meanMs: null, p50Ms: null, p99Ms: null, maxMs: null }
  return {
    samples: h.count,
    resolutionMs: RESOLUTION_MS,
    minMs: delayMs(h.min),
    meanMs: delayMs(h.mean),
    p50Ms: delayMs(h.percentile(50)),
    p99Ms: delayMs(h.percentile(99)),
    maxMs: delayMs(h.max),
  }
}

function checkArgon(argon) {
  const needed = ['health', 'live', 'ready', 'alerts', 'metrics', 'resetMetrics']
  if (!argon || typeof argon !== 'object' || needed.some((m) => typeof argon[m] !== 'function')) {
    throw new TypeError('argonRouter(argon): argon must be a connected Argon instance')
  }
}

/** An async route handler whose rejections go to `next(err)` (Express 4 and 5). */
const handle = (fn) => (req, res, next) => {
  Promise.resolve()
    .then(() => fn(req, res))
    .catch(next)
}

function sendJson(res, status, body, type) {
  res.status(status)
  res.set('Cache-Control', 'no-store')
  if (type) res.type(type)
  res.json(body)
}

/**
 * An `express.Router()` serving Argon's operations endpoints. `options.allowReset` (default
 * false) adds `POST /reset`; leave it off on anything reachable by untrusted clients.
 */
function argonRouter(argon, options = {}) {
  checkArgon(argon)
  if (options === null || typeof options !== 'object') throw new TypeError('argonRouter options must be an object')
  const allowReset = options.allowReset === undefined ? false : options.allowReset
  if (typeof allowReset !== 'boolean') throw new TypeError('argonRouter options.allowReset must be a boolean')

  const express = loadExpress()
  const router = express.Router()
  const loop = eventLoopDelay()
  const httpStatus = (health) => (health.status === 'unhealthy' ? 503 : 200)

  router.get(
    '/health',
    handle(async (req, res) => {
      const h = await argon.health()
      sendJson(res, httpStatus(h), h, HEALTH_TYPE)
    }),
  )

  router.get(
    '/health/live',
    handle(async (req, res) => {
      const l = argon.live()
      sendJson(res, l.status === 'up' ? 200 : 503, l, HEALTH_TYPE)
    }),
  )

  router.get(
    '/health/ready',
    handle(async (req, res) => {
      const r = await argon.ready()
      sendJson(res, r.status === 'up' ? 200 : 503, r, HEALTH_TYPE)
    }),
  )

  router.get(
    '/health/detailed',
    handle(async (req, res) => {
      const h = await argon.health()
      const metrics = await argon.metrics({ format: 'json' })
      sendJson(res, httpStatus(h), { ...h, alerts: argon.alerts(), metrics }, HEALTH_TYPE)
    }),
  )

  router.get(
    '/metrics',
    handle(async (req, res) => {
      const text = await argon.metrics()
      res.status(200)
      res.set('Cache-Control', 'no-store')
      // Set as is: res.send() would rewrite a string body's type parameters.
      res.set('Content-Type', PROMETHEUS_TYPE)
      res.send(Buffer.from(text, 'utf8'))
    }),
  )

  router.get(
    '/system',
    handle(async (req, res) => {
      const m = await argon.metrics({ format: 'json' })
      sendJson(res, 200, {
        pid: process.pid,
        nodeVersion: process.version,
        platform: process.platform,
        arch: process.arch,
        uptime: { processSeconds: process.uptime(), argonMs: m.system.uptimeMs },
        memory: process.memoryUsage(),
        cpu: process.cpuUsage(),
        eventLoopDelay: loopDelayStats(loop),
        argon: { version: m.system.version, rssBytes: m.system.rssBytes, up: m.system.up, breaker: m.breaker, lsn: m.lsn, branches: m.branches },
      })
    }),
  )

  router.get(
    '/operations/:name',
    handle(async (req, res) => {
      const { operations } = await argon.metrics({ format: 'json' })
      const name = req.params.name
      if (!Object.prototype.hasOwnProperty.call(operations, name)) return sendJson(res, 404, { error: 'unknown operation' })
      sendJson(res, 200, operations[name])
    }),
  )

  if (allowReset) {
    router.post(
      '/reset',
      handle(async (req, res) => {
        argon.resetMetrics()
        sendJson(res, 200, { reset: true })
      }),
    )
  }

  return router
}

module.exports = { argonRouter }
