//! Runs a write as one MongoDB transaction, retrying the whole body on transient errors
//! (write conflicts) with exponential backoff and jitter from `backon`.

use crate::error::{is_transient, is_unknown_commit, ArgonError};
use crate::project::Project;
use crate::write::alloc::{LsnAlloc, Reserve};
use backon::{BackoffBuilder, ExponentialBuilder};
use mongodb::options::{Acknowledgment, ReadConcern, TransactionOptions, WriteConcern};
use mongodb::ClientSession;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Error inside a transaction body: a driver error keeps its labels so the runner can
/// decide to retry; an Argon error aborts the transaction and is returned as is.
#[derive(Debug)]
pub enum TxErr {
    Mongo(mongodb::error::Error),
    Argon(ArgonError),
    /// The body met a row on main's head without an Argon stamp while outside writes may
    /// be pending for capture: an adopted document, or an outside write capture has not
    /// recorded yet. The runner aborts, waits for capture (the barrier) and runs the body
    /// again, which then takes the row as adopted (invariant 24).
    CapturePending,
}

impl From<TxErr> for ArgonError {
    fn from(e: TxErr) -> Self {
        match e {
            TxErr::Mongo(m) => m.into(),
            TxErr::Argon(a) => a,
            TxErr::CapturePending => {
                ArgonError::Internal("a write waited for capture and was not retried".into())
            }
        }
    }
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

pub(crate) fn txn_options() -> TransactionOptions {
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

/// Drives the retry loop of one logical write: its backoff and deadline. The transaction
/// itself belongs to the write's group (see [`WriteGroups`]). Use it through
/// [`in_txn!`] (a write that may share its transaction) or [`in_txn_solo!`].
pub struct Runner<'a> {
    p: &'a Project,
    ops: &'a crate::ops::Ops,
    /// When this write started meeting conflicts (reset by an unavailable database).
    conflicts_since: Option<std::time::Instant>,
    delays: backon::ExponentialBackoff,
    /// Delays for retries after the database was unavailable (the `retry` option's
    /// strategy and attempts): an outage ends the write after those, where write conflicts
    /// are retried until the deadline.
    outage: Option<Box<dyn Iterator<Item = Duration> + Send>>,
    deadline: std::time::Instant,
    /// Run the next attempt alone: set after this write failed inside a group that others
    /// had joined first, so its error is judged against committed state only.
    pub solo: bool,
    /// A capture barrier ran after an attempt met an unstamped row on main (see
    /// [`TxErr::CapturePending`]).
    pub capture_settled: bool,
}

impl<'a> Runner<'a> {
    pub fn new(p: &'a Project, solo: bool) -> crate::Result<Runner<'a>> {
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
            p,
            conflicts_since: None,
            ops: &p.ops,
            outage: None,
            delays,
            deadline: std::time::Instant::now() + p.txn_timeout,
            solo,
            capture_settled: false,
        })
    }

    /// Waits before retrying after a transient error; `Some(err)` when the retry budget
    /// (count or `transactionTimeoutMs`) is spent.
    async fn backoff(&mut self, e: mongodb::error::Error) -> Option<crate::ArgonError> {
        let unavailable = crate::ArgonError::from(e.clone()).is_unavailable();
        if unavailable {
            self.conflicts_since = None;
        } else {
            // Conflicts that last: a crashed writer may hold the LSN counter.
            let since = *self
                .conflicts_since
                .get_or_insert_with(std::time::Instant::now);
            if since.elapsed() >= crate::write::lease::CONFLICTS_BEFORE_REAP {
                if let Err(err) = self.p.leases.reap(self.p).await {
                    tracing::debug!(error = %err, "looking for crashed writers failed");
                }
            }
        }
        let next = if unavailable {
            let ops = self.ops;
            self.outage
                .get_or_insert_with(|| ops.retry.delays())
                .next()
                .filter(|_| ops.retry.withdraw())
        } else {
            self.delays.next()
        };
        match next {
            Some(d) if std::time::Instant::now() + d < self.deadline => {
                self.ops
                    .telemetry
                    .incr(crate::telemetry::TXN_RETRIES_TOTAL, 1);
                tokio::time::sleep(d).await;
                None
            }
            _ => Some(e.into()),
        }
    }
}

