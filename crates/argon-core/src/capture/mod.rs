//! Capture of writes made outside Argon (another service, a migration script, mongosh) on
//! main's collections, so they become WAL history with their own LSNs instead of leaking
//! into branches and past views.
//!
//! - **One capturer per project.** Every process with `capture: "auto"` competes for a
//!   lease document (`__argon.meta` `captureLease`, renewed every second, taken over 5 s
//!   after its holder stops renewing). Each capture transaction re-checks the lease, so a
//!   paused former holder cannot write after a takeover.
//! - **The stream.** The holder reads the project database's change stream with
//!   pre-images (`changeStreamPreAndPostImages`, enabled on main's collections). Argon's own
//!   writes are recognised by their transaction: every Argon write transaction first
//!   increments the LSN counter, so a user-collection event whose `(lsid, txnNumber)` also
//!   updated the counter is Argon's and is skipped.
//! - **Capture.** Each outside event becomes one WAL record with its own LSN, in stream
//!   (commit) order, naming the version it supersedes; the first change of an adopted
//!   document writes its adoption record from the event's pre-image. The head row is stamped
//!   with the record's key when it still holds the captured state. The resume token is
//!   stored in the same transaction (`captureState`), so a restart resumes with no gap and
//!   no duplicate.
//! - **No leak.** Operations below main's head (child branches, past views, diffs, resets)
//!   first run [`Project::capture_barrier`]: one `getMore` on this process's barrier
//!   cursor, a change stream kept near the head (its first use also scans once from
//!   capture's stored position). If it shows an outside write, the operation waits until
//!   capture's progress (`captureState.through`, seen in the same stream) covers it.

mod barrier;
mod events;
mod group;

use crate::error::{ArgonError, Result};
use crate::project::Project;
use barrier::BarrierCursor;
pub use events::apply_update_description;
use events::{stream_filter, Boundaries, Classifier, Position};
use group::flush;
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document, Timestamp};
use mongodb::change_stream::event::ResumeToken;
use mongodb::options::{FullDocumentBeforeChangeType, ReturnDocument};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long a lease lasts without renewal.
const LEASE_MS: i64 = 5_000;
/// How often the holder renews it, and how often others try to take it.
const RENEW_EVERY: Duration = Duration::from_millis(1_000);
/// How long a getMore waits for new events.
const AWAIT: Duration = Duration::from_millis(500);
/// Most outside events captured in one transaction.
const MAX_GROUP: usize = 200;
/// The longest an outside event waits for its group to be captured while events keep
/// arriving (capture lag under a steady load).
const MAX_GROUP_AGE: Duration = Duration::from_millis(20);
/// How often progress through Argon's own events is persisted (it shortens the barrier's
/// scan in other processes).
const PERSIST_EVERY: Duration = Duration::from_millis(200);
/// How long a read waits for capture before failing with `CAPTURE_BEHIND`.
const BARRIER_WAIT: Duration = Duration::from_secs(10);

/// The state of capture in this process, as `timeTravelInfo().capture` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CaptureStatus {
    /// `capture: "off"`: outside writes are not captured.
    Off = 0,
    /// The deployment has no change streams (a standalone server).
    Unavailable = 1,
    /// Capture runs (in this process or another one holding the lease).
    Active = 2,
}

impl CaptureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureStatus::Off => "off",
            CaptureStatus::Unavailable => "unavailable",
            CaptureStatus::Active => "active",
        }
    }
}

/// Capture bookkeeping of one process.
pub struct Capture {
    status: AtomicU8,
    /// This process's lease identity.
    owner: String,
    holder: AtomicBool,
    stop: AtomicBool,
    /// The last stream position this process's capturer has fully processed, and the
    /// cluster time of its newest outside event captured.
    pos: Mutex<Option<Position>>,
    captured_through: Mutex<Option<Timestamp>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The last error that stopped this process's capturer (shown in `CAPTURE_BEHIND`).
    last_error: Mutex<Option<String>>,
    /// This process's barrier cursor (see `Project::capture_barrier`).
    barrier: tokio::sync::Mutex<Option<BarrierCursor>>,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            status: AtomicU8::new(CaptureStatus::Off as u8),
            owner: ObjectId::new().to_hex(),
            holder: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            pos: Mutex::new(None),
            captured_through: Mutex::new(None),
            task: Mutex::new(None),
            last_error: Mutex::new(None),
            barrier: tokio::sync::Mutex::new(None),
        }
    }
}

