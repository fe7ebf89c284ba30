//! Unit tests of the dynamic codec, kind by kind.

use bytes::{Bytes, BytesMut};

use super::*;
use crate::GiopVersion;
use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::error::Error;
use crate::front;

fn enc(tc: &TypeCode, v: &Value) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode(
        tc,
        v,
        &mut CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2),
    )
    .unwrap();
    buf.to_vec()
}

fn dec(tc: &TypeCode, bytes: &[u8]) -> crate::Result<Value> {
    let mut r = CdrReader::new(
        Bytes::copy_from_slice(bytes),
        ByteOrder::BigEndian,
        GiopVersion::V1_2,
    );
    let v = decode(tc, &mut r)?;
    r.finish()?;
    Ok(v)
}

fn round_trip(tc: &TypeCode, v: &Value) -> Vec<u8> {
    let bytes = enc(tc, v);
    assert_eq!(&dec(tc, &bytes).unwrap(), v);
    bytes
}

fn tc_bytes(tc: &TypeCode) -> Vec<u8> {
    let mut buf = BytesMut::new();
    tc.write(&mut CdrWriter::new(
        &mut buf,
        ByteOrder::BigEndian,
        GiopVersion::V1_2,
    ))
    .unwrap();
    buf.to_vec()
}

fn tc_read(bytes: &[u8]) -> crate::Result<TypeCode> {
    let mut r = CdrReader::new(
        Bytes::copy_from_slice(bytes),
        ByteOrder::BigEndian,
        GiopVersion::V1_2,
    );
    let tc = TypeCode::read(&mut r)?;
    r.finish()?;
    Ok(tc)
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn point_tc() -> TypeCode {
    TypeCode::Struct {
        id: s("IDL:IthacaBench/Point:1.0"),
        name: s("Point"),
        members: vec![
            Member::new("x", TypeCode::Long),
            Member::new("y", TypeCode::Long),
            Member::new("label", TypeCode::String(0)),
        ],
    }
}

fn color_tc() -> TypeCode {
    TypeCode::Enum {
        id: s("IDL:Color:1.0"),
        name: s("Color"),
        members: vec![s("red"), s("green"), s("blue")],
    }
}

fn node_tc() -> TypeCode {
    TypeCode::Struct {
        id: s("IDL:Node:1.0"),
        name: s("Node"),
        members: vec![
            Member::new("v", TypeCode::Long),
            Member::new(
                "kids",
                TypeCode::Sequence {
                    element: Box::new(TypeCode::Recursive(s("IDL:Node:1.0"))),
                    bound: 0,
                },
            ),
        ],
    }
}

#[test]
fn primitives_encode_as_cdr() {
    assert_eq!(round_trip(&TypeCode::Long, &Value::Long(-1)), [0xff; 4]);
    assert_eq!(
        round_trip(&TypeCode::UShort, &Value::UShort(0x0102)),
        [1, 2]
    );
    assert_eq!(round_trip(&TypeCode::Boolean, &Value::Boolean(true)), [1]);
    assert_eq!(
        round_trip(&TypeCode::String(0), &Value::String(s("hi"))),
        [0, 0, 0, 3, b'h', b'i', 0]
    );
    assert_eq!(round_trip(&TypeCode::Void, &Value::Null), [0u8; 0]);
    round_trip(&TypeCode::Double, &Value::Double(1.5));
    round_trip(&TypeCode::WChar, &Value::WChar('é'));
    round_trip(&TypeCode::WString(0), &Value::WString(s("grüße")));
    round_trip(&TypeCode::ULongLong, &Value::ULongLong(u64::MAX));
    round_trip(
        &TypeCode::LongDouble,
        &Value::LongDouble(crate::cdr::LongDouble([7; 16])),
    );
}

#[test]
fn a_struct_is_its_members_in_order() {
    let v = Value::Struct(vec![
        (s("x"), Value::Long(1)),
        (s("y"), Value::Long(2)),
        (s("label"), Value::String(s("a"))),
    ]);
    assert_eq!(
        round_trip(&point_tc(), &v),
        [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, b'a', 0]
    );
    // Wrong names, counts and kinds are refused.
    let wrong = Value::Struct(vec![
        (s("x"), Value::Long(1)),
        (s("z"), Value::Long(2)),
        (s("label"), Value::String(s("a"))),
    ]);
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    assert!(matches!(
        encode(&point_tc(), &wrong, &mut w),
        Err(Error::TypeMismatch(_))
    ));
    assert!(matches!(
        encode(&point_tc(), &Value::Long(1), &mut w),
        Err(Error::TypeMismatch(_))
    ));
}

#[test]
fn enums_are_checked_both_ways() {
    assert_eq!(round_trip(&color_tc(), &Value::Enum(2)), [0, 0, 0, 2]);
    assert!(matches!(
        dec(&color_tc(), &[0, 0, 0, 3]),
        Err(Error::InvalidEnum { value: 3, .. })
    ));
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    assert!(encode(&color_tc(), &Value::Enum(3), &mut w).is_err());
}

fn shape_tc() -> TypeCode {
    // union Shape switch (Color) { case red: case green: long a; case blue: string b; };
    TypeCode::Union {
        id: s("IDL:Shape:1.0"),
        name: s("Shape"),
        discriminator: Box::new(color_tc()),
        cases: vec![
            UnionCase {
                label: Some(Value::Enum(0)),
                name: s("a"),
                ty: TypeCode::Long,
            },
            UnionCase {
                label: Some(Value::Enum(1)),
                name: s("a"),
                ty: TypeCode::Long,
            },
            UnionCase {
                label: Some(Value::Enum(2)),
                name: s("b"),
                ty: TypeCode::String(0),
            },
        ],
    }
}

fn number_tc() -> TypeCode {
    // union Number switch (short) { case 1: long l; default: double d; };
    TypeCode::Union {
        id: s("IDL:Number:1.0"),
        name: s("Number"),
        discriminator: Box::new(TypeCode::Short),
        cases: vec![
            UnionCase {
                label: Some(Value::Short(1)),
                name: s("l"),
                ty: TypeCode::Long,
            },
            UnionCase {
                label: None,
                name: s("d"),
                ty: TypeCode::Double,
            },
        ],
    }
}

fn union_value(disc: Value, member: Option<Value>) -> Value {
    Value::Union {
        discriminator: Box::new(disc),
        member: member.map(Box::new),
    }
}

#[test]
fn unions_select_by_label_then_default() {
    assert_eq!(
        round_trip(
            &shape_tc(),
            &union_value(Value::Enum(1), Some(Value::Long(7)))
        ),
        [0, 0, 0, 1, 0, 0, 0, 7]
    );
    round_trip(
        &shape_tc(),
        &union_value(Value::Enum(2), Some(Value::String(s("x")))),
    );
    round_trip(
        &number_tc(),
        &union_value(Value::Short(1), Some(Value::Long(3))),
    );
    assert_eq!(
        round_trip(
            &number_tc(),
            &union_value(Value::Short(9), Some(Value::Double(0.5)))
        )
        .len(),
        16
    );
    // An invalid discriminator (an enum out of range) is an error.
    assert!(dec(&shape_tc(), &[0, 0, 0, 9, 0, 0, 0, 1]).is_err());
    // A union without default whose discriminator matches no label has no member.
    let no_default = TypeCode::Union {
        id: s("IDL:U:1.0"),
        name: s("U"),
        discriminator: Box::new(TypeCode::Long),
        cases: vec![UnionCase {
            label: Some(Value::Long(1)),
            name: s("x"),
            ty: TypeCode::Long,
        }],
    };
    assert_eq!(
        round_trip(&no_default, &union_value(Value::Long(5), None)),
        [0, 0, 0, 5]
    );
    // A member that the discriminator does not call for is refused.
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    assert!(
        encode(
            &no_default,
            &union_value(Value::Long(5), Some(Value::Long(1))),
            &mut w
        )
        .is_err()
    );
    assert!(encode(&no_default, &union_value(Value::Long(1), None), &mut w).is_err());
    assert!(
        encode(
            &no_default,
            &union_value(Value::Short(1), Some(Value::Long(1))),
            &mut w
        )
        .is_err()
    );
}

#[test]
fn bounds_are_checked_both_ways() {
    let bounded = TypeCode::String(3);
    round_trip(&bounded, &Value::String(s("abc")));
    assert!(matches!(
        dec(&bounded, &[0, 0, 0, 5, b'a', b'b', b'c', b'd', 0]),
        Err(Error::LimitExceeded { .. })
    ));
    let seq = TypeCode::Sequence {
        element: Box::new(TypeCode::Long),
        bound: 1,
    };
    round_trip(&seq, &Value::Sequence(vec![Value::Long(1)]));
    assert!(matches!(
        dec(&seq, &[0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]),
        Err(Error::LimitExceeded { .. })
    ));
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    assert!(
        encode(
            &seq,
            &Value::Sequence(vec![Value::Long(1), Value::Long(2)]),
            &mut w
        )
        .is_err()
    );
    let arr = TypeCode::Array {
        element: Box::new(TypeCode::Short),
        length: 2,
    };
    round_trip(&arr, &Value::Array(vec![Value::Short(1), Value::Short(2)]));
    assert!(encode(&arr, &Value::Array(vec![Value::Short(1)]), &mut w).is_err());
}

#[test]
fn octet_sequences_are_bytes() {
    let tc = TypeCode::Sequence {
        element: Box::new(TypeCode::Octet),
        bound: 0,
    };
    let v = Value::Octets(Bytes::from_static(b"abc"));
    assert_eq!(round_trip(&tc, &v), [0, 0, 0, 3, b'a', b'b', b'c']);
    // Element by element is accepted too.
    assert_eq!(
        enc(&tc, &Value::Sequence(vec![Value::Octet(b'a')])),
        [0, 0, 0, 1, b'a']
    );
}

#[test]
fn lengths_beyond_the_input_allocate_nothing() {
    let seq = TypeCode::Sequence {
        element: Box::new(TypeCode::Long),
        bound: 0,
    };
    assert!(matches!(
        dec(&seq, &[0xff, 0xff, 0xff, 0xff]),
        Err(Error::LengthExceedsInput { .. })
    ));
    // A huge array of zero-sized elements is stopped by the value budget.
    let empty = TypeCode::Struct {
        id: s("IDL:E:1.0"),
        name: s("E"),
        members: Vec::new(),
    };
    let arr = TypeCode::Array {
        element: Box::new(empty),
        length: u32::MAX,
    };
    assert!(matches!(dec(&arr, &[]), Err(Error::LimitExceeded { .. })));
}

#[test]
fn fixed_is_packed_decimal() {
    let tc = TypeCode::Fixed {
        digits: 5,
        scale: 2,
    };
    let v = Value::Fixed(Fixed::parse("123.45").unwrap());
    assert_eq!(round_trip(&tc, &v), [0x12, 0x34, 0x5c]);
    let tc4 = TypeCode::Fixed {
        digits: 4,
        scale: 2,
    };
    let neg = Value::Fixed(Fixed::parse("-12.3").unwrap());
    assert_eq!(enc(&tc4, &neg), [0x01, 0x23, 0x0d]);
    assert_eq!(
        dec(&tc4, &[0x01, 0x23, 0x0d]).unwrap(),
        Value::Fixed(Fixed::parse("-12.30").unwrap())
    );
    assert_eq!(Fixed::parse("-12.30").unwrap().to_string(), "-12.30");
    assert_eq!(Fixed::parse("0.05").unwrap().to_string(), "0.05");
    assert_eq!(Fixed::parse("-0").unwrap(), Fixed::parse("0").unwrap());
    // Too many digits, or digits lost to the scale, are refused.
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    assert!(encode(&tc4, &Value::Fixed(Fixed::parse("123.4").unwrap()), &mut w).is_err());
    assert!(encode(&tc4, &Value::Fixed(Fixed::parse("1.234").unwrap()), &mut w).is_err());
    // Bad nibbles are errors.
    assert!(dec(&tc, &[0x1a, 0x34, 0x5c]).is_err());
    assert!(dec(&tc, &[0x12, 0x34, 0x51]).is_err());
    assert!(Fixed::parse("1.2.3").is_none());
    assert!(Fixed::parse("").is_none());
}

#[test]
fn simple_typecodes_have_their_wire_form() {
    assert_eq!(tc_bytes(&TypeCode::Long), [0, 0, 0, 3]);
    assert_eq!(tc_bytes(&TypeCode::String(5)), [0, 0, 0, 18, 0, 0, 0, 5]);
    assert_eq!(
        tc_bytes(&TypeCode::Fixed {
            digits: 5,
            scale: 2
        }),
        [0, 0, 0, 28, 0, 5, 0, 2]
    );
    let seq = TypeCode::Sequence {
        element: Box::new(TypeCode::Long),
        bound: 0,
    };
    assert_eq!(
        tc_bytes(&seq),
        // tk_sequence, encapsulation of 12 bytes: BE, pad, tk_long, bound 0.
        [0, 0, 0, 19, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0]
    );
}

#[test]
fn complex_typecodes_round_trip_on_the_wire() {
    for tc in [
        point_tc(),
        color_tc(),
        shape_tc(),
        number_tc(),
        node_tc(),
        TypeCode::Alias {
            id: s("IDL:Points:1.0"),
            name: s("Points"),
            original: Box::new(TypeCode::Sequence {
                element: Box::new(point_tc()),
                bound: 0,
            }),
        },
        TypeCode::ObjRef {
            id: s("IDL:Bank/Account:1.0"),
            name: s("Account"),
        },
        TypeCode::Except {
            id: s("IDL:Bank/Insufficient:1.0"),
            name: s("Insufficient"),
            members: vec![Member::new("shortfall", TypeCode::Long)],
        },
        TypeCode::ValueBox {
            id: s("IDL:Name:1.0"),
            name: s("Name"),
            boxed: Box::new(TypeCode::String(0)),
        },
        TypeCode::Value {
            id: s("IDL:V:1.0"),
            name: s("V"),
            modifier: 0,
            base: Box::new(TypeCode::Null),
            members: vec![ValueMember {
                name: s("next"),
                ty: TypeCode::Recursive(s("IDL:V:1.0")),
                visibility: 1,
            }],
        },
    ] {
        for order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            for offset in 0..8 {
                let mut buf = BytesMut::new();
                let mut w = CdrWriter::new(&mut buf, order, GiopVersion::V1_2)
                    .with_alignment_offset(offset);
                w.write_octet(9);
                tc.write(&mut w).unwrap();
                let mut r = CdrReader::new(buf.freeze(), order, GiopVersion::V1_2)
                    .with_alignment_offset(offset);
                r.read_octet().unwrap();
                assert_eq!(TypeCode::read(&mut r).unwrap(), tc);
                r.finish().unwrap();
            }
        }
    }
}

