//! LSN allocation for writes. One logical write gets one LSN; a write group reserves a run
//! of LSNs with one counter update (`reserve`) and hands them to its members in commit
//! order. The counter is the first write of every Argon transaction, so transactions
//! commit in LSN order, and capture recognises Argon's own transactions by it.

use crate::error::ArgonError;
use crate::lsn::{Lsn, RecordKey, MAX_DOCS_PER_WRITE};
use crate::names::META;
use crate::write::txn::TxResult;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Database};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The LSNs a write group reserved with one counter update and has not handed out yet
/// (see `txn::WriteGroups`).
#[derive(Debug)]
pub(crate) struct Reserve {
    db: Database,
    next: i64,
    end: i64,
    /// Writes queued for the group's transaction slot: a reservation covers them too, so a
    /// full group costs one counter update.
    waiting: Arc<AtomicUsize>,
    /// A random token written into every record of the group (`g`), so that after a
    /// commit whose result was lost the group can tell whether it committed.
    token: i64,
    /// The first LSN the group handed out.
    first: Option<i64>,
}

impl Reserve {
    pub(crate) fn new(db: Database, waiting: Arc<AtomicUsize>) -> Reserve {
        Reserve {
            db,
            next: 1,
            end: 0,
            waiting,
            token: fastrand::i64(..),
            first: None,
        }
    }

    /// The LSNs the group handed out (first, last), if any.
    pub(crate) fn used(&self) -> Option<(i64, i64)> {
        self.first
            .map(|f| (f, self.next - 1))
            .filter(|(f, l)| l >= f)
    }

    /// Whether this group's transaction committed, judged from the WAL: used after a
    /// commit whose reply was lost and whose retry could not say (a server that restarted
    /// answers `NoSuchTransaction`, having forgotten the transaction). The group's records
    /// carry its token; only its own commit can have put them there.
    pub(crate) async fn committed(&self) -> mongodb::error::Result<bool> {
        let Some(first) = self.first else {
            return Ok(false);
        };
        let last = self.next - 1;
        if last < first {
            return Ok(false);
        }
        let found = self
            .db
            .collection::<Document>(crate::names::WAL)
            .find_one(crate::wal::query::of_group(
                Lsn(first),
                Lsn(last),
                self.token,
            ))
            .projection(doc! {crate::wal::F_KEY: 1})
            .await?;
        Ok(found.is_some())
    }

    /// The group's next LSN, reserving a run of them when none is left.
    async fn next_lsn(&mut self, s: &mut ClientSession) -> TxResult<i64> {
        if self.next > self.end {
            let n = 1 + self.waiting.load(Ordering::Relaxed) as i64;
            self.end = reserve(&self.db, s, n).await?;
            self.next = self.end - n + 1;
            self.first.get_or_insert(self.next);
        }
        self.next += 1;
        Ok(self.next - 1)
    }

    /// Gives back the LSNs reserved and not handed out, before the group commits (so
    /// committed LSNs stay gap-free).
    pub(crate) async fn release_unused(&self, s: &mut ClientSession) -> mongodb::error::Result<()> {
        let unused = self.end - self.next + 1;
        if unused <= 0 {
            return Ok(());
        }
        self.db
            .collection::<Document>(META)
            .update_one(doc! {"_id": "lsn"}, doc! {"$inc": {"n": -unused}})
            .session(s)
            .await?;
        Ok(())
    }
}

/// Hands out record keys for one logical write in one transaction attempt: the first
/// request takes the write's LSN from its group's reservation; later ones continue its
/// sub-index sequence.
#[derive(Debug)]
pub struct LsnAlloc<'a> {
    next: Option<i64>,
    reserve: &'a mut Reserve,
    /// This attempt runs after a capture barrier (or cannot wait for one: a user's
    /// transaction), so an unstamped row on main is an adopted document, not an outside
    /// write capture has yet to record (see `write::modify`).
    pub(crate) capture_settled: bool,
}

impl<'a> LsnAlloc<'a> {
    /// Continues a logical write across calls (a user's transaction): `next` is what
    /// `next_key` said at the end of the previous call.
    pub(crate) fn resume(reserve: &'a mut Reserve, next: Option<i64>) -> LsnAlloc<'a> {
        LsnAlloc {
            next,
            reserve,
            capture_settled: true,
        }
    }

    /// How many records the write has keys for: its keys are its LSN's sub-indexes from 0.
    pub fn records(&self) -> u64 {
        self.next
            .map_or(0, |n| (n & (MAX_DOCS_PER_WRITE - 1)) as u64)
    }

    /// Where the write's keys continue (for `resume`).
    pub(crate) fn next_key(&self) -> Option<i64> {
        self.next
    }

    /// The group's token, for the `g` field of every record this write appends.
    pub fn token(&self) -> i64 {
        self.reserve.token
    }

    pub(crate) fn new(reserve: &'a mut Reserve) -> LsnAlloc<'a> {
        LsnAlloc {
            next: None,
            reserve,
            capture_settled: false,
        }
    }

    /// Reserves `count` consecutive record keys and returns the first.
    pub async fn take(&mut self, s: &mut ClientSession, count: i64) -> TxResult<RecordKey> {
        let base = match self.next {
            Some(n) => n,
            None => Lsn(self.reserve.next_lsn(s).await?).first_key().get(),
        };
        let used = base & (MAX_DOCS_PER_WRITE - 1);
        if used + count > MAX_DOCS_PER_WRITE {
            return Err(ArgonError::InvalidArgument(format!(
                "one write may change at most {MAX_DOCS_PER_WRITE} documents; split it"
            ))
            .into());
        }
        self.next = Some(base + count);
        Ok(RecordKey(base))
    }
}

/// Reserves the next `n` LSNs; returns the last. This is the first write of every Argon
/// transaction (capture recognises Argon's own transactions by it).
pub(crate) async fn reserve(db: &Database, s: &mut ClientSession, n: i64) -> TxResult<i64> {
    let meta = db.collection::<Document>(META);
    let d = meta
        .find_one_and_update(doc! {"_id": "lsn"}, doc! {"$inc": {"n": n}})
        .return_document(ReturnDocument::After)
        .session(s)
        .await?
        .ok_or_else(|| ArgonError::Internal("lsn counter missing".into()))?;
    let lsn = d
        .get_i64("n")
        .map_err(|_| ArgonError::Internal("lsn counter is not an int64".into()))?;
    Ok(lsn)
}
