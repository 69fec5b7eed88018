//! Alert rules and their state machine: a rule's condition must hold for its `for`
//! duration before the alert fires (once), and the alert resolves by itself when the
//! condition clears. Pure: the monitor feeds it snapshots and the time.

use super::health::{Snapshot, Thresholds};
use mongodb::bson::{doc, Bson, DateTime, Document};
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a rule watches.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Metric {
    /// Errors / operations over the window (0..1).
    ErrorRate,
    /// p99 latency over the window, ms.
    P99Ms,
    /// Consecutive failed database checks.
    DatabaseFailures,
    /// Resident memory, bytes.
    MemoryBytes,
    /// 1 while the circuit breaker is open, else 0.
    BreakerOpen,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum Cmp {
    #[default]
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

/// One alert rule (`monitor.rules` adds to the defaults).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub metric: Metric,
    #[serde(default)]
    pub op: Cmp,
    pub threshold: f64,
    /// How long the condition must hold before the alert fires, ms.
    #[serde(default)]
    pub for_ms: u64,
    pub severity: Severity,
    #[serde(default)]
    pub summary: Option<String>,
}

impl Rule {
    fn holds(&self, v: f64) -> bool {
        match self.op {
            Cmp::Gt => v > self.threshold,
            Cmp::Ge => v >= self.threshold,
            Cmp::Lt => v < self.threshold,
            Cmp::Le => v <= self.threshold,
        }
    }

    pub fn check(&self) -> crate::Result<()> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            || !self.threshold.is_finite()
        {
            return Err(crate::ArgonError::InvalidArgument(format!(
                "invalid alert rule {:?}: a name of letters, digits, '_' or '-', and a finite threshold",
                self.name
            )));
        }
        Ok(())
    }
}

/// The default rules, over the health thresholds.
pub fn default_rules(t: &Thresholds) -> Vec<Rule> {
    let rule = |name: &str, metric, op, threshold, for_ms, severity, summary: &str| Rule {
        name: name.into(),
        metric,
        op,
        threshold,
        for_ms,
        severity,
        summary: Some(summary.into()),
    };
    vec![
        rule(
            "high_error_rate",
            Metric::ErrorRate,
            Cmp::Gt,
            t.error_rate,
            60_000,
            Severity::Warning,
            "More than 5% of operations fail",
        ),
        rule(
            "high_error_rate_critical",
            Metric::ErrorRate,
            Cmp::Gt,
            0.20,
            60_000,
            Severity::Critical,
            "More than 20% of operations fail",
        ),
        rule(
            "slow_operations",
            Metric::P99Ms,
            Cmp::Gt,
            t.p99_ms,
            60_000,
            Severity::Warning,
            "p99 operation latency is over its threshold",
        ),
        rule(
            "database_unavailable",
            Metric::DatabaseFailures,
            Cmp::Ge,
            f64::from(t.consecutive_failures),
            0,
            Severity::Critical,
            "The database did not answer consecutive checks",
        ),
        rule(
            "high_memory",
            Metric::MemoryBytes,
            Cmp::Gt,
            t.memory_bytes as f64,
            300_000,
            Severity::Warning,
            "The process uses more memory than its threshold",
        ),
    ]
}

