//! Health: a pure function of what the project knows now (the last database checks, the
//! sliding window of operations, memory, the breaker) and the configured thresholds.

use super::breaker::BreakerState;
use super::metrics::WindowStats;
use mongodb::bson::{doc, Bson, DateTime, Document};
use serde::Deserialize;

/// Health thresholds (`monitor.thresholds`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Thresholds {
    /// Error rate over the window above which health is `degraded`.
    pub error_rate: f64,
    /// p99 latency (ms) over the window above which health is `degraded`.
    pub p99_ms: f64,
    /// Consecutive failed database checks that make health `unhealthy`.
    pub consecutive_failures: u32,
    /// Resident memory (bytes) above which health is `degraded`.
    pub memory_bytes: u64,
    /// Fewest operations in the window before rates count (a single failure among three
    /// calls is not a 33% error rate worth waking anyone for).
    pub min_operations: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            error_rate: 0.05,
            p99_ms: 1_000.0,
            consecutive_failures: 3,
            memory_bytes: 2 * 1024 * 1024 * 1024,
            min_operations: 10,
        }
    }
}

impl Thresholds {
    pub fn check(&self) -> crate::Result<()> {
        if !(0.0..=1.0).contains(&self.error_rate)
            || self.p99_ms < 0.0
            || self.consecutive_failures == 0
        {
            return Err(crate::ArgonError::InvalidArgument(
                "monitor.thresholds: errorRate must be within 0..1, p99Ms non-negative, consecutiveFailures positive".into(),
            ));
        }
        Ok(())
    }
}

/// What the last database check found.
#[derive(Debug, Clone, Default)]
pub struct DbCheck {
    pub ok: bool,
    pub latency_ms: f64,
    pub error: Option<String>,
    pub at: Option<DateTime>,
    pub consecutive_failures: u32,
}

/// Everything health and alerts are computed from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub db: DbCheck,
    pub window: WindowStats,
    pub rss_bytes: u64,
    pub breaker: BreakerState,
    pub uptime_ms: u64,
    pub closing: bool,
}

impl Snapshot {
    /// The error rate counted for health and alerts (0 below `min_operations`).
    pub fn error_rate(&self, t: &Thresholds) -> f64 {
        if self.window.count < t.min_operations {
            0.0
        } else {
            self.window.error_rate
        }
    }

