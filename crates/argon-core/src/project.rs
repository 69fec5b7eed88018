//! A project: one MongoDB database holding user collections plus Argon's reserved ones.
//! Connects, checks the deployment, initialises metadata, and caches branch metadata.

use crate::branch::meta::BranchMeta;
use crate::branch::BranchId;
use crate::error::{ArgonError, Result};
use crate::lsn::{Lsn, RecordKey};
use crate::names::{self, BRANCHES, META, WAL};
use crate::options::ConnectOptions;
use lru::LruCache;
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database, IndexModel};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Version of the on-disk layout this build writes. A project with a newer version is
/// refused with `FORMAT_VERSION`; an older one is migrated on connect (see
/// `wal::migrate`). 2: WAL records keep the image of the version they supersede (`pd`).
pub const FORMAT_VERSION: i32 = 2;

/// Shared state of one connected project.
pub struct Project {
    pub(crate) client: Client,
    pub(crate) db: Database,
    /// Whether the deployment supports multi-document transactions (replica set/mongos).
    pub(crate) transactions: bool,
    pub(crate) max_txn_retries: usize,
    pub(crate) txn_timeout: Duration,
    /// The time-travel retention window.
    pub(crate) retention_ms: u64,
    cache_ttl: Duration,
    branch_cache: Mutex<LruCache<String, (Instant, Arc<BranchMeta>)>>,
    /// Head collections known to exist (with indexes copied), keyed by (branch id, coll).
    pub(crate) known_heads:
        Mutex<LruCache<(BranchId, String), Vec<crate::branch::heads::UniqueIndex>>>,
    closed: AtomicBool,
    /// Highest committed LSN seen (committed LSNs only grow, so a point at or below it
    /// needs no query).
    pub(crate) seen_lsn: std::sync::atomic::AtomicI64,
    /// The retention boundary, cached briefly: (when computed, earliest LSN).
    pub(crate) earliest_cache: Mutex<Option<(Instant, Lsn)>>,
    /// This process's write transactions: they all touch the LSN counter, so they run one
    /// at a time, and writes that queue meanwhile share one transaction (group commit).
    pub(crate) write_groups: crate::write::txn::WriteGroups,
    /// Names of the WAL indexes mirroring user indexes that this process made sure of.
    pub(crate) mirrored: Mutex<crate::wal::Mirrored>,
    /// Adoption points of the collections this process has met (records never change).
    pub(crate) adoptions: Mutex<std::collections::HashMap<String, crate::adopt::Adoption>>,
    /// The background garbage collector (`gcIntervalMs`), when on.
    gc_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Capture of outside writes (see `capture.rs`).
    pub(crate) capture: crate::capture::Capture,
    /// Metrics, health, alerts, breaker and retries (see `ops/`).
    pub ops: crate::ops::Ops,
    /// The monitor task, when on.
    pub(crate) monitor_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// This process's writer lease (its write sessions and heartbeat; `write/lease.rs`).
    pub(crate) leases: crate::write::lease::Leases,
    lease_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The `appName` this process connected with (shown in published snapshots).
    pub(crate) app_name: String,
    /// The task publishing this process's snapshot (`ops/publish.rs`), when on.
    publish_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Open user transactions, by the id the embedding layer holds.
    pub(crate) user_txns: Mutex<std::collections::HashMap<u64, crate::api::Txn>>,
    pub(crate) next_txn: std::sync::atomic::AtomicU64,
}

