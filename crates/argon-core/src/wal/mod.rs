//! The WAL record format, and the indexes that let past reads find superseded versions by
//! the user's own fields.
//!
//! A record is `{_id: key, b, c, k, op, d, t, p?, pd?}`: `key` is `lsn << 20 | i`, `b` the
//! branch id, `c` the collection, `k` the document `_id`, `op` one of `i u r d a`, `d` the
//! after-image (null for deletes), `t` the commit time. A record that supersedes a version
//! on its branch names it in `p` (that version's key) and keeps its image in `pd` (format
//! 2). So "the versions current at cut L that were superseded since" are exactly the
//! records with `p <= L < _id`, and their `pd`: a read at L filters `pd` with the user's
//! filter, through indexes that mirror the user's (`{b, c, pd.<field>…, _id}`), and
//! never scans what was written since L except the matching documents' own changes.

use crate::branch::BranchId;
use crate::lsn::RecordKey;
use mongodb::bson::{doc, Bson, DateTime, Document};

mod migrate;
mod mirror;
pub mod query;

pub(crate) use migrate::migrate;
pub(crate) use mirror::Mirrored;
use mongodb::options::IndexOptions;
use mongodb::IndexModel;

/// Field names of a WAL record.
pub const F_KEY: &str = "_id";
pub const F_BRANCH: &str = "b";
pub const F_COLL: &str = "c";
pub const F_DOC_ID: &str = "k";
pub const F_OP: &str = "op";
pub const F_AFTER: &str = "d";
pub const F_TIME: &str = "t";
/// The key of the version this record supersedes on its branch.
pub const F_PREV: &str = "p";
/// The image of the version this record supersedes (format 2).
pub const F_PREV_DOC: &str = "pd";

/// The token of the write group whose transaction wrote the record (see
/// `write::alloc::Reserve::committed`).
pub const F_GROUP: &str = "g";
/// Set on records of captured outside writes.
pub const F_OUTSIDE: &str = "x";
/// The outside write's wall-clock time (captured records).
pub const F_WALL: &str = "w";
/// The adoption LSN (adoption records).
pub const F_ADOPTED_AT: &str = "a";
/// Operation codes (`op`).
pub const OP_INSERT: &str = "i";
pub const OP_UPDATE: &str = "u";
pub const OP_REPLACE: &str = "r";
pub const OP_DELETE: &str = "d";

/// Prefix of the names of mirrored indexes.
const MIRROR_PREFIX: &str = "pd:";

/// One WAL record.
#[allow(clippy::too_many_arguments)]
pub fn record(
    key: RecordKey,
    branch: BranchId,
    coll: &str,
    k: &Bson,
    op: &str,
    after: Option<Document>,
    now: DateTime,
    prev: Option<(RecordKey, Document)>,
) -> Document {
    let mut r = doc! {
        F_KEY: key,
        F_BRANCH: branch,
        F_COLL: coll,
        F_DOC_ID: k.clone(),
        F_OP: op,
        F_AFTER: after.map(Bson::Document).unwrap_or(Bson::Null),
        F_TIME: now,
    };
    // The superseded version: its key (`p`) and image (`pd`). Past reads find "the version
    // current at L" as the `pd` of the first record after L, so no record is ever updated.
    if let Some((p, pd)) = prev {
        r.insert(F_PREV, p);
        r.insert(F_PREV_DOC, pd);
    }
    r
}

/// The user's filter moved onto the superseded versions kept in records (`pd.<path>`), or
/// `None` when it uses an operator that refers to the whole document (`$expr`, `$where`,
/// `$jsonSchema`, `$text`): such a filter is applied after the version is unwrapped.
pub fn filter_on_prev(filter: &Document) -> Option<Document> {
    let mut out = Document::new();
    for (k, v) in filter {
        match k.as_str() {
            "$and" | "$or" | "$nor" => {
                let Bson::Array(items) = v else { return None };
                let mut moved = Vec::with_capacity(items.len());
                for it in items {
                    match it {
                        Bson::Document(d) => moved.push(Bson::Document(filter_on_prev(d)?)),
                        _ => return None,
                    }
                }
                out.insert(k.clone(), moved);
            }
            "$comment" => {
                out.insert(k.clone(), v.clone());
            }
            _ if k.starts_with('$') => return None,
            _ => {
                out.insert(format!("{F_PREV_DOC}.{k}"), v.clone());
            }
        }
    }
    Some(out)
}