    pub fn p99_ms(&self, t: &Thresholds) -> f64 {
        if self.window.count < t.min_operations {
            0.0
        } else {
            self.window.p99_ms
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Status {
    /// A check's status in health+json's words.
    fn check(self) -> &'static str {
        match self {
            Status::Healthy => "pass",
            Status::Degraded => "warn",
            Status::Unhealthy => "fail",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }
}

fn check(status: &str, fields: Document) -> Document {
    let mut d = doc! {"status": status};
    d.extend(fields);
    d
}

/// The health document (`argon.health()`).
pub fn evaluate(s: &Snapshot, t: &Thresholds) -> (Status, Document) {
    let warn_if = |degraded: bool| {
        if degraded {
            Status::Degraded
        } else {
            Status::Healthy
        }
    };
    let db = if s.db.consecutive_failures >= t.consecutive_failures {
        Status::Unhealthy
    } else {
        warn_if(!s.db.ok && s.db.at.is_some())
    };
    let rate = warn_if(s.error_rate(t) > t.error_rate);
    let latency = warn_if(s.p99_ms(t) > t.p99_ms);
    let memory = warn_if(s.rss_bytes > t.memory_bytes);
    let breaker = match s.breaker {
        BreakerState::Open => Status::Unhealthy,
        BreakerState::HalfOpen => Status::Degraded,
        BreakerState::Closed => Status::Healthy,
    };
    // A project that is closing (or closed) takes no more calls.
    let closing = if s.closing {
        Status::Unhealthy
    } else {
        Status::Healthy
    };
    let status = [db, rate, latency, memory, breaker, closing]
        .into_iter()
        .max()
        .unwrap_or(Status::Healthy);
    let (db, rate_st, lat_st, mem_st, br_st) = (
        db.check(),
        rate.check(),
        latency.check(),
        memory.check(),
        breaker.check(),
    );
    let checks = doc! {
        "database": check(db, doc! {
            "latencyMs": s.db.latency_ms,
            "consecutiveFailures": s.db.consecutive_failures as i64,
            "threshold": t.consecutive_failures as i64,
            "error": s.db.error.clone().map(Bson::String).unwrap_or(Bson::Null),
            "lastCheck": s.db.at.map(Bson::DateTime).unwrap_or(Bson::Null),
        }),
        "errorRate": check(rate_st, doc! {
            "value": s.window.error_rate, "threshold": t.error_rate,
            "operations": s.window.count as i64, "errors": s.window.errors as i64,
        }),
        "latency": check(lat_st, doc! {"p99Ms": s.window.p99_ms, "threshold": t.p99_ms}),
        "memory": check(mem_st, doc! {"rssBytes": s.rss_bytes as i64, "threshold": t.memory_bytes as i64}),
        "breaker": check(br_st, doc! {"state": s.breaker.as_str()}),
    };
    let d = doc! {
        "status": status.as_str(),
        "checks": checks,
        "consecutiveFailures": s.db.consecutive_failures as i64,
        "lastCheck": s.db.at.map(Bson::DateTime).unwrap_or(Bson::Null),
        "uptimeMs": s.uptime_ms as i64,
        "closing": s.closing,
    };
    (status, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> Snapshot {
        Snapshot {
            db: DbCheck {
                ok: true,
                latency_ms: 0.4,
                error: None,
                at: Some(DateTime::now()),
                consecutive_failures: 0,
            },
            window: WindowStats::default(),
            rss_bytes: 100 << 20,
            breaker: BreakerState::Closed,
            uptime_ms: 5,
            closing: false,
        }
    }

    #[test]
    fn thresholds_decide_the_status() {
        let t = Thresholds::default();
        assert_eq!(evaluate(&snap(), &t).0, Status::Healthy);
        let mut s = snap();
        s.window = WindowStats {
            count: 100,
            errors: 6,
            error_rate: 0.06,
            p99_ms: 3.0,
            mean_ms: 1.0,
        };
        let (st, d) = evaluate(&s, &t);
        assert_eq!(st, Status::Degraded);
        assert_eq!(
            d.get_document("checks")
                .unwrap()
                .get_document("errorRate")
                .unwrap()
                .get_str("status")
                .unwrap(),
            "warn"
        );
        // Too few operations for a rate.
        s.window.count = 5;
        assert_eq!(evaluate(&s, &t).0, Status::Healthy);
        let mut s = snap();
        s.window = WindowStats {
            count: 50,
            errors: 0,
            error_rate: 0.0,
            p99_ms: 1500.0,
            mean_ms: 900.0,
        };
        assert_eq!(evaluate(&s, &t).0, Status::Degraded);
        let mut s = snap();
        s.db.ok = false;
        s.db.consecutive_failures = 2;
        assert_eq!(evaluate(&s, &t).0, Status::Degraded);
        s.db.consecutive_failures = 3;
        assert_eq!(evaluate(&s, &t).0, Status::Unhealthy);
        let mut s = snap();
        s.breaker = BreakerState::Open;
        assert_eq!(evaluate(&s, &t).0, Status::Unhealthy);
        s.breaker = BreakerState::HalfOpen;
        assert_eq!(evaluate(&s, &t).0, Status::Degraded);
        let mut s = snap();
        s.rss_bytes = t.memory_bytes + 1;
        assert_eq!(evaluate(&s, &t).0, Status::Degraded);
        let mut s = snap();
        s.closing = true;
        assert_eq!(evaluate(&s, &t).0, Status::Unhealthy);
    }
}
