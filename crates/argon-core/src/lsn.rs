//! LSNs. One logical write (an insertMany batch, an updateMany, a reset) gets one LSN, so
//! a read at any LSN sees whole operations only. The documents one write changes are
//! ordered inside it by a sub-index: WAL record keys, and the LSN fields of head rows,
//! are `lsn << 20 | i`. User-facing LSNs are always the high part.
//!
//! The LSN comes from one counter document incremented inside the write's transaction.
//! Every writer touches the counter, so transactions commit in LSN order and any LSN at
//! or below the committed counter value is stable: reads at it never change.

use crate::error::ArgonError;
use crate::names::META;
use crate::txn::TxResult;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Database};

/// Bits of a record key that number documents within one write.
pub const SUB_BITS: u32 = 20;
/// Most documents one logical write may change.
pub const MAX_DOCS_PER_WRITE: i64 = 1 << SUB_BITS;

/// The highest record key of LSN `lsn`: every record of writes up to `lsn` is <= it.
pub fn cut_key(lsn: i64) -> i64 {
    (lsn << SUB_BITS) | (MAX_DOCS_PER_WRITE - 1)
}

/// The LSN a record key belongs to.
pub fn lsn_of(key: i64) -> i64 {
    key >> SUB_BITS
}

/// Hands out record keys for one transaction attempt: the first request reserves the
/// write's LSN; later ones continue its sub-index sequence.
#[derive(Debug, Default)]
pub struct LsnAlloc {
    next: Option<i64>,
}

impl LsnAlloc {
    /// Reserves `count` consecutive record keys and returns the first.
    pub async fn take(
        &mut self,
        db: &Database,
        s: &mut ClientSession,
        count: i64,
    ) -> TxResult<i64> {
        let base = match self.next {
            Some(n) => n,
            None => allocate(db, s).await? << SUB_BITS,
        };
        let used = base & (MAX_DOCS_PER_WRITE - 1);
        if used + count > MAX_DOCS_PER_WRITE {
            return Err(ArgonError::InvalidArgument(format!(
                "one write may change at most {MAX_DOCS_PER_WRITE} documents; split it"
            ))
            .into());
        }
        self.next = Some(base + count);
        Ok(base)
    }
}

/// Reserves the next LSN.
async fn allocate(db: &Database, s: &mut ClientSession) -> TxResult<i64> {
    let meta = db.collection::<Document>(META);
    let d = meta
        .find_one_and_update(doc! {"_id": "lsn"}, doc! {"$inc": {"n": 1_i64}})
        .return_document(ReturnDocument::After)
        .session(s)
        .await?
        .ok_or_else(|| ArgonError::Internal("lsn counter missing".into()))?;
    let lsn = d
        .get_i64("n")
        .map_err(|_| ArgonError::Internal("lsn counter is not an int64".into()))?;
    Ok(lsn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_within_and_across_writes() {
        let a = 7 << SUB_BITS;
        assert_eq!(lsn_of(a), 7);
        assert_eq!(lsn_of(a + 5), 7);
        assert!(a + 5 <= cut_key(7));
        assert!(cut_key(7) < 8 << SUB_BITS);
        assert_eq!(lsn_of(cut_key(7)), 7);
    }
}