/// The mirrored WAL index for a user index, when its keys are all ascending/descending
/// (text, geo, hashed and wildcard indexes are not mirrored; such filters still work,
/// through the records-after-the-cut range).
pub fn mirror_model(spec: &Document) -> Option<(String, IndexModel)> {
    let keys = spec.get_document("key").ok()?;
    if keys.keys().any(|k| k == "_id" || k.contains("$**")) {
        // `_id` filters use the `doc_versions` index (`k`).
        return None;
    }
    let mut mk = doc! {F_BRANCH: 1, F_COLL: 1};
    let mut name = MIRROR_PREFIX.to_string();
    for (f, dir) in keys {
        let d = match dir {
            Bson::Int32(n) => i64::from(*n),
            Bson::Int64(n) => *n,
            Bson::Double(n) => *n as i64,
            _ => return None,
        };
        if d != 1 && d != -1 {
            return None;
        }
        mk.insert(format!("{F_PREV_DOC}.{f}"), d as i32);
        name.push_str(&format!("{f}_{d}_"));
    }
    mk.insert(F_KEY, 1);
    let mut opts = IndexOptions::builder().name(name.clone()).build();
    if let Ok(c) = spec.get_document("collation") {
        opts.collation = mongodb::bson::from_document(c.clone()).ok();
    }
    Some((name, IndexModel::builder().keys(mk).options(opts).build()))
}

impl crate::project::Project {
    /// The key of the first record `filter` finds in `sort`'s order (with the sorts of
    /// `query`: a branch's newest record, the newest write before a time).
    pub(crate) async fn first_key(
        &self,
        filter: Document,
        sort: Document,
    ) -> crate::error::Result<Option<RecordKey>> {
        Ok(self
            .wal()
            .find_one(filter)
            .sort(sort)
            .projection(doc! {F_KEY: 1})
            .await?
            .and_then(|d| d.get_i64(F_KEY).ok())
            .map(RecordKey))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_move_under_pd() {
        let f = doc! {"_id": 3, "a.b": {"$gt": 1}, "$or": [{"x": 1}, {"y": {"$in": [1, 2]}}]};
        assert_eq!(
            filter_on_prev(&f).unwrap(),
            doc! {"pd._id": 3, "pd.a.b": {"$gt": 1}, "$or": [{"pd.x": 1}, {"pd.y": {"$in": [1, 2]}}]}
        );
        assert!(filter_on_prev(&doc! {"$expr": {"$eq": ["$a", 1]}}).is_none());
        assert!(filter_on_prev(&doc! {"$and": [{"$where": "true"}]}).is_none());
        // `$elemMatch` bodies are relative to the array element: left alone.
        assert_eq!(
            filter_on_prev(&doc! {"arr": {"$elemMatch": {"v": 1}}}).unwrap(),
            doc! {"pd.arr": {"$elemMatch": {"v": 1}}}
        );
    }

    #[test]
    fn mirrors_plain_indexes_only() {
        let (_, m) = mirror_model(&doc! {"key": {"k": 1, "s": -1}, "name": "k_1_s_-1"}).unwrap();
        assert_eq!(
            m.keys,
            doc! {"b": 1, "c": 1, "pd.k": 1, "pd.s": -1, "_id": 1}
        );
        assert!(mirror_model(&doc! {"key": {"t": "text"}}).is_none());
        assert!(mirror_model(&doc! {"key": {"_id": 1}}).is_none());
        assert!(mirror_model(&doc! {"key": {"$**": 1}}).is_none());
    }
}
