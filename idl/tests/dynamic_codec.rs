//! The dynamic, TypeCode-driven codec: property tests over generated
//! TypeCodes and values (both byte orders, every GIOP version, several
//! alignment origins), TypeCodes built from a rich IDL, and byte-for-byte
//! agreement with hand-written marshalling.

#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::{ByteOrder, CdrReader, CdrWriter, LongDouble};
use ithaca_idl::dynamic::{self, Fixed, Member, TypeCode, UnionCase, Value};
use ithaca_idl::front;
use ithaca_idl::ior::Ior;
use proptest::collection::vec;
use proptest::prelude::*;

const VERSIONS: [GiopVersion; 3] = [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2];
const ORDERS: [ByteOrder; 2] = [ByteOrder::BigEndian, ByteOrder::LittleEndian];

fn encode_at(
    tc: &TypeCode,
    v: &Value,
    order: ByteOrder,
    version: GiopVersion,
    offset: usize,
) -> ithaca_idl::Result<Bytes> {
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, order, version).with_alignment_offset(offset);
    dynamic::encode(tc, v, &mut w)?;
    Ok(buf.freeze())
}

fn decode_at(
    tc: &TypeCode,
    bytes: Bytes,
    order: ByteOrder,
    version: GiopVersion,
    offset: usize,
) -> ithaca_idl::Result<Value> {
    let mut r = CdrReader::new(bytes, order, version).with_alignment_offset(offset);
    let v = dynamic::decode(tc, &mut r)?;
    r.finish()?;
    Ok(v)
}

/// Encodes and decodes in every byte order, GIOP version and alignment
/// origin 0..8; wide characters must be refused in GIOP 1.0.
fn assert_round_trips(tc: &TypeCode, v: &Value) {
    let wide =
        format!("{tc:?}{v:?}").contains("WChar") || format!("{tc:?}{v:?}").contains("WString");
    for version in VERSIONS {
        for order in ORDERS {
            for offset in [0, 1, 3, 4, 7, 12] {
                let encoded = encode_at(tc, v, order, version, offset);
                if wide && version == GiopVersion::V1_0 {
                    // A wide value may still be absent (an empty sequence).
                    if encoded.is_err() {
                        continue;
                    }
                }
                let bytes =
                    encoded.unwrap_or_else(|e| panic!("{version:?} {order:?} {offset}: {e}"));
                let back = decode_at(tc, bytes, order, version, offset)
                    .unwrap_or_else(|e| panic!("{version:?} {order:?} {offset}: {e}"));
                assert_eq!(&back, v, "{version:?} {order:?} {offset}");
            }
        }
    }
}

fn assert_typecode_round_trips(tc: &TypeCode) {
    for order in ORDERS {
        for offset in [0, 2, 5] {
            let mut buf = BytesMut::new();
            let mut w =
                CdrWriter::new(&mut buf, order, GiopVersion::V1_2).with_alignment_offset(offset);
            tc.write(&mut w).unwrap();
            let mut r = CdrReader::new(buf.freeze(), order, GiopVersion::V1_2)
                .with_alignment_offset(offset);
            assert_eq!(&TypeCode::read(&mut r).unwrap(), tc);
            r.finish().unwrap();
        }
    }
}

// ---- generators -------------------------------------------------------------

fn enum_tc(n: usize) -> TypeCode {
    TypeCode::Enum {
        id: format!("IDL:E{n}:1.0"),
        name: format!("E{n}"),
        members: (0..n).map(|i| format!("e{i}")).collect(),
    }
}

