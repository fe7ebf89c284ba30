//! Tests of the wire codec: every message in both WS-TX versions and both
//! SOAP versions, hand-written messages in other toolkits' styles, bad
//! input, the encode∘decode identity as a property, and (corpus tier) the
//! official schemas' verdict on everything Ithaca writes.

use ithaca_wsdl::{Limits, ReadError, SoapVersion};
use proptest::prelude::*;

use super::*;
use crate::engine::Protocol;

fn decode_default(xml: &[u8]) -> Result<Message, WireError> {
    decode(xml, None, &Limits::default(), &WireLimits::default())
}

fn participant_epr() -> EndpointReference {
    EndpointReference {
        address: "http://bank.example/wsat/participant".into(),
        reference_parameters: vec![
            r#"<b:Branch xmlns:b="urn:bank">7&amp;8</b:Branch>"#.into(),
            r#"<b:Empty xmlns:b="urn:bank" b:kind="x"/>"#.into(),
        ],
    }
}

fn context(version: WsTxVersion) -> CoordinationContext {
    CoordinationContext {
        identifier: "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        expires: Some(30_000),
        coordination_type: version.wsat().into(),
        registration_service: EndpointReference {
            address: "https://ithaca.example/wsat/registration".into(),
            reference_parameters: vec![
                r#"<ic:Correlation xmlns:ic="urn:ithaca:ws-tx:correlation" tx="urn:uuid:1" mac="00"/>"#
                    .into(),
            ],
        },
        extensions: vec![r#"<m:Isolation xmlns:m="urn:vendor">Serializable</m:Isolation>"#.into()],
    }
}

/// Every body a version has.
fn bodies(version: WsTxVersion) -> Vec<Body> {
    let mut bodies = vec![
        Body::CreateCoordinationContext(CreateCoordinationContext {
            expires: Some(60_000),
            current_context: Some(context(version)),
            coordination_type: version.wsat().into(),
        }),
        Body::CreateCoordinationContext(CreateCoordinationContext {
            expires: None,
            current_context: None,
            coordination_type: version.wsat().into(),
        }),
        Body::CreateCoordinationContextResponse(context(version)),
        Body::Register(Register {
            protocol_identifier: version.protocol_uri(Protocol::Durable2Pc),
            participant_protocol_service: participant_epr(),
        }),
        Body::RegisterResponse(EndpointReference::new("https://ithaca.example/wsat/2pc")),
    ];
    bodies.extend(
        Notification::ALL
            .into_iter()
            .filter(|n| n.exists_in(version))
            .map(Body::Notification),
    );
    bodies.extend(
        FaultKind::ALL
            .into_iter()
            .filter(|kind| kind.exists_in(version))
            .map(|kind| Body::Fault(WireFault::new(kind))),
    );
    bodies
}

/// Every message Ithaca may write, with full addressing.
fn samples() -> Vec<Message> {
    let mut messages = Vec::new();
    for soap in [SoapVersion::Soap11, SoapVersion::Soap12] {
        for version in WsTxVersion::ALL {
            for body in bodies(version) {
                let mut message = Message::to_endpoint(soap, version, &participant_epr(), body);
                message.addressing.action = Some(message.body.action(version));
                message.addressing.message_id = Some("urn:uuid:m-1".into());
                message.addressing.relates_to = Some("urn:uuid:m-0".into());
                message.addressing.reply_to = Some(EndpointReference::anonymous(version));
                message.addressing.fault_to = Some(participant_epr());
                message.addressing.from = Some(EndpointReference::new("http://from.example/"));
                if matches!(message.body, Body::Register(_)) {
                    message.context = Some(context(version));
                }
                messages.push(message);
            }
        }
    }
    messages
}

#[test]
fn every_message_round_trips_in_both_versions_and_both_soap_versions() {
    let samples = samples();
    assert!(samples.len() > 60);
    for message in samples {
        let xml = message.encode().unwrap();
        let read = decode_default(&xml).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&xml));
        });
        assert_eq!(read, message, "{}", String::from_utf8_lossy(&xml));
    }
}

