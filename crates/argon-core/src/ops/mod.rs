//! Operations: what the people who run an application need from the library in its data
//! path. Every public operation goes through [`Ops::run`]: the circuit breaker may reject
//! it at once, retryable errors are retried within the retry policy and its budget, and
//! its outcome and latency are recorded (Prometheus text and JSON), logged when slow, and
//! fed to the breaker. A monitor task checks the database on an interval and evaluates
//! health and alert rules; transitions reach the embedding layer as events. See
//! docs/design/operations.md.

pub mod alerts;
pub mod breaker;
pub mod health;
pub mod logs;
pub mod metrics;
pub mod monitor;
pub mod progress;
pub mod publish;
pub mod recent;
pub mod retry;
pub mod storage;
pub mod verify;

use crate::error::{ArgonError, Result};
use alerts::{Alert, Alerts, Rule};
use breaker::{Breaker, BreakerOptions, BreakerState};
use health::{DbCheck, Snapshot, Thresholds};
use metrics::Telemetry;
use mongodb::bson::{doc, Document};
use retry::{RetryOptions, RetryPolicy};
use serde::Deserialize;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// `monitor` connect option: `false` turns the background checks off.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum MonitorSetting {
    Enabled(bool),
    Options(MonitorOptions),
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MonitorOptions {
    /// Background checks run every this many ms (0 or `monitor: false`: off).
    pub interval_ms: u64,
    /// A database check that takes longer than this fails, ms.
    pub check_timeout_ms: u64,
    pub thresholds: Thresholds,
    /// Extra alert rules, evaluated with the defaults.
    pub rules: Vec<Rule>,
    /// Whether the default rules are evaluated.
    pub default_rules: bool,
    /// This process publishes its snapshot for `argon status` and the dashboard every this
    /// many ms (`ops/publish.rs`); 0: never.
    pub publish_interval_ms: u64,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions {
            interval_ms: 30_000,
            check_timeout_ms: 2_000,
            thresholds: Thresholds::default(),
            rules: Vec::new(),
            default_rules: true,
            publish_interval_ms: 10_000,
        }
    }
}

/// The operations-related connect options.
#[derive(Debug, Clone, Default)]
pub struct OpsOptions {
    pub monitor: MonitorOptions,
    pub monitor_enabled: bool,
    pub retry: RetryOptions,
    pub breaker: BreakerOptions,
    pub slow_operation_ms: u64,
    /// Whether operations are recorded in metrics.
    pub metrics: bool,
}

impl OpsOptions {
    pub fn from_connect(
        monitor: Option<MonitorSetting>,
        retry: Option<RetryOptions>,
        breaker: Option<BreakerOptions>,
        slow_operation_ms: Option<u64>,
        metrics: Option<bool>,
    ) -> Result<OpsOptions> {
        let (monitor, monitor_enabled) = match monitor {
            None | Some(MonitorSetting::Enabled(true)) => (MonitorOptions::default(), true),
            Some(MonitorSetting::Enabled(false)) => (MonitorOptions::default(), false),
            Some(MonitorSetting::Options(o)) => {
                let on = o.interval_ms > 0;
                (o, on)
            }
        };
        if monitor.check_timeout_ms == 0 {
            return Err(ArgonError::InvalidArgument(
                "monitor.checkTimeoutMs must be positive".into(),
            ));
        }
        monitor.thresholds.check()?;
        let mut names = std::collections::HashSet::new();
        for r in &monitor.rules {
            r.check()?;
            if !names.insert(r.name.clone()) {
                return Err(ArgonError::InvalidArgument(format!(
                    "alert rule {:?} is defined twice",
                    r.name
                )));
            }
        }
        let retry = retry.unwrap_or_default();
        retry.check()?;
        let breaker = breaker.unwrap_or_default();
        breaker.check()?;
        Ok(OpsOptions {
            monitor,
            monitor_enabled,
            retry,
            breaker,
            slow_operation_ms: slow_operation_ms.unwrap_or(1_000),
            metrics: metrics.unwrap_or(true),
        })
    }
}

/// Receives events (`{type: 'alert' | 'breaker' | 'log', …}`) for the embedding layer.
pub type EventSink = Arc<dyn Fn(Document) + Send + Sync>;

#[derive(Default)]
struct Sink(RwLock<Option<EventSink>>);

impl Sink {
    fn emit(&self, d: Document) {
        if let Some(s) = self.0.read().expect("sink lock").as_ref() {
            s(d);
        }
    }
}

/// A project's operations state.
pub struct Ops {
    pub telemetry: Telemetry,
    pub breaker: Breaker,
    pub retry: RetryPolicy,
    pub options: OpsOptions,
    /// The last operations and the last slow ones (the dashboard's tabs).
    pub recent: recent::Recent,
    alerts: Mutex<Alerts>,
    db: Mutex<DbCheck>,
    sink: Arc<Sink>,
    started: Instant,
    in_flight: AtomicUsize,
    closing: AtomicBool,
    /// Keeps this project's log receiver alive (the log layer holds it weakly).
    log_sink: Mutex<Option<Arc<logs::LogSink>>>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops").finish_non_exhaustive()
    }
}