fn leaf_tc() -> BoxedStrategy<TypeCode> {
    prop_oneof![
        Just(TypeCode::Short),
        Just(TypeCode::Long),
        Just(TypeCode::LongLong),
        Just(TypeCode::UShort),
        Just(TypeCode::ULong),
        Just(TypeCode::ULongLong),
        Just(TypeCode::Float),
        Just(TypeCode::Double),
        Just(TypeCode::LongDouble),
        Just(TypeCode::Boolean),
        Just(TypeCode::Char),
        Just(TypeCode::WChar),
        Just(TypeCode::Octet),
        Just(TypeCode::Null),
        Just(TypeCode::Any),
        Just(TypeCode::TypeCode),
        Just(TypeCode::ObjRef {
            id: "IDL:X/Obj:1.0".into(),
            name: "Obj".into()
        }),
        (0u32..6).prop_map(TypeCode::String),
        (0u32..6).prop_map(TypeCode::WString),
        (1u16..=31)
            .prop_flat_map(|d| (Just(d), 0..=d))
            .prop_map(|(digits, scale)| TypeCode::Fixed {
                digits,
                scale: i16::try_from(scale).unwrap()
            }),
        (1usize..5).prop_map(enum_tc),
    ]
    .boxed()
}

/// A discriminator type and `n` distinct labels of it (fewer for boolean).
fn labels(disc: &TypeCode, n: usize) -> Vec<Value> {
    (0..n)
        .filter_map(|i| {
            let i32_ = i32::try_from(i).unwrap();
            Some(match disc {
                TypeCode::Long => Value::Long(i32_ * 7 - 3),
                TypeCode::Short => Value::Short(i16::try_from(i32_).unwrap()),
                TypeCode::ULongLong => Value::ULongLong(u64::try_from(i).unwrap() << 40),
                TypeCode::Char => Value::Char(char::from(b'a' + u8::try_from(i).unwrap())),
                TypeCode::Boolean if i < 1 => Value::Boolean(i == 0),
                TypeCode::Enum { members, .. } if i + 1 < members.len() => {
                    Value::Enum(u32::try_from(i).unwrap())
                }
                _ => return None,
            })
        })
        .collect()
}

/// A value of `disc` that is none of the labels of [`labels`].
fn unused_label(disc: &TypeCode) -> Value {
    match disc {
        TypeCode::Long => Value::Long(1000),
        TypeCode::Short => Value::Short(-100),
        TypeCode::ULongLong => Value::ULongLong(3),
        TypeCode::Char => Value::Char('~'),
        TypeCode::Boolean => Value::Boolean(false),
        TypeCode::Enum { members, .. } => Value::Enum(u32::try_from(members.len() - 1).unwrap()),
        _ => unreachable!(),
    }
}

fn union_tc(types: Vec<TypeCode>, disc: TypeCode, default: bool, id: usize) -> TypeCode {
    let labels = labels(&disc, types.len());
    let mut cases: Vec<UnionCase> = labels
        .into_iter()
        .zip(&types)
        .enumerate()
        .map(|(i, (label, ty))| UnionCase {
            label: Some(label),
            name: format!("m{i}"),
            ty: ty.clone(),
        })
        .collect();
    if default {
        cases.push(UnionCase {
            label: None,
            name: "other".into(),
            ty: types.last().cloned().unwrap_or(TypeCode::Long),
        });
    }
    TypeCode::Union {
        id: format!("IDL:U{id}:1.0"),
        name: format!("U{id}"),
        discriminator: Box::new(disc),
        cases,
    }
}

