//! `verify`: checks the storage invariants of ARCHITECTURE.md and reports every problem
//! found, changing nothing.
//!
//! - Branch metadata: `main` exists with id 0; every other branch's parent exists with the
//!   recorded id, forked at or before the committed LSN; ids are unique.
//! - Heads against the WAL (invariant 3): every head row written through Argon carries the
//!   key of its document's newest record on the branch, and holds that record's image; a
//!   tombstone's newest record is a delete; a row's `__argon_first` is not after its
//!   `__argon_lsn`; a document whose newest record is not a delete has a head row.
//! - Predecessor chains (invariant 11): a record naming a predecessor names an earlier key
//!   of the same document on the same branch, present unless garbage collection removed
//!   it (older than the branch's oldest record).
//! - Every record belongs to an existing branch.
//!
//! Cost: one pass over the checked heads and their WAL records (streamed, merge-joined by
//! `_id` in the server's order), so it runs in O(data) and is meant for operators, not the
//! request path.

use crate::branch::meta::BranchMeta;
use crate::branch::BranchId;
use crate::error::{ArgonError, Result};
use crate::names::{head_collection, F_DEL, F_FIRST, F_LSN, MAIN_ID};
use crate::ops::progress::Progress;
use crate::project::Project;
use crate::wal::{query, F_AFTER, F_BRANCH, F_COLL, F_DOC_ID, F_KEY, F_OP, F_PREV, OP_DELETE};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// At most this many problems are reported (the count goes on).
const MAX_REPORTED: usize = 1000;

/// One problem found.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub kind: &'static str,
    pub branch: Option<String>,
    pub collection: Option<String>,
    pub id: Option<Bson>,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub branches: u64,
    pub collections: u64,
    pub rows: u64,
    pub records: u64,
    pub problems: Vec<Problem>,
    pub problem_count: u64,
}

impl Report {
    fn add(&mut self, p: Problem) {
        self.problem_count += 1;
        if self.problems.len() < MAX_REPORTED {
            self.problems.push(p);
        }
    }

    pub fn to_document(&self) -> Document {
        let problems: Vec<Document> = self
            .problems
            .iter()
            .map(|p| {
                doc! {
                    "kind": p.kind,
                    "branch": p.branch.clone().map(Bson::String).unwrap_or(Bson::Null),
                    "collection": p.collection.clone().map(Bson::String).unwrap_or(Bson::Null),
                    "id": p.id.clone().unwrap_or(Bson::Null),
                    "detail": &p.detail,
                }
            })
            .collect();
        doc! {
            "ok": self.problem_count == 0,
            "checked": {
                "branches": self.branches as i64,
                "collections": self.collections as i64,
                "rows": self.rows as i64,
                "records": self.records as i64,
            },
            "problemCount": self.problem_count as i64,
            "problems": problems,
        }
    }
}

fn problem(
    kind: &'static str,
    branch: &str,
    coll: Option<&str>,
    id: Option<&Bson>,
    detail: String,
) -> Problem {
    Problem {
        kind,
        branch: Some(branch.to_string()),
        collection: coll.map(str::to_string),
        id: id.cloned(),
        detail,
    }
}

/// The server's BSON order of two `_id`s (as `$sort` orders them).
fn cmp_ids(a: &Bson, b: &Bson) -> Ordering {
    crate::read::sort::compare(a, b)
}

impl Project {
    /// Checks the storage invariants of `branch` (or every branch) and `collection` (or
    /// every collection). Changes nothing. `progress`: phase `check`, one step per branch
    /// and collection checked.
    pub async fn verify(
        &self,
        branch: Option<&str>,
        collection: Option<&str>,
        progress: &Progress,
    ) -> Result<Report> {
        let mut r = Report::default();
        let all: Vec<BranchMeta> = self.branches().find(doc! {}).await?.try_collect().await?;
        let committed = self.committed_lsn().await?;
        self.verify_branches(&all, committed, &mut r);
        let chosen: Vec<&BranchMeta> = match branch {
            Some(b) => {
                let m = all
                    .iter()
                    .find(|m| m.name == b)
                    .ok_or_else(|| ArgonError::BranchNotFound(b.to_string()))?;
                vec![m]
            }
            None => all.iter().collect(),
        };
        r.branches = chosen.len() as u64;
        let ids: HashSet<BranchId> = all.iter().map(|m| m.id).collect();
        // Records of branches that no longer exist.
        if branch.is_none() {
            let wal_branches = self.wal().distinct(F_BRANCH, doc! {}).await?;
            for b in wal_branches {
                let id = b.as_i32().map(BranchId);
                if id.is_some_and(|id| !ids.contains(&id)) {
                    r.add(Problem {
                        kind: "orphan_records",
                        branch: None,
                        collection: None,
                        id: None,
                        detail: format!("WAL records of branch id {b}, which does not exist"),
                    });
                }
            }
        }
        let mut work: Vec<(&BranchMeta, String)> = Vec::new();
        for m in chosen {
            match collection {
                Some(c) => work.push((m, c.to_string())),
                None => work.extend(
                    self.wal()
                        .distinct(F_COLL, query::of_branch(m.id))
                        .await?
                        .into_iter()
                        .filter_map(|c| c.as_str().map(|c| (m, c.to_string()))),
                ),
            }
        }
        let total = work.len() as u64;
        for (i, (m, c)) in work.into_iter().enumerate() {
            progress.report("check", i as u64, total);
            r.collections += 1;
            self.verify_head(m, &c, &mut r).await?;
            self.verify_chains(m, &c, &mut r).await?;
        }
        progress.report("check", total, total);
        Ok(r)
    }

