//! Points in time: an LSN, a wall-clock time or a tag, resolved to an LSN and checked
//! against the project's latest LSN and its retention window.

use crate::error::{ArgonError, Result};
use crate::lsn::{Lsn, RecordKey};
use crate::names::TAGS;
use crate::project::Project;
use crate::wal::query;
use mongodb::bson::{doc, DateTime, Document};
use std::time::Duration;

/// Where a past view or a branch creation points.
#[derive(Debug, Clone, PartialEq)]
pub enum AtSpec {
    Lsn(i64),
    /// The last LSN committed at or before this time.
    Time(DateTime),
    /// A tag created with `tag()`.
    Tag(String),
}

impl AtSpec {
    /// Parses the BSON form used by the binding: `{lsn}`, `{time}` or `{tag}`.
    pub fn from_document(d: &Document) -> Result<AtSpec> {
        if let Ok(n) = d.get_i64("lsn") {
            return Ok(AtSpec::Lsn(n));
        }
        if let Ok(n) = d.get_i32("lsn") {
            return Ok(AtSpec::Lsn(n.into()));
        }
        if let Ok(f) = d.get_f64("lsn") {
            if f.fract() == 0.0 && (0.0..9.0e15).contains(&f) {
                return Ok(AtSpec::Lsn(f as i64));
            }
            return Err(ArgonError::InvalidArgument(format!(
                "an LSN must be a non-negative integer, got {f}"
            )));
        }
        if let Ok(t) = d.get_datetime("time") {
            return Ok(AtSpec::Time(*t));
        }
        if let Ok(s) = d.get_str("tag") {
            return Ok(AtSpec::Tag(s.to_string()));
        }
        Err(ArgonError::InvalidArgument(
            "a point in time must be an LSN (number), a Date or a tag name".into(),
        ))
    }
}

/// A duration as people write it: "7 days", "12 hours", "30 minutes", "45 s", "400 ms".
fn describe(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "days"),
        (3_600_000, "hours"),
        (60_000, "minutes"),
        (1000, "s"),
    ];
    for (unit, name) in UNITS {
        if ms >= unit && ms.is_multiple_of(unit) {
            let n = ms / unit;
            let name = if n == 1 && name != "s" {
                name.trim_end_matches('s')
            } else {
                name
            };
            return format!("{n} {name}");
        }
    }
    if ms >= 1000 {
        format!("{:.1} s", Duration::from_millis(ms).as_secs_f64())
    } else {
        format!("{ms} ms")
    }
}

impl Project {
    /// The newest readable point before the retention window: the LSN that was current
    /// when the window began (0 when the project is younger than the window).
    pub async fn earliest_lsn(&self) -> Result<Lsn> {
        if let Some((at, lsn)) = *self.earliest_cache.lock().expect("cache lock") {
            if at.elapsed() < std::time::Duration::from_millis(1000) {
                return Ok(lsn);
            }
        }
        let lsn = self.earliest_lsn_uncached().await?;
        *self.earliest_cache.lock().expect("cache lock") = Some((std::time::Instant::now(), lsn));
        Ok(lsn)
    }

    async fn earliest_lsn_uncached(&self) -> Result<Lsn> {
        let start =
            DateTime::from_millis(DateTime::now().timestamp_millis() - self.retention_ms as i64);
        let last_before = self
            .first_key(query::written_by(start, false), query::by_time_desc())
            .await?;
        Ok(last_before.map(RecordKey::lsn).unwrap_or(Lsn::ZERO))
    }

    /// Resolves a point to an LSN that is readable now.
    pub async fn resolve_at(&self, at: &AtSpec) -> Result<Lsn> {
        let window = describe(self.retention_ms);
        let lsn = match at {
            AtSpec::Lsn(l) => *l,
            AtSpec::Time(t) => {
                let now = DateTime::now();
                if *t > now {
                    return Err(ArgonError::LsnOutOfRange(format!(
                        "{} is in the future; the latest point is now",
                        t.try_to_rfc3339_string().unwrap_or_default()
                    )));
                }
                if t.timestamp_millis() < now.timestamp_millis() - self.retention_ms as i64 {
                    return Err(ArgonError::LsnOutOfRange(format!(
                        "{} is before the retention window ({window})",
                        t.try_to_rfc3339_string().unwrap_or_default()
                    )));
                }
                self.first_key(query::written_by(*t, true), query::by_time_desc())
                    .await?
                    .map(|k| k.lsn().get())
                    .unwrap_or(0)
            }
            AtSpec::Tag(name) => self
                .db
                .collection::<Document>(TAGS)
                .find_one(doc! {"_id": name})
                .await?
                .and_then(|d| d.get_i64("lsn").ok())
                .ok_or_else(|| ArgonError::TagNotFound(name.clone()))?,
        };
        if lsn < 0 {
            return Err(ArgonError::InvalidArgument(format!(
                "LSN {lsn} is negative"
            )));
        }
        let lsn = Lsn(lsn);
        // Committed LSNs only grow: a point at or below one already seen needs no query.
        let seen = Lsn(self.seen_lsn.load(std::sync::atomic::Ordering::Acquire));
        let latest = if lsn <= seen {
            seen
        } else {
            self.committed_lsn().await?
        };
        if lsn > latest {
            return Err(ArgonError::LsnOutOfRange(format!(
                "LSN {lsn} is beyond the head: the latest LSN is {latest}"
            )));
        }
        // A tag pins its point: it stays readable after the retention window passes it
        // (garbage collection keeps what it needs, see `gc.rs`).
        let earliest = self.earliest_lsn().await?;
        if lsn < earliest && !matches!(at, AtSpec::Tag(_)) {
            return Err(ArgonError::LsnOutOfRange(format!(
                "LSN {lsn} is before the retention window ({window}); the earliest readable LSN is {earliest}"
            )));
        }
        Ok(lsn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(describe(7 * 86_400_000), "7 days");
        assert_eq!(describe(3_600_000), "1 hour");
        assert_eq!(
            describe(90_000),
            "1.5 minutes".replace("1.5 minutes", "90 s")
        );
        assert_eq!(describe(400), "400 ms");
        assert_eq!(describe(1500), "1.5 s");
    }
}
