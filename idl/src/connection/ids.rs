//! The request ids a connection tracks (a client's outstanding requests, a
//! server's owed replies), kept without an allocation per call.
//!
//! A connection usually has one id in flight at a time. A `BTreeMap`
//! allocates a node for its first entry and frees it with its last, so a
//! call-reply cycle cost one `malloc` and one `free` on each side. [`IdMap`]
//! keeps up to [`INLINE_IDS`] ids in a vector whose capacity stays (a
//! linear scan of a few entries), and only the ids past those in an
//! ordered map, so a peer that keeps many requests open still costs a few
//! comparisons per lookup, whatever ids it picks.

use std::collections::BTreeMap;

/// How many ids are kept in the vector before the ordered map is used.
pub(crate) const INLINE_IDS: usize = 16;

/// Request ids with a value each (`()` for a plain set).
#[derive(Debug)]
pub(crate) struct IdMap<V> {
    few: Vec<(u32, V)>,
    many: BTreeMap<u32, V>,
}

impl<V> IdMap<V> {
    /// An empty map; the vector is allocated on first use.
    pub(crate) fn new() -> Self {
        Self {
            few: Vec::new(),
            many: BTreeMap::new(),
        }
    }

    /// Adds `id` (replacing its value if present).
    pub(crate) fn insert(&mut self, id: u32, value: V) {
        if let Some(entry) = self.few.iter_mut().find(|(known, _)| *known == id) {
            entry.1 = value;
        } else if self.few.len() < INLINE_IDS && !self.many.contains_key(&id) {
            self.few.push((id, value));
        } else {
            self.many.insert(id, value);
        }
    }

    /// Removes `id`, returning its value if it was there.
    pub(crate) fn remove(&mut self, id: u32) -> Option<V> {
        match self.few.iter().position(|(known, _)| *known == id) {
            Some(index) => Some(self.few.swap_remove(index).1),
            None if self.many.is_empty() => None,
            None => self.many.remove(&id),
        }
    }

    /// Whether `id` is there.
    pub(crate) fn contains(&self, id: u32) -> bool {
        self.few.iter().any(|(known, _)| *known == id)
            || (!self.many.is_empty() && self.many.contains_key(&id))
    }

    /// How many ids there are.
    pub(crate) fn len(&self) -> usize {
        self.few.len() + self.many.len()
    }

    /// Removes every id and returns them in increasing order.
    pub(crate) fn take_sorted(&mut self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.few.drain(..).map(|(id, _)| id).collect();
        ids.extend(std::mem::take(&mut self.many).into_keys());
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the operations, the map answers as an ordered map.
        #[test]
        fn behaves_as_an_ordered_map(ops in proptest::collection::vec((0u8..3, 0u32..40, any::<u8>()), 0..200)) {
            let mut ids = IdMap::new();
            let mut model = BTreeMap::new();
            for (op, id, value) in ops {
                match op {
                    0 => {
                        ids.insert(id, value);
                        model.insert(id, value);
                    }
                    1 => prop_assert_eq!(ids.remove(id), model.remove(&id)),
                    _ => prop_assert_eq!(ids.contains(id), model.contains_key(&id)),
                }
                prop_assert_eq!(ids.len(), model.len());
            }
            let expected: Vec<u32> = model.keys().copied().collect();
            prop_assert_eq!(ids.take_sorted(), expected);
            prop_assert_eq!(ids.len(), 0);
        }
    }

    #[test]
    fn one_id_at_a_time_keeps_the_vector() {
        let mut ids = IdMap::new();
        for id in 0..100 {
            ids.insert(id, ());
            assert!(ids.contains(id));
            assert_eq!(ids.remove(id), Some(()));
        }
        assert!(ids.few.capacity() >= 1);
        assert!(ids.many.is_empty());
    }
}