#[test]
fn faults_have_each_soap_versions_shape_and_the_fault_action() {
    let fault = |soap, version, kind| {
        let message = Message::new(soap, version, Body::Fault(WireFault::new(kind)));
        String::from_utf8(message.encode().unwrap()).unwrap()
    };
    let soap11 = fault(
        SoapVersion::Soap11,
        WsTxVersion::Jun2006,
        FaultKind::InvalidParameters,
    );
    assert!(soap11.contains("<faultcode>wscoor:InvalidParameters</faultcode>"));
    assert!(soap11.contains(
        "<wsa:Action>http://docs.oasis-open.org/ws-tx/wscoor/2006/06/fault</wsa:Action>"
    ));
    let soap12 = fault(
        SoapVersion::Soap12,
        WsTxVersion::Jun2006,
        FaultKind::UnknownTransaction,
    );
    assert!(soap12.contains(
        "<s:Value>s:Sender</s:Value><s:Subcode><s:Value>wsat:UnknownTransaction</s:Value>"
    ));
    assert!(soap12.contains("http://docs.oasis-open.org/ws-tx/wsat/2006/06/fault"));
    // 2004/10 has no UnknownTransaction: the closest fault it has goes out.
    let old = fault(
        SoapVersion::Soap11,
        WsTxVersion::Oct2004,
        FaultKind::UnknownTransaction,
    );
    assert!(old.contains("<faultcode>wscoor:InvalidState</faultcode>"));
    let read = decode_default(old.as_bytes()).unwrap();
    assert_eq!(read.version, WsTxVersion::Oct2004);
    assert!(matches!(
        read.body,
        Body::Fault(WireFault {
            kind: FaultKind::InvalidState,
            ..
        })
    ));
}