#[test]
fn recursion_is_an_indirection_to_the_enclosing_typecode() {
    let bytes = tc_bytes(&node_tc());
    let at = bytes
        .windows(4)
        .position(|w| w == [0xff; 4])
        .expect("an indirection");
    let offset = i32::from_be_bytes(bytes[at + 4..at + 8].try_into().unwrap());
    // The offset counts from the offset field and lands on the struct's TCKind.
    assert_eq!(i64::try_from(at + 4).unwrap() + i64::from(offset), 0);
    // A recursive node with no enclosing type cannot be written.
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    assert!(TypeCode::Recursive(s("IDL:X:1.0")).write(&mut w).is_err());
    // Values of the recursive type nest.
    let leaf = |v| {
        Value::Struct(vec![
            (s("v"), Value::Long(v)),
            (s("kids"), Value::Sequence(Vec::new())),
        ])
    };
    let tree = Value::Struct(vec![
        (s("v"), Value::Long(1)),
        (s("kids"), Value::Sequence(vec![leaf(2), leaf(3)])),
    ]);
    round_trip(&node_tc(), &tree);
}

#[test]
fn indirections_to_earlier_typecodes_are_expanded() {
    // struct S { P a; P b; } with b's TypeCode an indirection to a's.
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    w.write_ulong(15);
    w.write_encapsulation(|e| {
        e.write_string("IDL:S:1.0")?;
        e.write_string("S")?;
        e.write_ulong(2);
        e.write_string("a")?;
        e.align(4);
        let a_at = e.alignment_position();
        point_tc().write(e)?;
        e.write_string("b")?;
        e.align(4);
        e.write_ulong(0xffff_ffff);
        let here = e.alignment_position();
        e.write_long(i32::try_from(a_at).unwrap() - i32::try_from(here).unwrap());
        Ok(())
    })
    .unwrap();
    let tc = tc_read(&buf).unwrap();
    let TypeCode::Struct { members, .. } = tc else {
        panic!("a struct")
    };
    assert_eq!(members[0].ty, point_tc());
    assert_eq!(members[1].ty, point_tc());
}

