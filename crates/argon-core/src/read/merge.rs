//! Reads of branch views as concurrent per-level queries: each part of the view (a head
//! collection or the WAL) is its own indexed aggregation, all are opened at once, and
//! their results are concatenated, or merged in MongoDB's sort order, client-side. One
//! `$unionWith` aggregation says the same thing, but some servers do not use indexes
//! inside `$unionWith` sub-pipelines (the test server scans the whole collection).

use crate::error::Result;
use crate::read::sort::compare_by;
use futures_util::future::try_join_all;
use mongodb::bson::{Document, RawDocumentBuf};
use mongodb::{Cursor, Database};
use std::cmp::Ordering;

pub struct Merged {
    parts: Vec<Cursor<RawDocumentBuf>>,
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
    ) -> Result<Merged> {
        let opened = try_join_all(parts.into_iter().map(|(name, pipeline)| {
            let coll = db.collection::<RawDocumentBuf>(&name);
            async move {
                let mut a = coll.aggregate(pipeline).with_type::<RawDocumentBuf>();
                if let Some(n) = batch {
                    a = a.batch_size(n);
                }
                a.await
            }
        }))
        .await?;
        let n = opened.len();
        Ok(Merged {
            parts: opened,
            heads: (0..n).map(|_| None).collect(),
            sort: sort.filter(|s| !s.is_empty()),
            skip,
            limit,
            started: false,
            current: 0,
        })
    }

    async fn pull(&mut self, i: usize) -> Result<Option<(RawDocumentBuf, Document)>> {
        if !self.parts[i].advance().await? {
            return Ok(None);
        }
        let raw = self.parts[i].deserialize_current()?;
        let parsed: Document = mongodb::bson::from_slice(raw.as_bytes())?;
        Ok(Some((raw, parsed)))
    }

    async fn next_unsorted(&mut self) -> Result<Option<RawDocumentBuf>> {
        while self.current < self.parts.len() {
            let c = &mut self.parts[self.current];
            if c.advance().await? {
                return Ok(Some(c.deserialize_current()?));
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
