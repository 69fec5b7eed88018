//! The read barrier: a change-stream cursor per process, kept near the head, that tells an
//! operation below main's head whether outside writes are still waiting for capture.

use super::events::{coll_of, user_crud, Classifier};
use super::{CaptureStatus, BARRIER_WAIT};
use crate::error::{ArgonError, Result};
use crate::names::META;
use crate::project::Project;
use mongodb::bson::{doc, Bson, Document, Timestamp};
use mongodb::ClientSession;
use std::time::{Duration, Instant};

/// A change-stream cursor kept near the head of the stream for the read barrier: each
/// barrier drains what was committed since the previous one (one `getMore`, scanning only
/// that part of the oplog), instead of re-opening a stream from capture's position, which
/// makes the server scan everything written since (every database's writes included:
/// measured 18 ms per read on the test server after a 10k-document load elsewhere).
pub(super) struct BarrierCursor {
    /// The cursor is driven with raw `getMore`s (short `maxTimeMS`), in its own session.
    pub(super) session: ClientSession,
    pub(super) id: i64,
    seen: Seen,
    /// When the latest drain began.
    drained_at: Instant,
}

/// What a barrier has learnt from the stream: the newest outside write, and how far
/// capture has got (capture transactions write `captureState.through`).
struct Seen {
    cls: Classifier,
    /// Cluster time of the newest outside write seen and not yet known to be captured.
    pending: Option<Timestamp>,
    /// The newest `through` of capture seen.
    through: Option<Timestamp>,
}

impl Seen {
    fn new(from_time: bool) -> Seen {
        Seen {
            cls: Classifier::new(from_time),
            pending: None,
            through: None,
        }
    }

