//! The fence against a model: a random mix of stamped operations and view
//! installations.

use ithaca_membership::{Fence, ViewId};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Event {
    Operation(u64),
    Install(u64),
    Read(u64),
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (0..20u64).prop_map(Event::Operation),
        1 => (0..20u64).prop_map(Event::Install),
        1 => (0..20u64).prop_map(Event::Read),
    ]
}

proptest! {
    /// Every operation stamped below the highest view seen so far is
    /// rejected, every other one is admitted, and the mark never goes down.
    #[test]
    fn every_stale_view_operation_is_rejected(events in prop::collection::vec(arb_event(), 0..200)) {
        let fence = Fence::default();
        let mut highest = 0u64;
        for event in events {
            let before = fence.current();
            match event {
                Event::Operation(view) => {
                    let admitted = fence.admit(ViewId(view)).is_ok();
                    prop_assert_eq!(admitted, view >= highest);
                    highest = highest.max(view);
                }
                Event::Install(view) => {
                    fence.advance_to(ViewId(view));
                    highest = highest.max(view);
                }
                Event::Read(view) => {
                    prop_assert_eq!(fence.check(ViewId(view)).is_ok(), view >= highest);
                }
            }
            prop_assert!(fence.current() >= before);
            prop_assert_eq!(fence.current(), ViewId(highest));
        }
    }
}
