//! The encoder: one [`Message`] in, one SOAP envelope out.
//!
//! The envelope binds `s` (SOAP), `wsa`, `wscoor` and `wsat` of the
//! message's versions on its root; reference parameters and extensions
//! are copied as the self-contained elements they are, reference
//! parameters marked `wsa:IsReferenceParameter="true"` in WS-Addressing
//! 1.0.

use ithaca_wsdl::SoapVersion;

use crate::wire::WireError;
use crate::wire::model::{
    Addressing, Body, CoordinationContext, CreateCoordinationContext, EndpointReference, Message,
    Register, WireFault,
};
use crate::wire::names::{WSA_2005, WsTxVersion};
use crate::wire::xml::escape_into;

impl Message {
    /// Writes the message as a SOAP envelope (UTF-8, with an XML
    /// declaration).
    ///
    /// Fails for a notification the version does not have (Replay in
    /// 2006/06); a fault the version does not define is written as the
    /// one [`FaultKind::in_version`](crate::wire::FaultKind::in_version)
    /// names.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        if let Body::Notification(notification) = &self.body
            && !notification.exists_in(self.version)
        {
            return Err(WireError::NotInVersion(notification.local_name()));
        }
        let mut out = String::with_capacity(1024);
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        out.push_str("<s:Envelope");
        attribute(&mut out, "xmlns:s", self.soap.namespace());
        attribute(&mut out, "xmlns:wsa", self.version.wsa());
        attribute(&mut out, "xmlns:wscoor", self.version.wscoor());
        attribute(&mut out, "xmlns:wsat", self.version.wsat());
        out.push_str("><s:Header>");
        self.write_addressing(&mut out, &self.addressing);
        for parameter in &self.reference_parameters {
            write_reference_header(&mut out, parameter, self.version)?;
        }
        if let Some(context) = &self.context {
            write_context(&mut out, "wscoor:CoordinationContext", context, true);
        }
        out.push_str("</s:Header><s:Body>");
        match &self.body {
            Body::CreateCoordinationContext(create) => write_create(&mut out, create),
            Body::CreateCoordinationContextResponse(context) => {
                out.push_str("<wscoor:CreateCoordinationContextResponse>");
                write_context(&mut out, "wscoor:CoordinationContext", context, false);
                out.push_str("</wscoor:CreateCoordinationContextResponse>");
            }
            Body::Register(register) => write_register(&mut out, register),
            Body::RegisterResponse(service) => {
                out.push_str("<wscoor:RegisterResponse>");
                write_epr(&mut out, "wscoor:CoordinatorProtocolService", service);
                out.push_str("</wscoor:RegisterResponse>");
            }
            Body::Notification(notification) => {
                out.push_str("<wsat:");
                out.push_str(notification.local_name());
                out.push_str("/>");
            }
            Body::Fault(fault) => write_fault(&mut out, self.soap, self.version, fault),
        }
        out.push_str("</s:Body></s:Envelope>");
        if !is_xml_text(&out) {
            return Err(WireError::Invalid("a character XML 1.0 cannot carry"));
        }
        Ok(out.into_bytes())
    }

    fn write_addressing(&self, out: &mut String, addressing: &Addressing) {
        let action = self.action();
        text_element(out, "wsa:Action", &action);
        if let Some(id) = &addressing.message_id {
            text_element(out, "wsa:MessageID", id);
        }
        if let Some(relates_to) = &addressing.relates_to {
            text_element(out, "wsa:RelatesTo", relates_to);
        }
        if let Some(to) = &addressing.to {
            text_element(out, "wsa:To", to);
        }
        if let Some(from) = &addressing.from {
            write_epr(out, "wsa:From", from);
        }
        if let Some(reply_to) = &addressing.reply_to {
            write_epr(out, "wsa:ReplyTo", reply_to);
        }
        if let Some(fault_to) = &addressing.fault_to {
            write_epr(out, "wsa:FaultTo", fault_to);
        }
    }
}

/// Whether XML 1.0 allows every character of `text` in a document:
/// ASCII bytes are checked as bytes, characters only past the first
/// non-ASCII byte.
fn is_xml_text(text: &str) -> bool {
    match text.bytes().position(|b| !(0x20..0x80).contains(&b)) {
        None => true,
        Some(at) => text
            .get(at..)
            .is_some_and(|rest| rest.chars().all(is_xml_char)),
    }
}

