//! The driver's per-query options that the server evaluates: `collation`, `hint`,
//! `comment`, `let` and `maxTimeMS`. Parsed once (`QueryOpts::parse`), then passed to every
//! server command a read or a write's target read runs: main's head, each level's head and
//! WAL part of a branch or past view, the single `$unionWith` plan.
//!
//! Two places need more than passing them on:
//! - a collation changes MongoDB's sort order, which the client-side merge of parts
//!   (`read/sort.rs`) does not know, so collated sorts over several parts are sorted by the
//!   server (the `$unionWith` plan, or `$documents` inside a transaction);
//! - a collation can make different `_id` strings compare equal (`"A"` and `"a"` at
//!   strength 2), while a branch's bookkeeping ("a nearer level touched this `_id`", "update
//!   the row with this `_id`") must match `_id`s exactly: `exact_id_expr` compares strings
//!   byte for byte, which no collation changes.

use crate::error::{ArgonError, Result};
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{AggregateOptions, Collation, Hint};
use std::time::Duration;

/// The driver options a query hands to the server, as the driver names them.
#[derive(Debug, Clone, Default)]
pub struct QueryOpts {
    pub collation: Option<Collation>,
    pub hint: Option<Hint>,
    pub comment: Option<Bson>,
    pub let_vars: Option<Document>,
    pub max_time: Option<Duration>,
}

/// Sets the named `QueryOpts` fields that are present on a driver action builder (each
/// action has its own setters, so this is a macro): `with_query_opts!(find, q; collation,
/// hint, comment, let_vars, max_time)`.
#[macro_export]
macro_rules! with_query_opts {
    ($builder:expr, $q:expr; $($field:ident),+) => {{
        let mut b = $builder;
        let q = &$q;
        $(
            if let Some(v) = &q.$field {
                b = b.$field(v.clone());
            }
        )+
        b
    }};
}

/// The option names `QueryOpts` covers.
pub const NAMES: [&str; 5] = ["collation", "hint", "comment", "let", "maxTimeMS"];

impl QueryOpts {
    /// Reads the options from a driver-style options document (other keys are ignored).
    /// A malformed value is INVALID_ARGUMENT naming the option.
    pub fn parse(o: &Document) -> Result<QueryOpts> {
        let bad =
            |name: &str, why: &str| ArgonError::InvalidArgument(format!("option `{name}` {why}"));
        let mut q = QueryOpts::default();
        match o.get("collation") {
            None | Some(Bson::Null) => {}
            Some(Bson::Document(d)) => {
                let c: Collation = mongodb::bson::from_document(d.clone())
                    .map_err(|e| bad("collation", &format!("is not a valid collation: {e}")))?;
                q.collation = Some(c);
            }
            Some(_) => return Err(bad("collation", "must be a document")),
        }
        match o.get("hint") {
            None | Some(Bson::Null) => {}
            Some(Bson::String(s)) if !s.is_empty() => q.hint = Some(Hint::Name(s.clone())),
            Some(Bson::Document(d)) if !d.is_empty() => q.hint = Some(Hint::Keys(d.clone())),
            Some(_) => {
                return Err(bad(
                    "hint",
                    "must be an index name or a non-empty key pattern",
                ))
            }
        }
        match o.get("comment") {
            None | Some(Bson::Null) => {}
            Some(c) => q.comment = Some(c.clone()),
        }
        match o.get("let") {
            None | Some(Bson::Null) => {}
            Some(Bson::Document(d)) => q.let_vars = Some(d.clone()),
            Some(_) => return Err(bad("let", "must be a document of variables")),
        }
        let ms = match o.get("maxTimeMS") {
            None | Some(Bson::Null) => None,
            Some(Bson::Int32(n)) => Some(*n as f64),
            Some(Bson::Int64(n)) => Some(*n as f64),
            Some(Bson::Double(n)) => Some(*n),
            Some(_) => return Err(bad("maxTimeMS", "must be a number")),
        };
        if let Some(ms) = ms {
            if !(ms.is_finite() && ms >= 0.0 && ms.fract() == 0.0 && ms <= i32::MAX as f64) {
                return Err(bad("maxTimeMS", "must be a non-negative integer"));
            }
            // 0 means no limit, as in MongoDB.
            if ms > 0.0 {
                q.max_time = Some(Duration::from_millis(ms as u64));
            }
        }
        Ok(q)
    }

    /// Whether a collation other than binary comparison applies.
    pub fn collated(&self) -> bool {
        self.collation
            .as_ref()
            .is_some_and(|c| c.locale != "simple")
    }

