//! Valuetypes and value boxes on the wire (GIOP 1.2 / CORBA 3.0 value
//! encoding): TypeCodes built from IDL (inheritance, truncatable bases,
//! recursion), byte-exact encodings checked by hand (boxes, shared values,
//! cycles, repeated repository ids, truncatable chunked values), chunked
//! streams other ORBs send (chunk boundaries between primitives, nested
//! values, multi-level end tags, codebase URLs), truncation to the formal
//! type, refusal of malformed input, and property tests over generated
//! value types and graphs with sharing and cycles.

#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use ithaca_idl::cdr::{ByteOrder, CdrReader, CdrWriter};
use ithaca_idl::dynamic::{self, DecodeLimits, TypeCode, Value, ValueMember};
use ithaca_idl::{Error, GiopVersion, front};
use proptest::collection::vec;
use proptest::prelude::*;

const IDL: &str = r#"
module M {
  valuetype Name string;
  valuetype Node { public long n; public Node next; };
  struct Pair { Node a; Node b; };
  valuetype Base { public long a; private string tag; };
  valuetype Derived : truncatable Base { public string s; public Node link; };
  valuetype Plain : Base { public double d; };
  custom valuetype Odd { public long x; };
  abstract valuetype Shape { };
  valuetype Circle : Shape { public double r; };
  interface Store {
    Node keep(in Node a, in Node b);
    Base keepBase(in Base b);
    Shape keepShape(in Shape s);
  };
};
"#;

fn model() -> front::model::Model {
    let out = front::analyze_str(IDL);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    out.model
}

fn tc(name: &str) -> TypeCode {
    TypeCode::from_model(&model(), name).unwrap()
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn field(name: &str, v: Value) -> (String, Value) {
    (name.to_owned(), v)
}

fn node(n: i32, next: Value) -> Value {
    Value::Valuetype(Some(vec![field("n", Value::Long(n)), field("next", next)]))
}

fn null() -> Value {
    Value::Valuetype(None)
}

fn enc(tc: &TypeCode, v: &Value, order: ByteOrder) -> Vec<u8> {
    let mut buf = BytesMut::new();
    dynamic::encode(
        tc,
        v,
        &mut CdrWriter::new(&mut buf, order, GiopVersion::V1_2),
    )
    .unwrap();
    buf.to_vec()
}

fn dec(tc: &TypeCode, bytes: &[u8], order: ByteOrder) -> ithaca_idl::Result<Value> {
    let mut r = CdrReader::new(Bytes::copy_from_slice(bytes), order, GiopVersion::V1_2);
    let v = dynamic::decode(tc, &mut r)?;
    r.finish()?;
    Ok(v)
}

fn be(tc: &TypeCode, v: &Value) -> Vec<u8> {
    let bytes = enc(tc, v, ByteOrder::BigEndian);
    assert_eq!(&dec(tc, &bytes, ByteOrder::BigEndian).unwrap(), v);
    bytes
}

/// Concatenated big-endian words and raw bytes, for hand-built streams.
#[derive(Default)]
struct Stream(Vec<u8>);

impl Stream {
    fn long(mut self, x: u32) -> Self {
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0xee); // padding is never checked: not zero here
        }
        self.0.extend_from_slice(&x.to_be_bytes());
        self
    }
    fn string(self, text: &str) -> Self {
        let mut me = self.long(u32::try_from(text.len() + 1).unwrap());
        me.0.extend_from_slice(text.as_bytes());
        me.0.push(0);
        me
    }
    fn bytes(self) -> Vec<u8> {
        self.0
    }
}

// ---- the type model -----------------------------------------------------------