fn any_tc() -> BoxedStrategy<TypeCode> {
    leaf_tc()
        .prop_recursive(4, 40, 4, |inner| {
            prop_oneof![
                (vec(inner.clone(), 0..4), any::<u8>()).prop_map(|(types, n)| TypeCode::Struct {
                    id: format!("IDL:S{n}:1.0"),
                    name: format!("S{n}"),
                    members: types
                        .into_iter()
                        .enumerate()
                        .map(|(i, ty)| Member::new(format!("f{i}"), ty))
                        .collect(),
                }),
                (vec(inner.clone(), 0..3), any::<u8>()).prop_map(|(types, n)| TypeCode::Except {
                    id: format!("IDL:X{n}:1.0"),
                    name: format!("X{n}"),
                    members: types
                        .into_iter()
                        .enumerate()
                        .map(|(i, ty)| Member::new(format!("f{i}"), ty))
                        .collect(),
                }),
                (inner.clone(), 0u32..4).prop_map(|(t, bound)| TypeCode::Sequence {
                    element: Box::new(t),
                    bound
                }),
                (0u32..4).prop_map(|bound| TypeCode::Sequence {
                    element: Box::new(TypeCode::Octet),
                    bound
                }),
                (inner.clone(), 1u32..4).prop_map(|(t, length)| TypeCode::Array {
                    element: Box::new(t),
                    length
                }),
                inner.clone().prop_map(|t| TypeCode::Alias {
                    id: "IDL:A:1.0".into(),
                    name: "A".into(),
                    original: Box::new(t),
                }),
                (
                    vec(inner, 1..4),
                    prop_oneof![
                        Just(TypeCode::Long),
                        Just(TypeCode::Short),
                        Just(TypeCode::ULongLong),
                        Just(TypeCode::Char),
                        Just(TypeCode::Boolean),
                        (2usize..5).prop_map(enum_tc),
                    ],
                    any::<bool>(),
                    any::<u8>()
                )
                    .prop_map(|(types, disc, default, n)| union_tc(
                        types,
                        disc,
                        default,
                        usize::from(n)
                    )),
            ]
        })
        .boxed()
}

fn text(max: usize, wide: bool) -> BoxedStrategy<String> {
    let ch: BoxedStrategy<char> = if wide {
        prop_oneof![
            (1u32..0xd800).prop_map(|c| char::from_u32(c).unwrap()),
            (0xe000u32..0xfffe).prop_map(|c| char::from_u32(c).unwrap()),
        ]
        .boxed()
    } else {
        (1u8..=255).prop_map(char::from).boxed()
    };
    vec(ch, 0..=max)
        .prop_map(|cs| cs.into_iter().collect())
        .boxed()
}

