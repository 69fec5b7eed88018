//! Branches: their metadata records and lineage (`meta`), and the head collections that
//! hold what each child branch has written (`heads`).

pub mod heads;
pub mod meta;

use mongodb::bson::Bson;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A branch's internal id: never reused, names its head collections and its WAL records.
/// Stored as a plain int32 (serde-transparent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BranchId(pub i32);

impl BranchId {
    /// `main`, the root branch, whose head is the user's own collection.
    pub const MAIN: BranchId = BranchId(0);

    pub fn is_main(self) -> bool {
        self == BranchId::MAIN
    }
}

impl fmt::Display for BranchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<BranchId> for Bson {
    fn from(b: BranchId) -> Bson {
        Bson::Int32(b.0)
    }
}
