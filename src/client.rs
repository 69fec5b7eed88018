//! `NativeArgon`: a connected project and branch management.

use crate::collection::NativeCollection;
use crate::convert::to_bytes;
use crate::errors::IntoNapi;
use argon_core::{Argon, ConnectOptions};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

#[napi]
pub struct NativeArgon {
    pub(crate) inner: Argon,
}

/// Connects and opens (or initialises) the project in `options.database`.
#[napi(catch_unwind)]
pub async fn connect(uri: String, options_json: String) -> napi::Result<NativeArgon> {
    let opts = ConnectOptions::from_json(Some(&options_json)).napi()?;
    let inner = Argon::connect(&uri, opts).await.napi()?;
    Ok(NativeArgon { inner })
}

#[napi]
impl NativeArgon {
    /// Whether writes run in MongoDB transactions (replica set or sharded cluster).
    #[napi(getter)]
    pub fn transactions(&self) -> bool {
        self.inner.transactions()
    }

    /// `at` is BSON `{lsn}` | `{time}` | `{tag}`: a read-only past view.
    #[napi(catch_unwind)]
    pub fn collection(
        &self,
        branch: String,
        name: String,
        at: Option<Buffer>,
    ) -> napi::Result<NativeCollection> {
        let at = crate::timetravel::at_spec(at.as_deref())?;
        Ok(NativeCollection::new(
            self.inner.collection(&branch, &name, at).napi()?,
        ))
    }

    /// Returns the new branch's info document as BSON. `at` forks from a past point.
    #[napi(catch_unwind)]
    pub async fn create_branch(
        &self,
        name: String,
        from: Option<String>,
        at: Option<Buffer>,
        protected: Option<bool>,
    ) -> napi::Result<Buffer> {
        let at = crate::timetravel::at_spec(at.as_deref())?;
        let a = self.inner.clone();
        let m = a
            .create_branch_with(&name, from.as_deref(), at, protected.unwrap_or(false))
            .await
            .napi()?;
        // A new branch has no writes: its head is its fork point.
        let info = argon_core::branch::meta::info_document(&m, m.fork_lsn);
        Ok(to_bytes(&info)?.into())
    }

    #[napi(catch_unwind)]
    pub async fn branch_info(&self, name: String) -> napi::Result<Buffer> {
        let info = self.inner.clone().branch_info(&name).await.napi()?;
        Ok(to_bytes(&info)?.into())
    }

    /// `{ v: [...] }` as BSON.
    #[napi(catch_unwind)]
    pub async fn list_branches(&self) -> napi::Result<Buffer> {
        crate::convert::docs_reply(self.inner.clone().list_branches().await.napi()?)
    }

    /// The collection names a branch shows.
    #[napi(catch_unwind)]
    pub async fn list_collections(&self, branch: String) -> napi::Result<Vec<String>> {
        self.inner.clone().list_collections(&branch).await.napi()
    }

    #[napi(catch_unwind)]
    pub async fn delete_branch(&self, name: String) -> napi::Result<()> {
        self.inner.clone().delete_branch(&name).await.napi()
    }

    #[napi(catch_unwind)]
    pub async fn protect_branch(&self, name: String, protected: bool) -> napi::Result<()> {
        self.inner
            .clone()
            .protect_branch(&name, protected)
            .await
            .napi()
    }

    /// Capture of outside writes in this process: "active" | "off" | "unavailable".
    #[napi(getter)]
    pub fn capture(&self) -> String {
        self.inner.project().capture_status().as_str().to_string()
    }

    /// Turns capture on for the project's collections; returns their names.
    #[napi(catch_unwind)]
    pub async fn enable_capture(&self) -> napi::Result<Vec<String>> {
        self.inner.clone().enable_capture().await.napi()
    }

    /// The key a change stream starts after (now, or just before LSN `at`), as a string.
    #[napi(catch_unwind)]
    pub async fn stream_start(&self, at: Option<f64>) -> napi::Result<String> {
        let at = at.map(|l| l as i64);
        Ok(self
            .inner
            .clone()
            .stream_start(at)
            .await
            .napi()?
            .to_string())
    }

    /// Change events after `after` (a key, as a string): `{ v: [event] }` as BSON.
    /// `spec` is BSON `{ branch?, collection?, limit, fullDocument, pipeline }`.
    #[napi(catch_unwind)]
    pub async fn stream_events(&self, after: String, spec: Buffer) -> napi::Result<Buffer> {
        let after: i64 = after.parse().map_err(|_| {
            crate::errors::to_napi(argon_core::ArgonError::InvalidArgument(
                "bad stream position".into(),
            ))
        })?;
        let s = crate::convert::doc(&spec)?;
        let pipeline: Vec<argon_core::bson::Document> = s
            .get_array("pipeline")
            .map(|a| a.iter().filter_map(|x| x.as_document().cloned()).collect())
            .unwrap_or_default();
        let events = self
            .inner
            .clone()
            .stream_events(
                s.get_str("branch").ok(),
                s.get_str("collection").ok(),
                after,
                s.get_i64("limit")
                    .or_else(|_| s.get_i32("limit").map(i64::from))
                    .unwrap_or(1000),
                s.get_bool("fullDocument").unwrap_or(false),
                pipeline,
            )
            .await
            .napi()?;
        crate::convert::docs_reply(events)
    }

    /// Starts a user transaction; returns its id.
    #[napi(catch_unwind)]
    pub async fn begin_transaction(&self) -> napi::Result<f64> {
        Ok(self.inner.clone().begin_transaction().await.napi()? as f64)
    }

    #[napi(catch_unwind)]
    pub async fn commit_transaction(&self, id: f64) -> napi::Result<()> {
        self.inner
            .clone()
            .commit_transaction(id as u64)
            .await
            .napi()
    }

    #[napi(catch_unwind)]
    pub async fn abort_transaction(&self, id: f64) -> napi::Result<()> {
        self.inner.clone().abort_transaction(id as u64).await.napi()
    }

    #[napi(catch_unwind)]
    pub fn end_transaction(&self, id: f64) {
        self.inner.end_transaction(id as u64);
    }

    #[napi(catch_unwind)]
    pub async fn close(&self) -> napi::Result<()> {
        self.inner.clone().close().await;
        Ok(())
    }
}
