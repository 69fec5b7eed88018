//! The monitor: a background task that, every `monitor.intervalMs`, checks the database,
//! refreshes the gauges and evaluates the alert rules. It holds only a weak reference to
//! the project, so a dropped project stops it; `close()` aborts it.

use crate::project::Project;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// One round: database check, gauges, alerts.
pub async fn tick(p: &Project) {
    let check = p.ops.check_database(&p.db).await;
    if !check.ok {
        tracing::warn!(
            consecutive_failures = check.consecutive_failures,
            error = check.error.as_deref().unwrap_or(""),
            "database check failed"
        );
    }
    p.refresh_gauges(check.ok).await;
    p.ops.evaluate_alerts();
}

/// Runs `round` every `every` on a background task holding only a weak reference to the
/// project: it ends when the project is dropped or starts closing.
pub(crate) fn every<F, Fut>(
    p: &Arc<Project>,
    every: Duration,
    round: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Arc<Project>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let weak: Weak<Project> = Arc::downgrade(p);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let Some(p) = weak.upgrade() else { return };
            if p.ops.is_closing() {
                return;
            }
            round(p).await;
        }
    })
}

/// Starts the publisher of `p`'s snapshot (`ops/publish.rs`), every
/// `monitor.publishIntervalMs`, when the monitor is on.
pub fn start_publisher(p: &Arc<Project>) -> Option<tokio::task::JoinHandle<()>> {
    let ms = p.ops.options.monitor.publish_interval_ms;
    if !p.ops.options.monitor_enabled || ms == 0 {
        return None;
    }
    Some(every(p, Duration::from_millis(ms), |p| async move {
        if let Err(e) = crate::ops::publish::publish(&p).await {
            tracing::debug!(error = %e, "publishing this process's snapshot failed; retrying at the next interval");
        }
    }))
}

/// Starts the monitor of `p` (when enabled).
pub fn start(p: &Arc<Project>) -> Option<tokio::task::JoinHandle<()>> {
    if !p.ops.options.monitor_enabled {
        return None;
    }
    let period = Duration::from_millis(p.ops.options.monitor.interval_ms);
    Some(every(p, period, |p| async move { tick(&p).await }))
}
