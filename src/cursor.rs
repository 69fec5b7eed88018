//! A cursor handle: each `nextBatch` returns one Buffer of concatenated BSON documents.
//! The first batch is fetched by the call that opens the cursor (`takePrefetched`), and
//! `exhausted` is synchronous, so a small read costs one async native call.

use crate::errors::IntoNapi;
use argon_core::DocCursor;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Mutex;

#[napi]
pub struct NativeCursor {
    inner: Arc<Mutex<DocCursor>>,
    prefetched: std::sync::Mutex<Option<Vec<u8>>>,
    exhausted: Arc<AtomicBool>,
}

impl NativeCursor {
    /// Opens the cursor and fetches its first batch of up to `first` documents.
    pub async fn open(mut c: DocCursor, first: usize) -> argon_core::Result<Self> {
        let (bytes, _) = c.next_batch(first).await?;
        let exhausted = c.exhausted();
        Ok(NativeCursor {
            inner: Arc::new(Mutex::new(c)),
            prefetched: std::sync::Mutex::new(Some(bytes)),
            exhausted: Arc::new(AtomicBool::new(exhausted)),
        })
    }
}

#[napi]
impl NativeCursor {
    /// The first batch, fetched when the cursor was opened (once; then `null`).
    #[napi]
    pub fn take_prefetched(&self) -> Option<Buffer> {
        self.prefetched
            .lock()
            .ok()
            .and_then(|mut p| p.take())
            .map(Buffer::from)
    }

    /// True once the server has nothing more for this cursor.
    #[napi(getter)]
    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }

    /// Up to `max` documents; an empty Buffer means the cursor is exhausted.
    #[napi(catch_unwind)]
    pub async fn next_batch(&self, max: u32) -> napi::Result<Buffer> {
        let inner = self.inner.clone();
        let mut c = inner.lock().await;
        let (bytes, _) = c.next_batch(max as usize).await.napi()?;
        self.exhausted.store(c.exhausted(), Ordering::Release);
        Ok(bytes.into())
    }

    #[napi(catch_unwind)]
    pub async fn close(&self) -> napi::Result<()> {
        self.inner.clone().lock().await.close();
        self.exhausted.store(true, Ordering::Release);
        Ok(())
    }
}
