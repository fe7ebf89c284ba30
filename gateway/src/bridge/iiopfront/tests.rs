//! The IIOP front's conversions, without sockets: GIOP argument values to
//! the WSDL's request message and back, for the rich test contract.

use ithaca_idl::dynamic::{TypeCode, Value};
use ithaca_idl::front::ast::ParamDir;
use ithaca_wsdl::value::{Direction, MessageCodec, Simple, Value as XmlValue};
use proptest::prelude::*;

use super::contract::BridgedContract;
use super::values::{ConvertError, Converter};

const ORDERS: &[u8] = include_bytes!("../../../tests/fixtures/bridge/iiopfront/orders.wsdl");

fn contract() -> BridgedContract {
    BridgedContract::load("orders.wsdl", ORDERS, None, None).unwrap()
}

fn wide(text: &str) -> Value {
    Value::WString(text.to_owned())
}

fn order(
    id: i64,
    priority: u32,
    lines: &[(String, i32, Vec<String>)],
    note: Option<&str>,
) -> Value {
    Value::Struct(vec![
        ("id".into(), Value::LongLong(id)),
        ("priority".into(), Value::Enum(priority)),
        (
            "line".into(),
            Value::Sequence(
                lines
                    .iter()
                    .map(|(sku, quantity, tags)| {
                        Value::Struct(vec![
                            ("sku".into(), wide(sku)),
                            ("quantity".into(), Value::Long(*quantity)),
                            (
                                "tag".into(),
                                Value::Sequence(tags.iter().map(|t| wide(t)).collect()),
                            ),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "note".into(),
            Value::Sequence(note.into_iter().map(wide).collect()),
        ),
    ])
}

/// Encodes `args` as placeOrder's request and decodes them back.
fn round_trip(args: &[Value]) -> Result<Vec<Value>, ConvertError> {
    let contract = contract();
    let op = &contract.operations["placeOrder"];
    let converter = Converter::new(&contract.loaded.schema);
    let shape = contract.shape(&op.wsdl, true)?;
    let ins: Vec<_> = op
        .idl
        .params
        .iter()
        .filter(|p| p.dir != ParamDir::Out)
        .collect();
    let members: Vec<(&str, &TypeCode, &Value)> = ins
        .iter()
        .zip(args)
        .map(|(p, v)| (p.name.as_str(), &p.ty, v))
        .collect();
    let fields = converter.fields_to_xml(shape.slots(), &members, "", 0)?;
    let codec = MessageCodec::new(&contract.loaded, &op.wsdl);
    let xml = codec
        .encode(Direction::Input, &XmlValue::complex(fields))
        .map_err(|e| ConvertError::OutOfRange {
            path: String::new(),
            message: e.to_string(),
        })?;
    let XmlValue::Complex(decoded) = codec.decode(Direction::Input, &xml, &[]).unwrap() else {
        panic!("the wrapper is element content")
    };
    let names: Vec<(&str, &TypeCode)> = ins.iter().map(|p| (p.name.as_str(), &p.ty)).collect();
    converter.fields_from_xml(shape.slots(), &names, &decoded, "", 0)
}

#[test]
fn the_contract_pairs_idl_and_wsdl_operations() {
    let contract = contract();
    assert_eq!(contract.interface, "ithaca_test_orders::Orders");
    assert_eq!(contract.repository_id, "IDL:ithaca_test_orders/Orders:1.0");
    let op = &contract.operations["placeOrder"];
    assert_eq!(op.wsdl.name, "placeOrder");
    assert_eq!(op.idl.params.len(), 4);
    assert_eq!(op.idl.exceptions.len(), 1);
    assert!(contract.idl.contains("exception OrderRejected"));
}

#[test]
fn a_value_out_of_range_for_the_xsd_type_is_refused_not_truncated() {
    let args = [
        order(1, 0, &[("a".into(), 1, vec![])], None),
        Value::Short(300),
    ];
    assert!(matches!(
        round_trip(&args),
        Err(ConvertError::OutOfRange { .. })
    ));
    let args = [
        order(1, 0, &[("a".into(), 1, vec![])], None),
        Value::Short(-128),
    ];
    assert!(round_trip(&args).is_ok());
}

#[test]
fn simple_values_out_of_the_idl_range_are_refused() {
    let contract = contract();
    let converter = Converter::new(&contract.loaded.schema);
    let int = |v: i64| XmlValue::Simple(Simple::Int(v));
    let err = converter.from_xml(&TypeCode::Short, &int(70_000), None, "/x", 0);
    assert!(
        matches!(err, Err(ConvertError::OutOfRange { .. })),
        "{err:?}"
    );
    let err = converter.from_xml(&TypeCode::ULong, &int(-1), None, "/x", 0);
    assert!(
        matches!(err, Err(ConvertError::OutOfRange { .. })),
        "{err:?}"
    );
    let big = XmlValue::Simple(Simple::BigInt("123456789012345678901234567890".into()));
    let err = converter.from_xml(&TypeCode::LongLong, &big, None, "/x", 0);
    assert!(
        matches!(err, Err(ConvertError::OutOfRange { .. })),
        "{err:?}"
    );
    let long = XmlValue::string("abcdef");
    let err = converter.from_xml(&TypeCode::WString(3), &long, None, "/x", 0);
    assert!(
        matches!(err, Err(ConvertError::OutOfRange { .. })),
        "{err:?}"
    );
    let fixed = TypeCode::Fixed {
        digits: 5,
        scale: 2,
    };
    let ok = converter.from_xml(
        &fixed,
        &XmlValue::Simple(Simple::Decimal("123.45".into())),
        None,
        "/x",
        0,
    );
    assert!(ok.is_ok(), "{ok:?}");
    let err = converter.from_xml(
        &fixed,
        &XmlValue::Simple(Simple::Decimal("1234.5".into())),
        None,
        "/x",
        0,
    );
    assert!(
        matches!(err, Err(ConvertError::OutOfRange { .. })),
        "{err:?}"
    );
    assert_eq!(
        converter.from_xml(&TypeCode::Octet, &int(255), None, "/x", 0),
        Ok(Value::Octet(255))
    );
}

#[test]
fn an_order_needs_at_least_one_line() {
    // `line` is minOccurs 1: an empty sequence does not fit the schema.
    let args = [order(1, 0, &[], None), Value::Short(1)];
    assert!(matches!(
        round_trip(&args),
        Err(ConvertError::OutOfRange { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn placeorder_arguments_round_trip_through_the_soap_message(
        id in any::<i64>(),
        priority in 0u32..3,
        lines in proptest::collection::vec(
            ("[A-Za-z0-9 -]{0,12}", any::<i32>(), proptest::collection::vec("[a-z]{1,6}", 0..3)),
            1..4,
        ),
        note in proptest::option::of("[a-z ]{0,10}"),
        level in -128i16..=127,
    ) {
        let args = [order(id, priority, &lines, note.as_deref()), Value::Short(level)];
        prop_assert_eq!(round_trip(&args).unwrap(), args.to_vec());
    }
}

/// The hosted EchoService as the IIOP front serves it.
fn echo() -> (super::SoapObjectServant, std::sync::Arc<BridgedContract>) {
    let contract = std::sync::Arc::new(
        BridgedContract::load(
            "echo.wsdl",
            ithaca_services::echo::WSDL.as_bytes(),
            None,
            None,
        )
        .unwrap(),
    );
    let backend = super::Backend::Hosted {
        router: crate::router::Router::new(),
        path: "/services/EchoService".to_owned(),
        version: ithaca_wsdl::SoapVersion::Soap11,
        timeout: std::time::Duration::from_secs(1),
    };
    (
        super::SoapObjectServant::new("Echo", contract.clone(), backend),
        contract,
    )
}

fn echo_response(result: &str) -> super::ResponseMessage {
    super::ResponseMessage::unread(bytes::Bytes::from(format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>\
         <e:echoStringResponse xmlns:e=\"urn:ithaca:bench:echo\">{result}</e:echoStringResponse>\
         </soap:Body></soap:Envelope>"
    )))
}

#[test]
fn the_echo_takes_the_one_pass_path_both_ways_and_orders_do_not() {
    let (servant, contract) = echo();
    let op = &contract.operations["echoString"];
    let converter = Converter::new(&contract.loaded.schema);
    let args = [wide("a < b & \u{e9}")];
    let body = op.simple.request_body(&converter, &args).unwrap();
    assert_eq!(
        String::from_utf8(body.clone()).unwrap(),
        "<tns:echoString xmlns:tns=\"urn:ithaca:bench:echo\"><text>a &lt; b &amp; \u{e9}</text></tns:echoString>"
    );
    // What the general path writes reads back as the same value.
    let codec = MessageCodec::new(&contract.loaded, &op.wsdl);
    assert_eq!(
        codec.decode(Direction::Input, &body, &[]).unwrap(),
        XmlValue::complex([ithaca_wsdl::value::Field::unqualified(
            "text",
            XmlValue::Simple(Simple::String("a < b & \u{e9}".into()))
        )])
    );
    assert_eq!(servant.request_body(op, &args).unwrap(), body);

    let response = echo_response("<result>x &amp; y</result>");
    let payload_start = response
        .message
        .windows(5)
        .position(|w| w == b"<e:ec")
        .unwrap();
    let payload_end = response
        .message
        .windows(8)
        .position(|w| w == b"</soap:B")
        .unwrap();
    let payload = &response.message[payload_start..payload_end];
    assert_eq!(
        op.simple
            .reply_values(&converter, &response.message, payload)
            .unwrap(),
        vec![wide("x & y")]
    );
    let orders = self::contract();
    let place = &orders.operations["placeOrder"];
    let converter = Converter::new(&orders.loaded.schema);
    assert_eq!(place.simple.request_body(&converter, &[]), None);
    assert_eq!(place.simple.reply_values(&converter, b"", b""), None);
}

#[test]
fn echo_responses_read_the_same_on_both_paths() {
    let (servant, contract) = echo();
    let op = &contract.operations["echoString"];
    for (fast, general) in [
        // A comment sends the second one down the general path.
        (
            "<result>a &lt; b</result>",
            "<result>a <!-- c -->&lt; b</result>",
        ),
        ("<result/>", "<result><!-- c --></result>"),
        ("<result> \t</result>", "<result> <!-- c -->\t</result>"),
    ] {
        let one = servant.reply_values(op, &echo_response(fast)).unwrap();
        let other = servant.reply_values(op, &echo_response(general)).unwrap();
        assert_eq!(one, other, "{fast}");
    }
    // What the general path refuses, the one-pass path leaves to it.
    for refused in [
        "<other>x</other>",
        "<result>x</result><result>y</result>",
        "",
    ] {
        assert!(
            servant.reply_values(op, &echo_response(refused)).is_err(),
            "{refused}"
        );
    }
}

const SHIPPING: &[u8] = include_bytes!("../../../tests/fixtures/bridge/iiopfront/shipping.wsdl");

fn union(branch: u32, member: Value) -> Value {
    Value::Union {
        discriminator: Box::new(Value::Enum(branch)),
        member: Some(Box::new(member)),
    }
}

/// A `Parcel`: its `group1` choice (0 pickup, 1 address) and attributes.
fn parcel(route: Value, id: i64, fragile: Option<bool>) -> Value {
    Value::Struct(vec![
        ("weight".into(), Value::Long(3)),
        ("group1".into(), route),
        ("note".into(), Value::Sequence(vec![])),
        ("id".into(), Value::LongLong(id)),
        (
            "fragile".into(),
            Value::Sequence(fragile.into_iter().map(Value::Boolean).collect()),
        ),
    ])
}

fn voucher(code: &str, amount: i32, currency: Option<&str>) -> Value {
    Value::Struct(vec![
        ("code".into(), wide(code)),
        ("amount".into(), Value::Long(amount)),
        (
            "currency".into(),
            Value::Sequence(currency.into_iter().map(wide).collect()),
        ),
    ])
}

/// Encodes ship's `in`/`inout` arguments as its request (returning the
/// bytes) and decodes them back.
fn ship_round_trip(args: &[Value]) -> Result<(String, Vec<Value>), ConvertError> {
    let contract = BridgedContract::load("shipping.wsdl", SHIPPING, None, None).unwrap();
    let op = &contract.operations["ship"];
    let converter = Converter::new(&contract.loaded.schema);
    let shape = contract.shape(&op.wsdl, true)?;
    let ins: Vec<_> = op
        .idl
        .params
        .iter()
        .filter(|p| p.dir != ParamDir::Out)
        .collect();
    let members: Vec<(&str, &TypeCode, &Value)> = ins
        .iter()
        .zip(args)
        .map(|(p, v)| (p.name.as_str(), &p.ty, v))
        .collect();
    let fields = converter.fields_to_xml(shape.slots(), &members, "", 0)?;
    let codec = MessageCodec::new(&contract.loaded, &op.wsdl);
    let xml = codec
        .encode(Direction::Input, &XmlValue::complex(fields))
        .map_err(|e| ConvertError::OutOfRange {
            path: String::new(),
            message: e.to_string(),
        })?;
    let XmlValue::Complex(decoded) = codec.decode(Direction::Input, &xml, &[]).unwrap() else {
        panic!("the wrapper is element content")
    };
    let names: Vec<(&str, &TypeCode)> = ins.iter().map(|p| (p.name.as_str(), &p.ty)).collect();
    let values = converter.fields_from_xml(shape.slots(), &names, &decoded, "", 0)?;
    Ok((String::from_utf8(xml).unwrap(), values))
}

#[test]
fn choices_are_unions_and_attributes_are_members_both_ways() {
    let address = Value::Struct(vec![
        ("street".into(), wide("1 Main St")),
        ("city".into(), wide("Oslo")),
    ]);
    for args in [
        vec![
            parcel(union(0, wide("Desk 4")), 42, Some(true)),
            union(0, wide("4111")),
        ],
        vec![
            parcel(union(1, address.clone()), 9_000_000_000, None),
            union(1, voucher("V-9", 25, Some("EUR"))),
        ],
        vec![
            parcel(union(1, address), -1, Some(false)),
            union(2, Value::Boolean(true)),
        ],
    ] {
        let (xml, back) = ship_round_trip(&args).unwrap();
        assert_eq!(back, args, "{xml}");
    }
    let (xml, _) = ship_round_trip(&[
        parcel(union(0, wide("Desk 4")), 42, Some(true)),
        union(1, voucher("V-9", 25, None)),
    ])
    .unwrap();
    // Attributes on their elements, the chosen branch only.
    assert!(xml.contains("id=\"42\""), "{xml}");
    assert!(xml.contains("fragile=\"true\""), "{xml}");
    assert!(xml.contains("amount=\"25\""), "{xml}");
    assert!(!xml.contains("currency"), "{xml}");
    assert!(xml.contains("<pickup>Desk 4</pickup>"), "{xml}");
    assert!(!xml.contains("<card>"), "{xml}");
}

#[test]
fn a_discriminator_selecting_no_branch_is_refused() {
    let args = [
        parcel(union(0, wide("Desk 4")), 42, None),
        union(9, wide("4111")),
    ];
    assert!(matches!(
        ship_round_trip(&args),
        Err(ConvertError::OutOfRange { .. })
    ));
    // Two values for an attribute that occurs once.
    let mut two = parcel(union(0, wide("Desk 4")), 42, None);
    if let Value::Struct(members) = &mut two
        && let Some((_, fragile)) = members.iter_mut().find(|(n, _)| n == "fragile")
    {
        *fragile = Value::Sequence(vec![Value::Boolean(true), Value::Boolean(false)]);
    }
    assert!(ship_round_trip(&[two, union(0, wide("4111"))]).is_err());
}

#[test]
fn operations_the_conversions_refuse_are_reported_at_load() {
    for (name, wsdl) in [("orders.wsdl", ORDERS), ("shipping.wsdl", SHIPPING)] {
        let contract = BridgedContract::load(name, wsdl, None, None).unwrap();
        assert!(
            contract.unconverted_operations().is_empty(),
            "{name}: {:?}",
            contract.unconverted_operations()
        );
    }
    let text = String::from_utf8(SHIPPING.to_vec()).unwrap();
    for (replacement, construct) in [
        (
            "<xsd:any minOccurs=\"0\" processContents=\"lax\"/>",
            "wildcards",
        ),
        (
            "<xsd:element name=\"note\" type=\"xsd:anyType\" minOccurs=\"0\"/>",
            "xs:anyType",
        ),
    ] {
        let wsdl = text.replace(
            "<xsd:element name=\"note\" type=\"xsd:string\" minOccurs=\"0\"/>",
            replacement,
        );
        let contract = BridgedContract::load("shipping.wsdl", wsdl.as_bytes(), None, None).unwrap();
        let refused = contract.unconverted_operations();
        let [(operation, error)] = refused.as_slice() else {
            panic!("{construct}: {refused:?}");
        };
        assert_eq!(operation, "ship");
        assert!(
            matches!(error, ConvertError::Unsupported { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(construct) && message.contains("/parcel"),
            "{message}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ship_arguments_round_trip_through_the_soap_message(
        pickup in proptest::option::of("[A-Za-z0-9 ]{0,12}"),
        id in any::<i64>(),
        fragile in proptest::option::of(any::<bool>()),
        payment in 0u32..3,
        code in "[A-Z0-9-]{0,8}",
        amount in any::<i32>(),
        currency in proptest::option::of("[A-Z]{3}"),
        cash in any::<bool>(),
    ) {
        let route = match pickup {
            Some(desk) => union(0, wide(&desk)),
            None => union(1, Value::Struct(vec![
                ("street".into(), wide(&code)),
                ("city".into(), wide("Oslo")),
            ])),
        };
        let payment = match payment {
            0 => union(0, wide(&code)),
            1 => union(1, voucher(&code, amount, currency.as_deref())),
            _ => union(2, Value::Boolean(cash)),
        };
        let args = vec![parcel(route, id, fragile), payment];
        prop_assert_eq!(ship_round_trip(&args).unwrap().1, args);
    }
}
