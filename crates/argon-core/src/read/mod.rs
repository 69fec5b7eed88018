//! The read path: `main` at its head reads the user's collection directly (a plain
//! `find`). Every other view is made of parts (`view::parts`): `find` and
//! `countDocuments` run them as separate index-served queries, in one snapshot
//! transaction when the read is bounded and concurrently otherwise (`merge.rs`);
//! `aggregate`, `distinct` and sorted finds with a projection run the one `$unionWith`
//! aggregation built by `view::plan`. Streams stay raw BSON; nothing is materialised beyond
//! a driver batch, except a bounded read's parts.

pub mod merge;
pub mod query_opts;
pub mod sort;
pub mod stream;
pub mod view;

use crate::branch::meta::Level;
use crate::error::{ArgonError, Result};
use crate::names::F_LSN;
use crate::project::Project;
use merge::Merged;
use mongodb::bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::Cursor;
use query_opts::QueryOpts;
use view::ViewQuery;

/// find() options, as the driver names them.
#[derive(Debug, Clone, Default)]
pub struct FindOpts {
    pub sort: Option<Document>,
    pub skip: Option<u64>,
    pub limit: Option<i64>,
    pub projection: Option<Document>,
    pub batch_size: Option<u32>,
    /// collation, hint, comment, let, maxTimeMS.
    pub q: QueryOpts,
}

/// A cursor over user documents: one server cursor, or a client-side merge of the
/// concurrent per-level queries of a branch view.
pub struct DocCursor {
    inner: Source,
}

enum Source {
    Done,
    Single(Box<Cursor<RawDocumentBuf>>),
    Merged(Box<Merged>),
}

impl DocCursor {
    fn single(c: Cursor<RawDocumentBuf>) -> Self {
        DocCursor {
            inner: Source::Single(Box::new(c)),
        }
    }

    /// Up to `max` documents, concatenated as BSON, and how many there are. An empty
    /// batch means the cursor is exhausted; so does `exhausted()` after any batch.
    pub async fn next_batch(&mut self, max: usize) -> Result<(Vec<u8>, usize)> {
        let mut buf = Vec::new();
        let mut n = 0;
        while n < max.max(1) {
            let got = match &mut self.inner {
                Source::Done => None,
                Source::Single(cur) => {
                    if cur.advance().await? {
                        buf.extend_from_slice(cur.current().as_bytes());
                        Some(())
                    } else {
                        None
                    }
                }
                Source::Merged(m) => m.next().await?.map(|d| buf.extend_from_slice(d.as_bytes())),
            };
            if got.is_none() {
                self.inner = Source::Done;
                break;
            }
            n += 1;
        }
        Ok((buf, n))
    }

    /// Whether the cursor has nothing more to return.
    pub fn exhausted(&self) -> bool {
        matches!(self.inner, Source::Done)
    }

    /// Closes the server cursor(s) early.
    pub fn close(&mut self) {
        self.inner = Source::Done;
    }
}

/// `find` on main's head, which is the user's collection: the driver's own find with the
/// options, and Argon's reserved fields projected away.
pub(crate) fn plain_find<'a, T: Send + Sync>(
    coll: &'a mongodb::Collection<T>,
    filter: Document,
    o: &FindOpts,
) -> mongodb::action::Find<'a, T> {
    let mut f = coll
        .find(filter)
        .projection(view::plain_projection(o.projection.as_ref()));
    if let Some(s) = &o.sort {
        f = f.sort(s.clone());
    }
    if let Some(n) = o.skip {
        f = f.skip(n);
    }
    if let Some(n) = o.limit {
        f = f.limit(n);
    }
    if let Some(n) = o.batch_size {
        f = f.batch_size(n);
    }
    crate::with_query_opts!(f, o.q; collation, hint, comment, let_vars, max_time)
}

/// A read-only view of one collection on one branch at one cut.
pub struct ReadView<'a> {
    pub p: &'a Project,
    pub coll: &'a str,
    pub levels: Vec<Level>,
}

