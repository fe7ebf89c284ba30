//! Property tests of the generated codecs: decoding what a generated type
//! encoded gives the value back, in both byte orders and every GIOP
//! version, and decoding arbitrary bytes never panics.

#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use ithaca_corba_codegen::rich_idl::rich::{
    Initial, Maybe, Mood, Point, Record, Shape, Toggle, Tree, Value, Wide,
};
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::{ByteOrder, CdrReader, CdrWriter};
use ithaca_idl::codegen::runtime::{Any, CdrDecode, CdrEncode};
use ithaca_idl::dynamic::{TypeCode, Value as Dyn};
use proptest::prelude::*;

fn mood() -> impl Strategy<Value = Mood> {
    prop_oneof![Just(Mood::Calm), Just(Mood::Busy), Just(Mood::Away)]
}

fn point() -> impl Strategy<Value = Point> {
    (any::<i32>(), any::<i32>()).prop_map(|(x, y)| Point { x, y })
}

/// Latin-1 text: what the default char code set carries.
fn latin1(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(1u8..=255, 0..max)
        .prop_map(|bytes| bytes.into_iter().map(char::from).collect())
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        (prop_oneof![Just(Mood::Calm), Just(Mood::Busy)], point())
            .prop_map(|(m, p)| Shape::At(m, p)),
        latin1(20).prop_map(Shape::Note),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::Small),
        (2..=3i32, -1e9f64..1e9).prop_map(|(d, v)| Value::Big(d, v)),
        latin1(16).prop_map(Value::Name),
        (
            any::<i32>().prop_filter("a default label", |d| !(1..=4).contains(d)),
            any::<bool>()
        )
            .prop_map(|(d, b)| Value::Flag(d, b)),
    ]
}

fn maybe() -> impl Strategy<Value = Maybe> {
    prop_oneof![point().prop_map(Maybe::Some), Just(Maybe::NoMember(false))]
}

fn extra() -> impl Strategy<Value = Any> {
    prop_oneof![
        Just(Any::default()),
        any::<i32>().prop_map(|v| Any::new(TypeCode::Long, Dyn::Long(v))),
        latin1(10).prop_map(|s| Any::new(TypeCode::String(0), Dyn::String(s))),
    ]
}

prop_compose! {
    fn record()(
        numbers in (
            any::<i16>(), any::<u16>(), any::<i32>(), any::<u32>(),
            any::<i64>(), any::<u64>(), -1e30f32..1e30, -1e300f64..1e300,
            any::<bool>(), 0u8..=255, any::<u8>(),
        ),
        texts in (latin1(40), latin1(16), mood()),
        seqs in (
            proptest::collection::vec(point(), 0..5),
            proptest::collection::vec(proptest::collection::vec(point(), 0..3), 0..3),
            any::<[[i32; 3]; 2]>(),
            proptest::collection::vec(any::<i32>(), 0..=4),
            proptest::collection::vec(any::<u8>(), 0..20),
        ),
        unions in (shape(), value(), maybe(), extra()),
    ) -> Record {
        let (s, us, l, ul, ll, ull, f, d, b, c, o) = numbers;
        let (text, tag, feeling) = texts;
        let (pts, rows, cells, few, blob) = seqs;
        let (outline, val, opt, extra) = unions;
        Record {
            s, us, l, ul, ll, ull, f, d, b, c: char::from(c), o, text, tag, feeling,
            pts, rows, cells, few, blob, outline, val, opt, extra,
        }
    }
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = latin1(8).prop_map(|label| Tree {
        label,
        kids: Vec::new(),
    });
    leaf.prop_recursive(4, 32, 4, |inner| {
        (latin1(8), proptest::collection::vec(inner, 0..4))
            .prop_map(|(label, kids)| Tree { label, kids })
    })
}

fn version() -> impl Strategy<Value = GiopVersion> {
    prop_oneof![
        Just(GiopVersion::V1_0),
        Just(GiopVersion::V1_1),
        Just(GiopVersion::V1_2)
    ]
}

fn order() -> impl Strategy<Value = ByteOrder> {
    prop_oneof![Just(ByteOrder::BigEndian), Just(ByteOrder::LittleEndian)]
}

fn round_trip<T: CdrEncode + CdrDecode>(
    value: &T,
    order: ByteOrder,
    version: GiopVersion,
    offset: usize,
) -> T {
    let mut buf = BytesMut::new();
    value
        .encode(&mut CdrWriter::new(&mut buf, order, version).with_alignment_offset(offset))
        .unwrap();
    let mut r = CdrReader::new(buf.freeze(), order, version).with_alignment_offset(offset);
    let back = T::decode(&mut r).unwrap();
    assert_eq!(r.remaining(), 0);
    back
}

proptest! {
    #[test]
    fn records_round_trip(r in record(), order in order(), version in version(), offset in 0usize..8) {
        prop_assert_eq!(round_trip(&r, order, version, offset), r);
    }

    #[test]
    fn wide_strings_round_trip(
        text in "\\PC{0,20}",
        letter in any::<char>().prop_filter("BMP", |c| (*c as u32) < 0x1_0000),
        order in order(),
        version in prop_oneof![Just(GiopVersion::V1_1), Just(GiopVersion::V1_2)],
    ) {
        let wide = Wide { text, letter };
        prop_assert_eq!(round_trip(&wide, order, version, 0), wide);
    }

    #[test]
    fn boolean_and_char_unions_round_trip(
        on in any::<i32>(),
        off in latin1(8),
        pick in 0..4u8,
        order in order(),
    ) {
        let switch = if pick % 2 == 0 { Toggle::On(on) } else { Toggle::Off(off.clone()) };
        prop_assert_eq!(round_trip(&switch, order, GiopVersion::V1_2, 1), switch);
        let letter = match pick {
            0 => Initial::First(on),
            1 => Initial::Later('b', off),
            2 => Initial::Later('c', off),
            _ => Initial::NoMember('z'),
        };
        prop_assert_eq!(round_trip(&letter, order, GiopVersion::V1_1, 3), letter);
    }

    #[test]
    fn recursive_trees_round_trip(tree in tree(), order in order()) {
        prop_assert_eq!(round_trip(&tree, order, GiopVersion::V1_2, 4), tree);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), order in order()) {
        let mut r = CdrReader::new(Bytes::from(bytes), order, GiopVersion::V1_2);
        let _ = Record::decode(&mut r);
    }
}

#[test]
fn a_discriminator_must_select_its_variant() {
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    assert!(Initial::Later('a', "x".into()).encode(&mut w).is_err());
    assert!(Initial::NoMember('b').encode(&mut w).is_err());
    assert!(Value::Flag(3, true).encode(&mut w).is_err());
    assert!(
        Shape::At(Mood::Away, Point { x: 0, y: 0 })
            .encode(&mut w)
            .is_err()
    );
}

#[test]
fn deep_recursion_is_refused_not_overflowed() {
    // 10 000 nested trees, each with one kid: far past the reader's depth
    // limit, which must stop the decoder before the stack does.
    let mut buf = BytesMut::new();
    {
        let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
        for _ in 0..10_000 {
            w.write_string("t").unwrap();
            w.write_ulong(1);
        }
        w.write_string("leaf").unwrap();
        w.write_ulong(0);
    }
    let mut r = CdrReader::new(buf.freeze(), ByteOrder::BigEndian, GiopVersion::V1_2);
    let err = Tree::decode(&mut r).unwrap_err();
    assert!(
        matches!(err, ithaca_idl::Error::DepthLimitExceeded(_)),
        "{err}"
    );
}