#[test]
fn reference_parameters_are_marked_only_in_addressing_1_0() {
    for (version, marked) in [(WsTxVersion::Jun2006, true), (WsTxVersion::Oct2004, false)] {
        let message = Message::to_endpoint(
            SoapVersion::Soap11,
            version,
            &participant_epr(),
            Body::Notification(Notification::Prepare),
        );
        let xml = String::from_utf8(message.encode().unwrap()).unwrap();
        assert_eq!(
            xml.contains(r#"<b:Branch wsa:IsReferenceParameter="true" xmlns:b="urn:bank">"#),
            marked,
            "{xml}"
        );
        assert!(xml.contains("<wsa:To>http://bank.example/wsat/participant</wsa:To>"));
        let read = decode_default(xml.as_bytes()).unwrap();
        assert_eq!(read.reference_parameters, message.reference_parameters);
        assert_eq!(read.action(), message.action());
    }
}

#[test]
fn replay_is_written_only_in_2004_and_tolerated_in_2006() {
    let replay = |version| {
        Message::new(
            SoapVersion::Soap11,
            version,
            Body::Notification(Notification::Replay),
        )
    };
    assert!(replay(WsTxVersion::Oct2004).encode().is_ok());
    assert!(matches!(
        replay(WsTxVersion::Jun2006).encode(),
        Err(WireError::NotInVersion("Replay"))
    ));
    let tolerated = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
      <s:Header><a:Action xmlns:a="http://www.w3.org/2005/08/addressing">http://docs.oasis-open.org/ws-tx/wsat/2006/06/Replay</a:Action></s:Header>
      <s:Body><Replay xmlns="http://docs.oasis-open.org/ws-tx/wsat/2006/06"/></s:Body></s:Envelope>"#;
    let read = decode_default(tolerated).unwrap();
    assert_eq!(read.body, Body::Notification(Notification::Replay));
    assert_eq!(read.version, WsTxVersion::Jun2006);
}

#[test]
fn an_action_header_naming_another_message_is_refused_as_invalid_parameters() {
    let prepared = |action: &str| {
        let mut message = Message::new(
            SoapVersion::Soap11,
            WsTxVersion::Jun2006,
            Body::Notification(Notification::Prepared),
        );
        message.addressing.action = Some(action.to_owned());
        message.encode().unwrap()
    };
    let committed = "http://docs.oasis-open.org/ws-tx/wsat/2006/06/Committed";
    let error = decode_default(&prepared(committed)).unwrap_err();
    assert!(
        matches!(&error, WireError::ActionMismatch { action, expected }
            if action == committed && expected.ends_with("/Prepared")),
        "{error:?}"
    );
    assert_eq!(error.fault(), Some(FaultKind::InvalidParameters));
    assert!(error.to_string().contains("does not match the body"));
    // The right Action, or none, is read as before.
    let without = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
      <s:Body><Prepared xmlns="http://docs.oasis-open.org/ws-tx/wsat/2006/06"/></s:Body></s:Envelope>"#;
    assert_eq!(
        decode_default(without).unwrap().body,
        Body::Notification(Notification::Prepared)
    );
    let right = "http://docs.oasis-open.org/ws-tx/wsat/2006/06/Prepared";
    assert!(decode_default(&prepared(right)).is_ok());
    // A fault is read whatever fault Action it came with.
    let mut fault = Message::new(
        SoapVersion::Soap12,
        WsTxVersion::Jun2006,
        Body::Fault(WireFault::new(FaultKind::InvalidState)),
    );
    fault.addressing.action = Some("http://www.w3.org/2005/08/addressing/fault".into());
    assert!(decode_default(&fault.encode().unwrap()).is_ok());
}

/// A Register written the way WCF does: prefixes declared on the Envelope,
/// reference parameters that use them, a mustUnderstand context with a
/// vendor extension, a default namespace in the body.
#[test]
fn a_foreign_style_register_keeps_its_reference_parameters_self_contained() {
    let xml = br#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:mstx="http://schemas.microsoft.com/ws/2006/02/transactions" xmlns:c="http://docs.oasis-open.org/ws-tx/wscoor/2006/06">
 <s:Header>
  <a:Action s:mustUnderstand="1">http://docs.oasis-open.org/ws-tx/wscoor/2006/06/Register</a:Action>
  <a:MessageID>urn:uuid:9f1a</a:MessageID>
  <a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>
  <a:To s:mustUnderstand="1">https://ithaca.example/wsat/registration</a:To>
  <ic:Correlation a:IsReferenceParameter="true" xmlns:ic="urn:ithaca:ws-tx:correlation" tx="urn:uuid:1" mac="ab"/>
  <c:CoordinationContext s:mustUnderstand="1">
   <c:Identifier>urn:uuid:1</c:Identifier>
   <c:Expires>5000</c:Expires>
   <c:CoordinationType>http://docs.oasis-open.org/ws-tx/wsat/2006/06</c:CoordinationType>
   <c:RegistrationService><a:Address>https://ithaca.example/wsat/registration</a:Address></c:RegistrationService>
   <mstx:IsolationLevel>0</mstx:IsolationLevel>
  </c:CoordinationContext>
 </s:Header>
 <s:Body>
  <Register xmlns="http://docs.oasis-open.org/ws-tx/wscoor/2006/06">
   <ProtocolIdentifier> http://docs.oasis-open.org/ws-tx/wsat/2006/06/Durable2PC </ProtocolIdentifier>
   <ParticipantProtocolService>
    <a:Address>https://wcf.example/WsatService/TwoPhaseCommit/Participant</a:Address>
    <a:ReferenceParameters><mstx:Enlistment>{a9d3}</mstx:Enlistment></a:ReferenceParameters>
   </ParticipantProtocolService>
  </Register>
 </s:Body>
</s:Envelope>"#;
    let message = decode_default(xml).unwrap();
    assert_eq!(message.soap, SoapVersion::Soap12);
    assert_eq!(message.version, WsTxVersion::Jun2006);
    assert_eq!(
        message.addressing.message_id.as_deref(),
        Some("urn:uuid:9f1a")
    );
    assert!(message.addressing.reply_to.as_ref().unwrap().is_anonymous());
    assert_eq!(
        message.reference_parameters,
        vec![
            r#"<ic:Correlation xmlns:ic="urn:ithaca:ws-tx:correlation" tx="urn:uuid:1" mac="ab"/>"#
        ]
    );
    let context = message.context.clone().unwrap();
    assert_eq!(context.expires, Some(5000));
    assert_eq!(
        context.extensions,
        vec![
            r#"<mstx:IsolationLevel xmlns:mstx="http://schemas.microsoft.com/ws/2006/02/transactions">0</mstx:IsolationLevel>"#
        ]
    );
    let Body::Register(register) = &message.body else {
        panic!("not a Register: {:?}", message.body);
    };
    assert_eq!(
        WsTxVersion::protocol_from_uri(&register.protocol_identifier),
        Some((Protocol::Durable2Pc, WsTxVersion::Jun2006))
    );
    assert_eq!(
        register.participant_protocol_service.reference_parameters,
        vec![
            r#"<mstx:Enlistment xmlns:mstx="http://schemas.microsoft.com/ws/2006/02/transactions">{a9d3}</mstx:Enlistment>"#
        ]
    );
    // What was read writes back and reads the same.
    let again = decode_default(&message.encode().unwrap()).unwrap();
    assert_eq!(again.context, message.context);
    assert_eq!(again.body, message.body);
}

#[test]
fn addressing_2004_headers_are_reference_parameters() {
    let xml = br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">
 <soap:Header>
  <wsa:Action>http://schemas.xmlsoap.org/ws/2004/10/wsat/Prepared</wsa:Action>
  <wsa:To>http://ithaca.example/wsat/2pc</wsa:To>
  <wsa:From><wsa:Address>http://metro.example/p</wsa:Address><wsa:ReferenceProperties><m:Id xmlns:m="urn:metro">5</m:Id></wsa:ReferenceProperties></wsa:From>
  <x:Tx xmlns:x="urn:x">abc</x:Tx>
 </soap:Header>
 <soap:Body><wsat:Prepared xmlns:wsat="http://schemas.xmlsoap.org/ws/2004/10/wsat"/></soap:Body>
</soap:Envelope>"#;
    let message = decode_default(xml).unwrap();
    assert_eq!(message.version, WsTxVersion::Oct2004);
    assert_eq!(
        message.reference_parameters,
        vec![r#"<x:Tx xmlns:x="urn:x">abc</x:Tx>"#]
    );
    assert_eq!(
        message.addressing.from.unwrap().reference_parameters,
        vec![r#"<m:Id xmlns:m="urn:metro">5</m:Id>"#]
    );
}

#[test]
fn a_doctype_is_refused_by_the_envelope_reader() {
    let xml = br#"<!DOCTYPE x [<!ENTITY e "boom">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><wsat:Prepared xmlns:wsat="http://docs.oasis-open.org/ws-tx/wsat/2006/06"/></s:Body></s:Envelope>"#;
    let error = decode_default(xml).unwrap_err();
    assert!(
        matches!(error, WireError::Envelope(ReadError::Doctype { .. })),
        "{error}"
    );
    assert_eq!(error.fault(), None);
}

#[test]
fn bad_messages_are_invalid_parameters() {
    let envelope = |header: &str, body: &str| {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:c="http://docs.oasis-open.org/ws-tx/wscoor/2006/06"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#
        )
    };
    let cases = [
        envelope("", "<c:Register/>"),
        envelope(
            "",
            "<c:Register><c:ProtocolIdentifier>x</c:ProtocolIdentifier><c:ParticipantProtocolService/></c:Register>",
        ),
        envelope(
            "",
            "<c:CreateCoordinationContext><c:Expires>-1</c:Expires><c:CoordinationType>x</c:CoordinationType></c:CreateCoordinationContext>",
        ),
        envelope(
            "",
            "<c:CreateCoordinationContext><c:Expires>1</c:Expires><c:Expires>2</c:Expires><c:CoordinationType>x</c:CoordinationType></c:CreateCoordinationContext>",
        ),
        envelope(
            "<wsa:To>a</wsa:To><wsa:To>b</wsa:To>",
            "<c:RegisterResponse/>",
        ),
        envelope(
            &format!("<wsa:To>{}</wsa:To>", "x".repeat(5000)),
            "<c:Register/>",
        ),
        envelope("<wsa:To>a<b/></wsa:To>", "<c:Register/>"),
    ];
    for case in cases {
        let error = decode_default(case.as_bytes()).unwrap_err();
        assert_eq!(
            error.fault(),
            Some(FaultKind::InvalidParameters),
            "{error}: {case}"
        );
    }
    let foreign = envelope("", r#"<m:echo xmlns:m="urn:echo"/>"#);
    assert!(matches!(
        decode_default(foreign.as_bytes()),
        Err(WireError::NotWsTx)
    ));
}

#[test]
fn reference_parameters_are_bounded_in_size_and_number() {
    let limits = WireLimits::default();
    let mut epr = participant_epr();
    epr.reference_parameters = vec![format!(
        r#"<b:Big xmlns:b="urn:bank">{}</b:Big>"#,
        "x".repeat(limits.max_reference_parameter_len)
    )];
    let message = Message::new(
        SoapVersion::Soap11,
        WsTxVersion::Jun2006,
        Body::RegisterResponse(epr.clone()),
    );
    assert!(matches!(
        decode_default(&message.encode().unwrap()),
        Err(WireError::TooLong(_))
    ));
    epr.reference_parameters =
        vec!["<b:P xmlns:b=\"urn:b\"/>".into(); limits.max_reference_parameters + 1];
    let message = Message::new(
        SoapVersion::Soap11,
        WsTxVersion::Jun2006,
        Body::RegisterResponse(epr),
    );
    assert!(matches!(
        decode_default(&message.encode().unwrap()),
        Err(WireError::TooMany(_))
    ));
}

#[test]
fn kept_endpoints_split_back_into_checked_elements() {
    let epr = participant_epr();
    let record = epr.to_record();
    assert_eq!(EndpointReference::from_record(&record).unwrap(), epr);
    for bad in ["<a:x/>", "text", "<x>", "<x/><y>"] {
        let record = crate::record::EndpointRef {
            address: "http://a/".into(),
            reference_parameters: bad.into(),
        };
        assert!(EndpointReference::from_record(&record).is_err(), "{bad}");
    }
}

#[test]
fn characters_xml_cannot_carry_are_refused_when_writing() {
    let mut message = Message::new(
        SoapVersion::Soap11,
        WsTxVersion::Jun2006,
        Body::Notification(Notification::Commit),
    );
    message.addressing.message_id = Some("urn:uuid:\u{1}".into());
    assert!(matches!(message.encode(), Err(WireError::Invalid(_))));
}

#[test]
fn a_character_xml_cannot_carry_is_refused_after_non_ascii_text_too() {
    let mut message = Message::new(
        SoapVersion::Soap11,
        WsTxVersion::Jun2006,
        Body::Notification(Notification::Commit),
    );
    message.addressing.message_id = Some("urn:uuid:é-\u{FFFE}".into());
    assert!(matches!(message.encode(), Err(WireError::Invalid(_))));
    message.addressing.message_id = Some("urn:uuid:é-\u{10000}\t-x".into());
    let read = decode_default(&message.encode().unwrap()).unwrap();
    assert_eq!(read.addressing.message_id, message.addressing.message_id);
}

#[test]
fn markup_characters_round_trip_through_text_and_attributes() {
    let tricky = "a&b<c>d\"e\r\nf'g é &amp; ]]>";
    let mut message = Message::new(
        SoapVersion::Soap12,
        WsTxVersion::Jun2006,
        Body::Notification(Notification::Prepared),
    );
    message.addressing.message_id = Some(tricky.into());
    message.addressing.reply_to = Some(EndpointReference {
        address: format!("http://p.example/2pc?{tricky}"),
        reference_parameters: vec![
            r#"<x:Id xmlns:x="urn:x" x:v="1&amp;2&lt;&quot;3&#13;">t&lt;1</x:Id>"#.into(),
        ],
    });
    let read = decode_default(&message.encode().unwrap()).unwrap();
    assert_eq!(read.addressing.message_id, message.addressing.message_id);
    assert_eq!(read.addressing.reply_to, message.addressing.reply_to);
}

#[test]
fn a_captured_element_declares_the_prefixes_its_content_uses_in_prefix_order() {
    let xml = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:z="urn:z" xmlns:b="urn:b" xmlns:unused="urn:unused" xmlns="urn:default">
 <s:Header>
  <wsa:Action>http://docs.oasis-open.org/ws-tx/wsat/2006/06/Prepared</wsa:Action>
  <wsa:ReplyTo><wsa:Address>http://p.example/2pc</wsa:Address><wsa:ReferenceParameters><z:Key b:kind="k"><Inner><z:Leaf b:x="1"/></Inner></z:Key></wsa:ReferenceParameters></wsa:ReplyTo>
 </s:Header>
 <s:Body><wsat:Prepared xmlns:wsat="http://docs.oasis-open.org/ws-tx/wsat/2006/06"/></s:Body>
</s:Envelope>"#;
    let message = decode_default(xml).unwrap();
    assert_eq!(
        message.addressing.reply_to.unwrap().reference_parameters,
        vec![
            r#"<z:Key xmlns="urn:default" xmlns:b="urn:b" xmlns:z="urn:z" b:kind="k"><Inner><z:Leaf b:x="1"/></Inner></z:Key>"#
        ]
    );
}

#[test]
fn the_content_type_must_announce_the_envelope_version() {
    let message = Message::new(
        SoapVersion::Soap12,
        WsTxVersion::Jun2006,
        Body::Notification(Notification::Commit),
    );
    let xml = message.encode().unwrap();
    let soap11 = ithaca_wsdl::ContentType::parse("text/xml; charset=utf-8").unwrap();
    let error = decode(
        &xml,
        Some(&soap11),
        &Limits::default(),
        &WireLimits::default(),
    );
    assert!(matches!(error, Err(WireError::Envelope(_))));
}

// ===== property: decode(encode(m)) == m =====

fn uri() -> impl Strategy<Value = String> {
    "(urn:uuid:|http://h\\.example/)[a-z0-9&<>\"' -]{0,20}"
        .prop_map(|s| s.trim().to_owned())
        .prop_filter("non-empty", |s| !s.is_empty())
}

fn reference_parameter() -> impl Strategy<Value = String> {
    (
        "[a-z]{1,6}",
        "[A-Za-z]{1,8}",
        proptest::option::of("[a-z0-9 ]{0,10}"),
        proptest::option::of("[a-z0-9&<]{0,12}"),
    )
        .prop_map(|(prefix, local, attribute, text)| {
            let mut xml = format!("<{prefix}:{local} xmlns:{prefix}=\"urn:p:{prefix}\"");
            if let Some(value) = attribute {
                xml.push_str(&format!(" a=\"{value}\""));
            }
            match text {
                None => xml.push_str("/>"),
                Some(text) => {
                    let text = text.replace('&', "&amp;").replace('<', "&lt;");
                    xml.push_str(&format!(">{text}</{prefix}:{local}>"));
                }
            }
            xml
        })
}

fn endpoint() -> impl Strategy<Value = EndpointReference> {
    (
        uri(),
        proptest::collection::vec(reference_parameter(), 0..4),
    )
        .prop_map(|(address, reference_parameters)| EndpointReference {
            address,
            reference_parameters,
        })
}

fn coordination_context() -> impl Strategy<Value = CoordinationContext> {
    (
        uri(),
        proptest::option::of(any::<u32>()),
        uri(),
        endpoint(),
        proptest::collection::vec(reference_parameter(), 0..3),
    )
        .prop_map(
            |(identifier, expires, coordination_type, registration_service, extensions)| {
                CoordinationContext {
                    identifier,
                    expires,
                    coordination_type,
                    registration_service,
                    extensions,
                }
            },
        )
}

fn body(version: WsTxVersion) -> impl Strategy<Value = Body> {
    let notifications: Vec<Notification> = Notification::ALL
        .into_iter()
        .filter(|n| n.exists_in(version))
        .collect();
    let faults: Vec<FaultKind> = FaultKind::ALL
        .into_iter()
        .filter(|f| f.exists_in(version))
        .collect();
    prop_oneof![
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(coordination_context()),
            uri()
        )
            .prop_map(|(expires, current_context, coordination_type)| {
                Body::CreateCoordinationContext(CreateCoordinationContext {
                    expires,
                    current_context,
                    coordination_type,
                })
            }),
        coordination_context().prop_map(Body::CreateCoordinationContextResponse),
        (uri(), endpoint()).prop_map(|(protocol_identifier, participant_protocol_service)| {
            Body::Register(Register {
                protocol_identifier,
                participant_protocol_service,
            })
        }),
        endpoint().prop_map(Body::RegisterResponse),
        proptest::sample::select(notifications).prop_map(Body::Notification),
        (
            proptest::sample::select(faults),
            "[A-Za-z0-9&<>.]([A-Za-z0-9&<> .]{0,30}[A-Za-z0-9.])?"
        )
            .prop_map(|(kind, reason)| Body::Fault(WireFault { kind, reason })),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        proptest::sample::select(vec![SoapVersion::Soap11, SoapVersion::Soap12]),
        proptest::sample::select(WsTxVersion::ALL.to_vec()),
    )
        .prop_flat_map(|(soap, version)| {
            (
                body(version),
                proptest::option::of(uri()),
                proptest::option::of(uri()),
                proptest::option::of(uri()),
                proptest::option::of(endpoint()),
                proptest::option::of(endpoint()),
                proptest::option::of(endpoint()),
                proptest::collection::vec(reference_parameter(), 0..4),
                proptest::option::of(coordination_context()),
            )
                .prop_map(
                    move |(
                        body,
                        to,
                        message_id,
                        relates_to,
                        reply_to,
                        fault_to,
                        from,
                        reference_parameters,
                        context,
                    )| {
                        let action = Some(body.action(version));
                        Message {
                            soap,
                            version,
                            addressing: Addressing {
                                to,
                                action,
                                message_id,
                                relates_to,
                                reply_to,
                                fault_to,
                                from,
                            },
                            reference_parameters,
                            context,
                            body,
                        }
                    },
                )
        })
}

proptest! {
    #[test]
    fn decode_inverts_encode(message in message()) {
        let xml = message.encode().unwrap();
        let read = decode_default(&xml);
        prop_assert!(read.is_ok(), "{:?}: {}", read, String::from_utf8_lossy(&xml));
        prop_assert_eq!(read.unwrap(), message);
    }

    #[test]
    fn a_message_whose_action_names_another_body_is_refused(
        message in message(),
        other in message(),
    ) {
        let mut message = message;
        let action = other.body.action(message.version);
        prop_assume!(!matches!(message.body, Body::Fault(_)));
        prop_assume!(action != message.body.action(message.version));
        message.addressing.action = Some(action);
        let xml = message.encode().unwrap();
        let read = decode_default(&xml);
        prop_assert!(
            matches!(read, Err(WireError::ActionMismatch { .. })),
            "{:?}",
            read
        );
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_default(&bytes);
    }
}

// ===== corpus tier: the official schemas =====

/// The driver schema for the 2006/06 messages: SOAP 1.1 and 1.2,
/// WS-Addressing 1.0, WS-Coordination 1.1 and WS-AT 1.1, by their
/// canonical locations (the corpus catalog maps them to local files).
const DRIVER_2006: &str = r#"<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://www.w3.org/XML/1998/namespace" schemaLocation="http://www.w3.org/2001/xml.xsd"/>
  <xs:import namespace="http://schemas.xmlsoap.org/soap/envelope/" schemaLocation="http://schemas.xmlsoap.org/soap/envelope/"/>
  <xs:import namespace="http://www.w3.org/2003/05/soap-envelope" schemaLocation="http://www.w3.org/2003/05/soap-envelope"/>
  <xs:import namespace="http://www.w3.org/2005/08/addressing" schemaLocation="http://www.w3.org/2006/03/addressing/ws-addr.xsd"/>
  <xs:import namespace="http://docs.oasis-open.org/ws-tx/wscoor/2006/06" schemaLocation="http://docs.oasis-open.org/ws-tx/wscoor/2006/06/wstx-wscoor-1.1-schema-200701.xsd"/>
  <xs:import namespace="http://docs.oasis-open.org/ws-tx/wsat/2006/06" schemaLocation="http://docs.oasis-open.org/ws-tx/wsat/2006/06/wstx-wsat-1.1-schema-200701.xsd"/>
</xs:schema>
"#;

/// The driver schema for the 2004/10 messages (WS-Addressing 2004/08 comes
/// with the WS-Coordination 1.0 schema).
fn driver_2004_schema(schemas: &std::path::Path) -> String {
    let wscoor = schemas.join("ws-tx/2004-10/wsc10/wscoor.xsd");
    let wsat = schemas.join("ws-tx/2004-10/wsat10/wsat.xsd");
    format!(
        r#"<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:import namespace="http://www.w3.org/XML/1998/namespace" schemaLocation="http://www.w3.org/2001/xml.xsd"/>
  <xs:import namespace="http://schemas.xmlsoap.org/soap/envelope/" schemaLocation="http://schemas.xmlsoap.org/soap/envelope/"/>
  <xs:import namespace="http://www.w3.org/2003/05/soap-envelope" schemaLocation="http://www.w3.org/2003/05/soap-envelope"/>
  <xs:import namespace="http://schemas.xmlsoap.org/ws/2004/10/wscoor" schemaLocation="file://{}"/>
  <xs:import namespace="http://schemas.xmlsoap.org/ws/2004/10/wsat" schemaLocation="file://{}"/>
</xs:schema>
"#,
        wscoor.display(),
        wsat.display()
    )
}

#[test]
fn corpus_every_message_ithaca_writes_validates_against_the_official_schemas() {
    let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/schemas");
    let xmllint_present = std::process::Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok();
    if !schemas.join("catalog.xml").exists() || !xmllint_present {
        println!("corpus tier skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let driver_2006 = dir.path().join("driver-2006.xsd");
    let driver_2004 = dir.path().join("driver-2004.xsd");
    std::fs::write(&driver_2006, DRIVER_2006).unwrap();
    std::fs::write(&driver_2004, driver_2004_schema(&schemas)).unwrap();
    let mut files: Vec<(WsTxVersion, std::path::PathBuf)> = Vec::new();
    for (index, message) in samples().into_iter().enumerate() {
        let path = dir.path().join(format!("message-{index}.xml"));
        std::fs::write(&path, message.encode().unwrap()).unwrap();
        files.push((message.version, path));
    }
    for (version, driver) in [
        (WsTxVersion::Jun2006, &driver_2006),
        (WsTxVersion::Oct2004, &driver_2004),
    ] {
        let batch: Vec<&std::path::PathBuf> = files
            .iter()
            .filter(|(v, _)| *v == version)
            .map(|(_, path)| path)
            .collect();
        let output = std::process::Command::new("xmllint")
            .env("XML_CATALOG_FILES", schemas.join("catalog.xml"))
            .args(["--nonet", "--noout", "--schema"])
            .arg(driver)
            .args(&batch)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{version:?}: xmllint refused Ithaca's messages:\n{stderr}"
        );
        assert_eq!(
            stderr.matches(" validates").count(),
            batch.len(),
            "{stderr}"
        );
    }
}
