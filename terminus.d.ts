/**
 * `argondb/terminus`: Argon as a NestJS Terminus health indicator (`@nestjs/terminus` 11).
 *
 * Up when Argon's health is `healthy` or `degraded`, down when `unhealthy` or when the check
 * throws. Terminus reserves `status` (up/down), so Argon's own status is in `health`:
 *
 * ```json
 * { "argon": { "status": "up", "health": "degraded", "checks": { "database": { … }, … }, "consecutiveFailures": 1, "uptimeMs": 5000, "closing": false } }
 * ```
 *
 * ```ts
 * @Module({ imports: [TerminusModule], controllers: [HealthController], providers: [argonHealthProvider(argon)] })
 * class AppModule {}
 *
 * @Controller('health')
 * class HealthController {
 *   constructor(private health: HealthCheckService, private argon: ArgonHealthIndicator) {}
 *   @Get() @HealthCheck()
 *   check() { return this.health.check([() => this.argon.isHealthy('argon')]) }
 * }
 * ```
 */
import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus'
import type { Argon, Health } from './index'

/** The details reported with `status` (`up` / `down`). */
export interface ArgonHealthDetails {
  /** Argon's status; `unhealthy` when the check threw. */
  health: Health['status']
  /** Absent when the check threw. */
  checks?: Health['checks']
  consecutiveFailures?: number
  uptimeMs?: number
  closing?: boolean
  /** The error, when the check threw. */
  message?: string
}

export declare class ArgonHealthIndicator {
  constructor(argon: Argon, healthIndicatorService: HealthIndicatorService)
  readonly argon: Argon
  readonly healthIndicatorService: HealthIndicatorService
  /** Runs Argon's health check (one database round trip) and reports it under `key` (default `'argon'`). */
  isHealthy<const Key extends string = 'argon'>(key?: Key): Promise<HealthIndicatorResult<Key, 'up' | 'down', ArgonHealthDetails>>
}

/** A function for `HealthCheckService.check([...])`, without dependency injection. */
export declare function argonHealthCheck<const Key extends string = 'argon'>(
  argon: Argon,
  healthIndicatorService: HealthIndicatorService,
  key?: Key,
): () => Promise<HealthIndicatorResult<Key, 'up' | 'down', ArgonHealthDetails>>

/** A Nest factory provider. */
export interface ArgonHealthProvider {
  provide: typeof ArgonHealthIndicator
  useFactory: (...args: any[]) => ArgonHealthIndicator
  inject: any[]
}

/**
 * A provider of {@link ArgonHealthIndicator} for a module that imports `TerminusModule`:
 * pass the Argon itself, or the injection token under which the application provides it.
 */
export declare function argonHealthProvider(argonOrToken: Argon | string | symbol | (abstract new (...args: any[]) => unknown)): ArgonHealthProvider