#[test]
fn typecodes_from_idl_carry_modifiers_bases_visibility_and_recursion() {
    let TypeCode::Value {
        id,
        modifier,
        base,
        members,
        ..
    } = tc("M::Derived")
    else {
        panic!("not a value")
    };
    assert_eq!(id, "IDL:M/Derived:1.0");
    assert_eq!(modifier, 3, "truncatable");
    let TypeCode::Value {
        id: base_id,
        modifier: base_modifier,
        members: base_members,
        ..
    } = *base
    else {
        panic!("no concrete base")
    };
    assert_eq!((base_id.as_str(), base_modifier), ("IDL:M/Base:1.0", 0));
    let visibility: Vec<(&str, i16)> = base_members
        .iter()
        .map(|m| (m.name.as_str(), m.visibility))
        .collect();
    assert_eq!(visibility, [("a", 1), ("tag", 0)]);
    assert_eq!(members.len(), 2);
    let TypeCode::Value { members, .. } = tc("M::Node") else {
        panic!()
    };
    assert_eq!(
        members[1].ty,
        TypeCode::Recursive(s("IDL:M/Node:1.0")),
        "a value with a member of its own type"
    );
    assert!(matches!(tc("M::Odd"), TypeCode::Value { modifier: 1, .. }));
    assert!(matches!(
        tc("M::Shape"),
        TypeCode::Value { modifier: 2, .. }
    ));
    assert!(matches!(tc("M::Name"), TypeCode::ValueBox { .. }));
    // The TypeCodes survive their own wire form (tk_value, tk_value_box).
    for name in ["M::Derived", "M::Node", "M::Name", "M::Pair", "M::Plain"] {
        let t = tc(name);
        let mut buf = BytesMut::new();
        t.write(&mut CdrWriter::new(
            &mut buf,
            ByteOrder::LittleEndian,
            GiopVersion::V1_2,
        ))
        .unwrap();
        let mut r = CdrReader::new(buf.freeze(), ByteOrder::LittleEndian, GiopVersion::V1_2);
        assert_eq!(TypeCode::read(&mut r).unwrap(), t, "{name}");
    }
}

// ---- byte-exact encodings -----------------------------------------------------

#[test]
fn a_value_box_is_a_tag_its_id_and_the_boxed_value() {
    let name = tc("M::Name");
    let bytes = be(
        &name,
        &Value::ValueBox(Some(Box::new(Value::String(s("ab"))))),
    );
    // Tag with one repository id, the id (15 octets with its NUL), one
    // octet of padding, the string.
    assert_eq!(&bytes[..8], [0x7f, 0xff, 0xff, 0x02, 0, 0, 0, 15]);
    assert_eq!(&bytes[8..23], b"IDL:M/Name:1.0\0");
    assert_eq!(&bytes[24..], [0, 0, 0, 3, b'a', b'b', 0]);
    assert_eq!(be(&name, &Value::ValueBox(None)), [0, 0, 0, 0]);
}

#[test]
fn a_shared_value_is_sent_once_then_as_an_indirection() {
    let pair = tc("M::Pair");
    let v = Value::Struct(vec![
        field("a", node(7, null())),
        field("b", Value::ValueRef(0)),
    ]);
    let bytes = be(&pair, &v);
    let want = Stream::default()
        .long(0x7fff_ff02)
        .string("IDL:M/Node:1.0")
        .long(7)
        .long(0)
        .long(0xffff_ffff)
        .long((-36i32) as u32) // from the offset field at 36 back to the tag at 0
        .bytes();
    assert_eq!(strip_padding(&bytes), strip_padding(&want));
    assert_eq!(bytes.len(), 40);
}

#[test]
fn a_cycle_points_back_at_the_value_being_marshalled() {
    let node_tc = tc("M::Node");
    let v = node(1, Value::ValueRef(0));
    let bytes = be(&node_tc, &v);
    assert_eq!(
        &bytes[28..],
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe0]
    );
}

#[test]
fn a_repeated_repository_id_is_an_indirection_to_its_first_copy() {
    let pair = tc("M::Pair");
    let v = Value::Struct(vec![
        field("a", node(1, null())),
        field("b", node(2, null())),
    ]);
    let bytes = be(&pair, &v);
    assert_eq!(bytes.len(), 52);
    // Second value: its tag at 32, then the id as an indirection from the
    // offset field at 40 back to the first id's length at 4.
    assert_eq!(
        &bytes[32..44],
        [
            0x7f, 0xff, 0xff, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xdc
        ]
    );
}

