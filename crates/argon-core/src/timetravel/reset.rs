//! `resetBranch`: returns a branch to an earlier state (its own past, or its parent's
//! head) by writing compensating versions for exactly the documents that differ, in one
//! transaction, so readers see the old state or the new one and never a mix. History is
//! kept: the reset is itself a set of WAL records, and the backup branch (a child forked
//! just before the reset) keeps the pre-reset state reachable. Children of the branch
//! never see the reset, because their fork LSN is below its records.

use crate::branch::heads;
use crate::branch::meta::{levels, BranchMeta, Level};
use crate::branch::BranchId;
use crate::error::Result;
use crate::ops::progress::Progress;
use crate::project::Project;
use crate::read::view::ViewQuery;
use crate::timetravel::diff::{changed_keys, resolve_levels, Counts, Point};
use crate::write::alloc::LsnAlloc;
use crate::write::txn::TxResult;
use crate::write::{modify_in_txn, view_in_txn, Change, ModifyOpts, Target};
use mongodb::bson::{doc, Bson};
use mongodb::ClientSession;
use std::collections::{BTreeMap, HashMap};

/// Writes, on the branch whose head levels are `current`, the versions `target` has.
/// Reports progress: phase `plan` (finding the documents that differ), then `write`, one
/// step per document (a retried transaction starts `write` again).
pub async fn apply(
    p: &Project,
    branch: &str,
    target: &Point,
    progress: &Progress,
) -> Result<BTreeMap<String, Counts>> {
    progress.report("plan", 0, 1);
    p.capture_barrier().await?;
    let snapshot = p.committed_lsn().await?;
    let chain = p.chain(branch).await?;
    let owned: Vec<BranchMeta> = chain.iter().map(|b| (**b).clone()).collect();
    let chain_ids: Vec<BranchId> = owned.iter().map(|b| b.id).collect();
    let current_now = levels(&owned, Some(snapshot));
    let target_levels = resolve_levels(p, target, snapshot).await?;
    let keys = changed_keys(p, &current_now, &target_levels).await?;
    progress.report("plan", 1, 1);
    let mut uniques = HashMap::new();
    for coll in keys.keys() {
        p.adoption(coll).await?;
        uniques.insert(coll.clone(), heads::ensure_head(p, &chain_ids, coll).await?);
    }
    let head_levels = levels(&owned, None);
    crate::in_txn!(p, |s, alloc| compensate(
        p,
        s,
        alloc,
        &head_levels,
        &target_levels,
        &keys,
        &uniques,
        progress
    ))
}

#[allow(clippy::too_many_arguments)]
async fn compensate(
    p: &Project,
    s: &mut ClientSession,
    alloc: &mut LsnAlloc<'_>,
    head_levels: &[Level],
    target_levels: &[Level],
    keys: &BTreeMap<String, Vec<Bson>>,
    uniques: &HashMap<String, Vec<heads::UniqueIndex>>,
    progress: &Progress,
) -> TxResult<BTreeMap<String, Counts>> {
    let mut out = BTreeMap::new();
    let total: u64 = keys.values().map(|k| k.len() as u64).sum();
    let mut done = 0;
    progress.report("write", 0, total);
    // The whole reset is one logical write: one LSN.
    for (coll, ks) in keys {
        let target = Target {
            p,
            coll,
            levels: target_levels.to_vec(),
            uniques: Vec::new(),
        };
        let current = Target {
            p,
            coll,
            levels: head_levels.to_vec(),
            uniques: uniques.get(coll).cloned().unwrap_or_default(),
        };
        let mut wanted = HashMap::new();
        for chunk in ks.chunks(500) {
            let q = ViewQuery {
                filter: doc! {"_id": {"$in": chunk.to_vec()}},
                ..Default::default()
            };
            for mut d in view_in_txn(&target, s, &q).await? {
                crate::names::strip_reserved(&mut d);
                wanted.insert(crate::names::id_key(d.get("_id").unwrap_or(&Bson::Null)), d);
            }
        }
        let mut counts = Counts::default();
        for k in ks {
            let change = match wanted.remove(&crate::names::id_key(k)) {
                Some(d) => Change::Replace(d),
                None => Change::Delete,
            };
            let is_delete = matches!(change, Change::Delete);
            let o = ModifyOpts {
                upsert: true,
                ..Default::default()
            };
            let r =
                modify_in_txn(&current, s, &doc! {"_id": k.clone()}, &change, &o, alloc).await?;
            done += 1;
            progress.report("write", done, total);
            if is_delete {
                counts.removed += r.deleted;
            } else if r.upserted_id.is_some() {
                counts.added += 1;
            } else {
                counts.changed += r.modified;
            }
        }
        if counts != Counts::default() {
            out.insert(coll.clone(), counts);
        }
    }
    Ok(out)
}
