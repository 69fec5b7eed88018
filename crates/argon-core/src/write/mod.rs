//! The write path. Every write runs in one transaction: find the target rows through the
//! branch view (snapshot), allocate LSNs, copy ancestor rows into the branch's head
//! (copy-on-write), let the server apply the update there, and append after-images to
//! the WAL while closing each document's previous version. Commit makes all of it visible
//! at once; a crash before commit leaves nothing.

pub(crate) mod alloc;
pub mod txn;

use crate::branch::heads::UniqueIndex;
use crate::branch::meta::Level;
use crate::error::{ArgonError, Result};
use crate::names::{
    head_collection, strip_reserved, F_DEL, F_FIRST, F_LSN, F_SRC, MAIN_ID, SCRATCH,
};
use crate::project::Project;
use crate::read::sort::{get_path, has_path, sort_documents};
use crate::read::view::{self, ViewQuery};
use crate::write::alloc::LsnAlloc;
use crate::write::txn::TxResult;
use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use mongodb::options::{ReturnDocument, UpdateModifications};
use mongodb::{ClientSession, Collection};
use std::collections::HashMap;

/// Where a write goes: a branch (with its ancestry, all at their heads) and a collection.
pub struct Target<'a> {
    pub p: &'a Project,
    pub coll: &'a str,
    pub levels: Vec<Level>,
    pub uniques: Vec<UniqueIndex>,
}

/// What to do to each matched document.
#[derive(Debug, Clone)]
pub enum Change {
    /// An operator document or an aggregation pipeline.
    Update {
        update: Bson,
        array_filters: Option<Vec<Document>>,
    },
    Replace(Document),
    Delete,
}

#[derive(Debug, Clone, Default)]
pub struct ModifyOpts {
    pub multi: bool,
    pub upsert: bool,
    pub sort: Option<Document>,
    /// For findOneAnd*: return the document after the change instead of before.
    pub return_after: bool,
    /// For findOneAnd*: return a document at all, with this projection.
    pub want_doc: bool,
    pub projection: Option<Document>,
}

#[derive(Debug, Clone, Default)]
pub struct ModifyOutcome {
    pub matched: u64,
    pub modified: u64,
    pub deleted: u64,
    pub upserted_id: Option<Bson>,
    pub doc: Option<Document>,
}

/// Result of insertMany: which input indexes were inserted, and per-document errors.
#[derive(Debug, Default)]
pub struct InsertOutcome {
    pub inserted: Vec<usize>,
    pub errors: Vec<(usize, ArgonError)>,
}

impl Target<'_> {
    fn branch_id(&self) -> i32 {
        self.levels[0].id
    }
    fn is_main(&self) -> bool {
        self.branch_id() == MAIN_ID
    }
    fn head(&self) -> Collection<Document> {
        self.p
            .db
            .collection(&head_collection(self.branch_id(), self.coll))
    }
    fn ns(&self) -> String {
        format!("{}.{}", self.p.db.name(), self.coll)
    }
}

async fn collect_in(
    s: &mut ClientSession,
    coll: Collection<Document>,
    pipeline: Vec<Document>,
) -> TxResult<Vec<Document>> {
    let mut cur = coll.aggregate(pipeline).session(&mut *s).await?;
    let mut out = Vec::new();
    while let Some(d) = cur.next(&mut *s).await {
        out.push(d?);
    }
    Ok(out)
}

/// Runs a view query part by part inside the transaction and merges client-side.
pub(crate) async fn view_in_txn(
    t: &Target<'_>,
    s: &mut ClientSession,
    q: &ViewQuery<'_>,
) -> TxResult<Vec<Document>> {
    let mut all = Vec::new();
    for (coll, pipeline) in view::parts(&t.levels, t.coll, q, true) {
        all.extend(collect_in(s, t.p.db.collection(&coll), pipeline).await?);
        if q.sort.is_none() && q.limit.is_some_and(|l| all.len() as i64 >= l) {
            break;
        }
    }
    if let Some(so) = q.sort {
        sort_documents(&mut all, so);
    }
    if let Some(l) = q.limit {
        all.truncate(l.max(0) as usize);
    }
    Ok(all)
}

fn wal_record(
    t: &Target,
    lsn: i64,
    k: &Bson,
    op: &str,
    d: Option<Document>,
    now: DateTime,
    prev: Option<(i64, Document)>,
) -> Document {
    crate::wal::record(lsn, t.branch_id(), t.coll, k, op, d, now, prev)
}

