//! The change stream's vocabulary: positions, which events are outside writes, where
//! transactions end, and post-images rebuilt from update descriptions. No I/O.

use crate::names::{is_user_collection, F_LSN, META};
use mongodb::bson::{doc, Bson, Document, Timestamp};

/// A point in the change stream: the last event processed (its resume token and cluster
/// time), or, before any event, the cluster time capture started at.
///
/// Positions never use the post-batch ("high-water mark") token of an empty batch: the test
/// server resumes from those unreliably under load (it skipped 40 of 200 later events in a
/// probe); event tokens and `startAtOperationTime` were exact (see docs/compatibility.md).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Position {
    pub(super) token: Option<Bson>,
    pub(super) at: Timestamp,
}

impl Position {
    pub(super) fn of_event(ev: &Document) -> Option<Position> {
        Some(Position {
            token: Some(ev.get("_id")?.clone()),
            at: ev.get_timestamp("clusterTime").ok()?,
        })
    }
    pub(super) fn from_doc(d: &Document) -> Option<Position> {
        Some(Position {
            token: d.get("token").filter(|t| !matches!(t, Bson::Null)).cloned(),
            at: d.get_timestamp("at").ok()?,
        })
    }
    pub(super) fn to_set(&self) -> Document {
        doc! {"token": self.token.clone().unwrap_or(Bson::Null), "at": self.at}
    }
}

/// The server-side filter of the capture stream: CRUD events on user collections, and the
/// LSN counter's updates (which mark Argon's transactions).
pub(super) fn stream_filter() -> Document {
    doc! {"$match": {"$or": [
        user_crud(),
        {"ns.coll": META, "documentKey._id": "lsn"},
        {"operationType": "invalidate"},
    ]}}
}

/// CRUD events on main's user collections (the stream filter's part for outside writes).
pub(super) fn user_crud() -> Document {
    doc! {
        "ns.coll": {"$not": {"$regex": "^(__argon|system\\.)"}},
        "operationType": {"$in": ["insert", "update", "replace", "delete"]},
    }
}

/// `(lsid.id, txnNumber)` of an event in a transaction.
pub(super) fn txn_key(ev: &Document) -> Option<(Bson, i64)> {
    let lsid = ev.get_document("lsid").ok()?.get("id")?.clone();
    let n = ev
        .get_i64("txnNumber")
        .ok()
        .or_else(|| ev.get_i32("txnNumber").ok().map(i64::from))?;
    Some((lsid, n))
}

pub(super) fn coll_of(ev: &Document) -> Option<&str> {
    ev.get_document("ns").ok()?.get_str("coll").ok()
}

/// Classifies events in stream order: which are outside writes to capture.
///
/// A stream read from a position starts at a transaction boundary (positions are the last
/// event of a complete transaction). One started from a cluster time may start inside a
/// transaction whose counter event it missed; that first transaction is skipped, not
/// taken for an outside write (a write straddling the moment capture first starts).
#[derive(Default)]
pub(super) struct Classifier {
    argon_txn: Option<(Bson, i64)>,
    skip_txn: Option<(Bson, i64)>,
    from_time: bool,
}

impl Classifier {
    pub(super) fn new(from_time: bool) -> Self {
        Classifier {
            from_time,
            ..Default::default()
        }
    }

    /// True for an outside CRUD event on a user collection.
    pub(super) fn is_outside(&mut self, ev: &Document) -> bool {
        let Some(coll) = coll_of(ev) else {
            return false;
        };
        let key = txn_key(ev);
        if std::mem::take(&mut self.from_time) && coll != META && key.is_some() {
            self.skip_txn = key.clone();
        }
        if coll == META {
            // The LSN counter moved: this transaction is one of Argon's.
            if key.is_some() {
                self.argon_txn = key;
            }
            return false;
        }
        if !is_user_collection(coll) {
            return false;
        }
        match key {
            Some(k) => self.argon_txn.as_ref() != Some(&k) && self.skip_txn.as_ref() != Some(&k),
            None => true,
        }
    }
}

/// Tracks transaction boundaries in the stream: the position after the last complete
/// transaction (a safe place to resume or to scan from).
#[derive(Default)]
pub(super) struct Boundaries {
    cur: Option<(Bson, i64)>,
    open_last: Option<Position>,
    pub(super) complete: Option<Position>,
}

impl Boundaries {
    pub(super) fn see(&mut self, ev: &Document) {
        let key = txn_key(ev);
        if key.is_none() || key != self.cur {
            if let Some(p) = self.open_last.take() {
                self.complete = Some(p);
            }
        }
        let pos = Position::of_event(ev);
        if key.is_none() {
            self.complete = pos.or(self.complete.take());
        } else {
            self.open_last = pos;
        }
        self.cur = key;
    }
    /// The stream returned everything committed: the open transaction is complete (its
    /// events became visible together).
    pub(super) fn caught_up(&mut self) {
        if let Some(p) = self.open_last.take() {
            self.complete = Some(p);
        }
        self.cur = None;
    }
    pub(super) fn in_txn(&self) -> bool {
        self.open_last.is_some()
    }
}

