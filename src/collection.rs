//! `NativeCollection`: one collection on one branch (optionally at a past LSN). Every
//! argument and result is BSON bytes; result shapes are finished in `lib/collection.js`.

use crate::convert::{doc, docs, docs_reply, opt_bool, opt_doc, opt_i64, to_bytes};
use crate::cursor::NativeCursor;
use crate::errors::{to_napi, IntoNapi};
use argon_core::bson::{doc, Bson, Document};
use argon_core::{ArgonError, Change, Coll, FindOpts, ModifyOpts, QueryOpts};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

#[napi]
pub struct NativeCollection {
    inner: Coll,
}

impl NativeCollection {
    pub fn new(inner: Coll) -> Self {
        NativeCollection { inner }
    }
}

fn find_opts(o: &Document) -> napi::Result<FindOpts> {
    reject_unsupported(o)?;
    Ok(FindOpts {
        sort: opt_doc(o, "sort"),
        skip: opt_i64(o, "skip").map(|n| n.max(0) as u64),
        limit: opt_i64(o, "limit").filter(|n| *n != 0),
        projection: opt_doc(o, "projection"),
        batch_size: opt_i64(o, "batchSize").map(|n| n.clamp(1, u32::MAX as i64) as u32),
        q: query_opts(o)?,
    })
}

/// collation, hint, comment, let and maxTimeMS, checked.
fn query_opts(o: &Document) -> napi::Result<QueryOpts> {
    QueryOpts::parse(o).map_err(to_napi)
}

/// A call's options as JS sends them (BSON): the document and its query options, checked.
fn options_of(bytes: &[u8]) -> napi::Result<(Document, QueryOpts)> {
    let o = doc(bytes)?;
    reject_unsupported(&o)?;
    let q = query_opts(&o)?;
    Ok((o, q))
}

/// A pipeline sent as BSON `{ p: [...] }`.
fn pipeline_of(p: &Document) -> napi::Result<Vec<Document>> {
    p.get_array("p")
        .map_err(|_| {
            to_napi(ArgonError::InvalidArgument(
                "pipeline must be an array".into(),
            ))
        })?
        .iter()
        .map(|s| {
            s.as_document().cloned().ok_or_else(|| {
                to_napi(ArgonError::InvalidArgument(
                    "each pipeline stage must be a document".into(),
                ))
            })
        })
        .collect()
}

/// How many documents the opening call fetches: the limit when it is small, else the
/// batch size (MongoDB's first batch is 101 by default).
fn first_batch(o: &FindOpts) -> usize {
    let batch = o.batch_size.unwrap_or(101) as usize;
    match o.limit {
        Some(l) if l != 0 => batch.min(l.unsigned_abs() as usize),
        _ => batch,
    }
}

fn array_filters(o: &Document) -> napi::Result<Option<Vec<Document>>> {
    match o.get("arrayFilters") {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Array(a)) => a
            .iter()
            .map(|b| {
                b.as_document().cloned().ok_or_else(|| {
                    to_napi(ArgonError::InvalidArgument(
                        "arrayFilters must hold documents".into(),
                    ))
                })
            })
            .collect::<napi::Result<Vec<_>>>()
            .map(Some),
        _ => Err(to_napi(ArgonError::InvalidArgument(
            "arrayFilters must be an array".into(),
        ))),
    }
}

/// Driver options the native layer never takes: a session is resolved in JS (a
/// transaction's id is passed instead); one reaching here is refused by name.
pub(crate) const UNSUPPORTED_OPTIONS: &[&str] = &["session"];

fn reject_unsupported(o: &Document) -> napi::Result<()> {
    for k in UNSUPPORTED_OPTIONS {
        if o.contains_key(*k) {
            return Err(to_napi(ArgonError::InvalidArgument(format!(
                "option `{k}` is not supported by argondb yet"
            ))));
        }
    }
    Ok(())
}

#[napi]
impl NativeCollection {
    /// `docs` is concatenated BSON. Returns `{ids, inserted, errors}` as BSON.
    #[napi(catch_unwind)]
    pub async fn insert_many(
        &self,
        docs_bytes: Buffer,
        ordered: bool,
        op: Option<String>,
    ) -> napi::Result<Buffer> {
        let list = docs(&docs_bytes)?;
        let op = op.as_deref().unwrap_or("insertMany");
        let (ids, out) = self.inner.insert_many_as(op, list, ordered).await.napi()?;
        let errors = write_errors(&out.errors);
        let inserted: Vec<Bson> = out
            .inserted
            .iter()
            .map(|i| Bson::Int64(*i as i64))
            .collect();
        Ok(to_bytes(&doc! {"ids": ids, "inserted": inserted, "errors": errors})?.into())
    }

