//! Inserts: `insertMany` with MongoDB's ordered/unordered semantics, and the insert half of
//! an upsert. New rows carry their record key (`__argon_lsn`) and, on a child, the key of
//! the branch's first write of the document (`__argon_first`, kept across tombstones).

use super::unique::{check_unique_vs_ancestors, id_key};
use super::{user_update, view_in_txn, wal_record, Change, InsertOutcome, Target};
use crate::error::{ArgonError, Result};
use crate::lsn::RecordKey;
use crate::names::{F_DEL, F_FIRST, F_LSN, SCRATCH};
use crate::read::query_opts::QueryOpts;
use crate::read::view::ViewQuery;
use crate::wal::OP_INSERT;
use crate::write::alloc::LsnAlloc;
use crate::write::txn::TxResult;
use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use std::collections::HashMap;

/// Inserts new documents (which already carry `_id`) as head rows at LSNs `n0..`.
pub(super) async fn insert_rows(
    t: &Target<'_>,
    s: &mut ClientSession,
    docs: &[Document],
    n0: RecordKey,
    now: DateTime,
    token: i64,
) -> TxResult<()> {
    let ids: Vec<Bson> = docs
        .iter()
        .map(|d| d.get("_id").cloned().unwrap_or(Bson::Null))
        .collect();
    let mut tomb_first: HashMap<String, RecordKey> = HashMap::new();
    if !t.is_main() {
        if t.levels.len() > 1 {
            let q = ViewQuery {
                filter: doc! {"_id": {"$in": ids.clone()}},
                limit: Some(1),
                for_write: true,
                ancestors_only: true,
                ..Default::default()
            };
            if let Some(found) = view_in_txn(t, s, &q).await?.first() {
                let id = found.get("_id").cloned().unwrap_or(Bson::Null);
                let index = ids.iter().position(|x| *x == id);
                let mut e = ArgonError::duplicate_key(&t.ns(), "_id_", doc! {"_id": id});
                if let ArgonError::Server { index: i, .. } = &mut e {
                    *i = index;
                }
                return Err(e.into());
            }
        }
        let mut cur = t
            .head()
            .find(doc! {"_id": {"$in": ids.clone()}, F_DEL: {"$exists": true}})
            .projection(doc! {F_FIRST: 1})
            .session(&mut *s)
            .await?;
        while let Some(d) = cur.next(&mut *s).await {
            let d = d?;
            tomb_first.insert(
                id_key(d.get("_id").unwrap_or(&Bson::Null)),
                d.get_i64(F_FIRST).map(RecordKey).unwrap_or(n0),
            );
        }
    }
    let mut fresh = Vec::new();
    let mut fresh_idx = Vec::new();
    let mut wal = Vec::with_capacity(docs.len());
    for (i, d) in docs.iter().enumerate() {
        let lsn = n0.plus(i as i64);
        let mut row = d.clone();
        row.insert(F_LSN, lsn);
        let tomb = tomb_first.get(&id_key(&ids[i])).copied();
        if !t.is_main() {
            row.insert(F_FIRST, tomb.unwrap_or(lsn));
        }
        match tomb {
            Some(_) => {
                t.head()
                    .replace_one(doc! {"_id": ids[i].clone()}, row)
                    .session(&mut *s)
                    .await?;
            }
            None => {
                fresh.push(row);
                fresh_idx.push(i);
            }
        }
        wal.push(wal_record(
            t,
            lsn,
            &ids[i],
            OP_INSERT,
            Some(d.clone()),
            now,
            None,
        ));
    }
    if !fresh.is_empty() {
        if let Err(e) = t.head().insert_many(fresh).session(&mut *s).await {
            // Transient errors (write conflicts) go back to the retry loop unchanged.
            if crate::error::is_transient(&e) {
                return Err(e.into());
            }
            let mut ae: ArgonError = e.into();
            if let ArgonError::Server { index, .. } = &mut ae {
                *index = index
                    .map(|j| fresh_idx.get(j).copied().unwrap_or(j))
                    .or(Some(fresh_idx[0]));
            }
            return Err(ae.into());
        }
    }
    check_unique_vs_ancestors(t, s, docs).await?;
    for r in &mut wal {
        r.insert(crate::wal::F_GROUP, token);
    }
    t.p.wal().insert_many(wal).session(&mut *s).await?;
    Ok(())
}