    fn verify_branches(&self, all: &[BranchMeta], committed: crate::lsn::Lsn, r: &mut Report) {
        let by_name: HashMap<&str, &BranchMeta> =
            all.iter().map(|m| (m.name.as_str(), m)).collect();
        match by_name.get(crate::names::MAIN) {
            Some(m) if m.id == MAIN_ID => {}
            Some(m) => r.add(problem(
                "branch_meta",
                &m.name,
                None,
                None,
                format!("main has id {}, not 0", m.id),
            )),
            None => r.add(Problem {
                kind: "branch_meta",
                branch: None,
                collection: None,
                id: None,
                detail: "there is no main branch".into(),
            }),
        }
        let mut seen: HashMap<BranchId, &str> = HashMap::new();
        for m in all {
            if let Some(other) = seen.insert(m.id, &m.name) {
                r.add(problem(
                    "branch_meta",
                    &m.name,
                    None,
                    None,
                    format!("id {} is also used by {other:?}", m.id),
                ));
            }
            if m.name == crate::names::MAIN {
                continue;
            }
            match m.parent.as_deref().and_then(|p| by_name.get(p)) {
                None => r.add(problem(
                    "branch_meta",
                    &m.name,
                    None,
                    None,
                    format!("parent {:?} does not exist", m.parent),
                )),
                Some(p) => {
                    if m.parent_id.is_some_and(|id| id != p.id) {
                        r.add(problem(
                            "branch_meta",
                            &m.name,
                            None,
                            None,
                            format!("parentId {:?} is not the parent's id {}", m.parent_id, p.id),
                        ));
                    }
                }
            }
            if m.fork_lsn > committed {
                r.add(problem(
                    "branch_meta",
                    &m.name,
                    None,
                    None,
                    format!(
                        "forked at LSN {} after the committed LSN {committed}",
                        m.fork_lsn
                    ),
                ));
            }
        }
    }

