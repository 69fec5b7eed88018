//! Typed errors of the engine, each with a stable code that the binding maps to JS.

use mongodb::bson::Document;

/// Every failure the engine reports. `code()` is the stable string a JS caller sees as
/// `err.code`; server errors keep MongoDB's numeric code instead (see `docs/errors.md`).
#[derive(Debug, thiserror::Error)]
pub enum ArgonError {
    #[error("invalid MongoDB URI: {0}")]
    InvalidUri(String),
    #[error("cannot reach the MongoDB server: {0}")]
    ServerUnreachable(String),
    #[error("branch not found: {0}")]
    BranchNotFound(String),
    #[error("branch already exists: {0}")]
    BranchExists(String),
    #[error("invalid branch name {0:?}: {1}")]
    InvalidBranchName(String, String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("{0}")]
    ReservedName(String),
    #[error("document is {0} bytes; MongoDB's limit is 16777216 bytes")]
    DocumentTooLarge(usize),
    #[error("branch {0:?} is protected")]
    BranchProtected(String),
    #[error("{0}")]
    BranchHasChildren(String),
    #[error("this view is read-only: {0}")]
    ReadOnly(String),
    #[error("{0}")]
    LsnOutOfRange(String),
    #[error("tag not found: {0}")]
    TagNotFound(String),
    #[error("tag already exists: {0}")]
    TagExists(String),
    #[error("{0}")]
    ProjectMismatch(String),
    #[error("writes need a MongoDB deployment with transactions (a replica set, even a single-node one, or a sharded cluster); this server is a standalone. Reads, branches and time travel work; to write, start mongod with --replSet and run rs.initiate()")]
    TransactionsRequired,
    #[error("the project was created by a newer argondb (format {0}); upgrade argondb")]
    FormatVersion(i32),
    #[error("the Argon client is closed")]
    Closed,
    #[error("{0}")]
    CaptureBehind(String),
    /// An error the MongoDB server returned, passed through with its numeric code.
    #[error("{message}")]
    Server {
        code: i32,
        code_name: String,
        message: String,
        key_value: Option<Box<Document>>,
        /// For batch writes: the index of the failing document.
        index: Option<usize>,
    },
    #[error("internal error: {0}")]
    Internal(String),
    /// A transaction used where it cannot be: a second branch, a past view, an operation
    /// transactions do not support, or a transaction that already ended.
    #[error("{0}")]
    InvalidTransaction(String),
    /// The circuit breaker is open: the call was not attempted.
    #[error("{0}")]
    CircuitOpen(String),
}

pub type Result<T> = std::result::Result<T, ArgonError>;

