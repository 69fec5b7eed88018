//! Every shape of query Argon runs on WAL records, as filter/sort/index builders. Callers
//! run them; only this module (with `mod.rs`) spells the record's field names.
//!
//! Record keys are `lsn << 20 | i` for Argon's writes and captured outside writes, and
//! negative for adoption records (`-K`: the pre-image of the adopted document that the
//! record with key `K` superseded). Queries that look for writes keep to `_id >= 0`.

use super::{F_AFTER, F_BRANCH, F_COLL, F_DOC_ID, F_KEY, F_OP, F_PREV, F_PREV_DOC, F_TIME};
use crate::branch::BranchId;
use crate::lsn::{Lsn, RecordKey};
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;

/// The WAL's own indexes (mirrors of user indexes come from `mirror_model`).
pub fn indexes() -> Vec<IndexModel> {
    let idx = |keys: Document, name: &str| {
        IndexModel::builder()
            .keys(keys)
            .options(IndexOptions::builder().name(name.to_string()).build())
            .build()
    };
    vec![
        // One document's versions on one branch, newest first.
        idx(
            doc! {F_BRANCH: 1, F_COLL: 1, F_DOC_ID: 1, F_KEY: -1},
            "doc_versions",
        ),
        // Records after a cut (then `p <= cut`): reads near the head and child reads of a
        // parent at its fork scan only what was written after the cut.
        idx(
            doc! {F_BRANCH: 1, F_COLL: 1, F_KEY: 1, F_PREV: 1},
            "after_cut",
        ),
        // A branch's newest record.
        idx(doc! {F_BRANCH: 1, F_KEY: -1}, "branch_head"),
        // Time -> LSN.
        idx(doc! {F_TIME: 1, F_KEY: 1}, "by_time"),
    ]
}

/// All records of a branch.
pub fn of_branch(b: BranchId) -> Document {
    doc! {F_BRANCH: b}
}

/// The records of a branch's writes (adoption records left out).
pub fn writes_of(b: BranchId) -> Document {
    doc! {F_BRANCH: b, F_KEY: {"$gte": 0}}
}

/// Newest first, within a branch (served by `branch_head`).
pub fn newest_of_branch_sort() -> Document {
    doc! {F_BRANCH: 1, F_KEY: -1}
}

/// Records of a branch (in one collection, when given) written after `cut`.
pub fn after_cut(b: BranchId, coll: Option<&str>, cut: Lsn) -> Document {
    let mut f = doc! {F_BRANCH: b};
    if let Some(c) = coll {
        f.insert(F_COLL, c);
    }
    f.insert(F_KEY, doc! {"$gt": cut.cut_key()});
    f
}

/// A write group's records: keys of LSNs `first..=last`, with the group's token.
pub fn of_group(first: Lsn, last: Lsn, token: i64) -> Document {
    doc! {F_KEY: {"$gte": first.first_key(), "$lte": last.cut_key()}, super::F_GROUP: token}
}

/// Records of a branch with keys in `(lo, hi]` (`lo = None`: every record up to `hi`,
/// adoption records included).
pub fn between(b: BranchId, lo: Option<Lsn>, hi: Lsn) -> Document {
    let range = match lo {
        Some(lo) => doc! {"$gt": lo.cut_key(), "$lte": hi.cut_key()},
        None => doc! {"$lte": hi.cut_key()},
    };
    doc! {F_BRANCH: b, F_KEY: range}
}

/// The versions of documents `k` (a value or a `{$in: …}` / `{$eq: …}` condition) of
/// `coll` on branch `b`, optionally with a key range, served by `doc_versions`.
pub fn versions(b: BranchId, coll: &str, k: Bson, keys: Option<Document>) -> Document {
    let mut f = doc! {F_BRANCH: b, F_COLL: coll, F_DOC_ID: k};
    if let Some(r) = keys.filter(|r| !r.is_empty()) {
        f.insert(F_KEY, r);
    }
    f
}

/// Newest version first (with `versions`).
pub fn versions_sort() -> Document {
    doc! {F_BRANCH: 1, F_COLL: 1, F_DOC_ID: 1, F_KEY: -1}
}

/// Whether a collection has any record on a branch.
pub fn of_collection(b: BranchId, coll: &str) -> Document {
    doc! {F_BRANCH: b, F_COLL: coll}
}

/// The newest write at or before a time (`inclusive`) or strictly before it, with
/// `by_time_desc`.
pub fn written_by(t: DateTime, inclusive: bool) -> Document {
    let op = if inclusive { "$lte" } else { "$lt" };
    doc! {F_TIME: {op: t}, F_KEY: {"$gte": 0}}
}

/// Newest first by time (served by `by_time`).
pub fn by_time_desc() -> Document {
    doc! {F_TIME: -1, F_KEY: -1}
}

/// Newest first by key.
pub fn newest_first() -> Document {
    doc! {F_KEY: -1}
}

/// The newest record at or below a cut (any branch): its time is the cut's time.
pub fn at_or_before(cut: Lsn) -> Document {
    doc! {F_KEY: {"$lte": cut.cut_key(), "$gte": 0}}
}

