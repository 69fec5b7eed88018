//! Builds the parts that answer "branch B at cut L": for each ancestry level, its live
//! head rows at the level's cut, and (for a level with a cut) the versions superseded since
//! it, found in the images WAL records keep of what they superseded (`p <= L < _id`). The
//! user's filter is pushed into every part, and documents a nearer level has touched are
//! excluded with an indexed `$lookup` on `_id`. `parts` returns them as separate pipelines
//! (run by `read/merge.rs`); `plan` joins them with `$unionWith` into one aggregation. No
//! part ever replays the WAL.

use crate::branch::meta::Level;
use crate::names::{head_collection, F_DEL, F_EXCL, F_FIRST, F_LSN, F_SRC, MAIN_ID, WAL};
use crate::read::query_opts::exact_id_expr;
use crate::wal::query;
use mongodb::bson::{doc, Bson, Document};

/// What a view query should return.
#[derive(Debug, Clone, Default)]
pub struct ViewQuery<'a> {
    pub filter: Document,
    pub sort: Option<&'a Document>,
    pub skip: Option<u64>,
    pub limit: Option<i64>,
    /// Keep `__argon_src` (level index) and `__argon_first` on results, for writers.
    pub for_write: bool,
    /// Leave out level 0's own rows (used by unique checks against ancestors).
    pub ancestors_only: bool,
    /// A collation applies: match `_id`s across levels exactly (`query_opts::exact_id_expr`).
    pub exact_ids: bool,
}

/// A pipeline and the collection to run it on.
#[derive(Debug, Clone)]
pub struct Plan {
    pub collection: String,
    pub pipeline: Vec<Document>,
}

fn and(a: Document, b: Document) -> Document {
    if a.is_empty() {
        b
    } else if b.is_empty() {
        a
    } else {
        doc! {"$and": [a, b]}
    }
}

/// The liveness filter of a level's head collection at `cut`.
fn live_at(level: &Level) -> Document {
    match (level.id == MAIN_ID, level.cut) {
        // main holds no tombstones; rows written outside Argon count as LSN 0.
        (true, None) => doc! {},
        (true, Some(c)) => doc! {F_LSN: {"$not": {"$gt": c.cut_key()}}},
        (false, None) => doc! {F_LSN: {"$exists": true}},
        (false, Some(c)) => doc! {F_LSN: {"$lte": c.cut_key()}},
    }
}

/// Stages that drop documents a nearer level had touched by its cut. With `exact`, a
/// nearer row excludes only a document with exactly its `_id` (under a collation, the
/// `$lookup` also returns `_id`s that merely compare equal).
fn exclusions(levels: &[Level], upto: usize, coll: &str, exact: bool) -> Vec<Document> {
    let mut out = Vec::new();
    for nearer in &levels[..upto] {
        let mut lookup = doc! {
            "from": head_collection(nearer.id, coll),
            "localField": "_id",
            "foreignField": "_id",
            "as": F_EXCL,
        };
        let inner = match nearer.cut {
            Some(c) => vec![
                doc! {"$match": {F_FIRST: {"$lte": c.cut_key()}}},
                doc! {"$project": {"_id": 1}},
            ],
            None => vec![doc! {"$project": {"_id": 1}}],
        };
        lookup.insert("pipeline", inner);
        out.push(doc! {"$lookup": lookup});
        if exact {
            let same = exact_id_expr(Bson::from("$$this._id"), Bson::from("$_id"));
            let hits = doc! {"$size": {"$filter": {"input": format!("${F_EXCL}"), "cond": same}}};
            out.push(doc! {"$match": {"$expr": {"$eq": [hits, 0]}}});
        } else {
            out.push(doc! {"$match": {F_EXCL: {"$size": 0}}});
        }
    }
    out
}

/// The `_id` condition of a filter, when it has a top-level (or top-level `$and`) equality
/// or `$in` on `_id`, as a condition on the WAL's `k`.
fn id_constraint(filter: &Document) -> Option<Bson> {
    let simple = |v: &Bson| match v {
        Bson::Document(d) if d.keys().any(|k| k.starts_with('$')) => {
            if d.len() == 1 {
                d.get("$eq")
                    .map(|e| Bson::Document(doc! {"$eq": e.clone()}))
                    .or_else(|| {
                        d.get("$in")
                            .map(|i| Bson::Document(doc! {"$in": i.clone()}))
                    })
            } else {
                None
            }
        }
        Bson::Document(_) | Bson::Array(_) | Bson::RegularExpression(_) => None,
        other => Some(Bson::Document(doc! {"$eq": other.clone()})),
    };
    if let Some(v) = filter.get("_id") {
        return simple(v);
    }
    if let Ok(parts) = filter.get_array("$and") {
        for p in parts {
            if let Some(v) = p.as_document().and_then(|d| d.get("_id")) {
                return simple(v);
            }
        }
    }
    None
}