    fn observe_all(&mut self, batch: &[Bson]) {
        for ev in batch.iter().filter_map(|b| b.as_document()) {
            self.observe(ev);
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

    /// Whether every outside write seen is captured (`local`: this process's own record
    /// when it captures).
    fn settled(&mut self, local: Option<Timestamp>) -> bool {
        match self.pending {
            None => true,
            Some(p) if self.through.max(local).is_some_and(|t| t >= p) => {
                self.pending = None;
                true
            }
            Some(_) => false,
        }
    }
}

const BARRIER_BATCH: i32 = 1000;

impl BarrierCursor {
    async fn open(p: &Project) -> Result<BarrierCursor> {
        let mut session = p.client.start_session().await?;
        let (id, batch) =
            open_changes(p, &mut session, doc! {}, BARRIER_BATCH, "firstBatch").await?;
        let mut seen = Seen::new(true);
        seen.observe_all(&batch);
        Ok(BarrierCursor {
            session,
            id,
            seen,
            drained_at: Instant::now(),
        })
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
            self.seen.observe_all(&batch);
            // A change-stream getMore returns every event available, up to the batch size:
            // a batch that is not full means the cursor has caught up.
            if (batch.len() as i32) < BARRIER_BATCH {
                return Ok(());
            }
        }
    }
}

/// Opens a change stream on the project database with the barrier's filter (`start`: the
/// `$changeStream` options) and returns its cursor id and first batch.
async fn open_changes(
    p: &Project,
    session: &mut ClientSession,
    start: Document,
    batch: i32,
    field: &str,
) -> Result<(i64, Vec<Bson>)> {
    let mut pipeline = vec![doc! {"$changeStream": start}];
    pipeline.extend(barrier_pipeline());
    let r = p
        .db
        .run_command(doc! {"aggregate": 1, "pipeline": pipeline, "cursor": {"batchSize": batch}})
        .session(session)
        .await?;
    cursor_reply(&r, field)
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
/// Whether an error says the server no longer has the cursor (a restart, a failover, a
/// killed or timed-out cursor), rather than that the server is unreachable.
fn cursor_lost(e: &ArgonError) -> bool {
    // CursorNotFound, CursorKilled, QueryPlanKilled, Interrupted (at shutdown).
    matches!(e.server_code(), Some(43 | 237 | 175 | 11601))
        || e.to_string().contains("barrier cursor closed")
}

fn barrier_pipeline() -> Vec<Document> {
    vec![
        doc! {"$match": {"$or": [
            user_crud(),
            {"ns.coll": META, "documentKey._id": {"$in": ["lsn", "captureState"]}},
        ]}},
        doc! {"$project": {
            "clusterTime": 1, "lsid": 1, "txnNumber": 1, "ns": 1, "documentKey": 1,
            "operationType": 1, "updateDescription.updatedFields.through": 1,
        }},
    ]
}

impl Project {
    /// For a write inside its transaction: whether every outside write committed so far is
    /// captured, found without waiting. One drain of the barrier cursor; `None` when that
    /// cannot be told at once: the barrier's lock is held (a barrier holding it may be
    /// waiting for capture, which needs the LSN counter the caller holds: waiting here
    /// could deadlock), the cursor is not open yet, or the drain failed. The caller then
    /// aborts and waits with [`Project::capture_barrier`] outside its transaction.
    pub async fn capture_settled_now(&self) -> Option<bool> {
        if self.capture.status() != CaptureStatus::Active {
            return Some(true);
        }
        let mut guard = self.capture.barrier.try_lock().ok()?;
        let bc = guard.as_mut()?;
        bc.drained_at = Instant::now();
        if bc.drain(self).await.is_err() {
            *guard = None;
            return None;
        }
        let local = *self
            .capture
            .captured_through
            .lock()
            .expect("capture through");
        Some(bc.seen.settled(local))
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
        // A cursor lost to a server restart or failover (CursorNotFound and the like) is
        // reopened at once, once: the reopened cursor and the scan from capture's stored
        // position cover every event, so the caller sees no error for it.
        let mut reopened = false;
        loop {
            if guard.is_none() {
                // Open the cursor at the head first, then scan once from capture's stored
                // position up to past that point: together they cover every event.
                let mut bc = BarrierCursor::open(self).await?;
                let scanned = self.scan_from_position().await?;
                bc.seen.pending = bc.seen.pending.max(scanned.pending);
                bc.seen.through = bc.seen.through.max(scanned.through);
                *guard = Some(bc);
            }
            let bc = guard.as_mut().expect("barrier cursor");
            if bc.drained_at < arrived {
                bc.drained_at = Instant::now();
                if let Err(e) = bc.drain(self).await {
                    *guard = None;
                    if !reopened && cursor_lost(&e) {
                        reopened = true;
                        continue;
                    }
                    return Err(e);
                }
            }
            break;
        }
        let bc = guard.as_mut().expect("barrier cursor");
        // Wait for the outside writes seen so far only: ones committed while this barrier
        // waits are not its business (under a steady outside load, chasing them would
        // never end).
        let Some(target) = bc.seen.pending else {
            return Ok(());
        };
        loop {
            let local = *self
                .capture
                .captured_through
                .lock()
                .expect("capture through");
            if bc.seen.through.max(local).is_some_and(|t| t >= target) {
                bc.seen.settled(local);
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

    /// The barrier's first pass in a process: what the stream holds after capture's
    /// position, read batch by batch (its cost follows what was written since).
    async fn scan_from_position(&self) -> Result<Seen> {
        const BATCH: i32 = 2000;
        let in_memory = if self.capture.is_holder() {
            self.capture.pos.lock().expect("capture pos").clone()
        } else {
            None
        };
        let (from, stored_through) = match in_memory {
            Some(p) => (p, None),
            None => match self.saved_state().await? {
                Some(state) => state,
                None => return Ok(Seen::new(false)),
            },
        };
        let mut start = match &from.token {
            Some(t) => doc! {"startAfter": t.clone()},
            None => doc! {"startAtOperationTime": from.at},
        };
        let mut seen = Seen::new(from.token.is_none());
        seen.through = stored_through;
        let mut session = self.client.start_session().await?;
        loop {
            let (id, batch) =
                match open_changes(self, &mut session, start, BATCH, "firstBatch").await {
                    Ok(x) => x,
                    Err(e) => {
                        // A position the server no longer has (history lost): nothing to
                        // wait for that this process can know about.
                        tracing::warn!(error = %e, "capture barrier could not scan the stream");
                        return Ok(seen);
                    }
                };
            if id != 0 {
                let _ = self
                    .db
                    .run_command(doc! {"killCursors": "$cmd.aggregate", "cursors": [id]})
                    .session(&mut session)
                    .await;
            }
            seen.observe_all(&batch);
            let next = batch
                .last()
                .and_then(|b| b.as_document())
                .and_then(|d| d.get("_id").cloned());
            match next {
                Some(t) if batch.len() as i32 >= BATCH => start = doc! {"startAfter": t},
                _ => return Ok(seen),
            }
        }
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
}
