//! Fuzz targets for Ithaca's parsers.
//!
//! Each target is a plain function here, so that `cargo fuzz` (the binaries
//! in `fuzz_targets/`) and the seed-corpus replay test
//! (`tests/replay.rs`, run by the test suite) exercise the same code.
//!
//! Run one on stable Rust with `cargo fuzz run -s none config` from this
//! folder's parent. Every target must return normally for every input: a
//! panic is a bug.

pub mod bridge;

/// The configuration loader: TOML text through parsing, typed
/// deserialization and validation.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = ithaca_gateway::config::Origin::File("fuzz.toml".into());
    if let Ok(loader) = ithaca_gateway::config::ConfigLoader::new().text(text, origin)
        && let Err(error) = loader.build()
    {
        // Errors must stay on one line.
        assert!(
            !error.to_string().contains('\n'),
            "multi-line error: {error}"
        );
    }
}

/// The SOAP envelope reader and the fault reader, with default limits.
pub fn soap_envelope(data: &[u8]) {
    let limits = ithaca_wsdl::Limits::default();
    if let Err(error) = ithaca_wsdl::read_envelope(data, None, &limits) {
        // Every error maps to a fault code and an HTTP status.
        let _ = error.fault_code();
    }
    let _ = ithaca_wsdl::read_fault(data, &limits);
}

/// The WSDL/XSD loader over one in-memory document (imports are refused:
/// no resolver), then every operation summary and the sample response of
/// each (what `ithaca mock` answers); and the XSD pattern engine,
/// with the first line as a pattern and the rest as a value.
pub fn wsdl_loader(data: &[u8]) {
    let loaded = ithaca_wsdl::load_bytes("fuzz.wsdl", data, &ithaca_wsdl::LoadOptions::default());
    // Every response sample the mock would answer, as small as bounds allow.
    let limits = ithaca_wsdl::xsd::SampleLimits {
        max_depth: 8,
        optional_depth: 2,
        max_elements: 200,
    };
    for operation in loaded
        .definitions
        .operations(&loaded.schema)
        .iter()
        .take(16)
    {
        let _ = loaded
            .schema
            .sample_body(&loaded.definitions, operation, true, &limits);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Some((pattern, value)) = text.split_once('\n')
        && let Ok(pattern) = ithaca_wsdl::xsd::pattern::Pattern::new(pattern)
    {
        let _ = pattern.is_match(value);
    }
}

/// The GIOP framer: decodes messages until it needs more bytes or fails.
pub fn giop_frames(data: &[u8]) {
    let mut buffer = bytes::BytesMut::from(data);
    // Each successful decode consumes at least a 12-byte header, so this
    // loop ends.
    while let Ok(Some(_message)) = ithaca_idl::giop::decode(&mut buffer) {}
}

/// The sans-IO GIOP connection, fed the input as a server and as a client.
pub fn giop_connection(data: &[u8]) {
    use ithaca_idl::connection::{Connection, ConnectionConfig, Role};
    for role in [Role::Server, Role::Client] {
        let mut connection = Connection::new(ConnectionConfig::new(role));
        connection.handle_input(data);
        while connection.poll_event().is_some() {}
        while connection.poll_transmit().is_some() {}
    }
}

/// The OMG IDL front end: preprocessor, parser and semantic pass over one
/// in-memory file (includes are not read from disk).
pub fn idl_front_end(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = ithaca_idl::front::analyze_str(text);
}

/// Object references: `IOR:` strings and `corbaloc:` URLs.
pub fn object_reference(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ior) = ithaca_idl::ior::Ior::from_ior_string(text) {
        let _ = ior.iiop_profile();
    }
    if let Ok(corbaloc) = ithaca_idl::ior::Corbaloc::parse(text) {
        let _ = corbaloc.to_ior();
    }
}

/// A fuzz target: any input, no panic.
pub type Target = fn(&[u8]);

/// The naming parsers: `corbaname:` URLs and INS stringified names; a
/// CosNaming name read as CDR from the same bytes; the same bytes as a
/// persistent naming service's snapshot file and as a CodeSets context.
pub fn naming(data: &[u8]) {
    let _ = ithaca_idl::naming::NamingService::check_snapshot(bytes::Bytes::copy_from_slice(data));
    let context = ithaca_idl::giop::ServiceContext {
        context_id: ithaca_idl::giop::ServiceContext::CODE_SETS,
        context_data: bytes::Bytes::copy_from_slice(data),
    };
    if let Ok(context) = ithaca_idl::giop::CodeSetContext::from_service_context(&context) {
        let _ = ithaca_idl::codeset::CodeSets::from_context(&context);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ithaca_idl::naming::Corbaname::parse(text);
        if let Ok(name) = ithaca_idl::naming::Name::to_name(text) {
            // A parsed name prints back to a name that parses the same.
            if let Ok(printed) = name.to_string_name() {
                assert_eq!(ithaca_idl::naming::Name::to_name(&printed).ok(), Some(name));
            }
        }
    }
    for order in [
        ithaca_idl::cdr::ByteOrder::BigEndian,
        ithaca_idl::cdr::ByteOrder::LittleEndian,
    ] {
        let mut reader = ithaca_idl::cdr::CdrReader::new(
            bytes::Bytes::copy_from_slice(data),
            order,
            ithaca_idl::GiopVersion::V1_2,
        );
        let _ = ithaca_idl::naming::Name::read(&mut reader);
    }
}

