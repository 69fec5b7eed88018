//! The write path. Every write runs in one transaction: find the target rows through the
//! branch view (snapshot), allocate LSNs, copy ancestor rows into the branch's head
//! (copy-on-write), let the server apply the update there, and append after-images to
//! the WAL while closing each document's previous version. Commit makes all of it visible
//! at once; a crash before commit leaves nothing.

pub(crate) mod alloc;
pub mod bulk;
mod insert;
pub(crate) mod lease;
mod modify;
pub mod session;
pub mod txn;
mod unique;

pub(crate) use insert::insert_batch;
pub use insert::{insert_many, prepare_inserts};
pub(crate) use modify::modify_in_txn;

pub use modify::{check_change, modify};

use crate::branch::heads::UniqueIndex;
use crate::branch::meta::Level;
use crate::branch::BranchId;
use crate::error::{ArgonError, Result};
use crate::lsn::RecordKey;
use crate::names::{head_collection, SCRATCH, WAL};
use crate::project::Project;
use crate::read::query_opts::QueryOpts;
use crate::read::sort::sort_documents;
use crate::read::view::{self, ViewQuery};
use crate::write::txn::TxResult;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::{AggregateOptions, UpdateModifications};
use mongodb::{ClientSession, Collection};

/// What [`without_failures`] ended with: the items its last, successful attempt applied
/// and that attempt's value, and each failed item with its error, by index.
pub(crate) struct Survivors<T> {
    pub applied: Vec<usize>,
    pub value: Option<T>,
    pub errors: Vec<(usize, ArgonError)>,
}

/// MongoDB's ordered/unordered semantics over `n` items (an `insertMany`'s documents, a
/// `bulkWrite`'s operations) written in one transaction per attempt: `attempt(items)`
/// writes those items; when one fails with a server error naming its position, the
/// attempt runs again without it (ordered: with only the items before it, then stops), so
/// the outcome is the server's and the applied items commit together.
pub(crate) async fn without_failures<T, F, Fut>(
    n: usize,
    ordered: bool,
    mut attempt: F,
) -> Result<Survivors<T>>
where
    F: FnMut(Vec<usize>) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut errors = Vec::new();
    let mut pending: Vec<usize> = (0..n).collect();
    let mut value = None;
    while !pending.is_empty() {
        match attempt(pending.clone()).await {
            Ok(v) => {
                value = Some(v);
                break;
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
                errors.push((
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
                } else {
                    pending.remove(j);
                }
            }
            Err(e) => return Err(e),
        }
    }
    errors.sort_by_key(|(i, _)| *i);
    Ok(Survivors {
        applied: if value.is_some() { pending } else { Vec::new() },
        value,
        errors,
    })
}

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
    /// collation, hint, comment, let, maxTimeMS: for the target read and the head update.
    pub q: QueryOpts,
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
    fn branch_id(&self) -> BranchId {
        self.levels[0].id
    }
    fn is_main(&self) -> bool {
        self.branch_id().is_main()
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
    opts: AggregateOptions,
) -> TxResult<Vec<Document>> {
    let mut cur = coll
        .aggregate(pipeline)
        .with_options(opts)
        .session(&mut *s)
        .await?;
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
    view_in_txn_with(t, s, q, &QueryOpts::default()).await
}

/// `view_in_txn` with the user's query options on every part. Under a collation, the
/// parts' results are put in order by the server (`$documents` and `$sort`), since the
/// client-side merge knows only binary string order.
pub(crate) async fn view_in_txn_with(
    t: &Target<'_>,
    s: &mut ClientSession,
    q: &ViewQuery<'_>,
    qo: &QueryOpts,
) -> TxResult<Vec<Document>> {
    let mut all = Vec::new();
    for (coll, pipeline) in view::parts(&t.levels, t.coll, q, true) {
        let opts = qo.aggregate(coll != WAL, None);
        all.extend(collect_in(s, t.p.db.collection(&coll), pipeline, opts).await?);
        if q.sort.is_none() && q.limit.is_some_and(|l| all.len() as i64 >= l) {
            break;
        }
    }
    if let Some(so) = q.sort.filter(|so| !so.is_empty()) {
        if qo.collated() && all.len() > 1 {
            let docs: Vec<Bson> = all.into_iter().map(Bson::Document).collect();
            let pipeline = vec![doc! {"$documents": docs}, doc! {"$sort": so.clone()}];
            let mut cur =
                t.p.db
                    .aggregate(pipeline)
                    .with_options(qo.without_hint().aggregate(false, None))
                    .session(&mut *s)
                    .await?;
            all = Vec::new();
            while let Some(d) = cur.next(&mut *s).await {
                all.push(d?);
            }
        } else {
            sort_documents(&mut all, so);
        }
    }
    if let Some(l) = q.limit {
        all.truncate(l.max(0) as usize);
    }
    Ok(all)
}

pub(super) fn wal_record(
    t: &Target,
    key: RecordKey,
    k: &Bson,
    op: &str,
    d: Option<Document>,
    now: DateTime,
    prev: Option<(RecordKey, Document)>,
) -> Document {
    crate::wal::record(key, t.branch_id(), t.coll, k, op, d, now, prev)
}

/// Adds Argon's `$set` of reserved fields to a user update (operator or pipeline form).
pub(super) fn with_reserved(update: &Bson, sets: Document) -> Result<UpdateModifications> {
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

pub(super) fn user_update(update: &Bson) -> Result<UpdateModifications> {
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

/// Applies a projection exactly as the server would, by round-tripping the document
/// through the scratch collection inside the transaction.
pub(super) async fn project(
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
