'use strict'
/**
 * `argondb/prom-client`: Argon's metrics in a prom-client registry's output.
 *
 *   const client = require('prom-client')
 *   const { registerArgonMetrics } = require('argondb/prom-client')
 *   registerArgonMetrics(argon, client.register)   // now `await client.register.metrics()` has them
 *
 * How: prom-client (v15) has no hook for a foreign exposition: `Registry.merge` takes only
 * prom-client registries, and a registered metric object stands for one fixed metric name,
 * while Argon's families appear as they are first recorded. So this wraps that registry's
 * `metrics()` (on the instance; the class is untouched): it returns the registry's own
 * exposition followed by `await argon.metrics()`, unchanged. What follows from it:
 *   - Only `register.metrics()` includes Argon. `getMetricsAsJSON()`, `getSingleMetric()`,
 *     `Registry.merge()` and cluster aggregation (`AggregatorRegistry`) do not.
 *   - The registry's default labels (`setDefaultLabels`) are not added to Argon's samples:
 *     use Prometheus target labels for those.
 *   - The registry must use the Prometheus text format (the default); an OpenMetrics
 *     registry is refused (Argon's exposition is text format 0.0.4).
 *   - A metric of the registry with the same name as one of Argon's makes the scrape fail
 *     rather than emit a family twice. One Argon per registry.
 * The returned function undoes it.
 */

const WRAPPED = Symbol.for('argondb.prom-client.argon')
const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

function checkTextFormat(register) {
  const type = register.contentType
  if (type !== undefined && type !== PROMETHEUS_TYPE) {
    throw new Error(`registerArgonMetrics: the registry's content type is ${type}; Argon's metrics are Prometheus text format 0.0.4, so the registry must use prom-client's Registry.PROMETHEUS_CONTENT_TYPE`)
  }
}

/** The family names declared by `# TYPE` lines of an exposition. */
function familyNames(text) {
  const names = []
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) names.push(line.split(' ')[2])
  }
  return names
}

/**
 * Makes `await register.metrics()` (default: prom-client's global `register`) include
 * `argon.metrics()`. Returns a function that removes it again.
 */
function registerArgonMetrics(argon, register) {
  if (!argon || typeof argon !== 'object' || typeof argon.metrics !== 'function') {
    throw new TypeError('registerArgonMetrics(argon, register): argon must be a connected Argon instance')
  }
  if (register === undefined) {
    try {
      register = require('prom-client').register
    } catch (e) {
      if (e && e.code === 'MODULE_NOT_FOUND') throw new Error("argondb/prom-client needs the 'prom-client' package (a peer dependency): npm install prom-client")
      throw e
    }
  }
  if (!register || typeof register.metrics !== 'function' || typeof register.getSingleMetric !== 'function') {
    throw new TypeError('registerArgonMetrics(argon, register): register must be a prom-client Registry')
  }
  if (register[WRAPPED]) throw new Error('registerArgonMetrics: this registry already includes an Argon; its metric names would be emitted twice')
  checkTextFormat(register)

  const hadOwn = Object.prototype.hasOwnProperty.call(register, 'metrics')
  const own = register.metrics

  async function metrics() {
    checkTextFormat(register)
    const [mine, theirs] = await Promise.all([own.call(register), argon.metrics()])
    const clash = familyNames(theirs).filter((n) => register.getSingleMetric(n) !== undefined)
    if (clash.length) throw new Error(`registerArgonMetrics: the registry also has ${clash.join(', ')}, which Argon exports`)
    const a = mine.replace(/\n+$/, '')
    const b = theirs.replace(/\n+$/, '')
    if (!a) return b ? `${b}\n` : mine
    return b ? `${a}\n\n${b}\n` : `${a}\n`
  }

  register.metrics = metrics
  register[WRAPPED] = argon
  return function unregisterArgonMetrics() {
    if (register.metrics !== metrics) return
    if (hadOwn) register.metrics = own
    else delete register.metrics
    delete register[WRAPPED]
  }
}

module.exports = { registerArgonMetrics }
