//! Change streams over the WAL: `watch()` on a collection, a branch or the whole project.
//!
//! Events are the WAL's records in key order. Keys follow commit order (every transaction
//! takes its LSN from the one counter, so a later LSN commits later), so reading "the
//! records after the last key seen" never skips one and never repeats one: the resume
//! token is that key. A record becomes visible only when its transaction commits, so
//! events appear only after commit, one per document a write changed. A child branch's
//! stream has the child's own records only (`b` is its id). The event is built by the
//! server (`$project` into MongoDB's change-event shape), so a user `$match` runs there;
//! `updateDescription` is derived here from the superseded image the record keeps.

use crate::branch::BranchId;
use crate::error::{ArgonError, Result};
use crate::lsn::SUB_BITS;
use crate::project::Project;
use crate::wal::{F_AFTER, F_BRANCH, F_COLL, F_DOC_ID, F_KEY, F_OP, F_PREV_DOC, F_TIME};
use crate::wal::{OP_DELETE, OP_INSERT, OP_REPLACE, OP_UPDATE};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document, Timestamp};

/// What a stream watches.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// One branch (its own writes), or every branch.
    pub branch: Option<BranchId>,
    /// One collection, or every collection.
    pub collection: Option<String>,
}

/// Stream options (the driver's, plus `startAtLsn`).
#[derive(Debug, Clone, Default)]
pub struct StreamOpts {
    /// The full document on update events too (`fullDocument: 'updateLookup'`, `'whenAvailable'`
    /// or `'required'`): the version the update wrote, which is exact (not looked up later).
    pub full_document: bool,
    /// A `$match`-only pipeline applied to the events, on the server.
    pub pipeline: Vec<Document>,
}

/// The key a stream starts after: now (the newest committed write), or just before LSN `at`.
pub async fn start_key(p: &Project, at: Option<i64>) -> Result<i64> {
    match at {
        Some(l) if l < 0 => Err(ArgonError::InvalidArgument(format!(
            "startAtLsn must not be negative, got {l}"
        ))),
        Some(l) => Ok((l << SUB_BITS) - 1),
        None => Ok(p.committed_lsn().await?.cut_key().get()),
    }
}

fn check_pipeline(pipeline: &[Document]) -> Result<()> {
    for st in pipeline {
        if st.len() != 1 || !st.contains_key("$match") {
            return Err(ArgonError::InvalidArgument(
                "a change stream pipeline may hold $match stages only".into(),
            ));
        }
    }
    Ok(())
}

/// The events after `after` (a record key), at most `limit`, in key order.
pub async fn events(
    p: &Project,
    scope: &Scope,
    after: i64,
    limit: i64,
    o: &StreamOpts,
) -> Result<Vec<Document>> {
    check_pipeline(&o.pipeline)?;
    let mut filter = doc! {
        F_KEY: {"$gt": after},
        F_OP: {"$in": [OP_INSERT, OP_UPDATE, OP_REPLACE, OP_DELETE]},
    };
    if let Some(b) = scope.branch {
        filter.insert(F_BRANCH, b);
    }
    if let Some(c) = &scope.collection {
        filter.insert(F_COLL, c);
    }
    let op = format!("${F_OP}");
    let full = if o.full_document {
        doc! {"$cond": [{"$eq": [&op, OP_DELETE]}, "$$REMOVE", format!("${F_AFTER}")]}
    } else {
        doc! {"$cond": [{"$in": [&op, [OP_INSERT, OP_REPLACE]]}, format!("${F_AFTER}"), "$$REMOVE"]}
    };
    let mut pipeline = vec![
        doc! {"$match": filter},
        doc! {"$sort": {F_KEY: 1}},
        doc! {"$limit": limit.max(1)},
        doc! {"$project": {
            "_id": {"_data": {"$toString": format!("${F_KEY}")}},
            "operationType": {"$switch": {"branches": [
                {"case": {"$eq": [&op, OP_INSERT]}, "then": "insert"},
                {"case": {"$eq": [&op, OP_UPDATE]}, "then": "update"},
                {"case": {"$eq": [&op, OP_REPLACE]}, "then": "replace"},
            ], "default": "delete"}},
            "ns": {"db": p.db.name(), "coll": format!("${F_COLL}")},
            "documentKey": {"_id": format!("${F_DOC_ID}")},
            "fullDocument": full,
            "lsn": {"$toLong": {"$floor": {"$divide": [format!("${F_KEY}"), (1_i64 << SUB_BITS) as f64]}}},
            "wallTime": format!("${F_TIME}"),
            "__key": format!("${F_KEY}"),
            "__branch": format!("${F_BRANCH}"),
            "__before": {"$cond": [{"$eq": [&op, OP_UPDATE]}, format!("${F_PREV_DOC}"), "$$REMOVE"]},
            "__after": {"$cond": [{"$eq": [&op, OP_UPDATE]}, format!("${F_AFTER}"), "$$REMOVE"]},
        }},
    ];
    pipeline.extend(o.pipeline.iter().cloned());
    let raw: Vec<Document> = p.wal().aggregate(pipeline).await?.try_collect().await?;
    Ok(raw.into_iter().map(finish).collect())
}

/// Adds what the server did not build: `updateDescription` (from the superseded image
/// and the new one) and `clusterTime`; drops the helper fields.
fn finish(mut e: Document) -> Document {
    let before = e.remove("__before");
    let after = e.remove("__after");
    let key = e.remove("__key").and_then(|k| k.as_i64()).unwrap_or(0);
    if let (Some(Bson::Document(b)), Some(Bson::Document(a))) = (before, after) {
        let mut updated = Document::new();
        for (k, v) in &a {
            if b.get(k) != Some(v) {
                updated.insert(k.clone(), v.clone());
            }
        }
        let removed: Vec<Bson> = b
            .keys()
            .filter(|k| !a.contains_key(*k))
            .map(|k| Bson::String(k.clone()))
            .collect();
        e.insert(
            "updateDescription",
            doc! {"updatedFields": updated, "removedFields": removed, "truncatedArrays": []},
        );
    }
    let secs = e
        .get_datetime("wallTime")
        .map(|t| (t.timestamp_millis() / 1000) as u32)
        .unwrap_or(0);
    e.insert(
        "clusterTime",
        Timestamp {
            time: secs,
            increment: (key & ((1 << SUB_BITS) - 1)) as u32,
        },
    );
    e
}
