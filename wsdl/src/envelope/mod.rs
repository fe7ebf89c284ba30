//! SOAP envelopes: the model a reader produces, the streaming reader and
//! the writer of response envelopes.
//!
//! The model holds no copy of the message: header blocks and the body
//! payload are byte ranges into the input, so a caller holding the input
//! as [`bytes::Bytes`] can pass a part on with `Bytes::slice`.
//! [`EnvelopeRanges`] goes further for a server's request path: the
//! namespace declarations stay in the input too, and are only copied into
//! an [`Envelope`] when something asks for them.

mod reader;
mod writer;

use std::ops::Range;

pub use reader::{
    BodyValidation, read_envelope, read_envelope_ranges_validating, read_envelope_validating,
};
pub use writer::{EnvelopeWriter, write_envelope};

use crate::error::ReadError;
use crate::qname::{NamespaceBinding, QName};
use crate::scan::declared_namespaces_in_tag;
use crate::version::{
    SOAP11_ACTOR_NEXT, SOAP12_ROLE_NEXT, SOAP12_ROLE_NONE, SOAP12_ROLE_ULTIMATE_RECEIVER,
    SoapVersion,
};

/// A SOAP envelope as read from a message: its version, its header blocks
/// and where its body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The SOAP version, from the envelope's namespace.
    pub version: SoapVersion,
    /// The namespace declarations made on the `Envelope` element itself.
    pub namespaces: Vec<NamespaceBinding>,
    /// The `Header` element, if the envelope has one.
    pub header: Option<Header>,
    /// The `Body` element.
    pub body: Body,
}

/// The `Header` element of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header blocks, in document order.
    pub blocks: Vec<HeaderBlock>,
    /// The namespace declarations made on the `Header` element itself; see
    /// [`Envelope::header_scope`] for all those a block may depend on.
    pub namespaces: Vec<NamespaceBinding>,
}

/// One header block: a child element of `Header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBlock {
    /// The block's name; always namespace-qualified.
    pub name: QName,
    /// Whether the block carries `mustUnderstand` set to true (`1` in
    /// SOAP 1.1; `1` or `true` in SOAP 1.2).
    pub must_understand: bool,
    /// The node the block targets: SOAP 1.1's `actor` or SOAP 1.2's `role`,
    /// or `None` for the ultimate receiver.
    pub role: Option<String>,
    /// SOAP 1.2's `relay` attribute; always false in SOAP 1.1.
    pub relay: bool,
    /// The bytes of the whole block, start tag to end tag, in the input.
    pub range: Range<usize>,
}

/// The `Body` element of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The bytes between the end of `<Body …>` and the start of `</Body>`,
    /// which is empty for `<Body/>`.
    pub payload: Range<usize>,
    /// The first child element, which names the operation in most styles.
    pub first_child: Option<BodyEntry>,
    /// The number of child elements.
    pub child_count: usize,
    /// The namespace declarations made on the `Body` element itself; see
    /// [`Envelope::body_scope`] for all those the payload may depend on.
    pub namespaces: Vec<NamespaceBinding>,
}

/// A child element of `Body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyEntry {
    /// The element's name.
    pub name: QName,
    /// The bytes of the whole element, start tag to end tag, in the input.
    pub range: Range<usize>,
}

impl Envelope {
    /// The name of the body's first child element, by which a request is
    /// dispatched when no SOAP action decides.
    pub fn body_name(&self) -> Option<&QName> {
        self.body.first_child.as_ref().map(|entry| &entry.name)
    }

    /// The header blocks (empty when there is no `Header`).
    pub fn header_blocks(&self) -> &[HeaderBlock] {
        self.header.as_ref().map_or(&[], |header| &header.blocks)
    }

    /// The namespace declarations in scope inside the `Body`: those of the
    /// `Envelope`, overridden by those of the `Body`. A parser of the
    /// payload bytes alone needs them to resolve prefixes bound outside it.
    pub fn body_scope(&self) -> Vec<NamespaceBinding> {
        scope(&self.namespaces, &self.body.namespaces)
    }