#[test]
fn a_truncatable_value_is_chunked_and_lists_its_truncatable_bases() {
    let derived = tc("M::Derived");
    let v = Value::Valuetype(Some(vec![
        field("a", Value::Long(1)),
        field("tag", Value::String(s("t"))),
        field("s", Value::String(s("x"))),
        field("link", null()),
    ]));
    let bytes = be(&derived, &v);
    let want = Stream::default()
        .long(0x7fff_ff0e) // chunked, list of ids
        .long(2)
        .string("IDL:M/Derived:1.0")
        .string("IDL:M/Base:1.0")
        .long(4 + 6 + 2 + 6 + 2 + 4) // one chunk: a, tag, pad, s, pad, null link
        .long(1)
        .string("t")
        .string("x")
        .long(0)
        .long(0xffff_ffff) // end tag, nesting level 1
        .bytes();
    assert_eq!(strip_padding(&bytes), strip_padding(&want));
    // A receiver that only knows Base truncates it.
    let base = dec(&tc("M::Base"), &bytes, ByteOrder::BigEndian).unwrap();
    assert_eq!(
        base,
        Value::Valuetype(Some(vec![
            field("a", Value::Long(1)),
            field("tag", Value::String(s("t"))),
        ]))
    );
    // A receiver expecting Node has no factory for it.
    assert_eq!(
        dec(&tc("M::Node"), &bytes, ByteOrder::BigEndian),
        Err(Error::Unsupported(dynamic::NO_VALUE_FACTORY))
    );
}

/// Padding bytes differ (the hand-built streams pad with 0xee); compare
/// with them zeroed.
fn strip_padding(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .map(|b| if *b == 0xee { 0 } else { *b })
        .collect()
}

// ---- chunked streams as other ORBs send them ------------------------------------

fn outer_tc() -> TypeCode {
    let inner = TypeCode::Value {
        id: s("IDL:M/Inner:1.0"),
        name: s("Inner"),
        modifier: 0,
        base: Box::new(TypeCode::Null),
        members: vec![ValueMember {
            name: s("c"),
            ty: TypeCode::Long,
            visibility: 1,
        }],
    };
    TypeCode::Value {
        id: s("IDL:M/Outer:1.0"),
        name: s("Outer"),
        modifier: 0,
        base: Box::new(TypeCode::Null),
        members: vec![
            ValueMember {
                name: s("a"),
                ty: TypeCode::Long,
                visibility: 1,
            },
            ValueMember {
                name: s("b"),
                ty: TypeCode::String(0),
                visibility: 1,
            },
            ValueMember {
                name: s("in"),
                ty: inner,
                visibility: 1,
            },
        ],
    }
}

fn outer_value() -> Value {
    Value::Valuetype(Some(vec![
        field("a", Value::Long(5)),
        field("b", Value::String(s("hi"))),
        field(
            "in",
            Value::Valuetype(Some(vec![field("c", Value::Long(9))])),
        ),
    ]))
}

#[test]
fn chunks_may_end_between_primitives_and_one_end_tag_may_close_two_values() {
    let bytes = Stream::default()
        .long(0x7fff_ff0b) // chunked, one id, codebase URL
        .string("http://example.invalid/never-fetched")
        .string("IDL:M/Outer:1.0")
        .long(4)
        .long(5)
        .long(7)
        .string("hi")
        .long(0x7fff_ff0a)
        .string("IDL:M/Inner:1.0")
        .long(4)
        .long(9)
        .long(0xffff_ffff) // Outer's end tag (-1) closes Inner too
        .bytes();
    assert_eq!(
        dec(&outer_tc(), &bytes, ByteOrder::BigEndian).unwrap(),
        outer_value()
    );
}

#[test]
fn chunked_values_written_here_read_back_with_separate_end_tags() {
    // Outer is not truncatable; make it so to force chunking.
    let TypeCode::Value {
        id,
        name,
        base,
        members,
        ..
    } = outer_tc()
    else {
        panic!()
    };
    let outer = TypeCode::Value {
        id,
        name,
        modifier: 3,
        base,
        members,
    };
    for order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
        let bytes = enc(&outer, &outer_value(), order);
        assert_eq!(dec(&outer, &bytes, order).unwrap(), outer_value());
        // The nested value is chunked too and ends with end tag -2, then
        // the outer one with -1.
        let tail: [u8; 8] = bytes[bytes.len() - 8..].try_into().unwrap();
        let want = match order {
            ByteOrder::BigEndian => [0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff],
            ByteOrder::LittleEndian => [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        };
        assert_eq!(tail, want);
    }
}

