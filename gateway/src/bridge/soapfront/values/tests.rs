use std::sync::OnceLock;

use ithaca_idl::dynamic::{Member, TypeCode, Value as IdlValue};
use ithaca_wsdl::value::{Direction, MessageCodec};
use proptest::prelude::*;

use super::*;
use crate::bridge::mapping::{IdlToWsdlOptions, idl_to_wsdl};
use crate::soap::Contract;

const IDL: &str = r#"
module T {
  enum Color { red, green, blue };
  struct Point { long x; long y; };
  typedef sequence<Point, 3> PointList;
  typedef long Grid[2][2];
  typedef string<6> Name6;
  typedef fixed<9,2> Amount;
  typedef sequence<octet, 8> Octets8;
  union Shape switch (Color) {
    case red: Point center;
    case green: string label;
    default: double size;
  };
  union Opt switch (long) { case 1: long value; };
  struct Node;
  typedef sequence<Node> Nodes;
  struct Node { string label; Nodes children; };
  struct Everything {
    short s; long l; long long ll; unsigned short us; unsigned long ul;
    unsigned long long ull; octet o; boolean b; float f; double d; long double ld;
    char c; wchar wc; string str; wstring wstr; Name6 bounded; Amount money;
    Color tint; PointList points; Grid cells; Octets8 blob; Shape outline; Opt maybe;
    any a; Object ref; Node tree;
  };
  interface I { Everything echo(in Everything e); };
};
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    contract: Contract,
    registry: TypeRegistry,
    everything: TypeCode,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.idl");
        std::fs::write(&path, IDL).unwrap();
        let mapping = idl_to_wsdl(&path, &IdlToWsdlOptions::default()).unwrap();
        let contract = Contract::from_bytes("t.wsdl", mapping.wsdl.as_bytes()).unwrap();
        let out = ithaca_idl::front::analyze_file(&path, &ithaca_idl::front::Options::default());
        assert!(!out.has_errors(), "{:?}", out.diagnostics);
        let registry = TypeRegistry::from_model(&out.model);
        let everything = TypeCode::from_model(&out.model, "T::Everything").unwrap();
        Fixture {
            _dir: dir,
            contract,
            registry,
            everything,
        }
    })
}

/// IDL value → XSD value → the response's XML bytes → XSD value → IDL
/// value, through the WSDL the mapping generated.
fn through_xml(tc: &TypeCode, value: &IdlValue) -> Result<IdlValue, String> {
    let f = fixture();
    let converter = Converter::new(&f.registry);
    let loaded = f.contract.loaded();
    let operations = loaded.definitions.operations(&loaded.schema);
    let operation = operations
        .iter()
        .find(|o| o.name == "echo" && o.soap_version == ithaca_wsdl::SoapVersion::Soap11)
        .ok_or("no echo operation")?;
    let codec = MessageCodec::new(loaded, operation);
    let xml = converter
        .to_xml(tc, value, "/_return")
        .map_err(|e| e.to_string())?;
    let bytes = codec
        .encode(
            Direction::Output,
            &XmlValue::complex([Field::unqualified("_return", xml)]),
        )
        .map_err(|e| e.to_string())?;
    let decoded = codec
        .decode(Direction::Output, &bytes, &[])
        .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&bytes)))?;
    let field = decoded.field("_return").ok_or("no _return")?;
    converter
        .to_idl(tc, field, "/_return")
        .map_err(|e| e.to_string())
}

fn text() -> impl Strategy<Value = String> {
    "[ -~¡-ÿ]{0,10}"
}

fn wide_text() -> impl Strategy<Value = String> {
    "[ -~¡-ÿΩ☺é]{0,10}"
}

