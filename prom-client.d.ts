/**
 * `argondb/prom-client`: Argon's metrics in a prom-client (v15) registry's output.
 *
 * ```js
 * const client = require('prom-client')
 * const { registerArgonMetrics } = require('argondb/prom-client')
 * registerArgonMetrics(argon, client.register)
 * // `await client.register.metrics()` now ends with Argon's exposition
 * ```
 *
 * prom-client has no hook for a foreign exposition (`Registry.merge` takes prom-client
 * registries only), so this wraps the given registry's `metrics()` method on that instance.
 * Hence: only `register.metrics()` includes Argon (not `getMetricsAsJSON()`,
 * `getSingleMetric()`, `Registry.merge()` or cluster aggregation); the registry's default
 * labels are not added to Argon's samples; an OpenMetrics registry is refused; a metric of
 * the registry named like one of Argon's makes the scrape reject; one Argon per registry.
 */
import type { Registry } from 'prom-client'
import type { Argon } from './index'

/**
 * Makes `await register.metrics()` include `await argon.metrics()`; `register` defaults to
 * prom-client's global registry. Returns a function that undoes it.
 */
export declare function registerArgonMetrics(argon: Argon, register?: Registry): () => void