impl Ops {
    pub fn new(options: OpsOptions) -> Ops {
        let sink: Arc<Sink> = Arc::default();
        let s = sink.clone();
        let breaker = Breaker::new(
            &options.breaker,
            Box::new(move |state: BreakerState| {
                match state {
                    BreakerState::Open => tracing::warn!(state = state.as_str(), "circuit breaker opened: calls are rejected until the database answers again"),
                    _ => tracing::info!(state = state.as_str(), "circuit breaker state changed"),
                }
                s.emit(doc! {"type": "breaker", "state": state.as_str()});
            }),
        );
        let mut rules = if options.monitor.default_rules {
            alerts::default_rules(&options.monitor.thresholds)
        } else {
            Vec::new()
        };
        rules.extend(options.monitor.rules.iter().cloned());
        Ops {
            telemetry: Telemetry::default(),
            breaker,
            retry: RetryPolicy::new(options.retry.clone()),
            alerts: Mutex::new(Alerts::new(rules)),
            db: Mutex::new(DbCheck::default()),
            sink,
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            log_sink: Mutex::new(None),
            recent: recent::Recent::default(),
            options,
        }
    }

    /// Sets (or, with `None`, removes) the receiver of events.
    pub fn set_sink(&self, sink: Option<EventSink>) {
        if sink.is_none() {
            *self.log_sink.lock().expect("log sink") = None;
            logs::prune();
        }
        *self.sink.0.write().expect("sink lock") = sink;
    }

    /// Sends the engine's log records at `level` or more severe to the event receiver
    /// (`None`: no logs).
    pub fn set_log_level(&self, level: Option<&str>) -> Result<()> {
        let level = level.map(logs::parse_level).transpose()?;
        let mut held = self.log_sink.lock().expect("log sink");
        *held = None;
        if let Some(level) = level {
            let s = self.sink.clone();
            let sink: Arc<logs::LogSink> = Arc::new(move |d| s.emit(d));
            logs::register(level, Arc::downgrade(&sink));
            *held = Some(sink);
        } else {
            logs::prune();
        }
        Ok(())
    }

    pub(crate) fn emit(&self, d: Document) {
        self.sink.emit(d);
    }

    /// Runs one public operation: breaker, retries (when `retry` and the error is
    /// retryable), metrics, slow-operation log (see [`Scope::run_classified`]).
    pub async fn run<T, F, Fut>(&self, op: &'static str, retry: bool, f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.unscoped().run(op, retry, f).await
    }

    /// [`Ops::run`] for an operation that is never retried here (writes: their
    /// transaction runner retries what is safe to retry).
    pub async fn run_once<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.unscoped().run_once(op, fut).await
    }

    /// The operations of one collection on one branch: their slow-operation and failure
    /// log records name the branch and the collection (never metrics: labels stay bounded).
    pub fn scope<'a>(&'a self, branch: &'a str, collection: &'a str) -> Scope<'a> {
        Scope {
            ops: self,
            at: Some((branch, collection)),
        }
    }

    fn unscoped(&self) -> Scope<'_> {
        Scope {
            ops: self,
            at: None,
        }
    }

    /// Runs the database check now (a `ping`, bounded by `checkTimeoutMs`).
    pub async fn check_database(&self, db: &mongodb::Database) -> DbCheck {
        let start = Instant::now();
        let limit = Duration::from_millis(self.options.monitor.check_timeout_ms);
        let r = tokio::time::timeout(limit, db.run_command(doc! {"ping": 1})).await;
        let error = match r {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(crate::ops::logs::redact(&e.to_string())),
            Err(_) => Some(format!("no answer within {} ms", limit.as_millis())),
        };
        let mut d = self.db.lock().expect("db check lock");
        d.ok = error.is_none();
        d.latency_ms = start.elapsed().as_secs_f64() * 1000.0;
        d.consecutive_failures = if d.ok { 0 } else { d.consecutive_failures + 1 };
        d.error = error;
        d.at = Some(mongodb::bson::DateTime::now());
        d.clone()
    }

    pub fn snapshot(&self) -> Snapshot {
        let window_s = 60;
        Snapshot {
            db: self.db.lock().expect("db check lock").clone(),
            window: self.telemetry.window(window_s),
            rss_bytes: rss_bytes(),
            breaker: self.breaker.state(),
            uptime_ms: self.started.elapsed().as_millis() as u64,
            closing: self.closing.load(Ordering::Acquire),
        }
    }

    /// Health now (from the last database check).
    pub fn health(&self) -> Document {
        health::evaluate(&self.snapshot(), &self.options.monitor.thresholds).1
    }

    /// Evaluates the alert rules now; emits and logs each transition.
    pub fn evaluate_alerts(&self) -> Vec<Alert> {
        let snap = self.snapshot();
        let out = self.alerts.lock().expect("alerts lock").evaluate(
            &snap,
            &self.options.monitor.thresholds,
            Instant::now(),
        );
        for a in &out {
            if a.firing {
                tracing::warn!(rule = %a.rule, severity = a.severity.as_str(), value = a.value, threshold = a.threshold, "alert firing");
            } else {
                tracing::info!(rule = %a.rule, value = a.value, "alert resolved");
            }
            let mut d = a.to_document();
            d.insert("type", "alert");
            self.emit(d);
        }
        out
    }

    pub fn alerts(&self, history: bool) -> Vec<Document> {
        let a = self.alerts.lock().expect("alerts lock");
        let list = if history { a.history() } else { a.active() };
        list.iter().map(Alert::to_document).collect()
    }

    /// Stops accepting operations and waits (up to `timeout`) for those in flight;
    /// returns how many were still running.
    pub async fn drain(&self, timeout: Duration) -> usize {
        self.closing.store(true, Ordering::Release);
        let deadline = Instant::now() + timeout;
        loop {
            let n = self.in_flight.load(Ordering::Acquire);
            if n == 0 || Instant::now() >= deadline {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }
}

/// Runs operations, of one collection on one branch ([`Ops::scope`]) or of the project.
pub struct Scope<'a> {
    ops: &'a Ops,
    at: Option<(&'a str, &'a str)>,
}

