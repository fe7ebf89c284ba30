//! Fencing: rejecting operations stamped with an older view.
//!
//! Every write and replication message carries the [`ViewId`] its sender
//! acted under. Storage and backups keep a [`Fence`]: a monotonic
//! high-water mark of the highest view seen. An operation stamped with a
//! lower view is refused, so a primary that was paused between its lease
//! check and its write cannot complete the write once a newer view has
//! been installed (the Chubby sequencer / Kafka leader-epoch idea).
//!
//! [`Fence::admit`] checks and raises the mark in one atomic step. When the
//! check must be atomic with the storage layer's own write, run the write
//! inside [`Fence::admit_with`]: no newer view can be admitted until the
//! closure returns, so an operation admitted under view `v` finishes before
//! anything stamped `v + 1` is accepted.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::view::ViewId;

/// An operation stamped with a view older than the fence's mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stale view {presented}: the fence has already seen {current}")]
pub struct StaleView {
    /// The view the operation was stamped with.
    pub presented: ViewId,
    /// The highest view the fence has seen.
    pub current: ViewId,
}

/// A monotonic high-water mark of view ids (see the module docs). Shared by
/// reference between tasks; every method takes `&self`.
#[derive(Debug, Default)]
pub struct Fence {
    highest: Mutex<ViewId>,
}

impl Fence {
    /// A fence that has seen `initial`.
    #[must_use]
    pub fn new(initial: ViewId) -> Self {
        Self {
            highest: Mutex::new(initial),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ViewId> {
        // The mark is a plain number that is always valid, so a panic in
        // another holder's closure cannot leave it inconsistent.
        self.highest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The highest view seen.
    #[must_use]
    pub fn current(&self) -> ViewId {
        *self.lock()
    }

    /// Admits an operation stamped `view`: refused if `view` is older than
    /// the mark, otherwise the mark rises to `view`.
    pub fn admit(&self, view: ViewId) -> Result<(), StaleView> {
        self.admit_with(view, || ())
    }

    /// Checks `view` without raising the mark (for reads that must not
    /// advance it).
    pub fn check(&self, view: ViewId) -> Result<(), StaleView> {
        let current = *self.lock();
        if view < current {
            return Err(StaleView {
                presented: view,
                current,
            });
        }
        Ok(())
    }

    /// Admits `view` as [`Self::admit`] does and, if admitted, runs
    /// `operation` while still holding the fence, so no newer view is
    /// admitted until it returns. Keep `operation` short and never call the
    /// same fence from inside it (that would deadlock).
    pub fn admit_with<T>(
        &self,
        view: ViewId,
        operation: impl FnOnce() -> T,
    ) -> Result<T, StaleView> {
        let mut highest = self.lock();
        if view < *highest {
            return Err(StaleView {
                presented: view,
                current: *highest,
            });
        }
        *highest = view;
        Ok(operation())
    }

    /// Raises the mark to `view` (when a new view is installed); never
    /// lowers it. Returns the mark afterwards.
    pub fn advance_to(&self, view: ViewId) -> ViewId {
        let mut highest = self.lock();
        *highest = (*highest).max(view);
        *highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn older_views_are_rejected_and_equal_or_newer_admitted() {
        let fence = Fence::new(ViewId(3));
        assert_eq!(
            fence.admit(ViewId(2)),
            Err(StaleView {
                presented: ViewId(2),
                current: ViewId(3)
            })
        );
        assert_eq!(fence.admit(ViewId(3)), Ok(()));
        assert_eq!(fence.admit(ViewId(5)), Ok(()));
        assert_eq!(fence.current(), ViewId(5));
        assert!(fence.admit(ViewId(4)).is_err());
        assert_eq!(
            fence.admit(ViewId(4)).unwrap_err().to_string(),
            "stale view v4: the fence has already seen v5"
        );
    }

    #[test]
    fn check_does_not_raise_and_advance_never_lowers() {
        let fence = Fence::default();
        assert_eq!(fence.check(ViewId(9)), Ok(()));
        assert_eq!(fence.current(), ViewId(0));
        assert_eq!(fence.advance_to(ViewId(7)), ViewId(7));
        assert_eq!(fence.advance_to(ViewId(2)), ViewId(7));
        assert!(fence.check(ViewId(6)).is_err());
    }

    #[test]
    fn a_rejected_operation_never_runs() {
        let fence = Fence::new(ViewId(2));
        let mut ran = false;
        assert!(fence.admit_with(ViewId(1), || ran = true).is_err());
        assert!(!ran);
        assert_eq!(fence.admit_with(ViewId(2), || 42), Ok(42));
    }

    #[test]
    fn concurrent_admissions_never_accept_an_operation_older_than_one_already_accepted() {
        let fence = Arc::new(Fence::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let workers: Vec<_> = (0..4u64)
            .map(|worker| {
                let fence = Arc::clone(&fence);
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for step in 0..500u64 {
                        let view = ViewId((step * 7 + worker * 13) % 97);
                        let _ = fence.admit_with(view, || {
                            log.lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(view);
                        });
                    }
                })
            })
            .collect();
        for worker in workers {
            assert!(worker.join().is_ok());
        }
        let log = log.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(!log.is_empty());
        assert!(
            log.windows(2).all(|pair| pair[0] <= pair[1]),
            "accepted out of order"
        );
    }
}