/// Most writes one group transaction holds.
const MAX_GROUP: usize = 64;
/// How long a member that handed the transaction on waits before checking that the group
/// still has someone to commit it.
const SETTLE_CHECK: Duration = Duration::from_millis(200);

/// Group commit. Every write transaction of a project touches the LSN counter, so a
/// process's writes are serialised anyway; instead of queueing them one transaction each,
/// writes that arrive while one is running share the next transaction. Each member runs
/// its own body in the group's session (so it sees the earlier members' writes, exactly
/// as if they had committed just before it) and takes its own LSN from one counter
/// reservation; the last member commits for all. A member whose body fails aborts the
/// group: the members before it retry at once (it was not their failure), and the
/// failing write retries alone, so its error is judged against committed state only.
#[derive(Default)]
pub(crate) struct WriteGroups {
    slot: tokio::sync::Mutex<Option<OpenGroup>>,
    waiting: Arc<AtomicUsize>,
    next_id: AtomicU64,
}

struct OpenGroup {
    id: u64,
    session: ClientSession,
    lsns: Reserve,
    members: usize,
    done: tokio::sync::watch::Sender<Option<Settled>>,
}

/// How a group ended, as its members learn it.
#[derive(Clone, Debug)]
enum Settled {
    Committed,
    /// Run the body again; after a backoff when the group hit a transient error.
    Retry {
        conflict: Option<mongodb::error::Error>,
    },
    Failed(mongodb::error::Error),
}

/// One member's turn in a group: it holds the group (and its session) while its body runs.
pub struct Turn<'a> {
    guard: Option<tokio::sync::MutexGuard<'a, Option<OpenGroup>>>,
    groups: &'a WriteGroups,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        // Dropped before `finish` (the body was cancelled, e.g. capture stopped at close):
        // whatever it wrote must never commit. Dropping the group's session aborts its
        // transaction (and must happen: a client cannot shut down while a session lives);
        // the members that handed on retry.
        if let Some(g) = self.guard.as_deref_mut().and_then(Option::take) {
            g.done.send_replace(Some(Settled::Retry { conflict: None }));
        }
    }
}

struct Waiting<'a>(&'a AtomicUsize);
impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl WriteGroups {
    /// Waits for this process's transaction slot and joins the open group, or opens one.
    /// A solo write first settles any open group and then runs in a group of its own.
    pub async fn enter<'a>(&'a self, p: &Project, solo: bool) -> crate::Result<Turn<'a>> {
        let mut guard = {
            self.waiting.fetch_add(1, Ordering::Relaxed);
            let _w = Waiting(&self.waiting);
            self.slot.lock().await
        };
        let settle_first = guard
            .as_ref()
            .is_some_and(|g| solo || g.members >= MAX_GROUP);
        if settle_first {
            if let Some(g) = guard.take() {
                settle(g).await;
            }
        }
        if guard.is_none() {
            let mut session = p.client.start_session().await?;
            p.leases.register(p, &session).await?;
            session
                .start_transaction()
                .with_options(txn_options())
                .await?;
            let (done, _) = tokio::sync::watch::channel(None);
            *guard = Some(OpenGroup {
                id: self.next_id.fetch_add(1, Ordering::Relaxed),
                session,
                lsns: Reserve::new(p.db.clone(), self.waiting.clone()),
                members: 0,
                done,
            });
        }
        Ok(Turn {
            guard: Some(guard),
            groups: self,
        })
    }
}