#[test]
fn malformed_typecodes_are_errors() {
    // Unknown kind, forward and self indirections, truncated encapsulations.
    assert!(matches!(
        tc_read(&[0, 0, 0, 99]),
        Err(Error::InvalidEnum { .. })
    ));
    assert!(tc_read(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 8]).is_err());
    assert!(tc_read(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc]).is_err());
    assert!(tc_read(&[0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0]).is_err());
    assert!(tc_read(&[0, 0, 0, 15, 0, 0, 0, 100, 0]).is_err());
    assert!(tc_read(&[0, 0, 0, 28, 0, 40, 0, 2]).is_err());
    // A union with a float discriminator.
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    w.write_ulong(16);
    w.write_encapsulation(|e| {
        e.write_string("IDL:U:1.0")?;
        e.write_string("U")?;
        e.write_ulong(6);
        e.write_long(-1);
        e.write_ulong(0);
        Ok(())
    })
    .unwrap();
    assert!(matches!(tc_read(&buf), Err(Error::InvalidTypeCode(_))));
    // Sequences of sequences of ... nest too deep.
    let mut deep = TypeCode::Long;
    for _ in 0..100 {
        deep = TypeCode::Sequence {
            element: Box::new(deep),
            bound: 0,
        };
    }
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    assert!(deep.write(&mut w).is_err());
}