    /// `ops` is BSON `{ v: [{ op, document? | filter, change?, options }] }` (op: insertOne,
    /// updateOne, updateMany, replaceOne, deleteOne, deleteMany). Returns `{ ids, applied:
    /// [{ i, inserted, matched, modified, deleted, upsertedId }], errors }` as BSON.
    #[napi(catch_unwind)]
    pub async fn bulk_write(&self, ops: Buffer, ordered: bool) -> napi::Result<Buffer> {
        use argon_core::write::bulk::BulkOp;
        let list = doc(&ops)?.get_array("v").cloned().map_err(|_| {
            to_napi(ArgonError::InvalidArgument(
                "bulkWrite needs { v: [...] }".into(),
            ))
        })?;
        let mut parsed = Vec::with_capacity(list.len());
        for (i, item) in list.into_iter().enumerate() {
            let Bson::Document(d) = item else {
                return Err(to_napi(ArgonError::InvalidArgument(format!(
                    "bulkWrite operation {i} is not a document"
                ))));
            };
            let op = d.get_str("op").unwrap_or("");
            if op == "insertOne" {
                let doc = d.get_document("document").cloned().map_err(|_| {
                    to_napi(ArgonError::InvalidArgument(format!(
                        "bulkWrite operation {i} (insertOne) needs a document"
                    )))
                })?;
                parsed.push(BulkOp::Insert(doc));
                continue;
            }
            if !matches!(
                op,
                "updateOne" | "updateMany" | "replaceOne" | "deleteOne" | "deleteMany"
            ) {
                return Err(to_napi(ArgonError::InvalidArgument(format!(
                    "bulkWrite operation {i}: unknown operation {op:?}"
                ))));
            }
            let filter = d.get_document("filter").cloned().unwrap_or_default();
            let options = d.get_document("options").cloned().unwrap_or_default();
            let (_, change, opts) = parse_modify(op, d.get("change").cloned(), &options)?;
            parsed.push(BulkOp::Modify {
                filter,
                change,
                opts: Box::new(opts),
            });
        }
        let out = self
            .inner
            .bulk_write(parsed.clone(), ordered)
            .await
            .napi()?;
        let ids: Vec<Bson> = parsed
            .iter()
            .map(|op| match op {
                BulkOp::Insert(d) => d.get("_id").cloned().unwrap_or(Bson::Null),
                BulkOp::Modify { .. } => Bson::Null,
            })
            .collect();
        let applied: Vec<Bson> = out
            .applied
            .iter()
            .map(|(i, r)| {
                Bson::Document(doc! {
                    "i": *i as i64,
                    "inserted": r.inserted,
                    "matched": r.modify.matched as i64,
                    "modified": r.modify.modified as i64,
                    "deleted": r.modify.deleted as i64,
                    "upsertedId": r.modify.upserted_id.clone().unwrap_or(Bson::Null),
                })
            })
            .collect();
        let errors = write_errors(&out.errors);
        Ok(to_bytes(&doc! {"ids": ids, "applied": applied, "errors": errors})?.into())
    }

    /// `insertOne`/`insertMany` inside transaction `txn`. Returns `{ ids }` as BSON.
    #[napi(catch_unwind)]
    pub async fn insert_many_txn(
        &self,
        txn: f64,
        docs_bytes: Buffer,
        op: String,
    ) -> napi::Result<Buffer> {
        let list = docs(&docs_bytes)?;
        let ids = self
            .inner
            .insert_many_txn(txn as u64, &op, list)
            .await
            .napi()?;
        Ok(to_bytes(&doc! {"ids": ids})?.into())
    }

    /// `find` inside transaction `txn`: `{ v: [documents] }` as BSON.
    #[napi(catch_unwind)]
    pub async fn find_txn(
        &self,
        txn: f64,
        filter: Buffer,
        options: Buffer,
    ) -> napi::Result<Buffer> {
        let filter = doc(&filter)?;
        let fo = find_opts(&doc(&options)?)?;
        docs_reply(self.inner.find_txn(txn as u64, filter, fo).await.napi()?)
    }

    /// `aggregate` inside transaction `txn` (`pipeline` is BSON `{ p: [...] }`): `{ v:
    /// [documents] }` as BSON.
    #[napi(catch_unwind)]
    pub async fn aggregate_txn(
        &self,
        txn: f64,
        pipeline: Buffer,
        options: Buffer,
    ) -> napi::Result<Buffer> {
        let stages = pipeline_of(&doc(&pipeline)?)?;
        let (_, q) = options_of(&options)?;
        docs_reply(
            self.inner
                .aggregate_txn(txn as u64, stages, q)
                .await
                .napi()?,
        )
    }

