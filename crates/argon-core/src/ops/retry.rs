//! Retries of operations after errors that say "try again": network errors, timeouts,
//! failovers (the driver's retryable errors). Delays come from `backon` (fixed:
//! `ConstantBuilder`, exponential: `ExponentialBuilder`; linear is an iterator backon
//! accepts), with full jitter (a uniform delay between 0 and the computed one) and a
//! retry budget, so an outage does not multiply the load on the database.

use crate::error::ArgonError;
use backon::{BackoffBuilder, ConstantBuilder, ExponentialBuilder};
use serde::Deserialize;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Fixed,
    Linear,
    Exponential,
}

/// `retry` connect option.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RetryOptions {
    pub strategy: Strategy,
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    pub jitter: bool,
    /// Retries allowed per call, on average (the budget's refill rate).
    pub budget_ratio: f64,
}

impl Default for RetryOptions {
    fn default() -> Self {
        RetryOptions {
            strategy: Strategy::Exponential,
            max_attempts: 5,
            base_delay_ms: 50,
            max_delay_ms: 2_000,
            jitter: true,
            budget_ratio: 0.2,
        }
    }
}

impl RetryOptions {
    pub fn check(&self) -> crate::Result<()> {
        if self.max_attempts == 0 || self.max_attempts > 100 {
            return Err(ArgonError::InvalidArgument(
                "retry.maxAttempts must be between 1 and 100".into(),
            ));
        }
        if self.base_delay_ms > self.max_delay_ms {
            return Err(ArgonError::InvalidArgument(
                "retry.baseDelayMs must not exceed retry.maxDelayMs".into(),
            ));
        }
        if !(0.0..=10.0).contains(&self.budget_ratio) {
            return Err(ArgonError::InvalidArgument(
                "retry.budgetRatio must be between 0 and 10".into(),
            ));
        }
        Ok(())
    }
}

/// Linear delays: base, 2·base, 3·base, … capped at `max`.
struct Linear {
    next: u32,
    base: Duration,
    max: Duration,
}

impl Iterator for Linear {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        self.next += 1;
        Some((self.base * self.next).min(self.max))
    }
}

/// Tokens kept in reserve at most (retries possible in a burst after a quiet period).
const BUDGET_MAX: f64 = 10.0;

#[derive(Debug)]
pub struct RetryPolicy {
    pub options: RetryOptions,
    budget: Mutex<f64>,
}

impl RetryPolicy {
    pub fn new(options: RetryOptions) -> RetryPolicy {
        RetryPolicy {
            options,
            budget: Mutex::new(BUDGET_MAX),
        }
    }

    /// The delays before each retry (`max_attempts - 1` of them).
    pub fn delays(&self) -> Box<dyn Iterator<Item = Duration> + Send> {
        let o = &self.options;
        let base = Duration::from_millis(o.base_delay_ms);
        let max = Duration::from_millis(o.max_delay_ms);
        let n = o.max_attempts.saturating_sub(1) as usize;
        let raw: Box<dyn Iterator<Item = Duration> + Send> = match o.strategy {
            Strategy::Fixed => Box::new(
                ConstantBuilder::new()
                    .with_delay(base)
                    .with_max_times(n)
                    .build(),
            ),
            Strategy::Exponential => Box::new(
                ExponentialBuilder::new()
                    .with_min_delay(base)
                    .with_max_delay(max)
                    .with_factor(2.0)
                    .with_max_times(n)
                    .build(),
            ),
            Strategy::Linear => Box::new(Linear { next: 0, base, max }.take(n)),
        };
        if o.jitter {
            // Full jitter: anywhere between no wait and the computed delay.
            Box::new(raw.map(|d| d.mul_f64(fastrand::f64())))
        } else {
            raw
        }
    }

    /// A call started: the budget grows by `budget_ratio`.
    pub fn deposit(&self) {
        let mut b = self.budget.lock().expect("budget lock");
        *b = (*b + self.options.budget_ratio).min(BUDGET_MAX);
    }

    /// Takes one retry from the budget; false when it is spent.
    pub fn withdraw(&self) -> bool {
        let mut b = self.budget.lock().expect("budget lock");
        if *b >= 1.0 {
            *b -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(strategy: Strategy, jitter: bool) -> RetryPolicy {
        RetryPolicy::new(RetryOptions {
            strategy,
            max_attempts: 5,
            base_delay_ms: 10,
            max_delay_ms: 35,
            jitter,
            budget_ratio: 0.5,
        })
    }

    #[test]
    fn strategies_give_their_delays() {
        let ms = |p: RetryPolicy| p.delays().map(|d| d.as_millis() as u64).collect::<Vec<_>>();
        assert_eq!(ms(policy(Strategy::Fixed, false)), vec![10, 10, 10, 10]);
        assert_eq!(ms(policy(Strategy::Linear, false)), vec![10, 20, 30, 35]);
        assert_eq!(
            ms(policy(Strategy::Exponential, false)),
            vec![10, 20, 35, 35]
        );
        let j = ms(policy(Strategy::Exponential, true));
        assert_eq!(j.len(), 4);
        assert!(
            j.iter().zip([10, 20, 35, 35]).all(|(a, b)| *a <= b),
            "{j:?}"
        );
    }

    #[test]
    fn the_budget_bounds_retries() {
        let p = policy(Strategy::Fixed, false);
        let mut n = 0;
        while p.withdraw() {
            n += 1;
        }
        assert_eq!(n, 10, "a full reserve");
        p.deposit();
        assert!(!p.withdraw(), "half a token is not a retry");
        p.deposit();
        assert!(p.withdraw());
    }
}