pub(crate) async fn insert_batch(
    t: &Target<'_>,
    s: &mut ClientSession,
    alloc: &mut LsnAlloc<'_>,
    batch: &[Document],
) -> TxResult<()> {
    let now = DateTime::now();
    let n0 = alloc.take(s, batch.len() as i64).await?;
    insert_rows(t, s, batch, n0, now, alloc.token()).await
}

/// Validates and completes documents for insertion (adds a missing `_id`).
pub fn prepare_inserts(docs: &mut [Document]) -> Result<()> {
    for d in docs.iter_mut() {
        let raw = mongodb::bson::RawDocumentBuf::from_document(d)?;
        crate::names::check_user_document(&raw)?;
        if !d.contains_key("_id") {
            let mut with_id = doc! {"_id": ObjectId::new()};
            with_id.extend(std::mem::take(d));
            *d = with_id;
        }
    }
    Ok(())
}

/// insertMany with MongoDB's ordered/unordered semantics: ordered stops at the first
/// failing document (the ones before it are inserted); unordered inserts every document
/// that does not fail. Each attempt is one transaction.
pub async fn insert_many(
    t: &Target<'_>,
    docs: Vec<Document>,
    ordered: bool,
) -> Result<InsertOutcome> {
    let docs = &docs;
    let s = super::without_failures(docs.len(), ordered, |items| async move {
        let batch: Vec<Document> = items.iter().map(|&i| docs[i].clone()).collect();
        crate::in_txn!(t.p, |s, alloc| insert_batch(t, s, alloc, &batch))
    })
    .await?;
    Ok(InsertOutcome {
        inserted: s.applied,
        errors: s.errors,
    })
}

pub(super) async fn upsert(
    t: &Target<'_>,
    s: &mut ClientSession,
    filter: &Document,
    change: &Change,
    qo: &QueryOpts,
    now: DateTime,
    alloc: &mut LsnAlloc<'_>,
) -> TxResult<Document> {
    // Let the server build the upserted document exactly as it would (the `_id` and
    // equality fields taken from the filter, $setOnInsert, operators) in a scratch
    // collection inside this transaction, then insert it through the normal path.
    let scratch = t.p.db.collection::<Document>(SCRATCH);
    let new_doc = match change {
        Change::Replace(r) => {
            let mut a = scratch
                .find_one_and_replace(filter.clone(), r.clone())
                .upsert(true)
                .return_document(ReturnDocument::After);
            if let Some(l) = &qo.let_vars {
                a = a.let_vars(l.clone());
            }
            if let Some(c) = &qo.collation {
                a = a.collation(c.clone());
            }
            a.session(&mut *s).await?
        }
        Change::Update {
            update,
            array_filters,
        } => {
            let mut a = scratch
                .find_one_and_update(filter.clone(), user_update(update)?)
                .upsert(true)
                .return_document(ReturnDocument::After);
            if let Some(af) = array_filters {
                a = a.array_filters(af.clone());
            }
            if let Some(l) = &qo.let_vars {
                a = a.let_vars(l.clone());
            }
            if let Some(c) = &qo.collation {
                a = a.collation(c.clone());
            }
            a.session(&mut *s).await?
        }
        Change::Delete => return Err(ArgonError::Internal("upsert of a delete".into()).into()),
    }
    .ok_or_else(|| ArgonError::Internal("upsert produced no document".into()))?;
    scratch
        .delete_one(doc! {"_id": new_doc.get("_id").cloned().unwrap_or(Bson::Null)})
        .session(&mut *s)
        .await?;
    let raw = mongodb::bson::RawDocumentBuf::from_document(&new_doc).map_err(ArgonError::from)?;
    crate::names::check_user_document(&raw)?;
    let n0 = alloc.take(s, 1).await?;
    insert_rows(t, s, std::slice::from_ref(&new_doc), n0, now, alloc.token()).await?;
    Ok(new_doc)
}