impl Project {
    pub async fn connect(uri: &str, opts: ConnectOptions) -> Result<Arc<Project>> {
        if opts.database.is_empty()
            || opts
                .database
                .contains(['/', '\\', '.', ' ', '"', '$', '\0'])
        {
            return Err(ArgonError::InvalidArgument(format!(
                "invalid database name {:?}",
                opts.database
            )));
        }
        let ops = crate::ops::OpsOptions::from_connect(
            opts.monitor.clone(),
            opts.retry.clone(),
            opts.breaker.clone(),
            opts.slow_operation_ms,
            opts.metrics,
        )?;
        let mut co = ClientOptions::parse(uri).await.map_err(|e| match *e.kind {
            mongodb::error::ErrorKind::InvalidArgument { message, .. } => {
                ArgonError::InvalidUri(crate::ops::logs::redact(&message))
            }
            _ => ArgonError::InvalidUri(crate::ops::logs::redact(&e.to_string())),
        })?;
        if let Some(ms) = opts.server_selection_timeout_ms {
            co.server_selection_timeout = Some(Duration::from_millis(ms));
        } else if co.server_selection_timeout.is_none() {
            co.server_selection_timeout = Some(Duration::from_secs(10));
        }
        if co.connect_timeout.is_none() {
            co.connect_timeout = co.server_selection_timeout;
        }
        if let Some(name) = &opts.app_name {
            co.app_name = Some(name.clone());
        } else if co.app_name.is_none() {
            co.app_name = Some("argondb".into());
        }
        let client = Client::with_options(co)
            .map_err(|e| ArgonError::InvalidUri(crate::ops::logs::redact(&e.to_string())))?;
        let db = client.database(&opts.database);
        let hello = client
            .database("admin")
            .run_command(doc! {"hello": 1})
            .await?;
        let transactions = (hello.contains_key("setName")
            || hello.get_str("msg").ok() == Some("isdbgrid"))
            && hello.contains_key("logicalSessionTimeoutMinutes");
        let cache_size = NonZeroUsize::new(opts.metadata_cache_size.unwrap_or(1024).max(1))
            .expect("max(1) is non-zero");
        let project = Project {
            client,
            db,
            transactions,
            max_txn_retries: opts.max_transaction_retries.unwrap_or(10_000),
            txn_timeout: Duration::from_millis(opts.transaction_timeout_ms.unwrap_or(75_000)),
            retention_ms: opts.retention_ms.unwrap_or(7 * 86_400_000),
            cache_ttl: Duration::from_millis(opts.metadata_cache_ms.unwrap_or(1000)),
            branch_cache: Mutex::new(LruCache::new(cache_size)),
            known_heads: Mutex::new(LruCache::new(NonZeroUsize::new(4096).expect("4096"))),
            closed: AtomicBool::new(false),
            seen_lsn: std::sync::atomic::AtomicI64::new(0),
            earliest_cache: Mutex::new(None),
            write_groups: Default::default(),
            adoptions: Mutex::new(std::collections::HashMap::new()),
            mirrored: Mutex::new(Default::default()),
            gc_task: Mutex::new(None),
            capture: Default::default(),
            ops: crate::ops::Ops::new(ops),
            monitor_task: Mutex::new(None),
            leases: Default::default(),
            lease_task: Mutex::new(None),
            app_name: opts.app_name.clone().unwrap_or_default(),
            publish_task: Mutex::new(None),
            user_txns: Mutex::new(std::collections::HashMap::new()),
            next_txn: std::sync::atomic::AtomicU64::new(1),
        };
        let migrated = project.init().await?;
        let colls = project.user_collections().await?;
        if migrated {
            for c in &colls {
                project.mirror_indexes_of(c).await?;
            }
        }
        project.adopt_all(&colls).await?;
        let project = Arc::new(project);
        project
            .start_capture(opts.capture.as_deref(), &colls)
            .await?;
        if let Some(ms) = opts.gc_interval_ms.filter(|ms| *ms > 0) {
            let weak = Arc::downgrade(&project);
            let every = Duration::from_millis(ms);
            let task = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(p) = weak.upgrade() else { return };
                    if p.check_open().is_err() {
                        return;
                    }
                    if let Err(e) = p.gc(false, &crate::ops::progress::Progress::none()).await {
                        tracing::warn!(error = %e, "background garbage collection failed; retrying at the next interval");
                    }
                }
            });
            *project.gc_task.lock().expect("gc task") = Some(task);
        }
        *project.monitor_task.lock().expect("monitor task") = crate::ops::monitor::start(&project);
        *project.publish_task.lock().expect("publish task") =
            crate::ops::monitor::start_publisher(&project);
        if project.transactions {
            *project.lease_task.lock().expect("lease task") =
                Some(crate::write::lease::start(&project));
        }
        tracing::info!(database = %opts.database, transactions, "argon project opened");
        Ok(project)
    }

    /// Creates the reserved collections' singletons and indexes (idempotent), and
    /// migrates a project written in an older format. True when it migrated.
    async fn init(&self) -> Result<bool> {
        let meta: Collection<Document> = self.db.collection(META);
        let now = DateTime::now();
        meta.update_one(
            doc! {"_id": "format"},
            doc! {"$setOnInsert": {"version": FORMAT_VERSION, "createdAt": now}},
        )
        .upsert(true)
        .await
        .map(|_| ())
        .or_else(ignore_dup)?;
        let fmt = meta
            .find_one(doc! {"_id": "format"})
            .await?
            .ok_or_else(|| ArgonError::Internal("format record missing".into()))?;
        let version = fmt.get_i32("version").unwrap_or(0);
        if version > FORMAT_VERSION {
            return Err(ArgonError::FormatVersion(version));
        }
        let migrate = version < FORMAT_VERSION;
        for id in ["lsn", "branchSeq"] {
            meta.update_one(doc! {"_id": id}, doc! {"$setOnInsert": {"n": 0_i64}})
                .upsert(true)
                .await
                .map(|_| ())
                .or_else(ignore_dup)?;
        }
        let branches: Collection<BranchMeta> = self.db.collection(BRANCHES);
        let main = BranchMeta::main(now);
        let main_doc = mongodb::bson::to_document(&main)?;
        branches
            .clone_with_type::<Document>()
            .update_one(doc! {"_id": names::MAIN}, doc! {"$setOnInsert": main_doc})
            .upsert(true)
            .await
            .map(|_| ())
            .or_else(ignore_dup)?;
        let wal: Collection<Document> = self.db.collection(WAL);
        wal.create_indexes(crate::wal::query::indexes()).await?;
        let parent_idx = IndexModel::builder().keys(doc! {"parent": 1}).build();
        branches.create_index(parent_idx).await?;
        crate::ops::publish::ensure_index(self).await?;
        if migrate {
            crate::wal::migrate(self, version).await?;
        }
        Ok(migrate)
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(ArgonError::Closed)
        } else {
            Ok(())
        }
    }

    /// Closes the project: stops taking operations, waits up to `timeout` for those in
    /// flight, stops the background tasks and shuts the client down. Returns how many
    /// operations were still running when it gave up waiting.
    pub async fn close_within(&self, timeout: Duration) -> usize {
        let left = self.ops.drain(timeout).await;
        if left > 0 {
            tracing::warn!(
                in_flight = left as u64,
                "closing with operations still running"
            );
        }
        self.close().await;
        left
    }

    pub async fn close(&self) {
        // New calls fail with CLIENT_CLOSED, and health says unhealthy, from now on.
        self.ops.drain(Duration::ZERO).await;
        if !self.closed.swap(true, Ordering::AcqRel) {
            if let Some(t) = self.gc_task.lock().expect("gc task").take() {
                t.abort();
            }
            if let Some(t) = self.monitor_task.lock().expect("monitor task").take() {
                t.abort();
            }
            let publisher = self.publish_task.lock().expect("publish task").take();
            if let Some(t) = publisher {
                t.abort();
                // A process that closes cleanly stops reporting; one that stops without
                // closing shows as silent (`argon health`).
                crate::ops::publish::remove(self).await;
            }
            let lease = self.lease_task.lock().expect("lease task").take();
            if let Some(t) = lease {
                t.abort();
                self.leases.remove(self).await;
            }
            // Open transactions are dropped, which aborts them.
            self.user_txns.lock().expect("txns").clear();
            self.ops.set_sink(None);
            self.stop_capture().await;
            self.client.clone().shutdown().await;
        }
    }

    pub(crate) fn branches(&self) -> Collection<BranchMeta> {
        self.db.collection(BRANCHES)
    }

    pub(crate) fn wal(&self) -> Collection<Document> {
        self.db.collection(WAL)
    }

    pub(crate) fn meta(&self) -> Collection<Document> {
        self.db.collection(META)
    }

    /// Branch metadata by name, from the cache when fresh.
    pub async fn branch_meta(&self, name: &str) -> Result<Arc<BranchMeta>> {
        self.check_open()?;
        if let Some((at, m)) = self.branch_cache.lock().expect("cache lock").get(name) {
            if at.elapsed() < self.cache_ttl {
                return Ok(m.clone());
            }
        }
        let m = self
            .branches()
            .find_one(doc! {"_id": name})
            .await?
            .ok_or_else(|| ArgonError::BranchNotFound(name.to_string()))?;
        let m = Arc::new(m);
        self.branch_cache
            .lock()
            .expect("cache lock")
            .put(name.to_string(), (Instant::now(), m.clone()));
        Ok(m)
    }

    pub(crate) fn forget_branch(&self, name: &str) {
        self.branch_cache.lock().expect("cache lock").pop(name);
    }

    /// The branch followed by its ancestors up to `main`.
    pub async fn chain(&self, name: &str) -> Result<Vec<Arc<BranchMeta>>> {
        let mut out = vec![self.branch_meta(name).await?];
        while let Some(p) = out.last().and_then(|b| b.parent.clone()) {
            if out.len() > 1000 {
                return Err(ArgonError::Internal("branch ancestry loops".into()));
            }
            out.push(self.branch_meta(&p).await?);
        }
        Ok(out)
    }

    /// Number of collections in the project database (used by tests to show that
    /// branch creation copies nothing).
    pub async fn db_collection_count(&self) -> usize {
        self.db
            .list_collection_names()
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    /// Sets the gauges (LSN, branches, breaker, memory, `argon_up`).
    pub async fn refresh_gauges(&self, up: bool) {
        if up {
            let _ = self.committed_lsn().await;
        }
        let branches = self
            .branches()
            .estimated_document_count()
            .await
            .unwrap_or(0);
        self.ops.telemetry.set_gauges(&crate::ops::metrics::Gauges {
            up,
            lsn: self.seen_lsn.load(Ordering::Acquire),
            branches,
            breaker_state: self.ops.breaker.state().gauge(),
            rss_bytes: crate::ops::rss_bytes(),
        });
    }

    /// The newest committed LSN of the project.
    pub async fn committed_lsn(&self) -> Result<Lsn> {
        let d = self
            .meta()
            .find_one(doc! {"_id": "lsn"})
            .await?
            .ok_or_else(|| ArgonError::Internal("lsn counter missing".into()))?;
        let n = d.get_i64("n").unwrap_or(0);
        self.seen_lsn.fetch_max(n, Ordering::AcqRel);
        Ok(Lsn(n))
    }

    /// LSN of the newest write on a branch itself (its fork LSN when it has none).
    pub async fn head_lsn(&self, meta: &BranchMeta) -> Result<Lsn> {
        use crate::wal::query;
        let last = self
            .first_key(query::of_branch(meta.id), query::newest_of_branch_sort())
            .await?;
        Ok(last
            .map(RecordKey::lsn)
            .unwrap_or(meta.fork_lsn)
            .max(meta.fork_lsn))
    }
}

/// Two processes initialising a project at once can race on an upsert; the loser's
/// duplicate-key error means the record exists, which is all that was wanted.
fn ignore_dup<T: Default>(e: mongodb::error::Error) -> mongodb::error::Result<T> {
    if crate::error::server_code_of(&e) == Some(11000) {
        Ok(T::default())
    } else {
        Err(e)
    }
}
