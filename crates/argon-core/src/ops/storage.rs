//! `storage()`: what each branch holds, per collection, for operators (`argon storage`):
//!
//! - **documents** the branch owns and their bytes: on `main` its user collection `<coll>`
//!   (every document, adopted ones included); on a child its head collection
//!   `__argon.h.<id>.<coll>`, rows that are not tombstones (what it wrote; the rest it
//!   reads from its ancestors);
//! - **WAL records** and their bytes in `__argon.wal`, by branch id `b` and collection `c`
//!   (adoption records included), and the oldest retained point: the oldest write record
//!   still there (its LSN and commit time);
//! - what **garbage collection** could free now, from the very plan `gc` deletes by
//!   ([`Project::gc_plan`]), so the totals are exactly `gc({dryRun: true})`'s.
//!
//! Bytes are `$bsonSize`, the size of each document as the server stores it (before
//! compression, without indexes). Everything is counted by server-side aggregations: one
//! over the WAL grouped by branch and collection, one per owned collection, and gc's one
//! per branch id; no document comes to the client. Records of deleted branches (none
//! normally: deleting a branch deletes them) show with no branch name.

use crate::branch::meta::BranchMeta;
use crate::branch::BranchId;
use crate::error::Result;
use crate::lsn::RecordKey;
use crate::names::{head_collection, is_user_collection, F_DEL, MAIN_ID};
use crate::ops::progress::Progress;
use crate::project::Project;
use crate::timetravel::gc::{int_of, GcPlan, Sized};
use crate::wal::query;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime, Document};
use std::collections::{BTreeMap, HashMap};

/// One branch and collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// `None`: WAL records of a branch that no longer exists.
    pub branch: Option<String>,
    pub branch_id: BranchId,
    pub collection: String,
    /// Documents the branch owns (main: its collection; a child: live head rows).
    pub documents: Sized,
    pub wal: Sized,
    /// The oldest write record still in the WAL for this branch and collection.
    pub oldest: Option<RecordKey>,
    pub oldest_time: Option<DateTime>,
    /// What garbage collection could remove now.
    pub gc: Sized,
}

#[derive(Debug, Clone, Default)]
pub struct StorageReport {
    /// By branch id, then collection.
    pub rows: Vec<Usage>,
    pub gc: GcPlan,
}

fn sized_doc(s: Sized, records: &str, bytes: &str) -> Document {
    doc! {records: s.records as i64, bytes: s.bytes as i64}
}

impl StorageReport {
    pub fn totals(&self) -> (Sized, Sized, Sized) {
        let add = |a: Sized, b: Sized| Sized {
            records: a.records + b.records,
            bytes: a.bytes + b.bytes,
        };
        self.rows.iter().fold(Default::default(), |(d, w, g), r| {
            (add(d, r.documents), add(w, r.wal), add(g, r.gc))
        })
    }

    pub fn to_document(&self) -> Document {
        let rows: Vec<Document> = self
            .rows
            .iter()
            .map(|r| {
                let mut d = doc! {
                    "branch": r.branch.clone().map(Bson::String).unwrap_or(Bson::Null),
                    "branchId": r.branch_id,
                    "collection": &r.collection,
                };
                d.extend(sized_doc(r.documents, "documents", "documentBytes"));
                d.extend(sized_doc(r.wal, "walRecords", "walBytes"));
                d.insert(
                    "oldestLsn",
                    r.oldest
                        .map(|k| Bson::Int64(k.lsn().get()))
                        .unwrap_or(Bson::Null),
                );
                d.insert(
                    "oldestTime",
                    r.oldest_time.map(Bson::DateTime).unwrap_or(Bson::Null),
                );
                d.extend(sized_doc(r.gc, "gcRecords", "gcBytes"));
                d
            })
            .collect();
        let (docs, wal, gc) = self.totals();
        let mut totals = sized_doc(docs, "documents", "documentBytes");
        totals.extend(sized_doc(wal, "walRecords", "walBytes"));
        totals.extend(sized_doc(gc, "gcRecords", "gcBytes"));
        let pins: Vec<Document> = self
            .gc
            .pinned_by
            .iter()
            .map(|p| doc! {"kind": p.kind, "name": &p.name, "lsn": p.lsn})
            .collect();
        doc! {
            "collections": rows,
            "totals": totals,
            "gc": {"oldestRetainedLsn": self.gc.oldest_retained_lsn, "pinnedBy": pins},
        }
    }
}

/// Documents of a collection the branch owns: all of main's; a child's rows that are not
/// tombstones.
fn owned_pipeline(branch: BranchId) -> Vec<Document> {
    let mut p = Vec::new();
    if branch != MAIN_ID {
        p.push(doc! {"$match": {F_DEL: {"$exists": false}}});
    }
    p.push(doc! {"$group": {"_id": Bson::Null, "n": {"$sum": 1}, "bytes": {"$sum": {"$bsonSize": "$$ROOT"}}}});
    p
}

