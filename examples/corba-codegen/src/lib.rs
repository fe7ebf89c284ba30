//! IDL code generation at work: `build.rs` generates Rust from
//! `idl/Bench.idl` (the benchmark contract `IthacaBench::Echo`) and
//! `idl/Rich.idl` (every IDL construct), and this crate implements the
//! generated servant traits.
//!
//! - [`bench_idl`]: the generated types, `EchoClient`, `Echo` and
//!   `EchoSkeleton`; [`BenchServant`] implements `Echo` as the hand-written
//!   servant of `examples/corba-echo` does.
//! - [`rich_idl`]: the generated code of `Rich.idl`; [`StoreServant`]
//!   implements `Rich::Store` and its base `Rich::Inner::Base`.
//!
//! The tests drive generated clients against generated servants, omniORB
//! C++ servants, and omniORB C++ clients against generated servants.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use ithaca_idl::codegen::runtime::SystemError;
use ithaca_idl::dynamic::Fixed;
use ithaca_idl::giop::CompletionStatus;

/// The code generated from `idl/Bench.idl`.
pub mod bench_idl {
    include!(concat!(env!("OUT_DIR"), "/Bench.rs"));
}

/// The code generated from `idl/Rich.idl`.
pub mod rich_idl {
    include!(concat!(env!("OUT_DIR"), "/Rich.rs"));
}

use bench_idl::ithaca_bench::{self, Overflow, Point};
use rich_idl::rich::inner::Base;
use rich_idl::rich::{Maybe, Mood, Record, Shape, Store, Value, Wide, store};

/// `add` raises Overflow above this sum.
pub const ADD_LIMIT: i32 = 1_000_000;

/// `IthacaBench::Echo` on generated code. Counts pings.
#[derive(Debug, Default)]
pub struct BenchServant {
    pings: AtomicU64,
}

impl BenchServant {
    /// How many `ping`s arrived.
    pub fn pings(&self) -> u64 {
        self.pings.load(Ordering::Relaxed)
    }
}

impl ithaca_bench::Echo for BenchServant {
    async fn echo_string(&self, text: String) -> Result<String, SystemError> {
        Ok(text)
    }

    async fn add(&self, a: i32, b: i32) -> Result<i32, ithaca_bench::echo::AddError> {
        match a.checked_add(b).filter(|sum| *sum <= ADD_LIMIT) {
            Some(sum) => Ok(sum),
            None => Err(ithaca_bench::echo::AddError::Overflow(Overflow {
                limit: ADD_LIMIT,
            })),
        }
    }

    async fn reverse(&self, mut items: Vec<Point>) -> Result<Vec<Point>, SystemError> {
        items.reverse();
        Ok(items)
    }

