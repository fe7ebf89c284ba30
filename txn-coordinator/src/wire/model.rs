//! The messages of WS-Coordination and WS-AT as values: the SOAP envelope
//! with its WS-Addressing headers and optional CoordinationContext header,
//! and the body (activation, registration, notification or fault).

use ithaca_wsdl::SoapVersion;

use crate::engine;
use crate::record::EndpointRef;
use crate::wire::WireError;
use crate::wire::names::{Notification, WsTxVersion, wscoor_action};
use crate::wire::xml::split_fragment;

/// A WS-Addressing endpoint reference: an address and the reference
/// parameters to echo as headers on every message sent to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct EndpointReference {
    /// `wsa:Address`.
    pub address: String,
    /// Each child of `wsa:ReferenceParameters` (and, in 2004/08, of
    /// `wsa:ReferenceProperties`) as one self-contained XML element: every
    /// namespace binding it uses is declared on it.
    pub reference_parameters: Vec<String>,
}

impl EndpointReference {
    /// An endpoint reference with no reference parameters.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            reference_parameters: Vec::new(),
        }
    }

    /// The anonymous endpoint of `version`'s WS-Addressing.
    pub fn anonymous(version: WsTxVersion) -> Self {
        Self::new(version.anonymous())
    }

    /// Whether the address is anonymous (in either WS-Addressing version).
    pub fn is_anonymous(&self) -> bool {
        WsTxVersion::is_anonymous(&self.address)
    }

    /// The form the engine and the log keep: the reference parameters
    /// concatenated.
    pub fn to_record(&self) -> EndpointRef {
        EndpointRef {
            address: self.address.clone(),
            reference_parameters: self.reference_parameters.concat(),
        }
    }

    /// Splits a kept endpoint reference back into its elements, checking
    /// that they are well-formed, self-contained elements.
    pub fn from_record(record: &EndpointRef) -> Result<Self, WireError> {
        Ok(Self {
            address: record.address.clone(),
            reference_parameters: split_fragment(&record.reference_parameters)?,
        })
    }
}

/// The WS-Addressing message headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Addressing {
    /// `wsa:To`: the destination address.
    pub to: Option<String>,
    /// `wsa:Action`. When writing, `None` writes the body's own Action.
    pub action: Option<String>,
    /// `wsa:MessageID`.
    pub message_id: Option<String>,
    /// `wsa:RelatesTo`: the MessageID this message answers.
    pub relates_to: Option<String>,
    /// `wsa:ReplyTo`.
    pub reply_to: Option<EndpointReference>,
    /// `wsa:FaultTo`.
    pub fault_to: Option<EndpointReference>,
    /// `wsa:From`.
    pub from: Option<EndpointReference>,
}

/// A `wscoor:CoordinationContext`, sent as a SOAP header on application
/// messages and returned by activation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CoordinationContext {
    /// `wscoor:Identifier`: the activity's URI.
    pub identifier: String,
    /// `wscoor:Expires`: milliseconds the activity may live.
    pub expires: Option<u32>,
    /// `wscoor:CoordinationType` (the WS-AT namespace for atomic
    /// transactions).
    pub coordination_type: String,
    /// `wscoor:RegistrationService`: where participants register.
    pub registration_service: EndpointReference,
    /// Extension elements after the standard ones (such as WCF's `mstx:`
    /// elements), each self-contained XML.
    pub extensions: Vec<String>,
}

/// `wscoor:CreateCoordinationContext`: the activation request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateCoordinationContext {
    /// `wscoor:Expires`: the requested lifetime in milliseconds.
    pub expires: Option<u32>,
    /// `wscoor:CurrentContext`: a superior's context (interposition).
    pub current_context: Option<CoordinationContext>,
    /// `wscoor:CoordinationType`.
    pub coordination_type: String,
}

/// `wscoor:Register`: a participant asks to take part in a protocol.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Register {
    /// `wscoor:ProtocolIdentifier`, kept as received (see
    /// [`WsTxVersion::protocol_from_uri`]).
    pub protocol_identifier: String,
    /// `wscoor:ParticipantProtocolService`: where the coordinator sends
    /// this participant's protocol messages.
    pub participant_protocol_service: EndpointReference,
}

