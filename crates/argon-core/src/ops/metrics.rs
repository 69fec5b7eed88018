//! Metrics of one project: a Prometheus recorder of its own (built by
//! `metrics-exporter-prometheus`, not installed globally, so two projects in a process never
//! mix and `reset` is per project), plus per-operation statistics (count, errors, min, max,
//! p50/p99 from an HDR histogram, last seen) and a 60-second sliding window that health and
//! alerts read.

use crate::telemetry as names;
use hdrhistogram::Histogram;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use mongodb::bson::{doc, DateTime, Document};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Histogram buckets (seconds): tens of microseconds up to seconds.
const BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Seconds kept in the sliding window.
const WINDOW_SECS: u64 = 60;
/// Largest duration the HDR histograms hold, in microseconds (one hour).
const MAX_US: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 2).expect("valid histogram bounds")
}

fn recorder() -> PrometheusRecorder {
    let rec = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(names::OP_SECONDS.into()), BUCKETS)
        .expect("non-empty buckets")
        .build_recorder();
    metrics::with_local_recorder(&rec, names::describe);
    rec
}

/// Statistics of one operation name since the last reset.
#[derive(Debug, Clone)]
struct OpStats {
    count: u64,
    errors: u64,
    sum_us: u64,
    min_us: u64,
    max_us: u64,
    last_seen: DateTime,
    hist: Histogram<u64>,
    /// Failed calls by error code.
    by_code: std::collections::BTreeMap<&'static str, u64>,
    /// `hist` when the last interval was taken ([`Telemetry::take_interval`]).
    mark: Option<Histogram<u64>>,
}

impl OpStats {
    fn new() -> OpStats {
        OpStats {
            count: 0,
            errors: 0,
            sum_us: 0,
            min_us: u64::MAX,
            max_us: 0,
            last_seen: DateTime::now(),
            hist: histogram(),
            by_code: Default::default(),
            mark: None,
        }
    }
}

/// One second of the sliding window, all operations together.
#[derive(Debug, Clone)]
struct Second {
    at: u64,
    count: u64,
    errors: u64,
    hist: Histogram<u64>,
}

/// What the sliding window says: the basis of health and alerts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WindowStats {
    pub count: u64,
    pub errors: u64,
    /// `errors / count` (0 with no operations).
    pub error_rate: f64,
    /// 99th percentile latency, ms (0 with no operations).
    pub p99_ms: f64,
    /// Mean latency, ms (0 with no operations).
    pub mean_ms: f64,
}

#[derive(Debug)]
struct Stats {
    ops: BTreeMap<&'static str, OpStats>,
    window: Vec<Second>,
    counters: BTreeMap<&'static str, u64>,
}

/// A project's metrics.
pub struct Telemetry {
    prom: RwLock<Arc<PrometheusRecorder>>,
    stats: Mutex<Stats>,
    started: Instant,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            prom: RwLock::new(Arc::new(recorder())),
            stats: Mutex::new(Stats {
                ops: BTreeMap::new(),
                window: Vec::new(),
                counters: BTreeMap::new(),
            }),
            started: Instant::now(),
        }
    }
}

