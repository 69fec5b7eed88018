//! Progress of long operations (`gc`, `verify`, `reset_branch`) for whoever shows it (the
//! CLI's progress bars): a callback the engine calls with `{ phase, done, total }` as it
//! goes. The engine calls it from its own tasks, so it must not block; reports are
//! throttled (one per [`EVERY`], plus the first and the last of each phase), so a reset of
//! 100,000 documents makes about ten calls a second, not 100,000. A retried transaction
//! starts its phase again from zero.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// What is being done: `collect` / `size` (gc), `check` (verify), `plan` / `write` (reset).
    pub phase: &'static str,
    pub done: u64,
    pub total: u64,
}

/// The callback a caller passes to follow an operation.
pub type ProgressFn = Arc<dyn Fn(Step) + Send + Sync>;

/// At most one report per this interval within a phase.
pub const EVERY: Duration = Duration::from_millis(50);

/// Throttles reports to a [`ProgressFn`]; a no-op without one.
#[derive(Clone, Default)]
pub struct Progress {
    f: Option<ProgressFn>,
    last: Arc<Mutex<Option<(&'static str, Instant)>>>,
}

impl Progress {
    pub fn new(f: Option<ProgressFn>) -> Progress {
        Progress {
            f,
            last: Arc::default(),
        }
    }

    /// No reports.
    pub fn none() -> Progress {
        Progress::default()
    }

    /// Reports `done` of `total` in `phase`: always the first report of a phase and its
    /// completion (`done == total`), otherwise at most one per [`EVERY`].
    pub fn report(&self, phase: &'static str, done: u64, total: u64) {
        let Some(f) = &self.f else { return };
        {
            let mut last = self.last.lock().expect("progress lock");
            let now = Instant::now();
            let due = match *last {
                Some((p, at)) if p == phase => done >= total || now.duration_since(at) >= EVERY,
                _ => true,
            };
            if !due {
                return;
            }
            *last = Some((phase, now));
        }
        f(Step { phase, done, total });
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("reporting", &self.f.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_throttled_but_keep_first_and_last() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let p = Progress::new(Some(Arc::new(move |st: Step| s.lock().unwrap().push(st))));
        for i in 0..=10_000 {
            p.report("write", i, 10_000);
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.first().map(|s| s.done), Some(0));
        assert_eq!(seen.last().map(|s| s.done), Some(10_000));
        assert!(seen.len() < 100, "{} reports", seen.len());
    }

    #[test]
    fn a_new_phase_reports_at_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let p = Progress::new(Some(Arc::new(move |st: Step| {
            s.lock().unwrap().push(st.phase)
        })));
        p.report("plan", 0, 1);
        p.report("plan", 0, 1);
        p.report("write", 0, 5);
        assert_eq!(*seen.lock().unwrap(), vec!["plan", "write"]);
    }
}