#[test]
fn nested_anys_hit_the_depth_limit() {
    // An any holding an any holding an any ...: 4 bytes a level.
    let bytes: Vec<u8> = std::iter::repeat_n([0u8, 0, 0, 11], 1000)
        .flatten()
        .collect();
    assert!(matches!(
        dec(&TypeCode::Any, &bytes),
        Err(Error::DepthLimitExceeded(_))
    ));
}

#[test]
fn anys_and_typecodes_carry_their_type() {
    let v = Value::Any(
        Box::new(point_tc()),
        Box::new(Value::Struct(vec![
            (s("x"), Value::Long(1)),
            (s("y"), Value::Long(2)),
            (s("label"), Value::String(s("p"))),
        ])),
    );
    round_trip(&TypeCode::Any, &v);
    round_trip(&TypeCode::TypeCode, &Value::TypeCode(Box::new(node_tc())));
    let bytes =
        encode_any_encapsulation(&TypeCode::Short, &Value::Short(5), ByteOrder::LittleEndian)
            .unwrap();
    assert_eq!(
        decode_any_encapsulation(&bytes).unwrap(),
        Value::Any(Box::new(TypeCode::Short), Box::new(Value::Short(5)))
    );
}

#[test]
fn exceptions_start_with_their_repository_id() {
    let tc = TypeCode::Except {
        id: s("IDL:Bank/Insufficient:1.0"),
        name: s("Insufficient"),
        members: vec![Member::new("shortfall", TypeCode::Long)],
    };
    let v = Value::Struct(vec![(s("shortfall"), Value::Long(5))]);
    let bytes = round_trip(&tc, &v);
    assert_eq!(&bytes[4..29], b"IDL:Bank/Insufficient:1.0");
}

