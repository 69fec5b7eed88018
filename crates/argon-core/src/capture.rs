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
//! - **No leak.** Reads below main's head (child branches, past views, diffs, resets) first
//!   run [`Project::capture_barrier`]: one change-stream `aggregate` from the capturer's
//!   position that lists the events not yet processed; if any is an outside write, the
//!   read waits until it is captured.

use crate::adopt::{adoption_key, adoption_record};
use crate::error::{ArgonError, Result};
use crate::names::{F_LSN, MAIN_ID, META, RESERVED_COLL_PREFIX};
use crate::project::Project;
use crate::txn::TxResult;
use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document, Timestamp};
use mongodb::change_stream::event::ResumeToken;
use mongodb::options::{FullDocumentBeforeChangeType, ReturnDocument};
use mongodb::ClientSession;
use std::collections::HashMap;
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
    progress: tokio::sync::Notify,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The last error that stopped this process's capturer (shown in `CAPTURE_BEHIND`).
    last_error: Mutex<Option<String>>,
    /// This process's barrier cursor (see `Project::capture_barrier`).
    barrier: tokio::sync::Mutex<Option<BarrierCursor>>,
}

/// A change-stream cursor kept near the head of the stream for the read barrier: each
/// barrier drains what was committed since the previous one (one `getMore`, scanning only
/// that part of the oplog), instead of re-opening a stream from capture's position, which
/// makes the server scan everything written since (every database's writes included:
/// measured 18 ms per read on the test server after a 10k-document load elsewhere).
struct BarrierCursor {
    /// The cursor is driven with raw `getMore`s (short `maxTimeMS`), in its own session.
    session: ClientSession,
    id: i64,
    cls: Classifier,
    /// Cluster time of the newest outside write seen and not yet known to be captured.
    pending: Option<Timestamp>,
    /// The newest `through` of capture seen in the stream (capture transactions write it).
    through: Option<Timestamp>,
    /// When the latest drain began.
    drained_at: Instant,
}

const BARRIER_BATCH: i32 = 1000;

impl BarrierCursor {
    async fn open(p: &Project) -> Result<BarrierCursor> {
        let mut session = p.client.start_session().await?;
        let mut pipeline = vec![doc! {"$changeStream": {}}];
        pipeline.extend(barrier_pipeline());
        let r =
            p.db.run_command(
                doc! {"aggregate": 1, "pipeline": pipeline, "cursor": {"batchSize": BARRIER_BATCH}},
            )
            .session(&mut session)
            .await?;
        let (id, batch) = cursor_reply(&r, "firstBatch")?;
        let mut bc = BarrierCursor {
            session,
            id,
            cls: Classifier::new(true),
            pending: None,
            through: None,
            drained_at: Instant::now(),
        };
        for ev in batch.iter().filter_map(|b| b.as_document()) {
            bc.observe(ev);
        }
        Ok(bc)
    }

    /// Reads everything committed so far (until a `getMore` returns less than a batch).
    async fn drain(&mut self, p: &Project) -> Result<()> {
        loop {
            if self.id == 0 {
                return Err(ArgonError::Internal("barrier cursor closed".into()));
            }

            let r =
                p.db.run_command(doc! {
                    "getMore": self.id,
                    "collection": "$cmd.aggregate",
                    "batchSize": BARRIER_BATCH,
                    "maxTimeMS": 1_i64,
                })
                .session(&mut self.session)
                .await?;
            let (id, batch) = cursor_reply(&r, "nextBatch")?;
            self.id = id;
            for ev in batch.iter().filter_map(|b| b.as_document()) {
                self.observe(ev);
            }
            // A change-stream getMore returns every event available, up to the batch size:
            // a batch that is not full means the cursor has caught up.
            if (batch.len() as i32) < BARRIER_BATCH {
                return Ok(());
            }
        }
    }