impl Telemetry {
    /// Runs `f` with this project's recorder as the `metrics` recorder (counters, gauges
    /// and histograms recorded inside go to this project only).
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        let rec = self.prom.read().expect("recorder lock").clone();
        metrics::with_local_recorder(&*rec, f)
    }

    /// Adds `n` to a counter without labels.
    pub fn incr(&self, name: &'static str, n: u64) {
        self.with(|| metrics::counter!(name).increment(n));
        *self
            .stats
            .lock()
            .expect("stats lock")
            .counters
            .entry(name)
            .or_default() += n;
    }

    /// The unlabelled counters, by metric name without the `argon_` prefix.
    pub fn counters_document(&self) -> Document {
        let s = self.stats.lock().expect("stats lock");
        s.counters
            .iter()
            .map(|(k, v)| {
                (
                    k.trim_start_matches("argon_").to_string(),
                    mongodb::bson::Bson::Int64(*v as i64),
                )
            })
            .collect()
    }

    /// Records one finished operation.
    pub fn record_op(&self, op: &'static str, took: Duration, error: Option<&'static str>) {
        self.with(|| {
            let outcome = if error.is_some() { "error" } else { "success" };
            metrics::counter!(names::OPS_TOTAL, "operation" => op, "outcome" => outcome)
                .increment(1);
            metrics::histogram!(names::OP_SECONDS, "operation" => op).record(took.as_secs_f64());
            if let Some(code) = error {
                metrics::counter!(names::ERRORS_TOTAL, "operation" => op, "code" => code)
                    .increment(1);
            }
        });
        let us = (took.as_micros() as u64).clamp(1, MAX_US);
        let now_s = self.started.elapsed().as_secs();
        let mut s = self.stats.lock().expect("stats lock");
        let e = s.ops.entry(op).or_insert_with(OpStats::new);
        e.count += 1;
        e.errors += u64::from(error.is_some());
        if let Some(code) = error {
            *e.by_code.entry(code).or_insert(0) += 1;
        }
        e.sum_us += us;
        e.min_us = e.min_us.min(us);
        e.max_us = e.max_us.max(us);
        e.last_seen = DateTime::now();
        let _ = e.hist.record(us);
        if s.window.last().map(|w| w.at) != Some(now_s) {
            s.window.retain(|w| w.at + WINDOW_SECS > now_s);
            s.window.push(Second {
                at: now_s,
                count: 0,
                errors: 0,
                hist: histogram(),
            });
        }
        let w = s.window.last_mut().expect("pushed above");
        w.count += 1;
        w.errors += u64::from(error.is_some());
        let _ = w.hist.record(us);
    }

    /// The operations of the last `secs` seconds (at most 60).
    pub fn window(&self, secs: u64) -> WindowStats {
        let now_s = self.started.elapsed().as_secs();
        let s = self.stats.lock().expect("stats lock");
        let mut out = WindowStats::default();
        let mut h = histogram();
        for w in s
            .window
            .iter()
            .filter(|w| w.at + secs.min(WINDOW_SECS) > now_s)
        {
            out.count += w.count;
            out.errors += w.errors;
            let _ = h.add(&w.hist);
        }
        if out.count > 0 {
            out.error_rate = out.errors as f64 / out.count as f64;
            out.p99_ms = h.value_at_quantile(0.99) as f64 / 1000.0;
            out.mean_ms = h.mean() / 1000.0;
        }
        out
    }

    /// Sets the gauges that describe the project now (read at render time).
    pub fn set_gauges(&self, g: &Gauges) {
        self.with(|| {
            metrics::gauge!(names::UP).set(if g.up { 1.0 } else { 0.0 });
            metrics::gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            metrics::gauge!(names::LSN).set(g.lsn as f64);
            metrics::gauge!(names::BRANCHES).set(g.branches as f64);
            metrics::gauge!(names::BREAKER_STATE).set(g.breaker_state);
            metrics::gauge!(names::RESIDENT_MEMORY).set(g.rss_bytes as f64);
        });
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        self.prom.read().expect("recorder lock").handle().render()
    }

    /// Per-operation statistics, as `metrics({format: 'json'})` shows them.
    pub fn operations_document(&self) -> Document {
        let s = self.stats.lock().expect("stats lock");
        let mut out = Document::new();
        for (op, e) in &s.ops {
            let ms = |us: u64| us as f64 / 1000.0;
            out.insert(
                *op,
                doc! {
                    "count": e.count as i64,
                    "errors": e.errors as i64,
                    "successRate": if e.count == 0 { 1.0 } else { (e.count - e.errors) as f64 / e.count as f64 },
                    "avgMs": if e.count == 0 { 0.0 } else { ms(e.sum_us) / e.count as f64 },
                    "minMs": if e.count == 0 { 0.0 } else { ms(e.min_us) },
                    "maxMs": ms(e.max_us),
                    "p50Ms": ms(e.hist.value_at_quantile(0.5)),
                    "p99Ms": ms(e.hist.value_at_quantile(0.99)),
                    "errorsByCode": e.by_code.iter().map(|(k, v)| (k.to_string(), mongodb::bson::Bson::Int64(*v as i64))).collect::<Document>(),
                    "lastSeen": e.last_seen,
                },
            );
        }
        out
    }

    /// Per operation, its calls and latency since the previous call of this method (the
    /// snapshot publisher calls it once per interval): `{ <op>: { count, avgMs, p50Ms,
    /// p99Ms } }` for the operations that ran in the interval. The difference of two
    /// cumulative histograms, so nothing is kept per second.
    pub fn take_interval(&self) -> Document {
        let mut s = self.stats.lock().expect("stats lock");
        let mut out = Document::new();
        for (op, e) in s.ops.iter_mut() {
            let mut h = e.hist.clone();
            if let Some(m) = &e.mark {
                if h.subtract(m).is_err() {
                    h = e.hist.clone();
                }
            }
            e.mark = Some(e.hist.clone());
            if h.is_empty() {
                continue;
            }
            let ms = |us: u64| us as f64 / 1000.0;
            out.insert(
                *op,
                doc! {
                    "count": h.len() as i64,
                    "avgMs": h.mean() / 1000.0,
                    "p50Ms": ms(h.value_at_quantile(0.5)),
                    "p99Ms": ms(h.value_at_quantile(0.99)),
                },
            );
        }
        out
    }

    /// Forgets everything recorded (counters start again from zero).
    pub fn reset(&self) {
        *self.prom.write().expect("recorder lock") = Arc::new(recorder());
        let mut s = self.stats.lock().expect("stats lock");
        s.ops.clear();
        s.window.clear();
        s.counters.clear();
    }
}

