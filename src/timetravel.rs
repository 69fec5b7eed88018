//! Time-travel methods of `NativeArgon`: tags, time-travel info, diff, restore preview
//! and reset. Points travel as BSON `{lsn}` | `{time}` | `{tag}`.

use crate::client::NativeArgon;
use crate::convert::{doc, docs_reply, to_bytes};
use crate::errors::{to_napi, IntoNapi};
use crate::ops::{progress, ProgressCallback};
use argon_core::bson::{doc, Bson, Document};
use argon_core::{ArgonError, AtSpec, Counts, Point, ResetTo};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use std::collections::BTreeMap;

pub fn at_spec(b: Option<&[u8]>) -> napi::Result<Option<AtSpec>> {
    match b {
        None => Ok(None),
        Some(bytes) => Ok(Some(AtSpec::from_document(&doc(bytes)?).napi()?)),
    }
}

/// `{branch, at?}` → Point.
fn point(b: &[u8]) -> napi::Result<Point> {
    let d = doc(b)?;
    let branch = d
        .get_str("branch")
        .map_err(|_| {
            to_napi(ArgonError::InvalidArgument(
                "a diff side needs `branch`".into(),
            ))
        })?
        .to_string();
    let at = match d.get_document("at") {
        Ok(a) => Some(AtSpec::from_document(a).napi()?),
        Err(_) => None,
    };
    Ok(Point { branch, at })
}

fn reset_to(b: &[u8]) -> napi::Result<ResetTo> {
    let d = doc(b)?;
    if d.get_bool("parent").unwrap_or(false) {
        return Ok(ResetTo::Parent);
    }
    Ok(ResetTo::Point(AtSpec::from_document(&d).napi()?))
}

fn counts_doc(m: &BTreeMap<String, Counts>) -> Document {
    let mut out = Document::new();
    for (k, c) in m {
        out.insert(
            k.clone(),
            doc! {"added": c.added as i64, "changed": c.changed as i64, "removed": c.removed as i64},
        );
    }
    out
}

#[napi]
impl NativeArgon {
    /// Returns the tag's LSN.
    #[napi(catch_unwind)]
    pub async fn tag(&self, name: String, branch: String, at: Option<Buffer>) -> napi::Result<f64> {
        let at = at_spec(at.as_deref())?;
        Ok(self
            .inner
            .clone()
            .tag(&name, &branch, at)
            .await
            .napi()?
            .get() as f64)
    }

    /// `{ v: [{_id, branch, lsn, createdAt}] }`
    #[napi(catch_unwind)]
    pub async fn list_tags(&self) -> napi::Result<Buffer> {
        docs_reply(self.inner.clone().list_tags().await.napi()?)
    }

    #[napi(catch_unwind)]
    pub async fn delete_tag(&self, name: String) -> napi::Result<()> {
        self.inner.clone().delete_tag(&name).await.napi()
    }

    /// `{ recordsRemoved, bytesFreed, oldestRetainedLsn, pinnedBy, dryRun }`
    #[napi(catch_unwind)]
    pub async fn gc(
        &self,
        dry_run: bool,
        #[napi(ts_arg_type = "((progress: ProgressEvent) => void) | undefined | null")]
        on_progress: Option<ProgressCallback>,
    ) -> napi::Result<Buffer> {
        let r = self
            .inner
            .clone()
            .gc(dry_run, &progress(on_progress))
            .await
            .napi()?;
        Ok(to_bytes(&r.to_document())?.into())
    }

    #[napi(catch_unwind)]
    pub async fn time_travel_info(&self, branch: String) -> napi::Result<Buffer> {
        let d = self.inner.clone().time_travel_info(&branch).await.napi()?;
        Ok(to_bytes(&d)?.into())
    }