    async fn ping(&self) -> Result<(), SystemError> {
        self.pings.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// `Rich::Store` on generated code.
#[derive(Debug)]
pub struct StoreServant {
    name: String,
    counter: AtomicI32,
    notifications: AtomicU32,
    notes: Mutex<Vec<String>>,
    reference: ithaca_idl::ior::Ior,
}

impl StoreServant {
    /// A store called `name` whose `whoami` answers `reference`.
    pub fn new(name: &str, reference: ithaca_idl::ior::Ior) -> Self {
        Self {
            name: name.to_owned(),
            counter: AtomicI32::new(0),
            notifications: AtomicU32::new(0),
            notes: Mutex::new(Vec::new()),
            reference,
        }
    }

    /// The texts of the `notify` calls received, in order.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

impl Base for StoreServant {
    async fn name(&self) -> Result<String, SystemError> {
        Ok(self.name.clone())
    }

    async fn counter(&self) -> Result<i32, SystemError> {
        Ok(self.counter.load(Ordering::SeqCst))
    }

    async fn set_counter(&self, value: i32) -> Result<(), SystemError> {
        self.counter.store(value, Ordering::SeqCst);
        Ok(())
    }

    async fn increment(&self, by: i32) -> Result<i32, SystemError> {
        self.counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| c.checked_add(by))
            .ok()
            .and_then(|before| before.checked_add(by))
            .ok_or_else(|| SystemError::standard("BAD_PARAM", 0, CompletionStatus::No))
    }
}

/// What `swap` returns for a mood: calm → small 1, busy → big 2.5.
pub fn value_for(mood: Mood) -> Value {
    match mood {
        Mood::Calm => Value::Small(1),
        Mood::Busy | Mood::Away => Value::Big(3, 2.5),
    }
}

impl Store for StoreServant {
    async fn echo_record(&self, r: Record) -> Result<Record, SystemError> {
        Ok(r)
    }

    async fn swap(
        &self,
        p: &mut rich_idl::rich::Point,
        m: Mood,
    ) -> Result<store::SwapReply, store::SwapError> {
        if m == Mood::Away {
            return Err(store::SwapError::Rejected(rich_idl::rich::Rejected {
                reason: "away".into(),
                why: m,
            }));
        }
        let at = p.clone();
        p.x += 1;
        p.y += 1;
        Ok(store::SwapReply {
            result: value_for(m),
            r#where: Shape::At(m, at),
        })
    }

    async fn reject(&self, reason: String, max: u32) -> Result<(), store::RejectError> {
        if max > 0 {
            Err(store::RejectError::Limit(rich_idl::rich::Limit { max }))
        } else {
            Err(store::RejectError::Rejected(rich_idl::rich::Rejected {
                reason,
                why: Mood::Busy,
            }))
        }
    }

    async fn echo_any(
        &self,
        a: ithaca_idl::codegen::runtime::Any,
    ) -> Result<ithaca_idl::codegen::runtime::Any, SystemError> {
        Ok(a)
    }

    async fn echo_wide(&self, w: Wide) -> Result<Wide, SystemError> {
        Ok(w)
    }

    async fn twice(&self, a: Fixed) -> Result<Fixed, SystemError> {
        twice(&a).ok_or_else(|| SystemError::standard("DATA_CONVERSION", 0, CompletionStatus::No))
    }

    async fn notify(&self, what: String) -> Result<(), SystemError> {
        if let Ok(mut notes) = self.notes.lock() {
            notes.push(what);
        }
        self.notifications.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn notifications(&self) -> Result<u32, SystemError> {
        Ok(self.notifications.load(Ordering::SeqCst))
    }

    async fn whoami(&self) -> Result<ithaca_idl::ior::Ior, SystemError> {
        Ok(self.reference.clone())
    }
}

/// `2 * a`, or `None` when it has more digits than `Rich::Amount` holds.
pub fn twice(a: &Fixed) -> Option<Fixed> {
    let mut digits = Vec::with_capacity(a.digits.len() + 1);
    let mut carry = 0;
    for d in a.digits.bytes().rev() {
        let v = (d.checked_sub(b'0')?) * 2 + carry;
        digits.push(b'0' + v % 10);
        carry = v / 10;
    }
    if carry > 0 {
        digits.push(b'0' + carry);
    }
    digits.reverse();
    let digits = String::from_utf8(digits).ok()?;
    let text = format!(
        "{}{}",
        if a.negative { "-" } else { "" },
        Fixed {
            negative: false,
            digits,
            scale: a.scale
        }
    );
    let doubled = Fixed::parse(&text)?;
    (doubled.digits.len() <= 10).then_some(doubled)
}

/// The `Record` both sides of the tests exchange (the omniORB peers in
/// `omniorb/rich_values.hh` build the same one).
pub fn sample_record() -> Record {
    use ithaca_idl::dynamic::{TypeCode, Value as Dyn};
    use rich_idl::rich::Point as P;
    Record {
        s: -3,
        us: 65535,
        l: -70000,
        ul: 4_000_000_000,
        ll: -(1_i64 << 40),
        ull: 1_u64 << 63,
        f: 1.25,
        d: -2.5e100,
        b: true,
        c: 'Z',
        o: 0xfe,
        text: "h\u{e9}llo".into(),
        tag: "short".into(),
        feeling: Mood::Busy,
        pts: vec![P { x: 1, y: 2 }, P { x: 3, y: 4 }],
        rows: vec![vec![P { x: 5, y: 6 }], vec![]],
        cells: [[1, 2, 3], [4, 5, 6]],
        few: vec![7, 8],
        blob: vec![0, 1, 2],
        outline: Shape::At(Mood::Calm, P { x: 9, y: 10 }),
        val: Value::Flag(42, true),
        opt: Maybe::Some(P { x: 11, y: 12 }),
        extra: ithaca_idl::codegen::runtime::Any::new(TypeCode::Double, Dyn::Double(0.5)),
    }
}
