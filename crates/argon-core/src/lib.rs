//! argon-core: Git-like branches, a write-ahead log and time travel for MongoDB.
//!
//! This crate is the whole engine and has no Node.js dependency; the napi binding in the
//! repository root is a thin layer over [`Argon`] and [`Coll`]. See ARCHITECTURE.md.

pub mod adopt;
pub mod api;
pub mod branch;
pub mod capture;
pub mod error;
pub mod lsn;
pub mod names;
pub mod ops;
pub mod options;
pub mod project;
pub mod read;
pub mod telemetry;
pub mod timetravel;
pub mod wal;
pub mod write;

pub use api::{Argon, Coll, ResetOutcome, ResetTo, Txn};
pub use error::{ArgonError, Result};
pub use mongodb::bson;
pub use ops::progress::{Progress, ProgressFn, Step};
pub use options::ConnectOptions;
pub use read::query_opts::QueryOpts;
pub use read::{DocCursor, FindOpts};
pub use timetravel::diff::{Counts, DiffOutcome, Point};
pub use timetravel::timepoint::AtSpec;
pub use write::{Change, InsertOutcome, ModifyOpts, ModifyOutcome};
