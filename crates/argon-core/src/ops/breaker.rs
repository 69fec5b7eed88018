//! The circuit breaker: `failsafe`'s state machine with our failure policy and a
//! probation after the half-open close.
//!
//! - Closed: calls pass; `failure_threshold` consecutive failures that say the database is
//!   unavailable open it.
//! - Open: calls are rejected at once (`CIRCUIT_OPEN`) for `open_ms`.
//! - Half-open: calls pass as probes. failsafe closes on the first successful probe; we
//!   keep reporting `half-open` (probation) until `half_open_successes` probes in all have
//!   succeeded, and a failure on probation opens it again at once.

use failsafe::failure_policy::FailurePolicy;
use failsafe::{Instrument, StateMachine};
use serde::Deserialize;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `breaker` connect option.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BreakerOptions {
    pub failure_threshold: u32,
    pub open_ms: u64,
    pub half_open_successes: u32,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions {
            failure_threshold: 5,
            open_ms: 30_000,
            half_open_successes: 3,
        }
    }
}

impl BreakerOptions {
    pub fn check(&self) -> crate::Result<()> {
        if self.failure_threshold == 0 || self.half_open_successes == 0 || self.open_ms == 0 {
            return Err(crate::ArgonError::InvalidArgument(
                "breaker: failureThreshold, openMs and halfOpenSuccesses must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// The breaker's state as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half-open",
            BreakerState::Open => "open",
        }
    }

    /// The `argon_circuit_breaker_state` gauge value.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }

    fn from_u8(v: u8) -> BreakerState {
        match v {
            1 => BreakerState::HalfOpen,
            2 => BreakerState::Open,
            _ => BreakerState::Closed,
        }
    }
}

/// Shared between the breaker, its policy and its instrument.
struct Shared {
    state: AtomicU8,
    /// Successful probes still needed before the breaker reports `closed`.
    probation: AtomicU32,
    half_open_successes: u32,
    on_change: Box<dyn Fn(BreakerState) + Send + Sync>,
}

impl Shared {
    fn set(&self, s: BreakerState) {
        let old = self.state.swap(s as u8, Ordering::AcqRel);
        if old != s as u8 {
            (self.on_change)(s);
        }
    }
}

/// Opens after `threshold` consecutive failures, or at once on a failure on probation.
struct Policy {
    threshold: u32,
    consecutive: u32,
    open: Duration,
    shared: Arc<Shared>,
}

impl FailurePolicy for Policy {
    fn record_success(&mut self) {
        self.consecutive = 0;
    }

    fn mark_dead_on_failure(&mut self) -> Option<Duration> {
        self.consecutive += 1;
        if self.consecutive >= self.threshold || self.shared.probation.load(Ordering::Acquire) > 0 {
            self.consecutive = 0;
            Some(self.open)
        } else {
            None
        }
    }

    fn revived(&mut self) {
        self.consecutive = 0;
    }
}

struct Events(Arc<Shared>);

impl Instrument for Events {
    fn on_call_rejected(&self) {}

    fn on_open(&self) {
        self.0.probation.store(0, Ordering::Release);
        self.0.set(BreakerState::Open);
    }

    fn on_half_open(&self) {
        self.0.set(BreakerState::HalfOpen);
    }

    fn on_closed(&self) {
        if self.0.state.load(Ordering::Acquire) == BreakerState::HalfOpen as u8 {
            // The probe that closed failsafe's breaker is the first success of probation.
            let left = self.0.half_open_successes.saturating_sub(1);
            self.0.probation.store(left, Ordering::Release);
            if left == 0 {
                self.0.set(BreakerState::Closed);
            }
        }
    }
}

/// A project's circuit breaker.
pub struct Breaker {
    machine: StateMachine<Policy, Events>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("state", &self.state())
            .finish()
    }
}

impl Breaker {
    pub fn new(o: &BreakerOptions, on_change: Box<dyn Fn(BreakerState) + Send + Sync>) -> Breaker {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(BreakerState::Closed as u8),
            probation: AtomicU32::new(0),
            half_open_successes: o.half_open_successes,
            on_change,
        });
        let policy = Policy {
            threshold: o.failure_threshold,
            consecutive: 0,
            open: Duration::from_millis(o.open_ms),
            shared: shared.clone(),
        };
        Breaker {
            machine: StateMachine::new(policy, Events(shared.clone())),
            shared,
        }
    }

    /// Whether a call may go ahead now (moves an open breaker to half-open when its time
    /// is up).
    pub fn permit(&self) -> bool {
        self.machine.is_call_permitted()
    }

    /// Reports a call's outcome: `unavailable` says the database could not be reached
    /// (other failures are the caller's and count as the database answering).
    pub fn record(&self, unavailable: bool) {
        if unavailable {
            self.machine.on_error();
            return;
        }
        // Probation set by this very success (the half-open close) already counts it.
        let left = self.shared.probation.load(Ordering::Acquire);
        self.machine.on_success();
        if left > 0 {
            let now = left - 1;
            self.shared.probation.store(now, Ordering::Release);
            if now == 0 {
                self.shared.set(BreakerState::Closed);
            }
        }
    }

    pub fn state(&self) -> BreakerState {
        BreakerState::from_u8(self.shared.state.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn breaker(
        threshold: u32,
        open_ms: u64,
        successes: u32,
    ) -> (Breaker, Arc<Mutex<Vec<&'static str>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let b = Breaker::new(
            &BreakerOptions {
                failure_threshold: threshold,
                open_ms,
                half_open_successes: successes,
            },
            Box::new(move |s| l.lock().unwrap().push(s.as_str())),
        );
        (b, log)
    }

    #[test]
    fn opens_after_consecutive_failures_and_closes_after_probation() {
        let (b, log) = breaker(3, 30, 3);
        for _ in 0..2 {
            assert!(b.permit());
            b.record(true);
        }
        b.record(false); // a success resets the count
        for _ in 0..2 {
            b.record(true);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.record(true);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.permit(), "open rejects at once");
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.permit(), "a probe goes through when the time is up");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.record(false);
        b.record(false);
        assert_eq!(b.state(), BreakerState::HalfOpen, "two of three probes");
        b.record(false);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(*log.lock().unwrap(), vec!["open", "half-open", "closed"]);
    }

    #[test]
    fn a_failure_on_probation_opens_again() {
        let (b, log) = breaker(2, 20, 3);
        b.record(true);
        b.record(true);
        std::thread::sleep(Duration::from_millis(30));
        assert!(b.permit());
        b.record(false);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.record(true);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(*log.lock().unwrap(), vec!["open", "half-open", "open"]);
    }
}