    fn observe(&mut self, ev: &Document) {
        let is_state = coll_of(ev) == Some(META)
            && ev
                .get_document("documentKey")
                .ok()
                .and_then(|k| k.get_str("_id").ok())
                == Some("captureState");
        if is_state {
            if let Some(t) = ev
                .get_document("updateDescription")
                .ok()
                .and_then(|u| u.get_document("updatedFields").ok())
                .and_then(|f| f.get_timestamp("through").ok())
            {
                self.through = self.through.max(Some(t));
            }
        }
        if self.cls.is_outside(ev) {
            if let Ok(t) = ev.get_timestamp("clusterTime") {
                self.pending = self.pending.max(Some(t));
            }
        }
    }
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
            progress: tokio::sync::Notify::new(),
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

/// A point in the change stream: the last event processed (its resume token and cluster
/// time), or, before any event, the cluster time capture started at.
///
/// Positions never use the post-batch ("high-water mark") token of an empty batch: the test
/// server resumes from those unreliably under load (it skipped 40 of 200 later events in a
/// probe); event tokens and `startAtOperationTime` were exact (see docs/compatibility.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub token: Option<Bson>,
    pub at: Timestamp,
}

impl Position {
    fn of_event(ev: &Document) -> Option<Position> {
        Some(Position {
            token: Some(ev.get("_id")?.clone()),
            at: ev.get_timestamp("clusterTime").ok()?,
        })
    }
    fn from_doc(d: &Document) -> Option<Position> {
        Some(Position {
            token: d.get("token").filter(|t| !matches!(t, Bson::Null)).cloned(),
            at: d.get_timestamp("at").ok()?,
        })
    }
    fn to_set(&self) -> Document {
        doc! {"token": self.token.clone().unwrap_or(Bson::Null), "at": self.at}
    }
}

/// Whether a collection name is one of main's user collections.
fn is_user_coll(name: &str) -> bool {
    !name.starts_with(RESERVED_COLL_PREFIX) && !name.starts_with("system.")
}

/// The server-side filter of the capture stream: CRUD events on user collections, and the
/// LSN counter's updates (which mark Argon's transactions).
fn stream_filter() -> Document {
    doc! {"$match": {"$or": [
        {
            "ns.coll": {"$not": {"$regex": "^(__argon|system\\.)"}},
            "operationType": {"$in": ["insert", "update", "replace", "delete"]},
        },
        {"ns.coll": META, "documentKey._id": "lsn"},
        {"operationType": "invalidate"},
    ]}}
}

fn cursor_reply(r: &Document, batch: &str) -> Result<(i64, Vec<Bson>)> {
    let bad = |e: mongodb::bson::document::ValueAccessError| {
        ArgonError::Internal(format!("change stream reply: {e}"))
    };
    let c = r.get_document("cursor").map_err(bad)?;
    Ok((
        c.get_i64("id").unwrap_or(0),
        c.get_array(batch).map_err(bad)?.clone(),
    ))
}

/// The barrier cursor's filter: the capture stream's events plus capture's own progress
/// records, slimmed to what classification needs.
fn barrier_pipeline() -> Vec<Document> {
    vec![
        doc! {"$match": {"$or": [
            {
                "ns.coll": {"$not": {"$regex": "^(__argon|system\\.)"}},
                "operationType": {"$in": ["insert", "update", "replace", "delete"]},
            },
            {"ns.coll": META, "documentKey._id": {"$in": ["lsn", "captureState"]}},
        ]}},
        doc! {"$project": {
            "clusterTime": 1, "lsid": 1, "txnNumber": 1, "ns": 1, "documentKey": 1,
            "operationType": 1, "updateDescription.updatedFields.through": 1,
        }},
    ]
}

/// `(lsid.id, txnNumber)` of an event in a transaction.
fn txn_key(ev: &Document) -> Option<(Bson, i64)> {
    let lsid = ev.get_document("lsid").ok()?.get("id")?.clone();
    let n = ev
        .get_i64("txnNumber")
        .ok()
        .or_else(|| ev.get_i32("txnNumber").ok().map(i64::from))?;
    Some((lsid, n))
}

fn coll_of(ev: &Document) -> Option<&str> {
    ev.get_document("ns").ok()?.get_str("coll").ok()
}

/// Classifies events in stream order: which are outside writes to capture.
///
/// A stream read from a position starts at a transaction boundary (positions are the last
/// event of a complete transaction). One started from a cluster time may start inside a
/// transaction whose counter event it missed; that first transaction is skipped, not
/// taken for an outside write (a write straddling the moment capture first starts).
#[derive(Default)]
struct Classifier {
    argon_txn: Option<(Bson, i64)>,
    skip_txn: Option<(Bson, i64)>,
    from_time: bool,
}

