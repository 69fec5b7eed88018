//! Reserved names: Argon's collection and field prefixes, head-collection naming, and
//! validation of branch, collection and field names supplied by users.

use crate::error::{ArgonError, Result};
use mongodb::bson::{Bson, Document, RawDocument};

/// Every collection Argon owns starts with this prefix.
pub const RESERVED_COLL_PREFIX: &str = "__argon";
/// Every field Argon stores inside user documents starts with this prefix.
pub const RESERVED_FIELD_PREFIX: &str = "__argon";

pub const META: &str = "__argon.meta";
pub const BRANCHES: &str = "__argon.branches";
pub const WAL: &str = "__argon.wal";
pub const SCRATCH: &str = "__argon.scratch";
/// Writer leases: each process's write sessions and heartbeat (`write/lease.rs`).
pub const LEASES: &str = "__argon.leases";
/// Each connected process's published snapshot: metrics, health, alerts (`ops/publish.rs`).
pub const PROCESSES: &str = "__argon.processes";
pub const TAGS: &str = "__argon.tags";
/// One record per user collection: where Argon first met it (see `adopt.rs`).
pub const ADOPTED: &str = "__argon.adopted";

/// LSN of the last write to a live head row.
pub const F_LSN: &str = "__argon_lsn";
/// LSN of the branch's first write to this `_id` (child heads only).
pub const F_FIRST: &str = "__argon_first";
/// Present on tombstones (child heads only): the LSN of the delete.
pub const F_DEL: &str = "__argon_del";
/// Temporary fields used inside read pipelines.
pub const F_SRC: &str = "__argon_src";
pub const F_EXCL: &str = "__argon_x";
pub const F_PREV: &str = "__argon_prev";

/// The name of the branch every project starts with.
pub const MAIN: &str = "main";
/// Internal id of `main`.
pub const MAIN_ID: crate::branch::BranchId = crate::branch::BranchId::MAIN;

pub const MAX_BRANCH_NAME: usize = 100;
pub const MAX_BSON_SIZE: usize = 16 * 1024 * 1024;

/// Whether `name` is a user collection (main's head), not Argon's or MongoDB's own.
pub fn is_user_collection(name: &str) -> bool {
    !name.starts_with(RESERVED_COLL_PREFIX) && !name.starts_with("system.")
}

/// The collection that holds a branch's own current rows of user collection `coll`.
/// For `main` that is the user's collection itself.
pub fn head_collection(branch_id: crate::branch::BranchId, coll: &str) -> String {
    if branch_id == MAIN_ID {
        coll.to_string()
    } else {
        format!("__argon.h.{branch_id}.{coll}")
    }
}

/// Git-like branch names: no empty names, no `..`, no control characters, at most 100 chars,
/// and none of the characters git forbids in ref names.
pub fn validate_branch_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(ArgonError::InvalidBranchName(
            name.to_string(),
            why.to_string(),
        ))
    };
    if name.is_empty() {
        return bad("the name is empty");
    }
    if name.chars().count() > MAX_BRANCH_NAME {
        return bad("the name is longer than 100 characters");
    }
    if name.contains("..") {
        return bad("the name contains '..'");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("the name contains a control character");
    }
    if name.chars().any(|c| " ~^:?*[\\".contains(c)) {
        return bad("the name contains a space or one of ~ ^ : ? * [ \\");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return bad("the name has an empty path component");
    }
    if name.starts_with('-') || name.ends_with('.') || name.ends_with(".lock") || name == "@" {
        return bad("the name starts with '-', ends with '.' or '.lock', or is '@'");
    }
    if name.contains("@{") {
        return bad("the name contains '@{'");
    }
    Ok(())
}

/// User collection names: MongoDB's rules plus Argon's reserved prefix.
pub fn validate_collection_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('\0') || name.contains('$') {
        return Err(ArgonError::InvalidArgument(format!(
            "invalid collection name {name:?}"
        )));
    }
    if !is_user_collection(name) {
        return Err(ArgonError::ReservedName(format!(
            "collection name {name:?} is reserved (names starting with {RESERVED_COLL_PREFIX:?} or \"system.\" belong to Argon or MongoDB)"
        )));
    }
    Ok(())
}

fn reserved_field(key: &str) -> bool {
    key.starts_with(RESERVED_FIELD_PREFIX)
}

/// Rejects documents that carry Argon's reserved top-level fields or exceed 16 MB.
pub fn check_user_document(doc: &RawDocument) -> Result<()> {
    if doc.as_bytes().len() > MAX_BSON_SIZE {
        return Err(ArgonError::DocumentTooLarge(doc.as_bytes().len()));
    }
    for elem in doc.iter() {
        let (k, _) = elem?;
        if reserved_field(k) {
            return Err(reserved_field_error(k));
        }
    }
    Ok(())
}

fn reserved_field_error(k: &str) -> ArgonError {
    ArgonError::ReservedName(format!(
        "field {k:?} is reserved: fields starting with {RESERVED_FIELD_PREFIX:?} belong to Argon"
    ))
}

