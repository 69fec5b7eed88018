//! `bulkWrite`: a list of inserts, updates, replaces and deletes, as one logical write (one
//! LSN), with MongoDB's ordered and unordered semantics. Every attempt is one transaction:
//! when an operation fails, the transaction is abandoned and the operations that MongoDB
//! would still have applied run again without it (ordered: the ones before it;
//! unordered: all the others), so the outcome is the server's, and atomic.

use super::insert::insert_rows;
use super::modify::modify_in_txn;
use super::{Change, ModifyOpts, ModifyOutcome, Target};
use crate::error::{is_transient, ArgonError, Result};
use crate::write::alloc::LsnAlloc;
use crate::write::txn::{TxErr, TxResult};
use mongodb::bson::{DateTime, Document};
use mongodb::ClientSession;

/// One operation of a bulk write.
#[derive(Debug, Clone)]
pub enum BulkOp {
    /// A document that already has its `_id`.
    Insert(Document),
    Modify {
        filter: Document,
        change: Change,
        opts: Box<ModifyOpts>,
    },
}

/// What one operation did.
#[derive(Debug, Clone, Default)]
pub struct OpResult {
    pub inserted: bool,
    pub modify: ModifyOutcome,
}

/// The outcome of a bulk write: per applied operation (by input index) what it did, and
/// the failed operations with their errors.
#[derive(Debug, Default)]
pub struct BulkOutcome {
    pub applied: Vec<(usize, OpResult)>,
    pub errors: Vec<(usize, ArgonError)>,
}

/// The error of the operation at `pos` of an attempt: server errors carry that index;
/// transient errors go back to the retry loop unchanged.
fn at(pos: usize, e: TxErr) -> TxErr {
    let mut a: ArgonError = match e {
        TxErr::Mongo(m) if is_transient(&m) => return TxErr::Mongo(m),
        TxErr::CapturePending => return TxErr::CapturePending,
        TxErr::Mongo(m) => m.into(),
        TxErr::Argon(a) => a,
    };
    if let ArgonError::Server { index, .. } = &mut a {
        *index = Some(pos);
    }
    TxErr::Argon(a)
}

async fn attempt(
    t: &Target<'_>,
    s: &mut ClientSession,
    alloc: &mut LsnAlloc<'_>,
    ops: &[&BulkOp],
) -> TxResult<Vec<OpResult>> {
    let now = DateTime::now();
    let mut out = Vec::with_capacity(ops.len());
    for (pos, op) in ops.iter().enumerate() {
        let r = match op {
            BulkOp::Insert(d) => {
                let key = alloc.take(s, 1).await.map_err(|e| at(pos, e))?;
                insert_rows(t, s, std::slice::from_ref(d), key, now, alloc.token())
                    .await
                    .map_err(|e| at(pos, e))?;
                OpResult {
                    inserted: true,
                    ..Default::default()
                }
            }
            BulkOp::Modify {
                filter,
                change,
                opts,
            } => OpResult {
                inserted: false,
                modify: modify_in_txn(t, s, filter, change, opts, alloc)
                    .await
                    .map_err(|e| at(pos, e))?,
            },
        };
        out.push(r);
    }
    Ok(out)
}

/// Runs `ops` with MongoDB's semantics: `ordered` stops at the first failing operation
/// (those before it are applied), unordered applies every operation that does not fail.
pub async fn bulk_write(t: &Target<'_>, ops: &[BulkOp], ordered: bool) -> Result<BulkOutcome> {
    let s = super::without_failures(ops.len(), ordered, |items| async move {
        let batch: Vec<&BulkOp> = items.iter().map(|&i| &ops[i]).collect();
        crate::in_txn!(t.p, |s, alloc| attempt(t, s, alloc, &batch))
    })
    .await?;
    Ok(BulkOutcome {
        applied: s
            .applied
            .into_iter()
            .zip(s.value.unwrap_or_default())
            .collect(),
        errors: s.errors,
    })
}