impl Classifier {
    fn new(from_time: bool) -> Self {
        Classifier {
            from_time,
            ..Default::default()
        }
    }

    /// True for an outside CRUD event on a user collection.
    fn is_outside(&mut self, ev: &Document) -> bool {
        let Some(coll) = coll_of(ev) else {
            return false;
        };
        let key = txn_key(ev);
        if std::mem::take(&mut self.from_time) && coll != META && key.is_some() {
            self.skip_txn = key.clone();
        }
        if coll == META {
            // The LSN counter moved: this transaction is one of Argon's.
            if key.is_some() {
                self.argon_txn = key;
            }
            return false;
        }
        if !is_user_coll(coll) {
            return false;
        }
        match key {
            Some(k) => self.argon_txn.as_ref() != Some(&k) && self.skip_txn.as_ref() != Some(&k),
            None => true,
        }
    }
}

/// Tracks transaction boundaries in the stream: the position after the last complete
/// transaction (a safe place to resume or to scan from).
#[derive(Default)]
struct Boundaries {
    cur: Option<(Bson, i64)>,
    open_last: Option<Position>,
    complete: Option<Position>,
}

impl Boundaries {
    fn see(&mut self, ev: &Document) {
        let key = txn_key(ev);
        if key.is_none() || key != self.cur {
            if let Some(p) = self.open_last.take() {
                self.complete = Some(p);
            }
        }
        let pos = Position::of_event(ev);
        if key.is_none() {
            self.complete = pos.or(self.complete.take());
        } else {
            self.open_last = pos;
        }
        self.cur = key;
    }
    /// The stream returned everything committed: the open transaction is complete (its
    /// events became visible together).
    fn caught_up(&mut self) {
        if let Some(p) = self.open_last.take() {
            self.complete = Some(p);
        }
        self.cur = None;
    }
    fn in_txn(&self) -> bool {
        self.open_last.is_some()
    }
}

/// Applies a change event's `updateDescription` to the pre-image: the post-image exactly
/// as the server produced it. `None` if a path does not fit the pre-image.
pub fn apply_update_description(pre: &Document, ud: &Document) -> Option<Document> {
    let mut out = pre.clone();
    if let Ok(tr) = ud.get_array("truncatedArrays") {
        for t in tr {
            let t = t.as_document()?;
            let field = t.get_str("field").ok()?;
            let size = t
                .get_i32("newSize")
                .map(i64::from)
                .or_else(|_| t.get_i64("newSize"))
                .ok()?;
            if let Some(Bson::Array(a)) = path_mut(&mut out, field, false) {
                a.truncate(size.max(0) as usize);
            } else {
                return None;
            }
        }
    }
    if let Ok(rm) = ud.get_array("removedFields") {
        for f in rm {
            remove_path(&mut out, f.as_str()?);
        }
    }
    if let Ok(up) = ud.get_document("updatedFields") {
        for (k, v) in up {
            *path_mut(&mut out, k, true)? = v.clone();
        }
    }
    Some(out)
}

fn child_mut<'a>(b: &'a mut Bson, part: &str, create: bool) -> Option<&'a mut Bson> {
    match b {
        Bson::Document(d) => {
            if !d.contains_key(part) {
                if !create {
                    return None;
                }
                d.insert(part, Bson::Null);
            }
            d.get_mut(part)
        }
        Bson::Array(a) => {
            let i: usize = part.parse().ok()?;
            if i >= a.len() {
                if !create {
                    return None;
                }
                a.resize(i + 1, Bson::Null);
            }
            a.get_mut(i)
        }
        _ => None,
    }
}

fn path_mut<'a>(d: &'a mut Document, path: &str, create: bool) -> Option<&'a mut Bson> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    if !d.contains_key(first) {
        if !create {
            return None;
        }
        d.insert(first, Bson::Null);
    }
    let mut cur = d.get_mut(first)?;
    for part in parts {
        if create && matches!(cur, Bson::Null) {
            *cur = Bson::Document(Document::new());
        }
        cur = child_mut(cur, part, create)?;
    }
    Some(cur)
}

