//! The engine's public façade: `Argon` (a connected project), branch management, and
//! `Coll` (one collection on one branch, optionally at a past LSN).

use crate::branch::heads;
use crate::branch::meta::{info_document, levels, BranchMeta, Level};
use crate::branch::BranchId;
use crate::error::{ArgonError, Result};
use crate::lsn::Lsn;
use crate::names::{self, head_collection, validate_branch_name, validate_collection_name, MAIN};
use crate::ops::progress::Progress;
use crate::options::ConnectOptions;
use crate::project::Project;
use crate::read::query_opts::QueryOpts;
use crate::read::{DocCursor, FindOpts, ReadView};
use crate::timetravel::diff::{self, Counts, DiffOutcome, Point};
use crate::timetravel::timepoint::AtSpec;
use crate::wal::query;
use crate::write::{self, Change, InsertOutcome, ModifyOpts, ModifyOutcome, Target};
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::ReturnDocument;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A connected project.
#[derive(Clone)]
pub struct Argon {
    p: Arc<Project>,
}

impl Argon {
    pub async fn connect(uri: &str, opts: ConnectOptions) -> Result<Argon> {
        Ok(Argon {
            p: Project::connect(uri, opts).await?,
        })
    }

    pub fn project(&self) -> &Arc<Project> {
        &self.p
    }

    /// Whether writes run in transactions (replica set / sharded cluster).
    pub fn transactions(&self) -> bool {
        self.p.transactions
    }

    /// A collection handle on `branch` (no I/O; the branch is checked on first use).
    pub fn collection(&self, branch: &str, name: &str, at: Option<AtSpec>) -> Result<Coll> {
        validate_collection_name(name)?;
        Ok(Coll {
            p: self.p.clone(),
            branch: branch.to_string(),
            name: name.to_string(),
            at,
        })
    }

    /// Creates `name` as a child of `from`, seeing `from` as of now. O(1): it writes one
    /// metadata record and copies no data.
    /// `at` forks from a past point of `from` (an LSN, a time or a tag): still O(1).
    pub async fn create_branch(
        &self,
        name: &str,
        from: Option<&str>,
        at: Option<AtSpec>,
    ) -> Result<BranchMeta> {
        self.create_branch_with(name, from, at, false).await
    }

    /// `create_branch`, created protected (or not) in the same metadata write, so no
    /// unprotected branch is ever visible.
    pub async fn create_branch_with(
        &self,
        name: &str,
        from: Option<&str>,
        at: Option<AtSpec>,
        protected: bool,
    ) -> Result<BranchMeta> {
        self.p
            .ops
            .run_once(
                "createBranch",
                self.create_branch_inner(name, from, at, protected),
            )
            .await
    }