fn pushdown(q: &ViewQuery, stages: &mut Vec<Document>, always_limit: bool) {
    if let Some(s) = q.sort {
        if !s.is_empty() {
            stages.push(doc! {"$sort": s.clone()});
        }
    }
    if let Some(l) = q.limit {
        if l > 0 && (always_limit || q.sort.is_some_and(|s| !s.is_empty())) {
            // skip + limit, saturating: a huge skip must not wrap to a negative `$limit`.
            let skip = i64::try_from(q.skip.unwrap_or(0)).unwrap_or(i64::MAX);
            stages.push(doc! {"$limit": l.saturating_add(skip)});
        }
    }
}

/// One part of a view: a pipeline over one collection (a head or the WAL).
pub type Part = (String, Vec<Document>);

/// The parts of a view, nearest level first. With `separate`, each part carries its own
/// `$limit` so parts can run as separate queries (inside transactions, where `$unionWith`
/// is not allowed) and be merged client-side.
pub fn parts(levels: &[Level], coll: &str, q: &ViewQuery, separate: bool) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    let first = usize::from(q.ancestors_only);
    let many_parts = separate || levels.len() > 1 || levels[0].cut.is_some();
    for (i, level) in levels.iter().enumerate().skip(first) {
        let excl = exclusions(levels, i, coll, q.exact_ids);
        let src = doc! {"$addFields": {F_SRC: i as i32}};
        // Live rows of the level's head collection at its cut.
        let mut head = vec![doc! {"$match": and(q.filter.clone(), live_at(level))}];
        head.extend(excl.iter().cloned());
        if q.for_write {
            head.push(src.clone());
        }
        if many_parts {
            pushdown(q, &mut head, separate);
        }
        parts.push((head_collection(level.id, coll), head));
        // Versions that were current at the cut but have been superseded since: the
        // superseded images (`pd`) of records after the cut whose predecessor is at or
        // before it (`p <= cut < _id`).
        if let Some(c) = level.cut {
            // The first stage is what an index serves: with an `_id` filter, those
            // documents' versions (`{b,c,k}`: bounded by their number of versions, flat in
            // the history's length); otherwise the user's filter moved onto `pd`, through
            // the WAL's mirrors of the user's indexes (`{b,c,pd.<field>,_id}`: only the
            // matching documents' changes since the cut), or the records after the cut
            // (`{b,c,_id}`) when no mirror applies. The `$limit` between the stages keeps
            // planners from merging them: the test server picks a plan 30x slower for
            // the combined predicate (26 ms instead of 0.8 ms).
            let ids = id_constraint(&q.filter);
            // The user's filter joins the index stage, moved onto `pd`, unless `_id`s narrow
            // it; otherwise it is applied to the unwrapped versions.
            let moved = match ids {
                Some(_) => None,
                None => crate::wal::filter_on_prev(&q.filter).filter(|m| !m.is_empty()),
            };
            let (first, second) = match ids {
                Some(ids) => (
                    query::versions(level.id, coll, ids, None),
                    query::superseded_at(c, true),
                ),
                None => (
                    and(
                        query::after_cut(level.id, Some(coll), c),
                        moved.clone().unwrap_or_default(),
                    ),
                    query::superseded_at(c, false),
                ),
            };
            let mut past = vec![
                doc! {"$match": first},
                doc! {"$limit": i64::MAX},
                doc! {"$match": second},
                query::unwrap_superseded(),
            ];
            if moved.is_none() && !q.filter.is_empty() {
                past.push(doc! {"$match": q.filter.clone()});
            }
            past.extend(excl.iter().cloned());
            if q.for_write {
                past.push(src);
            }
            pushdown(q, &mut past, separate);
            parts.push((WAL.to_string(), past));
        }
    }
    parts
}

