//! argon-core: Git-like branches, a write-ahead log and time travel for MongoDB.
//!
//! This crate is the whole engine and has no Node.js dependency; the napi binding in the
//! repository root is a thin layer over [`Argon`] and [`Coll`]. See ARCHITECTURE.md.

pub mod adopt;
pub mod api;
pub mod branch_meta;
pub mod capture;
pub mod diff;
pub mod error;
pub mod gc;
pub mod heads;
pub mod lsn;
pub mod merge;
pub mod names;
pub mod options;
pub mod project;
pub mod read;
pub mod reset;
pub mod sort;
pub mod telemetry;
pub mod timepoint;
pub mod txn;
pub mod view;
pub mod wal;
pub mod write;

pub use api::{Argon, Coll, ResetOutcome, ResetTo};
pub use diff::{Counts, DiffOutcome, Point};
pub use error::{ArgonError, Result};
pub use mongodb::bson;
pub use options::ConnectOptions;
pub use read::{DocCursor, FindOpts};
pub use timepoint::AtSpec;
pub use write::{Change, InsertOutcome, ModifyOpts, ModifyOutcome};