    /// op: updateOne | updateMany | replaceOne | deleteOne | deleteMany |
    /// findOneAndUpdate | findOneAndReplace | findOneAndDelete; inside user transaction
    /// `txn` when given.
    #[napi(catch_unwind)]
    pub async fn modify(
        &self,
        op: String,
        filter: Buffer,
        change: Option<Buffer>,
        options: Buffer,
        txn: Option<f64>,
    ) -> napi::Result<Buffer> {
        let (filter, kind, change, mo) = modify_args(&op, &filter, change.as_deref(), &options)?;
        let r = match txn {
            Some(t) => {
                self.inner
                    .modify_txn(t as u64, kind, filter, change, mo)
                    .await
            }
            None => self.inner.modify(kind, filter, change, mo).await,
        };
        modify_reply(r.napi()?)
    }

    #[napi(catch_unwind)]
    pub async fn find(
        &self,
        filter: Buffer,
        options: Buffer,
        op: Option<String>,
    ) -> napi::Result<NativeCursor> {
        let filter = doc(&filter)?;
        let fo = find_opts(&doc(&options)?)?;
        let first = first_batch(&fo);
        let op = op.as_deref().unwrap_or("find");
        let c = self.inner.find_as(op, filter, fo).await.napi()?;
        NativeCursor::open(c, first).await.napi()
    }

    /// `pipeline` is BSON `{ p: [...] }`.
    #[napi(catch_unwind)]
    pub async fn aggregate(&self, pipeline: Buffer, options: Buffer) -> napi::Result<NativeCursor> {
        let stages = pipeline_of(&doc(&pipeline)?)?;
        let (o, q) = options_of(&options)?;
        let batch = opt_i64(&o, "batchSize").map(|n| n.clamp(1, u32::MAX as i64) as u32);
        let c = self.inner.aggregate(stages, batch, q).await.napi()?;
        NativeCursor::open(c, batch.unwrap_or(101) as usize)
            .await
            .napi()
    }

    #[napi(catch_unwind)]
    pub async fn count_documents(&self, filter: Buffer, options: Buffer) -> napi::Result<f64> {
        let filter = doc(&filter)?;
        let o = doc(&options)?;
        reject_unsupported(&o)?;
        let skip = opt_i64(&o, "skip").map(|n| n.max(0) as u64);
        let q = query_opts(&o)?;
        let n = self
            .inner
            .count_documents(filter, skip, opt_i64(&o, "limit"), q)
            .await
            .napi()?;
        Ok(n as f64)
    }

    #[napi(catch_unwind)]
    pub async fn estimated_document_count(&self) -> napi::Result<f64> {
        Ok(self.inner.estimated_document_count().await.napi()? as f64)
    }

    /// Returns BSON `{ v: [...] }`. Options: collation, hint, comment, maxTimeMS; inside
    /// user transaction `txn` when given.
    #[napi(catch_unwind)]
    pub async fn distinct(
        &self,
        field: String,
        filter: Buffer,
        options: Buffer,
        txn: Option<f64>,
    ) -> napi::Result<Buffer> {
        let filter = doc(&filter)?;
        let (_, q) = options_of(&options)?;
        let v = match txn {
            Some(t) => self.inner.distinct_txn(t as u64, &field, filter, q).await,
            None => self.inner.distinct(&field, filter, q).await,
        }
        .napi()?;
        Ok(to_bytes(&doc! {"v": v})?.into())
    }

    #[napi(catch_unwind)]
    pub async fn create_index(&self, keys: Buffer, options: Buffer) -> napi::Result<String> {
        let keys = doc(&keys)?;
        let o = doc(&options)?;
        self.inner.create_index(keys, o).await.napi()
    }

    #[napi(catch_unwind)]
    pub async fn drop_index(&self, name: String) -> napi::Result<()> {
        self.inner.drop_index(&name).await.napi()
    }

    /// Returns BSON `{ v: [...] }`.
    #[napi(catch_unwind)]
    pub async fn list_indexes(&self) -> napi::Result<Buffer> {
        docs_reply(self.inner.list_indexes().await.napi()?)
    }

    /// `id` is BSON `{ id }`. Returns `{ v: [{lsn, time, op, document}] }`, newest first.
    #[napi(catch_unwind)]
    pub async fn history(
        &self,
        id: Buffer,
        limit: u32,
        before: Option<i64>,
    ) -> napi::Result<Buffer> {
        let d = doc(&id)?;
        let id = d.get("id").cloned().unwrap_or(Bson::Null);
        docs_reply(
            self.inner
                .history(id, limit as i64, before.map(argon_core::lsn::Lsn))
                .await
                .napi()?,
        )
    }