    /// Options for an aggregation over one part of a view. `hint` names an index of the
    /// user's collection, so it goes only to parts reading a head collection (main's, or a
    /// branch's, which carries the same indexes); WAL parts use Argon's own indexes.
    pub fn aggregate(&self, head_part: bool, batch: Option<u32>) -> AggregateOptions {
        let mut a = AggregateOptions::default();
        a.collation = self.collation.clone();
        a.hint = if head_part { self.hint.clone() } else { None };
        a.comment = self.comment.clone();
        a.let_vars = self.let_vars.clone();
        a.max_time = self.max_time;
        a.batch_size = batch;
        a
    }

    /// The same options without the hint (for aggregations that do not start at a head).
    pub fn without_hint(&self) -> QueryOpts {
        QueryOpts {
            hint: None,
            ..self.clone()
        }
    }
}

/// An aggregation expression true when `a` and `b` (expressions) are the same `_id`:
/// strings compared byte for byte (their byte lengths, and `b` found at byte 0 of `a`), so
/// no collation makes two different strings equal; other values with `$eq`.
pub fn exact_id_expr(a: Bson, b: Bson) -> Document {
    let both_strings = doc! {"$and": [
        {"$eq": [{"$type": a.clone()}, "string"]},
        {"$eq": [{"$type": b.clone()}, "string"]},
    ]};
    doc! {"$cond": [
        both_strings,
        {"$and": [
            {"$eq": [{"$strLenBytes": a.clone()}, {"$strLenBytes": b.clone()}]},
            {"$eq": [{"$indexOfBytes": [a.clone(), b.clone()]}, 0]},
        ]},
        {"$eq": [a, b]},
    ]}
}

/// A filter matching exactly the row whose `_id` is `k` under any collation (for the
/// writes that address one row).
pub fn exact_id_filter(k: &Bson, collated: bool) -> Document {
    if collated && matches!(k, Bson::String(_)) {
        doc! {"_id": k.clone(), "$expr": exact_id_expr(Bson::String("$_id".into()), Bson::Document(doc! {"$literal": k.clone()}))}
    } else {
        doc! {"_id": k.clone()}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_driver_options_and_names_bad_ones() {
        let q = QueryOpts::parse(&doc! {
            "collation": {"locale": "en", "strength": 2},
            "hint": "a_1",
            "comment": {"who": "test"},
            "let": {"v": 1},
            "maxTimeMS": 250,
            "sort": {"a": 1},
        })
        .unwrap();
        assert!(q.collated());
        assert_eq!(q.collation.as_ref().unwrap().locale, "en");
        assert!(matches!(q.hint, Some(Hint::Name(ref n)) if n == "a_1"));
        assert_eq!(q.comment, Some(Bson::Document(doc! {"who": "test"})));
        assert_eq!(q.let_vars, Some(doc! {"v": 1}));
        assert_eq!(q.max_time, Some(Duration::from_millis(250)));
        let q = QueryOpts::parse(&doc! {"hint": {"a": 1}, "maxTimeMS": 0}).unwrap();
        assert!(matches!(q.hint, Some(Hint::Keys(_))));
        assert_eq!(q.max_time, None);
        assert!(!QueryOpts::parse(&doc! {"collation": {"locale": "simple"}})
            .unwrap()
            .collated());
        for (bad, name) in [
            (doc! {"collation": "en"}, "collation"),
            (doc! {"collation": {"strength": 2}}, "collation"),
            (doc! {"hint": 3}, "hint"),
            (doc! {"hint": ""}, "hint"),
            (doc! {"let": [1]}, "let"),
            (doc! {"maxTimeMS": -1}, "maxTimeMS"),
            (doc! {"maxTimeMS": 1.5}, "maxTimeMS"),
            (doc! {"maxTimeMS": "10"}, "maxTimeMS"),
        ] {
            let e = QueryOpts::parse(&bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_ARGUMENT");
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn hint_goes_to_head_parts_only() {
        let q = QueryOpts::parse(&doc! {"hint": "a_1", "comment": "c"}).unwrap();
        assert!(q.aggregate(true, None).hint.is_some());
        assert!(q.aggregate(false, Some(5)).hint.is_none());
        assert_eq!(q.aggregate(false, Some(5)).batch_size, Some(5));
        assert_eq!(q.aggregate(false, None).comment, Some(Bson::from("c")));
    }

    #[test]
    fn exact_id_filters_only_guard_collated_strings() {
        assert_eq!(exact_id_filter(&Bson::from("a"), false), doc! {"_id": "a"});
        assert_eq!(exact_id_filter(&Bson::Int32(1), true), doc! {"_id": 1});
        let f = exact_id_filter(&Bson::from("a"), true);
        assert!(f.contains_key("$expr"));
    }
}