/// The second stage of a past part: records that superseded a version current at `cut`
/// (`p <= cut`) and kept its image (`pd`).
pub fn superseded_at(cut: Lsn, also_after: bool) -> Document {
    let ck = cut.cut_key();
    let mut f = Document::new();
    if also_after {
        f.insert(F_KEY, doc! {"$gt": ck});
    }
    f.insert(F_PREV, doc! {"$lte": ck});
    f.insert(F_PREV_DOC, doc! {"$type": "object"});
    f
}

/// The stage that turns a record into the version it superseded.
pub fn unwrap_superseded() -> Document {
    doc! {"$replaceRoot": {"newRoot": format!("${F_PREV_DOC}")}}
}

/// Groups records by (collection, document) (for diffs).
pub fn group_by_doc() -> Document {
    doc! {"$group": {"_id": {"c": format!("${F_COLL}"), "k": format!("${F_DOC_ID}")}}}
}

/// The records of branch `b` that no allowed read needs any more: all of them when the
/// branch is gone (`need = None`), else its writes below `need`'s first key (and below
/// the branch's newest record, which is kept) and their adoption records.
pub fn removable(b: BranchId, need: Option<Lsn>, newest: RecordKey) -> Document {
    match need {
        None => of_branch(b),
        Some(n) => {
            let below = n.first_key().min(newest).get();
            doc! {F_BRANCH: b, "$or": [
                {F_KEY: {"$gte": 0, "$lt": below}},
                {F_KEY: {"$lt": 0, "$gt": -below}},
            ]}
        }
    }
}

/// Records matching `filter`, counted and weighed (`$bsonSize`, the bytes the server
/// stores) per collection: `{_id: collection, n, bytes}` (gc's sizing).
pub fn sized_by_collection(filter: Document) -> Vec<Document> {
    vec![
        doc! {"$match": filter},
        doc! {"$group": {
            "_id": format!("${F_COLL}"),
            "n": {"$sum": 1},
            "bytes": {"$sum": {"$bsonSize": "$$ROOT"}},
        }},
    ]
}

/// Every record, counted and weighed per branch and collection, with the oldest write
/// record's key and commit time still held (adoption records count and weigh, but are no
/// point in time): `{_id: {b, c}, n, bytes, oldest, oldestTime}` (`storage`).
pub fn usage_by_branch_and_collection() -> Vec<Document> {
    let write = doc! {"$gte": [format!("${F_KEY}"), 0]};
    vec![doc! {"$group": {
        "_id": {"b": format!("${F_BRANCH}"), "c": format!("${F_COLL}")},
        "n": {"$sum": 1},
        "bytes": {"$sum": {"$bsonSize": "$$ROOT"}},
        "oldest": {"$min": {"$cond": [write.clone(), format!("${F_KEY}"), Bson::Null]}},
        "oldestTime": {"$min": {"$cond": [write, format!("${F_TIME}"), Bson::Null]}},
    }}]
}

/// A record as `history()` shows it.
pub struct Version<'a> {
    /// The write's LSN (an adoption record's: the adoption's).
    pub lsn: Lsn,
    pub op: &'a str,
    pub time: Bson,
    pub doc: Bson,
}

/// Reads the parts of a record `history()` needs.
pub fn version_of(r: &Document) -> Version<'_> {
    let key = RecordKey(r.get_i64(F_KEY).unwrap_or(0));
    Version {
        lsn: if key.get() < 0 {
            Lsn(r.get_i64(super::F_ADOPTED_AT).unwrap_or(0))
        } else {
            key.lsn()
        },
        op: r.get_str(F_OP).unwrap_or(""),
        time: r.get(F_TIME).cloned().unwrap_or(Bson::Null),
        doc: r.get(F_AFTER).cloned().unwrap_or(Bson::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsn::SUB_BITS;

    #[test]
    fn shapes() {
        assert_eq!(
            after_cut(BranchId(2), Some("u"), Lsn(3)),
            doc! {"b": 2, "c": "u", "_id": {"$gt": (3_i64 << SUB_BITS) | ((1 << SUB_BITS) - 1)}}
        );
        assert_eq!(
            between(BranchId(1), None, Lsn(0)),
            doc! {"b": 1, "_id": {"$lte": (1_i64 << SUB_BITS) - 1}}
        );
        assert_eq!(
            removable(BranchId(3), Some(Lsn(10)), RecordKey(i64::MAX)),
            doc! {"b": 3, "$or": [{"_id": {"$gte": 0, "$lt": 10_i64 << SUB_BITS}}, {"_id": {"$lt": 0, "$gt": -(10_i64 << SUB_BITS)}}]}
        );
        // The newest record of a branch is never removed.
        assert_eq!(
            removable(BranchId(3), Some(Lsn(10)), RecordKey(4 << SUB_BITS)),
            doc! {"b": 3, "$or": [{"_id": {"$gte": 0, "$lt": 4_i64 << SUB_BITS}}, {"_id": {"$lt": 0, "$gt": -(4_i64 << SUB_BITS)}}]}
        );
        assert_eq!(removable(BranchId(9), None, RecordKey(0)), doc! {"b": 9});
    }
}
