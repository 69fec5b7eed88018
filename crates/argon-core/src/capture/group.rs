//! Writing captured outside events: one transaction per group, one LSN per event.

use super::events::{apply_update_description, coll_of, without_lsn, Position};
use super::LEASE_MS;
use crate::adopt::{adoption_key, adoption_record};
use crate::error::{ArgonError, Result};
use crate::lsn::{Lsn, RecordKey};
use crate::names::{F_LSN, MAIN_ID};
use crate::project::Project;
use crate::wal::{
    query, F_AFTER, F_KEY, F_OP, F_OUTSIDE, F_WALL, OP_DELETE, OP_INSERT, OP_REPLACE, OP_UPDATE,
};
use crate::write::txn::TxResult;
use mongodb::bson::{doc, Bson, DateTime, Document, Timestamp};
use mongodb::ClientSession;
use std::collections::HashMap;

/// Captures a group of outside events in one transaction, with the stream position.
pub(super) async fn flush(
    p: &Project,
    group: &mut Vec<Document>,
    pos: Option<Position>,
) -> Result<()> {
    let Some(pos) = pos else { return Ok(()) };
    let colls: std::collections::BTreeSet<&str> = group.iter().filter_map(coll_of).collect();
    for c in colls {
        p.adoption(c).await?;
        p.mirror_indexes_of(c).await?;
    }
    let through = group
        .iter()
        .filter_map(|e| e.get_timestamp("clusterTime").ok())
        .max();
    let evs: &[Document] = group;
    let captured: usize =
        crate::in_txn_solo!(p, |s, _alloc| capture_group(p, s, evs, &pos, through))?;
    p.ops
        .telemetry
        .incr(crate::telemetry::CAPTURED_TOTAL, captured as u64);
    if let Some(t) = through {
        *p.capture.captured_through.lock().expect("capture through") = Some(t);
    }
    *p.capture.pos.lock().expect("capture pos") = Some(pos);
    group.clear();
    Ok(())
}

async fn capture_group(
    p: &Project,
    s: &mut ClientSession,
    evs: &[Document],
    pos: &Position,
    through: Option<Timestamp>,
) -> TxResult<usize> {
    // One LSN per outside write, consecutive, reserved with one counter update (which
    // also marks this transaction as Argon's in the stream).
    let n = evs.len() as i64;
    let last = crate::write::alloc::reserve(&p.db, s, n).await?;
    let first = Lsn(last - n + 1);
    let now = DateTime::now();
    let mut g = Group::load(p, s, evs).await?;
    let mut records = Vec::new();
    let mut captured = 0;
    for (i, ev) in evs.iter().enumerate() {
        let key = Lsn(first.get() + i as i64).first_key();
        if let Some(mut recs) = capture_one(p, ev, key, now, &mut g).await? {
            captured += 1;
            records.append(&mut recs);
        }
    }
    g.stamp(p, s).await?;
    if !records.is_empty() {
        p.wal().insert_many(records).session(&mut *s).await?;
    }
    let fenced = p
        .meta()
        .update_one(
            doc! {"_id": "captureLease", "owner": &p.capture.owner},
            doc! {"$set": {"until": DateTime::from_millis(now.timestamp_millis() + LEASE_MS)}},
        )
        .session(&mut *s)
        .await?;
    if fenced.matched_count == 0 {
        return Err(ArgonError::Internal("capture lease lost".into()).into());
    }
    let mut set = pos.to_set();
    if let Some(t) = through {
        set.insert("through", t);
    }
    p.meta()
        .update_one(doc! {"_id": "captureState"}, doc! {"$set": set})
        .upsert(true)
        .session(&mut *s)
        .await?;
    Ok(captured)
}

/// What one capture transaction knows about the documents its events touch, read with one
/// query per collection for each kind (not one per event): each document's newest WAL
/// record (updated as the group writes records) and its current head row; and the head
/// stamps to write at the end.
struct Group {
    newest: HashMap<String, Document>,
    heads: HashMap<String, Document>,
    /// Per document: the stamp its head row gets (the key of its last record in the group,
    /// when the head still holds that record's state), with its collection and `_id`.
    stamps: HashMap<String, (String, Bson, Option<RecordKey>)>,
}

