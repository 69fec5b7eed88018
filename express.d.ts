/**
 * `argondb/express`: an Express router with Argon's health, metrics and system endpoints.
 *
 * ```js
 * const { argonRouter } = require('argondb/express')
 * app.use('/ops', argonRouter(argon, { allowReset: false }))
 * ```
 *
 * | route | answer |
 * | --- | --- |
 * | `GET /health` | {@link Health}; 200 healthy or degraded, 503 unhealthy (`application/health+json`) |
 * | `GET /health/live` | `{ status: 'up' }` 200, or `{ status: 'down' }` 503 once closing |
 * | `GET /health/ready` | `argon.ready()`; 200 up, 503 down |
 * | `GET /health/detailed` | {@link DetailedHealth}; 200 / 503 like `/health` |
 * | `GET /metrics` | Prometheus text exposition, `text/plain; version=0.0.4; charset=utf-8` |
 * | `GET /system` | {@link SystemInfo} |
 * | `GET /operations/:name` | {@link OperationStats}; 404 `{ error: 'unknown operation' }` |
 * | `POST /reset` | `argon.resetMetrics()`, `{ reset: true }`; only with `allowReset: true` |
 *
 * `express` (4.21+ or 5) is a peer dependency, loaded from the application. Errors of a
 * handler go to `next(err)`.
 */
import type { Router } from 'express'
import type { Alert, Argon, Health, MetricsJson, OperationStats } from './index'

export interface ArgonRouterOptions {
  /** Adds `POST /reset` (resets every metric). Default false: the route does not exist. */
  allowReset?: boolean
}

/** The body of `GET /health/detailed`. */
export interface DetailedHealth extends Health {
  alerts: Alert[]
  metrics: MetricsJson
}

/** The body of `GET /system`. */
export interface SystemInfo {
  pid: number
  nodeVersion: string
  platform: string
  arch: string
  uptime: { processSeconds: number; argonMs: number }
  /** `process.memoryUsage()`, bytes. */
  memory: NodeJS.MemoryUsage
  /** `process.cpuUsage()`: user and system CPU time of the process, microseconds. */
  cpu: NodeJS.CpuUsage
  /**
   * Event-loop delay since the first router was made, milliseconds: how late a timer
   * sampling every `resolutionMs` (20) fired (`perf_hooks.monitorEventLoopDelay`, less the
   * interval itself); `null` until the first sample.
   */
  eventLoopDelay: { samples: number; resolutionMs: number; minMs: number | null; meanMs: number | null; p50Ms: number | null; p99Ms: number | null; maxMs: number | null }
  argon: { version: string; rssBytes: number; up: boolean; breaker: MetricsJson['breaker']; lsn: number; branches: number }
}

export type { OperationStats }

/** An `express.Router()` serving the routes above; mount it where you like. */
export declare function argonRouter(argon: Argon, options?: ArgonRouterOptions): Router