/// A fault of WS-Coordination (§4) or WS-AT (§5), either version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// `wscoor:InvalidState`.
    InvalidState,
    /// `wscoor:InvalidProtocol`.
    InvalidProtocol,
    /// `wscoor:InvalidParameters`.
    InvalidParameters,
    /// `wscoor:CannotCreateContext` (2006/06).
    CannotCreateContext,
    /// `wscoor:CannotRegisterParticipant` (2006/06).
    CannotRegisterParticipant,
    /// `wsat:InconsistentInternalState`.
    InconsistentInternalState,
    /// `wsat:UnknownTransaction` (2006/06).
    UnknownTransaction,
    /// `wscoor:AlreadyRegistered` (2004/10).
    AlreadyRegistered,
    /// `wscoor:ContextRefused` (2004/10).
    ContextRefused,
    /// `wscoor:NoActivity` (2004/10).
    NoActivity,
}

impl FaultKind {
    /// Every fault, 2006/06 first.
    pub const ALL: [Self; 10] = [
        Self::InvalidState,
        Self::InvalidProtocol,
        Self::InvalidParameters,
        Self::CannotCreateContext,
        Self::CannotRegisterParticipant,
        Self::InconsistentInternalState,
        Self::UnknownTransaction,
        Self::AlreadyRegistered,
        Self::ContextRefused,
        Self::NoActivity,
    ];

    /// The fault's local name.
    pub const fn local_name(self) -> &'static str {
        match self {
            Self::InvalidState => "InvalidState",
            Self::InvalidProtocol => "InvalidProtocol",
            Self::InvalidParameters => "InvalidParameters",
            Self::CannotCreateContext => "CannotCreateContext",
            Self::CannotRegisterParticipant => "CannotRegisterParticipant",
            Self::InconsistentInternalState => "InconsistentInternalState",
            Self::UnknownTransaction => "UnknownTransaction",
            Self::AlreadyRegistered => "AlreadyRegistered",
            Self::ContextRefused => "ContextRefused",
            Self::NoActivity => "NoActivity",
        }
    }

    /// Whether the fault is WS-AT's (else WS-Coordination's).
    pub const fn is_wsat(self) -> bool {
        matches!(
            self,
            Self::InconsistentInternalState | Self::UnknownTransaction
        )
    }

    /// Whether `version` defines this fault.
    pub const fn exists_in(self, version: WsTxVersion) -> bool {
        match self {
            Self::InvalidState
            | Self::InvalidProtocol
            | Self::InvalidParameters
            | Self::InconsistentInternalState => true,
            Self::CannotCreateContext
            | Self::CannotRegisterParticipant
            | Self::UnknownTransaction => {
                matches!(version, WsTxVersion::Jun2006)
            }
            Self::AlreadyRegistered | Self::ContextRefused | Self::NoActivity => {
                matches!(version, WsTxVersion::Oct2004)
            }
        }
    }

    /// The fault written in `version`: itself when the version defines it;
    /// otherwise the closest one it has (2004/10 has no
    /// CannotCreateContext, CannotRegisterParticipant or
    /// UnknownTransaction, and answers InvalidState for each, as WS-C 1.0
    /// does for a request the activity's state refuses; 2006/06 answers
    /// InvalidState for AlreadyRegistered and NoActivity, and
    /// CannotCreateContext for ContextRefused).
    pub const fn in_version(self, version: WsTxVersion) -> Self {
        if self.exists_in(version) {
            return self;
        }
        match self {
            Self::ContextRefused => Self::CannotCreateContext,
            _ => Self::InvalidState,
        }
    }

    /// The namespace of the fault's QName in `version`.
    pub const fn namespace(self, version: WsTxVersion) -> &'static str {
        if self.is_wsat() {
            version.wsat()
        } else {
            version.wscoor()
        }
    }

    /// The fault's WS-Addressing Action in `version`.
    pub fn action(self, version: WsTxVersion) -> String {
        format!("{}/fault", self.namespace(version))
    }

    /// The fault named by this namespace and local name, with its version.
    pub fn from_qname(namespace: &str, local: &str) -> Option<(Self, WsTxVersion)> {
        let version = WsTxVersion::from_namespace(namespace)?;
        let kind = Self::ALL.into_iter().find(|kind| {
            kind.local_name() == local
                && kind.namespace(version) == namespace
                && kind.exists_in(version)
        })?;
        Some((kind, version))
    }

    /// A plain-English reason for the fault's `Reason`/`faultstring`.
    pub const fn default_reason(self) -> &'static str {
        match self {
            Self::InvalidState => "The message was invalid for the current state of the activity.",
            Self::InvalidProtocol => {
                "The protocol is invalid or is not supported by the coordinator."
            }
            Self::InvalidParameters => {
                "The message contained invalid parameters and could not be processed."
            }
            Self::CannotCreateContext => "CoordinationContext could not be created.",
            Self::CannotRegisterParticipant => "Participant could not be registered.",
            Self::InconsistentInternalState => {
                "A global consistency failure has occurred. This is an unrecoverable condition."
            }
            Self::UnknownTransaction => "The coordinator has no knowledge of the transaction.",
            Self::AlreadyRegistered => {
                "The participant has already registered for the same protocol."
            }
            Self::ContextRefused => {
                "The coordination context that was provided could not be accepted."
            }
            Self::NoActivity => "The participant is not responding and is presumed to have ended.",
        }
    }
}

