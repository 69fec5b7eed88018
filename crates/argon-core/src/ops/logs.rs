//! Log records for the embedding layer: a `tracing` layer, installed once per process,
//! turns the engine's events into structured records (`{type: 'log', level, message,
//! target, time, fields}`) and hands them to every project that asked for logs at that
//! level. It never blocks: the receiver (a weak threadsafe function in the Node binding)
//! queues them. Credentials are redacted from every string that leaves this way.

use mongodb::bson::{doc, Bson, DateTime, Document};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock, Weak};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// A receiver of log records.
pub type LogSink = dyn Fn(Document) + Send + Sync;

struct Entry {
    level: Level,
    sink: Weak<LogSink>,
}

static SINKS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
/// The most verbose level any receiver wants: 0 none, 1 error … 5 trace.
static MAX: AtomicU8 = AtomicU8::new(0);
static INSTALLED: OnceLock<bool> = OnceLock::new();

fn rank(l: &Level) -> u8 {
    match *l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Parses a level name (`trace` … `error`).
pub fn parse_level(s: &str) -> crate::Result<Level> {
    match s {
        "trace" => Ok(Level::TRACE),
        "debug" => Ok(Level::DEBUG),
        "info" => Ok(Level::INFO),
        "warn" => Ok(Level::WARN),
        "error" => Ok(Level::ERROR),
        other => Err(crate::ArgonError::InvalidArgument(format!(
            "unknown log level {other:?} (trace, debug, info, warn, error)"
        ))),
    }
}

fn recompute(sinks: &mut Vec<Entry>) {
    sinks.retain(|e| e.sink.strong_count() > 0);
    let max = sinks.iter().map(|e| rank(&e.level)).max().unwrap_or(0);
    MAX.store(max, Ordering::Release);
    tracing::callsite::rebuild_interest_cache();
}

/// Sends records at `level` or more severe to `sink` while it lives.
pub fn register(level: Level, sink: Weak<LogSink>) {
    install();
    let mut s = SINKS.lock().expect("log sinks");
    s.push(Entry { level, sink });
    recompute(&mut s);
}

/// Drops receivers that are gone.
pub fn prune() {
    recompute(&mut SINKS.lock().expect("log sinks"));
}

fn install() {
    INSTALLED.get_or_init(|| {
        // When the host process already has a subscriber, records stay with it.
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Forward))
            .is_ok()
    });
}

/// Masks the password of connection strings (`scheme://user:***@host`) and
/// `password=` parameters.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest
            .find(|c: char| c == '/' || c == '?' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            let cred = &rest[..at];
            match cred.find(':') {
                Some(colon) => {
                    out.push_str(&cred[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(cred),
            }
            rest = &rest[at..];
        }
    }
    out.push_str(rest);
    // `password=…` / `pwd=…` query parameters.
    for key in ["password=", "pwd="] {
        let mut from = 0;
        while let Some(i) = out[from..].to_ascii_lowercase().find(key) {
            let start = from + i + key.len();
            let end = out[start..]
                .find(|c: char| c == '&' || c.is_whitespace() || c == '"' || c == '\'')
                .map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "***");
            from = start + 3;
        }
    }
    out
}

struct Fields {
    message: String,
    fields: Document,
}

impl Visit for Fields {
    fn record_str(&mut self, f: &Field, v: &str) {
        if f.name() == "message" {
            self.message = redact(v);
        } else {
            self.fields.insert(f.name(), redact(v));
        }
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.fields.insert(f.name(), v);
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.fields
            .insert(f.name(), Bson::Int64(v.min(i64::MAX as u64) as i64));
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.fields.insert(f.name(), v);
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.fields.insert(f.name(), v);
    }
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        let s = redact(&format!("{v:?}"));
        if f.name() == "message" {
            self.message = s;
        } else {
            self.fields.insert(f.name(), s);
        }
    }
}

struct Forward;

impl<S: Subscriber> Layer<S> for Forward {
    fn enabled(&self, m: &Metadata<'_>, _: Context<'_, S>) -> bool {
        rank(m.level()) <= MAX.load(Ordering::Acquire)
    }

    fn on_event(&self, e: &Event<'_>, _: Context<'_, S>) {
        let level = *e.metadata().level();
        let mut v = Fields {
            message: String::new(),
            fields: Document::new(),
        };
        e.record(&mut v);
        let record = doc! {
            "type": "log",
            "level": level.as_str().to_ascii_lowercase(),
            "message": v.message,
            "target": e.metadata().target(),
            "time": DateTime::now(),
            "fields": v.fields,
        };
        let sinks: Vec<std::sync::Arc<LogSink>> = SINKS
            .lock()
            .expect("log sinks")
            .iter()
            .filter(|s| rank(&level) <= rank(&s.level))
            .filter_map(|s| s.sink.upgrade())
            .collect();
        for s in sinks {
            s(record.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact("connect mongodb://admin:s3cr3t@db.example:27017/?authSource=admin failed"),
            "connect mongodb://admin:***@db.example:27017/?authSource=admin failed"
        );
        assert_eq!(
            redact("mongodb+srv://u:p%40ss@c.example/x and mongodb://h:1"),
            "mongodb+srv://u:***@c.example/x and mongodb://h:1"
        );
        assert_eq!(redact("uri?password=hunter2&x=1"), "uri?password=***&x=1");
        assert_eq!(redact("no secrets here"), "no secrets here");
    }

    #[test]
    fn records_reach_receivers_at_their_level() {
        let got: Arc<Mutex<Vec<Document>>> = Arc::default();
        let g = got.clone();
        let sink: Arc<LogSink> = Arc::new(move |d| g.lock().unwrap().push(d));
        register(Level::INFO, Arc::downgrade(&sink));
        tracing::debug!("not wanted");
        tracing::warn!(
            operation = "find",
            duration_ms = 1200.5,
            uri = "mongodb://a:b@h",
            "slow operation"
        );
        let logs = got.lock().unwrap().clone();
        let slow: Vec<&Document> = logs
            .iter()
            .filter(|d| d.get_str("message") == Ok("slow operation"))
            .collect();
        assert_eq!(slow.len(), 1, "{logs:?}");
        let f = slow[0].get_document("fields").unwrap();
        assert_eq!(f.get_str("operation").unwrap(), "find");
        assert_eq!(f.get_str("uri").unwrap(), "mongodb://a:***@h");
        assert_eq!(slow[0].get_str("level").unwrap(), "warn");
        assert!(logs
            .iter()
            .all(|d| d.get_str("message") != Ok("not wanted")));
        drop(sink);
        prune();
    }
}
