//! Whether this replica should receive traffic: the one rule behind both `/readyz` and the
//! `app_ready` metric, so that the probe and the alert can never disagree.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::store::{Health, VisitStore};

/// Why this replica is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// A stop was requested: the endpoint must leave the Service before the listener closes.
    ShuttingDown,
    /// The newest commit of the count failed.
    WriteFailing,
    /// The count is at `u64::MAX`.
    CountExhausted,
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReady::ShuttingDown => f.write_str("shutting down"),
            NotReady::WriteFailing => {
                f.write_str("the last write of the visit count to disk failed")
            }
            NotReady::CountExhausted => write!(
                f,
                "the visit count is at its maximum ({}); no visit can be counted",
                u64::MAX
            ),
        }
    }
}

/// Ready when the count is loaded, the last write succeeded, a visit can still be counted,
/// and no stop was requested. Clones share the shutdown flag.
#[derive(Clone)]
pub struct Readiness {
    store: VisitStore,
    shutting_down: Arc<AtomicBool>,
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Readiness")
            .field("shutting_down", &self.is_shutting_down())
            .finish_non_exhaustive()
    }
}

impl Readiness {
    pub fn new(store: VisitStore) -> Readiness {
        Readiness {
            store,
            shutting_down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Not ready from now on (first step of a graceful shutdown).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    pub fn check(&self) -> Result<(), NotReady> {
        if self.is_shutting_down() {
            return Err(NotReady::ShuttingDown);
        }
        match self.store.health() {
            Health::Ready => Ok(()),
            Health::WriteFailing => Err(NotReady::WriteFailing),
            Health::CountExhausted => Err(NotReady::CountExhausted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NoopObserver;

    #[tokio::test]
    async fn a_stop_request_makes_every_clone_not_ready() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = VisitStore::open(dir.path(), Arc::new(NoopObserver)).expect("store");
        let readiness = Readiness::new(store);
        let seen_by_metrics = readiness.clone();
        assert_eq!(seen_by_metrics.check(), Ok(()));
        readiness.begin_shutdown();
        assert_eq!(seen_by_metrics.check(), Err(NotReady::ShuttingDown));
    }
}
