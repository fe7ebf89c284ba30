//! Fuzz targets for the CORBA⇄SOAP bridge's readers: what a SOAP client,
//! a CORBA client, a CORBA object or a SOAP service sends the bridge
//! must become values, a SOAP fault or a CORBA system exception, never a
//! panic.

use std::sync::OnceLock;

use bytes::Bytes;
use ithaca_gateway::bridge::iiopfront::{
    Backend, BridgedContract, ResponseMessage, SoapObjectServant, transaction,
};
use ithaca_gateway::bridge::soapfront::txcontext::WsatPropagation;
use ithaca_gateway::bridge::soapfront::{BridgedInterface, CorbaObjectConfig};
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::{ByteOrder, CdrReader};
use ithaca_idl::giop::ServiceContext;
use ithaca_idl::orb::ReplyBody;
use ithaca_wsdl::{Limits, SoapVersion, read_envelope, read_fault};

/// The SOAP front (CORBA objects as SOAP services) over the rich IDL of
/// its tests: the input as a SOAP request envelope for every operation
/// (one-pass and general paths: GIOP arguments or a Client fault), and
/// as the CDR body of a reply and of each declared user exception, in
/// both byte orders (a response element or a fault).
pub fn bridge_soapfront(data: &[u8]) {
    static INTERFACES: OnceLock<Vec<BridgedInterface>> = OnceLock::new();
    let interfaces = INTERFACES.get_or_init(|| {
        let fixtures = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../gateway/tests/fixtures/bridge"
        );
        [
            ("Rich", "soapfront/Rich.idl", Some("Bridge::Rich")),
            ("Bank", "bank.idl", Some("Bank::Account")),
        ]
        .into_iter()
        .filter_map(|(name, idl, interface)| {
            let mut config = CorbaObjectConfig::new(name, format!("{fixtures}/{idl}"), "IOR:");
            config.interface = interface.map(str::to_owned);
            BridgedInterface::load(&config).ok()
        })
        .collect()
    });
    assert!(!interfaces.is_empty(), "the fuzz contracts do not load");
    for interface in interfaces {
        let operations: Vec<String> = interface.operations().map(str::to_owned).collect();
        for operation in &operations {
            let _ = interface.request_arguments(operation, data);
            for order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
                let reader =
                    || CdrReader::new(Bytes::copy_from_slice(data), order, GiopVersion::V1_2);
                let _ = interface.reply(operation, ReplyBody::Return(reader()));
                for id in interface.exceptions(operation) {
                    let _ = interface.reply(
                        operation,
                        ReplyBody::UserException {
                            id,
                            members: reader(),
                        },
                    );
                }
            }
        }
    }
}

/// The IIOP front (SOAP services as CORBA objects) over an order service
/// with nested, repeated and enumerated types, over the echo service
/// (the one-pass path) and over a shipping service with choices (IDL
/// unions) and attributes (struct members): the input as the CDR arguments of every operation
/// (a SOAP request body or a refusal), as a SOAP response message, read
/// whole and with its body already located (the IDL result or a
/// refusal), and as a fault message (the IDL user exception, or none).
pub fn bridge_iiopfront(data: &[u8]) {
    static SERVANTS: OnceLock<Vec<SoapObjectServant>> = OnceLock::new();
    let servants = SERVANTS.get_or_init(|| {
        [
            (
                "orders.wsdl",
                &include_bytes!("../../gateway/tests/fixtures/bridge/iiopfront/orders.wsdl")[..],
            ),
            ("echo.wsdl", ithaca_services::echo::WSDL.as_bytes()),
            (
                "shipping.wsdl",
                &include_bytes!("../../gateway/tests/fixtures/bridge/iiopfront/shipping.wsdl")[..],
            ),
        ]
        .into_iter()
        .filter_map(|(name, wsdl)| {
            let contract = BridgedContract::load(name, wsdl, None, None).ok()?;
            let backend = Backend::Hosted {
                router: ithaca_gateway::router::Router::new(),
                path: "/services/fuzz".to_owned(),
                version: SoapVersion::Soap11,
                timeout: std::time::Duration::from_secs(1),
            };
            Some(SoapObjectServant::new(name, contract.into(), backend))
        })
        .collect()
    });
    assert_eq!(servants.len(), 3, "the fuzz contracts do not load");
    let message = Bytes::copy_from_slice(data);
    let located = read_envelope(data, None, &Limits::DEFAULT)
        .ok()
        .map(|envelope| (envelope.body.payload.clone(), envelope.body_scope()));
    let fault = read_fault(data, &Limits::DEFAULT)
        .ok()
        .map(|(_, fault)| fault);
    for servant in servants {
        let mut names: Vec<&String> = servant.contract().operations.keys().collect();
        names.sort();
        for name in names {
            let Some(op) = servant.contract().operations.get(name) else {
                continue;
            };
            for order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
                let mut reader = CdrReader::new(message.clone(), order, GiopVersion::V1_2);
                if let Ok(args) = op.idl.decode_request(&mut reader) {
                    let _ = servant.request_body(op, &args);
                }
            }
            let _ = servant.reply_values(op, &ResponseMessage::unread(message.clone()));
            if let Some(body) = &located {
                let response = ResponseMessage {
                    message: message.clone(),
                    body: Some(body.clone()),
                };
                let _ = servant.reply_values(op, &response);
            }
            if let Some(fault) = &fault {
                let _ = servant.declared_exception(op, fault, data);
            }
        }
    }
}

/// The CosTransactions `PropagationContext` reader (service context 0, a
/// CDR encapsulation) and the WS-Coordination `CoordinationContext`
/// reader, with what the bridge makes of each: the context forwarded as a
/// SOAP header block, and the service context sent to a CORBA object.
pub fn bridge_propagation_context(data: &[u8]) {
    let context = ServiceContext {
        context_id: 0,
        context_data: Bytes::copy_from_slice(data),
    };
    if let Ok(propagation) = WsatPropagation::from_service_context(&context) {
        let _ = transaction::coordination_context(&propagation);
        let _ = propagation.service_context();
    }
    if let Ok(propagation) = WsatPropagation::from_header(data, &[])
        && let Ok(again) = propagation.service_context()
    {
        // What the SOAP front sends, the IIOP front reads back.
        assert!(
            WsatPropagation::from_service_context(&again).is_ok(),
            "a PropagationContext the bridge wrote does not read back"
        );
    }
}