/// Adds Argon's `$set` of reserved fields to a user update (operator or pipeline form).
fn with_reserved(update: &Bson, sets: Document) -> Result<UpdateModifications> {
    match update {
        Bson::Document(d) => {
            if d.is_empty() || d.keys().any(|k| !k.starts_with('$')) {
                return Err(ArgonError::InvalidArgument(
                    "Update document requires atomic operators".into(),
                ));
            }
            let mut d = d.clone();
            let mut set = d.get_document("$set").cloned().unwrap_or_default();
            for (k, v) in sets {
                set.insert(k, v);
            }
            d.insert("$set", set);
            Ok(UpdateModifications::Document(d))
        }
        Bson::Array(stages) => {
            let mut v = Vec::with_capacity(stages.len() + 1);
            for st in stages {
                match st {
                    Bson::Document(d) => v.push(d.clone()),
                    _ => {
                        return Err(ArgonError::InvalidArgument(
                            "an update pipeline must be an array of stage documents".into(),
                        ))
                    }
                }
            }
            v.push(doc! {"$set": sets});
            Ok(UpdateModifications::Pipeline(v))
        }
        _ => Err(ArgonError::InvalidArgument(
            "an update must be a document or a pipeline".into(),
        )),
    }
}

fn user_update(update: &Bson) -> Result<UpdateModifications> {
    match update {
        Bson::Document(d) => Ok(UpdateModifications::Document(d.clone())),
        Bson::Array(a) => Ok(UpdateModifications::Pipeline(
            a.iter().filter_map(|b| b.as_document().cloned()).collect(),
        )),
        _ => Err(ArgonError::InvalidArgument(
            "an update must be a document or a pipeline".into(),
        )),
    }
}

