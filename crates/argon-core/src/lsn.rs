//! LSN allocation: one counter document, incremented inside the write's transaction.
//! Because every writer touches the counter, transactions commit in LSN order, so any
//! LSN at or below the committed counter value is stable: reads at it never change.

use crate::names::META;
use crate::txn::TxResult;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Database};

/// Reserves `count` consecutive LSNs and returns the first.
pub async fn allocate(db: &Database, s: &mut ClientSession, count: i64) -> TxResult<i64> {
    let meta = db.collection::<Document>(META);
    let d = meta
        .find_one_and_update(doc! {"_id": "lsn"}, doc! {"$inc": {"n": count}})
        .return_document(ReturnDocument::After)
        .session(s)
        .await?
        .ok_or_else(|| crate::ArgonError::Internal("lsn counter missing".into()))?;
    let last = d
        .get_i64("n")
        .map_err(|_| crate::ArgonError::Internal("lsn counter is not an int64".into()))?;
    Ok(last - count + 1)
}