#[test]
fn object_references_and_valuetypes() {
    let tc = TypeCode::ObjRef {
        id: s("IDL:Bank/Account:1.0"),
        name: s("Account"),
    };
    round_trip(&tc, &Value::ObjRef(crate::ior::Ior::default()));
    let boxed = TypeCode::ValueBox {
        id: s("IDL:Name:1.0"),
        name: s("Name"),
        boxed: Box::new(TypeCode::String(0)),
    };
    assert_eq!(round_trip(&boxed, &Value::ValueBox(None)), [0, 0, 0, 0]);
    round_trip(
        &boxed,
        &Value::ValueBox(Some(Box::new(Value::String(s("n"))))),
    );
    let list = TypeCode::Value {
        id: s("IDL:V:1.0"),
        name: s("V"),
        modifier: 0,
        base: Box::new(TypeCode::Null),
        members: vec![
            ValueMember {
                name: s("n"),
                ty: TypeCode::Long,
                visibility: 1,
            },
            ValueMember {
                name: s("next"),
                ty: TypeCode::Recursive(s("IDL:V:1.0")),
                visibility: 1,
            },
        ],
    };
    let v = Value::Valuetype(Some(vec![
        (s("n"), Value::Long(1)),
        (
            s("next"),
            Value::Valuetype(Some(vec![
                (s("n"), Value::Long(2)),
                (s("next"), Value::Valuetype(None)),
            ])),
        ),
    ]));
    round_trip(&list, &v);
    // A chunked value cut short after its tag is refused.
    assert!(matches!(
        dec(&list, &[0x7f, 0xff, 0xff, 0x0a]),
        Err(Error::UnexpectedEnd { .. })
    ));
}