fn doc_key(coll: &str, k: &Bson) -> String {
    format!("{coll}\u{0}{}", crate::names::id_key(k))
}

fn event_key(ev: &Document) -> Option<(&str, Bson)> {
    let coll = coll_of(ev)?;
    let k = ev.get_document("documentKey").ok()?.get("_id")?.clone();
    Some((coll, k))
}

impl Group {
    async fn load(p: &Project, s: &mut ClientSession, evs: &[Document]) -> TxResult<Group> {
        let mut by_coll: HashMap<&str, Vec<Bson>> = HashMap::new();
        for ev in evs {
            if let Some((c, k)) = event_key(ev) {
                by_coll.entry(c).or_default().push(k);
            }
        }
        let mut g = Group {
            newest: HashMap::new(),
            heads: HashMap::new(),
            stamps: HashMap::new(),
        };
        for (coll, ks) in by_coll {
            let newest = p
                .wal()
                .aggregate([
                    doc! {"$match": query::versions(MAIN_ID, coll, doc! {"$in": ks.clone()}.into(), None)},
                    doc! {"$sort": query::versions_sort()},
                    doc! {"$group": {"_id": format!("${}", crate::wal::F_DOC_ID), "top": {"$first": {
                        F_KEY: format!("${F_KEY}"), F_OP: format!("${F_OP}"), F_OUTSIDE: format!("${F_OUTSIDE}"), F_AFTER: format!("${F_AFTER}"),
                    }}}},
                ])
                .session(&mut *s)
                .await?;
            let mut newest = newest;
            while let Some(d) = newest.next(&mut *s).await {
                let d = d?;
                if let (Some(k), Ok(top)) = (d.get("_id"), d.get_document("top")) {
                    g.newest.insert(doc_key(coll, k), top.clone());
                }
            }
            let mut heads =
                p.db.collection::<Document>(coll)
                    .find(doc! {"_id": {"$in": ks}})
                    .session(&mut *s)
                    .await?;
            while let Some(d) = heads.next(&mut *s).await {
                let d = d?;
                if let Some(k) = d.get("_id").cloned() {
                    g.heads.insert(doc_key(coll, &k), without_lsn(&d));
                }
            }
        }
        Ok(g)
    }

    /// Writes the head stamps: one pipeline update per collection.
    async fn stamp(&self, p: &Project, s: &mut ClientSession) -> TxResult<()> {
        let mut by_coll: HashMap<&str, Vec<(Bson, RecordKey)>> = HashMap::new();
        for (coll, k, key) in self.stamps.values() {
            if let Some(key) = key {
                by_coll.entry(coll).or_default().push((k.clone(), *key));
            }
        }
        for (coll, stamps) in by_coll {
            let ids: Vec<Bson> = stamps.iter().map(|(k, _)| k.clone()).collect();
            let branches: Vec<Document> = stamps
                .iter()
                .map(|(k, key)| doc! {"case": {"$eq": ["$_id", {"$literal": k.clone()}]}, "then": *key})
                .collect();
            p.db.collection::<Document>(coll)
                .update_many(
                    doc! {"_id": {"$in": ids}},
                    vec![doc! {"$set": {F_LSN: {"$switch": {"branches": branches, "default": format!("${F_LSN}")}}}}],
                )
                .session(&mut *s)
                .await?;
        }
        Ok(())
    }
}

