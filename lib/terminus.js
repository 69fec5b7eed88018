'use strict'
/**
 * `argondb/terminus`: Argon as a NestJS Terminus health indicator (@nestjs/terminus 11,
 * the `HealthIndicatorService` API).
 *
 * Up when Argon's health is `healthy` or `degraded`, down when `unhealthy` (or when the
 * check itself throws). The details carry Argon's own status as `health` (Terminus
 * reserves `status` for up/down) and its `checks`:
 *
 *   { argon: { status: 'up', health: 'degraded', checks: { database, errorRate, … },
 *              consecutiveFailures, uptimeMs, closing } }
 *
 * With dependency injection (plain JS or TypeScript alike, no decorators needed):
 *
 *   providers: [argonHealthProvider(argon)]              // or argonHealthProvider('ARGON'), a token
 *   // in a controller, with HealthCheckService and ArgonHealthIndicator injected:
 *   return this.health.check([() => this.argonIndicator.isHealthy('argon')])
 *
 * Without it: `health.check([argonHealthCheck(argon, healthIndicatorService)])`.
 */

function checkArgon(argon, where) {
  if (!argon || typeof argon !== 'object' || typeof argon.health !== 'function') {
    throw new TypeError(`${where}: argon must be a connected Argon instance`)
  }
}

function checkService(service, where) {
  if (!service || typeof service.check !== 'function') {
    throw new TypeError(`${where}: healthIndicatorService must be @nestjs/terminus's HealthIndicatorService`)
  }
}

class ArgonHealthIndicator {
  /**
   * @param argon a connected Argon
   * @param healthIndicatorService `HealthIndicatorService` from @nestjs/terminus
   */
  constructor(argon, healthIndicatorService) {
    checkArgon(argon, 'ArgonHealthIndicator')
    checkService(healthIndicatorService, 'ArgonHealthIndicator')
    this.argon = argon
    this.healthIndicatorService = healthIndicatorService
  }

  /** Runs Argon's health check (one database round trip) and reports it under `key`. */
  async isHealthy(key = 'argon') {
    const indicator = this.healthIndicatorService.check(key)
    let h
    try {
      h = await this.argon.health()
    } catch (e) {
      return indicator.down({ health: 'unhealthy', message: e && e.message ? e.message : String(e) })
    }
    const details = {
      health: h.status,
      checks: h.checks,
      consecutiveFailures: h.consecutiveFailures,
      uptimeMs: h.uptimeMs,
      closing: Boolean(h.closing),
    }
    return h.status === 'unhealthy' ? indicator.down(details) : indicator.up(details)
  }
}

/** A function for `HealthCheckService.check([...])`, for use without dependency injection. */
function argonHealthCheck(argon, healthIndicatorService, key = 'argon') {
  const indicator = new ArgonHealthIndicator(argon, healthIndicatorService)
  return () => indicator.isHealthy(key)
}

/**
 * A Nest provider of `ArgonHealthIndicator`: pass the Argon itself, or the injection token
 * under which the application provides its Argon. Needs `TerminusModule` imported in the
 * same module (it provides `HealthIndicatorService`).
 */
function argonHealthProvider(argonOrToken) {
  let HealthIndicatorService
  try {
    ;({ HealthIndicatorService } = require('@nestjs/terminus'))
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND') throw new Error("argondb/terminus needs the '@nestjs/terminus' package (a peer dependency): npm install @nestjs/terminus")
    throw e
  }
  if (argonOrToken && typeof argonOrToken === 'object' && typeof argonOrToken.health === 'function') {
    const argon = argonOrToken
    return { provide: ArgonHealthIndicator, useFactory: (his) => new ArgonHealthIndicator(argon, his), inject: [HealthIndicatorService] }
  }
  if (argonOrToken === undefined || argonOrToken === null) throw new TypeError('argonHealthProvider: pass the Argon or its injection token')
  return { provide: ArgonHealthIndicator, useFactory: (his, argon) => new ArgonHealthIndicator(argon, his), inject: [HealthIndicatorService, argonOrToken] }
}

module.exports = { ArgonHealthIndicator, argonHealthCheck, argonHealthProvider }
