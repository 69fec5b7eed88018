//! LSNs. One logical write (an insertMany batch, an updateMany, a reset) gets one LSN, so
//! a read at any LSN sees whole operations only. The documents one write changes are
//! ordered inside it by a sub-index: WAL record keys, and the LSN fields of head rows,
//! are `lsn << 20 | i`. User-facing LSNs are always the high part.
//!
//! The LSN comes from one counter document incremented inside the write's transaction.
//! Every writer touches the counter, so transactions commit in LSN order and any LSN at
//! or below the committed counter value is stable: reads at it never change.

use mongodb::bson::Bson;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Bits of a record key that number documents within one write.
pub const SUB_BITS: u32 = 20;
/// Most documents one logical write may change.
pub const MAX_DOCS_PER_WRITE: i64 = 1 << SUB_BITS;

/// A log sequence number: one per logical write, strictly increasing within a project.
/// This is what users see (`lsn` in results, `at(lsn)`, branch fork points). Stored as a
/// plain int64 (serde-transparent), so stored data is unchanged by the type.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Lsn(pub i64);

/// The key of one WAL record (and the LSN fields of head rows): `lsn << 20 | i`, where `i`
/// numbers the documents one write changed. Never shown to users.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct RecordKey(pub i64);

impl Lsn {
    /// Before any write.
    pub const ZERO: Lsn = Lsn(0);

    /// The highest record key of this LSN: every record of writes up to it is `<=` it.
    pub fn cut_key(self) -> RecordKey {
        RecordKey((self.0 << SUB_BITS) | (MAX_DOCS_PER_WRITE - 1))
    }

    /// The first record key of this LSN's write.
    pub fn first_key(self) -> RecordKey {
        RecordKey(self.0 << SUB_BITS)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl RecordKey {
    /// The LSN of the write this record belongs to.
    pub fn lsn(self) -> Lsn {
        Lsn(self.0 >> SUB_BITS)
    }

    /// The document number within its write.
    pub fn index(self) -> i64 {
        self.0 & (MAX_DOCS_PER_WRITE - 1)
    }

    /// The key `n` documents further on in the same write.
    pub fn plus(self, n: i64) -> RecordKey {
        RecordKey(self.0 + n)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.lsn(), self.index())
    }
}

impl From<Lsn> for Bson {
    fn from(l: Lsn) -> Bson {
        Bson::Int64(l.0)
    }
}

impl From<RecordKey> for Bson {
    fn from(k: RecordKey) -> Bson {
        Bson::Int64(k.0)
    }
}

/// The highest record key of LSN `lsn` (see [`Lsn::cut_key`]).
pub fn cut_key(lsn: Lsn) -> RecordKey {
    lsn.cut_key()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Probe {
        l: Lsn,
    }

    #[test]
    fn keys_order_within_and_across_writes() {
        let a = Lsn(7).first_key();
        assert_eq!(a.lsn(), Lsn(7));
        assert_eq!(a.plus(5).lsn(), Lsn(7));
        assert_eq!(a.plus(5).index(), 5);
        assert!(a.plus(5) <= Lsn(7).cut_key());
        assert!(Lsn(7).cut_key() < Lsn(8).first_key());
        assert_eq!(Lsn(7).cut_key().lsn(), Lsn(7));
        // Stored as plain int64s.
        assert_eq!(Bson::from(Lsn(3)), Bson::Int64(3));
        let d = mongodb::bson::to_document(&Probe { l: Lsn(4) }).unwrap();
        assert_eq!(d, mongodb::bson::doc! {"l": 4_i64});
    }
}