#[test]
fn wide_characters_need_giop_1_1() {
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_0);
    assert!(encode(&TypeCode::WString(0), &Value::WString(s("x")), &mut w).is_err());
}

const RICH: &str = r#"
module Rich {
  enum Color { red, green, blue };
  struct Point { long x; long y; };
  typedef sequence<Point> Points;
  typedef sequence<Points, 4> PointGrid;
  typedef long Matrix[2][3];
  typedef fixed<9, 3> Money;
  union Shape switch (Color) {
    case red: case green: Point corner;
    case blue: wstring<8> name;
  };
  union Tagged switch (long) {
    case 1: case 2: string text;
    case 3: any payload;
    default: Money amount;
  };
  struct Node;
  typedef sequence<Node> Nodes;
  struct Node { string label; Nodes kids; };
  exception Oops { string why; Color hue; };
  interface Plotter {
    attribute Color pen;
    readonly attribute long count;
    Shape draw(in Shape s, inout Points path, out Matrix m) raises (Oops);
    oneway void reset();
  };
};
"#;

#[test]
fn typecodes_from_the_model() {
    let out = front::analyze_str(RICH);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let tagged = TypeCode::from_model(&out.model, "Rich::Tagged").unwrap();
    let TypeCode::Union { cases, .. } = &tagged else {
        panic!("{tagged:?}")
    };
    let labels: Vec<_> = cases
        .iter()
        .map(|c| (c.label.clone(), c.name.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            (Some(Value::Long(1)), "text"),
            (Some(Value::Long(2)), "text"),
            (Some(Value::Long(3)), "payload"),
            (None, "amount"),
        ]
    );
    let node = TypeCode::from_model(&out.model, "Rich::Node").unwrap();
    let TypeCode::Struct { members, .. } = &node else {
        panic!("{node:?}")
    };
    assert_eq!(
        members[1].ty.unalias(),
        &TypeCode::Sequence {
            element: Box::new(TypeCode::Recursive(s("IDL:Rich/Node:1.0"))),
            bound: 0
        }
    );
    let matrix = TypeCode::from_model(&out.model, "Rich::Matrix").unwrap();
    assert_eq!(
        matrix.unalias(),
        &TypeCode::Array {
            element: Box::new(TypeCode::Array {
                element: Box::new(TypeCode::Long),
                length: 3
            }),
            length: 2
        }
    );
    assert!(TypeCode::from_model(&out.model, "Rich::Nope").is_err());
    assert!(TypeCode::from_model(&out.model, "Rich").is_err());
    // Every TypeCode survives the wire.
    for name in [
        "Rich::Color",
        "Rich::Points",
        "Rich::PointGrid",
        "Rich::Shape",
        "Rich::Tagged",
        "Rich::Node",
        "Rich::Oops",
        "Rich::Plotter",
    ] {
        let tc = TypeCode::from_model(&out.model, name).unwrap();
        assert_eq!(tc_read(&tc_bytes(&tc)).unwrap(), tc, "{name}");
    }
}

