//! The operations surface of `NativeArgon`: metrics, health, alerts, events and logs,
//! graceful close. Events (alerts, breaker transitions, log records) reach JS through one
//! weak threadsafe function: it never keeps the process alive, and when JS falls behind
//! the queue's bound drops records (counted) instead of blocking the engine.

use crate::client::NativeArgon;
use crate::convert::{docs_reply, to_bytes};
use crate::errors::IntoNapi;
use napi::bindgen_prelude::{Buffer, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use std::sync::Arc;

/// Events waiting for the JS thread, at most.
const EVENT_QUEUE: usize = 10_000;

/// Progress reports waiting for the JS thread, at most; when JS falls behind, reports are
/// dropped (a later one supersedes them).
const PROGRESS_QUEUE: usize = 16;

/// A long operation's progress, as the JS callback receives it.
#[napi(object)]
pub struct ProgressEvent {
    pub phase: String,
    pub done: f64,
    pub total: f64,
}

/// `onProgress` of `gc`, `verify` and `resetBranch`: a weak threadsafe function (it never
/// keeps the process alive), called without blocking the engine.
pub type ProgressCallback =
    ThreadsafeFunction<ProgressEvent, (), ProgressEvent, Status, false, true, PROGRESS_QUEUE>;

/// The engine's progress reporter for an optional JS callback.
pub fn progress(cb: Option<ProgressCallback>) -> argon_core::Progress {
    argon_core::Progress::new(cb.map(|tsfn| {
        let f: argon_core::ProgressFn = Arc::new(move |s: argon_core::Step| {
            let event = ProgressEvent {
                phase: s.phase.to_string(),
                done: s.done as f64,
                total: s.total as f64,
            };
            let _ = tsfn.call(event, ThreadsafeFunctionCallMode::NonBlocking);
        });
        f
    }))
}

#[napi]
impl NativeArgon {
    /// The Prometheus text exposition (format 0.0.4).
    #[napi(catch_unwind)]
    pub async fn metrics_text(&self) -> napi::Result<String> {
        Ok(self.inner.clone().metrics_text().await)
    }

    /// The JSON form of the metrics, as BSON.
    #[napi(catch_unwind)]
    pub async fn metrics_json(&self) -> napi::Result<Buffer> {
        let d = self.inner.clone().metrics_document().await;
        Ok(to_bytes(&d)?.into())
    }

    #[napi(catch_unwind)]
    pub fn reset_metrics(&self) {
        self.inner.reset_metrics();
    }

    /// The health document, as BSON (runs a database check first).
    #[napi(catch_unwind)]
    pub async fn health(&self) -> napi::Result<Buffer> {
        let d = self.inner.clone().health().await;
        Ok(to_bytes(&d)?.into())
    }

    /// One monitor round now (database check, gauges, alert rules).
    #[napi(catch_unwind)]
    pub async fn monitor_tick(&self) -> napi::Result<()> {
        self.inner.clone().monitor_tick().await;
        Ok(())
    }

    /// `{ version, kind, setName, transactions, lsn }` as BSON.
    #[napi(catch_unwind)]
    pub async fn server_info(&self) -> napi::Result<Buffer> {
        Ok(to_bytes(&self.inner.clone().server_info().await.napi()?)?.into())
    }

    /// Every connected process's published snapshot: `{ v: [...] }` as BSON.
    #[napi(catch_unwind)]
    pub async fn processes(&self) -> napi::Result<Buffer> {
        crate::convert::docs_reply(self.inner.clone().processes().await.napi()?)
    }

    /// Publishes this process's snapshot now (the monitor does it every 10 s).
    #[napi(catch_unwind)]
    pub async fn publish_now(&self) -> napi::Result<()> {
        self.inner.clone().publish_now().await.napi()
    }

    /// `{ v: [alert…] }`: active alerts, or the last 100 transitions with `history`.
    #[napi(catch_unwind)]
    pub fn alerts(&self, history: bool) -> napi::Result<Buffer> {
        docs_reply(self.inner.alerts(history))
    }

    /// Receives every event as BSON (`{type: 'alert' | 'breaker' | 'log', …}`).
    #[napi(catch_unwind)]
    pub fn on_event(&self, callback: Function<Buffer, ()>) -> napi::Result<()> {
        let tsfn = callback
            .build_threadsafe_function::<Vec<u8>>()
            .weak::<true>()
            .callee_handled::<false>()
            .max_queue_size::<EVENT_QUEUE>()
            .build_callback(|ctx| Ok(Buffer::from(ctx.value)))?;
        let project = self.inner.project().clone();
        let weak = Arc::downgrade(&project);
        self.inner.set_event_sink(Some(Arc::new(move |d| {
            let Ok(bytes) = argon_core::bson::to_vec(&d) else {
                return;
            };
            let status = tsfn.call(bytes, ThreadsafeFunctionCallMode::NonBlocking);
            if status != napi::Status::Ok {
                if let Some(p) = weak.upgrade() {
                    p.ops
                        .telemetry
                        .incr(argon_core::telemetry::LOG_DROPPED_TOTAL, 1);
                }
            }
        })));
        Ok(())
    }

    /// Sends the engine's log records at `level` or more severe as events (`null`: none).
    #[napi(catch_unwind)]
    pub fn set_log_level(&self, level: Option<String>) -> napi::Result<()> {
        self.inner.set_log_level(level.as_deref()).napi()
    }

    /// Checks the storage invariants; returns the report as BSON.
    #[napi(catch_unwind)]
    pub async fn verify(
        &self,
        branch: Option<String>,
        collection: Option<String>,
        #[napi(ts_arg_type = "((progress: ProgressEvent) => void) | undefined | null")]
        on_progress: Option<ProgressCallback>,
    ) -> napi::Result<Buffer> {
        let r = self
            .inner
            .clone()
            .verify(
                branch.as_deref(),
                collection.as_deref(),
                &progress(on_progress),
            )
            .await
            .napi()?;
        Ok(to_bytes(&r.to_document())?.into())
    }

    /// Per branch and collection: owned documents, WAL records, oldest retained point,
    /// what gc could free; as BSON.
    #[napi(catch_unwind)]
    pub async fn storage(&self) -> napi::Result<Buffer> {
        let r = self.inner.clone().storage().await.napi()?;
        Ok(to_bytes(&r.to_document())?.into())
    }

    /// Graceful close: waits up to `timeout_ms` for operations in flight. Returns how many
    /// were still running.
    #[napi(catch_unwind)]
    pub async fn close_within(&self, timeout_ms: u32) -> napi::Result<u32> {
        let left = self
            .inner
            .clone()
            .close_within(std::time::Duration::from_millis(timeout_ms.into()))
            .await;
        Ok(left as u32)
    }
}