impl Scope<'_> {
    /// Runs one public operation: breaker, retries (when `retry` and the error is
    /// retryable), metrics, slow-operation log.
    pub async fn run<T, F, Fut>(&self, op: &'static str, retry: bool, f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run_classified(op, retry, f, |_| None).await
    }

    /// [`Scope::run`] for an operation that is never retried here.
    pub async fn run_once<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let mut fut = Some(fut);
        self.run(op, false, || {
            fut.take().expect("run_once polls its future once")
        })
        .await
    }

    /// [`Scope::run`] for operations that can succeed with per-item errors (insertMany):
    /// `failed` gives the error code to count for a successful result, if any.
    pub async fn run_classified<T, F, Fut>(
        &self,
        op: &'static str,
        retry: bool,
        mut f: F,
        failed: impl Fn(&T) -> Option<&'static str>,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let ops = self.ops;
        let (branch, collection) = self.at.unwrap_or_default();
        if ops.closing.load(Ordering::Acquire) {
            return Err(ArgonError::Closed);
        }
        let start = Instant::now();
        ops.in_flight.fetch_add(1, Ordering::AcqRel);
        let _in_flight = InFlight(&ops.in_flight);
        ops.retry.deposit();
        // Built at the first retry: most calls never need one.
        let mut delays = None;
        let r = loop {
            if !ops.breaker.permit() {
                ops.telemetry
                    .incr(crate::telemetry::BREAKER_REJECTED_TOTAL, 1);
                break Err(ArgonError::CircuitOpen(format!(
                    "the circuit breaker is open after repeated database failures; {op} was not attempted"
                )));
            }
            let r = f().await;
            let unavailable = r.as_ref().err().is_some_and(ArgonError::is_unavailable);
            ops.breaker.record(unavailable);
            match &r {
                Err(e) if retry && e.is_retryable() => {
                    match delays.get_or_insert_with(|| ops.retry.delays()).next() {
                        Some(d) if ops.retry.withdraw() => {
                            ops.telemetry.incr(crate::telemetry::RETRIES_TOTAL, 1);
                            tracing::debug!(
                                operation = op,
                                code = e.code(),
                                delay_ms = d.as_millis() as u64,
                                "retrying"
                            );
                            tokio::time::sleep(d).await;
                        }
                        _ => break r,
                    }
                }
                _ => break r,
            }
        };
        let took = start.elapsed();
        let code = match &r {
            Err(e) => Some(e.metric_code()),
            Ok(v) => failed(v),
        };
        let ms = took.as_secs_f64() * 1000.0;
        let slow = took >= Duration::from_millis(ops.options.slow_operation_ms);
        if ops.options.metrics {
            ops.telemetry.record_op(op, took, code);
            ops.recent.record(op, (branch, collection), ms, code, slow);
        }
        if slow {
            tracing::warn!(
                operation = op,
                branch,
                collection,
                duration_ms = ms,
                code,
                "slow operation"
            );
        }
        if let Err(e) = &r {
            tracing::debug!(operation = op, branch, collection, duration_ms = ms, code = e.code(), error = %e, "operation failed");
        }
        r
    }
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resident memory of this process, bytes (0 where the platform does not say).
pub fn rss_bytes() -> u64 {
    memory_stats::memory_stats()
        .map(|m| m.physical_mem as u64)
        .unwrap_or(0)
}
