//! The decoder: one SOAP envelope in, one [`Message`] out.
//!
//! The envelope is first checked by `ithaca_wsdl::read_envelope` (no DTD,
//! only the predefined entities, every [`Limits`] bound); then one
//! streaming pass over quick-xml's namespace-aware reader picks out the
//! WS-Addressing headers, the reference parameters, the
//! CoordinationContext header and the body, bounding every string and
//! count by [`WireLimits`].

use ithaca_wsdl::xsd::BodyValidator;
use ithaca_wsdl::{ContentType, Limits, read_envelope_ranges_validating, read_fault};
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use crate::wire::model::{
    Addressing, Body, CoordinationContext, CreateCoordinationContext, EndpointReference, FaultKind,
    Message, Register, WireFault,
};
use crate::wire::names::{
    Notification, WSA_2004, WSA_2005, WSAT_2004, WSAT_2006, WSCOOR_2004, WSCOOR_2006, WsTxVersion,
};
use crate::wire::xml::{capture_element, read_text};
use crate::wire::{WireError, WireLimits};

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The namespaces the decoder tells apart; any other is as good as none.
const KNOWN_NAMESPACES: [&str; 8] = [
    ithaca_wsdl::SOAP11_ENVELOPE_NS,
    ithaca_wsdl::SOAP12_ENVELOPE_NS,
    WSA_2005,
    WSA_2004,
    WSCOOR_2006,
    WSCOOR_2004,
    WSAT_2006,
    WSAT_2004,
];

/// One child element: its namespace when it is one of
/// [`KNOWN_NAMESPACES`], its start tag and whether it was an
/// empty-element tag. Nothing is copied out of the input.
struct Child<'i> {
    namespace: Option<&'static str>,
    start: BytesStart<'i>,
    empty: bool,
}

impl Child<'_> {
    fn is(&self, namespace: &str, local: &str) -> bool {
        self.namespace == Some(namespace) && self.local() == local
    }

    fn is_in(&self, namespace: &str) -> bool {
        self.namespace == Some(namespace)
    }

    /// The element's local name.
    fn local(&self) -> &str {
        self.start.local_name().into_inner()
    }
}

/// The pass over one envelope.
struct Decoder<'i> {
    reader: NsReader<&'i [u8]>,
    input: &'i [u8],
    limits: WireLimits,
}

/// Reads a WS-Coordination or WS-AT message.
///
/// `content_type`, when given, must announce the envelope's SOAP version.
/// Every failure is a [`WireError`]; see [`WireError::fault`] for the
/// fault to answer. Never panics, whatever the input.
pub fn decode(
    input: &[u8],
    content_type: Option<&ContentType>,
    limits: &Limits,
    wire: &WireLimits,
) -> Result<Message, WireError> {
    // The ranges form: nothing of the envelope is copied that this pass
    // reads again anyway.
    let (envelope, _) =
        read_envelope_ranges_validating(input, content_type, limits, |_| None::<BodyValidator>)
            .map_err(WireError::Envelope)?;
    let fault = if envelope.is_fault() {
        let (_, fault) = read_fault(input, limits).map_err(WireError::Envelope)?;
        let found = fault.subcodes.iter().find_map(|code| {
            FaultKind::from_qname(code.namespace.as_deref().unwrap_or_default(), &code.local)
        });
        let (kind, version) = found.ok_or(WireError::NotWsTx)?;
        let mut reason = fault.reason().to_owned();
        if reason.len() > wire.max_reason_len {
            return Err(WireError::TooLong("fault reason"));
        }
        reason.shrink_to_fit();
        Some((WireFault { kind, reason }, version))
    } else {
        None
    };
    let body_input = input.strip_prefix(BOM).unwrap_or(input);
    let mut decoder = Decoder {
        reader: NsReader::from_reader(body_input),
        input: body_input,
        limits: *wire,
    };
    decoder.reader.config_mut().trim_text(false);
    decoder.envelope(envelope.version(), fault)
}