/// Values of the TypeCodes of the fixture, generated generically.
fn value_of(tc: &TypeCode, depth: u32) -> BoxedStrategy<IdlValue> {
    match tc {
        TypeCode::Alias { original, .. } => value_of(original, depth),
        TypeCode::Short => any::<i16>().prop_map(IdlValue::Short).boxed(),
        TypeCode::Long => any::<i32>().prop_map(IdlValue::Long).boxed(),
        TypeCode::LongLong => any::<i64>().prop_map(IdlValue::LongLong).boxed(),
        TypeCode::UShort => any::<u16>().prop_map(IdlValue::UShort).boxed(),
        TypeCode::ULong => any::<u32>().prop_map(IdlValue::ULong).boxed(),
        TypeCode::ULongLong => any::<u64>().prop_map(IdlValue::ULongLong).boxed(),
        TypeCode::Octet => any::<u8>().prop_map(IdlValue::Octet).boxed(),
        TypeCode::Boolean => any::<bool>().prop_map(IdlValue::Boolean).boxed(),
        TypeCode::Float => (prop::num::f32::NORMAL | prop::num::f32::ZERO)
            .prop_map(IdlValue::Float)
            .boxed(),
        TypeCode::Double => (prop::num::f64::NORMAL | prop::num::f64::ZERO)
            .prop_map(IdlValue::Double)
            .boxed(),
        TypeCode::LongDouble => (prop::num::f64::NORMAL | prop::num::f64::ZERO)
            .prop_map(|d| IdlValue::LongDouble(f64_to_quad(d)))
            .boxed(),
        TypeCode::Char => prop::char::range(' ', 'ÿ')
            .prop_filter("printable", |c| !('\u{7f}'..'\u{a0}').contains(c))
            .prop_map(IdlValue::Char)
            .boxed(),
        TypeCode::WChar => prop::sample::select(vec!['a', 'Ω', '☺', 'é', ' '])
            .prop_map(IdlValue::WChar)
            .boxed(),
        TypeCode::String(0) => text().prop_map(IdlValue::String).boxed(),
        TypeCode::String(bound) => {
            let bound = usize::try_from(*bound).unwrap();
            text()
                .prop_map(move |s| IdlValue::String(s.chars().take(bound).collect()))
                .boxed()
        }
        TypeCode::WString(_) => wide_text().prop_map(IdlValue::WString).boxed(),
        TypeCode::Fixed { digits, scale } => {
            let max = 10i64.pow(u32::from(*digits)) - 1;
            let scale = u16::try_from(*scale).unwrap();
            (-max..=max)
                .prop_map(move |n| {
                    IdlValue::Fixed(Fixed {
                        negative: n < 0,
                        digits: n.unsigned_abs().to_string(),
                        scale,
                    })
                })
                .boxed()
        }
        TypeCode::Enum { members, .. } => (0..u32::try_from(members.len()).unwrap())
            .prop_map(IdlValue::Enum)
            .boxed(),
        TypeCode::Struct { members, .. } => {
            let parts: Vec<BoxedStrategy<(String, IdlValue)>> = members
                .iter()
                .map(|Member { name, ty }| {
                    let name = name.clone();
                    value_of(ty, depth + 1)
                        .prop_map(move |v| (name.clone(), v))
                        .boxed()
                })
                .collect();
            parts.prop_map(IdlValue::Struct).boxed()
        }
        TypeCode::Union {
            discriminator,
            cases,
            ..
        } => match discriminator.unalias() {
            // Shape: red, green, or blue (the default branch).
            TypeCode::Enum { .. } => {
                let branches: Vec<BoxedStrategy<IdlValue>> = (0u32..3)
                    .map(|label| {
                        let case = cases
                            .iter()
                            .find(|c| c.label == Some(IdlValue::Enum(label)))
                            .or_else(|| cases.iter().find(|c| c.label.is_none()))
                            .unwrap();
                        value_of(&case.ty, depth + 1)
                            .prop_map(move |m| IdlValue::Union {
                                discriminator: Box::new(IdlValue::Enum(label)),
                                member: Some(Box::new(m)),
                            })
                            .boxed()
                    })
                    .collect();
                prop::strategy::Union::new(branches).boxed()
            }
            // Maybe: 1 and a value, or another discriminator and none.
            _ => prop_oneof![
                any::<i32>().prop_map(|v| IdlValue::Union {
                    discriminator: Box::new(IdlValue::Long(1)),
                    member: Some(Box::new(IdlValue::Long(v))),
                }),
                any::<i32>()
                    .prop_filter("not 1", |d| *d != 1)
                    .prop_map(|d| IdlValue::Union {
                        discriminator: Box::new(IdlValue::Long(d)),
                        member: None,
                    }),
            ]
            .boxed(),
        },
        TypeCode::Sequence { element, bound } if matches!(element.unalias(), TypeCode::Octet) => {
            let max = if *bound == 0 { 16 } else { *bound as usize };
            prop::collection::vec(any::<u8>(), 0..=max)
                .prop_map(|b| IdlValue::Octets(b.into()))
                .boxed()
        }
        TypeCode::Sequence { element, bound } => {
            let max = if *bound == 0 { 3 } else { *bound as usize };
            let max = if depth > 3 { 0 } else { max };
            prop::collection::vec(value_of(element, depth + 1), 0..=max)
                .prop_map(IdlValue::Sequence)
                .boxed()
        }
        TypeCode::Array { element, length } => {
            prop::collection::vec(value_of(element, depth + 1), *length as usize)
                .prop_map(IdlValue::Array)
                .boxed()
        }
        TypeCode::Any => {
            let point = fixture()
                .registry
                .get("IDL:T/Point:1.0")
                .unwrap()
                .tc
                .clone();
            prop_oneof![
                any::<i32>().prop_map(|v| IdlValue::Any(
                    Box::new(TypeCode::Long),
                    Box::new(IdlValue::Long(v))
                )),
                text().prop_map(|s| IdlValue::Any(
                    Box::new(TypeCode::String(0)),
                    Box::new(IdlValue::String(s))
                )),
                (any::<i32>(), any::<i32>()).prop_map(move |(x, y)| IdlValue::Any(
                    Box::new(point.clone()),
                    Box::new(IdlValue::Struct(vec![
                        ("x".into(), IdlValue::Long(x)),
                        ("y".into(), IdlValue::Long(y)),
                    ]))
                )),
            ]
            .boxed()
        }
        TypeCode::ObjRef { .. } => prop_oneof![
            Just(IdlValue::ObjRef(Ior::default())),
            (1u16..=65535, "[a-z]{1,8}").prop_map(|(port, key)| IdlValue::ObjRef(
                ithaca_idl::naming::object_ior("IDL:T/I:1.0", "127.0.0.1", port, key.into_bytes())
                    .unwrap()
            )),
        ]
        .boxed(),
        TypeCode::Recursive(_) => {
            // Node's children: leaves only below here.
            text()
                .prop_map(|label| {
                    IdlValue::Struct(vec![
                        ("label".into(), IdlValue::String(label)),
                        ("children".into(), IdlValue::Sequence(Vec::new())),
                    ])
                })
                .boxed()
        }
        other => panic!("no strategy for {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn idl_to_xml_to_idl_is_the_identity(value in value_of(&fixture().everything, 0)) {
        let back = through_xml(&fixture().everything, &value);
        prop_assert_eq!(back, Ok(value));
    }
}

fn conv() -> Converter<'static> {
    Converter::new(&fixture().registry)
}

