//! Reads of branch views as concurrent per-level queries: each part of the view (a head
//! collection or the WAL) is its own indexed aggregation, all are opened at once, and
//! their results are concatenated, or merged in MongoDB's sort order, client-side. One
//! `$unionWith` aggregation says the same thing, but some servers do not use indexes
//! inside `$unionWith` sub-pipelines (the test server scans the whole collection).

use crate::error::Result;
use crate::names::WAL;
use crate::read::query_opts::QueryOpts;
use crate::read::sort::compare_by;
use futures_util::future::try_join_all;
use mongodb::bson::{Document, RawDocumentBuf};
use mongodb::options::{ReadConcern, TransactionOptions};
use mongodb::{Client, Cursor, Database};
use std::cmp::Ordering;
use std::collections::VecDeque;

/// Bounded reads (a limit, with skip, up to this many documents per part; counts) read
/// every part in one snapshot; longer reads stream their parts concurrently.
pub const SNAPSHOT_MAX: u64 = 1000;

/// One part's results: a live server cursor, or documents read in a snapshot.
enum Part {
    Live(Box<Cursor<RawDocumentBuf>>),
    Read(VecDeque<RawDocumentBuf>),
}

impl Part {
    async fn next(&mut self) -> Result<Option<RawDocumentBuf>> {
        match self {
            Part::Live(c) => {
                if c.advance().await? {
                    Ok(Some(c.deserialize_current()?))
                } else {
                    Ok(None)
                }
            }
            Part::Read(q) => Ok(q.pop_front()),
        }
    }
}

pub struct Merged {
    parts: Vec<Part>,
    /// For sorted merges: each part's next document (raw, and parsed for comparison).
    heads: Vec<Option<(RawDocumentBuf, Document)>>,
    sort: Option<Document>,
    skip: u64,
    limit: Option<u64>,
    started: bool,
    current: usize,
}

impl Merged {
    /// Opens every part concurrently.
    pub async fn open(
        db: &Database,
        parts: Vec<(String, Vec<Document>)>,
        sort: Option<Document>,
        skip: u64,
        limit: Option<u64>,
        batch: Option<u32>,
        q: &QueryOpts,
    ) -> Result<Merged> {
        let opened = try_join_all(parts.into_iter().map(|(name, pipeline)| {
            let coll = db.collection::<RawDocumentBuf>(&name);
            let opts = q.aggregate(name != WAL, batch);
            async move {
                coll.aggregate(pipeline)
                    .with_options(opts)
                    .with_type::<RawDocumentBuf>()
                    .await
            }
        }))
        .await?;
        Ok(Self::over(
            opened
                .into_iter()
                .map(|c| Part::Live(Box::new(c)))
                .collect(),
            sort,
            skip,
            limit,
        ))
    }

    /// Reads every part, one after the other, in one read-only transaction, so all parts
    /// see one snapshot: a write that commits meanwhile is either wholly visible or not
    /// at all, so no document is returned twice or missed. For bounded reads only (the
    /// parts' results are held in memory; each part carries the read's limit).
    pub async fn open_snapshot(
        client: &Client,
        db: &Database,
        parts: Vec<(String, Vec<Document>)>,
        sort: Option<Document>,
        skip: u64,
        limit: Option<u64>,
        q: &QueryOpts,
    ) -> Result<Merged> {
        // A snapshot can be refused with a transient error (a collection created after
        // it, e.g. a child's first write making its head): take a newer one.
        let mut attempt = 0;
        let read = loop {
            match read_in_snapshot(client, db, &parts, q).await {
                Err(e) if attempt < 4 && crate::error::is_transient(&e) => attempt += 1,
                r => break r?,
            }
        };
        Ok(Self::over(read, sort, skip, limit))
    }

    fn over(parts: Vec<Part>, sort: Option<Document>, skip: u64, limit: Option<u64>) -> Merged {
        let n = parts.len();
        Merged {
            parts,
            heads: (0..n).map(|_| None).collect(),
            sort: sort.filter(|s| !s.is_empty()),
            skip,
            limit,
            started: false,
            current: 0,
        }
    }

    async fn pull(&mut self, i: usize) -> Result<Option<(RawDocumentBuf, Document)>> {
        let Some(raw) = self.parts[i].next().await? else {
            return Ok(None);
        };
        let parsed: Document = mongodb::bson::from_slice(raw.as_bytes())?;
        Ok(Some((raw, parsed)))
    }

    async fn next_unsorted(&mut self) -> Result<Option<RawDocumentBuf>> {
        while self.current < self.parts.len() {
            if let Some(d) = self.parts[self.current].next().await? {
                return Ok(Some(d));
            }
            self.current += 1;
        }
        Ok(None)
    }

    async fn next_sorted(&mut self, spec: &Document) -> Result<Option<RawDocumentBuf>> {
        if !self.started {
            self.started = true;
            for i in 0..self.parts.len() {
                self.heads[i] = self.pull(i).await?;
            }
        }
        let mut best: Option<usize> = None;
        for i in 0..self.heads.len() {
            let Some((_, d)) = &self.heads[i] else {
                continue;
            };
            best = match best {
                Some(b) => {
                    let (_, bd) = self.heads[b].as_ref().expect("best has a head");
                    // Ties keep the nearer level first (a stable merge).
                    if compare_by(spec, d, bd) == Ordering::Less {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
                None => Some(i),
            };
        }
        let Some(b) = best else { return Ok(None) };
        let taken = self.heads[b].take().map(|(raw, _)| raw);
        self.heads[b] = self.pull(b).await?;
        Ok(taken)
    }

    /// The next document of the view, after skip and within limit.
    pub async fn next(&mut self) -> Result<Option<RawDocumentBuf>> {
        loop {
            if self.limit == Some(0) {
                return Ok(None);
            }
            let doc = match self.sort.clone() {
                Some(spec) => self.next_sorted(&spec).await?,
                None => self.next_unsorted().await?,
            };
            let Some(d) = doc else { return Ok(None) };
            if self.skip > 0 {
                self.skip -= 1;
                continue;
            }
            if let Some(l) = self.limit.as_mut() {
                *l -= 1;
            }
            return Ok(Some(d));
        }
    }
}

/// Reads every part, in order, in one read-only snapshot transaction.
async fn read_in_snapshot(
    client: &Client,
    db: &Database,
    parts: &[(String, Vec<Document>)],
    q: &QueryOpts,
) -> mongodb::error::Result<Vec<Part>> {
    let mut s = client.start_session().await?;
    s.start_transaction()
        .with_options(
            TransactionOptions::builder()
                .read_concern(ReadConcern::snapshot())
                .build(),
        )
        .await?;
    let mut read = Vec::with_capacity(parts.len());
    for (name, pipeline) in parts {
        let mut cur = db
            .collection::<RawDocumentBuf>(name)
            .aggregate(pipeline.clone())
            .with_options(q.aggregate(name != WAL, None))
            .with_type::<RawDocumentBuf>()
            .session(&mut s)
            .await?;
        let mut docs = VecDeque::new();
        while let Some(d) = cur.next(&mut s).await {
            docs.push_back(d?);
        }
        read.push(Part::Read(docs));
    }
    // Nothing was written: dropping the session aborts the transaction in the
    // background, off the read's latency.
    drop(s);
    Ok(read)
}