    /// The namespace declarations in scope inside the `Header` (those of
    /// the `Envelope`, overridden by those of the `Header`), which the raw
    /// bytes of a header block may depend on.
    pub fn header_scope(&self) -> Vec<NamespaceBinding> {
        let header = self
            .header
            .as_ref()
            .map_or(&[][..], |header| &header.namespaces);
        scope(&self.namespaces, header)
    }

    /// Tells whether the body holds a SOAP fault of this envelope's version.
    pub fn is_fault(&self) -> bool {
        self.body_name()
            .is_some_and(|name| name.is(self.version.namespace(), "Fault"))
    }

    /// Checks SOAP's `mustUnderstand` rule for a node acting as ultimate
    /// receiver and in the extra `roles` given.
    ///
    /// Every header block targeted at this node, marked `mustUnderstand`
    /// and for which `understood` returns false is listed, in document
    /// order, in a [`ReadError::NotUnderstood`], which answers a
    /// `MustUnderstand` fault.
    pub fn check_must_understand(
        &self,
        roles: &[&str],
        mut understood: impl FnMut(&QName) -> bool,
    ) -> Result<(), ReadError> {
        let missing: Vec<QName> = self
            .header_blocks()
            .iter()
            .filter(|block| {
                block.must_understand
                    && block.targets(self.version, roles)
                    && !understood(&block.name)
            })
            .map(|block| block.name.clone())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ReadError::NotUnderstood(missing))
        }
    }
}

/// An envelope as [`read_envelope_ranges_validating`] reads it: the
/// [`Envelope`] without its namespace declarations, and where the start
/// tags that make them are in the input.
///
/// Every method that needs declarations takes the input the envelope was
/// read from; given other bytes, they answer nonsense (never a panic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRanges {
    /// The envelope, its `namespaces` fields empty.
    pub(crate) envelope: Envelope,
    /// The `Envelope` start tag.
    pub(crate) envelope_tag: Range<usize>,
    /// The `Header` start tag, if any.
    pub(crate) header_tag: Option<Range<usize>>,
    /// The `Body` start tag.
    pub(crate) body_tag: Range<usize>,
}

impl EnvelopeRanges {
    /// The SOAP version, from the envelope's namespace.
    pub fn version(&self) -> SoapVersion {
        self.envelope.version
    }

    /// The `Body`, its `namespaces` empty.
    pub fn body(&self) -> &Body {
        &self.envelope.body
    }

    /// The header blocks (empty when there is no `Header`).
    pub fn header_blocks(&self) -> &[HeaderBlock] {
        self.envelope.header_blocks()
    }

    /// The name of the body's first child element.
    pub fn body_name(&self) -> Option<&QName> {
        self.envelope.body_name()
    }

    /// Tells whether the body holds a SOAP fault of this envelope's version.
    pub fn is_fault(&self) -> bool {
        self.envelope.is_fault()
    }

    /// Checks SOAP's `mustUnderstand` rule, as
    /// [`Envelope::check_must_understand`] does.
    pub fn check_must_understand(
        &self,
        roles: &[&str],
        understood: impl FnMut(&QName) -> bool,
    ) -> Result<(), ReadError> {
        self.envelope.check_must_understand(roles, understood)
    }

    /// The namespace declarations in scope inside the `Body`, as
    /// [`Envelope::body_scope`] gives them.
    pub fn body_scope(&self, input: &[u8]) -> Vec<NamespaceBinding> {
        scope(
            &tag_namespaces(input, &self.envelope_tag),
            &tag_namespaces(input, &self.body_tag),
        )
    }

    /// The namespace declarations in scope inside the `Header`, as
    /// [`Envelope::header_scope`] gives them.
    pub fn header_scope(&self, input: &[u8]) -> Vec<NamespaceBinding> {
        let header = self
            .header_tag
            .as_ref()
            .map(|tag| tag_namespaces(input, tag))
            .unwrap_or_default();
        scope(&tag_namespaces(input, &self.envelope_tag), &header)
    }

