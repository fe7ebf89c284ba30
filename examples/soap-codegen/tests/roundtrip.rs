//! The generated (de)serializers are inverse to each other: any value of
//! the orders contract's types, written by the generated writer into an
//! envelope, reads back equal with the generated reader. No server is
//! involved; this is the codec property.

#![allow(clippy::unwrap_used)]

use ithaca_soap_codegen_example::orders;
use ithaca_wsdl::typed::{Base64Binary, DateTime, Decimal, read_body, to_element};
use ithaca_wsdl::{EnvelopeWriter, Limits, SoapVersion};
use proptest::prelude::*;

/// Text with what needs escaping: markup characters, quotes, tabs, line
/// feeds and carriage returns (written as `&#xD;` so they survive).
fn text() -> impl Strategy<Value = String> {
    "[ -~\u{e9}\u{263a}\t\n\r<>&\"']{0,12}"
}

fn line() -> impl Strategy<Value = orders::Line> {
    (
        any::<u16>(),
        text(),
        any::<i32>(),
        0u32..100_000,
        proptest::option::of(text()),
    )
        .prop_map(|(line_no, sku, quantity, cents, note)| orders::Line {
            line_no,
            sku,
            quantity,
            unit_price: Decimal(format!("{}.{:02}", cents / 100, cents % 100)),
            note,
        })
}

fn category() -> impl Strategy<Value = orders::Category> {
    let leaf = text().prop_map(|name| orders::Category { name, parent: None });
    leaf.prop_recursive(4, 8, 1, |inner| {
        (text(), inner).prop_map(|(name, parent)| orders::Category {
            name,
            parent: Some(Box::new(parent)),
        })
    })
}

fn choice() -> impl Strategy<Value = orders::PlaceOrderChoice> {
    prop_oneof![
        (text(), text()).prop_map(|(number, holder)| orders::PlaceOrderChoice::Card(
            orders::Card { number, holder }
        )),
        text().prop_map(orders::PlaceOrderChoice::Iban),
        proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(|b| orders::PlaceOrderChoice::Voucher(Base64Binary(b))),
    ]
}

fn status() -> impl Strategy<Value = orders::Status> {
    prop_oneof![
        Just(orders::Status::Pending),
        Just(orders::Status::Shipped),
        Just(orders::Status::OnHold)
    ]
}

fn order() -> impl Strategy<Value = orders::PlaceOrder> {
    (
        any::<i64>(),
        (
            any::<i32>(),
            text(),
            proptest::option::of(text()),
            text(),
            text(),
        ),
        proptest::collection::vec(line(), 1..4),
        choice(),
        status(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(category()),
        -1e9f64..1e9,
        proptest::collection::vec(text(), 0..=3),
    )
        .prop_map(
            |(
                order_id,
                (id, name, email, street, city),
                line,
                choice,
                status,
                express,
                category,
                weight,
                tag,
            )| {
                orders::PlaceOrder {
                    order_id,
                    placed: DateTime("2026-11-24T03:00:00Z".into()),
                    customer: orders::Customer {
                        id,
                        name,
                        email,
                        address: orders::Address {
                            kind: None,
                            street,
                            city,
                            postal_code: None,
                        },
                    },
                    line,
                    choice,
                    status,
                    express,
                    category,
                    weight,
                    tag,
                }
            },
        )
}

proptest! {
    #[test]
    fn orders_round_trip_through_the_generated_codec(order in order()) {
        let body = to_element(&order, "urn:ithaca:example:orders", "placeOrder");
        for version in [SoapVersion::Soap11, SoapVersion::Soap12] {
            let envelope = EnvelopeWriter::new(version).to_vec(&body).unwrap();
            let back: orders::PlaceOrder = read_body(&envelope, &Limits::DEFAULT).unwrap();
            prop_assert_eq!(&back, &order);
        }
    }
}

#[test]
fn a_message_written_by_hand_decodes() {
    // Default and prefixed namespaces, a nil note, a collapsed decimal,
    // -INF, base64 and nested recursion, as another stack might write them.
    let message = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><o:placeOrder xmlns:o="urn:ithaca:example:orders" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><o:orderId>7</o:orderId><o:placed>2026-11-24T03:00:00Z</o:placed><customer xmlns="urn:ithaca:example:orders" id=" 42 "><name>Ada</name><address kind="home"><street>s</street><city>Ithaca</city></address></customer><o:line lineNo="1"><o:sku>pen</o:sku><o:quantity>2</o:quantity><o:unitPrice> 2.50 </o:unitPrice><o:note xsi:nil="true"/></o:line><o:voucher>AAEC/w==</o:voucher><o:status>on-hold</o:status><o:category><o:name>a</o:name><o:parent><o:name>b</o:name></o:parent></o:category><o:weight>-INF</o:weight><o:tag>x</o:tag></o:placeOrder></s:Body></s:Envelope>"#;
    let order: orders::PlaceOrder = read_body(message.as_bytes(), &Limits::DEFAULT).unwrap();
    assert_eq!(order.customer.id, 42);
    assert_eq!(order.customer.address.kind.as_deref(), Some("home"));
    assert_eq!(order.line[0].unit_price, Decimal("2.50".into()));
    assert_eq!(order.line[0].note, None);
    assert_eq!(
        order.choice,
        orders::PlaceOrderChoice::Voucher(Base64Binary(vec![0, 1, 2, 255]))
    );
    assert_eq!(order.status, orders::Status::OnHold);
    assert_eq!(order.weight, f64::NEG_INFINITY);
    let parent = order.category.unwrap().parent.unwrap();
    assert_eq!(parent.name, "b");

    // A second payment, an unknown element and a wrong enumeration value
    // are refused with the element named.
    for (bad, expected) in [
        (
            message.replace("<o:status>", "<o:iban>x</o:iban><o:status>"),
            "unexpected element o:iban in o:placeOrder",
        ),
        (
            message.replace("<o:tag>x</o:tag>", "<o:extra/>"),
            "unexpected element o:extra in o:placeOrder",
        ),
        (
            message.replace("on-hold", "lost"),
            r#"o:status: value "lost" is not a valid Status"#,
        ),
    ] {
        let error = read_body::<orders::PlaceOrder>(bad.as_bytes(), &Limits::DEFAULT).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
}