fn value(m: Metric, s: &Snapshot, t: &Thresholds) -> f64 {
    match m {
        Metric::ErrorRate => s.error_rate(t),
        Metric::P99Ms => s.p99_ms(t),
        Metric::DatabaseFailures => f64::from(s.db.consecutive_failures),
        Metric::MemoryBytes => s.rss_bytes as f64,
        Metric::BreakerOpen => {
            if s.breaker == super::breaker::BreakerState::Open {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// One alert: firing or resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: String,
    pub rule: String,
    pub severity: Severity,
    pub firing: bool,
    pub value: f64,
    pub threshold: f64,
    pub since: DateTime,
    pub resolved_at: Option<DateTime>,
    pub summary: Option<String>,
}

impl Alert {
    pub fn to_document(&self) -> Document {
        doc! {
            "id": &self.id,
            "rule": &self.rule,
            "severity": self.severity.as_str(),
            "state": if self.firing { "firing" } else { "resolved" },
            "value": self.value,
            "threshold": self.threshold,
            "since": self.since,
            "resolvedAt": self.resolved_at.map(Bson::DateTime).unwrap_or(Bson::Null),
            "summary": self.summary.clone().map(Bson::String).unwrap_or(Bson::Null),
        }
    }
}

#[derive(Debug)]
struct RuleState {
    rule: Rule,
    pending_since: Option<Instant>,
    firing: Option<Alert>,
}

/// History kept (transitions, newest last).
const HISTORY: usize = 100;

/// The rules of a project and their state.
#[derive(Debug)]
pub struct Alerts {
    rules: Vec<RuleState>,
    history: VecDeque<Alert>,
    next_id: u64,
}

impl Alerts {
    pub fn new(rules: Vec<Rule>) -> Alerts {
        Alerts {
            rules: rules
                .into_iter()
                .map(|rule| RuleState {
                    rule,
                    pending_since: None,
                    firing: None,
                })
                .collect(),
            history: VecDeque::new(),
            next_id: 1,
        }
    }

    /// Evaluates every rule against `s` at `now`; returns the transitions (fired or
    /// resolved alerts), in rule order.
    pub fn evaluate(&mut self, s: &Snapshot, t: &Thresholds, now: Instant) -> Vec<Alert> {
        let mut out = Vec::new();
        for r in &mut self.rules {
            let v = value(r.rule.metric, s, t);
            if r.rule.holds(v) {
                let since = *r.pending_since.get_or_insert(now);
                if let Some(a) = &mut r.firing {
                    a.value = v;
                } else if now.duration_since(since) >= Duration::from_millis(r.rule.for_ms) {
                    let a = Alert {
                        id: format!("{}-{}", r.rule.name, self.next_id),
                        rule: r.rule.name.clone(),
                        severity: r.rule.severity,
                        firing: true,
                        value: v,
                        threshold: r.rule.threshold,
                        since: DateTime::now(),
                        resolved_at: None,
                        summary: r.rule.summary.clone(),
                    };
                    self.next_id += 1;
                    r.firing = Some(a.clone());
                    out.push(a);
                }
            } else {
                r.pending_since = None;
                if let Some(mut a) = r.firing.take() {
                    a.firing = false;
                    a.value = v;
                    a.resolved_at = Some(DateTime::now());
                    out.push(a);
                }
            }
        }
        for a in &out {
            self.history.push_back(a.clone());
            if self.history.len() > HISTORY {
                self.history.pop_front();
            }
        }
        out
    }

    pub fn active(&self) -> Vec<Alert> {
        self.rules.iter().filter_map(|r| r.firing.clone()).collect()
    }

    pub fn history(&self) -> Vec<Alert> {
        self.history.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::breaker::BreakerState;
    use crate::ops::health::DbCheck;
    use crate::ops::metrics::WindowStats;

    fn snap(failures: u32) -> Snapshot {
        Snapshot {
            db: DbCheck {
                ok: failures == 0,
                consecutive_failures: failures,
                ..Default::default()
            },
            window: WindowStats::default(),
            rss_bytes: 1,
            breaker: BreakerState::Closed,
            uptime_ms: 0,
            closing: false,
        }
    }

    #[test]
    fn fires_once_after_its_duration_and_resolves_by_itself() {
        let t = Thresholds::default();
        let mut a = Alerts::new(vec![Rule {
            name: "db".into(),
            metric: Metric::DatabaseFailures,
            op: Cmp::Ge,
            threshold: 2.0,
            for_ms: 1_000,
            severity: Severity::Critical,
            summary: None,
        }]);
        let t0 = Instant::now();
        assert!(a.evaluate(&snap(1), &t, t0).is_empty());
        assert!(a.evaluate(&snap(2), &t, t0).is_empty(), "pending");
        assert!(a
            .evaluate(&snap(3), &t, t0 + Duration::from_millis(500))
            .is_empty());
        let fired = a.evaluate(&snap(4), &t, t0 + Duration::from_millis(1000));
        assert_eq!(fired.len(), 1);
        assert!(fired[0].firing);
        assert_eq!(fired[0].value, 4.0);
        assert!(
            a.evaluate(&snap(5), &t, t0 + Duration::from_millis(2000))
                .is_empty(),
            "fires once"
        );
        assert_eq!(a.active().len(), 1);
        let resolved = a.evaluate(&snap(0), &t, t0 + Duration::from_millis(2500));
        assert_eq!(resolved.len(), 1);
        assert!(!resolved[0].firing);
        assert_eq!(resolved[0].id, fired[0].id);
        assert!(a.active().is_empty());
        assert_eq!(a.history().len(), 2);
        // A condition that clears before its duration never fires.
        assert!(a
            .evaluate(&snap(3), &t, t0 + Duration::from_millis(3000))
            .is_empty());
        assert!(a
            .evaluate(&snap(0), &t, t0 + Duration::from_millis(3900))
            .is_empty());
        assert!(a
            .evaluate(&snap(3), &t, t0 + Duration::from_millis(4000))
            .is_empty());
    }

    #[test]
    fn default_rules_cover_the_issue() {
        let names: Vec<String> = default_rules(&Thresholds::default())
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(
            names,
            [
                "high_error_rate",
                "high_error_rate_critical",
                "slow_operations",
                "database_unavailable",
                "high_memory"
            ]
        );
    }
}