impl Turn<'_> {
    /// The group's session and this member's LSN allocator, for the body.
    pub fn parts(&mut self) -> (&mut ClientSession, LsnAlloc<'_>) {
        let g = self
            .guard
            .as_deref_mut()
            .and_then(Option::as_mut)
            .expect("a turn holds an open group");
        (&mut g.session, LsnAlloc::new(&mut g.lsns))
    }

    /// Ends this member's turn. `None` means "run the body again"; `Some` is the outcome.
    /// Ends the member's turn with its body's outcome and the number of WAL records it
    /// wrote (counted in `argon_wal_records_total` once its group commits).
    pub async fn finish<T>(
        mut self,
        outcome: TxResult<T>,
        records: u64,
        runner: &mut Runner<'_>,
    ) -> Option<crate::Result<T>> {
        let groups = self.groups;
        let mut guard = self.guard.take().expect("a turn holds its guard");
        let mut g = guard.take().expect("a turn holds an open group");
        let e = match outcome {
            Ok(v) => {
                let others_queued = groups.waiting.load(Ordering::Relaxed) > 0;
                let settled = if !runner.solo && others_queued && g.members + 1 < MAX_GROUP {
                    // Hand the transaction on; the last member commits for all.
                    g.members += 1;
                    let (id, mut rx) = (g.id, g.done.subscribe());
                    *guard = Some(g);
                    drop(guard);
                    wait_settled(groups, id, &mut rx).await
                } else {
                    // Committed while still holding the slot: a group begun meanwhile would
                    // only conflict on the counter.
                    let settled = settle(g).await;
                    drop(guard);
                    settled
                };
                return match settled {
                    Settled::Committed => {
                        runner
                            .ops
                            .telemetry
                            .incr(crate::telemetry::WAL_RECORDS_TOTAL, records);
                        Some(Ok(v))
                    }
                    Settled::Retry { conflict: None } => None,
                    Settled::Retry { conflict: Some(e) } => runner.backoff(e).await.map(Err),
                    Settled::Failed(e) => Some(Err(e.into())),
                };
            }
            Err(e) => e,
        };
        let joined_late = g.members > 0;
        // The members before this one retry at once: it was not their failure.
        abort(g, Settled::Retry { conflict: None }).await;
        drop(guard);
        match e {
            TxErr::CapturePending if !runner.capture_settled => {
                // Outside its transaction: capture needs the LSN counter this write held.
                if let Err(e) = runner.p.capture_barrier().await {
                    return Some(Err(e));
                }
                runner.capture_settled = true;
                None
            }
            TxErr::Mongo(e) if is_transient(&e) => runner.backoff(e).await.map(Err),
            // Judge the failure again alone, against committed state only.
            _ if joined_late && !runner.solo => {
                runner.solo = true;
                None
            }
            TxErr::Mongo(e) => Some(Err(e.into())),
            TxErr::Argon(e) => Some(Err(e)),
            e @ TxErr::CapturePending => Some(Err(e.into())),
        }
    }
}

/// Waits for the group this member handed on to be settled. If its last member vanished
/// without settling it, settles it here.
async fn wait_settled(
    groups: &WriteGroups,
    id: u64,
    rx: &mut tokio::sync::watch::Receiver<Option<Settled>>,
) -> Settled {
    loop {
        let seen = tokio::time::timeout(SETTLE_CHECK, rx.wait_for(Option::is_some))
            .await
            .map(|r| r.map(|v| v.clone()));
        match seen {
            Ok(Ok(v)) => return v.expect("settled"),
            Ok(Err(_)) => {
                return Settled::Failed(mongodb::error::Error::custom(
                    "write group dropped without settling",
                ))
            }
            Err(_) => {
                let mut guard = groups.slot.lock().await;
                if guard.as_ref().is_some_and(|g| g.id == id) {
                    let g = guard.take().expect("open group");
                    return settle(g).await;
                }
            }
        }
    }
}

/// How a commit ended.
pub(crate) enum CommitError {
    /// It did not commit.
    Failed(mongodb::error::Error),
    /// Whether it committed cannot be told: the write must not run again.
    Unknown(mongodb::error::Error),
}

/// Returns the LSNs reserved and not used, and commits. After any commit error the WAL
/// says whether the transaction committed (its records carry the reservation's token), so
/// a commit whose reply was lost is never taken for a failure.
pub(crate) async fn commit_checked(
    session: &mut ClientSession,
    lsns: &Reserve,
) -> std::result::Result<(), CommitError> {
    lsns.release_unused(session)
        .await
        .map_err(CommitError::Failed)?;
    let (r, unknown) = commit(session).await;
    let Err(e) = r else { return Ok(()) };
    if !unknown {
        return Err(CommitError::Failed(e));
    }
    // A commit failed, perhaps after committing: ask the WAL (a few times while the
    // server is unreachable).
    let mut check = lsns.committed().await;
    for _ in 0..20 {
        match &check {
            Err(c) if crate::ArgonError::from(c.clone()).is_unavailable() => {
                tokio::time::sleep(Duration::from_millis(250)).await;
                check = lsns.committed().await;
            }
            _ => break,
        }
    }
    match check {
        Ok(true) => {
            tracing::warn!(error = %e, "a commit's reply was lost; its records are in the WAL, so it committed");
            Ok(())
        }
        Ok(false) => {
            tracing::warn!(error = %e, "a commit's reply was lost; its records are not in the WAL, so it did not commit");
            Err(CommitError::Failed(e))
        }
        Err(check) => {
            tracing::error!(error = %e, check = %check, "a commit's outcome is unknown");
            Err(CommitError::Unknown(e))
        }
    }
}

