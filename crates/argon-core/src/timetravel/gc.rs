//! Garbage collection of history: removes the WAL records no read can reach any more.
//!
//! A read of branch B at cut L needs, of each level's WAL, only the records written after
//! that level's cut (live rows come from head collections; superseded versions are the
//! `pd` of records after the cut). Reads are allowed at points from `earliest_lsn()` (the
//! LSN current when the retention window began) on, and at every fork point and tag
//! however old. So for each branch id `b` the engine computes `need_b`, the lowest cut at
//! which any allowed read visits `b`, and removes `b`'s records with an LSN below it
//! (plus the adoption records of those records). What stays answers every allowed read
//! exactly as before; nothing is rewritten. Kept regardless: each branch's newest record
//! (its head LSN) and every record of the earliest readable LSN (time → LSN lookups at the
//! start of the window resolve to it). Records of deleted branches are removed whole.

use crate::branch::meta::{levels, BranchMeta};
use crate::branch::BranchId;
use crate::error::Result;
use crate::lsn::Lsn;
use crate::names::TAGS;
use crate::ops::progress::Progress;
use crate::project::Project;
use crate::wal::{query, F_BRANCH};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use std::collections::{BTreeMap, HashMap};

/// Something that holds history older than the retention window.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    /// `branch` (a fork point), `tag`, or `backup` (a reset's backup branch).
    pub kind: &'static str,
    pub name: String,
    pub lsn: Lsn,
}

#[derive(Debug, Clone, Default)]
pub struct GcOutcome {
    pub records_removed: u64,
    pub bytes_freed: u64,
    /// The oldest LSN any allowed read still needs (a pin's, or the window's start).
    pub oldest_retained_lsn: Lsn,
    pub pinned_by: Vec<Pin>,
    pub dry_run: bool,
}

impl GcOutcome {
    pub fn to_document(&self) -> Document {
        let pins: Vec<Document> = self
            .pinned_by
            .iter()
            .map(|p| doc! {"kind": p.kind, "name": &p.name, "lsn": p.lsn})
            .collect();
        doc! {
            "recordsRemoved": self.records_removed as i64,
            "bytesFreed": self.bytes_freed as i64,
            "oldestRetainedLsn": self.oldest_retained_lsn,
            "pinnedBy": pins,
            "dryRun": self.dry_run,
        }
    }
}

/// Whether a branch is a reset's backup (named `<branch>-backup-<lsn>[-n]` by default).
fn is_backup(name: &str) -> bool {
    name.contains("-backup-")
}

/// The lowest cut at which an allowed read visits each branch id, and the pins older
/// than the window.
async fn needs(p: &Project, earliest: Lsn) -> Result<(HashMap<BranchId, Lsn>, Vec<Pin>)> {
    let branches: Vec<BranchMeta> = p.branches().find(doc! {}).await?.try_collect().await?;
    let by_name: HashMap<&str, &BranchMeta> =
        branches.iter().map(|b| (b.name.as_str(), b)).collect();
    let chain_of = |name: &str| -> Vec<BranchMeta> {
        let mut out = Vec::new();
        let mut cur = by_name.get(name).copied();
        while let Some(b) = cur {
            out.push(b.clone());
            if out.len() > 1000 {
                break;
            }
            cur = b.parent.as_deref().and_then(|n| by_name.get(n).copied());
        }
        out
    };
    let mut need: HashMap<BranchId, Lsn> = HashMap::new();
    let mut note = |chain: &[BranchMeta], at: Lsn| {
        for l in levels(chain, Some(at)) {
            let cut = l.cut.unwrap_or(at);
            need.entry(l.id)
                .and_modify(|n| *n = (*n).min(cut))
                .or_insert(cut);
        }
    };
    let mut pins = Vec::new();
    for b in &branches {
        // Reads of b at any point of the window (the lowest is `earliest`), which also
        // cover its children's reads of it at their fork points via their own chains.
        note(&chain_of(&b.name), earliest);
        if b.parent.is_some() && b.fork_lsn < earliest {
            pins.push(Pin {
                kind: if is_backup(&b.name) {
                    "backup"
                } else {
                    "branch"
                },
                name: b.name.clone(),
                lsn: b.fork_lsn,
            });
        }
    }
    let tags: Vec<Document> =
        p.db.collection::<Document>(TAGS)
            .find(doc! {})
            .await?
            .try_collect()
            .await?;
    for t in tags {
        let (Ok(name), Ok(branch), Ok(lsn)) =
            (t.get_str("_id"), t.get_str("branch"), t.get_i64("lsn"))
        else {
            continue;
        };
        let lsn = Lsn(lsn);
        let chain = chain_of(branch);
        if chain.is_empty() {
            continue;
        }
        note(&chain, lsn.min(earliest));
        if lsn < earliest {
            pins.push(Pin {
                kind: "tag",
                name: name.to_string(),
                lsn,
            });
        }
    }
    pins.sort_by(|a, b| a.lsn.cmp(&b.lsn).then(a.name.cmp(&b.name)));
    Ok((need, pins))
}

