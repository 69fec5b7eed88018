//! Builds the server-side aggregation that answers "branch B at cut L": one part per
//! ancestry level, joined with `$unionWith`, the user's filter pushed into every part, and
//! documents a nearer level has touched excluded with an indexed `$lookup` on `_id`.
//! No part ever replays the WAL: live rows come from head collections, superseded rows
//! from the WAL's closed-version index (`e > L >= _id`).

use crate::branch_meta::Level;
use crate::names::{head_collection, F_DEL, F_EXCL, F_FIRST, F_LSN, F_SRC, MAIN_ID, WAL};
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
        (true, Some(c)) => doc! {F_LSN: {"$not": {"$gt": c}}},
        (false, None) => doc! {F_LSN: {"$exists": true}},
        (false, Some(c)) => doc! {F_LSN: {"$lte": c}},
    }
}

/// Stages that drop documents a nearer level had touched by its cut.
fn exclusions(levels: &[Level], upto: usize, coll: &str) -> Vec<Document> {
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
                doc! {"$match": {F_FIRST: {"$lte": c}}},
                doc! {"$project": {"_id": 1}},
            ],
            None => vec![doc! {"$project": {"_id": 1}}],
        };
        lookup.insert("pipeline", inner);
        out.push(doc! {"$lookup": lookup});
        out.push(doc! {"$match": {F_EXCL: {"$size": 0}}});
    }
    out
}

fn pushdown(q: &ViewQuery, stages: &mut Vec<Document>, always_limit: bool) {
    if let Some(s) = q.sort {
        if !s.is_empty() {
            stages.push(doc! {"$sort": s.clone()});
        }
    }
    if let Some(l) = q.limit {
        if l > 0 && (always_limit || q.sort.is_some_and(|s| !s.is_empty())) {
            stages.push(doc! {"$limit": l + q.skip.unwrap_or(0) as i64});
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
        let excl = exclusions(levels, i, coll);
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
        // Versions that were current at the cut but have been superseded since.
        if let Some(c) = level.cut {
            let mut past = vec![
                doc! {"$match": {"b": level.id, "c": coll, "e": {"$gt": c}, "_id": {"$lte": c}}},
                doc! {"$replaceRoot": {"newRoot": "$d"}},
            ];
            if !q.filter.is_empty() {
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

/// Builds the single-aggregation plan for `levels` (nearest first) of collection `coll`.
pub fn plan(levels: &[Level], coll: &str, q: &ViewQuery) -> Plan {
    let mut iter = parts(levels, coll, q, false).into_iter();
    let (collection, mut pipeline) = iter.next().expect("a view has at least one part");
    for (coll_name, p) in iter {
        pipeline.push(doc! {"$unionWith": {"coll": coll_name, "pipeline": p}});
    }
    let mut unset: Vec<Bson> = vec![F_EXCL.into(), F_DEL.into()];
    if !q.for_write {
        unset.push(F_LSN.into());
        unset.push(F_FIRST.into());
    }
    pipeline.push(doc! {"$unset": unset});
    if let Some(s) = q.sort {
        if !s.is_empty() {
            pipeline.push(doc! {"$sort": s.clone()});
        }
    }
    if let Some(n) = q.skip {
        if n > 0 {
            pipeline.push(doc! {"$skip": n as i64});
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

/// Adds the exclusion of Argon's reserved fields to a user projection, so a plain `find`
/// on `main` returns exactly the user's documents.
pub fn plain_projection(user: Option<&Document>) -> Document {
    let Some(p) = user.filter(|p| !p.is_empty()) else {
        return doc! {F_LSN: 0};
    };
    let inclusion = p.iter().any(|(k, v)| {
        k != "_id"
            && match v {
                Bson::Int32(n) => *n != 0,
                Bson::Int64(n) => *n != 0,
                Bson::Double(n) => *n != 0.0,
                Bson::Boolean(b) => *b,
                // $slice/$elemMatch alone do not make a projection inclusive.
                Bson::Document(d) => !d.keys().all(|k| k == "$slice" || k == "$elemMatch"),
                _ => true,
            }
    });
    if inclusion {
        p.clone()
    } else {
        let mut p = p.clone();
        p.insert(F_LSN, 0);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_head_is_plain() {
        assert!(is_plain(&[Level { id: 0, cut: None }]));
        assert!(!is_plain(&[Level {
            id: 0,
            cut: Some(3)
        }]));
    }

    #[test]
    fn child_view_unions_parent_with_exclusion() {
        let levels = [
            Level { id: 4, cut: None },
            Level {
                id: 0,
                cut: Some(10),
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
        // main at cut 10: head rows with lsn <= 10 plus closed versions alive at 10.
        assert!(text.contains("\"e\": Document({\"$gt\": Int64(10)})"));
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
    }
}