/// Applies a change event's `updateDescription` to the pre-image: the post-image exactly
/// as the server produced it. `None` if a path does not fit the pre-image.
pub fn apply_update_description(pre: &Document, ud: &Document) -> Option<Document> {
    let mut out = pre.clone();
    if let Ok(tr) = ud.get_array("truncatedArrays") {
        for t in tr {
            let t = t.as_document()?;
            let field = t.get_str("field").ok()?;
            let size = t
                .get_i32("newSize")
                .map(i64::from)
                .or_else(|_| t.get_i64("newSize"))
                .ok()?;
            if let Some(Bson::Array(a)) = path_mut(&mut out, field, false) {
                a.truncate(size.max(0) as usize);
            } else {
                return None;
            }
        }
    }
    if let Ok(rm) = ud.get_array("removedFields") {
        for f in rm {
            remove_path(&mut out, f.as_str()?);
        }
    }
    if let Ok(up) = ud.get_document("updatedFields") {
        for (k, v) in up {
            *path_mut(&mut out, k, true)? = v.clone();
        }
    }
    Some(out)
}

fn child_mut<'a>(b: &'a mut Bson, part: &str, create: bool) -> Option<&'a mut Bson> {
    match b {
        Bson::Document(d) => {
            if !d.contains_key(part) {
                if !create {
                    return None;
                }
                d.insert(part, Bson::Null);
            }
            d.get_mut(part)
        }
        Bson::Array(a) => {
            let i: usize = part.parse().ok()?;
            if i >= a.len() {
                if !create {
                    return None;
                }
                a.resize(i + 1, Bson::Null);
            }
            a.get_mut(i)
        }
        _ => None,
    }
}

fn path_mut<'a>(d: &'a mut Document, path: &str, create: bool) -> Option<&'a mut Bson> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    if !d.contains_key(first) {
        if !create {
            return None;
        }
        d.insert(first, Bson::Null);
    }
    let mut cur = d.get_mut(first)?;
    for part in parts {
        if create && matches!(cur, Bson::Null) {
            *cur = Bson::Document(Document::new());
        }
        cur = child_mut(cur, part, create)?;
    }
    Some(cur)
}

fn remove_path(d: &mut Document, path: &str) {
    match path.rsplit_once('.') {
        None => {
            d.remove(path);
        }
        Some((parent, last)) => match path_mut(d, parent, false) {
            Some(Bson::Document(p)) => {
                p.remove(last);
            }
            Some(Bson::Array(a)) => {
                if let Ok(i) = last.parse::<usize>() {
                    if i < a.len() {
                        a[i] = Bson::Null;
                    }
                }
            }
            _ => {}
        },
    }
}

pub(super) fn without_lsn(d: &Document) -> Document {
    let mut d = d.clone();
    d.remove(F_LSN);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_descriptions_rebuild_post_images() {
        let pre = doc! {"_id": 1, "a": 1, "b": {"c": 2, "d": 3}, "arr": [1, 2, 3, 4]};
        let ud = doc! {
            "updatedFields": {"a": 5, "b.c": 7, "e": "new", "arr.1": 9},
            "removedFields": ["b.d"],
            "truncatedArrays": [{"field": "arr", "newSize": 3}],
        };
        assert_eq!(
            apply_update_description(&pre, &ud).unwrap(),
            doc! {"_id": 1, "a": 5, "b": {"c": 7}, "arr": [1, 9, 3], "e": "new"}
        );
        // A path through a scalar does not fit: the caller falls back.
        assert!(
            apply_update_description(&doc! {"a": 1}, &doc! {"updatedFields": {"a.b.c": 1}})
                .is_none()
        );
    }

    #[test]
    fn argon_transactions_are_recognised_by_the_counter() {
        let lsid = doc! {"id": 7};
        let mut c = Classifier::new(false);
        let counter = doc! {"ns": {"coll": META}, "lsid": lsid.clone(), "txnNumber": 3_i64};
        let mine = doc! {"ns": {"coll": "users"}, "lsid": lsid.clone(), "txnNumber": 3_i64};
        let theirs_txn = doc! {"ns": {"coll": "users"}, "lsid": lsid.clone(), "txnNumber": 4_i64};
        let theirs = doc! {"ns": {"coll": "users"}};
        let internal = doc! {"ns": {"coll": "__argon.wal"}};
        assert!(!c.is_outside(&counter));
        assert!(!c.is_outside(&mine));
        assert!(c.is_outside(&theirs_txn));
        assert!(c.is_outside(&theirs));
        assert!(!c.is_outside(&internal));
        // Started from a time inside an Argon transaction (its counter event missed): the
        // rest of that transaction is skipped, later outside writes are not.
        let mut fresh = Classifier::new(true);
        assert!(!fresh.is_outside(&mine));
        assert!(!fresh.is_outside(&mine));
        assert!(fresh.is_outside(&theirs));
    }

    #[test]
    fn positions_fall_on_transaction_boundaries() {
        let ev = |n: u32, txn: Option<i64>| {
            let mut d = doc! {"_id": {"n": n}, "clusterTime": Timestamp { time: 1, increment: n }};
            if let Some(t) = txn {
                d.insert("lsid", doc! {"id": 1});
                d.insert("txnNumber", t);
            }
            d
        };
        let mut b = Boundaries::default();
        b.see(&ev(1, None));
        assert_eq!(b.complete.as_ref().unwrap().at.increment, 1);
        b.see(&ev(2, Some(5)));
        b.see(&ev(3, Some(5)));
        assert!(b.in_txn());
        assert_eq!(
            b.complete.as_ref().unwrap().at.increment,
            1,
            "not inside the transaction"
        );
        b.see(&ev(4, Some(6)));
        assert_eq!(
            b.complete.as_ref().unwrap().at.increment,
            3,
            "the previous transaction ended"
        );
        b.caught_up();
        assert_eq!(b.complete.as_ref().unwrap().at.increment, 4);
        assert!(!b.in_txn());
    }
}
