//! Transactions the driver's way (`session.withTransaction(...)`): a user transaction is one
//! logical write held open across calls. It has its own MongoDB session and transaction and
//! its own LSN reservation, taken at its first write (the counter is still the first write
//! of the transaction, so capture recognises it as Argon's); every write of it continues
//! that LSN's record keys, so they all commit under one LSN, atomically. Reads inside it see
//! its own writes (they run in its session); nothing is visible outside before commit; an
//! abort leaves no trace (the WAL records and head rows were never committed).
//!
//! A transaction belongs to one branch at its head: a second branch, or a past view, is
//! refused with `INVALID_TRANSACTION`.

use super::alloc::{LsnAlloc, Reserve};
use super::txn::{commit_checked, CommitError};
use crate::error::{ArgonError, Result};
use crate::project::Project;
use mongodb::ClientSession;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Committed,
    Aborted,
}

/// One user transaction.
pub struct UserTxn {
    pub(crate) session: ClientSession,
    reserve: Reserve,
    next_key: Option<i64>,
    branch: Option<String>,
    state: State,
}

impl std::fmt::Debug for UserTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTxn")
            .field("branch", &self.branch)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl UserTxn {
    pub(crate) async fn begin(p: &Project) -> Result<UserTxn> {
        if !p.transactions {
            return Err(ArgonError::TransactionsRequired);
        }
        let mut session = p.client.start_session().await?;
        p.leases.register(p, &session).await?;
        session
            .start_transaction()
            .with_options(super::txn::txn_options())
            .await?;
        Ok(UserTxn {
            session,
            reserve: Reserve::new(p.db.clone(), Arc::new(AtomicUsize::new(0))),
            next_key: None,
            branch: None,
            state: State::Active,
        })
    }

    /// Admits a call on `branch` (at its head when `past` is false).
    pub(crate) fn enter(&mut self, branch: &str, past: bool) -> Result<()> {
        if self.state != State::Active {
            return Err(ArgonError::InvalidTransaction(format!(
                "the transaction was already {}",
                if self.state == State::Committed {
                    "committed"
                } else {
                    "aborted"
                }
            )));
        }
        if past {
            return Err(ArgonError::InvalidTransaction(
                "a past view cannot take part in a transaction (it is read-only and fixed in time)"
                    .into(),
            ));
        }
        match &self.branch {
            None => self.branch = Some(branch.to_string()),
            Some(b) if b == branch => {}
            Some(b) => {
                return Err(ArgonError::InvalidTransaction(format!(
                "this transaction is on branch {b:?}; one transaction cannot also touch {branch:?}"
            )))
            }
        }
        Ok(())
    }

    /// The session and an allocator that continues the transaction's one LSN; call
    /// `keep` with the allocator's `next_key()` afterwards.
    pub(crate) fn parts(&mut self) -> (&mut ClientSession, LsnAlloc<'_>) {
        let next = self.next_key;
        (&mut self.session, LsnAlloc::resume(&mut self.reserve, next))
    }

    pub(crate) fn keep(&mut self, next_key: Option<i64>) {
        self.next_key = next_key;
    }

    /// Commits: every write of the transaction becomes visible at once, under one LSN.
    /// Returns how many WAL records it wrote (0 when it was already committed).
    pub async fn commit(&mut self) -> Result<u64> {
        match self.state {
            State::Committed => return Ok(0),
            State::Aborted => {
                return Err(ArgonError::InvalidTransaction(
                    "the transaction was aborted; it cannot be committed".into(),
                ))
            }
            State::Active => {}
        }
        match commit_checked(&mut self.session, &self.reserve).await {
            Ok(()) => {
                self.state = State::Committed;
                Ok(self
                    .next_key
                    .map_or(0, |n| crate::lsn::RecordKey(n).index() as u64))
            }
            Err(CommitError::Failed(e)) | Err(CommitError::Unknown(e)) => {
                // Left active: the driver's withTransaction retries the commit (unknown
                // result) or the whole callback (transient), and aborts otherwise.
                Err(e.into())
            }
        }
    }

    /// Aborts: nothing of the transaction remains.
    pub async fn abort(&mut self) -> Result<()> {
        if self.state != State::Active {
            return Ok(());
        }
        self.state = State::Aborted;
        match self.session.abort_transaction().await {
            Ok(()) => Ok(()),
            // A transaction the server already aborted (after an error) is aborted.
            Err(e) if crate::error::server_code_of(&e) == Some(251) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