fn remove_path(d: &mut Document, path: &str) {
    match path.rsplit_once('.') {
        None => {
            d.remove(path);
        }
        Some((parent, last)) => match path_mut(d, parent, false) {
            Some(Bson::Document(p)) => {
                p.remove(last);
            }
            Some(Bson::Array(a)) => {
                if let Ok(i) = last.parse::<usize>() {
                    if i < a.len() {
                        a[i] = Bson::Null;
                    }
                }
            }
            _ => {}
        },
    }
}

fn without_lsn(d: &Document) -> Document {
    let mut d = d.clone();
    d.remove(F_LSN);
    d
}

impl Project {
    /// Decides capture at connect and, when it runs, takes part in the lease. Returns once
    /// a capture position exists for the project (so reads after connect are covered).
    pub(crate) async fn start_capture(self: &Arc<Self>, mode: Option<&str>) -> Result<()> {
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
        self.enable_pre_images().await?;
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
        let colls = self.enable_pre_images().await?;
        if self.capture.status() != CaptureStatus::Active {
            self.start_capture(Some("auto")).await?;
        }
        Ok(colls)
    }

    /// `changeStreamPreAndPostImages` on main's collections, so captured updates and
    /// deletes carry the exact state they replaced.
    async fn enable_pre_images(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for name in self.db.list_collection_names().await? {
            if !is_user_coll(&name) {
                continue;
            }
            self.enable_pre_images_for(&name).await;
            out.push(name);
        }
        Ok(out)
    }

    pub(crate) async fn enable_pre_images_for(&self, coll: &str) {
        let r = self
            .db
            .run_command(doc! {"collMod": coll, "changeStreamPreAndPostImages": {"enabled": true}})
            .await;
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
        let d = self.meta().find_one(doc! {"_id": "captureState"}).await?;
        Ok(d.as_ref().and_then(Position::from_doc))
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

    /// Waits until every write made outside Argon before this call has been captured, so a
    /// read below main's head cannot see one that the WAL does not account for. Costs one
    /// `getMore` on this process's barrier cursor when nothing is pending (concurrent
    /// barriers share a drain that began after they did).
    pub async fn capture_barrier(&self) -> Result<()> {
        if self.capture.status() != CaptureStatus::Active {
            return Ok(());
        }
        let arrived = Instant::now();
        let deadline = arrived + BARRIER_WAIT;
        let mut guard = self.capture.barrier.lock().await;
        if guard.is_none() {
            // Open the cursor at the head first, then scan once from capture's stored
            // position up to past that point: together they cover every event.
            *guard = Some(BarrierCursor::open(self).await?);
            self.scan_barrier(deadline).await?;
        }
        let bc = guard.as_mut().expect("barrier cursor");
        if bc.drained_at < arrived {
            bc.drained_at = Instant::now();
            if let Err(e) = bc.drain(self).await {
                // A lost cursor (server restart, failover): reopen on the next call.
                *guard = None;
                return Err(e);
            }
        }
        loop {
            let Some(p) = bc.pending else { return Ok(()) };
            let local = *self
                .capture
                .captured_through
                .lock()
                .expect("capture through");
            if bc.through.max(local).is_some_and(|t| t >= p) {
                bc.pending = None;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.behind());
            }
            // Capture's progress arrives through the same stream (its `captureState`
            // updates), or in memory when this process captures.
            tokio::time::sleep(Duration::from_millis(2)).await;
            if let Err(e) = bc.drain(self).await {
                *guard = None;
                return Err(e);
            }
        }
    }