/// The project's state at render time.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub up: bool,
    pub lsn: i64,
    pub branches: u64,
    /// 0 closed, 1 half-open, 2 open.
    pub breaker_state: f64,
    pub rss_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_the_calls_since_the_previous_one() {
        let t = Telemetry::default();
        for _ in 0..100 {
            t.record_op("find", Duration::from_micros(100), None);
        }
        let first = t.take_interval();
        let f = first.get_document("find").unwrap();
        assert_eq!(f.get_i64("count").unwrap(), 100);
        assert!((f.get_f64("p99Ms").unwrap() - 0.1).abs() < 0.01, "{f}");
        // Nothing ran since: the operation is absent.
        assert!(t.take_interval().is_empty());
        // Slower calls now: the interval's percentiles are theirs alone.
        for _ in 0..10 {
            t.record_op("find", Duration::from_millis(20), None);
        }
        let second = t.take_interval();
        let f = second.get_document("find").unwrap();
        assert_eq!(f.get_i64("count").unwrap(), 10);
        assert!((f.get_f64("p50Ms").unwrap() - 20.0).abs() < 0.1, "{f}");
        // The cumulative figures still cover all 110.
        let all = t.operations_document();
        assert_eq!(
            all.get_document("find").unwrap().get_i64("count").unwrap(),
            110
        );
    }

    #[test]
    fn counts_are_exact_and_reset_per_project() {
        let a = Telemetry::default();
        let b = Telemetry::default();
        for _ in 0..7 {
            a.record_op("insertOne", Duration::from_micros(120), None);
        }
        a.record_op(
            "insertOne",
            Duration::from_millis(3),
            Some("MONGO_SERVER_ERROR"),
        );
        let text = a.render();
        assert!(
            text.contains(r#"argon_operations_total{operation="insertOne",outcome="success"} 7"#),
            "{text}"
        );
        assert!(text
            .contains(r#"argon_errors_total{operation="insertOne",code="MONGO_SERVER_ERROR"} 1"#));
        assert!(
            text.contains(
                r#"argon_operation_duration_seconds_bucket{operation="insertOne",le="0.00025"} 7"#
            ),
            "{text}"
        );
        assert!(!b.render().contains("insertOne"), "projects do not mix");
        let d = a.operations_document();
        let ins = d.get_document("insertOne").unwrap();
        assert_eq!(ins.get_i64("count").unwrap(), 8);
        assert_eq!(ins.get_i64("errors").unwrap(), 1);
        assert!((ins.get_f64("successRate").unwrap() - 7.0 / 8.0).abs() < 1e-9);
        assert!((ins.get_f64("minMs").unwrap() - 0.12).abs() < 0.01);
        assert!(ins.get_f64("maxMs").unwrap() >= 2.9);
        let w = a.window(60);
        assert_eq!((w.count, w.errors), (8, 1));
        assert!(w.p99_ms >= 2.9, "{w:?}");
        a.reset();
        assert!(!a.render().contains("insertOne"));
        assert_eq!(a.window(60), WindowStats::default());
    }
}