#[test]
fn operations_read_and_write_bodies() {
    let out = front::analyze_str(RICH);
    let op = Operation::from_model(&out.model, "Rich::Plotter", "draw").unwrap();
    let shape = union_value(Value::Enum(2), Some(Value::WString(s("circle"))));
    let path = Value::Sequence(vec![Value::Struct(vec![
        (s("x"), Value::Long(1)),
        (s("y"), Value::Long(2)),
    ])]);
    let row = || Value::Array(vec![Value::Long(1), Value::Long(2), Value::Long(3)]);
    let matrix = Value::Array(vec![row(), row()]);
    // Client request -> server.
    let mut buf = BytesMut::new();
    op.encode_request(
        &[shape.clone(), path.clone()],
        &mut CdrWriter::new(&mut buf, ByteOrder::LittleEndian, GiopVersion::V1_1),
    )
    .unwrap();
    let mut r = CdrReader::new(buf.freeze(), ByteOrder::LittleEndian, GiopVersion::V1_1);
    assert_eq!(
        op.decode_request(&mut r).unwrap(),
        [shape.clone(), path.clone()]
    );
    // Server reply -> client.
    let mut buf = BytesMut::new();
    op.encode_reply(
        &shape,
        &[path.clone(), matrix.clone()],
        &mut CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2),
    )
    .unwrap();
    let mut r = CdrReader::new(buf.freeze(), ByteOrder::BigEndian, GiopVersion::V1_2);
    let reply = op.decode_reply(&mut r).unwrap();
    assert_eq!(reply.result, shape);
    assert_eq!(reply.out, [path, matrix]);
    // User exceptions.
    let oops = UserException {
        id: s("IDL:Rich/Oops:1.0"),
        members: Value::Struct(vec![
            (s("why"), Value::String(s("ink"))),
            (s("hue"), Value::Enum(0)),
        ]),
    };
    let mut buf = BytesMut::new();
    op.encode_exception(
        &oops,
        &mut CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2),
    )
    .unwrap();
    let mut r = CdrReader::new(buf.freeze(), ByteOrder::BigEndian, GiopVersion::V1_2);
    assert_eq!(op.decode_exception(&mut r).unwrap(), oops);
    // Wrong argument counts and undeclared exceptions are refused.
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    assert!(op.encode_request(&[shape], &mut w).is_err());
    let other = UserException {
        id: s("IDL:Other:1.0"),
        members: Value::Struct(Vec::new()),
    };
    assert!(op.encode_exception(&other, &mut w).is_err());
    // Attributes and the whole interface.
    let get = Operation::from_model(&out.model, "Rich::Plotter", "_get_pen").unwrap();
    assert_eq!(get.result.kind(), 17);
    let set = Operation::from_model(&out.model, "Rich::Plotter", "_set_pen").unwrap();
    assert_eq!(set.params.len(), 1);
    assert!(Operation::from_model(&out.model, "Rich::Plotter", "_set_count").is_err());
    let all = Operation::all_from_model(&out.model, "Rich::Plotter").unwrap();
    let names: Vec<_> = all.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["draw", "reset", "_get_pen", "_set_pen", "_get_count"]
    );
    assert!(all[1].oneway);
}

/// A struct of two members of the previous struct, the second an
/// indirection to the first: each level doubles the expanded size.
fn doubling(e: &mut CdrWriter<'_>, level: u32) -> crate::Result<()> {
    if level == 0 {
        e.write_ulong(3);
        return Ok(());
    }
    e.write_ulong(15);
    e.write_encapsulation(|e| {
        e.write_string(&format!("IDL:S{level}:1.0"))?;
        e.write_string("S")?;
        e.write_ulong(2);
        e.write_string("a")?;
        e.align(4);
        let a_at = e.alignment_position();
        doubling(e, level - 1)?;
        e.write_string("b")?;
        e.align(4);
        e.write_ulong(0xffff_ffff);
        let here = e.alignment_position();
        e.write_long(i32::try_from(a_at).unwrap() - i32::try_from(here).unwrap());
        Ok(())
    })
}

#[test]
fn indirection_bombs_hit_the_node_limit() {
    let mut buf = BytesMut::new();
    doubling(
        &mut CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2),
        40,
    )
    .unwrap();
    assert!(buf.len() < 4000, "{}", buf.len());
    // Either the expansion or the copies kept for indirections run out.
    let err = tc_read(&buf).unwrap_err();
    assert!(
        matches!(err, Error::LimitExceeded { .. } | Error::InvalidTypeCode(_)),
        "{err}"
    );
    // A few levels are fine.
    let mut buf = BytesMut::new();
    doubling(
        &mut CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2),
        4,
    )
    .unwrap();
    let tc = tc_read(&buf).unwrap();
    assert_eq!(tc.node_count(usize::MAX), Some(31));
}

#[test]
fn invalid_fixed_values_display_without_panicking() {
    let odd = Fixed {
        negative: false,
        digits: "1é".into(),
        scale: 1,
    };
    assert_eq!(odd.to_string(), "1ée-1");
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
    let tc = TypeCode::Fixed {
        digits: 4,
        scale: 1,
    };
    assert!(encode(&tc, &Value::Fixed(odd), &mut w).is_err());
}

#[test]
fn values_stay_small() {
    // The value budget is counted in nodes; keep a node within 64 bytes.
    assert!(
        std::mem::size_of::<Value>() <= 64,
        "{}",
        std::mem::size_of::<Value>()
    );
}
