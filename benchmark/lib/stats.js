'use strict'
/** Small statistics helpers. Every function leaves its input unchanged. */

function sorted(xs) {
  return [...xs].sort((a, b) => a - b)
}

function quantile(xs, q) {
  if (xs.length === 0) return NaN
  const s = sorted(xs)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo] + (s[hi] - s[lo]) * (pos - lo)
}

const median = (xs) => quantile(xs, 0.5)

/**
 * Summary of one side of a comparison.
 *  - `median`: median of all samples pooled over every round (per-op latencies, or one
 *    rate per round for throughput cases);
 *  - `min`/`max`: the smallest and largest per-round median, i.e. the round-to-round spread;
 *  - `p10`/`p90` and `sampleMin`/`sampleMax`: over the pooled samples.
 */
function summarize(samples, roundMedians) {
  return {
    median: median(samples),
    min: roundMedians.length ? Math.min(...roundMedians) : NaN,
    max: roundMedians.length ? Math.max(...roundMedians) : NaN,
    p10: quantile(samples, 0.1),
    p90: quantile(samples, 0.9),
    sampleMin: samples.length ? Math.min(...samples) : NaN,
    sampleMax: samples.length ? Math.max(...samples) : NaN,
    n: samples.length,
    roundMedians,
  }
}

module.exports = { median, quantile, summarize }
