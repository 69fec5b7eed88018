//! Runs a write as one MongoDB transaction, retrying the whole body on transient errors
//! (write conflicts) with exponential backoff and jitter from `backon`.

use crate::error::{is_transient, is_unknown_commit, ArgonError};
use crate::project::Project;
use backon::{BackoffBuilder, ExponentialBuilder};
use mongodb::options::{Acknowledgment, ReadConcern, TransactionOptions, WriteConcern};
use mongodb::ClientSession;
use std::time::Duration;

/// Error inside a transaction body: a driver error keeps its labels so the runner can
/// decide to retry; an Argon error aborts the transaction and is returned as is.
#[derive(Debug)]
pub enum TxErr {
    Mongo(mongodb::error::Error),
    Argon(ArgonError),
}

impl From<mongodb::error::Error> for TxErr {
    fn from(e: mongodb::error::Error) -> Self {
        TxErr::Mongo(e)
    }
}

impl From<ArgonError> for TxErr {
    fn from(e: ArgonError) -> Self {
        TxErr::Argon(e)
    }
}

impl From<mongodb::bson::raw::Error> for TxErr {
    fn from(e: mongodb::bson::raw::Error) -> Self {
        TxErr::Argon(e.into())
    }
}

impl From<mongodb::bson::de::Error> for TxErr {
    fn from(e: mongodb::bson::de::Error) -> Self {
        TxErr::Argon(e.into())
    }
}

impl From<mongodb::bson::ser::Error> for TxErr {
    fn from(e: mongodb::bson::ser::Error) -> Self {
        TxErr::Argon(e.into())
    }
}

pub type TxResult<T> = std::result::Result<T, TxErr>;

fn txn_options() -> TransactionOptions {
    TransactionOptions::builder()
        .read_concern(ReadConcern::snapshot())
        .write_concern(
            WriteConcern::builder()
                .w(Acknowledgment::Majority)
                .journal(true)
                .build(),
        )
        .build()
}

/// Drives the retry loop of one logical write. Use it through [`in_txn!`]: the body runs
/// inside a transaction, is retried on transient errors (write conflicts) with
/// exponential backoff and jitter, and its result is returned once it commits.
pub struct Runner {
    session: ClientSession,
    delays: backon::ExponentialBackoff,
    deadline: std::time::Instant,
}

impl Runner {
    pub async fn new(p: &Project) -> crate::Result<Runner> {
        if !p.transactions {
            return Err(crate::ArgonError::TransactionsRequired);
        }
        let delays = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(2))
            .with_max_delay(Duration::from_millis(250))
            .with_factor(1.6)
            .with_jitter()
            .with_max_times(p.max_txn_retries)
            .build();
        Ok(Runner {
            session: p.client.start_session().await?,
            delays,
            deadline: std::time::Instant::now() + p.txn_timeout,
        })
    }

    pub async fn begin(&mut self) -> crate::Result<()> {
        self.session
            .start_transaction()
            .with_options(txn_options())
            .await?;
        Ok(())
    }

    pub fn session(&mut self) -> &mut ClientSession {
        &mut self.session
    }

    /// Commits or aborts. `None` means "retry the body"; `Some` is the final outcome.
    pub async fn finish<T>(&mut self, outcome: TxResult<T>) -> Option<crate::Result<T>> {
        let err = match outcome {
            Ok(v) => match commit(&mut self.session).await {
                Ok(()) => return Some(Ok(v)),
                Err(e) => TxErr::Mongo(e),
            },
            Err(e) => {
                let _ = self.session.abort_transaction().await;
                e
            }
        };
        match err {
            TxErr::Mongo(e) if is_transient(&e) => match self.delays.next() {
                Some(d) if std::time::Instant::now() + d < self.deadline => {
                    metrics::counter!(crate::telemetry::TXN_RETRIES_TOTAL).increment(1);
                    tokio::time::sleep(d).await;
                    None
                }
                _ => Some(Err(e.into())),
            },
            TxErr::Mongo(e) => Some(Err(e.into())),
            TxErr::Argon(e) => Some(Err(e)),
        }
    }
}

/// `in_txn!(project, |s| body_future)`: runs the body in a retried transaction and
/// evaluates to its `crate::Result`.
#[macro_export]
macro_rules! in_txn {
    ($p:expr, |$s:ident| $body:expr) => {{
        async {
            let mut runner = $crate::txn::Runner::new($p).await?;
            // One write transaction at a time per process (see `Project::write_gate`).
            let _gate = $p.write_gate.lock().await;
            loop {
                runner.begin().await?;
                let outcome = {
                    let $s = runner.session();
                    $body.await
                };
                if let Some(r) = runner.finish(outcome).await {
                    break r;
                }
            }
        }
        .await
    }};
}

/// Commits, retrying the commit itself while its result is unknown (safe: commit is
/// idempotent for the same session and transaction).
async fn commit(session: &mut ClientSession) -> mongodb::error::Result<()> {
    let mut tries = 0;
    loop {
        match session.commit_transaction().await {
            Ok(()) => return Ok(()),
            Err(e) if is_unknown_commit(&e) && tries < 5 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}