/// A `wsa:Action` header must name the body's message (WS-Addressing 1.0
/// §3.3: the Action identifies the semantics of the message). Faults are
/// not checked: peers send them with WS-C's, WS-AT's, WS-Addressing's or
/// SOAP's fault Action alike.
fn check_action(action: Option<&str>, body: &Body, version: WsTxVersion) -> Result<(), WireError> {
    let Some(action) = action else {
        return Ok(());
    };
    if matches!(body, Body::Fault(_)) {
        return Ok(());
    }
    let expected = body.action(version);
    if action.trim() == expected {
        return Ok(());
    }
    let mut shown = action.to_owned();
    if shown.len() > 256 {
        let mut cut = 256;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
    }
    Err(WireError::ActionMismatch {
        action: shown,
        expected,
    })
}

impl<'i> Decoder<'i> {
    fn envelope(
        &mut self,
        soap: ithaca_wsdl::SoapVersion,
        fault: Option<(WireFault, WsTxVersion)>,
    ) -> Result<Message, WireError> {
        let soap_ns = soap.namespace();
        // The root element (read_envelope checked it is the Envelope).
        self.next_child()?.ok_or(WireError::Missing("Envelope"))?;
        let mut headers = Headers::default();
        let mut body = None;
        while let Some(child) = self.next_child()? {
            if child.is(soap_ns, "Header") && !child.empty {
                self.header(&mut headers)?;
            } else if child.is(soap_ns, "Body") && !child.empty && fault.is_none() {
                body = Some(self.body()?);
            } else {
                self.skip(&child)?;
            }
        }
        let (body, version) = match fault {
            Some((fault, version)) => (Body::Fault(fault), version),
            None => body.ok_or(WireError::Missing("a body element"))?,
        };
        let mut reference_parameters = headers.marked;
        if version == WsTxVersion::Oct2004 {
            if headers.overflow {
                return Err(WireError::TooMany("header blocks"));
            }
            reference_parameters.extend(headers.unmarked);
        }
        if reference_parameters.len() > self.limits.max_reference_parameters {
            return Err(WireError::TooMany("reference parameters"));
        }
        check_action(headers.addressing.action.as_deref(), &body, version)?;
        Ok(Message {
            soap,
            version,
            addressing: headers.addressing,
            reference_parameters,
            context: headers.context,
            body,
        })
    }

