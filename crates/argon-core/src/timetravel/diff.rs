//! Differences between two points (branch, LSN). The candidate documents come from the
//! WAL records that separate the two points, so the cost follows what changed between
//! them, never the size of the data. Used by `diff`, `restorePreview` and `resetBranch`.

use crate::branch::meta::{levels, BranchMeta, Level};
use crate::branch::BranchId;
use crate::error::Result;
use crate::lsn::Lsn;
use crate::project::Project;
use crate::read::{FindOpts, ReadView};
use crate::timetravel::timepoint::AtSpec;
use crate::wal::query;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use std::collections::{BTreeMap, HashMap};

/// One side of a diff: a branch, at its head or at a point.
#[derive(Debug, Clone)]
pub struct Point {
    pub branch: String,
    pub at: Option<AtSpec>,
}

/// Counts per collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
}

#[derive(Debug, Default)]
pub struct DiffOutcome {
    pub per_collection: BTreeMap<String, Counts>,
    /// With `detailed`: `{collection, _id, change, before, after}` per document.
    pub documents: Vec<Document>,
}

/// A point's levels, with "head" pinned to `snapshot` so both sides read one moment.
/// Callers pass the capture barrier first (once for both sides).
pub async fn resolve_levels(p: &Project, pt: &Point, snapshot: Lsn) -> Result<Vec<Level>> {
    let chain = p.chain(&pt.branch).await?;
    let owned: Vec<BranchMeta> = chain.iter().map(|b| (**b).clone()).collect();
    let cut = match &pt.at {
        Some(a) => {
            let lsn = p.resolve_at(a).await?;
            p.check_adopted_point(lsn).await?;
            lsn
        }
        None => snapshot,
    };
    Ok(levels(&owned, Some(cut)))
}

/// `(collection, _id)` pairs that may differ between two views: every WAL record of a
/// branch that one view includes and the other does not.
pub async fn changed_keys(
    p: &Project,
    a: &[Level],
    b: &[Level],
) -> Result<BTreeMap<String, Vec<Bson>>> {
    let mut cuts: HashMap<BranchId, (Option<Lsn>, Option<Lsn>)> = HashMap::new();
    for l in a {
        cuts.entry(l.id).or_default().0 = l.cut;
    }
    for l in b {
        cuts.entry(l.id).or_default().1 = l.cut;
    }
    let mut out: BTreeMap<String, Vec<Bson>> = BTreeMap::new();
    let mut seen: HashMap<(String, String), ()> = HashMap::new();
    for (id, (ca, cb)) in cuts {
        let records = match (ca, cb) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(x), Some(y)) => query::between(id, Some(x.min(y)), x.max(y)),
            (Some(x), None) | (None, Some(x)) => query::between(id, None, x),
            (None, None) => continue,
        };
        let mut cur = p
            .wal()
            .aggregate([doc! {"$match": records}, query::group_by_doc()])
            .await?;
        while let Some(d) = cur.try_next().await? {
            let Ok(key) = d.get_document("_id") else {
                continue;
            };
            let (Ok(c), Some(k)) = (key.get_str("c"), key.get("k")) else {
                continue;
            };
            if seen
                .insert((c.to_string(), crate::names::id_key(k)), ())
                .is_none()
            {
                out.entry(c.to_string()).or_default().push(k.clone());
            }
        }
    }
    Ok(out)
}

/// Reads the given `_id`s of one collection through a view, keyed by `_id`.
pub async fn read_keys(
    p: &Project,
    levels: &[Level],
    coll: &str,
    keys: &[Bson],
) -> Result<HashMap<String, Document>> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(500) {
        let view = ReadView {
            p,
            coll,
            levels: levels.to_vec(),
        };
        let docs = view
            .find(doc! {"_id": {"$in": chunk.to_vec()}}, FindOpts::default())
            .await?
            .collect()
            .await?;
        for d in docs {
            out.insert(crate::names::id_key(d.get("_id").unwrap_or(&Bson::Null)), d);
        }
    }
    Ok(out)
}

/// The candidate documents of a diff, with the snapshot LSN that pins both sides' heads,
/// so a detailed diff can be read in chunks and stay consistent.
#[derive(Debug, Default)]
pub struct DiffPlan {
    pub snapshot: Lsn,
    pub keys: BTreeMap<String, Vec<Bson>>,
}

pub async fn plan(p: &Project, a: &Point, b: &Point) -> Result<DiffPlan> {
    p.capture_barrier().await?;
    let snapshot = p.committed_lsn().await?;
    let la = resolve_levels(p, a, snapshot).await?;
    let lb = resolve_levels(p, b, snapshot).await?;
    Ok(DiffPlan {
        snapshot,
        keys: changed_keys(p, &la, &lb).await?,
    })
}

/// Compares the given `_id`s of one collection between the two points (heads pinned at
/// `snapshot`): counts, and with `detailed` the changed documents.
pub async fn chunk(
    p: &Project,
    a: &Point,
    b: &Point,
    snapshot: Lsn,
    coll: &str,
    keys: &[Bson],
    detailed: bool,
) -> Result<(Counts, Vec<Document>)> {
    p.capture_barrier().await?;
    let la = resolve_levels(p, a, snapshot).await?;
    let lb = resolve_levels(p, b, snapshot).await?;
    let before = read_keys(p, &la, coll, keys).await?;
    let after = read_keys(p, &lb, coll, keys).await?;
    let mut counts = Counts::default();
    let mut docs = Vec::new();
    for k in keys {
        let key = crate::names::id_key(k);
        let (x, y) = (before.get(&key), after.get(&key));
        let change = match (x, y) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (Some(u), Some(v)) if !crate::write::same_doc(u, v) => "changed",
            _ => continue,
        };
        match change {
            "added" => counts.added += 1,
            "removed" => counts.removed += 1,
            _ => counts.changed += 1,
        }
        if detailed {
            docs.push(doc! {
                "collection": coll,
                "_id": k.clone(),
                "change": change,
                "before": x.cloned().map(Bson::Document).unwrap_or(Bson::Null),
                "after": y.cloned().map(Bson::Document).unwrap_or(Bson::Null),
            });
        }
    }
    Ok((counts, docs))
}

/// What changes from point `a` to point `b`.
pub async fn diff(p: &Project, a: &Point, b: &Point, detailed: bool) -> Result<DiffOutcome> {
    let plan = plan(p, a, b).await?;
    let mut out = DiffOutcome::default();
    for (coll, ks) in &plan.keys {
        let (counts, docs) = chunk(p, a, b, plan.snapshot, coll, ks, detailed).await?;
        out.documents.extend(docs);
        if counts != Counts::default() {
            out.per_collection.insert(coll.clone(), counts);
        }
    }
    Ok(out)
}
