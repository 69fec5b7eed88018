//! Options accepted by `Argon::connect` (deserialized from the JS options object).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectOptions {
    /// The MongoDB database that holds the project (required).
    pub database: String,
    /// How long to wait for a usable server before failing with `SERVER_UNREACHABLE`.
    /// Defaults to the URI's `serverSelectionTimeoutMS`, else 10 000 ms.
    pub server_selection_timeout_ms: Option<u64>,
    /// Application name reported to the server.
    pub app_name: Option<String>,
    /// How many times a write transaction is retried after a transient error (write
    /// conflict). Retries back off exponentially with jitter. Default 10 000 (the time
    /// budget below is what normally ends retrying).
    pub max_transaction_retries: Option<usize>,
    /// How long a write keeps retrying transient errors, in ms. Default 75 000: longer
    /// than MongoDB's default `transactionLifetimeLimitSeconds` (60 s), after which the
    /// server aborts a transaction abandoned by a crashed process.
    pub transaction_timeout_ms: Option<u64>,
    /// How long cached branch metadata is trusted, in ms. Default 1000.
    pub metadata_cache_ms: Option<u64>,
    /// Entries in the branch-metadata LRU cache. Default 1024.
    pub metadata_cache_size: Option<usize>,
    /// How far back reads and branch creation may go, in ms. Default 7 days.
    pub retention_ms: Option<u64>,
    /// Capture of writes made outside Argon on main's collections: `"auto"` (default:
    /// on where the deployment has change streams) or `"off"`.
    pub capture: Option<String>,
    /// Runs garbage collection of history in the background every this many ms (off by
    /// default; `argon.gc()` runs it on demand).
    pub gc_interval_ms: Option<u64>,
    /// Background checks of the database, health and alert rules (`false`: off).
    pub monitor: Option<crate::ops::MonitorSetting>,
    /// Retries of operations after retryable errors (network, timeouts, failovers).
    pub retry: Option<crate::ops::retry::RetryOptions>,
    /// The circuit breaker.
    pub breaker: Option<crate::ops::breaker::BreakerOptions>,
    /// Operations slower than this are logged at warn, ms. Default 1000.
    pub slow_operation_ms: Option<u64>,
    /// Records operation metrics (default true). `false` keeps the breaker, retries,
    /// health checks and logs, and records nothing per operation.
    pub metrics: Option<bool>,
}

impl ConnectOptions {
    pub fn from_json(v: Option<&str>) -> crate::Result<Self> {
        match v {
            None => Err(crate::ArgonError::InvalidArgument(
                "connect options need `database`".into(),
            )),
            Some(s) => serde_json::from_str(s)
                .map_err(|e| crate::ArgonError::InvalidArgument(format!("connect options: {e}"))),
        }
    }
}