impl ArgonError {
    /// The stable code for JS. Server errors return `"MONGO_SERVER_ERROR"` here and carry
    /// their numeric code in `server_code()` (metrics name the common ones:
    /// [`ArgonError::metric_code`]).
    pub fn code(&self) -> &'static str {
        match self {
            ArgonError::InvalidUri(_) => "INVALID_URI",
            ArgonError::ServerUnreachable(_) => "SERVER_UNREACHABLE",
            ArgonError::BranchNotFound(_) => "BRANCH_NOT_FOUND",
            ArgonError::BranchExists(_) => "BRANCH_EXISTS",
            ArgonError::InvalidBranchName(..) => "INVALID_BRANCH_NAME",
            ArgonError::InvalidArgument(_) => "INVALID_ARGUMENT",
            ArgonError::ReservedName(_) => "RESERVED_NAME",
            ArgonError::DocumentTooLarge(_) => "DOCUMENT_TOO_LARGE",
            ArgonError::BranchProtected(_) => "BRANCH_PROTECTED",
            ArgonError::BranchHasChildren(_) => "BRANCH_HAS_CHILDREN",
            ArgonError::ReadOnly(_) => "READ_ONLY",
            ArgonError::LsnOutOfRange(_) => "LSN_OUT_OF_RANGE",
            ArgonError::TagNotFound(_) => "TAG_NOT_FOUND",
            ArgonError::TagExists(_) => "TAG_EXISTS",
            ArgonError::ProjectMismatch(_) => "PROJECT_MISMATCH",
            ArgonError::TransactionsRequired => "TRANSACTIONS_REQUIRED",
            ArgonError::FormatVersion(_) => "FORMAT_VERSION",
            ArgonError::Closed => "CLIENT_CLOSED",
            ArgonError::CaptureBehind(_) => "CAPTURE_BEHIND",
            ArgonError::Server { .. } => "MONGO_SERVER_ERROR",
            ArgonError::Internal(_) => "INTERNAL",
            ArgonError::CircuitOpen(_) => "CIRCUIT_OPEN",
            ArgonError::InvalidTransaction(_) => "INVALID_TRANSACTION",
        }
    }

    /// The code metrics count this error under (`argon_errors_total{code}`, errors by code
    /// in the snapshots and the dashboard): [`ArgonError::code`], except that the server
    /// errors an application meets most get a name of their own instead of one
    /// `MONGO_SERVER_ERROR` for all. A fixed list, so the label stays bounded.
    pub fn metric_code(&self) -> &'static str {
        match self {
            ArgonError::Server { code, .. } => match code {
                11000 | 11001 => "DUPLICATE_KEY",
                121 => "DOCUMENT_VALIDATION_FAILURE",
                50 => "MAX_TIME_EXPIRED",
                112 => "WRITE_CONFLICT",
                2 | 9 | 14 => "BAD_VALUE",
                13 | 18 => "UNAUTHORIZED",
                26 => "NAMESPACE_NOT_FOUND",
                251 => "NO_SUCH_TRANSACTION",
                _ => "MONGO_SERVER_ERROR",
            },
            other => other.code(),
        }
    }

    /// Whether the error says the database could not be reached or did not answer in
    /// time (what the circuit breaker and the health checks count).
    pub fn is_unavailable(&self) -> bool {
        match self {
            ArgonError::ServerUnreachable(_) => true,
            ArgonError::Server { code, .. } => UNAVAILABLE_CODES.contains(code),
            _ => false,
        }
    }

    /// Whether trying the same call again may succeed: the database was unavailable, a
    /// failover is under way, or a time limit was hit.
    pub fn is_retryable(&self) -> bool {
        self.is_unavailable()
            || matches!(self, ArgonError::Server { code, .. } if RETRYABLE_CODES.contains(code))
    }

    /// MongoDB's numeric code for server errors (11000 for a duplicate key).
    pub fn server_code(&self) -> Option<i32> {
        match self {
            ArgonError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// A duplicate-key error shaped as mongod reports it.
    pub fn duplicate_key(ns: &str, index: &str, key_value: Document) -> Self {
        let shown: Vec<String> = key_value.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let message = format!(
            "E11000 duplicate key error collection: {ns} index: {index} dup key: {{ {} }}",
            shown.join(", ")
        );
        ArgonError::Server {
            code: 11000,
            code_name: "DuplicateKey".into(),
            message,
            key_value: Some(Box::new(key_value)),
            index: None,
        }
    }
}

/// Server codes that say the database (or the primary) is not there: HostUnreachable,
/// HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown,
/// SocketException, NotWritablePrimary, InterruptedAtShutdown,
/// InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
const UNAVAILABLE_CODES: &[i32] = &[6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436];
/// Further codes worth a retry: ExceededTimeLimit (262), WriteConcernFailed (64),
/// StaleEpoch (150). Not MaxTimeMSExpired: that is the caller's own limit.
const RETRYABLE_CODES: &[i32] = &[262, 64, 150];

/// Classification of driver errors used by the transaction retry loop.
pub(crate) fn is_transient(e: &mongodb::error::Error) -> bool {
    e.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR)
        || matches!(server_code_of(e), Some(112) | Some(251) | Some(24))
}

pub(crate) fn is_unknown_commit(e: &mongodb::error::Error) -> bool {
    e.contains_label(mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT)
}

pub(crate) fn server_code_of(e: &mongodb::error::Error) -> Option<i32> {
    use mongodb::error::{ErrorKind, WriteFailure};
    match e.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => Some(w.code),
        ErrorKind::InsertMany(im) => im
            .write_errors
            .as_ref()
            .and_then(|v| v.first())
            .map(|w| w.code),
        _ => None,
    }
}