impl From<engine::Fault> for FaultKind {
    fn from(fault: engine::Fault) -> Self {
        match fault {
            engine::Fault::InvalidState => Self::InvalidState,
            engine::Fault::InvalidProtocol => Self::InvalidProtocol,
            engine::Fault::InvalidParameters => Self::InvalidParameters,
            engine::Fault::CannotCreateContext => Self::CannotCreateContext,
            engine::Fault::CannotRegisterParticipant => Self::CannotRegisterParticipant,
            engine::Fault::InconsistentInternalState => Self::InconsistentInternalState,
            engine::Fault::UnknownTransaction => Self::UnknownTransaction,
        }
    }
}

/// A WS-Coordination or WS-AT fault as carried in a SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFault {
    /// Which fault.
    pub kind: FaultKind,
    /// The human-readable reason.
    pub reason: String,
}

impl WireFault {
    /// The fault with its default reason.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            reason: kind.default_reason().to_owned(),
        }
    }
}

/// The body of a WS-Coordination or WS-AT message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Activation request.
    CreateCoordinationContext(CreateCoordinationContext),
    /// Activation response: the new context.
    CreateCoordinationContextResponse(CoordinationContext),
    /// Registration request.
    Register(Register),
    /// Registration response: `wscoor:CoordinatorProtocolService`.
    RegisterResponse(EndpointReference),
    /// A WS-AT notification.
    Notification(Notification),
    /// A WS-Coordination or WS-AT fault.
    Fault(WireFault),
}

impl Body {
    /// The WS-Addressing Action this body is sent with in `version`.
    pub fn action(&self, version: WsTxVersion) -> String {
        match self {
            Self::CreateCoordinationContext(_) => {
                wscoor_action(version, "CreateCoordinationContext")
            }
            Self::CreateCoordinationContextResponse(_) => {
                wscoor_action(version, "CreateCoordinationContextResponse")
            }
            Self::Register(_) => wscoor_action(version, "Register"),
            Self::RegisterResponse(_) => wscoor_action(version, "RegisterResponse"),
            Self::Notification(notification) => notification.action(version),
            Self::Fault(fault) => fault.kind.in_version(version).action(version),
        }
    }
}

/// One WS-Coordination or WS-AT message: what [`decode`](crate::wire::decode)
/// reads and [`Message::encode`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The SOAP version of the envelope.
    pub soap: SoapVersion,
    /// The WS-TX version (and with it, the WS-Addressing version).
    pub version: WsTxVersion,
    /// The WS-Addressing headers.
    pub addressing: Addressing,
    /// Header blocks echoed from the destination's endpoint reference
    /// (written with `wsa:IsReferenceParameter="true"` in WS-Addressing
    /// 1.0; read from the blocks so marked, or in 2004/08, from every
    /// block outside WS-Addressing and WS-Coordination), each
    /// self-contained XML without the marker attribute.
    pub reference_parameters: Vec<String>,
    /// A `wscoor:CoordinationContext` header block.
    pub context: Option<CoordinationContext>,
    /// The body.
    pub body: Body,
}

impl Message {
    /// A message of `version` with this body and no headers yet.
    pub fn new(soap: SoapVersion, version: WsTxVersion, body: Body) -> Self {
        Self {
            soap,
            version,
            addressing: Addressing::default(),
            reference_parameters: Vec::new(),
            context: None,
            body,
        }
    }

    /// A message addressed to `to`: `wsa:To` its address and its reference
    /// parameters echoed as headers.
    pub fn to_endpoint(
        soap: SoapVersion,
        version: WsTxVersion,
        to: &EndpointReference,
        body: Body,
    ) -> Self {
        let mut message = Self::new(soap, version, body);
        message.addressing.to = Some(to.address.clone());
        message.reference_parameters = to.reference_parameters.clone();
        message
    }

    /// The Action of this message: the `wsa:Action` header when present,
    /// else the body's.
    pub fn action(&self) -> String {
        self.addressing
            .action
            .clone()
            .unwrap_or_else(|| self.body.action(self.version))
    }
}