impl ReadView<'_> {
    fn plain(&self) -> bool {
        view::is_plain(&self.levels)
    }

    /// Whether a read whose parts return at most `bound` documents each reads them in one
    /// snapshot (see `Merged::open_snapshot`): when it has several parts, is bounded, and
    /// the deployment has transactions.
    fn snapshot_for(&self, bound: Option<u64>) -> bool {
        self.p.transactions
            && bound.is_some_and(|b| b <= merge::SNAPSHOT_MAX)
            && (self.levels.len() > 1 || self.levels[0].cut.is_some())
    }

    fn raw(&self, name: &str) -> mongodb::Collection<RawDocumentBuf> {
        self.p.db.collection(name)
    }

    pub async fn find(&self, filter: Document, o: FindOpts) -> Result<DocCursor> {
        if self.plain() {
            let coll = self.raw(self.coll);
            return Ok(DocCursor::single(plain_find(&coll, filter, &o).await?));
        }
        let q = ViewQuery {
            filter,
            sort: o.sort.as_ref(),
            skip: o.skip,
            limit: o.limit.map(|l| l.abs()),
            exact_ids: o.q.collated(),
            ..Default::default()
        };
        // Concurrent per-level queries, merged here, unless a projection could remove the
        // fields the merge sorts on, or a collation changes the order the merge sorts in
        // (then one server-side aggregation does it all).
        let projection = o.projection.clone().filter(|p| !p.is_empty());
        let has_sort = o.sort.as_ref().is_some_and(|s| !s.is_empty());
        if !has_sort || (projection.is_none() && !o.q.collated()) {
            let tail = match &projection {
                Some(p) => view::projection_stages(p)?,
                None => Vec::new(),
            };
            let parts = view::read_parts(&self.levels, self.coll, &q, &tail);
            let skip = o.skip.unwrap_or(0);
            let limit = o.limit.filter(|l| *l != 0).map(|l| l.unsigned_abs());
            let merged = if self.snapshot_for(limit.map(|l| l.saturating_add(skip))) {
                Merged::open_snapshot(
                    &self.p.client,
                    &self.p.db,
                    parts,
                    o.sort.clone(),
                    skip,
                    limit,
                    &o.q,
                )
                .await?
            } else {
                Merged::open(
                    &self.p.db,
                    parts,
                    o.sort.clone(),
                    skip,
                    limit,
                    o.batch_size,
                    &o.q,
                )
                .await?
            };
            return Ok(DocCursor {
                inner: Source::Merged(Box::new(merged)),
            });
        }
        let plan = view::plan(&self.levels, self.coll, &q);
        let mut pipeline = plan.pipeline;
        if let Some(p) = o.projection.filter(|p| !p.is_empty()) {
            pipeline.extend(view::projection_stages(&p)?);
        }
        self.aggregate_on(&plan.collection, pipeline, o.batch_size, &o.q)
            .await
    }

    /// An aggregation on a head collection (main's, or a plan's nearest level).
    async fn aggregate_on(
        &self,
        coll: &str,
        pipeline: Vec<Document>,
        batch: Option<u32>,
        q: &QueryOpts,
    ) -> Result<DocCursor> {
        let c = self.raw(coll);
        let a = c
            .aggregate(pipeline)
            .with_options(q.aggregate(true, batch))
            .with_type::<RawDocumentBuf>();
        Ok(DocCursor::single(a.await?))
    }

    pub async fn count(
        &self,
        filter: Document,
        skip: Option<u64>,
        limit: Option<i64>,
        qo: &QueryOpts,
    ) -> Result<u64> {
        if self.plain() && qo.let_vars.is_none() {
            let coll = self.p.db.collection::<Document>(self.coll);
            let mut c = coll.count_documents(filter);
            if let Some(s) = skip {
                c = c.skip(s);
            }
            if let Some(l) = limit.filter(|l| *l > 0) {
                c = c.limit(l as u64);
            }
            let c = crate::with_query_opts!(c, qo; collation, hint, comment, max_time);
            return Ok(c.await?);
        }
        if self.plain() {
            // `let` has no place in the driver's count: count with an aggregation.
            let mut pipeline = vec![doc! {"$match": filter}];
            if let Some(s) = skip.filter(|s| *s > 0) {
                pipeline.push(doc! {"$skip": i64::try_from(s).unwrap_or(i64::MAX)});
            }
            if let Some(l) = limit.filter(|l| *l > 0) {
                pipeline.push(doc! {"$limit": l});
            }
            pipeline.push(doc! {"$count": "n"});
            let mut cur = self.aggregate_on(self.coll, pipeline, None, qo).await?;
            return count_of(&mut cur).await;
        }
        if skip.is_none() && limit.filter(|l| *l > 0).is_none() {
            // The parts are disjoint (nearer levels exclude what they touched): sum them.
            let q = ViewQuery {
                filter,
                exact_ids: qo.collated(),
                ..Default::default()
            };
            let count = [doc! {"$count": "n"}];
            let parts = view::read_parts(&self.levels, self.coll, &q, &count);
            // One document per part: always bounded.
            let mut m = if self.snapshot_for(Some(1)) {
                Merged::open_snapshot(&self.p.client, &self.p.db, parts, None, 0, None, qo).await?
            } else {
                Merged::open(&self.p.db, parts, None, 0, None, None, qo).await?
            };
            let mut total = 0u64;
            while let Some(d) = m.next().await? {
                total += match d.get("n")? {
                    Some(mongodb::bson::RawBsonRef::Int32(v)) => v as u64,
                    Some(mongodb::bson::RawBsonRef::Int64(v)) => v as u64,
                    _ => 0,
                };
            }
            return Ok(total);
        }
        let q = ViewQuery {
            filter,
            skip,
            limit: limit.filter(|l| *l > 0),
            exact_ids: qo.collated(),
            ..Default::default()
        };
        let plan = view::plan(&self.levels, self.coll, &q);
        let mut pipeline = plan.pipeline;
        pipeline.push(doc! {"$count": "n"});
        let mut cur = self
            .aggregate_on(&plan.collection, pipeline, None, qo)
            .await?;
        count_of(&mut cur).await
    }

    pub async fn estimated_count(&self) -> Result<u64> {
        if self.plain() {
            return Ok(self
                .p
                .db
                .collection::<Document>(self.coll)
                .estimated_document_count()
                .await?);
        }
        self.count(doc! {}, None, None, &QueryOpts::default()).await
    }

    pub async fn distinct(
        &self,
        field: &str,
        filter: Document,
        qo: &QueryOpts,
    ) -> Result<Vec<Bson>> {
        check_distinct(field, qo)?;
        if self.plain() {
            let coll = self.p.db.collection::<Document>(self.coll);
            let d = coll.distinct(field, filter);
            let d = crate::with_query_opts!(d, qo; collation, hint, comment, max_time);
            return Ok(d.await?);
        }
        let q = ViewQuery {
            filter,
            exact_ids: qo.collated(),
            ..Default::default()
        };
        let plan = view::plan(&self.levels, self.coll, &q);
        let mut pipeline = plan.pipeline;
        pipeline.extend(distinct_stages(field, None));
        let groups = self
            .aggregate_on(&plan.collection, pipeline, None, qo)
            .await?
            .collect()
            .await?;
        Ok(groups
            .into_iter()
            .map(|mut d| d.remove("_id").unwrap_or(Bson::Null))
            .collect())
    }

    /// Runs a user pipeline over the view. A leading `$match` is pushed into every part.
    pub async fn aggregate(
        &self,
        mut user: Vec<Document>,
        batch: Option<u32>,
        qo: &QueryOpts,
    ) -> Result<DocCursor> {
        check_pipeline(&user)?;
        if self.plain() {
            let mut pipeline = vec![doc! {"$unset": F_LSN}];
            pipeline.append(&mut user);
            return self.aggregate_on(self.coll, pipeline, batch, qo).await;
        }
        let filter = match user.first().and_then(|s| s.get_document("$match").ok()) {
            Some(m) => {
                let m = m.clone();
                user.remove(0);
                m
            }
            None => doc! {},
        };
        let q = ViewQuery {
            filter,
            exact_ids: qo.collated(),
            ..Default::default()
        };
        let plan = view::plan(&self.levels, self.coll, &q);
        let mut pipeline = plan.pipeline;
        pipeline.append(&mut user);
        self.aggregate_on(&plan.collection, pipeline, batch, qo)
            .await
    }
}

