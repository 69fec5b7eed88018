//! Writer leases: a crashed writer must not stall the project.
//!
//! Every write transaction touches the LSN counter, so a process killed inside one leaves
//! the counter locked on the server until the transaction's lifetime runs out (60 s by
//! default), and every other writer's transaction meets a write conflict meanwhile. Each
//! process therefore keeps a lease document (`__argon.leases`): its id, the server
//! sessions (`lsid`s) its write transactions use, and a heartbeat the server stamps
//! every second. A session is added to the lease before its first transaction starts.
//! A writer that keeps meeting conflicts looks for leases whose heartbeat is older than
//! [`STALE`] (by the server's clock, so no skew between processes), kills their sessions with
//! `killSessions` (the server aborts their transactions, freeing the counter) and removes
//! those leases. A process that was only slow finds its transaction aborted, retries, and
//! its next heartbeat re-creates its lease.
//!
//! Cost: one small upsert per process per [`HEARTBEAT`], and one more the first time each
//! pooled session is used for a write.

use crate::error::Result;
use crate::names::LEASES;
use crate::project::Project;
use mongodb::bson::{doc, Bson, Document};
use mongodb::ClientSession;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a process stamps its lease.
pub const HEARTBEAT: Duration = Duration::from_millis(1000);
/// A lease not stamped for this long belongs to a dead (or stuck) process.
pub const STALE: Duration = Duration::from_millis(3000);
/// How long a write meets conflicts before it looks for dead writers.
pub const CONFLICTS_BEFORE_REAP: Duration = Duration::from_millis(1000);
/// At most one look for dead writers per process per this long.
const REAP_EVERY: Duration = Duration::from_millis(500);

pub(crate) struct Leases {
    /// This process's lease id (random, per connect).
    pub(crate) id: String,
    /// The `lsid`s already in the lease (a handful: the driver's pooled sessions).
    known: Mutex<Vec<Document>>,
    last_reap: Mutex<Option<Instant>>,
}

impl Default for Leases {
    fn default() -> Self {
        let id = mongodb::bson::oid::ObjectId::new().to_hex();
        Leases {
            id,
            known: Mutex::new(Vec::new()),
            last_reap: Mutex::new(None),
        }
    }
}

impl Leases {
    fn coll(p: &Project) -> mongodb::Collection<Document> {
        p.db.collection(LEASES)
    }

    /// Makes sure `s`'s server session is in this process's lease before it starts a
    /// transaction (one upsert the first time a pooled session is used).
    pub(crate) async fn register(&self, p: &Project, s: &ClientSession) -> Result<()> {
        let lsid = s.id();
        if self.known.lock().expect("leases").contains(lsid) {
            return Ok(());
        }
        self.stamp(p, vec![Bson::Document(lsid.clone())]).await?;
        self.known.lock().expect("leases").push(lsid.clone());
        Ok(())
    }

    /// Stamps the heartbeat (server time) and adds `lsids`, creating the lease if missing.
    async fn stamp(&self, p: &Project, lsids: Vec<Bson>) -> Result<()> {
        Self::coll(p)
            .update_one(
                doc! {"_id": &self.id},
                doc! {
                    "$currentDate": {"heartbeat": true},
                    "$addToSet": {"lsids": {"$each": lsids}},
                    "$setOnInsert": {"pid": std::process::id() as i64},
                },
            )
            .upsert(true)
            .await?;
        Ok(())
    }

    /// The heartbeat: stamps the lease with every session it should hold (re-creating it
    /// if another process removed it while this one was stuck).
    pub(crate) async fn heartbeat(&self, p: &Project) -> Result<()> {
        let all: Vec<Bson> = self
            .known
            .lock()
            .expect("leases")
            .iter()
            .cloned()
            .map(Bson::Document)
            .collect();
        self.stamp(p, all).await
    }

    /// Called while a write keeps meeting conflicts: kills the sessions of writers whose
    /// lease is stale and removes their leases. Returns how many leases it removed.
    pub(crate) async fn reap(&self, p: &Project) -> Result<usize> {
        {
            let mut last = self.last_reap.lock().expect("leases");
            if last.is_some_and(|t| t.elapsed() < REAP_EVERY) {
                return Ok(0);
            }
            *last = Some(Instant::now());
        }
        use futures_util::TryStreamExt;
        // The server's clock (`hello.localTime`), as the heartbeats are stamped with it.
        let hello = p.db.run_command(doc! {"hello": 1}).await?;
        let now = hello
            .get_datetime("localTime")
            .copied()
            .unwrap_or_else(|_| mongodb::bson::DateTime::now());
        let cutoff =
            mongodb::bson::DateTime::from_millis(now.timestamp_millis() - STALE.as_millis() as i64);
        let stale: Vec<Document> = Self::coll(p)
            .find(doc! {"_id": {"$ne": &self.id}, "heartbeat": {"$lt": cutoff}})
            .await?
            .try_collect()
            .await?;
        let mut removed = 0;
        for lease in stale {
            let lsids: Vec<Bson> = lease
                .get_array("lsids")
                .map(|a| a.to_vec())
                .unwrap_or_default();
            if !lsids.is_empty() {
                p.db.client()
                    .database("admin")
                    .run_command(doc! {"killSessions": lsids.clone()})
                    .await?;
            }
            // Only if it is still the stale lease we saw (its owner may have come back).
            let gone = Self::coll(p)
                .delete_one(doc! {"_id": lease.get("_id").cloned().unwrap_or(Bson::Null), "heartbeat": lease.get("heartbeat").cloned().unwrap_or(Bson::Null)})
                .await?;
            if gone.deleted_count > 0 {
                removed += 1;
                p.ops
                    .telemetry
                    .incr(crate::telemetry::DEAD_WRITERS_REAPED_TOTAL, 1);
                tracing::warn!(
                    lease = %lease.get_str("_id").unwrap_or("?"),
                    sessions = lsids.len() as u64,
                    "killed the sessions of a writer that stopped heartbeating (a crashed process holding the LSN counter)"
                );
            }
        }
        Ok(removed)
    }

    /// Removes this process's lease (on a clean close).
    pub(crate) async fn remove(&self, p: &Project) {
        let _ = Self::coll(p).delete_one(doc! {"_id": &self.id}).await;
    }
}

/// Starts the heartbeat task (a weak reference: it ends with the project).
pub(crate) fn start(p: &std::sync::Arc<Project>) -> tokio::task::JoinHandle<()> {
    crate::ops::monitor::every(p, HEARTBEAT, |p| async move {
        if let Err(e) = p.leases.heartbeat(&p).await {
            tracing::debug!(error = %e, "writer lease heartbeat failed; retrying");
        }
    })
}