#[test]
fn a_truncated_value_skips_nested_values_of_the_derived_state() {
    // Derived : truncatable Base, with a nested Node in the derived part,
    // read as Base.
    let derived = tc("M::Derived");
    let v = Value::Valuetype(Some(vec![
        field("a", Value::Long(3)),
        field("tag", Value::String(s("t"))),
        field("s", Value::String(s("x"))),
        field("link", node(4, node(5, null()))),
    ]));
    let bytes = be(&derived, &v);
    let pair = TypeCode::Struct {
        id: s("IDL:P:1.0"),
        name: s("P"),
        members: vec![
            ithaca_idl::dynamic::Member::new("v", tc("M::Base")),
            ithaca_idl::dynamic::Member::new("after", TypeCode::Long),
        ],
    };
    let mut stream = bytes.clone();
    while !stream.len().is_multiple_of(4) {
        stream.push(0);
    }
    stream.extend_from_slice(&42u32.to_be_bytes());
    let got = dec(&pair, &stream, ByteOrder::BigEndian).unwrap();
    assert_eq!(
        got,
        Value::Struct(vec![
            field(
                "v",
                Value::Valuetype(Some(vec![
                    field("a", Value::Long(3)),
                    field("tag", Value::String(s("t"))),
                ]))
            ),
            field("after", Value::Long(42)),
        ])
    );
}

#[test]
fn arguments_of_one_body_share_values() {
    let model = model();
    let op = dynamic::Operation::from_model(&model, "M::Store", "keep").unwrap();
    let shared = node(1, Value::ValueRef(0));
    let args = [shared.clone(), Value::ValueRef(0)];
    let mut buf = BytesMut::new();
    op.encode_request(
        &args,
        &mut CdrWriter::new(&mut buf, ByteOrder::LittleEndian, GiopVersion::V1_2),
    )
    .unwrap();
    let mut r = CdrReader::new(buf.freeze(), ByteOrder::LittleEndian, GiopVersion::V1_2);
    assert_eq!(op.decode_request(&mut r).unwrap(), args);
    r.finish().unwrap();
}

/// Encodes `args` as the request of `op` and decodes it back.
fn request_round_trip(op: &dynamic::Operation, args: &[Value]) -> (Vec<u8>, Vec<Value>) {
    let mut buf = BytesMut::new();
    op.encode_request(
        args,
        &mut CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2),
    )
    .unwrap();
    let bytes = buf.to_vec();
    let mut r = CdrReader::new(
        Bytes::from(bytes.clone()),
        ByteOrder::BigEndian,
        GiopVersion::V1_2,
    );
    let back = op.decode_request(&mut r).unwrap();
    r.finish().unwrap();
    (bytes, back)
}

#[test]
fn values_of_derived_types_travel_as_what_they_are() {
    let model = model();
    let keep_base = dynamic::Operation::from_model(&model, "M::Store", "keepBase").unwrap();
    // The operation knows the contract's types derived from Base.
    assert!(keep_base.factories.get("IDL:M/Plain:1.0").is_some());
    assert!(keep_base.factories.get("IDL:M/Derived:1.0").is_some());
    assert!(keep_base.factories.get("IDL:M/Circle:1.0").is_none());
    let plain = Value::DerivedValuetype {
        id: s("IDL:M/Plain:1.0"),
        members: vec![
            field("a", Value::Long(1)),
            field("tag", Value::String(s("t"))),
            field("d", Value::Double(0.5)),
        ],
    };
    let (bytes, back) = request_round_trip(&keep_base, std::slice::from_ref(&plain));
    assert_eq!(back, [plain]);
    // Not truncatable: one repository id, unchunked.
    assert_eq!(&bytes[..4], [0x7f, 0xff, 0xff, 0x02]);
    assert_eq!(&bytes[8..23], b"IDL:M/Plain:1.0");
    // Without factories it cannot be read.
    assert_eq!(
        dec(&tc("M::Base"), &bytes, ByteOrder::BigEndian),
        Err(Error::Unsupported(dynamic::NO_VALUE_FACTORY))
    );
    let derived = Value::DerivedValuetype {
        id: s("IDL:M/Derived:1.0"),
        members: vec![
            field("a", Value::Long(2)),
            field("tag", Value::String(s("u"))),
            field("s", Value::String(s("x"))),
            field("link", node(1, Value::ValueRef(1))),
        ],
    };
    let (bytes, back) = request_round_trip(&keep_base, std::slice::from_ref(&derived));
    assert_eq!(back, [derived]);
    // Truncatable: chunked, with Base's id listed; without factories it is
    // truncated to Base.
    assert_eq!(&bytes[..4], [0x7f, 0xff, 0xff, 0x0e]);
    assert_eq!(
        dec(&tc("M::Base"), &bytes, ByteOrder::BigEndian).unwrap(),
        Value::Valuetype(Some(vec![
            field("a", Value::Long(2)),
            field("tag", Value::String(s("u"))),
        ]))
    );
    // An abstract formal type takes any concrete type derived from it.
    let keep_shape = dynamic::Operation::from_model(&model, "M::Store", "keepShape").unwrap();
    let circle = Value::DerivedValuetype {
        id: s("IDL:M/Circle:1.0"),
        members: vec![field("r", Value::Double(2.0))],
    };
    assert_eq!(
        request_round_trip(&keep_shape, std::slice::from_ref(&circle)).1,
        [circle]
    );
    // A type that does not derive from the formal one is refused.
    let stray = Value::DerivedValuetype {
        id: s("IDL:M/Circle:1.0"),
        members: vec![field("r", Value::Double(2.0))],
    };
    let mut buf = BytesMut::new();
    assert!(matches!(
        keep_base.encode_request(
            &[stray],
            &mut CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2)
        ),
        Err(Error::TypeMismatch(_))
    ));
}

