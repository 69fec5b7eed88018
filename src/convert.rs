//! BSON byte conversions between JS Buffers and engine documents.

use crate::errors::{to_napi, IntoNapi};
use argon_core::bson::{self, Bson, Document};
use argon_core::ArgonError;

/// One document from JS: nesting checked before parsing (`read::parse_document`).
pub fn doc(bytes: &[u8]) -> napi::Result<Document> {
    argon_core::read::parse_document(bytes).napi()
}

/// Splits concatenated BSON documents.
pub fn docs(bytes: &[u8]) -> napi::Result<Vec<Document>> {
    argon_core::read::split_documents(bytes).napi()
}

pub fn to_bytes(d: &Document) -> napi::Result<Vec<u8>> {
    bson::to_vec(d).map_err(|e| to_napi(ArgonError::Internal(format!("encode BSON: {e}"))))
}

/// A list of documents as the BSON `{ v: [...] }` Buffer the JS layer unwraps.
pub fn docs_reply(list: Vec<Document>) -> napi::Result<napi::bindgen_prelude::Buffer> {
    let v: Vec<Bson> = list.into_iter().map(Bson::Document).collect();
    Ok(to_bytes(&argon_core::bson::doc! {"v": v})?.into())
}

pub fn opt_doc(d: &Document, key: &str) -> Option<Document> {
    d.get_document(key).ok().cloned()
}

pub fn opt_i64(d: &Document, key: &str) -> Option<i64> {
    match d.get(key) {
        Some(Bson::Int32(n)) => Some(*n as i64),
        Some(Bson::Int64(n)) => Some(*n),
        Some(Bson::Double(n)) => Some(*n as i64),
        _ => None,
    }
}

pub fn opt_bool(d: &Document, key: &str) -> bool {
    d.get_bool(key).unwrap_or(false)
}
