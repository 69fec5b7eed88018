//! Metric names (every one defined here) and the helpers that record operations through
//! the `metrics` facade. Exporters (Prometheus text) are installed by the embedding layer.

use std::time::Instant;

/// Counter: operations, labelled `op` and `branch_kind` (`main` | `child` | `past`).
pub const OPS_TOTAL: &str = "argon_operations_total";
/// Counter: failed operations, labelled `op` and `code`.
pub const ERRORS_TOTAL: &str = "argon_errors_total";
/// Histogram (seconds): operation latency, labelled `op`.
pub const OP_SECONDS: &str = "argon_operation_duration_seconds";
/// Counter: transaction attempts retried after a transient error (write conflicts).
pub const TXN_RETRIES_TOTAL: &str = "argon_transaction_retries_total";
/// Counter: WAL records appended.
pub const WAL_RECORDS_TOTAL: &str = "argon_wal_records_total";
/// Counter: branches created.
pub const BRANCHES_CREATED_TOTAL: &str = "argon_branches_created_total";
/// Counter: writes made outside Argon captured into the WAL.
pub const CAPTURED_TOTAL: &str = "argon_capture_events_total";
/// Counter: captured versions that are approximate (no pre-image was available).
pub const CAPTURE_APPROXIMATE_TOTAL: &str = "argon_capture_approximate_total";
/// Counter: outside writes an Argon write superseded before capture (folded into it).
pub const CAPTURE_FOLDED_TOTAL: &str = "argon_capture_folded_total";

/// Counter: WAL records removed by garbage collection.
pub const GC_RECORDS_REMOVED_TOTAL: &str = "argon_gc_records_removed_total";

/// Times one logical operation and records count, errors and latency when finished.
pub struct OpTimer {
    op: &'static str,
    start: Instant,
}

impl OpTimer {
    pub fn start(op: &'static str) -> Self {
        OpTimer {
            op,
            start: Instant::now(),
        }
    }

    pub fn finish<T>(self, r: &crate::Result<T>) {
        metrics::counter!(OPS_TOTAL, "op" => self.op).increment(1);
        metrics::histogram!(OP_SECONDS, "op" => self.op).record(self.start.elapsed().as_secs_f64());
        if let Err(e) = r {
            metrics::counter!(ERRORS_TOTAL, "op" => self.op, "code" => e.code()).increment(1);
            tracing::debug!(op = self.op, code = e.code(), error = %e, "operation failed");
        }
    }
}