    /// The barrier's first pass in a process: scans the stream from capture's stored
    /// position (its cost follows what was written since) and waits for what it finds.
    async fn scan_barrier(&self, deadline: Instant) -> Result<()> {
        loop {
            let from = if self.capture.is_holder() {
                self.capture.pos.lock().expect("capture pos").clone()
            } else {
                None
            };
            let from = match from {
                Some(t) => Some(t),
                None => self.saved_position().await?,
            };

            let Some(from) = from else {
                return Ok(());
            };
            let (pending, full) = match self.pending_outside(&from).await {
                Ok(x) => x,
                Err(e) => {
                    // A position the server no longer has (history lost): nothing to wait
                    // for that this process can know about.
                    tracing::warn!(error = %e, "capture barrier could not scan the stream");
                    return Ok(());
                }
            };
            let Some(last) = pending else {
                if !full {
                    return Ok(());
                }
                // Only Argon's own events, but more than one batch of them: wait for the
                // capturer to move past them, then look again.
                if Instant::now() >= deadline {
                    return Err(self.behind());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            self.wait_captured(last, deadline).await?;
            if !full {
                return Ok(());
            }
        }
    }

    /// Scans the events after `from`: the cluster time of the newest outside write among
    /// them, and whether the batch was full (more may follow).
    async fn pending_outside(&self, from: &Position) -> Result<(Option<Timestamp>, bool)> {
        const BATCH: i32 = 2000;
        let start = match &from.token {
            Some(t) => doc! {"startAfter": t.clone()},
            None => doc! {"startAtOperationTime": from.at},
        };
        let r = self
            .db
            .run_command(doc! {
                "aggregate": 1,
                "pipeline": [
                    {"$changeStream": start},
                    stream_filter(),
                    {"$project": {"clusterTime": 1, "lsid": 1, "txnNumber": 1, "ns": 1, "documentKey": 1, "operationType": 1}},
                ],
                "cursor": {"batchSize": BATCH},
            })
            .await?;
        let cursor = r
            .get_document("cursor")
            .map_err(|e| ArgonError::Internal(format!("change stream reply: {e}")))?;
        let batch = cursor
            .get_array("firstBatch")
            .map_err(|e| ArgonError::Internal(format!("change stream reply: {e}")))?;
        let id = cursor.get_i64("id").unwrap_or(0);
        if id != 0 {
            let db = self.db.clone();
            tokio::spawn(async move {
                let _ = db
                    .run_command(doc! {"killCursors": "$cmd.aggregate", "cursors": [id]})
                    .await;
            });
        }
        let mut cls = Classifier::new(from.token.is_none());
        let mut newest = None;
        for ev in batch.iter().filter_map(|b| b.as_document()) {
            if cls.is_outside(ev) {
                newest = ev.get_timestamp("clusterTime").ok().or(newest);
            }
        }
        Ok((newest, batch.len() as i32 >= BATCH))
    }

    fn behind(&self) -> ArgonError {
        let last = self
            .capture
            .last_error
            .lock()
            .expect("capture error")
            .clone();
        ArgonError::CaptureBehind(format!(
            "writes made outside Argon are not captured yet after {} s; the operation was not run so it cannot show them. Retry; if this persists, check that a process with capture on is connected{}",
            BARRIER_WAIT.as_secs(),
            last.map(|e| format!(" (this process's capturer last failed with: {e})")).unwrap_or_default()
        ))
    }

    /// Waits until capture has processed the outside event at cluster time `t`.
    async fn wait_captured(&self, t: Timestamp, deadline: Instant) -> Result<()> {
        loop {
            let through = if self.capture.is_holder() {
                *self
                    .capture
                    .captured_through
                    .lock()
                    .expect("capture through")
            } else {
                self.meta()
                    .find_one(doc! {"_id": "captureState"})
                    .await?
                    .and_then(|d| d.get_timestamp("through").ok())
            };
            if through.is_some_and(|c| c >= t) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.behind());
            }
            if self.capture.is_holder() {
                let _ = tokio::time::timeout(
                    Duration::from_millis(50),
                    self.capture.progress.notified(),
                )
                .await;
            } else {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
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
                p.capture.progress.notify_waiters();
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

/// Captures a group of outside events in one transaction, with the stream position.
async fn flush(p: &Project, group: &mut Vec<Document>, pos: Option<Position>) -> Result<()> {
    let Some(pos) = pos else { return Ok(()) };
    for ev in group.iter() {
        if let Some(c) = coll_of(ev) {
            if p.cached_adoption(c).is_none() {
                p.adoption(c).await?;
                p.enable_pre_images_for(c).await;
            }
        }
    }
    let through = group
        .iter()
        .filter_map(|e| e.get_timestamp("clusterTime").ok())
        .max();
    let evs: &[Document] = group;
    let captured: usize = crate::in_txn!(p, |s| capture_group(p, s, evs, &pos, through))?;
    metrics::counter!(crate::telemetry::CAPTURED_TOTAL).increment(captured as u64);
    if let Some(t) = through {
        *p.capture.captured_through.lock().expect("capture through") = Some(t);
    }
    *p.capture.pos.lock().expect("capture pos") = Some(pos);
    p.capture.progress.notify_waiters();
    group.clear();
    Ok(())
}

async fn capture_group(
    p: &Project,
    s: &mut ClientSession,
    evs: &[Document],
    pos: &Position,
    through: Option<Timestamp>,
) -> TxResult<usize> {
    // One LSN per outside write, consecutive, reserved with one counter update (which
    // also marks this transaction as Argon's in the stream).
    let n = evs.len() as i64;
    let counter = p
        .meta()
        .find_one_and_update(doc! {"_id": "lsn"}, doc! {"$inc": {"n": n}})
        .return_document(ReturnDocument::After)
        .session(&mut *s)
        .await?
        .ok_or_else(|| ArgonError::Internal("lsn counter missing".into()))?;
    let last = counter
        .get_i64("n")
        .map_err(|_| ArgonError::Internal("lsn counter is not an int64".into()))?;
    let first = last - n + 1;
    let now = DateTime::now();
    let mut g = Group::load(p, s, evs).await?;
    let mut records = Vec::new();
    let mut captured = 0;
    for (i, ev) in evs.iter().enumerate() {
        let key = (first + i as i64) << crate::lsn::SUB_BITS;
        if let Some(mut recs) = capture_one(p, ev, key, now, &mut g).await? {
            captured += 1;
            records.append(&mut recs);
        }
    }
    g.stamp(p, s).await?;
    if !records.is_empty() {
        p.wal().insert_many(records).session(&mut *s).await?;
    }
    let fenced = p
        .meta()
        .update_one(
            doc! {"_id": "captureLease", "owner": &p.capture.owner},
            doc! {"$set": {"until": DateTime::from_millis(now.timestamp_millis() + LEASE_MS)}},
        )
        .session(&mut *s)
        .await?;
    if fenced.matched_count == 0 {
        return Err(ArgonError::Internal("capture lease lost".into()).into());
    }
    let mut set = pos.to_set();
    if let Some(t) = through {
        set.insert("through", t);
    }
    p.meta()
        .update_one(doc! {"_id": "captureState"}, doc! {"$set": set})
        .upsert(true)
        .session(&mut *s)
        .await?;
    Ok(captured)
}

/// What one capture transaction knows about the documents its events touch, read with one
/// query per collection for each kind (not one per event): each document's newest WAL
/// record (updated as the group writes records) and its current head row; and the head
/// stamps to write at the end.
struct Group {
    newest: HashMap<String, Document>,
    heads: HashMap<String, Document>,
    /// Per document: the stamp its head row gets (the key of its last record in the group,
    /// when the head still holds that record's state), with its collection and `_id`.
    stamps: HashMap<String, (String, Bson, Option<i64>)>,
}

fn doc_key(coll: &str, k: &Bson) -> String {
    format!("{coll}\u{0}{k:?}")
}

fn event_key(ev: &Document) -> Option<(&str, Bson)> {
    let coll = coll_of(ev)?;
    let k = ev.get_document("documentKey").ok()?.get("_id")?.clone();
    Some((coll, k))
}

impl Group {
    async fn load(p: &Project, s: &mut ClientSession, evs: &[Document]) -> TxResult<Group> {
        let mut by_coll: HashMap<&str, Vec<Bson>> = HashMap::new();
        for ev in evs {
            if let Some((c, k)) = event_key(ev) {
                by_coll.entry(c).or_default().push(k);
            }
        }
        let mut g = Group {
            newest: HashMap::new(),
            heads: HashMap::new(),
            stamps: HashMap::new(),
        };
        for (coll, ks) in by_coll {
            let newest = p
                .wal()
                .aggregate([
                    doc! {"$match": {"b": MAIN_ID, "c": coll, "k": {"$in": ks.clone()}}},
                    doc! {"$sort": {"b": 1, "c": 1, "k": 1, "_id": -1}},
                    doc! {"$group": {"_id": "$k", "top": {"$first": {"_id": "$_id", "op": "$op", "x": "$x"}}}},
                ])
                .session(&mut *s)
                .await?;
            let mut newest = newest;
            while let Some(d) = newest.next(&mut *s).await {
                let d = d?;
                if let (Some(k), Ok(top)) = (d.get("_id"), d.get_document("top")) {
                    g.newest.insert(doc_key(coll, k), top.clone());
                }
            }
            let mut heads =
                p.db.collection::<Document>(coll)
                    .find(doc! {"_id": {"$in": ks}})
                    .session(&mut *s)
                    .await?;
            while let Some(d) = heads.next(&mut *s).await {
                let d = d?;
                if let Some(k) = d.get("_id").cloned() {
                    g.heads.insert(doc_key(coll, &k), without_lsn(&d));
                }
            }
        }
        Ok(g)
    }

    /// Writes the head stamps: one pipeline update per collection.
    async fn stamp(&self, p: &Project, s: &mut ClientSession) -> TxResult<()> {
        let mut by_coll: HashMap<&str, Vec<(Bson, i64)>> = HashMap::new();
        for (coll, k, key) in self.stamps.values() {
            if let Some(key) = key {
                by_coll.entry(coll).or_default().push((k.clone(), *key));
            }
        }
        for (coll, stamps) in by_coll {
            let ids: Vec<Bson> = stamps.iter().map(|(k, _)| k.clone()).collect();
            let branches: Vec<Document> = stamps
                .iter()
                .map(|(k, key)| doc! {"case": {"$eq": ["$_id", {"$literal": k.clone()}]}, "then": *key})
                .collect();
            p.db.collection::<Document>(coll)
                .update_many(
                    doc! {"_id": {"$in": ids}},
                    vec![doc! {"$set": {F_LSN: {"$switch": {"branches": branches, "default": format!("${F_LSN}")}}}}],
                )
                .session(&mut *s)
                .await?;
        }
        Ok(())
    }
}

/// The WAL records for one outside event (an adoption record first when it changes an
/// adopted document), or `None` when it needs none.
async fn capture_one(
    p: &Project,
    ev: &Document,
    key: i64,
    now: DateTime,
    g: &mut Group,
) -> TxResult<Option<Vec<Document>>> {
    let Some((coll, k)) = event_key(ev) else {
        return Ok(None);
    };
    let op = match ev.get_str("operationType").unwrap_or("") {
        "insert" => "i",
        "update" => "u",
        "replace" => "r",
        "delete" => "d",
        _ => return Ok(None),
    };
    let pre = ev.get_document("fullDocumentBeforeChange").ok();
    let dk = doc_key(coll, &k);
    let newest = g.newest.get(&dk).cloned();
    // Argon wrote this document after the outside write and before it was captured: its
    // version was computed from the outside change, which is folded into it.
    if let Some(n) = &newest {
        let argons = !n.get_bool("x").unwrap_or(false) && n.get_str("op") != Ok("d");
        let stamp = pre.and_then(|d| d.get_i64(F_LSN).ok());
        if argons && (op == "i" || (pre.is_some() && stamp != n.get_i64("_id").ok())) {
            metrics::counter!(crate::telemetry::CAPTURE_FOLDED_TOTAL).increment(1);
            tracing::warn!(collection = coll, "an outside write was superseded by an Argon write before capture; folded into Argon's version");
            return Ok(None);
        }
    }
    let mut out = Vec::new();
    let prev = match &newest {
        Some(n) if n.get_str("op") != Ok("d") => n.get_i64("_id").ok(),
        Some(_) => None,
        None if op != "i" => match pre {
            // An adopted document's first change: keep the state it replaced.
            Some(pre) => {
                let a = p.adoption(coll).await?;
                out.push(adoption_record(coll, &k, key, without_lsn(pre), &a));
                Some(adoption_key(key))
            }
            None => {
                metrics::counter!(crate::telemetry::CAPTURE_APPROXIMATE_TOTAL).increment(1);
                None
            }
        },
        None => None,
    };
    let after: Option<Document> = match op {
        "i" | "r" => ev.get_document("fullDocument").ok().map(without_lsn),
        "u" => {
            let computed = match (pre, ev.get_document("updateDescription")) {
                (Some(pre), Ok(ud)) => apply_update_description(&without_lsn(pre), ud),
                _ => None,
            };
            computed.or_else(|| {
                // No pre-image: the current state stands in (approximate if the document
                // changed again since).
                metrics::counter!(crate::telemetry::CAPTURE_APPROXIMATE_TOTAL).increment(1);
                g.heads.get(&dk).cloned()
            })
        }
        _ => None,
    };
    if op != "d" && after.is_none() {
        return Ok(None);
    }
    // The head row gets the key of the document's last record in the group if it still
    // holds that state; otherwise a later event captures (and stamps) the newer state.
    let stamp = match (&after, g.heads.get(&dk)) {
        (Some(a), Some(cur)) if crate::write::same_doc(cur, a) => Some(key),
        _ => None,
    };
    g.stamps
        .insert(dk.clone(), (coll.to_string(), k.clone(), stamp));
    let mut rec = doc! {
        "_id": key,
        "b": MAIN_ID,
        "c": coll,
        "k": k,
        "op": op,
        "d": after.map(Bson::Document).unwrap_or(Bson::Null),
        "t": now,
        "x": true,
    };
    if let Ok(w) = ev.get_datetime("wallTime") {
        rec.insert("w", *w);
    }
    if let Some(pk) = prev {
        rec.insert("p", pk);
    }
    g.newest.insert(dk, doc! {"_id": key, "op": op, "x": true});
    out.push(rec);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_descriptions_rebuild_post_images() {
        let pre = doc! {"_id": 1, "a": 1, "b": {"c": 2, "d": 3}, "arr": [1, 2, 3, 4]};
        let ud = doc! {
            "updatedFields": {"a": 5, "b.c": 7, "e": "new", "arr.1": 9},
            "removedFields": ["b.d"],
            "truncatedArrays": [{"field": "arr", "newSize": 3}],
        };
        assert_eq!(
            apply_update_description(&pre, &ud).unwrap(),
            doc! {"_id": 1, "a": 5, "b": {"c": 7}, "arr": [1, 9, 3], "e": "new"}
        );
        // A path through a scalar does not fit: the caller falls back.
        assert!(
            apply_update_description(&doc! {"a": 1}, &doc! {"updatedFields": {"a.b.c": 1}})
                .is_none()
        );
    }

    #[test]
    fn argon_transactions_are_recognised_by_the_counter() {
        let lsid = doc! {"id": 7};
        let mut c = Classifier::new(false);
        let counter = doc! {"ns": {"coll": META}, "lsid": lsid.clone(), "txnNumber": 3_i64};
        let mine = doc! {"ns": {"coll": "users"}, "lsid": lsid.clone(), "txnNumber": 3_i64};
        let theirs_txn = doc! {"ns": {"coll": "users"}, "lsid": lsid.clone(), "txnNumber": 4_i64};
        let theirs = doc! {"ns": {"coll": "users"}};
        let internal = doc! {"ns": {"coll": "__argon.wal"}};
        assert!(!c.is_outside(&counter));
        assert!(!c.is_outside(&mine));
        assert!(c.is_outside(&theirs_txn));
        assert!(c.is_outside(&theirs));
        assert!(!c.is_outside(&internal));
        // Started from a time inside an Argon transaction (its counter event missed): the
        // rest of that transaction is skipped, later outside writes are not.
        let mut fresh = Classifier::new(true);
        assert!(!fresh.is_outside(&mine));
        assert!(!fresh.is_outside(&mine));
        assert!(fresh.is_outside(&theirs));
    }

    #[test]
    fn positions_fall_on_transaction_boundaries() {
        let ev = |n: u32, txn: Option<i64>| {
            let mut d = doc! {"_id": {"n": n}, "clusterTime": Timestamp { time: 1, increment: n }};
            if let Some(t) = txn {
                d.insert("lsid", doc! {"id": 1});
                d.insert("txnNumber", t);
            }
            d
        };
        let mut b = Boundaries::default();
        b.see(&ev(1, None));
        assert_eq!(b.complete.as_ref().unwrap().at.increment, 1);
        b.see(&ev(2, Some(5)));
        b.see(&ev(3, Some(5)));
        assert!(b.in_txn());
        assert_eq!(
            b.complete.as_ref().unwrap().at.increment,
            1,
            "not inside the transaction"
        );
        b.see(&ev(4, Some(6)));
        assert_eq!(
            b.complete.as_ref().unwrap().at.increment,
            3,
            "the previous transaction ended"
        );
        b.caught_up();
        assert_eq!(b.complete.as_ref().unwrap().at.increment, 4);
        assert!(!b.in_txn());
    }
}
