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
