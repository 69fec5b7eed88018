//! A cursor handle: each `nextBatch` returns one Buffer of concatenated BSON documents.

use crate::errors::IntoNapi;
use argon_core::DocCursor;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use std::sync::Arc;
use tokio::sync::Mutex;

#[napi]
pub struct NativeCursor {
    inner: Arc<Mutex<DocCursor>>,
}

impl NativeCursor {
    pub fn new(c: DocCursor) -> Self {
        NativeCursor {
            inner: Arc::new(Mutex::new(c)),
        }
    }
}

#[napi]
impl NativeCursor {
    /// Up to `max` documents; an empty Buffer means the cursor is exhausted.
    #[napi(catch_unwind)]
    pub async fn next_batch(&self, max: u32) -> napi::Result<Buffer> {
        let inner = self.inner.clone();
        let mut c = inner.lock().await;
        let (bytes, _) = c.next_batch(max as usize).await.napi()?;
        Ok(bytes.into())
    }

    #[napi(catch_unwind)]
    pub async fn close(&self) -> napi::Result<()> {
        self.inner.clone().lock().await.close();
        Ok(())
    }
}