impl Capture {
    pub fn status(&self) -> CaptureStatus {
        match self.status.load(Ordering::Acquire) {
            2 => CaptureStatus::Active,
            1 => CaptureStatus::Unavailable,
            _ => CaptureStatus::Off,
        }
    }
    fn set_status(&self, s: CaptureStatus) {
        self.status.store(s as u8, Ordering::Release);
    }
    /// Whether this process holds the capture lease now.
    pub fn is_holder(&self) -> bool {
        self.holder.load(Ordering::Acquire)
    }
}

impl Project {
    /// Decides capture at connect and, when it runs, takes part in the lease. Returns once
    /// a capture position exists for the project (so reads after connect are covered).
    pub(crate) async fn start_capture(
        self: &Arc<Self>,
        mode: Option<&str>,
        colls: &[String],
    ) -> Result<()> {
        match mode.unwrap_or("auto") {
            "off" => return Ok(()),
            "auto" => {}
            other => {
                return Err(ArgonError::InvalidArgument(format!(
                    "capture must be \"auto\" or \"off\", got {other:?}"
                )))
            }
        }
        if !self.transactions {
            self.capture.set_status(CaptureStatus::Unavailable);
            tracing::warn!(
                "writes made outside Argon cannot be captured: this deployment has no change streams (a standalone server); they would appear in branches and past views"
            );
            return Ok(());
        }
        self.enable_pre_images(colls).await;
        self.capture.set_status(CaptureStatus::Active);
        // Try once now, so the first process of a project has a position before connect
        // returns; later attempts run in the background.
        let first = match self.try_lease().await {
            Ok(true) => Some(self.open_stream().await?),
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(error = %e, "capture lease");
                None
            }
        };
        let weak = Arc::downgrade(self);
        let handle = tokio::spawn(capture_loop(weak, first));
        *self.capture.task.lock().expect("capture task") = Some(handle);
        Ok(())
    }

    /// `enableCapture()`: turns on pre-images for every user collection of the project and
    /// starts capture in this process if it was off. Returns the collections.
    pub async fn enable_capture(self: &Arc<Self>) -> Result<Vec<String>> {
        if !self.transactions {
            self.capture.set_status(CaptureStatus::Unavailable);
            return Ok(Vec::new());
        }
        let colls = self.user_collections().await?;
        if self.capture.status() == CaptureStatus::Active {
            self.enable_pre_images(&colls).await;
        } else {
            self.start_capture(Some("auto"), &colls).await?;
        }
        Ok(colls)
    }

    /// `changeStreamPreAndPostImages` on main's collections, so captured updates and
    /// deletes carry the exact state they replaced.
    async fn enable_pre_images(&self, colls: &[String]) {
        for name in colls {
            self.enable_pre_images_for(name, false).await;
        }
    }

    /// With `create`, a collection that does not exist yet (met before its first write)
    /// is created with pre-images on; reads never create collections.
    pub(crate) async fn enable_pre_images_for(&self, coll: &str, create: bool) {
        let opt = doc! {"enabled": true};
        let mut r = self
            .db
            .run_command(doc! {"collMod": coll, "changeStreamPreAndPostImages": opt.clone()})
            .await;
        let missing = r.as_ref().err().and_then(crate::error::server_code_of) == Some(26);
        if missing && !create {
            return; // its first write creates it, with pre-images (`heads::ensure_head`)
        }
        if missing {
            r = self
                .db
                .run_command(doc! {"create": coll, "changeStreamPreAndPostImages": opt})
                .await;
            if r.as_ref().err().and_then(crate::error::server_code_of) == Some(48) {
                // Created meanwhile by its first write: modify it after all.
                r = self
                    .db
                    .run_command(
                        doc! {"collMod": coll, "changeStreamPreAndPostImages": {"enabled": true}},
                    )
                    .await;
            }
        }
        if let Err(e) = r {
            tracing::warn!(collection = coll, error = %e, "could not enable pre-images; captured versions of this collection are approximate");
        }
    }

    pub fn capture_status(&self) -> CaptureStatus {
        self.capture.status()
    }

    pub(crate) async fn stop_capture(&self) {
        self.capture.stop.store(true, Ordering::Release);
        // The barrier cursor's session must go before the client shuts down (shutdown
        // waits for every session to be dropped).
        if let Some(mut bc) = self.capture.barrier.lock().await.take() {
            if bc.id != 0 {
                let _ = self
                    .db
                    .run_command(doc! {"killCursors": "$cmd.aggregate", "cursors": [bc.id]})
                    .session(&mut bc.session)
                    .await;
            }
        }
        let handle = self.capture.task.lock().expect("capture task").take();
        if let Some(h) = handle {
            h.abort();
            let _ = h.await;
        }
        if self.capture.holder.swap(false, Ordering::AcqRel) {
            let _ = self
                .meta()
                .update_one(
                    doc! {"_id": "captureLease", "owner": &self.capture.owner},
                    doc! {"$set": {"until": DateTime::from_millis(0)}},
                )
                .await;
        }
    }

    /// Takes or renews the capture lease. True when this process holds it.
    async fn try_lease(&self) -> Result<bool> {
        let now = DateTime::now();
        let until = DateTime::from_millis(now.timestamp_millis() + LEASE_MS);
        let r = self
            .meta()
            .find_one_and_update(
                doc! {"_id": "captureLease", "$or": [{"until": {"$lt": now}}, {"owner": &self.capture.owner}]},
                doc! {"$set": {"owner": &self.capture.owner, "until": until}},
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await;
        let held = match r {
            Ok(d) => d.is_some(),
            Err(e) if crate::error::server_code_of(&e) == Some(11000) => false,
            Err(e) => return Err(e.into()),
        };
        let was = self.capture.holder.swap(held, Ordering::AcqRel);
        if held && !was {
            tracing::info!(owner = %self.capture.owner, "capture lease taken");
        }
        Ok(held)
    }

    /// The persisted capture position (`captureState`).
    async fn saved_position(&self) -> Result<Option<Position>> {
        Ok(self.saved_state().await?.map(|(p, _)| p))
    }

    /// The persisted capture position and how far capture had got there.
    async fn saved_state(&self) -> Result<Option<(Position, Option<Timestamp>)>> {
        let d = self.meta().find_one(doc! {"_id": "captureState"}).await?;
        Ok(d.as_ref()
            .and_then(|d| Some((Position::from_doc(d)?, d.get_timestamp("through").ok()))))
    }

    /// The server's current cluster time.
    async fn cluster_now(&self) -> Result<Timestamp> {
        let r = self.db.run_command(doc! {"ping": 1}).await?;
        r.get_timestamp("operationTime")
            .or_else(|_| {
                r.get_document("$clusterTime")
                    .and_then(|c| c.get_timestamp("clusterTime"))
            })
            .map_err(|_| ArgonError::Internal("the server reports no cluster time".into()))
    }

    /// Opens the change stream after the saved position (or now, recording that position).
    async fn open_stream(&self) -> Result<mongodb::change_stream::ChangeStream<Document>> {
        let saved = match self.saved_position().await? {
            Some(p) => p,
            None => {
                let start = Position {
                    token: None,
                    at: self.cluster_now().await?,
                };
                self.meta()
                    .update_one(
                        doc! {"_id": "captureState"},
                        doc! {"$setOnInsert": start.to_set()},
                    )
                    .upsert(true)
                    .await
                    .or_else(|e| {
                        if crate::error::server_code_of(&e) == Some(11000) {
                            Ok(Default::default())
                        } else {
                            Err(e)
                        }
                    })?;
                self.saved_position().await?.unwrap_or(start)
            }
        };
        let w = self
            .db
            .watch()
            .pipeline([stream_filter()])
            .full_document_before_change(FullDocumentBeforeChangeType::WhenAvailable)
            .max_await_time(AWAIT)
            .batch_size(1000);
        let stream = match &saved.token {
            Some(t) => {
                let t: ResumeToken = mongodb::bson::from_bson(t.clone())?;
                w.start_after(t).await?
            }
            None => w.start_at_operation_time(saved.at).await?,
        }
        .with_type::<Document>();
        *self.capture.pos.lock().expect("capture pos") = Some(saved);
        Ok(stream)
    }
}

