//! Every metric name (Prometheus naming: `argon_` prefix, base units, counters end in
//! `_total`; labels are bounded enums only, never branch names, ids or LSNs), their help
//! texts, and the operation names metrics are labelled with. Recording goes through the
//! project's own recorder (`ops::metrics::Telemetry`).

/// Counter: finished operations, labelled `operation` and `outcome` (`success`|`error`).
pub const OPS_TOTAL: &str = "argon_operations_total";
/// Counter: failed operations, labelled `operation` and `code` (an Argon error code).
pub const ERRORS_TOTAL: &str = "argon_errors_total";
/// Histogram (seconds): operation latency, labelled `operation`.
pub const OP_SECONDS: &str = "argon_operation_duration_seconds";
/// Counter: transaction attempts retried after a transient error (write conflicts).
pub const TXN_RETRIES_TOTAL: &str = "argon_transaction_retries_total";
/// Counter: crashed writers whose sessions were killed to free the LSN counter.
pub const DEAD_WRITERS_REAPED_TOTAL: &str = "argon_dead_writers_reaped_total";
/// Counter: operations retried after a retryable error (network, timeout, failover).
pub const RETRIES_TOTAL: &str = "argon_retries_total";
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
/// Counter: calls rejected at once because the circuit breaker was open.
pub const BREAKER_REJECTED_TOTAL: &str = "argon_circuit_breaker_rejected_total";
/// Counter: log records dropped because the logger fell behind.
pub const LOG_DROPPED_TOTAL: &str = "argon_log_records_dropped_total";
/// Gauge: 1 when the last database check succeeded.
pub const UP: &str = "argon_up";
/// Gauge: always 1, labelled `version`.
pub const BUILD_INFO: &str = "argon_build_info";
/// Gauge: the newest committed LSN this process has seen.
pub const LSN: &str = "argon_lsn";
/// Gauge: branches in the project.
pub const BRANCHES: &str = "argon_branches";
/// Gauge: circuit breaker state: 0 closed, 1 half-open, 2 open.
pub const BREAKER_STATE: &str = "argon_circuit_breaker_state";
/// Gauge: resident memory of the process, bytes.
pub const RESIDENT_MEMORY: &str = "argon_process_resident_memory_bytes";

/// Help texts, registered with each project's recorder.
pub(crate) fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(OPS_TOTAL, "Operations finished, by operation and outcome.");
    describe_counter!(
        ERRORS_TOTAL,
        "Operations failed, by operation and error code."
    );
    describe_histogram!(OP_SECONDS, Unit::Seconds, "Operation latency.");
    describe_counter!(
        TXN_RETRIES_TOTAL,
        "Write transactions retried after a transient error."
    );
    describe_counter!(RETRIES_TOTAL, "Operations retried after a retryable error.");
    describe_counter!(
        DEAD_WRITERS_REAPED_TOTAL,
        "Writers that stopped heartbeating whose sessions were killed to free the LSN counter."
    );
    describe_counter!(WAL_RECORDS_TOTAL, "WAL records appended.");
    describe_counter!(BRANCHES_CREATED_TOTAL, "Branches created.");
    describe_counter!(
        CAPTURED_TOTAL,
        "Writes made outside Argon captured into the WAL."
    );
    describe_counter!(
        CAPTURE_APPROXIMATE_TOTAL,
        "Captured versions without a pre-image."
    );
    describe_counter!(
        CAPTURE_FOLDED_TOTAL,
        "Outside writes folded into a later Argon write."
    );
    describe_counter!(
        GC_RECORDS_REMOVED_TOTAL,
        "WAL records removed by garbage collection."
    );
    describe_counter!(
        BREAKER_REJECTED_TOTAL,
        "Calls rejected while the circuit breaker was open."
    );
    describe_counter!(
        LOG_DROPPED_TOTAL,
        "Log records dropped because the logger fell behind."
    );
    describe_gauge!(UP, "1 when the last database check succeeded.");
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the version label says which argondb runs."
    );
    describe_gauge!(LSN, "Newest committed LSN this process has seen.");
    describe_gauge!(BRANCHES, "Branches in the project.");
    describe_gauge!(
        BREAKER_STATE,
        "Circuit breaker state: 0 closed, 1 half-open, 2 open."
    );
    describe_gauge!(
        RESIDENT_MEMORY,
        Unit::Bytes,
        "Resident memory of the process."
    );
}

/// The operation names metrics are labelled with (a bounded set; anything else is
/// `other`).
pub const OPERATIONS: &[&str] = &[
    "insertOne",
    "insertMany",
    "updateOne",
    "updateMany",
    "replaceOne",
    "deleteOne",
    "deleteMany",
    "findOneAndUpdate",
    "findOneAndReplace",
    "findOneAndDelete",
    "bulkWrite",
    "find",
    "findOne",
    "countDocuments",
    "estimatedDocumentCount",
    "distinct",
    "aggregate",
    "history",
    "createIndex",
    "dropIndex",
    "listIndexes",
    "drop",
    "createBranch",
    "deleteBranch",
    "listBranches",
    "branchInfo",
    "tag",
    "diff",
    "restorePreview",
    "resetBranch",
    "gc",
    "timeTravelInfo",
    "verify",
    "storage",
    "commitTransaction",
    "abortTransaction",
];

/// `op` if it is a known operation name, else `other`.
pub fn operation(op: &str) -> &'static str {
    OPERATIONS
        .iter()
        .find(|o| **o == op)
        .copied()
        .unwrap_or("other")
}
