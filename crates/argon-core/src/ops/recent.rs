//! The last operations of this process, for the dashboard's "last 50 operations" and
//! "slow operations" tabs: two bounded rings (the last [`KEEP`] operations, and the last
//! [`KEEP`] slower than `slowOperationMs`), published with the process's snapshot. One
//! short lock per operation; nothing is allocated once a ring is full but the entry.

use mongodb::bson::{doc, Bson, DateTime};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Entries kept per ring.
pub const KEEP: usize = 50;

#[derive(Debug, Clone)]
struct Entry {
    op: &'static str,
    branch: String,
    collection: String,
    ms: f64,
    code: Option<&'static str>,
    at: DateTime,
}

#[derive(Debug, Default)]
pub struct Recent {
    rings: Mutex<(VecDeque<Entry>, VecDeque<Entry>)>,
}

fn push(ring: &mut VecDeque<Entry>, e: Entry) {
    if ring.len() == KEEP {
        ring.pop_front();
    }
    ring.push_back(e);
}

impl Recent {
    /// Records one finished operation (`slow`: it took at least `slowOperationMs`).
    pub fn record(
        &self,
        op: &'static str,
        at: (&str, &str),
        ms: f64,
        code: Option<&'static str>,
        slow: bool,
    ) {
        let e = Entry {
            op,
            branch: at.0.to_owned(),
            collection: at.1.to_owned(),
            ms,
            code,
            at: DateTime::now(),
        };
        let mut rings = self.rings.lock().expect("recent operations lock");
        if slow {
            push(&mut rings.1, e.clone());
        }
        push(&mut rings.0, e);
    }

    /// The two rings (recent, slow), newest first; each entry `{ op, branch?,
    /// collection?, ms, ok, code?, at }`.
    pub fn lists(&self) -> (Vec<Bson>, Vec<Bson>) {
        let rings = self.rings.lock().expect("recent operations lock");
        let list = |ring: &VecDeque<Entry>| -> Vec<Bson> {
            ring.iter()
                .rev()
                .map(|e| {
                    let mut d = doc! {"op": e.op, "ms": e.ms, "ok": e.code.is_none(), "at": e.at};
                    if !e.branch.is_empty() {
                        d.insert("branch", &e.branch);
                        d.insert("collection", &e.collection);
                    }
                    if let Some(c) = e.code {
                        d.insert("code", c);
                    }
                    Bson::Document(d)
                })
                .collect()
        };
        (list(&rings.0), list(&rings.1))
    }

    pub fn clear(&self) {
        let mut rings = self.rings.lock().expect("recent operations lock");
        rings.0.clear();
        rings.1.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_keep_the_newest_first_and_are_bounded() {
        let r = Recent::default();
        for i in 0..(KEEP + 7) {
            let slow = i % 10 == 0;
            let code = if i % 3 == 0 {
                Some("DUPLICATE_KEY")
            } else {
                None
            };
            r.record("insertOne", ("main", "users"), i as f64, code, slow);
        }
        r.record("health", ("", ""), 1.0, None, false);
        let (recent, slow) = r.lists();
        assert_eq!(recent.len(), KEEP);
        let first = recent[0].as_document().unwrap();
        assert_eq!(first.get_str("op").unwrap(), "health");
        assert!(first.get("branch").is_none());
        let second = recent[1].as_document().unwrap();
        assert_eq!(second.get_f64("ms").unwrap(), (KEEP + 6) as f64);
        assert_eq!(second.get_str("branch").unwrap(), "main");
        assert_eq!(slow.len(), 6); // 0, 10, 20, 30, 40, 50
        let s0 = slow[0].as_document().unwrap();
        assert_eq!(s0.get_f64("ms").unwrap(), 50.0);
        assert!(s0.get_bool("ok").unwrap() && s0.get("code").is_none());
        let s2 = slow[2].as_document().unwrap();
        assert_eq!(s2.get_f64("ms").unwrap(), 30.0);
        assert!(!s2.get_bool("ok").unwrap());
        assert_eq!(s2.get_str("code").unwrap(), "DUPLICATE_KEY");
        r.clear();
        assert!(r.lists().0.is_empty());
    }
}