    /// Creates the collection on the branch if it is missing.
    #[napi(catch_unwind)]
    pub async fn create(&self) -> napi::Result<()> {
        self.inner.create().await.napi()
    }

    #[napi(catch_unwind)]
    pub async fn drop(&self) -> napi::Result<bool> {
        self.inner.drop().await.napi()
    }
}

/// A write's kind, change and options from the JS form (`op`, the update or replacement,
/// the driver's options). Used by `modify` and by every operation of `bulkWrite`.
fn parse_modify(
    op: &str,
    payload: Option<Bson>,
    o: &Document,
) -> napi::Result<(&'static str, Change, ModifyOpts)> {
    reject_unsupported(o)?;
    let payload = || -> napi::Result<Bson> {
        payload.clone().ok_or_else(|| {
            to_napi(ArgonError::InvalidArgument(format!(
                "{op} needs an update or replacement"
            )))
        })
    };
    let (kind, multi, want_doc): (&'static str, bool, bool) = match op {
        "updateOne" => ("updateOne", false, false),
        "updateMany" => ("updateMany", true, false),
        "replaceOne" => ("replaceOne", false, false),
        "deleteOne" => ("deleteOne", false, false),
        "deleteMany" => ("deleteMany", true, false),
        "findOneAndUpdate" => ("findOneAndUpdate", false, true),
        "findOneAndReplace" => ("findOneAndReplace", false, true),
        "findOneAndDelete" => ("findOneAndDelete", false, true),
        other => {
            return Err(to_napi(ArgonError::InvalidArgument(format!(
                "unknown write {other}"
            ))))
        }
    };
    let change = match kind {
        "updateOne" | "updateMany" | "findOneAndUpdate" => Change::Update {
            update: payload()?,
            array_filters: array_filters(o)?,
        },
        "replaceOne" | "findOneAndReplace" => match payload()? {
            Bson::Document(d) => Change::Replace(d),
            _ => {
                return Err(to_napi(ArgonError::InvalidArgument(
                    "a replacement must be a document".into(),
                )))
            }
        },
        _ => Change::Delete,
    };
    let mo = ModifyOpts {
        multi,
        upsert: opt_bool(o, "upsert"),
        sort: opt_doc(o, "sort"),
        return_after: o.get_str("returnDocument").ok() == Some("after"),
        want_doc,
        projection: opt_doc(o, "projection"),
        q: query_opts(o)?,
    };
    Ok((kind, change, mo))
}

/// The reply of a write: counts, the upserted `_id`, and for `findOneAnd*` the document.
fn modify_reply(r: argon_core::ModifyOutcome) -> napi::Result<Buffer> {
    let out = doc! {
        "matchedCount": r.matched as i64,
        "modifiedCount": r.modified as i64,
        "deletedCount": r.deleted as i64,
        "upsertedId": r.upserted_id.unwrap_or(Bson::Null),
        "value": r.doc.map(Bson::Document).unwrap_or(Bson::Null),
    };
    Ok(to_bytes(&out)?.into())
}

/// Per-item errors of a batch write, as JS reads them: `{ index, code, argonCode, errmsg,
/// keyValue }`.
fn write_errors(errors: &[(usize, ArgonError)]) -> Vec<Bson> {
    errors
        .iter()
        .map(|(i, e)| {
            let kv = match e {
                ArgonError::Server {
                    key_value: Some(kv),
                    ..
                } => Bson::Document((**kv).clone()),
                _ => Bson::Null,
            };
            Bson::Document(doc! {
                "index": *i as i64,
                "code": e.server_code().unwrap_or(0),
                "argonCode": e.code(),
                "errmsg": e.to_string(),
                "keyValue": kv,
            })
        })
        .collect()
}

/// A write's arguments as JS sends them: the filter, `{ v: update | replacement }` (none
/// for deletes) and the options, all BSON.
fn modify_args(
    op: &str,
    filter: &[u8],
    change: Option<&[u8]>,
    options: &[u8],
) -> napi::Result<(Document, &'static str, Change, ModifyOpts)> {
    let filter = doc(filter)?;
    let o = doc(options)?;
    let payload = match change {
        Some(b) => doc(b)?.get("v").cloned(),
        None => None,
    };
    let (kind, change, mo) = parse_modify(op, payload, &o)?;
    Ok((filter, kind, change, mo))
}
