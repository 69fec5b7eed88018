//! What an operator sees from another process (`argon status | health | metrics`, the
//! dashboard): every connected process with the monitor on publishes a snapshot of its
//! metrics, health and active alerts into `__argon.processes` every
//! `monitor.publishIntervalMs` (default [`EVERY`]), one upsert
//! per process per interval, keeping the last hour of summary points in the same
//! document (so trend charts survive a restart of the application). A clean close marks
//! the document closed; documents not reported for a day expire (a TTL index on
//! `reportedAt`). The snapshot also carries the process's last 50 operations, its last 50
//! slow ones and its last 50 alert transitions ([`super::recent`]).

use crate::error::Result;
use crate::names::PROCESSES;
use crate::project::Project;
use mongodb::bson::{doc, Bson, DateTime, Document};
use std::time::Duration;

/// How often a process publishes its snapshot.
pub const EVERY: Duration = Duration::from_secs(10);
/// Summary points kept per process: one hour at [`EVERY`].
pub const HISTORY_POINTS: i32 = 360;
/// Snapshots not refreshed for this long are removed by the server.
pub const EXPIRE_AFTER: Duration = Duration::from_secs(24 * 3600);

fn coll(p: &Project) -> mongodb::Collection<Document> {
    p.db.collection(PROCESSES)
}

/// The JSON form of this process's metrics (as `argon.metrics({ format: 'json' })`).
pub async fn metrics_document(p: &Project) -> Document {
    let snap = p.ops.snapshot();
    let branches = p.branches().estimated_document_count().await.unwrap_or(0);
    let up = snap.db.ok || snap.db.at.is_none();
    doc! {
        "operations": p.ops.telemetry.operations_document(),
        "counters": p.ops.telemetry.counters_document(),
        "window": {
            "seconds": 60,
            "operations": snap.window.count as i64,
            "errors": snap.window.errors as i64,
            "errorRate": snap.window.error_rate,
            "p99Ms": snap.window.p99_ms,
            "avgMs": snap.window.mean_ms,
        },
        "system": {
            "rssBytes": snap.rss_bytes as i64,
            "uptimeMs": snap.uptime_ms as i64,
            "up": up,
            "version": env!("CARGO_PKG_VERSION"),
        },
        "lsn": p.seen_lsn.load(std::sync::atomic::Ordering::Acquire),
        "branches": branches as i64,
        "breaker": snap.breaker.as_str(),
    }
}

/// Publishes this process's snapshot (one upsert).
pub async fn publish(p: &Project) -> Result<()> {
    let metrics = metrics_document(p).await;
    let window = metrics.get_document("window").cloned().unwrap_or_default();
    let point = doc! {
        "t": DateTime::now(),
        "operations": window.get("operations").cloned().unwrap_or(Bson::Int64(0)),
        "errors": window.get("errors").cloned().unwrap_or(Bson::Int64(0)),
        "errorRate": window.get("errorRate").cloned().unwrap_or(Bson::Double(0.0)),
        "p99Ms": window.get("p99Ms").cloned().unwrap_or(Bson::Double(0.0)),
        "avgMs": window.get("avgMs").cloned().unwrap_or(Bson::Double(0.0)),
    };
    let alerts: Vec<Bson> = p
        .ops
        .alerts(false)
        .into_iter()
        .map(Bson::Document)
        .collect();
    // Transitions, newest first, capped like the rings: the dashboard's resolved alerts.
    let alert_history: Vec<Bson> = p
        .ops
        .alerts(true)
        .into_iter()
        .rev()
        .take(super::recent::KEEP)
        .map(Bson::Document)
        .collect();
    let (recent, slow) = p.ops.recent.lists();
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    coll(p)
        .update_one(
            doc! {"_id": &p.leases.id},
            doc! {
                "$set": {
                    "pid": std::process::id() as i64,
                    "host": host,
                    "app": &p.app_name,
                    "metrics": metrics,
                    "health": p.ops.health(),
                    "alerts": alerts,
                    "alertHistory": alert_history,
                    "recent": recent,
                    "slow": slow,
                    "slowOperationMs": p.ops.options.slow_operation_ms as i64,
                    "prometheus": p.ops.telemetry.render(),
                    "intervalMs": p.ops.options.monitor.publish_interval_ms as i64,
                    // Per operation, since the previous publish (percentiles for `top`).
                    "interval": p.ops.telemetry.take_interval(),
                },
                "$currentDate": {"reportedAt": true},
                "$setOnInsert": {"startedAt": DateTime::now()},
                "$push": {"history": {"$each": [point], "$slice": -HISTORY_POINTS}},
            },
        )
        .upsert(true)
        .await?;
    Ok(())
}

/// Marks this process's snapshot closed (on a clean close), so it no longer shows. A mark
/// rather than a delete: a publish still in flight when the process closed may reach the
/// server after it, and must not bring the snapshot back (it never unsets the mark).
pub async fn remove(p: &Project) {
    let _ = coll(p)
        .update_one(
            doc! {"_id": &p.leases.id},
            doc! {"$set": {"closed": true}, "$currentDate": {"reportedAt": true}},
        )
        .upsert(true)
        .await;
}

/// Every published snapshot, newest report first.
pub async fn processes(p: &Project) -> Result<Vec<Document>> {
    use futures_util::TryStreamExt;
    Ok(coll(p)
        .find(doc! {"closed": {"$ne": true}})
        .sort(doc! {"reportedAt": -1})
        .await?
        .try_collect()
        .await?)
}

/// The TTL index that expires snapshots a day after their last report (idempotent).
pub async fn ensure_index(p: &Project) -> Result<()> {
    let model = mongodb::IndexModel::builder()
        .keys(doc! {"reportedAt": 1})
        .options(
            mongodb::options::IndexOptions::builder()
                .expire_after(EXPIRE_AFTER)
                .name("reportedAt_ttl".to_string())
                .build(),
        )
        .build();
    coll(p).create_index(model).await?;
    Ok(())
}