fn value_of(tc: &TypeCode) -> BoxedStrategy<Value> {
    match tc {
        TypeCode::Null | TypeCode::Void => Just(Value::Null).boxed(),
        TypeCode::Short => any::<i16>().prop_map(Value::Short).boxed(),
        TypeCode::Long => any::<i32>().prop_map(Value::Long).boxed(),
        TypeCode::LongLong => any::<i64>().prop_map(Value::LongLong).boxed(),
        TypeCode::UShort => any::<u16>().prop_map(Value::UShort).boxed(),
        TypeCode::ULong => any::<u32>().prop_map(Value::ULong).boxed(),
        TypeCode::ULongLong => any::<u64>().prop_map(Value::ULongLong).boxed(),
        TypeCode::Float => (-1e30f32..1e30).prop_map(Value::Float).boxed(),
        TypeCode::Double => (-1e300f64..1e300).prop_map(Value::Double).boxed(),
        TypeCode::LongDouble => any::<[u8; 16]>()
            .prop_map(|b| Value::LongDouble(LongDouble(b)))
            .boxed(),
        TypeCode::Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
        TypeCode::Char => (0u8..=255).prop_map(|b| Value::Char(char::from(b))).boxed(),
        TypeCode::WChar => (1u32..0xd800)
            .prop_map(|c| Value::WChar(char::from_u32(c).unwrap()))
            .boxed(),
        TypeCode::Octet => any::<u8>().prop_map(Value::Octet).boxed(),
        TypeCode::String(bound) => text(if *bound == 0 { 8 } else { *bound as usize }, false)
            .prop_map(Value::String)
            .boxed(),
        TypeCode::WString(bound) => text(if *bound == 0 { 8 } else { *bound as usize }, true)
            .prop_map(Value::WString)
            .boxed(),
        TypeCode::Fixed { digits, scale } => {
            let digits = u32::from(*digits).min(18);
            let scale = u16::try_from(*scale).unwrap();
            (0..10u64.pow(digits), any::<bool>())
                .prop_map(move |(n, negative)| {
                    Value::Fixed(Fixed {
                        negative: negative && n != 0,
                        digits: n.to_string(),
                        scale,
                    })
                })
                .boxed()
        }
        TypeCode::Enum { members, .. } => (0..u32::try_from(members.len()).unwrap())
            .prop_map(Value::Enum)
            .boxed(),
        TypeCode::Struct { members, .. } | TypeCode::Except { members, .. } => {
            let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
            members
                .iter()
                .map(|m| value_of(&m.ty))
                .collect::<Vec<_>>()
                .prop_map(move |vs| Value::Struct(names.iter().cloned().zip(vs).collect()))
                .boxed()
        }
        TypeCode::Sequence { element, bound } => {
            let max = if *bound == 0 { 4 } else { *bound as usize };
            if **element == TypeCode::Octet {
                vec(any::<u8>(), 0..=max)
                    .prop_map(|b| Value::Octets(Bytes::from(b)))
                    .boxed()
            } else {
                vec(value_of(element), 0..=max)
                    .prop_map(Value::Sequence)
                    .boxed()
            }
        }
        TypeCode::Array { element, length } => vec(value_of(element), *length as usize)
            .prop_map(Value::Array)
            .boxed(),
        TypeCode::Alias { original, .. } => value_of(original),
        TypeCode::Union {
            discriminator,
            cases,
            ..
        } => {
            let mut options: Vec<BoxedStrategy<Value>> = Vec::new();
            for case in cases {
                let disc = case
                    .label
                    .clone()
                    .unwrap_or_else(|| unused_label(discriminator));
                options.push(
                    value_of(&case.ty)
                        .prop_map(move |m| Value::Union {
                            discriminator: Box::new(disc.clone()),
                            member: Some(Box::new(m)),
                        })
                        .boxed(),
                );
            }
            if cases.iter().all(|c| c.label.is_some()) {
                options.push(
                    Just(Value::Union {
                        discriminator: Box::new(unused_label(discriminator)),
                        member: None,
                    })
                    .boxed(),
                );
            }
            proptest::strategy::Union::new(options).boxed()
        }
        TypeCode::Any => leaf_tc()
            .prop_filter("an any holding an any", |t| *t != TypeCode::Any)
            .prop_flat_map(|t| {
                value_of(&t).prop_map(move |v| Value::Any(Box::new(t.clone()), Box::new(v)))
            })
            .boxed(),
        TypeCode::TypeCode => any_tc().prop_map(|t| Value::TypeCode(Box::new(t))).boxed(),
        TypeCode::ObjRef { .. } => prop_oneof![
            Just(Value::ObjRef(Ior::default())),
            "[a-z]{1,8}".prop_map(|id| Value::ObjRef(Ior {
                type_id: format!("IDL:{id}:1.0"),
                profiles: Vec::new(),
            })),
        ]
        .boxed(),
        other => panic!("no generator for {other:?}"),
    }
}