    /// Head rows against each document's newest record, merge-joined by `_id`.
    async fn verify_head(&self, m: &BranchMeta, coll: &str, r: &mut Report) -> Result<()> {
        let head = self.db.collection::<Document>(&head_collection(m.id, coll));
        let mut rows = head.find(doc! {}).sort(doc! {"_id": 1}).await?;
        let mut newest = self
            .wal()
            .aggregate([
                doc! {"$match": {F_BRANCH: m.id, F_COLL: coll, F_KEY: {"$gte": 0}}},
                doc! {"$sort": query::versions_sort()},
                doc! {"$group": {"_id": format!("${F_DOC_ID}"), "key": {"$first": format!("${F_KEY}")}, "op": {"$first": format!("${F_OP}")}, "d": {"$first": format!("${F_AFTER}")}}},
                doc! {"$sort": {"_id": 1}},
            ])
            .allow_disk_use(true)
            .await?;
        let mut row = rows.try_next().await?;
        let mut rec = newest.try_next().await?;
        loop {
            let order = match (&row, &rec) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => cmp_ids(
                    a.get("_id").unwrap_or(&Bson::Null),
                    b.get("_id").unwrap_or(&Bson::Null),
                ),
            };
            match order {
                Ordering::Less => {
                    // A row without records: adopted and never changed (main), or its
                    // records were collected by gc. Nothing to compare.
                    r.rows += 1;
                    row = rows.try_next().await?;
                }
                Ordering::Greater => {
                    let b = rec.take().expect("record");
                    r.records += 1;
                    if b.get_str("op") != Ok(OP_DELETE) {
                        r.add(problem(
                            "missing_row",
                            &m.name,
                            Some(coll),
                            b.get("_id"),
                            format!(
                                "the newest record ({}) is not a delete, but the head has no row",
                                b.get_i64("key").unwrap_or(0)
                            ),
                        ));
                    }
                    rec = newest.try_next().await?;
                }
                Ordering::Equal => {
                    let a = row.take().expect("row");
                    let b = rec.take().expect("record");
                    r.rows += 1;
                    r.records += 1;
                    self.check_row(m, coll, &a, &b, r);
                    row = rows.try_next().await?;
                    rec = newest.try_next().await?;
                }
            }
        }
        Ok(())
    }

    fn check_row(
        &self,
        m: &BranchMeta,
        coll: &str,
        row: &Document,
        rec: &Document,
        r: &mut Report,
    ) {
        let id = row.get("_id");
        let key = rec.get_i64("key").unwrap_or(0);
        let deleted = rec.get_str("op") == Ok(OP_DELETE);
        let tomb = row.contains_key(F_DEL);
        if tomb != deleted {
            r.add(problem(
                "tombstone",
                &m.name,
                Some(coll),
                id,
                if tomb {
                    format!("a tombstone, but the newest record ({key}) is not a delete")
                } else {
                    format!("a live row, but the newest record ({key}) is a delete")
                },
            ));
            return;
        }
        let stamp = if tomb {
            row.get_i64(F_DEL).ok()
        } else {
            row.get_i64(F_LSN).ok()
        };
        match stamp {
            // A main row an outside write changed after its last capture has no stamp of
            // its newest record yet: capture stamps it.
            None if m.id == MAIN_ID => return,
            None => {
                r.add(problem(
                    "head_stamp",
                    &m.name,
                    Some(coll),
                    id,
                    format!("no {F_LSN}, newest record {key}"),
                ));
                return;
            }
            Some(s) if s != key => {
                if !(m.id == MAIN_ID && s < key) {
                    r.add(problem(
                        "head_stamp",
                        &m.name,
                        Some(coll),
                        id,
                        format!("{F_LSN} {s} is not the newest record's key {key}"),
                    ));
                }
                return;
            }
            Some(_) => {}
        }
        if let Ok(first) = row.get_i64(F_FIRST) {
            if first > key {
                r.add(problem(
                    "first_write",
                    &m.name,
                    Some(coll),
                    id,
                    format!("{F_FIRST} {first} is after the newest record {key}"),
                ));
            }
        }
        if !tomb {
            let mut image = row.clone();
            crate::names::strip_reserved(&mut image);
            match rec.get_document("d") {
                Ok(d) if crate::write::same_doc(d, &image) => {}
                _ => r.add(problem(
                    "head_image",
                    &m.name,
                    Some(coll),
                    id,
                    format!("the head row differs from the image of its newest record {key}"),
                )),
            }
        }
    }

    /// Every record's predecessor is an earlier record of the same document.
    async fn verify_chains(&self, m: &BranchMeta, coll: &str, r: &mut Report) -> Result<()> {
        let oldest = self
            .wal()
            .find_one(query::writes_of(m.id))
            .sort(doc! {F_BRANCH: 1, F_KEY: 1})
            .projection(doc! {F_KEY: 1})
            .await?
            .and_then(|d| d.get_i64(F_KEY).ok())
            .unwrap_or(0);
        let mut cur = self
            .wal()
            .aggregate([
                doc! {"$match": {F_BRANCH: m.id, F_COLL: coll, F_PREV: {"$exists": true}}},
                doc! {"$project": {F_KEY: 1, F_PREV: 1, F_DOC_ID: 1}},
                doc! {"$lookup": {"from": crate::names::WAL, "localField": F_PREV, "foreignField": F_KEY, "as": "prev",
                    "pipeline": [{"$project": {F_BRANCH: 1, F_COLL: 1, F_DOC_ID: 1}}]}},
            ])
            .await?;
        while let Some(d) = cur.try_next().await? {
            let key = d.get_i64(F_KEY).unwrap_or(0);
            let p = d.get_i64(F_PREV).unwrap_or(0);
            let k = d.get(F_DOC_ID);
            if p >= key.abs() && key >= 0 {
                r.add(problem(
                    "chain",
                    &m.name,
                    Some(coll),
                    k,
                    format!("record {key} names a later predecessor {p}"),
                ));
                continue;
            }
            let prev = d
                .get_array("prev")
                .ok()
                .and_then(|a| a.first())
                .and_then(Bson::as_document);
            match prev {
                Some(pd) => {
                    let same = pd.get(F_DOC_ID) == k
                        && pd.get_str(F_COLL) == Ok(coll)
                        && pd.get(F_BRANCH).and_then(Bson::as_i32) == Some(m.id.0);
                    if !same {
                        r.add(problem(
                            "chain",
                            &m.name,
                            Some(coll),
                            k,
                            format!(
                                "record {key} names predecessor {p}, which is another document's"
                            ),
                        ));
                    }
                }
                // Collected by gc (older than the oldest kept record), or an adopted
                // document's stamp from before capture kept records.
                None if p < oldest || p < 0 => {}
                None => r.add(problem(
                    "chain",
                    &m.name,
                    Some(coll),
                    k,
                    format!("record {key} names predecessor {p}, which is missing"),
                )),
            }
        }
        Ok(())
    }
}