    /// `{ branch, from, to, bucketMs, points: [{ t, writes, firstLsn, lastLsn }] }`
    #[napi(catch_unwind)]
    pub async fn timeline(&self, branch: String, buckets: u32) -> napi::Result<Buffer> {
        let d = self.inner.clone().timeline(&branch, buckets).await.napi()?;
        Ok(to_bytes(&d)?.into())
    }

    /// `{ collections: {name: {added, changed, removed}}, documents: [...] }`
    #[napi(catch_unwind)]
    pub async fn diff(&self, a: Buffer, b: Buffer, detailed: bool) -> napi::Result<Buffer> {
        let (a, b) = (point(&a)?, point(&b)?);
        let r = self.inner.clone().diff(&a, &b, detailed).await.napi()?;
        let docs: Vec<Bson> = r.documents.into_iter().map(Bson::Document).collect();
        Ok(
            to_bytes(&doc! {"collections": counts_doc(&r.per_collection), "documents": docs})?
                .into(),
        )
    }

    /// `{ snapshot, keys: { coll: [_id...] } }`: the plan of a detailed diff.
    #[napi(catch_unwind)]
    pub async fn diff_plan(&self, a: Buffer, b: Buffer) -> napi::Result<Buffer> {
        let (a, b) = (point(&a)?, point(&b)?);
        let plan = self.inner.clone().diff_plan(&a, &b).await.napi()?;
        let mut keys = Document::new();
        for (c, ks) in plan.keys {
            keys.insert(c, ks);
        }
        Ok(to_bytes(&doc! {"snapshot": plan.snapshot, "keys": keys})?.into())
    }

    /// One chunk of a detailed diff: `keys` is BSON `{ v: [_id...] }`; returns `{ v: [...] }`.
    #[napi(catch_unwind)]
    pub async fn diff_chunk(
        &self,
        a: Buffer,
        b: Buffer,
        snapshot: i64,
        coll: String,
        keys: Buffer,
    ) -> napi::Result<Buffer> {
        let (a, b) = (point(&a)?, point(&b)?);
        let keys = doc(&keys)?.get_array("v").cloned().map_err(|_| {
            to_napi(ArgonError::InvalidArgument(
                "keys must be { v: [...] }".into(),
            ))
        })?;
        let docs = self
            .inner
            .clone()
            .diff_chunk(&a, &b, argon_core::lsn::Lsn(snapshot), &coll, &keys)
            .await
            .napi()?;
        docs_reply(docs)
    }

    /// `to` is `{lsn}` | `{time}` | `{tag}` | `{parent: true}`.
    #[napi(catch_unwind)]
    pub async fn restore_preview(&self, branch: String, to: Buffer) -> napi::Result<Buffer> {
        let to = reset_to(&to)?;
        let r = self
            .inner
            .clone()
            .restore_preview(&branch, to)
            .await
            .napi()?;
        Ok(to_bytes(&doc! {"collections": counts_doc(&r)})?.into())
    }

    /// Returns `{ backup, collections }`. `backup`: a name, `null` for the default name,
    /// or skip the backup with `keepBackup = false`.
    #[napi(catch_unwind)]
    pub async fn reset_branch(
        &self,
        branch: String,
        to: Buffer,
        keep_backup: bool,
        backup_name: Option<String>,
        #[napi(ts_arg_type = "((progress: ProgressEvent) => void) | undefined | null")]
        on_progress: Option<ProgressCallback>,
    ) -> napi::Result<Buffer> {
        let to = reset_to(&to)?;
        let a = self.inner.clone();
        let backup = match (keep_backup, backup_name) {
            (false, _) => None,
            (true, Some(n)) => Some(n),
            (true, None) => Some(a.default_backup_name(&branch).await.napi()?),
        };
        let r = a
            .reset_branch(&branch, to, backup, &progress(on_progress))
            .await
            .napi()?;
        let backup = r.backup.map(Bson::String).unwrap_or(Bson::Null);
        Ok(to_bytes(&doc! {"backup": backup, "collections": counts_doc(&r.changes)})?.into())
    }
}