impl Project {
    /// What each branch holds per collection (see the module's documentation). Changes
    /// nothing.
    pub async fn storage(&self) -> Result<StorageReport> {
        let branches: Vec<BranchMeta> = self.branches().find(doc! {}).await?.try_collect().await?;
        let names: HashMap<BranchId, &str> =
            branches.iter().map(|b| (b.id, b.name.as_str())).collect();
        let mut rows: BTreeMap<(BranchId, String), Usage> = BTreeMap::new();
        let row = |rows: &mut BTreeMap<(BranchId, String), Usage>, b: BranchId, c: &str| {
            rows.entry((b, c.to_string()))
                .or_insert_with(|| Usage {
                    branch: names.get(&b).map(|n| n.to_string()),
                    branch_id: b,
                    collection: c.to_string(),
                    documents: Sized::default(),
                    wal: Sized::default(),
                    oldest: None,
                    oldest_time: None,
                    gc: Sized::default(),
                })
                .collection
                .clone()
        };
        // Owned documents: main's user collections and every existing branch's heads.
        let mut owned: Vec<(BranchId, String)> = Vec::new();
        for name in self.db.list_collection_names().await? {
            if is_user_collection(&name) {
                owned.push((MAIN_ID, name));
            } else if let Some(rest) = name.strip_prefix("__argon.h.") {
                let Some((id, coll)) = rest.split_once('.') else {
                    continue;
                };
                let Ok(id) = id.parse::<i32>().map(BranchId) else {
                    continue;
                };
                if names.contains_key(&id) {
                    owned.push((id, coll.to_string()));
                }
            }
        }
        for (b, coll) in owned {
            row(&mut rows, b, &coll);
            let sized: Vec<Document> = self
                .db
                .collection::<Document>(&head_collection(b, &coll))
                .aggregate(owned_pipeline(b))
                .await?
                .try_collect()
                .await?;
            if let (Some(s), Some(r)) = (sized.first(), rows.get_mut(&(b, coll))) {
                r.documents = Sized {
                    records: int_of(s, "n"),
                    bytes: int_of(s, "bytes"),
                };
            }
        }
        // The WAL, grouped by branch id and collection.
        let usage: Vec<Document> = self
            .wal()
            .aggregate(query::usage_by_branch_and_collection())
            .allow_disk_use(true)
            .await?
            .try_collect()
            .await?;
        for u in usage {
            let Ok(key) = u.get_document("_id") else {
                continue;
            };
            let b = match key.get("b") {
                Some(Bson::Int32(v)) => BranchId(*v),
                Some(Bson::Int64(v)) => BranchId(*v as i32),
                _ => continue,
            };
            let Ok(c) = key.get_str("c") else { continue };
            let coll = row(&mut rows, b, c);
            let r = rows.get_mut(&(b, coll)).expect("row just made");
            r.wal = Sized {
                records: int_of(&u, "n"),
                bytes: int_of(&u, "bytes"),
            };
            r.oldest = u.get_i64("oldest").ok().map(RecordKey);
            r.oldest_time = u.get_datetime("oldestTime").ok().copied();
        }
        // What gc would remove, by the plan it deletes with.
        let plan = self.gc_plan(&Progress::none()).await?;
        for rem in &plan.branches {
            for (c, s) in &rem.per_collection {
                let coll = row(&mut rows, rem.branch, c);
                rows.get_mut(&(rem.branch, coll)).expect("row just made").gc = *s;
            }
        }
        Ok(StorageReport {
            rows: rows.into_values().collect(),
            gc: plan,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_owns_its_rows_but_not_its_tombstones() {
        assert_eq!(owned_pipeline(MAIN_ID).len(), 1);
        let child = owned_pipeline(BranchId(3));
        assert_eq!(child[0], doc! {"$match": {F_DEL: {"$exists": false}}});
    }

    #[test]
    fn totals_add_up_and_the_document_names_every_figure() {
        let u = |b: i32, c: &str, n: u64| Usage {
            branch: Some(format!("b{b}")),
            branch_id: BranchId(b),
            collection: c.into(),
            documents: Sized {
                records: n,
                bytes: 10 * n,
            },
            wal: Sized {
                records: 2 * n,
                bytes: 30 * n,
            },
            oldest: Some(RecordKey(5 << 20)),
            oldest_time: None,
            gc: Sized {
                records: 1,
                bytes: 7,
            },
        };
        let r = StorageReport {
            rows: vec![u(0, "a", 3), u(1, "a", 4)],
            gc: GcPlan::default(),
        };
        let d = r.to_document();
        let t = d.get_document("totals").unwrap();
        assert_eq!(t.get_i64("documents"), Ok(7));
        assert_eq!(t.get_i64("walBytes"), Ok(210));
        assert_eq!(t.get_i64("gcRecords"), Ok(2));
        let first = &d.get_array("collections").unwrap()[0];
        let first = first.as_document().unwrap();
        assert_eq!(first.get_i64("oldestLsn"), Ok(5));
        assert_eq!(first.get("oldestTime"), Some(&Bson::Null));
    }
}
