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

/// Runs `body` in a transaction and commits it. The body may run several times; it must
/// not have effects outside the session other than those the transaction rolls back.
pub async fn run<T, F>(p: &Project, mut body: F) -> crate::Result<T>
where
    F: AsyncFnMut(&mut ClientSession) -> TxResult<T>,
{
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(2))
        .with_max_delay(Duration::from_millis(200))
        .with_factor(1.6)
        .with_jitter()
        .with_max_times(p.max_txn_retries)
        .build();
    let mut session = p.client.start_session().await?;
    loop {
        session.start_transaction().with_options(txn_options()).await?;
        let outcome = body(&mut session).await;
        let err = match outcome {
            Ok(v) => match commit(&mut session).await {
                Ok(()) => return Ok(v),
                Err(e) => TxErr::Mongo(e),
            },
            Err(e) => {
                let _ = session.abort_transaction().await;
                e
            }
        };
        match err {
            TxErr::Mongo(e) if is_transient(&e) => match delays.next() {
                Some(d) => {
                    metrics::counter!(crate::telemetry::TXN_RETRIES_TOTAL).increment(1);
                    tokio::time::sleep(d).await;
                }
                None => return Err(e.into()),
            },
            TxErr::Mongo(e) => return Err(e.into()),
            TxErr::Argon(e) => return Err(e),
        }
    }
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