/// Extracts `{field: value}` from a duplicate-key message such as
/// `E11000 duplicate key error collection: db.c index: email_1 dup key: { email: "a" }`.
fn key_value_from_message(msg: &str) -> Option<Document> {
    let start = msg.find("dup key: ")? + "dup key: ".len();
    let text = msg[start..].trim();
    // Turn the shell-like `{ email: "a" }` into JSON and parse it loosely.
    let inner = text.trim_start_matches('{').trim_end_matches('}').trim();
    let mut doc = Document::new();
    for part in inner.split(", ") {
        let (k, v) = part.split_once(": ")?;
        let k = k.trim().trim_matches('"');
        let v = v.trim();
        let value = if let Ok(j) = serde_json::from_str::<serde_json::Value>(v) {
            mongodb::bson::Bson::try_from(j).ok()?
        } else {
            mongodb::bson::Bson::String(v.to_string())
        };
        doc.insert(k, value);
    }
    Some(doc)
}

impl From<mongodb::error::Error> for ArgonError {
    fn from(e: mongodb::error::Error) -> Self {
        use mongodb::error::{ErrorKind, WriteFailure};
        let server = |code: i32,
                      code_name: &str,
                      message: &str,
                      details: Option<&Document>,
                      index: Option<usize>| {
            let mut key_value = details
                .and_then(|d| d.get_document("keyValue").ok())
                .cloned();
            if code == 11000 && key_value.is_none() {
                key_value = key_value_from_message(message);
            }
            let code_name = if code_name.is_empty() && code == 11000 {
                "DuplicateKey".to_string()
            } else {
                code_name.to_string()
            };
            ArgonError::Server {
                code,
                code_name,
                message: message.to_string(),
                key_value: key_value.map(Box::new),
                index,
            }
        };
        match e.kind.as_ref() {
            ErrorKind::Command(c) => server(c.code, &c.code_name, &c.message, None, None),
            ErrorKind::Write(WriteFailure::WriteError(w)) => server(
                w.code,
                w.code_name.as_deref().unwrap_or(""),
                &w.message,
                w.details.as_ref(),
                None,
            ),
            ErrorKind::Write(WriteFailure::WriteConcernError(w)) => {
                server(w.code, &w.code_name, &w.message, None, None)
            }
            ErrorKind::InsertMany(im) => match im.write_errors.as_ref().and_then(|v| v.first()) {
                Some(w) => server(
                    w.code,
                    w.code_name.as_deref().unwrap_or(""),
                    &w.message,
                    w.details.as_ref(),
                    Some(w.index),
                ),
                None => ArgonError::Internal(e.to_string()),
            },
            ErrorKind::ServerSelection { message, .. } => {
                ArgonError::ServerUnreachable(message.clone())
            }
            ErrorKind::InvalidArgument { message, .. } => {
                ArgonError::InvalidArgument(message.clone())
            }
            ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } => {
                ArgonError::ServerUnreachable(e.to_string())
            }
            ErrorKind::Shutdown => ArgonError::Closed,
            _ => ArgonError::Internal(e.to_string()),
        }
    }
}

impl From<mongodb::bson::raw::Error> for ArgonError {
    fn from(e: mongodb::bson::raw::Error) -> Self {
        ArgonError::InvalidArgument(format!("malformed BSON: {e}"))
    }
}

impl From<mongodb::bson::de::Error> for ArgonError {
    fn from(e: mongodb::bson::de::Error) -> Self {
        ArgonError::InvalidArgument(format!("malformed BSON: {e}"))
    }
}

impl From<mongodb::bson::ser::Error> for ArgonError {
    fn from(e: mongodb::bson::ser::Error) -> Self {
        ArgonError::InvalidArgument(format!("cannot encode BSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: i32) -> ArgonError {
        ArgonError::Server {
            code,
            code_name: String::new(),
            message: String::new(),
            key_value: None,
            index: None,
        }
    }

    #[test]
    fn metric_codes_name_common_server_errors_and_stay_bounded() {
        assert_eq!(server(11000).metric_code(), "DUPLICATE_KEY");
        assert_eq!(server(121).metric_code(), "DOCUMENT_VALIDATION_FAILURE");
        assert_eq!(server(50).metric_code(), "MAX_TIME_EXPIRED");
        assert_eq!(server(4242).metric_code(), "MONGO_SERVER_ERROR");
        // JS still sees one code for server errors (with the numeric code beside it).
        assert_eq!(server(11000).code(), "MONGO_SERVER_ERROR");
        assert_eq!(ArgonError::Closed.metric_code(), "CLIENT_CLOSED");
    }
}