/// Ends a group: returns the LSNs it reserved but did not use, and commits. Tells every
/// member how it ended.
async fn settle(mut g: OpenGroup) -> Settled {
    let r = match commit_checked(&mut g.session, &g.lsns).await {
        Ok(()) => Ok(()),
        Err(CommitError::Failed(e)) => Err(e),
        Err(CommitError::Unknown(e)) => {
            // Neither outcome can be ruled out: never run the write again.
            let s = Settled::Failed(e);
            abort(g, s.clone()).await;
            return s;
        }
    };
    match r {
        Ok(()) => {
            if let Some((first, last)) = g.lsns.used() {
                tracing::debug!(
                    first_lsn = first,
                    last_lsn = last,
                    writes = g.members as u64,
                    "write group committed"
                );
            }
            g.done.send_replace(Some(Settled::Committed));
            Settled::Committed
        }
        Err(e) => {
            let s = if is_transient(&e) {
                Settled::Retry { conflict: Some(e) }
            } else {
                Settled::Failed(e)
            };
            abort(g, s.clone()).await;
            s
        }
    }
}

/// Aborts a group and tells its members how to go on.
async fn abort(mut g: OpenGroup, tell: Settled) {
    let _ = g.session.abort_transaction().await;
    g.done.send_replace(Some(tell));
}

/// `in_txn!(project, |s, alloc| body_future)`: runs the body in a retried transaction,
/// possibly shared with other writes of this process (group commit), and evaluates to
/// its `crate::Result`. `alloc` hands out the write's LSN.
#[macro_export]
macro_rules! in_txn {
    ($p:expr, |$s:ident, $a:ident| $body:expr) => {
        $crate::run_txn!($p, false, |$s, $a| $body)
    };
}

/// `in_txn_solo!(project, |s, alloc| body)`: like `in_txn!`, in a transaction of its own
/// (for writes that reserve LSNs themselves, such as capture).
#[macro_export]
macro_rules! in_txn_solo {
    ($p:expr, |$s:ident, $a:ident| $body:expr) => {
        $crate::run_txn!($p, true, |$s, $a| $body)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! run_txn {
    ($p:expr, $solo:expr, |$s:ident, $a:ident| $body:expr) => {{
        async {
            let mut runner = $crate::write::txn::Runner::new($p, $solo)?;
            loop {
                let mut turn = $p.write_groups.enter($p, runner.solo).await?;
                let (outcome, records) = {
                    let ($s, mut alloc) = turn.parts();
                    alloc.capture_settled = runner.capture_settled;
                    let $a = &mut alloc;
                    let outcome = $body.await;
                    (outcome, alloc.records())
                };
                if let Some(r) = turn.finish(outcome, records, &mut runner).await {
                    break r;
                }
            }
        }
        .await
    }};
}

/// Commits, retrying the commit itself while its result is unknown (safe: commit is
/// idempotent for the same session and transaction).
/// Also says whether the outcome is open: after any commit error, only the WAL can say
/// whether the transaction committed.
async fn commit(session: &mut ClientSession) -> (mongodb::error::Result<()>, bool) {
    let mut tries = 0;
    let mut unknown = false;
    loop {
        match session.commit_transaction().await {
            Ok(()) => return (Ok(()), unknown),
            Err(e) if is_unknown_commit(&e) && tries < 5 => {
                unknown = true;
                tries += 1;
            }
            // Any other commit error leaves the outcome open too: a server that restarted
            // after committing answers a retried commit with NoSuchTransaction.
            Err(e) => return (Err(e), true),
        }
    }
}