// ---- what omniORB 4.2.5 sends ----------------------------------------------------

/// Decodes hex (whitespace ignored).
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn vals_idl_types() -> (TypeCode, TypeCode) {
    let idl = "module Vals { valuetype Base { public long a; }; \
               valuetype Derived : truncatable Base { public string s; }; };";
    let model = front::analyze_str(idl).model;
    (
        TypeCode::from_model(&model, "Vals::Base").unwrap(),
        TypeCode::from_model(&model, "Vals::Derived").unwrap(),
    )
}

#[test]
fn omniorb_sends_a_derived_value_chunked_with_its_truncatable_ids() {
    // The argument of `Base echoBase(in Base b)` as omniORB 4.2.5 sent it
    // for a Vals::Derived {a = 3, s = "lost"} (from examples/corba-echo/
    // omniorb/Values.idl, -ORBtraceLevel 40; little-endian, the value
    // 8-aligned in the message): chunked, two ids, one 13-octet chunk,
    // garbage in the padding ("dd"), end tag -1.
    let bytes = hex("0eff ff7f 0200 0000 1500 0000 4944 4c3a 5661 6c73 2f44 6572
                     6976 6564 3a31 2e30 0000 0000 1200 0000 4944 4c3a 5661 6c73
                     2f42 6173 653a 312e 3000 0000 0d00 0000 0300 0000 0500 0000
                     6c6f 7374 0064 6400 ffff ffff");
    let (base, derived) = vals_idl_types();
    assert_eq!(
        dec(&base, &bytes, ByteOrder::LittleEndian).unwrap(),
        Value::Valuetype(Some(vec![field("a", Value::Long(3))])),
        "truncated to the formal type"
    );
    assert_eq!(
        dec(&derived, &bytes, ByteOrder::LittleEndian).unwrap(),
        Value::Valuetype(Some(vec![
            field("a", Value::Long(3)),
            field("s", Value::String(s("lost"))),
        ]))
    );
}

#[test]
fn omniorb_sends_a_value_of_the_formal_type_without_ids_or_chunks() {
    // The argument of `Derived echoDerived(in Derived d)` for
    // {a = 4, s = "kept"}: tag 0x7fffff00, then the state.
    let bytes = hex("00ff ff7f 0400 0000 0500 0000 6b65 7074 00");
    let (_, derived) = vals_idl_types();
    assert_eq!(
        dec(&derived, &bytes, ByteOrder::LittleEndian).unwrap(),
        Value::Valuetype(Some(vec![
            field("a", Value::Long(4)),
            field("s", Value::String(s("kept"))),
        ]))
    );
}

// ---- malformed input ------------------------------------------------------------

fn refused(tc: &TypeCode, bytes: &[u8]) -> Error {
    dec(tc, bytes, ByteOrder::BigEndian).expect_err("malformed input was accepted")
}

#[test]
fn indirections_only_point_back_at_value_starts() {
    let node_tc = tc("M::Node");
    let head = Stream::default()
        .long(0x7fff_ff02)
        .string("IDL:M/Node:1.0")
        .long(1);
    // Forward, onto itself, before the stream, and onto a non-start.
    for offset in [8i32, 0, -4, -1000, -28] {
        let bytes = Stream(head.0.clone())
            .long(0xffff_ffff)
            .long(offset as u32)
            .bytes();
        refused(&node_tc, &bytes);
    }
    // Onto the start of a value box where a valuetype is expected.
    let mixed = TypeCode::Struct {
        id: s("IDL:X:1.0"),
        name: s("X"),
        members: vec![
            ithaca_idl::dynamic::Member::new("name", tc("M::Name")),
            ithaca_idl::dynamic::Member::new("node", node_tc),
        ],
    };
    let bytes = Stream::default()
        .long(0x7fff_ff00)
        .string("n")
        .long(0xffff_ffff)
        .long((-16i32) as u32)
        .bytes();
    assert!(matches!(refused(&mixed, &bytes), Error::TypeMismatch(_)));
}

#[test]
fn chunks_end_tags_and_tags_are_checked() {
    let outer = outer_tc();
    let start = || {
        Stream::default()
            .long(0x7fff_ff0a)
            .string("IDL:M/Outer:1.0")
    };
    // A chunk longer than the input.
    refused(&outer, &start().long(1000).long(5).bytes());
    // A primitive crossing the end of its chunk.
    refused(&outer, &start().long(2).long(5).bytes());
    // An end tag deeper than the value.
    refused(
        &outer,
        &start()
            .long(11)
            .long(5)
            .string("hi")
            .long(0x7fff_ff08)
            .long(4)
            .long(9)
            .long((-3i32) as u32)
            .bytes(),
    );
    // An unchunked value inside chunked state.
    refused(
        &outer,
        &start()
            .long(11)
            .long(5)
            .string("hi")
            .long(0x7fff_ff00)
            .long(9)
            .bytes(),
    );
    // State continuing after an end tag closed the value.
    refused(&outer, &start().long(4).long(5).long(0xffff_ffff).bytes());
    // Tags out of range and type information bits 4.
    refused(&outer, &Stream::default().long(0x7fff_fe00).bytes());
    refused(&outer, &Stream::default().long(0x7fff_ff04).bytes());
    // Custom marshalling is not supported, and says so.
    let odd = tc("M::Odd");
    let bytes = Stream::default()
        .long(0x7fff_ff0a)
        .string("IDL:M/Odd:1.0")
        .long(4)
        .long(1)
        .long(0xffff_ffff)
        .bytes();
    assert!(matches!(refused(&odd, &bytes), Error::Unsupported(_)));
}

#[test]
fn deep_nesting_is_bounded() {
    let node_tc = tc("M::Node");
    let mut s = Stream::default();
    for _ in 0..500 {
        s = s.long(0x7fff_ff00).long(1);
    }
    let bytes = s.long(0).bytes();
    assert!(matches!(
        refused(&node_tc, &bytes),
        Error::DepthLimitExceeded(_)
    ));
    // Chunked, too.
    let mut s = Stream::default();
    for _ in 0..500 {
        s = s.long(0x7fff_ff08).long(4).long(1);
    }
    assert!(matches!(
        refused(&node_tc, &s.bytes()),
        Error::DepthLimitExceeded(_)
    ));
}

#[test]
fn huge_id_lists_allocate_nothing() {
    let bytes = Stream::default()
        .long(0x7fff_ff06)
        .long(0x4000_0000)
        .bytes();
    refused(&tc("M::Node"), &bytes);
}

// ---- property tests -------------------------------------------------------------

/// A member type of generated value types.
fn member_tc() -> impl Strategy<Value = TypeCode> {
    prop_oneof![
        Just(TypeCode::Long),
        Just(TypeCode::Octet),
        Just(TypeCode::Double),
        Just(TypeCode::Boolean),
        Just(TypeCode::String(0)),
        Just(TypeCode::Sequence {
            element: Box::new(TypeCode::Short),
            bound: 0
        }),
        Just(TypeCode::Sequence {
            element: Box::new(TypeCode::Octet),
            bound: 0
        }),
        Just(TypeCode::ValueBox {
            id: s("IDL:G/Box:1.0"),
            name: s("Box"),
            boxed: Box::new(TypeCode::Long),
        }),
    ]
}

/// A generated value type: a base (truncatable or not) and a derived type
/// with a recursive `next` member and plain members.
fn value_type() -> impl Strategy<Value = TypeCode> {
    (
        vec(member_tc(), 0..3),
        vec(member_tc(), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(base_members, members, truncatable, has_base)| {
            let to_members = |types: Vec<TypeCode>, prefix: &str| -> Vec<ValueMember> {
                types
                    .into_iter()
                    .enumerate()
                    .map(|(i, ty)| ValueMember {
                        name: format!("{prefix}{i}"),
                        ty,
                        visibility: i16::from(i % 2 == 0),
                    })
                    .collect()
            };
            let base = if has_base {
                TypeCode::Value {
                    id: s("IDL:G/Base:1.0"),
                    name: s("Base"),
                    modifier: 0,
                    base: Box::new(TypeCode::Null),
                    members: to_members(base_members, "b"),
                }
            } else {
                TypeCode::Null
            };
            let mut members = to_members(members, "m");
            members.push(ValueMember {
                name: s("next"),
                ty: TypeCode::Recursive(s("IDL:G/V:1.0")),
                visibility: 1,
            });
            TypeCode::Value {
                id: s("IDL:G/V:1.0"),
                name: s("V"),
                modifier: if truncatable && has_base { 3 } else { 0 },
                base: Box::new(base),
                members,
            }
        })
}

/// The members of `tc`, bases' first.
fn all_members(tc: &TypeCode) -> Vec<ValueMember> {
    match tc {
        TypeCode::Value { base, members, .. } => {
            let mut out = all_members(base);
            out.extend(members.iter().cloned());
            out
        }
        _ => Vec::new(),
    }
}

/// Deterministic member values from generated numbers, with box values
/// null, fresh or shared.
fn member_value(ty: &TypeCode, seed: u32, boxes: &mut Vec<u32>, count: &mut u32) -> Value {
    match ty {
        TypeCode::Long => Value::Long(seed as i32),
        TypeCode::Octet => Value::Octet(seed as u8),
        TypeCode::Double => Value::Double(f64::from(seed) / 3.0),
        TypeCode::Boolean => Value::Boolean(seed.is_multiple_of(2)),
        TypeCode::String(_) => Value::String("x".repeat((seed % 5) as usize)),
        TypeCode::Sequence { element, .. } if **element == TypeCode::Octet => {
            Value::Octets(Bytes::from(vec![seed as u8; (seed % 4) as usize]))
        }
        TypeCode::Sequence { .. } => {
            Value::Sequence((0..seed % 3).map(|i| Value::Short(i as i16)).collect())
        }
        TypeCode::ValueBox { .. } => match seed % 3 {
            0 => Value::ValueBox(None),
            1 if !boxes.is_empty() => Value::ValueRef(boxes[(seed as usize / 3) % boxes.len()]),
            _ => {
                boxes.push(*count);
                *count += 1;
                Value::ValueBox(Some(Box::new(Value::Long(seed as i32))))
            }
        },
        other => panic!("no generator for {other:?}"),
    }
}

/// A graph of values of `tc` built from generated numbers: each `next` is
/// null, a fresh value, or a reference to any value started before it
/// (an ancestor: a cycle; an earlier sibling: sharing).
fn graph(tc: &TypeCode, seeds: &[u32]) -> Value {
    fn build(
        members: &[ValueMember],
        seeds: &mut std::slice::Iter<'_, u32>,
        values: &mut Vec<u32>,
        boxes: &mut Vec<u32>,
        count: &mut u32,
        depth: u32,
    ) -> Value {
        values.push(*count);
        *count += 1;
        let mut fields = Vec::new();
        for m in members {
            let seed = seeds.next().copied().unwrap_or(0);
            let v = if m.name == "next" {
                match seed % 4 {
                    0 => Value::Valuetype(None),
                    1 | 2 if depth < 6 => build(members, seeds, values, boxes, count, depth + 1),
                    _ => Value::ValueRef(values[(seed as usize / 4) % values.len()]),
                }
            } else {
                member_value(&m.ty, seed, boxes, count)
            };
            fields.push((m.name.clone(), v));
        }
        Value::Valuetype(Some(fields))
    }
    let members = all_members(tc);
    let mut it = seeds.iter();
    let mut count = 0;
    build(
        &members,
        &mut it,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut count,
        0,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// decode(encode(v)) == v for generated value types and graphs with
    /// sharing and cycles, in both byte orders and at every alignment
    /// origin, alone and as several arguments of one body.
    #[test]
    fn values_round_trip(
        tc in value_type(),
        seeds in vec(any::<u32>(), 1..40),
        more in vec(any::<u32>(), 1..20),
        offset in 0usize..8,
        little in any::<bool>(),
    ) {
        let order = if little { ByteOrder::LittleEndian } else { ByteOrder::BigEndian };
        let v = graph(&tc, &seeds);
        let mut buf = BytesMut::new();
        let mut w = CdrWriter::new(&mut buf, order, GiopVersion::V1_2).with_alignment_offset(offset);
        dynamic::encode(&tc, &v, &mut w).unwrap();
        let mut r = CdrReader::new(buf.freeze(), order, GiopVersion::V1_2).with_alignment_offset(offset);
        prop_assert_eq!(&dynamic::decode(&tc, &mut r).unwrap(), &v);
        prop_assert_eq!(r.remaining(), 0);

        // Two arguments in one scope: the second may point into the first.
        let second = match more[0] % 3 {
            0 => Value::ValueRef(more[0] % 2),
            1 => Value::Valuetype(None),
            _ => graph(&tc, &more),
        };
        let second = match (&second, &v) {
            // A reference to value 1 needs the first graph to have two values.
            (Value::ValueRef(1), _) if format!("{v:?}").matches("Valuetype(Some").count() < 2 => Value::ValueRef(0),
            _ => second,
        };
        let mut buf = BytesMut::new();
        let mut w = CdrWriter::new(&mut buf, order, GiopVersion::V1_2).with_alignment_offset(offset);
        let items = [(&tc, &v), (&tc, &second)];
        if dynamic::encode_many(&items, &mut w).is_ok() {
            let mut r = CdrReader::new(buf.freeze(), order, GiopVersion::V1_2).with_alignment_offset(offset);
            let back = dynamic::decode_many(&[&tc, &tc], &mut r, DecodeLimits::default()).unwrap();
            prop_assert_eq!(back, vec![v, second]);
        }
    }

    /// Valid encodings with a few octets changed (tags, chunk sizes,
    /// offsets, end tags hit at random) are refused or read, never a
    /// panic or a hang; what is read encodes back and reads the same.
    #[test]
    fn mutated_encodings_are_refused_or_read(
        tc in value_type(),
        seeds in vec(any::<u32>(), 1..40),
        edits in vec((any::<usize>(), any::<u8>()), 1..4),
        little in any::<bool>(),
    ) {
        let order = if little { ByteOrder::LittleEndian } else { ByteOrder::BigEndian };
        let mut bytes = enc(&tc, &graph(&tc, &seeds), order);
        for (at, octet) in edits {
            let len = bytes.len();
            if let Some(b) = bytes.get_mut(at % len.max(1)) {
                *b = octet;
            }
        }
        if let Ok(v) = dec(&tc, &bytes, order) {
            prop_assume!(!format!("{v:?}").contains("NaN"));
            let again = enc(&tc, &v, order);
            prop_assert_eq!(dec(&tc, &again, order).unwrap(), v);
        }
    }

    /// Arbitrary bytes never panic the value decoder, and what it accepts
    /// encodes back to something it reads the same.
    #[test]
    fn arbitrary_bytes_are_refused_or_read(tc in value_type(), bytes in vec(any::<u8>(), 0..200)) {
        let mut r = CdrReader::new(Bytes::from(bytes), ByteOrder::BigEndian, GiopVersion::V1_2);
        if let Ok(v) = dynamic::decode(&tc, &mut r).map_err(|e| e.to_string()) {
            prop_assume!(!format!("{v:?}").contains("NaN"));
            let again = enc(&tc, &v, ByteOrder::BigEndian);
            prop_assert_eq!(dec(&tc, &again, ByteOrder::BigEndian).unwrap(), v);
        }
    }
}