    /// The next child element of the element being read, or `None` at its
    /// end tag. Text, comments and processing instructions are skipped.
    fn next_child(&mut self) -> Result<Option<Child<'i>>, WireError> {
        loop {
            let (resolved, event) = self.reader.read_resolved_event().map_err(WireError::xml)?;
            let namespace = match resolved {
                ResolveResult::Bound(namespace) => {
                    let namespace = namespace.into_inner();
                    KNOWN_NAMESPACES
                        .into_iter()
                        .find(|known| *known == namespace)
                }
                ResolveResult::Unbound => None,
                ResolveResult::Unknown(_) => return Err(WireError::malformed("an unbound prefix")),
            };
            let (start, empty) = match event {
                Event::Start(start) => (start, false),
                Event::Empty(start) => (start, true),
                Event::End(_) | Event::Eof => return Ok(None),
                Event::DocType(_) => return Err(WireError::malformed("a DOCTYPE")),
                _ => continue,
            };
            return Ok(Some(Child {
                namespace,
                start,
                empty,
            }));
        }
    }

    fn skip(&mut self, child: &Child<'i>) -> Result<(), WireError> {
        if !child.empty {
            self.reader
                .read_to_end(child.start.name())
                .map_err(WireError::xml)?;
        }
        Ok(())
    }

    fn text(&mut self, child: &Child<'i>, what: &'static str) -> Result<String, WireError> {
        if child.empty {
            return Ok(String::new());
        }
        let text = read_text(&mut self.reader, what, self.limits.max_uri_len)?;
        Ok(text
            .trim_matches(|c: char| c.is_ascii_whitespace())
            .to_owned())
    }

    fn capture(
        &mut self,
        child: &Child<'i>,
        max: usize,
        what: &'static str,
        drop_reference_marker: bool,
    ) -> Result<String, WireError> {
        capture_element(
            &mut self.reader,
            self.input,
            &child.start,
            child.empty,
            max,
            what,
            |namespace, local| {
                drop_reference_marker
                    && local == "IsReferenceParameter"
                    && matches!(namespace, ResolveResult::Bound(ns) if ns.as_ref() == WSA_2005)
            },
        )
    }

    fn header(&mut self, headers: &mut Headers) -> Result<(), WireError> {
        while let Some(child) = self.next_child()? {
            let namespace = child.namespace.unwrap_or_default();
            let marked = is_reference_parameter(&self.reader, &child.start);
            if marked {
                let block = self.capture(
                    &child,
                    self.limits.max_reference_parameter_len,
                    "reference parameter",
                    true,
                )?;
                push_bounded(
                    &mut headers.marked,
                    block,
                    self.limits.max_reference_parameters,
                )?;
            } else if namespace == WSA_2005 || namespace == WSA_2004 {
                self.addressing_header(&child, &mut headers.addressing)?;
            } else if child.local() == "CoordinationContext"
                && let Some(version) = WsTxVersion::from_namespace(namespace)
                && namespace == version.wscoor()
            {
                if headers.context.is_some() {
                    return Err(WireError::TooMany("CoordinationContext headers"));
                }
                headers.context = Some(self.context(&child, version)?);
            } else if headers.unmarked.len() >= self.limits.max_reference_parameters {
                headers.overflow = true;
                self.skip(&child)?;
            } else {
                // Only WS-Addressing 2004/08 needs these (its reference
                // parameters are unmarked); the body tells the version
                // later, so an oversized one only counts against it then.
                match self.capture(
                    &child,
                    self.limits.max_reference_parameter_len,
                    "header block",
                    false,
                ) {
                    Ok(block) => headers.unmarked.push(block),
                    Err(WireError::TooLong(_)) => headers.overflow = true,
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(())
    }

    fn addressing_header(
        &mut self,
        child: &Child<'i>,
        addressing: &mut Addressing,
    ) -> Result<(), WireError> {
        let slot = match child.local() {
            "To" => &mut addressing.to,
            "Action" => &mut addressing.action,
            "MessageID" => &mut addressing.message_id,
            "RelatesTo" => &mut addressing.relates_to,
            "ReplyTo" => return set_once(&mut addressing.reply_to, self.epr(child)?, "ReplyTo"),
            "FaultTo" => return set_once(&mut addressing.fault_to, self.epr(child)?, "FaultTo"),
            "From" => return set_once(&mut addressing.from, self.epr(child)?, "From"),
            _ => return self.skip(child),
        };
        let what = match child.local() {
            "To" => "To",
            "Action" => "Action",
            "MessageID" => "MessageID",
            _ => "RelatesTo",
        };
        let text = self.text(child, what)?;
        set_once(slot, text, what)
    }

    /// An endpoint reference (either WS-Addressing version).
    fn epr(&mut self, element: &Child<'i>) -> Result<EndpointReference, WireError> {
        if element.empty {
            return Err(WireError::Missing("Address"));
        }
        let mut address = None;
        let mut reference_parameters = Vec::new();
        while let Some(child) = self.next_child()? {
            let in_wsa = child.is_in(WSA_2005) || child.is_in(WSA_2004);
            match child.local() {
                "Address" if in_wsa => {
                    let text = self.text(&child, "Address")?;
                    set_once(&mut address, text, "Address")?;
                }
                "ReferenceParameters" | "ReferenceProperties" if in_wsa && !child.empty => {
                    while let Some(parameter) = self.next_child()? {
                        let raw = self.capture(
                            &parameter,
                            self.limits.max_reference_parameter_len,
                            "reference parameter",
                            false,
                        )?;
                        push_bounded(
                            &mut reference_parameters,
                            raw,
                            self.limits.max_reference_parameters,
                        )?;
                    }
                }
                _ => self.skip(&child)?,
            }
        }
        let address = address.ok_or(WireError::Missing("Address"))?;
        if address.is_empty() {
            return Err(WireError::Invalid("Address"));
        }
        Ok(EndpointReference {
            address,
            reference_parameters,
        })
    }

    fn context(
        &mut self,
        element: &Child<'i>,
        version: WsTxVersion,
    ) -> Result<CoordinationContext, WireError> {
        if element.empty {
            return Err(WireError::Missing("Identifier"));
        }
        let wscoor = version.wscoor();
        let mut identifier = None;
        let mut expires = None;
        let mut coordination_type = None;
        let mut registration_service = None;
        let mut extensions = Vec::new();
        while let Some(child) = self.next_child()? {
            if child.is(wscoor, "Identifier") {
                set_once(
                    &mut identifier,
                    self.text(&child, "Identifier")?,
                    "Identifier",
                )?;
            } else if child.is(wscoor, "Expires") {
                set_once(&mut expires, self.expires(&child)?, "Expires")?;
            } else if child.is(wscoor, "CoordinationType") {
                let text = self.text(&child, "CoordinationType")?;
                set_once(&mut coordination_type, text, "CoordinationType")?;
            } else if child.is(wscoor, "RegistrationService") {
                let epr = self.epr(&child)?;
                set_once(&mut registration_service, epr, "RegistrationService")?;
            } else if child.is_in(wscoor) {
                self.skip(&child)?;
            } else {
                let raw = self.capture(
                    &child,
                    self.limits.max_extension_len,
                    "context extension",
                    false,
                )?;
                push_bounded(&mut extensions, raw, self.limits.max_extensions)?;
            }
        }
        let identifier = identifier.ok_or(WireError::Missing("Identifier"))?;
        if identifier.is_empty() {
            return Err(WireError::Invalid("Identifier"));
        }
        Ok(CoordinationContext {
            identifier,
            expires,
            coordination_type: coordination_type.ok_or(WireError::Missing("CoordinationType"))?,
            registration_service: registration_service
                .ok_or(WireError::Missing("RegistrationService"))?,
            extensions,
        })
    }

    fn expires(&mut self, child: &Child<'i>) -> Result<u32, WireError> {
        self.text(child, "Expires")?
            .parse::<u32>()
            .map_err(|_| WireError::Invalid("Expires"))
    }

    /// The body's first element, and the version its namespace names.
    fn body(&mut self) -> Result<(Body, WsTxVersion), WireError> {
        let child = self
            .next_child()?
            .ok_or(WireError::Missing("a body element"))?;
        let namespace = child.namespace.unwrap_or_default();
        let version = WsTxVersion::from_namespace(namespace).ok_or(WireError::NotWsTx)?;
        let body = if namespace == version.wsat() {
            let notification =
                Notification::from_local_name(child.local()).ok_or(WireError::NotWsTx)?;
            // The 2006/06 Replay action and element are tolerated on input
            // (WCF's dictionary defines them); only 2004/10 writes Replay.
            self.skip(&child)?;
            Body::Notification(notification)
        } else {
            match child.local() {
                "CreateCoordinationContext" => {
                    Body::CreateCoordinationContext(self.create(&child, version)?)
                }
                "CreateCoordinationContextResponse" => {
                    Body::CreateCoordinationContextResponse(self.create_response(&child, version)?)
                }
                "Register" => Body::Register(self.register(&child, version)?),
                "RegisterResponse" => {
                    Body::RegisterResponse(self.register_response(&child, version)?)
                }
                _ => return Err(WireError::NotWsTx),
            }
        };
        // Further body elements are not WS-TX's; leave them unread.
        Ok((body, version))
    }

    fn create(
        &mut self,
        element: &Child<'i>,
        version: WsTxVersion,
    ) -> Result<CreateCoordinationContext, WireError> {
        if element.empty {
            return Err(WireError::Missing("CoordinationType"));
        }
        let wscoor = version.wscoor();
        let mut expires = None;
        let mut current_context = None;
        let mut coordination_type = None;
        while let Some(child) = self.next_child()? {
            if child.is(wscoor, "Expires") {
                set_once(&mut expires, self.expires(&child)?, "Expires")?;
            } else if child.is(wscoor, "CurrentContext") {
                let context = self.context(&child, version)?;
                set_once(&mut current_context, context, "CurrentContext")?;
            } else if child.is(wscoor, "CoordinationType") {
                let text = self.text(&child, "CoordinationType")?;
                set_once(&mut coordination_type, text, "CoordinationType")?;
            } else {
                self.skip(&child)?;
            }
        }
        Ok(CreateCoordinationContext {
            expires,
            current_context,
            coordination_type: coordination_type.ok_or(WireError::Missing("CoordinationType"))?,
        })
    }

    fn create_response(
        &mut self,
        element: &Child<'i>,
        version: WsTxVersion,
    ) -> Result<CoordinationContext, WireError> {
        let mut context = None;
        if !element.empty {
            while let Some(child) = self.next_child()? {
                if child.is(version.wscoor(), "CoordinationContext") {
                    let read = self.context(&child, version)?;
                    set_once(&mut context, read, "CoordinationContext")?;
                } else {
                    self.skip(&child)?;
                }
            }
        }
        context.ok_or(WireError::Missing("CoordinationContext"))
    }

    fn register(
        &mut self,
        element: &Child<'i>,
        version: WsTxVersion,
    ) -> Result<Register, WireError> {
        let wscoor = version.wscoor();
        let mut protocol_identifier = None;
        let mut service = None;
        if !element.empty {
            while let Some(child) = self.next_child()? {
                if child.is(wscoor, "ProtocolIdentifier") {
                    let text = self.text(&child, "ProtocolIdentifier")?;
                    set_once(&mut protocol_identifier, text, "ProtocolIdentifier")?;
                } else if child.is(wscoor, "ParticipantProtocolService") {
                    let epr = self.epr(&child)?;
                    set_once(&mut service, epr, "ParticipantProtocolService")?;
                } else {
                    self.skip(&child)?;
                }
            }
        }
        Ok(Register {
            protocol_identifier: protocol_identifier
                .ok_or(WireError::Missing("ProtocolIdentifier"))?,
            participant_protocol_service: service
                .ok_or(WireError::Missing("ParticipantProtocolService"))?,
        })
    }

    fn register_response(
        &mut self,
        element: &Child<'i>,
        version: WsTxVersion,
    ) -> Result<EndpointReference, WireError> {
        let mut service = None;
        if !element.empty {
            while let Some(child) = self.next_child()? {
                if child.is(version.wscoor(), "CoordinatorProtocolService") {
                    let epr = self.epr(&child)?;
                    set_once(&mut service, epr, "CoordinatorProtocolService")?;
                } else {
                    self.skip(&child)?;
                }
            }
        }
        service.ok_or(WireError::Missing("CoordinatorProtocolService"))
    }
}

/// What the header pass collects.
#[derive(Default)]
struct Headers {
    addressing: Addressing,
    context: Option<CoordinationContext>,
    /// Blocks marked `wsa:IsReferenceParameter="true"`.
    marked: Vec<String>,
    /// Other blocks: the reference parameters of WS-Addressing 2004/08.
    unmarked: Vec<String>,
    /// Whether other blocks were too many or too large to keep.
    overflow: bool,
}

/// Whether a header block carries `wsa:IsReferenceParameter="true"`
/// (WS-Addressing 1.0).
fn is_reference_parameter(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> bool {
    start.attributes().flatten().any(|attribute| {
        let (resolved, local) = reader.resolver().resolve_attribute(attribute.key);
        matches!(resolved, ResolveResult::Bound(ns) if ns.as_ref() == WSA_2005)
            && local.as_ref() == "IsReferenceParameter"
            && matches!(attribute.value.trim(), "true" | "1")
    })
}

fn set_once<T>(slot: &mut Option<T>, value: T, what: &'static str) -> Result<(), WireError> {
    if slot.is_some() {
        return Err(WireError::TooMany(what));
    }
    *slot = Some(value);
    Ok(())
}

fn push_bounded(list: &mut Vec<String>, item: String, max: usize) -> Result<(), WireError> {
    if list.len() >= max {
        return Err(WireError::TooMany("reference parameters or extensions"));
    }
    list.push(item);
    Ok(())
}