/// A user pipeline may not write: `$out` and `$merge` would bypass the WAL.
pub(crate) fn check_pipeline(user: &[Document]) -> Result<()> {
    for st in user {
        if st.contains_key("$out") || st.contains_key("$merge") {
            return Err(ArgonError::InvalidArgument(
                "$out and $merge would write outside Argon's WAL; read the results and write them through a branch instead".into(),
            ));
        }
    }
    Ok(())
}

/// A distinct's field must be a path; `let` is not one of its options in MongoDB.
pub(crate) fn check_distinct(field: &str, qo: &QueryOpts) -> Result<()> {
    if field.is_empty() || field.starts_with('$') {
        return Err(ArgonError::InvalidArgument(format!(
            "invalid distinct field {field:?}"
        )));
    }
    if qo.let_vars.is_some() {
        return Err(ArgonError::InvalidArgument(
            "option `let` is not an option of distinct (MongoDB's distinct takes none); use aggregate".into(),
        ));
    }
    Ok(())
}

/// `distinct` as pipeline stages (after an optional `$match`): the field's values, arrays
/// unwound one level, grouped; each group's `_id` is one value.
pub(crate) fn distinct_stages(field: &str, filter: Option<Document>) -> Vec<Document> {
    let mut out = Vec::new();
    if let Some(f) = filter {
        out.push(doc! {"$match": f});
    }
    out.push(doc! {"$project": {"_id": 0, "v": format!("${field}")}});
    out.push(doc! {"$unwind": "$v"});
    out.push(doc! {"$group": {"_id": "$v"}});
    out
}

