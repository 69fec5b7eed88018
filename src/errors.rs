//! Maps engine errors to JS errors. Async napi functions cannot set a custom `code`, so
//! the message carries `ARGON_ERR:` + JSON, and `lib/errors.js` rethrows typed classes.

use argon_core::ArgonError;

pub fn to_napi(e: ArgonError) -> napi::Error {
    let key_value = match &e {
        ArgonError::Server {
            key_value: Some(kv),
            ..
        } => Some(mongodb_extjson(kv.as_ref())),
        _ => None,
    };
    let (code_name, index) = match &e {
        ArgonError::Server {
            code_name, index, ..
        } => (Some(code_name.clone()), *index),
        _ => (None, None),
    };
    // The driver's labels where the driver would set them: a transaction that hit a write
    // conflict, was forgotten, or lost its server can be run again.
    let transient = matches!(
        e.server_code(),
        Some(112) | Some(251) | Some(24) | Some(246)
    ) || matches!(e, ArgonError::ServerUnreachable(_));
    let labels: Vec<&str> = if transient {
        vec!["TransientTransactionError"]
    } else {
        Vec::new()
    };
    let payload = serde_json::json!({
        "labels": labels,
        "code": e.code(),
        "serverCode": e.server_code(),
        "codeName": code_name,
        "keyValue": key_value,
        "index": index,
        "message": e.to_string(),
    });
    napi::Error::from_reason(format!("ARGON_ERR:{payload}"))
}

fn mongodb_extjson(d: &argon_core::bson::Document) -> serde_json::Value {
    argon_core::bson::Bson::Document(d.clone()).into_canonical_extjson()
}

pub trait IntoNapi<T> {
    fn napi(self) -> napi::Result<T>;
}

impl<T> IntoNapi<T> for argon_core::Result<T> {
    fn napi(self) -> napi::Result<T> {
        self.map_err(to_napi)
    }
}