/// Whether XML 1.0 allows `c` in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn attribute(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    escape_into(out, value);
    out.push('"');
}

fn text_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn write_epr(out: &mut String, name: &str, epr: &EndpointReference) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    text_element(out, "wsa:Address", &epr.address);
    if !epr.reference_parameters.is_empty() {
        out.push_str("<wsa:ReferenceParameters>");
        for parameter in &epr.reference_parameters {
            out.push_str(parameter);
        }
        out.push_str("</wsa:ReferenceParameters>");
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Echoes one reference parameter as a header block: verbatim in
/// WS-Addressing 2004/08, with `wsa:IsReferenceParameter="true"` added to
/// its start tag in WS-Addressing 1.0.
fn write_reference_header(
    out: &mut String,
    parameter: &str,
    version: WsTxVersion,
) -> Result<(), WireError> {
    let parameter = parameter.trim();
    if version == WsTxVersion::Oct2004 {
        out.push_str(parameter);
        return Ok(());
    }
    let name_end = parameter
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_ascii_whitespace() || *c == '/' || *c == '>')
        .map(|(at, _)| at)
        .filter(|_| parameter.starts_with('<'))
        .ok_or_else(|| WireError::malformed("a reference parameter that is not an element"))?;
    let (head, rest) = parameter.split_at(name_end);
    out.push_str(head);
    if parameter.contains("xmlns:wsa=") {
        // The element binds `wsa` itself; mark it through a prefix of its
        // own.
        attribute(out, "xmlns:wsa-ref", WSA_2005);
        out.push_str(r#" wsa-ref:IsReferenceParameter="true""#);
    } else {
        out.push_str(r#" wsa:IsReferenceParameter="true""#);
    }
    out.push_str(rest);
    Ok(())
}

fn write_context(out: &mut String, name: &str, context: &CoordinationContext, header: bool) {
    out.push('<');
    out.push_str(name);
    if header {
        out.push_str(r#" s:mustUnderstand="1""#);
    }
    out.push('>');
    text_element(out, "wscoor:Identifier", &context.identifier);
    if let Some(expires) = context.expires {
        text_element(out, "wscoor:Expires", &expires.to_string());
    }
    text_element(out, "wscoor:CoordinationType", &context.coordination_type);
    write_epr(
        out,
        "wscoor:RegistrationService",
        &context.registration_service,
    );
    for extension in &context.extensions {
        out.push_str(extension);
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn write_create(out: &mut String, create: &CreateCoordinationContext) {
    out.push_str("<wscoor:CreateCoordinationContext>");
    if let Some(expires) = create.expires {
        text_element(out, "wscoor:Expires", &expires.to_string());
    }
    if let Some(current) = &create.current_context {
        write_context(out, "wscoor:CurrentContext", current, false);
    }
    text_element(out, "wscoor:CoordinationType", &create.coordination_type);
    out.push_str("</wscoor:CreateCoordinationContext>");
}

fn write_register(out: &mut String, register: &Register) {
    out.push_str("<wscoor:Register>");
    text_element(
        out,
        "wscoor:ProtocolIdentifier",
        &register.protocol_identifier,
    );
    write_epr(
        out,
        "wscoor:ParticipantProtocolService",
        &register.participant_protocol_service,
    );
    out.push_str("</wscoor:Register>");
}

/// The fault body: SOAP 1.1 `faultcode` = the fault's QName; SOAP 1.2
/// `Code` = `Sender` with the QName as `Subcode`, as WS-C §4 and WS-AT §5
/// prescribe.
fn write_fault(out: &mut String, soap: SoapVersion, version: WsTxVersion, fault: &WireFault) {
    let kind = fault.kind.in_version(version);
    let prefix = if kind.is_wsat() { "wsat" } else { "wscoor" };
    let qname = format!("{prefix}:{}", kind.local_name());
    out.push_str("<s:Fault>");
    match soap {
        SoapVersion::Soap11 => {
            text_element(out, "faultcode", &qname);
            text_element(out, "faultstring", &fault.reason);
        }
        SoapVersion::Soap12 => {
            out.push_str("<s:Code><s:Value>s:Sender</s:Value><s:Subcode>");
            text_element(out, "s:Value", &qname);
            out.push_str(r#"</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">"#);
            escape_into(out, &fault.reason);
            out.push_str("</s:Text></s:Reason>");
        }
    }
    out.push_str("</s:Fault>");
}