/// The dynamic codec's decoders: a TypeCode in an encapsulation, and an
/// `any` (TypeCode then value) in an encapsulation.
pub fn typecode_and_any(data: &[u8]) {
    let _ = ithaca_idl::dynamic::TypeCode::from_encapsulation(data);
    let _ = ithaca_idl::dynamic::decode_any_encapsulation(data);
}

/// The valuetype decoder of the dynamic codec: the first octet picks a
/// value type of a small contract (boxes, recursive and shared values,
/// truncatable bases, derived types known to its value factories), the
/// second the byte order; the rest is read as two
/// values of that type in one scope (chunks, end tags, indirections).
/// Whatever decodes must encode again and read back the same.
pub fn valuetype_decoder(data: &[u8]) {
    use ithaca_idl::cdr::{ByteOrder, CdrReader, CdrWriter};
    use ithaca_idl::dynamic::{self, DecodeLimits, TypeCode, ValueFactories};
    use std::sync::OnceLock;

    const IDL: &str = "module F { valuetype Name string; \
        valuetype Node { public long n; public Node next; public Name label; }; \
        valuetype Base { public long a; private sequence<Node> kids; }; \
        valuetype Derived : truncatable Base { public string s; public Node link; }; \
        valuetype Plain : Base { public double d; }; \
        struct Pair { Node a; Base b; }; };";
    static TYPES: OnceLock<(Vec<TypeCode>, ValueFactories)> = OnceLock::new();
    let (types, factories) = TYPES.get_or_init(|| {
        let model = ithaca_idl::front::analyze_str(IDL).model;
        let types: Vec<TypeCode> = ["F::Name", "F::Node", "F::Base", "F::Derived", "F::Pair"]
            .iter()
            .filter_map(|name| TypeCode::from_model(&model, name).ok())
            .collect();
        let roots = ["IDL:F/Base:1.0", "IDL:F/Node:1.0"].map(String::from);
        let factories = ValueFactories::from_model(&model, roots).unwrap_or_default();
        (types, factories)
    });
    let [pick, order, rest @ ..] = data else {
        return;
    };
    let Some(tc) = types.get(usize::from(*pick) % types.len().max(1)) else {
        return;
    };
    let order = ByteOrder::from_flag(*order);
    let version = ithaca_idl::GiopVersion::V1_2;
    let mut r = CdrReader::new(bytes::Bytes::copy_from_slice(rest), order, version);
    let limits = DecodeLimits::default();
    let Ok(values) = dynamic::decode_many_with(&[tc, tc], &mut r, limits, factories) else {
        return;
    };
    if format!("{values:?}").contains("NaN") {
        return;
    }
    let mut buf = bytes::BytesMut::new();
    let items: Vec<_> = values.iter().map(|v| (tc, v)).collect();
    dynamic::encode_many_with(
        &items,
        &mut CdrWriter::new(&mut buf, order, version),
        factories,
    )
    .unwrap_or_else(|e| panic!("a decoded value does not encode: {e}"));
    let mut again = CdrReader::new(buf.freeze(), order, version);
    let back = dynamic::decode_many_with(&[tc, tc], &mut again, limits, factories)
        .unwrap_or_else(|e| panic!("an encoded value does not decode: {e}"));
    assert_eq!(back, values, "re-encoding changed the values");
}