    /// The full [`Envelope`], its declarations copied from `input`.
    pub fn envelope(&self, input: &[u8]) -> Envelope {
        self.clone().into_envelope(input)
    }

    /// The full [`Envelope`], its declarations copied from `input`.
    pub fn into_envelope(self, input: &[u8]) -> Envelope {
        let mut envelope = self.envelope;
        envelope.namespaces = tag_namespaces(input, &self.envelope_tag);
        if let (Some(header), Some(tag)) = (envelope.header.as_mut(), &self.header_tag) {
            header.namespaces = tag_namespaces(input, tag);
        }
        envelope.body.namespaces = tag_namespaces(input, &self.body_tag);
        envelope
    }
}

/// The declarations of the start tag at `range` in `input`.
fn tag_namespaces(input: &[u8], range: &Range<usize>) -> Vec<NamespaceBinding> {
    input
        .get(range.clone())
        .map(declared_namespaces_in_tag)
        .unwrap_or_default()
}

/// The bindings of `outer` not redeclared by `inner`, then those of
/// `inner`.
fn scope(outer: &[NamespaceBinding], inner: &[NamespaceBinding]) -> Vec<NamespaceBinding> {
    outer
        .iter()
        .filter(|binding| !inner.iter().any(|own| own.prefix == binding.prefix))
        .chain(inner)
        .cloned()
        .collect()
}

impl HeaderBlock {
    /// Tells whether this block targets a node that acts as ultimate
    /// receiver and plays the extra `roles` given.
    ///
    /// A block without a role targets the ultimate receiver; the "next"
    /// role targets every node; SOAP 1.2's "none" role targets none.
    pub fn targets(&self, version: SoapVersion, roles: &[&str]) -> bool {
        let Some(role) = self.role.as_deref() else {
            return true;
        };
        let role_is_special = match version {
            SoapVersion::Soap11 => role == SOAP11_ACTOR_NEXT,
            SoapVersion::Soap12 => {
                if role == SOAP12_ROLE_NONE {
                    return false;
                }
                role == SOAP12_ROLE_NEXT || role == SOAP12_ROLE_ULTIMATE_RECEIVER
            }
        };
        role_is_special || roles.contains(&role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(role: Option<&str>, must_understand: bool) -> HeaderBlock {
        HeaderBlock {
            name: QName::new("urn:h", "H"),
            must_understand,
            role: role.map(str::to_owned),
            relay: false,
            range: 0..0,
        }
    }

    #[test]
    fn scopes_let_inner_declarations_win() {
        let binding = |prefix: Option<&str>, uri: &str| NamespaceBinding {
            prefix: prefix.map(str::to_owned),
            uri: uri.to_owned(),
        };
        let outer = [binding(Some("a"), "urn:outer"), binding(None, "urn:d")];
        let inner = [binding(Some("a"), "urn:inner")];
        assert_eq!(
            scope(&outer, &inner),
            vec![binding(None, "urn:d"), binding(Some("a"), "urn:inner")]
        );
        assert_eq!(scope(&outer, &[]), outer.to_vec());
    }

    #[test]
    fn roles_target_as_the_specifications_say() {
        use SoapVersion::*;
        assert!(block(None, true).targets(Soap11, &[]));
        assert!(block(Some(SOAP11_ACTOR_NEXT), true).targets(Soap11, &[]));
        assert!(!block(Some(SOAP12_ROLE_NEXT), true).targets(Soap11, &[]));
        assert!(!block(Some("urn:other"), true).targets(Soap11, &[]));
        assert!(block(Some("urn:other"), true).targets(Soap11, &["urn:other"]));
        assert!(block(Some(SOAP12_ROLE_NEXT), true).targets(Soap12, &[]));
        assert!(block(Some(SOAP12_ROLE_ULTIMATE_RECEIVER), true).targets(Soap12, &[]));
        assert!(!block(Some(SOAP12_ROLE_NONE), true).targets(Soap12, &[SOAP12_ROLE_NONE]));
        assert!(block(Some("urn:me"), true).targets(Soap12, &["urn:me"]));
    }
}