/// Byte-exact document equality: field order matters, as it does to MongoDB when it
/// decides whether an update modified a document.
pub(crate) fn same_doc(a: &Document, b: &Document) -> bool {
    match (mongodb::bson::to_vec(a), mongodb::bson::to_vec(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Hashable key of a BSON value (for `_id` maps).
fn id_key(b: &Bson) -> String {
    format!("{b:?}")
}

/// Rejects after-images that collide with an ancestor row on one of the branch's unique
/// indexes. Ancestor rows are frozen at the fork, so this check cannot race.
async fn check_unique_vs_ancestors(
    t: &Target<'_>,
    s: &mut ClientSession,
    afters: &[Document],
) -> TxResult<()> {
    if t.is_main() || t.uniques.is_empty() || t.levels.len() < 2 || afters.is_empty() {
        return Ok(());
    }
    for u in &t.uniques {
        // A partial index constrains only documents that match its filter: ask the
        // server which after-images (already written to the head in this transaction) do.
        let in_scope: Vec<&Document> = match &u.partial {
            None => afters.iter().collect(),
            Some(pf) => {
                let ids: Vec<Bson> = afters
                    .iter()
                    .filter_map(|d| d.get("_id").cloned())
                    .collect();
                let mut cur = t
                    .head()
                    .find(doc! {"$and": [{"_id": {"$in": ids}}, pf.clone()]})
                    .projection(doc! {"_id": 1})
                    .session(&mut *s)
                    .await?;
                let mut hit = std::collections::HashSet::new();
                while let Some(d) = cur.next(&mut *s).await {
                    hit.insert(id_key(d?.get("_id").unwrap_or(&Bson::Null)));
                }
                afters
                    .iter()
                    .filter(|d| hit.contains(&id_key(d.get("_id").unwrap_or(&Bson::Null))))
                    .collect()
            }
        };
        let mut ors = Vec::new();
        for d in in_scope {
            let mut f = Document::new();
            let mut all_missing = true;
            for k in &u.keys {
                all_missing &= !has_path(d, k);
                f.insert(k.clone(), get_path(d, k));
            }
            if u.sparse {
                if all_missing {
                    continue;
                }
                // A sparse index holds only documents that have one of its fields.
                let exists: Vec<Bson> = u
                    .keys
                    .iter()
                    .map(|k| Bson::Document(doc! {k.clone(): {"$exists": true}}))
                    .collect();
                f = doc! {"$and": [f, {"$or": exists}]};
            }
            ors.push(Bson::Document(f));
        }
        if ors.is_empty() {
            continue;
        }
        let mut filter = doc! {"$or": ors};
        if let Some(pf) = &u.partial {
            filter = doc! {"$and": [filter, pf.clone()]};
        }
        let q = ViewQuery {
            filter,
            limit: Some(1),
            for_write: true,
            ancestors_only: true,
            ..Default::default()
        };
        if let Some(found) = view_in_txn(t, s, &q).await?.first() {
            let mut kv = Document::new();
            for k in &u.keys {
                kv.insert(k.clone(), get_path(found, k));
            }
            let at = afters
                .iter()
                .position(|d| u.keys.iter().all(|k| get_path(d, k) == get_path(found, k)));
            let mut e = ArgonError::duplicate_key(&t.ns(), &u.name, kv);
            if let ArgonError::Server { index, .. } = &mut e {
                *index = at;
            }
            return Err(e.into());
        }
    }
    Ok(())
}

/// Inserts new documents (which already carry `_id`) as head rows at LSNs `n0..`.
async fn insert_rows(
    t: &Target<'_>,
    s: &mut ClientSession,
    docs: &[Document],
    n0: i64,
    now: DateTime,
) -> TxResult<()> {
    let ids: Vec<Bson> = docs
        .iter()
        .map(|d| d.get("_id").cloned().unwrap_or(Bson::Null))
        .collect();
    let mut tomb_first: HashMap<String, i64> = HashMap::new();
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
                d.get_i64(F_FIRST).unwrap_or(n0),
            );
        }
    }
    let mut fresh = Vec::new();
    let mut fresh_idx = Vec::new();
    let mut wal = Vec::with_capacity(docs.len());
    for (i, d) in docs.iter().enumerate() {
        let lsn = n0 + i as i64;
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
        wal.push(wal_record(t, lsn, &ids[i], "i", Some(d.clone()), now, None));
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
    t.p.wal().insert_many(wal).session(&mut *s).await?;
    Ok(())
}

async fn insert_batch(
    t: &Target<'_>,
    s: &mut ClientSession,
    alloc: &mut LsnAlloc<'_>,
    batch: &[Document],
) -> TxResult<()> {
    let now = DateTime::now();
    let n0 = alloc.take(s, batch.len() as i64).await?;
    insert_rows(t, s, batch, n0, now).await
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
    let mut out = InsertOutcome::default();
    let mut pending: Vec<usize> = (0..docs.len()).collect();
    let mut stop_after = false;
    while !pending.is_empty() {
        let batch: Vec<Document> = pending.iter().map(|&i| docs[i].clone()).collect();
        let r: Result<()> = crate::in_txn!(t.p, |s, alloc| insert_batch(t, s, alloc, &batch));
        match r {
            Ok(()) => {
                metrics::counter!(crate::telemetry::WAL_RECORDS_TOTAL)
                    .increment(batch.len() as u64);
                out.inserted.append(&mut pending);
            }
            Err(ArgonError::Server {
                index,
                code,
                code_name,
                message,
                key_value,
            }) if index.is_some_and(|j| j < pending.len())
                || (index.is_none() && pending.len() == 1 && code == 11000) =>
            {
                let j = index.unwrap_or(0);
                let failed = pending[j];
                out.errors.push((
                    failed,
                    ArgonError::Server {
                        index: Some(failed),
                        code,
                        code_name,
                        message,
                        key_value,
                    },
                ));
                if ordered {
                    pending.truncate(j);
                    stop_after = true;
                } else {
                    pending.remove(j);
                }
            }
            Err(e) => return Err(e),
        }
        if stop_after && !pending.is_empty() {
            continue;
        }
        if stop_after {
            break;
        }
    }
    out.inserted.sort_unstable();
    Ok(out)
}

async fn upsert(
    t: &Target<'_>,
    s: &mut ClientSession,
    filter: &Document,
    change: &Change,
    now: DateTime,
    alloc: &mut LsnAlloc<'_>,
) -> TxResult<Document> {
    // Let the server build the upserted document exactly as it would (the `_id` and
    // equality fields taken from the filter, $setOnInsert, operators) in a scratch
    // collection inside this transaction, then insert it through the normal path.
    let scratch = t.p.db.collection::<Document>(SCRATCH);
    let new_doc = match change {
        Change::Replace(r) => {
            scratch
                .find_one_and_replace(filter.clone(), r.clone())
                .upsert(true)
                .return_document(ReturnDocument::After)
                .session(&mut *s)
                .await?
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
    insert_rows(t, s, std::slice::from_ref(&new_doc), n0, now).await?;
    Ok(new_doc)
}

/// Applies a projection exactly as the server would, by round-tripping the document
/// through the scratch collection inside the transaction.
async fn project(
    t: &Target<'_>,
    s: &mut ClientSession,
    d: Document,
    projection: &Document,
) -> TxResult<Document> {
    let scratch = t.p.db.collection::<Document>(SCRATCH);
    let id = d.get("_id").cloned().unwrap_or(Bson::Null);
    scratch.insert_one(d).session(&mut *s).await?;
    let out = scratch
        .find_one(doc! {"_id": id.clone()})
        .projection(projection.clone())
        .session(&mut *s)
        .await?
        .unwrap_or_default();
    scratch
        .delete_one(doc! {"_id": id})
        .session(&mut *s)
        .await?;
    Ok(out)
}

/// updateOne/updateMany/replaceOne/deleteOne/deleteMany/findOneAnd* on a branch.
pub async fn modify(
    t: &Target<'_>,
    filter: Document,
    change: Change,
    o: ModifyOpts,
) -> Result<ModifyOutcome> {
    if let Change::Update { update, .. } = &change {
        with_reserved(update, doc! {})?;
    }
    if let Change::Replace(r) = &change {
        if r.keys().any(|k| k.starts_with('$')) {
            return Err(ArgonError::InvalidArgument(
                "Replacement document must not contain atomic operators".into(),
            ));
        }
        let raw = mongodb::bson::RawDocumentBuf::from_document(r)?;
        crate::names::check_user_document(&raw)?;
    }
    crate::in_txn!(t.p, |s, alloc| modify_in_txn(
        t, s, &filter, &change, &o, alloc
    ))
}

pub(crate) async fn modify_in_txn(
    t: &Target<'_>,
    s: &mut ClientSession,
    filter: &Document,
    change: &Change,
    o: &ModifyOpts,
    alloc: &mut LsnAlloc<'_>,
) -> TxResult<ModifyOutcome> {
    let now = DateTime::now();
    let mut out = ModifyOutcome::default();
    let q = ViewQuery {
        filter: filter.clone(),
        sort: o.sort.as_ref(),
        limit: if o.multi { None } else { Some(1) },
        for_write: true,
        ..Default::default()
    };
    let targets = view_in_txn(t, s, &q).await?;
    if targets.is_empty() {
        if o.upsert && !matches!(change, Change::Delete) {
            let d = upsert(t, s, filter, change, now, alloc).await?;
            out.upserted_id = d.get("_id").cloned();
            if o.want_doc && o.return_after {
                out.doc = Some(match &o.projection {
                    Some(p) => project(t, s, d, p).await?,
                    None => d,
                });
            }
        }
        return Ok(out);
    }
    let n0 = alloc.take(s, targets.len() as i64).await?;
    let mut wal = Vec::new();
    let mut afters = Vec::new();
    let mut returned = None;
    for (i, tg) in targets.into_iter().enumerate() {
        let lsn = n0 + i as i64;
        let k = tg.get("_id").cloned().unwrap_or(Bson::Null);
        let own = t.is_main() || tg.get_i32(F_SRC) == Ok(0);
        // `__argon_first` of an inherited row belongs to the ancestor: never reuse it.
        let first = if own { tg.get_i64(F_FIRST).ok() } else { None };
        let prev_lsn = tg.get_i64(F_LSN).ok();
        let mut before = tg;
        strip_reserved(&mut before);
        out.matched += 1;
        let after = match change {
            Change::Delete => {
                if t.is_main() {
                    t.head()
                        .delete_one(doc! {"_id": k.clone()})
                        .session(&mut *s)
                        .await?;
                } else {
                    t.head()
                        .replace_one(
                            doc! {"_id": k.clone()},
                            doc! {"_id": k.clone(), F_FIRST: first.unwrap_or(lsn), F_DEL: lsn},
                        )
                        .upsert(true)
                        .session(&mut *s)
                        .await?;
                }
                out.deleted += 1;
                None
            }
            Change::Update {
                update,
                array_filters,
            } => {
                if !own {
                    let mut row = before.clone();
                    row.insert(F_LSN, lsn);
                    row.insert(F_FIRST, lsn);
                    t.head().insert_one(row).session(&mut *s).await?;
                }
                let upd = with_reserved(update, doc! {F_LSN: lsn})?;
                let head = t.head();
                // The user's filter stays on so positional `$` updates find their element.
                let mut a = head
                    .find_one_and_update(doc! {"$and": [{"_id": k.clone()}, filter.clone()]}, upd)
                    .return_document(ReturnDocument::After);
                if let Some(af) = array_filters {
                    a = a.array_filters(af.clone());
                }
                let mut after = a
                    .session(&mut *s)
                    .await?
                    .ok_or_else(|| ArgonError::Internal("updated row vanished".into()))?;
                strip_reserved(&mut after);
                if same_doc(&after, &before) {
                    // A no-op: undo Argon's own bookkeeping so nothing observable changes.
                    if own {
                        let undo = match prev_lsn {
                            Some(p) => doc! {"$set": {F_LSN: p}},
                            None => doc! {"$unset": {F_LSN: ""}},
                        };
                        t.head()
                            .update_one(doc! {"_id": k.clone()}, undo)
                            .session(&mut *s)
                            .await?;
                    } else {
                        t.head()
                            .delete_one(doc! {"_id": k.clone()})
                            .session(&mut *s)
                            .await?;
                    }
                    if o.want_doc {
                        returned = Some(before);
                    }
                    continue;
                }
                Some(after)
            }
            Change::Replace(r) => {
                if let Some(id) = r.get("_id") {
                    if *id != k {
                        return Err(ArgonError::Server {
                            code: 66,
                            code_name: "ImmutableField".into(),
                            message: "After applying the update, the (immutable) field '_id' was found to have been altered".into(),
                            key_value: None,
                            index: None,
                        }
                        .into());
                    }
                }
                let mut after = doc! {"_id": k.clone()};
                for (f, v) in r {
                    if f != "_id" {
                        after.insert(f.clone(), v.clone());
                    }
                }
                if same_doc(&after, &before) {
                    if o.want_doc {
                        returned = Some(before);
                    }
                    continue;
                }
                let mut row = after.clone();
                row.insert(F_LSN, lsn);
                if !t.is_main() {
                    row.insert(F_FIRST, if own { first.unwrap_or(lsn) } else { lsn });
                }
                t.head()
                    .replace_one(doc! {"_id": k.clone()}, row)
                    .upsert(!own)
                    .session(&mut *s)
                    .await?;
                Some(after)
            }
        };
        if let Some(a) = &after {
            let size = mongodb::bson::to_vec(a).map(|v| v.len()).unwrap_or(0);
            if size > crate::names::MAX_BSON_SIZE {
                return Err(ArgonError::DocumentTooLarge(size).into());
            }
            out.modified += 1;
            afters.push(a.clone());
        }
        let op = match change {
            Change::Delete => "d",
            Change::Update { .. } => "u",
            Change::Replace(_) => "r",
        };
        let mut prev = if own {
            prev_lsn.map(|p| (p, before.clone()))
        } else {
            None
        };
        if t.is_main() && prev.is_none() {
            // An adopted document (no `__argon_lsn`): its first change keeps the
            // pre-image as a version, so reads of earlier points still find it.
            let a = t.p.adoption(t.coll).await?;
            wal.push(crate::adopt::adoption_record(
                t.coll,
                &k,
                lsn,
                before.clone(),
                &a,
            ));
            prev = Some((crate::adopt::adoption_key(lsn), before.clone()));
        }
        wal.push(wal_record(t, lsn, &k, op, after.clone(), now, prev));
        if o.want_doc {
            returned = Some(if o.return_after {
                after.unwrap_or_default()
            } else {
                before
            });
        }
    }
    check_unique_vs_ancestors(t, s, &afters).await?;
    if !wal.is_empty() {
        metrics::counter!(crate::telemetry::WAL_RECORDS_TOTAL).increment(wal.len() as u64);
        t.p.wal().insert_many(wal).session(&mut *s).await?;
    }
    if let Some(d) = returned {
        out.doc = Some(match &o.projection {
            Some(p) if !p.is_empty() => project(t, s, d, p).await?,
            _ => d,
        });
    }
    Ok(out)
}
