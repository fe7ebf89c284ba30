//! CORBA → WS-AT: the transaction context of an incoming GIOP request (a
//! CosTransactions `PropagationContext` in service context 0) forwarded as
//! a WS-Coordination 1.2 (2006/06) `CoordinationContext` header on the
//! SOAP call.
//!
//! The encoding is the one the SOAP front writes
//! ([`WsatPropagation`]): `implementation_specific_data` is an `any`
//! holding the whole `CoordinationContext` element as a string, and the
//! otid's `tid` is the `wscoor:Identifier` (format id `"ITHA"`). When the
//! context carries such an element, it is forwarded as it is, so the SOAP
//! service registers with the WS-AT coordinator that created the
//! transaction. A context from another OTS (no element) is forwarded as a
//! `CoordinationContext` whose `Identifier` is `urn:ithaca:ots:` followed
//! by the otid's format id and `tid` in hexadecimal, of coordination type
//! WS-AT 2006/06, whose `RegistrationService` is the WS-Addressing `none`
//! address: the SOAP side sees which transaction the call belongs to but
//! cannot register in it (interposition, an OTS resource registered with
//! the CORBA coordinator on the service's behalf, is not done).

use std::fmt::Write as _;

use ithaca_idl::orb::Call;

use crate::bridge::soapfront::txcontext::{
    MAX_CONTEXT_LEN, TRANSACTION_SERVICE_ID, WSAT_FORMAT_ID, WSCOOR_2006_NS, WsatPropagation,
};

/// The WS-AtomicTransaction 1.2 coordination type.
pub const WSAT_2006_COORDINATION_TYPE: &str = "http://docs.oasis-open.org/ws-tx/wsat/2006/06";

/// WS-Addressing's anonymous "none" address.
const WSA_NONE: &str = "http://www.w3.org/2005/08/addressing/none";

/// Why a request's transaction context cannot be forwarded.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("the TransactionService context cannot be forwarded: {0}")]
pub struct TransactionContextError(String);

/// The SOAP header blocks that carry `call`'s transaction context (none
/// when the request has no TransactionService context).
pub fn header_blocks(call: &Call) -> Result<Vec<Vec<u8>>, TransactionContextError> {
    let Some(context) = call
        .service_contexts()
        .iter()
        .find(|c| c.context_id == TRANSACTION_SERVICE_ID)
    else {
        return Ok(Vec::new());
    };
    let propagation = WsatPropagation::from_service_context(context)
        .map_err(|e| TransactionContextError(e.to_string()))?;
    Ok(vec![coordination_context(&propagation)?.into_bytes()])
}

/// The `CoordinationContext` element for a propagated transaction.
pub fn coordination_context(
    propagation: &WsatPropagation,
) -> Result<String, TransactionContextError> {
    if !propagation.context_xml.is_empty() {
        if propagation.context_xml.len() > MAX_CONTEXT_LEN {
            return Err(TransactionContextError(
                "the CoordinationContext is larger than 64 KiB".into(),
            ));
        }
        // Check it is one (self-contained) CoordinationContext element
        // before it goes into an envelope.
        let parsed = WsatPropagation::from_header(propagation.context_xml.as_bytes(), &[])
            .map_err(|e| TransactionContextError(e.to_string()))?;
        return Ok(parsed.context_xml);
    }
    let identifier = if propagation.format_id == WSAT_FORMAT_ID {
        propagation.identifier.clone()
    } else {
        let mut id = format!("urn:ithaca:ots:{:08x}:", propagation.format_id);
        for byte in propagation.identifier.as_bytes() {
            let _ = write!(id, "{byte:02x}");
        }
        id
    };
    let expires = if propagation.timeout == 0 {
        String::new()
    } else {
        format!(
            "<wscoor:Expires>{}</wscoor:Expires>",
            u64::from(propagation.timeout) * 1000
        )
    };
    Ok(format!(
        "<wscoor:CoordinationContext xmlns:wscoor=\"{WSCOOR_2006_NS}\" \
         xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">\
         <wscoor:Identifier>{}</wscoor:Identifier>{expires}\
         <wscoor:CoordinationType>{WSAT_2006_COORDINATION_TYPE}</wscoor:CoordinationType>\
         <wscoor:RegistrationService><wsa:Address>{WSA_NONE}</wsa:Address></wscoor:RegistrationService>\
         </wscoor:CoordinationContext>",
        crate::bridge::mapping::xml_escape(&identifier)
    ))
}