/// Records and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sized {
    pub records: u64,
    pub bytes: u64,
}

/// What gc may remove of one branch id's records: the filter it deletes with, and what
/// that filter selects now, per collection.
#[derive(Debug, Clone)]
pub struct Removable {
    pub branch: BranchId,
    pub filter: Document,
    pub per_collection: BTreeMap<String, Sized>,
}

impl Removable {
    pub fn total(&self) -> Sized {
        self.per_collection
            .values()
            .fold(Sized::default(), |a, s| Sized {
                records: a.records + s.records,
                bytes: a.bytes + s.bytes,
            })
    }
}

/// What a collection would remove now: the pins, the oldest point any allowed read needs,
/// and per branch id the records below it. `gc` deletes exactly these filters; `storage`
/// reports the same figures per branch and collection, so the two always agree.
#[derive(Debug, Clone, Default)]
pub struct GcPlan {
    pub oldest_retained_lsn: Lsn,
    pub pinned_by: Vec<Pin>,
    pub branches: Vec<Removable>,
}

/// An integer a `$group` produced (int32 or int64 depending on its size).
pub(crate) fn int_of(d: &Document, k: &str) -> u64 {
    d.get_i64(k)
        .or_else(|_| d.get_i32(k).map(i64::from))
        .unwrap_or(0)
        .max(0) as u64
}

impl Project {
    /// What garbage collection would remove now (see [`GcPlan`]); changes nothing. One
    /// sizing aggregation per branch id in the WAL (phase `size`).
    pub async fn gc_plan(&self, progress: &Progress) -> Result<GcPlan> {
        let earliest = self.earliest_lsn().await?;
        let (need, pinned_by) = needs(self, earliest).await?;
        let ids: Vec<BranchId> = self
            .wal()
            .distinct(F_BRANCH, doc! {})
            .await?
            .into_iter()
            .filter_map(|b| b.as_i32().or_else(|| b.as_i64().map(|v| v as i32)))
            .map(BranchId)
            .collect();
        let mut plan = GcPlan {
            oldest_retained_lsn: need
                .values()
                .copied()
                .min()
                .unwrap_or(earliest)
                .min(earliest),
            pinned_by,
            branches: Vec::with_capacity(ids.len()),
        };
        let total = ids.len() as u64;
        for (i, b) in ids.into_iter().enumerate() {
            progress.report("size", i as u64, total);
            let newest = self
                .first_key(query::writes_of(b), query::newest_of_branch_sort())
                .await?
                .unwrap_or_default();
            let filter = query::removable(b, need.get(&b).copied(), newest);
            let sized: Vec<Document> = self
                .wal()
                .aggregate(query::sized_by_collection(filter.clone()))
                .await?
                .try_collect()
                .await?;
            let per_collection = sized
                .iter()
                .map(|s| {
                    let coll = s.get_str("_id").unwrap_or_default().to_string();
                    let size = Sized {
                        records: int_of(s, "n"),
                        bytes: int_of(s, "bytes"),
                    };
                    (coll, size)
                })
                .filter(|(_, s)| s.records > 0)
                .collect();
            plan.branches.push(Removable {
                branch: b,
                filter,
                per_collection,
            });
        }
        progress.report("size", total, total);
        Ok(plan)
    }

    /// Removes history no read inside the retention window (or at a pinned point) can
    /// reach. With `dry_run`, only reports what it would remove. `progress`: phase `size`
    /// (one step per branch id in the WAL), then `collect` (one per branch id with records
    /// to remove).
    pub async fn gc(&self, dry_run: bool, progress: &Progress) -> Result<GcOutcome> {
        let plan = self.gc_plan(progress).await?;
        let mut out = GcOutcome {
            oldest_retained_lsn: plan.oldest_retained_lsn,
            pinned_by: plan.pinned_by.clone(),
            dry_run,
            ..Default::default()
        };
        let todo: Vec<&Removable> = plan
            .branches
            .iter()
            .filter(|r| r.total().records > 0)
            .collect();
        let steps = todo.len() as u64;
        for (i, r) in todo.into_iter().enumerate() {
            progress.report("collect", i as u64, steps);
            let size = r.total();
            if dry_run {
                out.records_removed += size.records;
            } else {
                let d = self.wal().delete_many(r.filter.clone()).await?;
                out.records_removed += d.deleted_count;
            }
            out.bytes_freed += size.bytes;
        }
        progress.report("collect", steps, steps);
        if !dry_run {
            self.ops.telemetry.incr(
                crate::telemetry::GC_RECORDS_REMOVED_TOTAL,
                out.records_removed,
            );
        }
        tracing::info!(
            removed = out.records_removed,
            bytes = out.bytes_freed,
            oldest_retained = out.oldest_retained_lsn.get(),
            pins = out.pinned_by.len(),
            dry_run,
            "history collected"
        );
        Ok(out)
    }
}