/// The `$unset` that removes Argon's fields from read results (writers keep the row
/// bookkeeping they need: `__argon_lsn` and `__argon_first`).
fn unset_reserved(for_write: bool) -> Document {
    let mut fields: Vec<Bson> = vec![F_EXCL.into(), F_DEL.into()];
    if !for_write {
        fields.push(F_LSN.into());
        fields.push(F_FIRST.into());
    }
    doc! {"$unset": fields}
}

/// The parts of a read as separate pipelines: each strips Argon's fields and ends with
/// `tail` (a projection, or a `$count`).
pub fn read_parts(levels: &[Level], coll: &str, q: &ViewQuery, tail: &[Document]) -> Vec<Part> {
    parts(levels, coll, q, true)
        .into_iter()
        .map(|(c, mut p)| {
            p.push(unset_reserved(false));
            p.extend(tail.iter().cloned());
            (c, p)
        })
        .collect()
}

/// Builds the single-aggregation plan for `levels` (nearest first) of collection `coll`.
pub fn plan(levels: &[Level], coll: &str, q: &ViewQuery) -> Plan {
    let mut iter = parts(levels, coll, q, false).into_iter();
    let (collection, mut pipeline) = iter.next().expect("a view has at least one part");
    for (coll_name, p) in iter {
        pipeline.push(doc! {"$unionWith": {"coll": coll_name, "pipeline": p}});
    }
    pipeline.push(unset_reserved(q.for_write));
    if let Some(s) = q.sort {
        if !s.is_empty() {
            pipeline.push(doc! {"$sort": s.clone()});
        }
    }
    if let Some(n) = q.skip {
        if n > 0 {
            pipeline.push(doc! {"$skip": i64::try_from(n).unwrap_or(i64::MAX)});
        }
    }
    if let Some(l) = q.limit {
        if l > 0 {
            pipeline.push(doc! {"$limit": l});
        }
    }
    Plan {
        collection,
        pipeline,
    }
}

/// True when a read can go straight to the user's collection: `main` at its head.
pub fn is_plain(levels: &[Level]) -> bool {
    levels.len() == 1 && levels[0].id == MAIN_ID && levels[0].cut.is_none()
}

fn is_inclusion(p: &Document) -> bool {
    p.iter().any(|(k, v)| {
        k != "_id"
            && match v {
                Bson::Int32(n) => *n != 0,
                Bson::Int64(n) => *n != 0,
                Bson::Double(n) => *n != 0.0,
                Bson::Boolean(b) => *b,
                // `$slice` alone keeps the other fields; `$elemMatch`, `$meta` and
                // expressions make a projection inclusive.
                Bson::Document(d) => !d.keys().all(|k| k == "$slice"),
                _ => true,
            }
    })
}

/// Adds the exclusion of Argon's reserved fields to a user projection, so a plain `find`
/// on `main` returns exactly the user's documents.
pub fn plain_projection(user: Option<&Document>) -> Document {
    let Some(p) = user.filter(|p| !p.is_empty()) else {
        return doc! {F_LSN: 0};
    };
    let only_id = p.keys().all(|k| k == "_id");
    if is_inclusion(p)
        || (only_id
            && p.iter()
                .all(|(_, v)| v.as_i32() != Some(0) && v.as_bool() != Some(false)))
    {
        p.clone()
    } else {
        let mut p = p.clone();
        p.insert(F_LSN, 0);
        p
    }
}