/// The WAL records for one outside event (an adoption record first when it changes an
/// adopted document), or `None` when it needs none.
async fn capture_one(
    p: &Project,
    ev: &Document,
    key: RecordKey,
    now: DateTime,
    g: &mut Group,
) -> TxResult<Option<Vec<Document>>> {
    let Some((coll, k)) = event_key(ev) else {
        return Ok(None);
    };
    let op = match ev.get_str("operationType").unwrap_or("") {
        "insert" => OP_INSERT,
        "update" => OP_UPDATE,
        "replace" => OP_REPLACE,
        "delete" => OP_DELETE,
        _ => return Ok(None),
    };
    let pre = ev.get_document("fullDocumentBeforeChange").ok();
    let dk = doc_key(coll, &k);
    let newest = g.newest.get(&dk).cloned();
    // Argon wrote this document after the outside write and before it was captured: its
    // version was computed from the outside change, which is folded into it.
    if let Some(n) = &newest {
        let argons = !n.get_bool(F_OUTSIDE).unwrap_or(false) && n.get_str(F_OP) != Ok(OP_DELETE);
        let stamp = pre.and_then(|d| d.get_i64(F_LSN).ok());
        if argons && (op == OP_INSERT || (pre.is_some() && stamp != n.get_i64(F_KEY).ok())) {
            p.ops
                .telemetry
                .incr(crate::telemetry::CAPTURE_FOLDED_TOTAL, 1);
            tracing::warn!(collection = coll, "an outside write was superseded by an Argon write before capture; folded into Argon's version");
            return Ok(None);
        }
    }
    let mut out = Vec::new();
    // The superseded version: its key and image (see `wal::record`).
    let prev = match &newest {
        Some(n) if n.get_str(F_OP) != Ok(OP_DELETE) => {
            match (n.get_i64(F_KEY), n.get_document(F_AFTER)) {
                (Ok(pk), Ok(pd)) => Some((RecordKey(pk), pd.clone())),
                _ => None,
            }
        }
        Some(_) => None,
        None if op != OP_INSERT => match pre {
            // Its newest record was collected (gc): the pre-image's stamp names it.
            Some(pre) if pre.get_i64(F_LSN).is_ok() => {
                Some((RecordKey(pre.get_i64(F_LSN).unwrap_or(0)), without_lsn(pre)))
            }
            // An adopted document's first change: keep the state it replaced.
            Some(pre) => {
                let a = p.adoption(coll).await?;
                let pre = without_lsn(pre);
                out.push(adoption_record(coll, &k, key, pre.clone(), &a));
                Some((adoption_key(key), pre))
            }
            None => {
                p.ops
                    .telemetry
                    .incr(crate::telemetry::CAPTURE_APPROXIMATE_TOTAL, 1);
                None
            }
        },
        None => None,
    };
    let after: Option<Document> = match op {
        OP_INSERT | OP_REPLACE => ev.get_document("fullDocument").ok().map(without_lsn),
        OP_UPDATE => {
            let computed = match (pre, ev.get_document("updateDescription")) {
                (Some(pre), Ok(ud)) => apply_update_description(&without_lsn(pre), ud),
                _ => None,
            };
            computed.or_else(|| {
                // No pre-image: the current state stands in (approximate if the document
                // changed again since).
                p.ops
                    .telemetry
                    .incr(crate::telemetry::CAPTURE_APPROXIMATE_TOTAL, 1);
                g.heads.get(&dk).cloned()
            })
        }
        _ => None,
    };
    if op != OP_DELETE && after.is_none() {
        return Ok(None);
    }
    // The head row gets the key of the document's last record in the group if it still
    // holds that state; otherwise a later event captures (and stamps) the newer state.
    let stamp = match (&after, g.heads.get(&dk)) {
        (Some(a), Some(cur)) if crate::write::same_doc(cur, a) => Some(key),
        _ => None,
    };
    g.stamps
        .insert(dk.clone(), (coll.to_string(), k.clone(), stamp));
    let newest_d = after.clone().map(Bson::Document).unwrap_or(Bson::Null);
    let mut rec = crate::wal::record(key, MAIN_ID, coll, &k, op, after, now, prev);
    rec.insert(F_OUTSIDE, true);
    if let Ok(w) = ev.get_datetime("wallTime") {
        rec.insert(F_WALL, *w);
    }
    g.newest.insert(
        dk,
        doc! {F_KEY: key, F_OP: op, F_OUTSIDE: true, F_AFTER: newest_d},
    );
    out.push(rec);
    Ok(Some(out))
}