    async fn create_branch_inner(
        &self,
        name: &str,
        from: Option<&str>,
        at: Option<AtSpec>,
        protected: bool,
    ) -> Result<BranchMeta> {
        self.p.check_open()?;
        validate_branch_name(name)?;
        let from = match (from, &at) {
            (Some(f), _) => f.to_string(),
            (None, Some(AtSpec::Tag(tag))) => self
                .tag_info(tag)
                .await?
                .get_str("branch")
                .unwrap_or(MAIN)
                .to_string(),
            (None, _) => MAIN.to_string(),
        };
        let parent = self.p.branch_meta(&from).await?;
        let fork_lsn = match &at {
            Some(a) => {
                let lsn = self.p.resolve_at(a).await?;
                self.p.check_adopted_point(lsn).await?;
                lsn
            }
            None => self.p.committed_lsn().await?,
        };
        let seq = self
            .p
            .meta()
            .find_one_and_update(doc! {"_id": "branchSeq"}, doc! {"$inc": {"n": 1_i64}})
            .return_document(ReturnDocument::After)
            .await?
            .and_then(|d| d.get_i64("n").ok())
            .ok_or_else(|| ArgonError::Internal("branch sequence missing".into()))?;
        let meta = BranchMeta {
            name: name.to_string(),
            id: BranchId(
                i32::try_from(seq)
                    .map_err(|_| ArgonError::Internal("branch ids exhausted".into()))?,
            ),
            parent: Some(parent.name.clone()),
            parent_id: Some(parent.id),
            fork_lsn,
            created_at: DateTime::now(),
            protected,
        };
        match self.p.branches().insert_one(&meta).await {
            Ok(_) => {}
            Err(e) if crate::error::server_code_of(&e) == Some(11000) => {
                return Err(ArgonError::BranchExists(name.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
        self.p.forget_branch(name);
        self.p
            .ops
            .telemetry
            .incr(crate::telemetry::BRANCHES_CREATED_TOTAL, 1);
        tracing::info!(branch = name, from = %from, fork_lsn = fork_lsn.get(), "branch created");
        Ok(meta)
    }

    pub async fn branch_info(&self, name: &str) -> Result<Document> {
        self.p.forget_branch(name);
        let m = self.p.branch_meta(name).await?;
        let head = self.p.head_lsn(&m).await?;
        Ok(info_document(&m, head))
    }

    pub async fn list_branches(&self) -> Result<Vec<Document>> {
        self.p.check_open()?;
        use futures_util::TryStreamExt;
        let all: Vec<BranchMeta> = self
            .p
            .branches()
            .find(doc! {})
            .sort(doc! {"createdAt": 1, "id": 1})
            .await?
            .try_collect()
            .await?;
        let mut out = Vec::with_capacity(all.len());
        for m in &all {
            out.push(info_document(m, self.p.head_lsn(m).await?));
        }
        Ok(out)
    }

    /// The collections a branch shows, sorted: main's user collections (every branch
    /// inherits them) and the head collections of the branch and its ancestors.
    pub async fn list_collections(&self, branch: &str) -> Result<Vec<String>> {
        self.p.check_open()?;
        let chain = self.p.chain(branch).await?;
        let prefixes: Vec<String> = chain
            .iter()
            .filter(|b| !b.id.is_main())
            .map(|b| head_collection(b.id, ""))
            .collect();
        let mut out = std::collections::BTreeSet::new();
        for name in self.p.db.list_collection_names().await? {
            if !name.starts_with("__argon") && !name.starts_with("system.") {
                out.insert(name);
            } else if let Some(rest) = prefixes.iter().find_map(|p| name.strip_prefix(p.as_str())) {
                out.insert(rest.to_string());
            }
        }
        Ok(out.into_iter().collect())
    }

    pub async fn protect_branch(&self, name: &str, protected: bool) -> Result<()> {
        let r = self
            .p
            .branches()
            .update_one(doc! {"_id": name}, doc! {"$set": {"protected": protected}})
            .await?;
        self.p.forget_branch(name);
        if r.matched_count == 0 {
            return Err(ArgonError::BranchNotFound(name.to_string()));
        }
        Ok(())
    }

    /// Deletes a branch, its head collections and its WAL records. Refuses `main`,
    /// protected branches and branches that have children.
    pub async fn delete_branch(&self, name: &str) -> Result<()> {
        self.p
            .ops
            .run_once("deleteBranch", self.delete_branch_inner(name))
            .await
    }

    async fn delete_branch_inner(&self, name: &str) -> Result<()> {
        self.p.forget_branch(name);
        let m = self.p.branch_meta(name).await?;
        if m.name == MAIN {
            return Err(ArgonError::BranchProtected(format!(
                "{MAIN} (the root branch cannot be deleted)"
            )));
        }
        if m.protected {
            return Err(ArgonError::BranchProtected(name.to_string()));
        }
        let children = self
            .p
            .branches()
            .count_documents(doc! {"parent": name})
            .await?;
        if children > 0 {
            return Err(ArgonError::BranchHasChildren(format!(
                "branch {name:?} has {children} child branch(es); delete them first"
            )));
        }
        self.p.branches().delete_one(doc! {"_id": name}).await?;
        self.p.forget_branch(name);
        let prefix = format!("__argon.h.{}.", m.id);
        for coll in self.p.db.list_collection_names().await? {
            if let Some(user_coll) = coll.strip_prefix(&prefix) {
                self.p.db.collection::<Document>(&coll).drop().await?;
                heads::forget(&self.p, m.id, user_coll);
            }
        }
        self.p.wal().delete_many(query::of_branch(m.id)).await?;
        tracing::info!(branch = name, "branch deleted");
        Ok(())
    }

    pub async fn close(&self) {
        self.p.close().await;
    }

    /// Graceful close: waits up to `timeout` for operations in flight, then closes.
    /// Returns how many were still running.
    pub async fn close_within(&self, timeout: std::time::Duration) -> usize {
        self.p.close_within(timeout).await
    }

    /// The Prometheus text exposition (format 0.0.4) of this project's metrics.
    pub async fn metrics_text(&self) -> String {
        self.p.refresh_gauges(self.up()).await;
        self.p.ops.telemetry.render()
    }

    fn up(&self) -> bool {
        let db = self.p.ops.snapshot().db;
        db.ok || db.at.is_none()
    }

    /// The JSON form of the metrics: per-operation statistics, counters, the window
    /// health reads, the LSN, branches, breaker and process.
    pub async fn metrics_document(&self) -> Document {
        crate::ops::publish::metrics_document(&self.p).await
    }

    /// The snapshots every connected process of the project published (`ops/publish.rs`),
    /// newest report first.
    pub async fn processes(&self) -> Result<Vec<Document>> {
        self.p.check_open()?;
        crate::ops::publish::processes(&self.p).await
    }

    /// The server: `{ version, kind: "replicaSet" | "sharded" | "standalone", setName,
    /// transactions, lsn }` (lsn: the newest committed LSN).
    pub async fn server_info(&self) -> Result<Document> {
        self.p.check_open()?;
        let hello = self.p.db.run_command(doc! {"hello": 1}).await?;
        let build = self
            .p
            .client
            .database("admin")
            .run_command(doc! {"buildInfo": 1})
            .await?;
        let kind = if hello.get_str("msg") == Ok("isdbgrid") {
            "sharded"
        } else if hello.contains_key("setName") {
            "replicaSet"
        } else {
            "standalone"
        };
        let lsn = self.p.committed_lsn().await?;
        Ok(doc! {
            "version": build.get_str("version").unwrap_or("").to_string(),
            "kind": kind,
            "setName": hello.get_str("setName").ok().map(str::to_string),
            "transactions": self.p.transactions,
            "lsn": lsn.get(),
            "localTime": hello.get_datetime("localTime").ok().copied(),
        })
    }

    /// Publishes this process's snapshot now (the monitor does it every 10 s).
    pub async fn publish_now(&self) -> Result<()> {
        crate::ops::publish::publish(&self.p).await
    }

    /// Checks the storage invariants of a branch and collection (or all of them) and
    /// reports every problem found; changes nothing. `progress`: one step per branch and
    /// collection (`Progress::none()` for none).
    pub async fn verify(
        &self,
        branch: Option<&str>,
        collection: Option<&str>,
        progress: &Progress,
    ) -> Result<crate::ops::verify::Report> {
        self.p.check_open()?;
        self.p.capture_barrier().await?;
        self.p
            .ops
            .run_once("verify", self.p.verify(branch, collection, progress))
            .await
    }

    /// What each branch holds per collection: owned documents, WAL records, the oldest
    /// retained point, and what gc could free (`ops/storage.rs`). Changes nothing.
    pub async fn storage(&self) -> Result<crate::ops::storage::StorageReport> {
        self.p.check_open()?;
        self.p.ops.run_once("storage", self.p.storage()).await
    }

    pub fn reset_metrics(&self) {
        self.p.ops.telemetry.reset();
        self.p.ops.recent.clear();
    }

    /// Health now: runs the database check (bounded by `monitor.checkTimeoutMs`), then
    /// evaluates every check.
    pub async fn health(&self) -> Document {
        if !self.p.ops.is_closing() {
            self.p.ops.check_database(&self.p.db).await;
        }
        self.p.ops.health()
    }

    /// Runs one monitor round now (database check, gauges, alert rules).
    pub async fn monitor_tick(&self) {
        crate::ops::monitor::tick(&self.p).await;
    }

    /// Active alerts, or with `history` the last 100 transitions.
    pub fn alerts(&self, history: bool) -> Vec<Document> {
        self.p.ops.alerts(history)
    }

    pub fn set_event_sink(&self, sink: Option<crate::ops::EventSink>) {
        self.p.ops.set_sink(sink);
    }

    pub fn set_log_level(&self, level: Option<&str>) -> Result<()> {
        self.p.ops.set_log_level(level)
    }

    /// Turns on capture of outside writes for every collection of the project (pre-images
    /// included) and starts it in this process if it was off. Returns the collections.
    pub async fn enable_capture(&self) -> Result<Vec<String>> {
        self.p.check_open()?;
        self.p.enable_capture().await
    }

    /// Removes history no read inside the retention window, at a fork point or at a tag
    /// can reach (see `gc.rs`). With `dry_run`, only reports it. `progress`: `size`, then
    /// `collect`, one step per branch id.
    pub async fn gc(
        &self,
        dry_run: bool,
        progress: &Progress,
    ) -> Result<crate::timetravel::gc::GcOutcome> {
        self.p.check_open()?;
        self.p
            .ops
            .run_once("gc", self.p.gc(dry_run, progress))
            .await
    }

    /// Names a point: `branch` as of `at` (default: now). Returns the tag's LSN.
    pub async fn tag(&self, name: &str, branch: &str, at: Option<AtSpec>) -> Result<Lsn> {
        validate_branch_name(name).map_err(|_| {
            ArgonError::InvalidArgument(format!(
                "invalid tag name {name:?} (tags follow branch-name rules)"
            ))
        })?;
        self.p.branch_meta(branch).await?;
        let lsn = match &at {
            Some(a) => self.p.resolve_at(a).await?,
            None => self.p.committed_lsn().await?,
        };
        let d = doc! {"_id": name, "branch": branch, "lsn": lsn, "createdAt": DateTime::now()};
        match self
            .p
            .db
            .collection::<Document>(names::TAGS)
            .insert_one(d)
            .await
        {
            Ok(_) => Ok(lsn),
            Err(e) if crate::error::server_code_of(&e) == Some(11000) => {
                Err(ArgonError::TagExists(name.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn tag_info(&self, name: &str) -> Result<Document> {
        self.p
            .db
            .collection::<Document>(names::TAGS)
            .find_one(doc! {"_id": name})
            .await?
            .ok_or_else(|| ArgonError::TagNotFound(name.to_string()))
    }

    pub async fn list_tags(&self) -> Result<Vec<Document>> {
        use futures_util::TryStreamExt;
        Ok(self
            .p
            .db
            .collection::<Document>(names::TAGS)
            .find(doc! {})
            .sort(doc! {"lsn": 1, "_id": 1})
            .await?
            .try_collect()
            .await?)
    }

    pub async fn delete_tag(&self, name: &str) -> Result<()> {
        let r = self
            .p
            .db
            .collection::<Document>(names::TAGS)
            .delete_one(doc! {"_id": name})
            .await?;
        if r.deleted_count == 0 {
            return Err(ArgonError::TagNotFound(name.to_string()));
        }
        Ok(())
    }

    /// `{earliestLsn, latestLsn, earliestTime, latestTime, entries, retentionMs}` for a branch:
    /// the readable range and the number of WAL records the branch itself wrote.
    pub async fn time_travel_info(&self, branch: &str) -> Result<Document> {
        let m = self.p.branch_meta(branch).await?;
        // The latest LSN accounts for outside writes made before this call.
        self.p.capture_barrier().await?;
        let earliest = self.p.earliest_lsn().await?;
        let latest = self.p.committed_lsn().await?;
        let time_of = |lsn: Lsn| {
            let wal = self.p.wal();
            async move {
                Ok::<_, ArgonError>(
                    wal.find_one(query::at_or_before(lsn))
                        .sort(query::newest_first())
                        .projection(doc! {crate::wal::F_TIME: 1})
                        .await?
                        .and_then(|d| d.get_datetime(crate::wal::F_TIME).ok().copied()),
                )
            }
        };
        let entries = self
            .p
            .wal()
            .count_documents(query::after_cut(m.id, None, earliest))
            .await?;
        Ok(doc! {
            "earliestLsn": earliest,
            "latestLsn": latest,
            "earliestTime": time_of(earliest).await?.map(Bson::DateTime).unwrap_or(Bson::Null),
            "latestTime": time_of(latest).await?.map(Bson::DateTime).unwrap_or(Bson::Null),
            "entries": entries as i64,
            "retentionMs": self.p.retention_ms as i64,
            "capture": self.p.capture_status().as_str(),
        })
    }

    /// A branch's WAL records inside the retention window, counted in `buckets` equal
    /// time buckets (see `timetravel::timeline`).
    pub async fn timeline(&self, branch: &str, buckets: u32) -> Result<Document> {
        crate::timetravel::timeline::timeline(&self.p, branch, buckets).await
    }

    /// What changes from point `a` to point `b`.
    pub async fn diff(&self, a: &Point, b: &Point, detailed: bool) -> Result<DiffOutcome> {
        self.p
            .ops
            .run_once("diff", diff::diff(&self.p, a, b, detailed))
            .await
    }

    /// The first step of a detailed diff read in chunks: pins the snapshot and lists the
    /// candidate `_id`s per collection.
    pub async fn diff_plan(&self, a: &Point, b: &Point) -> Result<diff::DiffPlan> {
        diff::plan(&self.p, a, b).await
    }

    /// One chunk of a detailed diff (see `diff_plan`).
    pub async fn diff_chunk(
        &self,
        a: &Point,
        b: &Point,
        snapshot: Lsn,
        coll: &str,
        keys: &[Bson],
    ) -> Result<Vec<Document>> {
        Ok(diff::chunk(&self.p, a, b, snapshot, coll, keys, true)
            .await?
            .1)
    }

    /// What `reset_branch(branch, to)` would change, per collection. Changes nothing.
    pub async fn restore_preview(
        &self,
        branch: &str,
        to: ResetTo,
    ) -> Result<BTreeMap<String, Counts>> {
        let target = self.reset_target(branch, to).await?;
        let current = Point {
            branch: branch.to_string(),
            at: None,
        };
        Ok(self.diff(&current, &target, false).await?.per_collection)
    }

    async fn reset_target(&self, branch: &str, to: ResetTo) -> Result<Point> {
        let m = self.p.branch_meta(branch).await?;
        Ok(match to {
            ResetTo::Point(at) => Point {
                branch: branch.to_string(),
                at: Some(at),
            },
            ResetTo::Parent => Point {
                branch: m.parent.clone().ok_or_else(|| {
                    ArgonError::InvalidArgument(format!(
                        "branch {branch:?} has no parent to reset to"
                    ))
                })?,
                at: None,
            },
        })
    }

    /// Resets `branch` to an earlier point or to its parent's head. Unless `backup` is
    /// `None`, first creates a backup branch (O(1)) holding the current state, and
    /// returns its name. `progress`: `plan`, then `write`, one step per document written.
    pub async fn reset_branch(
        &self,
        branch: &str,
        to: ResetTo,
        backup: Option<String>,
        progress: &Progress,
    ) -> Result<ResetOutcome> {
        self.p
            .ops
            .run_once("resetBranch", async {
                self.p.forget_branch(branch);
                let m = self.p.branch_meta(branch).await?;
                if m.protected {
                    return Err(ArgonError::BranchProtected(branch.to_string()));
                }
                let target = self.reset_target(branch, to).await?;
                // Validate the target before creating anything.
                if let Some(at) = &target.at {
                    self.p.resolve_at(at).await?;
                }
                let backup = match backup {
                    Some(name) => {
                        self.create_branch(&name, Some(branch), None).await?;
                        Some(name)
                    }
                    None => None,
                };
                let changes =
                    crate::timetravel::reset::apply(&self.p, branch, &target, progress).await?;
                tracing::info!(branch, backup = ?backup, "branch reset");
                Ok(ResetOutcome { backup, changes })
            })
            .await
    }

    /// A free default name for a reset's backup branch.
    pub async fn default_backup_name(&self, branch: &str) -> Result<String> {
        let lsn = self.p.committed_lsn().await?;
        let mut name = format!("{branch}-backup-{lsn}");
        let mut n = 1;
        while self
            .p
            .branches()
            .find_one(doc! {"_id": &name})
            .await?
            .is_some()
        {
            n += 1;
            name = format!("{branch}-backup-{lsn}-{n}");
        }
        Ok(name)
    }
}

/// Where `reset_branch` goes.
#[derive(Debug, Clone)]
pub enum ResetTo {
    Point(AtSpec),
    Parent,
}

#[derive(Debug)]
pub struct ResetOutcome {
    pub backup: Option<String>,
    pub changes: BTreeMap<String, Counts>,
}

/// A user transaction (`session.startTransaction()`), shared by every call made in it.
#[derive(Clone)]
pub struct Txn(Arc<tokio::sync::Mutex<write::session::UserTxn>>);

impl Txn {
    /// Commits every write of the transaction at once, under one LSN; returns how many
    /// WAL records it wrote.
    pub async fn commit(&self) -> Result<u64> {
        self.0.lock().await.commit().await
    }

    /// Aborts: nothing of the transaction remains.
    pub async fn abort(&self) -> Result<()> {
        self.0.lock().await.abort().await
    }
}

impl Argon {
    /// Starts a transaction (see `write/session.rs`); returns its id for the calls made in it.
    pub async fn begin_transaction(&self) -> Result<u64> {
        self.p.check_open()?;
        let t = write::session::UserTxn::begin(&self.p).await?;
        let id = self
            .p
            .next_txn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.p
            .user_txns
            .lock()
            .expect("txns")
            .insert(id, Txn(Arc::new(tokio::sync::Mutex::new(t))));
        Ok(id)
    }

    /// Commits transaction `id`. It stays known (a retried commit is harmless) until ended.
    pub async fn commit_transaction(&self, id: u64) -> Result<()> {
        let t = self.p.txn(id)?;
        let records = self.p.ops.run_once("commitTransaction", t.commit()).await?;
        self.p
            .ops
            .telemetry
            .incr(crate::telemetry::WAL_RECORDS_TOTAL, records);
        Ok(())
    }

    /// Aborts transaction `id` and forgets it.
    pub async fn abort_transaction(&self, id: u64) -> Result<()> {
        let t = self.p.txn(id)?;
        let r = self.p.ops.run_once("abortTransaction", t.abort()).await;
        self.end_transaction(id);
        r
    }

    /// Forgets transaction `id` (an unfinished one is aborted when dropped).
    pub fn end_transaction(&self, id: u64) {
        self.p.user_txns.lock().expect("txns").remove(&id);
    }
}

impl Argon {
    /// The key a change stream starts after: now, or just before LSN `at`.
    pub async fn stream_start(&self, at: Option<i64>) -> Result<i64> {
        self.p.check_open()?;
        crate::read::stream::start_key(&self.p, at).await
    }

    /// Change events after `after` (a resume key) for `branch` (its own writes) and
    /// `collection`, or every branch / collection; at most `limit`, in commit order.
    #[allow(clippy::too_many_arguments)]
    pub async fn stream_events(
        &self,
        branch: Option<&str>,
        collection: Option<&str>,
        after: i64,
        limit: i64,
        full_document: bool,
        pipeline: Vec<Document>,
    ) -> Result<Vec<Document>> {
        self.p.check_open()?;
        let scope = crate::read::stream::Scope {
            branch: match branch {
                Some(b) => Some(self.p.branch_meta(b).await?.id),
                None => None,
            },
            collection: collection.map(str::to_string),
        };
        let o = crate::read::stream::StreamOpts {
            full_document,
            pipeline,
        };
        let mut events = crate::read::stream::events(&self.p, &scope, after, limit, &o).await?;
        // Name the branch of each event.
        use futures_util::TryStreamExt;
        let names: std::collections::HashMap<i32, String> = self
            .p
            .branches()
            .find(doc! {})
            .await?
            .try_collect::<Vec<BranchMeta>>()
            .await?
            .into_iter()
            .map(|m| (m.id.0, m.name))
            .collect();
        for e in &mut events {
            if let Some(Bson::Int32(id)) = e.remove("__branch") {
                let name = names
                    .get(&id)
                    .cloned()
                    .map(Bson::String)
                    .unwrap_or(Bson::Null);
                e.insert("branch", name);
            }
        }
        Ok(events)
    }
}

impl Project {
    pub(crate) fn txn(&self, id: u64) -> Result<Txn> {
        self.user_txns
            .lock()
            .expect("txns")
            .get(&id)
            .cloned()
            .ok_or_else(|| ArgonError::InvalidTransaction(format!("no open transaction {id}")))
    }
}

/// Drains a cursor read in a transaction's session.
async fn drain(
    mut cur: mongodb::SessionCursor<Document>,
    s: &mut mongodb::ClientSession,
) -> Result<Vec<Document>> {
    let mut out = Vec::new();
    while let Some(d) = cur.next(&mut *s).await {
        out.push(d?);
    }
    Ok(out)
}

/// One collection on one branch, at its head (`at == None`) or at a past LSN (read-only).
#[derive(Clone)]
pub struct Coll {
    p: Arc<Project>,
    branch: String,
    name: String,
    at: Option<AtSpec>,
}

fn check_reserved(docs: &[&Document]) -> Result<()> {
    docs.iter()
        .try_for_each(|d| names::check_no_reserved_paths(d))
}

/// A write's filter, sort and change may not name Argon's reserved fields.
fn check_modify(filter: &Document, change: &Change, o: &ModifyOpts) -> Result<()> {
    check_reserved(&[filter])?;
    if let Some(s) = &o.sort {
        check_reserved(&[s])?;
    }
    match change {
        Change::Update {
            update: Bson::Document(u),
            array_filters,
        } => {
            check_reserved(&[u])?;
            if let Some(af) = array_filters {
                check_reserved(&af.iter().collect::<Vec<_>>())?;
            }
        }
        Change::Update {
            update: Bson::Array(stages),
            ..
        } => {
            for s in stages.iter().filter_map(|s| s.as_document()) {
                check_reserved(&[s])?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl Coll {
    /// This collection's operations (log records name the branch and the collection).
    fn ops(&self) -> crate::ops::Scope<'_> {
        self.p.ops.scope(&self.branch, &self.name)
    }
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn chain_levels(&self) -> Result<(Vec<Level>, Vec<BranchId>)> {
        self.p.check_open()?;
        let chain = self.p.chain(&self.branch).await?;
        let owned: Vec<BranchMeta> = chain.iter().map(|b| (**b).clone()).collect();
        let ids = owned.iter().map(|b| b.id).collect();
        let at = match &self.at {
            Some(a) => {
                let lsn = self.p.resolve_at(a).await?;
                self.p.adoption(&self.name).await?.check(&self.name, lsn)?;
                Some(lsn)
            }
            None => None,
        };
        let lv = levels(&owned, at);
        if !crate::read::view::is_plain(&lv) {
            // Reads below main's head must not see outside writes the WAL lacks.
            self.p.capture_barrier().await?;
        }
        Ok((lv, ids))
    }

    /// Where a write goes: the branch's levels (all at their heads) and its unique indexes,
    /// its head collection made sure of.
    async fn target(&self) -> Result<Target<'_>> {
        if let Some(at) = &self.at {
            return Err(ArgonError::ReadOnly(format!(
                "branch {:?} at {at:?} is a past view; write to the branch itself",
                self.branch
            )));
        }
        let (levels, ids) = self.chain_levels().await?;
        self.p.adoption(&self.name).await?;
        let uniques = heads::ensure_head(&self.p, &ids, &self.name).await?;
        Ok(Target {
            p: &self.p,
            coll: &self.name,
            levels,
            uniques,
        })
    }

    /// User transaction `txn`, locked, with this collection's branch entered into it (one
    /// branch at its head per transaction).
    async fn enter_txn(
        &self,
        txn: u64,
    ) -> Result<tokio::sync::OwnedMutexGuard<write::session::UserTxn>> {
        let mut g = self.p.txn(txn)?.0.lock_owned().await;
        g.enter(&self.branch, self.at.is_some())?;
        Ok(g)
    }

    async fn view(&self) -> Result<Vec<Level>> {
        Ok(self.chain_levels().await?.0)
    }

    pub async fn insert_many(
        &self,
        docs: Vec<Document>,
        ordered: bool,
    ) -> Result<(Vec<Bson>, InsertOutcome)> {
        self.insert_many_as("insertMany", docs, ordered).await
    }

    /// `insert_many` recorded in metrics as `op` (`insertOne` or `insertMany`).
    pub async fn insert_many_as(
        &self,
        op: &str,
        mut docs: Vec<Document>,
        ordered: bool,
    ) -> Result<(Vec<Bson>, InsertOutcome)> {
        let mut fut = Some(async {
            write::prepare_inserts(&mut docs)?;
            let target = self.target().await?;
            let ids = docs
                .iter()
                .map(|d| d.get("_id").cloned().unwrap_or(Bson::Null))
                .collect();
            Ok((ids, write::insert_many(&target, docs, ordered).await?))
        });
        // Per-document errors count as an error of the call (with the first one's code).
        self.ops()
            .run_classified(
                crate::telemetry::operation(op),
                false,
                || fut.take().expect("polled once"),
                |(_, out): &(Vec<Bson>, InsertOutcome)| {
                    out.errors.first().map(|(_, e)| e.metric_code())
                },
            )
            .await
    }

    /// `insert_many` inside a user transaction: one attempt; an error fails the call (and,
    /// as in MongoDB, the transaction).
    pub async fn insert_many_txn(
        &self,
        txn: u64,
        op: &str,
        mut docs: Vec<Document>,
    ) -> Result<Vec<Bson>> {
        self.ops()
            .run_once(crate::telemetry::operation(op), async {
                let mut g = self.enter_txn(txn).await?;
                write::prepare_inserts(&mut docs)?;
                let target = self.target().await?;
                let (s, mut alloc) = g.parts();
                let r = write::insert_batch(&target, s, &mut alloc, &docs).await;
                let next = alloc.next_key();
                g.keep(next);
                r.map_err(ArgonError::from)?;
                Ok(docs
                    .iter()
                    .map(|d| d.get("_id").cloned().unwrap_or(Bson::Null))
                    .collect())
            })
            .await
    }

    /// `modify` inside a user transaction.
    pub async fn modify_txn(
        &self,
        txn: u64,
        op: &str,
        filter: Document,
        change: Change,
        o: ModifyOpts,
    ) -> Result<ModifyOutcome> {
        self.ops()
            .run_once(crate::telemetry::operation(op), async {
                let mut g = self.enter_txn(txn).await?;
                check_modify(&filter, &change, &o)?;
                write::check_change(&change)?;
                let target = self.target().await?;
                let (s, mut alloc) = g.parts();
                let r = write::modify_in_txn(&target, s, &filter, &change, &o, &mut alloc).await;
                let next = alloc.next_key();
                g.keep(next);
                Ok(r?)
            })
            .await
    }

    /// `find` inside a user transaction: reads its own writes. The documents are read at
    /// once (a transaction's reads are bounded by its lifetime anyway).
    pub async fn find_txn(&self, txn: u64, filter: Document, o: FindOpts) -> Result<Vec<Document>> {
        self.ops()
            .run_once("find", async {
                let mut g = self.enter_txn(txn).await?;
                check_reserved(&[&filter])?;
                let levels = self.view().await?;
                let (s, _) = g.parts();
                if crate::read::view::is_plain(&levels) {
                    let coll = self.p.db.collection::<Document>(&self.name);
                    let cur = crate::read::plain_find(&coll, filter, &o)
                        .session(&mut *s)
                        .await?;
                    return drain(cur, s).await;
                }
                if o.projection.as_ref().is_some_and(|p| !p.is_empty()) {
                    return Err(ArgonError::InvalidTransaction(
                        "a projection inside a transaction is supported on main only; project the documents yourself".into(),
                    ));
                }
                let skip = o.skip.unwrap_or(0) as usize;
                let limit = o.limit.filter(|l| *l != 0).map(|l| l.unsigned_abs() as usize);
                let q = crate::read::view::ViewQuery {
                    filter,
                    sort: o.sort.as_ref(),
                    limit: limit.map(|l| l.saturating_add(skip).min(i64::MAX as usize) as i64),
                    exact_ids: o.q.collated(),
                    ..Default::default()
                };
                let target = self.read_target(levels);
                let mut docs = write::view_in_txn_with(&target, s, &q, &o.q).await?;
                for d in &mut docs {
                    names::strip_reserved(d);
                }
                let mut docs: Vec<Document> = docs.into_iter().skip(skip).collect();
                if let Some(l) = limit {
                    docs.truncate(l);
                }
                Ok(docs)
            })
            .await
    }

    /// A view to read in a transaction: the levels, no unique indexes to check.
    fn read_target(&self, levels: Vec<Level>) -> Target<'_> {
        Target {
            p: &self.p,
            coll: &self.name,
            levels,
            uniques: Vec::new(),
        }
    }

    /// `aggregate` inside a user transaction (reads its own writes), read at once. On
    /// main's head the pipeline runs on the collection in the transaction's session.
    /// Elsewhere `$unionWith` is not allowed in a transaction, so the view's documents
    /// (filtered by a leading `$match`) are read part by part and the rest of the pipeline
    /// runs over them with `$documents`: up to MongoDB's 16 MB command size.
    pub async fn aggregate_txn(
        &self,
        txn: u64,
        mut user: Vec<Document>,
        qo: QueryOpts,
    ) -> Result<Vec<Document>> {
        self.ops()
            .run_once("aggregate", async {
                let mut g = self.enter_txn(txn).await?;
                check_reserved(&user.iter().collect::<Vec<_>>())?;
                crate::read::check_pipeline(&user)?;
                let levels = self.view().await?;
                let (s, _) = g.parts();
                if crate::read::view::is_plain(&levels) {
                    let mut pipeline = vec![doc! {"$unset": names::F_LSN}];
                    pipeline.append(&mut user);
                    let cur = self
                        .p
                        .db
                        .collection::<Document>(&self.name)
                        .aggregate(pipeline)
                        .with_options(qo.aggregate(true, None))
                        .session(&mut *s)
                        .await?;
                    return drain(cur, s).await;
                }
                let filter = match user.first().and_then(|st| st.get_document("$match").ok()) {
                    Some(m) => {
                        let m = m.clone();
                        user.remove(0);
                        m
                    }
                    None => doc! {},
                };
                let q = crate::read::view::ViewQuery {
                    filter,
                    exact_ids: qo.collated(),
                    ..Default::default()
                };
                let target = self.read_target(levels);
                let docs = write::view_in_txn_with(&target, s, &q, &qo).await?;
                let docs: Vec<Bson> = docs
                    .into_iter()
                    .map(|mut d| {
                        names::strip_reserved(&mut d);
                        Bson::Document(d)
                    })
                    .collect();
                let mut pipeline = vec![doc! {"$documents": docs}];
                pipeline.append(&mut user);
                let cur = self
                    .p
                    .db
                    .aggregate(pipeline)
                    .with_options(qo.aggregate(false, None))
                    .session(&mut *s)
                    .await?;
                drain(cur, s).await
            })
            .await
    }

    /// `distinct` inside a user transaction, as an aggregation (`aggregate_txn`).
    pub async fn distinct_txn(
        &self,
        txn: u64,
        field: &str,
        filter: Document,
        qo: QueryOpts,
    ) -> Result<Vec<Bson>> {
        crate::read::check_distinct(field, &qo)?;
        check_reserved(&[&filter, &doc! {field: 1}])?;
        let pipeline = crate::read::distinct_stages(field, Some(filter));
        let groups = self.aggregate_txn(txn, pipeline, qo).await?;
        Ok(groups
            .into_iter()
            .map(|mut d| d.remove("_id").unwrap_or(Bson::Null))
            .collect())
    }

    /// `bulkWrite`: the operations as one logical write (one LSN), ordered or not.
    pub async fn bulk_write(
        &self,
        mut ops: Vec<write::bulk::BulkOp>,
        ordered: bool,
    ) -> Result<write::bulk::BulkOutcome> {
        let mut fut = Some(async {
            for op in &mut ops {
                match op {
                    write::bulk::BulkOp::Insert(d) => {
                        write::prepare_inserts(std::slice::from_mut(d))?;
                    }
                    write::bulk::BulkOp::Modify {
                        filter,
                        change,
                        opts,
                    } => {
                        check_modify(filter, change, opts)?;
                        write::check_change(change)?;
                    }
                }
            }
            let target = self.target().await?;
            write::bulk::bulk_write(&target, &ops, ordered).await
        });
        self.ops()
            .run_classified(
                "bulkWrite",
                false,
                || fut.take().expect("polled once"),
                |out: &write::bulk::BulkOutcome| out.errors.first().map(|(_, e)| e.metric_code()),
            )
            .await
    }

    pub async fn modify(
        &self,
        op: &str,
        filter: Document,
        change: Change,
        o: ModifyOpts,
    ) -> Result<ModifyOutcome> {
        self.ops()
            .run_once(crate::telemetry::operation(op), async {
                check_modify(&filter, &change, &o)?;
                // Writes on main do not wait for capture (they stay on the hot path): an
                // outside write that an Argon write supersedes before capture reaches it is
                // folded into Argon's version. Child writes passed the barrier in `target`.
                let target = self.target().await?;
                write::modify(&target, filter, change, o).await
            })
            .await
    }

    pub async fn find(&self, filter: Document, o: FindOpts) -> Result<DocCursor> {
        self.find_as("find", filter, o).await
    }

    /// `find` recorded in metrics as `op` (`find` or `findOne`).
    pub async fn find_as(&self, op: &str, filter: Document, o: FindOpts) -> Result<DocCursor> {
        self.ops()
            .run(crate::telemetry::operation(op), true, || {
                let filter = filter.clone();
                let o = o.clone();
                async move {
                    check_reserved(&[&filter])?;
                    for d in [&o.sort, &o.projection].into_iter().flatten() {
                        check_reserved(&[d])?;
                    }
                    let levels = self.view().await?;
                    ReadView {
                        p: &self.p,
                        coll: &self.name,
                        levels,
                    }
                    .find(filter, o)
                    .await
                }
            })
            .await
    }

    pub async fn find_one(&self, filter: Document, o: FindOpts) -> Result<Option<Document>> {
        let opts = FindOpts {
            limit: Some(1),
            ..o
        };
        Ok(self
            .find_as("findOne", filter, opts)
            .await?
            .collect()
            .await?
            .pop())
    }

    pub async fn count_documents(
        &self,
        filter: Document,
        skip: Option<u64>,
        limit: Option<i64>,
        qo: QueryOpts,
    ) -> Result<u64> {
        self.ops()
            .run("countDocuments", true, || {
                let filter = filter.clone();
                let qo = &qo;
                async move {
                    check_reserved(&[&filter])?;
                    let levels = self.view().await?;
                    ReadView {
                        p: &self.p,
                        coll: &self.name,
                        levels,
                    }
                    .count(filter, skip, limit, qo)
                    .await
                }
            })
            .await
    }

    pub async fn estimated_document_count(&self) -> Result<u64> {
        let levels = self.view().await?;
        ReadView {
            p: &self.p,
            coll: &self.name,
            levels,
        }
        .estimated_count()
        .await
    }

    pub async fn distinct(
        &self,
        field: &str,
        filter: Document,
        qo: QueryOpts,
    ) -> Result<Vec<Bson>> {
        self.ops()
            .run("distinct", true, || {
                let filter = filter.clone();
                let qo = &qo;
                async move {
                    check_reserved(&[&filter, &doc! {field: 1}])?;
                    let levels = self.view().await?;
                    ReadView {
                        p: &self.p,
                        coll: &self.name,
                        levels,
                    }
                    .distinct(field, filter, qo)
                    .await
                }
            })
            .await
    }

    pub async fn aggregate(
        &self,
        pipeline: Vec<Document>,
        batch: Option<u32>,
        qo: QueryOpts,
    ) -> Result<DocCursor> {
        self.ops()
            .run("aggregate", true, || {
                let pipeline = pipeline.clone();
                let qo = &qo;
                async move {
                    check_reserved(&pipeline.iter().collect::<Vec<_>>())?;
                    let levels = self.view().await?;
                    ReadView {
                        p: &self.p,
                        coll: &self.name,
                        levels,
                    }
                    .aggregate(pipeline, batch, qo)
                    .await
                }
            })
            .await
    }

    /// Every version of one document as this branch sees its history, newest first:
    /// `{lsn, time, op, document}` (document is null for deletes). `before` pages.
    pub async fn history(
        &self,
        id: Bson,
        limit: i64,
        before: Option<Lsn>,
    ) -> Result<Vec<Document>> {
        use futures_util::TryStreamExt;
        let levels = self.view().await?;
        let mut out = Vec::new();
        let limit = limit.clamp(1, 10_000);
        for l in &levels {
            let mut range = Document::new();
            if let Some(c) = l.cut {
                range.insert("$lte", c.cut_key());
            }
            if let Some(b) = before {
                range.insert("$lt", b.first_key());
            }
            let filter = query::versions(l.id, &self.name, id.clone(), Some(range));
            let remaining = limit - out.len() as i64;
            if remaining <= 0 {
                break;
            }
            let recs: Vec<Document> = self
                .p
                .wal()
                .find(filter)
                .sort(query::versions_sort())
                .limit(remaining)
                .await?
                .try_collect()
                .await?;
            if recs.is_empty() && l.id == names::MAIN_ID && before.is_none() {
                // An adopted document nobody changed: its one version is the adopted one.
                if let Some(mut d) = self.p.adopted_row(&self.name, &id).await? {
                    names::strip_reserved(&mut d);
                    let a = self.p.adoption(&self.name).await?;
                    out.push(doc! {"lsn": a.lsn, "time": a.at, "op": "adopted", "document": d});
                }
            }
            for r in &recs {
                let v = query::version_of(r);
                let op = match v.op {
                    crate::wal::OP_INSERT => "insert",
                    crate::wal::OP_UPDATE => "update",
                    crate::wal::OP_REPLACE => "replace",
                    crate::wal::OP_DELETE => "delete",
                    crate::adopt::OP_ADOPT => "adopted",
                    other => other,
                };
                out.push(doc! {
                    "lsn": v.lsn,
                    "time": v.time,
                    "op": op,
                    "document": v.doc,
                });
            }
        }
        Ok(out)
    }

    pub async fn create_index(&self, keys: Document, options: Document) -> Result<String> {
        check_reserved(&[&keys])?;
        let levels = self.target().await?.levels;
        let id = levels[0].id;
        let coll = self
            .p
            .db
            .collection::<Document>(&head_collection(id, &self.name));
        let mut spec = options.clone();
        spec.insert("key", keys.clone());
        self.p.mirror_indexes(std::slice::from_ref(&spec)).await?;
        let name = if id == names::MAIN_ID {
            let opts: mongodb::options::IndexOptions = mongodb::bson::from_document(options)?;
            let model = mongodb::IndexModel::builder()
                .keys(keys)
                .options(opts)
                .build();
            coll.create_index(model).await?.index_name
        } else {
            let model = heads::child_index_model(&spec)?.ok_or_else(|| {
                ArgonError::InvalidArgument("cannot create an index named _id_".into())
            })?;
            let r = coll.create_index(model).await?.index_name;
            heads::forget(&self.p, id, &self.name);
            r
        };
        Ok(name)
    }

    pub async fn drop_index(&self, name: &str) -> Result<()> {
        let levels = self.target().await?.levels;
        let id = levels[0].id;
        self.p
            .db
            .collection::<Document>(&head_collection(id, &self.name))
            .drop_index(name)
            .await?;
        heads::forget(&self.p, id, &self.name);
        Ok(())
    }

    pub async fn list_indexes(&self) -> Result<Vec<Document>> {
        let (_, ids) = self.chain_levels().await?;
        heads::effective_specs(&self.p, &ids, &self.name).await
    }

    /// Deletes every document through the WAL (so history keeps them), then on `main`
    /// drops the collection and its indexes.
    /// Makes sure the collection exists on the branch (MongoDB's `create`): main's
    /// collection, or the branch's head. Idempotent; a past view is READ_ONLY.
    pub async fn create(&self) -> Result<()> {
        let t = self.target().await?;
        if t.levels[0].id.is_main() {
            match self.p.db.create_collection(&self.name).await {
                Ok(()) => {}
                Err(e) if crate::error::server_code_of(&e) == Some(48) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub async fn drop(&self) -> Result<bool> {
        let out = self
            .modify(
                "drop",
                doc! {},
                Change::Delete,
                ModifyOpts {
                    multi: true,
                    ..Default::default()
                },
            )
            .await?;
        let levels = self.target().await?.levels;
        if levels[0].id == names::MAIN_ID {
            self.p.db.collection::<Document>(&self.name).drop().await?;
            heads::forget(&self.p, names::MAIN_ID, &self.name);
        }
        Ok(out.deleted > 0)
    }
}