fn typed_value() -> impl Strategy<Value = (TypeCode, Value)> {
    any_tc().prop_flat_map(|tc| (Just(tc.clone()), value_of(&tc)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn values_round_trip((tc, v) in typed_value()) {
        assert_round_trips(&tc, &v);
    }

    #[test]
    fn typecodes_round_trip(tc in any_tc()) {
        assert_typecode_round_trips(&tc);
    }

    #[test]
    fn any_encapsulations_round_trip((tc, v) in typed_value(), little in any::<bool>()) {
        let order = if little { ByteOrder::LittleEndian } else { ByteOrder::BigEndian };
        let bytes = dynamic::encode_any_encapsulation(&tc, &v, order).unwrap();
        prop_assert_eq!(
            dynamic::decode_any_encapsulation(&bytes).unwrap(),
            Value::Any(Box::new(tc), Box::new(v))
        );
    }

    /// Garbage never panics the decoders (the fuzz entry points).
    #[test]
    fn garbage_is_an_error_not_a_panic(bytes in vec(any::<u8>(), 0..200)) {
        let _ = TypeCode::from_encapsulation(&bytes);
        let _ = dynamic::decode_any_encapsulation(&bytes);
    }

    /// Valid encodings with a few bytes changed decode or fail, never panic.
    #[test]
    fn corrupted_anys_never_panic(
        (tc, v) in typed_value(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let bytes = dynamic::encode_any_encapsulation(&tc, &v, ByteOrder::BigEndian).unwrap();
        let mut bytes = bytes.to_vec();
        for (at, byte) in flips {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let _ = dynamic::decode_any_encapsulation(&bytes);
        let _ = TypeCode::from_encapsulation(&bytes);
    }

    /// Truncating an encoding anywhere is an error, never a panic.
    #[test]
    fn truncated_values_are_errors((tc, v) in typed_value(), cut in any::<prop::sample::Index>()) {
        let bytes = encode_at(&tc, &v, ByteOrder::LittleEndian, GiopVersion::V1_2, 0).unwrap();
        if !bytes.is_empty() {
            let cut = cut.index(bytes.len());
            let _ = decode_at(&tc, bytes.slice(..cut), ByteOrder::LittleEndian, GiopVersion::V1_2, 0);
        }
    }
}

// ---- recursive types ---------------------------------------------------------

fn node_value() -> impl Strategy<Value = Value> {
    let leaf = (any::<i32>(), "[a-z]{0,4}").prop_map(|(v, l)| node(v, l, Vec::new()));
    leaf.prop_recursive(5, 40, 4, |inner| {
        (any::<i32>(), "[a-z]{0,4}", vec(inner, 0..4)).prop_map(|(v, l, kids)| node(v, l, kids))
    })
}

fn node(v: i32, label: String, kids: Vec<Value>) -> Value {
    Value::Struct(vec![
        ("label".into(), Value::String(label)),
        ("weight".into(), Value::Long(v)),
        ("kids".into(), Value::Sequence(kids)),
    ])
}

const TREE: &str = "module T { struct Node; typedef sequence<Node> Nodes; \
                    struct Node { string label; long weight; Nodes kids; }; };";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn recursive_values_round_trip(v in node_value()) {
        let out = front::analyze_str(TREE);
        let tc = TypeCode::from_model(&out.model, "T::Node").unwrap();
        assert_round_trips(&tc, &v);
        // Inside an any too, whose TypeCode carries an indirection.
        assert_round_trips(&TypeCode::Any, &Value::Any(Box::new(tc), Box::new(v)));
    }
}

#[test]
fn recursive_typecodes_round_trip_through_the_front_end() {
    let out = front::analyze_str(TREE);
    let tc = TypeCode::from_model(&out.model, "T::Node").unwrap();
    assert_typecode_round_trips(&tc);
    let nodes = TypeCode::from_model(&out.model, "T::Nodes").unwrap();
    // Outside its struct a recursive node has nothing to point to.
    let TypeCode::Alias { original, .. } = &nodes else {
        panic!("{nodes:?}")
    };
    let TypeCode::Sequence { element, .. } = &**original else {
        panic!("{original:?}")
    };
    assert_eq!(**element, tc);
}

// ---- a rich IDL ----------------------------------------------------------------

const RICH: &str = r#"
#pragma prefix "ithaca.test"
module Rich {
  enum Color { red, green, blue };
  struct Point { long x; long y; string label; };
  typedef sequence<Point> Points;
  typedef sequence<sequence<Points, 3> > Layers;
  typedef short Grid[2][3];
  typedef fixed<12, 4> Money;
  union Shape switch (Color) {
    case red: case green: Point corner;
    case blue: wstring<10> name;
  };
  union Tagged switch (long) {
    case 1: case 2: case -5: string text;
    case 3: any payload;
    case 4: Shape shp;
    default: Money amount;
  };
  union Flag switch (boolean) { case TRUE: char c; };
  struct Everything {
    short s; unsigned short us; long l; unsigned long ul;
    long long ll; unsigned long long ull; float f; double d; long double ld;
    boolean b; char c; wchar wc; octet o; string str; string<5> bstr; wstring wstr;
    Money cash; Color hue; Points pts; Layers lay; Grid grd;
    Shape shp; Tagged tag; Flag flg; any a; CORBA::TypeCode tc; Object obj;
    sequence<octet> blob; sequence<long, 4> few;
  };
  struct Node; typedef sequence<Node> Nodes;
  struct Node { string label; Nodes kids; };
  exception Oops { string why; Color hue; };
  interface Plotter {
    Everything roundTrip(in Everything e, inout Nodes tree, out Tagged t) raises (Oops);
  };
};
"#;

fn sv(s: &str) -> Value {
    Value::String(s.into())
}

fn point(x: i32, y: i32, label: &str) -> Value {
    Value::Struct(vec![
        ("x".into(), Value::Long(x)),
        ("y".into(), Value::Long(y)),
        ("label".into(), sv(label)),
    ])
}

fn union_of(disc: Value, member: Option<Value>) -> Value {
    Value::Union {
        discriminator: Box::new(disc),
        member: member.map(Box::new),
    }
}

fn everything(tc_value: TypeCode) -> Value {
    let fields: Vec<(&str, Value)> = vec![
        ("s", Value::Short(-3)),
        ("us", Value::UShort(3)),
        ("l", Value::Long(-70_000)),
        ("ul", Value::ULong(70_000)),
        ("ll", Value::LongLong(-1 << 40)),
        ("ull", Value::ULongLong(1 << 63)),
        ("f", Value::Float(1.25)),
        ("d", Value::Double(-2.5e100)),
        ("ld", Value::LongDouble(LongDouble([0x40; 16]))),
        ("b", Value::Boolean(true)),
        ("c", Value::Char('é')),
        ("wc", Value::WChar('€')),
        ("o", Value::Octet(0xfe)),
        ("str", sv("grüße")),
        ("bstr", sv("12345")),
        ("wstr", Value::WString("日本語 \u{1F600}".into())),
        (
            "cash",
            Value::Fixed(Fixed::parse("-12345678.0125").unwrap()),
        ),
        ("hue", Value::Enum(2)),
        (
            "pts",
            Value::Sequence(vec![point(1, 2, "a"), point(3, 4, "")]),
        ),
        (
            "lay",
            Value::Sequence(vec![
                Value::Sequence(vec![
                    Value::Sequence(vec![point(5, 6, "deep")]),
                    Value::Sequence(Vec::new()),
                ]),
                Value::Sequence(Vec::new()),
            ]),
        ),
        (
            "grd",
            Value::Array(vec![
                Value::Array(vec![Value::Short(1), Value::Short(2), Value::Short(3)]),
                Value::Array(vec![Value::Short(4), Value::Short(5), Value::Short(6)]),
            ]),
        ),
        ("shp", union_of(Value::Enum(1), Some(point(7, 8, "corner")))),
        (
            "tag",
            union_of(
                Value::Long(3),
                Some(Value::Any(
                    Box::new(TypeCode::Double),
                    Box::new(Value::Double(0.5)),
                )),
            ),
        ),
        ("flg", union_of(Value::Boolean(false), None)),
        (
            "a",
            Value::Any(
                Box::new(TypeCode::WString(0)),
                Box::new(Value::WString("any".into())),
            ),
        ),
        ("tc", Value::TypeCode(Box::new(tc_value))),
        ("obj", Value::ObjRef(Ior::default())),
        ("blob", Value::Octets(Bytes::from_static(b"\0\x01\x02"))),
        ("few", Value::Sequence(vec![Value::Long(1), Value::Long(2)])),
    ];
    Value::Struct(fields.into_iter().map(|(n, v)| (n.to_owned(), v)).collect())
}

#[test]
fn a_rich_idl_round_trips() {
    let out = front::analyze_str(RICH);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let model = &out.model;
    let everything_tc = TypeCode::from_model(model, "Rich::Everything").unwrap();
    assert_eq!(
        everything_tc.id(),
        Some("IDL:ithaca.test/Rich/Everything:1.0")
    );
    assert_typecode_round_trips(&everything_tc);
    let node_tc = TypeCode::from_model(model, "Rich::Node").unwrap();
    let value = everything(node_tc.clone());
    assert_round_trips(&everything_tc, &value);

    // Each union branch, the default included.
    let tagged = TypeCode::from_model(model, "Rich::Tagged").unwrap();
    for v in [
        union_of(Value::Long(-5), Some(sv("minus five"))),
        union_of(Value::Long(2), Some(sv("two"))),
        union_of(
            Value::Long(4),
            Some(union_of(
                Value::Enum(2),
                Some(Value::WString("named".into())),
            )),
        ),
        union_of(
            Value::Long(99),
            Some(Value::Fixed(Fixed::parse("1.5").unwrap())),
        ),
    ] {
        let expected = match &v {
            // Decoding gives fixed values at their TypeCode's scale.
            Value::Union {
                discriminator,
                member: Some(m),
            } if matches!(**m, Value::Fixed(_)) => union_of(
                (**discriminator).clone(),
                Some(Value::Fixed(Fixed {
                    negative: false,
                    digits: "15000".into(),
                    scale: 4,
                })),
            ),
            _ => v.clone(),
        };
        for version in [GiopVersion::V1_1, GiopVersion::V1_2] {
            let bytes = encode_at(&tagged, &v, ByteOrder::BigEndian, version, 4).unwrap();
            assert_eq!(
                decode_at(&tagged, bytes, ByteOrder::BigEndian, version, 4).unwrap(),
                expected
            );
        }
    }

    // The whole operation, through the generic helper.
    let op =
        ithaca_idl::dynamic::Operation::from_model(model, "Rich::Plotter", "roundTrip").unwrap();
    let tree = Value::Sequence(vec![Value::Struct(vec![
        ("label".into(), sv("root")),
        (
            "kids".into(),
            Value::Sequence(vec![Value::Struct(vec![
                ("label".into(), sv("leaf")),
                ("kids".into(), Value::Sequence(Vec::new())),
            ])]),
        ),
    ])]);
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::LittleEndian, GiopVersion::V1_2);
    op.encode_request(&[value.clone(), tree.clone()], &mut w)
        .unwrap();
    let mut r = CdrReader::new(buf.freeze(), ByteOrder::LittleEndian, GiopVersion::V1_2);
    assert_eq!(
        op.decode_request(&mut r).unwrap(),
        [value.clone(), tree.clone()]
    );
    r.finish().unwrap();
}

// ---- agreement with the hand-written marshalling ----------------------------

/// `IthacaBench::Point` and `Points` marshalled the way
/// `examples/corba-echo/src/lib.rs` does it by hand.
fn hand_points(points: &[(i32, i32, &str)], w: &mut CdrWriter<'_>) {
    w.write_length(points.len()).unwrap();
    for (x, y, label) in points {
        w.write_long(*x);
        w.write_long(*y);
        w.write_string(label).unwrap();
    }
}

#[test]
fn points_match_the_hand_written_marshalling() {
    let out = front::analyze_str(include_str!(
        "../../examples/corba-echo/omniorb/IthacaBench.idl"
    ));
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let points_tc = TypeCode::from_model(&out.model, "IthacaBench::Points").unwrap();
    let data = [(1, -1, "one"), (2, -2, ""), (i32::MAX, i32::MIN, "grüße")];
    let value = Value::Sequence(data.iter().map(|(x, y, l)| point(*x, *y, l)).collect());
    for version in VERSIONS {
        for order in ORDERS {
            for offset in [0, 4, 12] {
                let mut buf = BytesMut::new();
                hand_points(
                    &data,
                    &mut CdrWriter::new(&mut buf, order, version).with_alignment_offset(offset),
                );
                let ours = encode_at(&points_tc, &value, order, version, offset).unwrap();
                assert_eq!(ours, buf, "{version:?} {order:?} {offset}");
                assert_eq!(
                    decode_at(&points_tc, buf.freeze(), order, version, offset).unwrap(),
                    value
                );
            }
        }
    }
}