/// Translates a find projection into pipeline stages for views (which are
/// aggregations). `$slice` becomes an expression; `$elemMatch`, positional `.$` and
/// `$meta` have no faithful pipeline form and are refused with INVALID_ARGUMENT.
pub fn projection_stages(p: &Document) -> crate::Result<Vec<Document>> {
    let mut slices = Document::new();
    let mut rest = Document::new();
    for (k, v) in p {
        if k.ends_with(".$") {
            return Err(crate::ArgonError::InvalidArgument(format!(
                "the positional projection {k:?} is supported on main's head only; project the array and pick the element"
            )));
        }
        match v {
            Bson::Document(d) if d.contains_key("$slice") && d.len() == 1 => {
                let path = format!("${k}");
                let args = match d.get("$slice") {
                    Some(Bson::Array(a)) => {
                        let mut v = vec![Bson::String(path.clone())];
                        v.extend(a.iter().cloned());
                        v
                    }
                    Some(n) => vec![Bson::String(path.clone()), n.clone()],
                    None => unreachable!("checked above"),
                };
                slices.insert(
                    k.clone(),
                    doc! {"$cond": [{"$isArray": path.clone()}, {"$slice": args}, path]},
                );
            }
            Bson::Document(d) if d.keys().any(|k| k == "$elemMatch" || k == "$meta") => {
                return Err(crate::ArgonError::InvalidArgument(format!(
                    "projection operator in {k:?} is supported on main's head only"
                )));
            }
            other => {
                rest.insert(k.clone(), other.clone());
            }
        }
    }
    if is_inclusion(&rest) {
        for (k, v) in slices {
            rest.insert(k, v);
        }
        return Ok(vec![doc! {"$project": rest}]);
    }
    let mut stages = Vec::new();
    if !slices.is_empty() {
        stages.push(doc! {"$set": slices});
    }
    if !rest.is_empty() {
        stages.push(doc! {"$project": rest});
    }
    Ok(stages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::branch::BranchId;
    use crate::lsn::Lsn;

    #[test]
    fn main_head_is_plain() {
        assert!(is_plain(&[Level {
            id: BranchId(0),
            cut: None
        }]));
        assert!(!is_plain(&[Level {
            id: BranchId(0),
            cut: Some(Lsn(3))
        }]));
    }

    #[test]
    fn child_view_unions_parent_with_exclusion() {
        let levels = [
            Level {
                id: BranchId(4),
                cut: None,
            },
            Level {
                id: BranchId(0),
                cut: Some(Lsn(10)),
            },
        ];
        let q = ViewQuery {
            filter: doc! {"a": 1},
            ..Default::default()
        };
        let p = plan(&levels, "users", &q);
        assert_eq!(p.collection, "__argon.h.4.users");
        let text = format!("{:?}", p.pipeline);
        assert!(text.contains("$unionWith"));
        assert!(text.contains("\"from\": String(\"__argon.h.4.users\")"));
        // main at cut 10: head rows with lsn <= 10 plus versions superseded after 10.
        assert!(text.contains(&format!(
            "\"p\": Document({{\"$lte\": Int64({})}})",
            Lsn(10).cut_key().get()
        )));
    }

    #[test]
    fn skip_plus_limit_never_overflows() {
        let q = ViewQuery {
            skip: Some(u64::MAX),
            limit: Some(i64::MAX - 1),
            ..Default::default()
        };
        let mut stages = Vec::new();
        pushdown(&q, &mut stages, true);
        assert_eq!(stages, vec![doc! {"$limit": i64::MAX}]);
    }

    #[test]
    fn id_filters_narrow_the_wal_part() {
        assert_eq!(
            id_constraint(&doc! {"_id": 5}),
            Some(Bson::Document(doc! {"$eq": 5}))
        );
        assert_eq!(
            id_constraint(&doc! {"$and": [{"a": 1}, {"_id": {"$in": [1, 2]}}]}),
            Some(Bson::Document(doc! {"$in": [1, 2]}))
        );
        assert_eq!(id_constraint(&doc! {"_id": {"$gt": 5}}), None);
        assert_eq!(id_constraint(&doc! {"_id": {"a": 1}}), None);
        assert_eq!(id_constraint(&doc! {"a": 1}), None);
    }

    #[test]
    fn projections_hide_reserved_fields() {
        assert_eq!(plain_projection(None), doc! {F_LSN: 0});
        assert_eq!(plain_projection(Some(&doc! {"a": 1})), doc! {"a": 1});
        assert_eq!(
            plain_projection(Some(&doc! {"a": 0})),
            doc! {"a": 0, F_LSN: 0}
        );
        assert_eq!(
            plain_projection(Some(&doc! {"arr": {"$slice": 2}})),
            doc! {"arr": {"$slice": 2}, F_LSN: 0}
        );
        assert_eq!(plain_projection(Some(&doc! {"_id": 1})), doc! {"_id": 1});
        assert_eq!(
            plain_projection(Some(&doc! {"_id": 0})),
            doc! {"_id": 0, F_LSN: 0}
        );
        let em = doc! {"a": {"$elemMatch": {"k": 2}}};
        assert_eq!(plain_projection(Some(&em)), em);
        assert!(projection_stages(&em).is_err());
        assert_eq!(
            projection_stages(&doc! {"a": 0}).unwrap(),
            vec![doc! {"$project": {"a": 0}}]
        );
    }
}