/// The background loop: competes for the lease; while holding it, captures.
async fn capture_loop(
    weak: Weak<Project>,
    mut first: Option<mongodb::change_stream::ChangeStream<Document>>,
) {
    loop {
        let Some(p) = weak.upgrade() else { return };
        if p.capture.stop.load(Ordering::Acquire) {
            return;
        }
        let stream = match first.take() {
            Some(s) => Some(s),
            None => match p.try_lease().await {
                Ok(true) => match p.open_stream().await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "capture stream");
                        None
                    }
                },
                Ok(false) => None,
                Err(e) => {
                    tracing::debug!(error = %e, "capture lease");
                    None
                }
            },
        };
        if let Some(s) = stream {
            if let Err(e) = run_holder(&p, s).await {
                tracing::warn!(error = %e, "capture stopped; retrying");
                *p.capture.last_error.lock().expect("capture error") = Some(e.to_string());
            }
            p.capture.holder.store(false, Ordering::Release);
        }
        drop(p);
        tokio::time::sleep(RENEW_EVERY).await;
    }
}

/// Captures while this process holds the lease. Returns when the lease is lost, the
/// project closes, or the stream fails.
async fn run_holder(
    p: &Project,
    mut stream: mongodb::change_stream::ChangeStream<Document>,
) -> Result<()> {
    let start = p.capture.pos.lock().expect("capture pos").clone();
    let mut cls = Classifier::new(start.as_ref().is_none_or(|s| s.token.is_none()));
    let mut bounds = Boundaries::default();
    let mut group: Vec<Document> = Vec::new();
    let mut persisted = start;
    let mut last_renew = Instant::now();
    let mut last_persist = Instant::now();
    let mut group_since = Instant::now();
    loop {
        if p.capture.stop.load(Ordering::Acquire) {
            return Ok(());
        }
        if last_renew.elapsed() >= RENEW_EVERY {
            if !p.try_lease().await? {
                return Ok(());
            }
            last_renew = Instant::now();
        }
        match stream.next_if_any().await? {
            Some(ev) => {
                if ev.get_str("operationType") == Ok("invalidate") {
                    // The database was dropped (with Argon's state): start afresh.
                    return Ok(());
                }
                bounds.see(&ev);
                if cls.is_outside(&ev) {
                    if group.is_empty() {
                        group_since = Instant::now();
                    }
                    group.push(ev);
                }
                // Under a steady stream the batch never runs dry: flush full or aging
                // groups too, at a transaction boundary only (the stored position never
                // splits a transaction).
                let due = group.len() >= MAX_GROUP
                    || (!group.is_empty() && group_since.elapsed() >= MAX_GROUP_AGE);
                if due && !bounds.in_txn() {
                    flush(p, &mut group, bounds.complete.clone()).await?;
                    persisted = bounds.complete.clone();
                    last_persist = Instant::now();
                }
            }
            None => {
                // Caught up: everything committed so far is in hand.
                bounds.caught_up();
                if !group.is_empty() {
                    flush(p, &mut group, bounds.complete.clone()).await?;
                    persisted = bounds.complete.clone();
                    last_persist = Instant::now();
                } else if last_persist.elapsed() >= PERSIST_EVERY && persisted != bounds.complete {
                    if let Some(pos) = &bounds.complete {
                        persist_position(p, pos).await?;
                    }
                    persisted = bounds.complete.clone();
                    last_persist = Instant::now();
                }
                if let Some(pos) = &bounds.complete {
                    *p.capture.pos.lock().expect("capture pos") = Some(pos.clone());
                }
            }
        }
    }
}

/// Records progress through events that needed no capture (fenced by the lease).
async fn persist_position(p: &Project, pos: &Position) -> Result<()> {
    p.meta()
        .update_one(doc! {"_id": "captureState"}, doc! {"$set": pos.to_set()})
        .await?;
    Ok(())
}