/// Rejects update documents (operator or pipeline form) and filters/projections/sorts
/// that name a reserved field anywhere in a path.
pub fn check_no_reserved_paths(doc: &Document) -> Result<()> {
    fn walk(b: &Bson) -> Result<()> {
        match b {
            Bson::Document(d) => {
                for (k, v) in d {
                    if k.split('.').any(reserved_field) {
                        return Err(reserved_field_error(k));
                    }
                    if let Bson::String(s) = v {
                        if s.starts_with('$') && s[1..].split('.').any(reserved_field) {
                            return Err(reserved_field_error(s));
                        }
                    }
                    walk(v)?;
                }
                Ok(())
            }
            Bson::Array(a) => a.iter().try_for_each(walk),
            Bson::String(s) if s.starts_with('$') && s[1..].split('.').any(reserved_field) => {
                Err(reserved_field_error(s))
            }
            _ => Ok(()),
        }
    }
    walk(&Bson::Document(doc.clone()))
}

/// Removes Argon's reserved top-level fields from a document read from a head collection.
pub fn strip_reserved(doc: &mut Document) {
    let keys: Vec<String> = doc.keys().filter(|k| reserved_field(k)).cloned().collect();
    for k in keys {
        doc.remove(&k);
    }
}

/// One key for `_id` values MongoDB considers equal: `1`, `Long(1)` and `1.0` are one
/// document (a unique index says so), so maps of documents by `_id` must agree.
pub fn id_key(b: &mongodb::bson::Bson) -> String {
    let mut out = String::new();
    canonical(b, &mut out);
    out
}

fn canonical(b: &mongodb::bson::Bson, out: &mut String) {
    use mongodb::bson::Bson;
    use std::fmt::Write;
    let number = |f: f64, out: &mut String| {
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            let _ = write!(out, "n{}", f as i64);
        } else {
            let _ = write!(out, "f{f:?}");
        }
    };
    match b {
        Bson::Int32(n) => {
            let _ = write!(out, "n{n}");
        }
        Bson::Int64(n) => {
            let _ = write!(out, "n{n}");
        }
        Bson::Double(f) => number(*f, out),
        Bson::Decimal128(d) => match d.to_string().parse::<f64>() {
            Ok(f) => number(f, out),
            Err(_) => {
                let _ = write!(out, "m{d}");
            }
        },
        Bson::String(s) => {
            let _ = write!(out, "s{}:{s}", s.len());
        }
        Bson::Document(d) => {
            out.push('{');
            for (k, v) in d {
                let _ = write!(out, "{}:{k}=", k.len());
                canonical(v, out);
                out.push(',');
            }
            out.push('}');
        }
        Bson::Array(a) => {
            out.push('[');
            for v in a {
                canonical(v, out);
                out.push(',');
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{other:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_ids_have_one_key() {
        use mongodb::bson::{doc, Bson};
        let k = |b: Bson| id_key(&b);
        assert_eq!(k(Bson::Int32(1)), k(Bson::Int64(1)));
        assert_eq!(k(Bson::Int64(1)), k(Bson::Double(1.0)));
        assert_eq!(k(Bson::Double(-0.0)), k(Bson::Int32(0)));
        assert_ne!(k(Bson::Int32(1)), k(Bson::String("1".into())));
        assert_ne!(k(Bson::Double(1.5)), k(Bson::Int32(1)));
        assert_eq!(
            k(Bson::Document(doc! {"a": 1, "b": [Bson::Int64(2)]})),
            k(Bson::Document(doc! {"a": 1.0, "b": [2]}))
        );
        assert_ne!(
            k(Bson::Document(doc! {"a": 1, "b": 2})),
            k(Bson::Document(doc! {"b": 2, "a": 1}))
        );
    }

    #[test]
    fn branch_names() {
        for ok in [
            "main",
            "feature/x",
            "pr-42",
            "a.b",
            "release_1.2",
            "ünïcode",
        ] {
            assert!(validate_branch_name(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(101);
        for bad in [
            "",
            "a..b",
            "a\nb",
            "a b",
            "/x",
            "x/",
            "a//b",
            "x.lock",
            "-x",
            long.as_str(),
        ] {
            let e = validate_branch_name(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_BRANCH_NAME", "{bad:?}");
        }
        assert!(validate_branch_name(&"x".repeat(100)).is_ok());
    }

    #[test]
    fn reserved_paths() {
        use mongodb::bson::doc;
        assert!(check_no_reserved_paths(&doc! {"a": 1, "b.c": {"$gt": 1}}).is_ok());
        assert!(check_no_reserved_paths(&doc! {"$set": {"__argon_lsn": 1}}).is_err());
        assert!(check_no_reserved_paths(&doc! {"$set": {"a.__argon_x": 1}}).is_err());
        assert!(check_no_reserved_paths(&doc! {"$expr": {"$eq": ["$__argon_lsn", 1]}}).is_err());
        assert!(validate_collection_name("__argon.wal").is_err());
        assert!(validate_collection_name("users").is_ok());
    }
}