/// The `n` of a `$count` stage's one document (0 when it returned none).
async fn count_of(cur: &mut DocCursor) -> Result<u64> {
    let (bytes, n) = cur.next_batch(1).await?;
    if n == 0 {
        return Ok(0);
    }
    let d: Document = mongodb::bson::from_slice(&bytes)?;
    Ok(match d.get("n") {
        Some(Bson::Int32(v)) => *v as u64,
        Some(Bson::Int64(v)) => *v as u64,
        _ => 0,
    })
}

impl DocCursor {
    /// Drains the cursor into documents (for bounded internal reads such as diffs).
    pub async fn collect(mut self) -> Result<Vec<Document>> {
        let mut out = Vec::new();
        loop {
            let (bytes, n) = self.next_batch(1000).await?;
            if n == 0 {
                return Ok(out);
            }
            out.extend(split_documents(&bytes)?);
        }
    }
}

/// Deepest nesting accepted from outside: MongoDB's limit for documents (100 levels),
/// plus one for the `{ v: ... }` wrapper the binding puts values in. Checked before any
/// recursive parsing, which could otherwise exhaust a thread's stack on hostile input.
pub const MAX_DEPTH: usize = 101;

/// Checks a BSON document's nesting (and that its nested lengths are sound) without
/// recursing deeper than [`MAX_DEPTH`].
pub fn check_depth(bytes: &[u8]) -> Result<()> {
    use mongodb::bson::{RawBsonRef, RawDocument};
    fn malformed(e: mongodb::bson::raw::Error) -> ArgonError {
        ArgonError::InvalidArgument(format!("malformed BSON: {e}"))
    }
    fn too_deep() -> ArgonError {
        ArgonError::InvalidArgument(format!(
            "document nesting is deeper than MongoDB's limit of {} levels",
            MAX_DEPTH - 1
        ))
    }
    /// A value at `depth`: documents and arrays open the next level.
    fn value(v: RawBsonRef<'_>, depth: usize) -> Result<()> {
        match v {
            RawBsonRef::Document(inner) => walk(inner, depth + 1),
            RawBsonRef::Array(a) => {
                if depth + 1 > MAX_DEPTH {
                    return Err(too_deep());
                }
                for item in a {
                    value(item.map_err(malformed)?, depth + 1)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    fn walk(d: &RawDocument, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        for el in d.iter() {
            value(el.map_err(malformed)?.1, depth)?;
        }
        Ok(())
    }
    walk(RawDocument::from_bytes(bytes).map_err(malformed)?, 1)
}

/// Parses one BSON document from outside (JS), checking its nesting first.
pub fn parse_document(bytes: &[u8]) -> Result<Document> {
    check_depth(bytes)?;
    mongodb::bson::from_slice(bytes)
        .map_err(|e| ArgonError::InvalidArgument(format!("malformed BSON: {e}")))
}

/// Splits a buffer of concatenated BSON documents (a cursor batch, or a batch of documents
/// from JS), rejecting truncated or too deeply nested input with INVALID_ARGUMENT.
pub fn split_documents(bytes: &[u8]) -> Result<Vec<Document>> {
    let truncated = || ArgonError::InvalidArgument("truncated BSON".into());
    let mut out = Vec::new();
    let mut off = 0;
    while off < bytes.len() {
        let head: [u8; 4] = bytes
            .get(off..off + 4)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(truncated)?;
        let len = usize::try_from(i32::from_le_bytes(head)).unwrap_or(0);
        if len < 5 || off + len > bytes.len() {
            return Err(truncated());
        }
        out.push(parse_document(&bytes[off..off + len])?);
        off += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn splits_batches_and_rejects_truncated_input() {
        let mut bytes = mongodb::bson::to_vec(&doc! {"a": 1}).unwrap();
        bytes.extend(mongodb::bson::to_vec(&doc! {"b": "x"}).unwrap());
        assert_eq!(
            split_documents(&bytes).unwrap(),
            vec![doc! {"a": 1}, doc! {"b": "x"}]
        );
        for cut in [1, 3, bytes.len() - 1] {
            let e = split_documents(&bytes[..cut]).unwrap_err();
            assert_eq!(e.code(), "INVALID_ARGUMENT", "cut at {cut}");
        }
        assert!(split_documents(&[]).unwrap().is_empty());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let mut d = doc! {"leaf": 1};
        for _ in 0..(MAX_DEPTH - 1) {
            d = doc! {"d": d};
        }
        let ok = mongodb::bson::to_vec(&d).unwrap();
        assert!(
            parse_document(&ok).is_ok(),
            "{MAX_DEPTH} levels are accepted"
        );
        let too_deep = mongodb::bson::to_vec(&doc! {"d": d}).unwrap();
        let e = parse_document(&too_deep).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT");
        assert!(e.to_string().contains("nesting"), "{e}");
        // Arrays count as levels too, and a lying inner length is malformed, not a crash.
        let mut a = mongodb::bson::Bson::Int32(1);
        for _ in 0..200 {
            a = mongodb::bson::Bson::Array(vec![a]);
        }
        let arr = mongodb::bson::to_vec(&doc! {"a": a}).unwrap();
        assert_eq!(
            split_documents(&arr).unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
        let mut bad = ok.clone();
        bad[9] = 0x7f;
        assert!(parse_document(&bad).is_err());
    }
}