fn int(v: i64) -> XmlValue {
    XmlValue::Simple(Simple::Int(v))
}

#[test]
fn integers_out_of_range_are_refused_never_truncated() {
    let c = conv();
    let e = c
        .to_idl(&TypeCode::Long, &int(1 << 32), "/add/a")
        .unwrap_err();
    assert_eq!(e.path, "/add/a");
    assert!(e.rule.contains("out of range for IDL long"), "{e}");
    assert!(c.to_idl(&TypeCode::Octet, &int(256), "/o").is_err());
    assert!(c.to_idl(&TypeCode::UShort, &int(-1), "/o").is_err());
    assert!(
        c.to_idl(
            &TypeCode::ULongLong,
            &XmlValue::Simple(Simple::BigInt("18446744073709551616".into())),
            "/o"
        )
        .is_err()
    );
    assert_eq!(
        c.to_idl(&TypeCode::Short, &int(-32768), "/o"),
        Ok(IdlValue::Short(-32768))
    );
}

#[test]
fn bounds_lengths_and_digits_are_checked() {
    let c = conv();
    let e = c
        .to_idl(&TypeCode::String(3), &XmlValue::string("four"), "/n")
        .unwrap_err();
    assert!(e.rule.contains("exceed the bound of IDL string<3>"), "{e}");
    assert!(
        c.to_idl(&TypeCode::String(0), &XmlValue::string("a\0b"), "/n")
            .is_err()
    );
    let array = TypeCode::Array {
        element: Box::new(TypeCode::Long),
        length: 3,
    };
    let two = XmlValue::complex([
        Field::unqualified("item", int(1)),
        Field::unqualified("item", int(2)),
    ]);
    let e = c.to_idl(&array, &two, "/g").unwrap_err();
    assert!(e.rule.contains("exactly 3"), "{e}");
    let bounded = TypeCode::Sequence {
        element: Box::new(TypeCode::Long),
        bound: 1,
    };
    assert!(c.to_idl(&bounded, &two, "/s").is_err());
    let money = TypeCode::Fixed {
        digits: 5,
        scale: 2,
    };
    let dec = |s: &str| XmlValue::Simple(Simple::Decimal(s.into()));
    assert!(c.to_idl(&money, &dec("1.234"), "/m").is_err());
    assert!(c.to_idl(&money, &dec("1234"), "/m").is_err());
    assert_eq!(
        c.to_idl(&money, &dec("-123.4"), "/m"),
        Ok(IdlValue::Fixed(Fixed {
            negative: true,
            digits: "12340".into(),
            scale: 2
        }))
    );
    assert!(
        c.to_idl(&TypeCode::Char, &XmlValue::string("ab"), "/c")
            .is_err()
    );
}

#[test]
fn long_double_keeps_the_double() {
    for v in [
        0.0,
        -0.0,
        1.0,
        -2.5,
        f64::MAX,
        f64::MIN_POSITIVE,
        1e-310,
        1.234_567_890_123_4,
    ] {
        assert_eq!(quad_to_f64(f64_to_quad(v)).to_bits(), v.to_bits(), "{v}");
    }
    assert!(quad_to_f64(f64_to_quad(f64::INFINITY)).is_infinite());
    assert!(quad_to_f64(f64_to_quad(f64::NAN)).is_nan());
}

#[test]
fn base64_round_trips() {
    for bytes in [&b""[..], b"a", b"ab", b"abc", b"abcd", &[0, 255, 128, 7, 9]] {
        assert_eq!(base64_decode(&base64_encode(bytes)).as_deref(), Some(bytes));
    }
    assert_eq!(base64_encode(b"Man"), "TWFu");
    assert!(base64_decode("TW=u").is_none());
    assert!(base64_decode("abc").is_none());
}

#[test]
fn any_content_with_a_dtd_is_refused() {
    let c = conv();
    let any = XmlValue::complex([
        Field::unqualified("type", XmlValue::string("long")),
        Field::unqualified(
            "value",
            XmlValue::Raw("<!DOCTYPE v [<!ENTITY e \"1\">]><value>&e;</value>".into()),
        ),
    ]);
    assert!(c.to_idl(&TypeCode::Any, &any, "/a").is_err());
}