/// The value decoder, over a contract of ours with rpc/encoded (arrays,
/// multi-reference values) and rpc/literal operations: the input is a SOAP
/// body's content, decoded as the request of every operation with the
/// usual envelope bindings in scope, and as the contract's global element;
/// whatever decodes must encode again.
pub fn value_decoder(data: &[u8]) {
    use ithaca_wsdl::value::{Direction, MessageCodec, ValueLimits, decode_element};
    use std::sync::OnceLock;

    static CONTRACT: OnceLock<ithaca_wsdl::Loaded> = OnceLock::new();
    let loaded = CONTRACT.get_or_init(|| {
        ithaca_wsdl::load_bytes(
            "registry.wsdl",
            include_bytes!("../../gateway/tests/fixtures/dynamic/registry.wsdl"),
            &ithaca_wsdl::LoadOptions::default(),
        )
    });
    let scope: Vec<ithaca_wsdl::NamespaceBinding> = [
        ("xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ("xsd", "http://www.w3.org/2001/XMLSchema"),
        ("SOAP-ENC", "http://schemas.xmlsoap.org/soap/encoding/"),
        ("r", "urn:ithaca:test:registry"),
        ("e", "urn:ithaca:test:registry:encoded"),
    ]
    .into_iter()
    .map(|(prefix, uri)| ithaca_wsdl::NamespaceBinding {
        prefix: Some(prefix.to_owned()),
        uri: uri.to_owned(),
    })
    .collect();
    let limits = ValueLimits {
        max_values: 10_000,
        ..ValueLimits::DEFAULT
    };
    for operation in loaded.definitions.operations(&loaded.schema) {
        let codec = MessageCodec::new(loaded, &operation).with_limits(limits);
        match codec.decode(Direction::Input, data, &scope) {
            Ok(value) => {
                if let Err(error) = codec.encode(Direction::Input, &value) {
                    panic!("a decoded value does not encode: {error}");
                }
            }
            Err(error) => {
                let _ = error.fault_code();
                assert!(
                    !error.to_string().contains('\n'),
                    "multi-line error: {error}"
                );
            }
        }
    }
    let element = ithaca_wsdl::QName::new("urn:ithaca:test:registry", "notFound");
    let _ = decode_element(&loaded.schema, data, &scope, &element, &limits);
}

/// The decoders generated by `ithaca codegen` (the example crate's
/// contracts) over any message, and the fault-detail reader; whatever
/// decodes must encode and decode again to the same value.
pub fn typed_decoder(data: &[u8]) {
    use ithaca_soap_codegen_example::{calculator, echo, orders};
    use ithaca_wsdl::typed::{read_body, read_fault_detail, to_element};
    let limits = ithaca_wsdl::Limits::default();
    if let Ok(order) = read_body::<orders::PlaceOrder>(data, &limits) {
        let body = to_element(&order, "urn:ithaca:example:orders", "placeOrder");
        let message = ithaca_wsdl::write_envelope(ithaca_wsdl::SoapVersion::Soap11, &body)
            .unwrap_or_default();
        let again = read_body::<orders::PlaceOrder>(&message, &limits);
        // NaN weights compare unequal to themselves; compare the XML.
        let again = again.map(|o| to_element(&o, "urn:ithaca:example:orders", "placeOrder"));
        assert_eq!(again.ok(), Some(body), "re-encoding changed the order");
    }
    let _ = read_body::<echo::Echo>(data, &limits);
    let _ = read_body::<calculator::NormRequest>(data, &limits);
    // SOAP-encoded arrays as `Vec` (the literal form rpc/encoded code reads).
    let _ = read_body::<ithaca_soap_codegen_example::legacy::RosterResponse>(data, &limits);
    if let Ok(Some((mut reader, _, _))) = read_fault_detail(data, &limits) {
        let _ = <orders::OrderRejected as ithaca_wsdl::typed::XmlRead>::read_xml(&mut reader);
    }
    // A `soap:headerfault` block in a fault's Header.
    if let Ok(Some(mut reader)) = ithaca_wsdl::typed::read_header_block(
        data,
        &limits,
        "urn:ithaca:example:session",
        "authRefused",
    ) {
        let _ = <ithaca_soap_codegen_example::session::AuthRefused as ithaca_wsdl::typed::XmlRead>::read_xml(&mut reader);
    }
}

/// The membership wire codec: any bytes decode or fail cleanly, a frame
/// prefix is checked, and every message that decodes encodes back to one
/// that decodes to the same value.
pub fn membership_wire(data: &[u8]) {
    use ithaca_membership::wire::{Message, frame};
    if let Some(prefix) = data
        .get(..frame::PREFIX_LEN)
        .and_then(|p| <[u8; 4]>::try_from(p).ok())
    {
        let _ = frame::frame_len(prefix);
    }
    if let Ok(message) = Message::decode(data) {
        let mut again = Vec::new();
        message
            .encode(&mut again)
            .unwrap_or_else(|error| panic!("a decoded message does not encode: {error}"));
        assert_eq!(
            Message::decode(&again).ok(),
            Some(message),
            "re-encoding changed the message"
        );
    }
}

/// The WS-Coordination / WS-AT / WS-Addressing codec: any message it
/// reads writes back (unless the version lacks it) and reads the same
/// (with the Action the writer always puts in).
pub fn wsat_message(data: &[u8]) {
    use ithaca_txn::wire::{WireLimits, decode};
    let limits = ithaca_wsdl::Limits::default();
    let Ok(mut message) = decode(data, None, &limits, &WireLimits::default()) else {
        return;
    };
    message.addressing.action = Some(message.action());
    if let Ok(xml) = message.encode() {
        match decode(&xml, None, &limits, &WireLimits::default()) {
            Ok(again) => assert_eq!(again, message, "re-read differs"),
            Err(error) => panic!("Ithaca cannot read what it wrote: {error}"),
        }
    }
}

/// The membership oracle's log file format: any bytes are read or refused
/// cleanly, and what is read is consistent (a torn tail is never longer than
/// the file, the first entry never after the last).
pub fn oracle_log(data: &[u8]) {
    if let Ok(report) = ithaca_membership::consensus::inspect_log(data) {
        assert!(report.cut_bytes <= data.len() as u64, "cut beyond the file");
        assert!(report.first_index <= report.last_index, "first after last");
    }
}

/// The sector-status replication messages: any bytes decode or fail
/// cleanly; a decoded request is handled by a backup replica (a received
/// table is validated, never trusted) and its answer round-trips.
pub fn sector_replication(data: &[u8]) {
    use ithaca_services::sector_status::{Replica, ReplicationReply, ReplicationRequest};
    let _ = ReplicationReply::decode(data);
    let Ok(request) = ReplicationRequest::decode(data) else {
        return;
    };
    assert_eq!(
        ReplicationRequest::decode(&request.encode()).ok(),
        Some(request.clone()),
        "re-encoding changed the request"
    );
    let mut replica = Replica::new();
    let reply = replica.handle(&request);
    assert_eq!(
        ReplicationReply::decode(&reply.encode()).ok(),
        Some(reply),
        "re-encoding changed the reply"
    );
    assert!(
        replica.table().validate().is_ok(),
        "a backup installed an invalid table"
    );
}

/// Fuzzes the bank's request, response and fault-detail readers
/// (`ithaca_services::bank::message`): no panic, and a request read back
/// from its own encoding is the same.
pub fn bank_message(data: &[u8]) {
    use ithaca_services::bank::message;
    let _ = message::read_balance_request(data);
    let _ = message::read_total_request(data);
    let _ = message::read_field_i64(data, "balance");
    let _ = message::read_insufficient_funds(data);
    for element in ["Credit", "Debit"] {
        if let Ok(movement) = message::read_movement(data, element) {
            let again = if element == "Credit" {
                message::credit_request(&movement.account, movement.amount)
            } else {
                message::debit_request(&movement.account, movement.amount)
            };
            assert_eq!(
                message::read_movement(&again, element).ok(),
                Some(movement),
                "re-encoding changed the request"
            );
        }
    }
}

/// Fuzzes the transfer service's request, response and fault-detail
/// readers (`ithaca_services::transfer::message`): no panic, and a request
/// or response read back from its own encoding is the same.
pub fn transfer_message(data: &[u8]) {
    use ithaca_services::transfer::message;
    let _ = message::read_balance_request(data);
    let _ = message::read_total_request(data);
    let _ = message::read_field_i64(data, "total");
    let _ = message::read_insufficient_funds(data);
    if let Ok(request) = message::read_transfer_request(data) {
        assert_eq!(
            message::read_transfer_request(&message::transfer_request(&request)).ok(),
            Some(request),
            "re-encoding changed the request"
        );
    }
    if let Ok(response) = message::read_transfer_response(data) {
        assert_eq!(
            message::read_transfer_response(&message::transfer_response(&response)).ok(),
            Some(response),
            "re-encoding changed the response"
        );
    }
}

/// Every target by name, for the replay test.
pub const TARGETS: &[(&str, Target)] = &[
    ("config", config),
    ("soap_envelope", soap_envelope),
    ("wsdl_loader", wsdl_loader),
    ("giop_frames", giop_frames),
    ("giop_connection", giop_connection),
    ("object_reference", object_reference),
    ("idl_front_end", idl_front_end),
    ("naming", naming),
    ("typecode_and_any", typecode_and_any),
    ("valuetype_decoder", valuetype_decoder),
    ("value_decoder", value_decoder),
    ("typed_decoder", typed_decoder),
    ("membership_wire", membership_wire),
    ("wsat_message", wsat_message),
    ("oracle_log", oracle_log),
    ("sector_replication", sector_replication),
    ("bank_message", bank_message),
    ("transfer_message", transfer_message),
    ("bridge_soapfront", bridge::bridge_soapfront),
    ("bridge_iiopfront", bridge::bridge_iiopfront),
    (
        "bridge_propagation_context",
        bridge::bridge_propagation_context,
    ),
];
