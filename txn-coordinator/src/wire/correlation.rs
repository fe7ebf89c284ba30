//! Forgery-proof correlation: the reference parameter Ithaca puts into the
//! endpoint references it hands out (the RegistrationService of a context,
//! the CoordinatorProtocolService of a registration), and checks on every
//! message that comes back through them.
//!
//! The parameter names the transaction and, for a protocol endpoint, the
//! participant and its protocol, and carries an HMAC-SHA-256 of them under
//! a secret key of the coordinator. Without the key nobody can name
//! another transaction or participant: a missing or altered parameter is
//! refused before the engine sees the message.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use sha2::Sha256;

use crate::engine::Protocol;
use crate::record::{ParticipantId, TxId};
use crate::wire::xml::escape_into;

/// The namespace of Ithaca's correlation reference parameter.
pub const CORRELATION_NS: &str = "urn:ithaca:ws-tx:correlation";
/// Its local name.
pub const CORRELATION_ELEMENT: &str = "Correlation";
/// The longest transaction identifier a correlation carries.
const MAX_TX_LEN: usize = 1024;
/// What the MAC covers before the fields, so that a tag cannot be
/// replayed by another use of the same key.
const DOMAIN: &[u8] = b"ithaca-ws-tx-correlation-v1";

/// What a correlation parameter names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Correlation {
    /// The transaction.
    pub tx: TxId,
    /// For a coordinator protocol endpoint: the registration and its
    /// protocol. `None` for the registration service.
    pub participant: Option<(ParticipantId, Protocol)>,
}

/// Why a message's correlation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CorrelationError {
    /// The message carried no correlation parameter.
    #[error("the message carries no Ithaca correlation reference parameter")]
    Missing,
    /// The parameter is malformed, repeated, or its MAC does not match.
    #[error("the correlation reference parameter is malformed or forged")]
    Forged,
}

/// The coordinator's secret key for correlation MACs (32 bytes). Its
/// `Debug` form never shows the key.
///
/// The key is expanded into HMAC's keyed state (and the domain fed) once,
/// when the key is made; each tag clones that state, so no message pays
/// for key derivation.
#[derive(Clone)]
pub struct CorrelationKey {
    /// HMAC-SHA-256 keyed with the key, the domain already fed.
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for CorrelationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CorrelationKey(..)")
    }
}

impl CorrelationKey {
    /// A key from 32 secret bytes (random, kept across restarts: the
    /// endpoint references handed out before a restart must still verify).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        // HMAC pads a key shorter than the hash's 64-byte block with
        // zeros; padding it here gives the fixed-size key `new` takes.
        let mut block = [0u8; 64];
        for (slot, byte) in block.iter_mut().zip(bytes) {
            *slot = byte;
        }
        let mut keyed = <Hmac<Sha256> as KeyInit>::new(&block.into());
        feed_part(&mut keyed, DOMAIN);
        Self { keyed }
    }

    /// The reference parameter element for `correlation`.
    pub fn sign(&self, correlation: &Correlation) -> String {
        let (participant, protocol) = fields(correlation);
        let tag = self.tag(&correlation.tx.0, &participant, protocol);
        let mut out = String::with_capacity(160 + correlation.tx.0.len());
        out.push_str("<ic:");
        out.push_str(CORRELATION_ELEMENT);
        out.push_str(" xmlns:ic=\"");
        out.push_str(CORRELATION_NS);
        out.push_str("\" tx=\"");
        escape_into(&mut out, &correlation.tx.0);
        out.push('"');
        if !participant.is_empty() {
            out.push_str(" participant=\"");
            out.push_str(&participant);
            out.push_str("\" protocol=\"");
            out.push_str(protocol);
            out.push('"');
        }
        out.push_str(" mac=\"");
        out.push_str(&hex(&tag));
        out.push_str("\"/>");
        out
    }

    /// Finds the correlation among a message's reference parameters and
    /// checks its MAC (in constant time).
    pub fn verify(&self, reference_parameters: &[String]) -> Result<Correlation, CorrelationError> {
        let mut found = None;
        for parameter in reference_parameters {
            if let Some(claim) = parse(parameter)? {
                if found.is_some() {
                    return Err(CorrelationError::Forged);
                }
                found = Some(claim);
            }
        }
        let claim = found.ok_or(CorrelationError::Missing)?;
        let expected = unhex(&claim.mac).ok_or(CorrelationError::Forged)?;
        let participant = match &claim.participant {
            Some(participant) => participant.clone(),
            None => String::new(),
        };
        let protocol = claim.protocol.as_deref().unwrap_or_default();
        let mut mac = self.mac();
        feed(&mut mac, &claim.tx, &participant, protocol);
        mac.verify_slice(&expected)
            .map_err(|_| CorrelationError::Forged)?;
        let participant = match (claim.participant, claim.protocol) {
            (Some(id), Some(protocol)) => {
                let id = id.parse::<u32>().map_err(|_| CorrelationError::Forged)?;
                let protocol = protocol_from_name(&protocol).ok_or(CorrelationError::Forged)?;
                Some((ParticipantId(id), protocol))
            }
            (None, None) => None,
            _ => return Err(CorrelationError::Forged),
        };
        Ok(Correlation {
            tx: TxId(claim.tx),
            participant,
        })
    }

    /// The keyed state, the domain fed.
    fn mac(&self) -> Hmac<Sha256> {
        self.keyed.clone()
    }

    fn tag(&self, tx: &str, participant: &str, protocol: &str) -> Vec<u8> {
        let mut mac = self.mac();
        feed(&mut mac, tx, participant, protocol);
        mac.finalize().into_bytes().to_vec()
    }
}

fn fields(correlation: &Correlation) -> (String, &'static str) {
    match correlation.participant {
        Some((id, protocol)) => (id.0.to_string(), protocol_name(protocol)),
        None => (String::new(), ""),
    }
}

/// Feeds the fields after the domain (which [`CorrelationKey::from_bytes`]
/// fed), each prefixed by its length.
fn feed(mac: &mut Hmac<Sha256>, tx: &str, participant: &str, protocol: &str) {
    for part in [tx.as_bytes(), participant.as_bytes(), protocol.as_bytes()] {
        feed_part(mac, part);
    }
}

fn feed_part(mac: &mut Hmac<Sha256>, part: &[u8]) {
    mac.update(&(part.len() as u64).to_be_bytes());
    mac.update(part);
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Completion => "Completion",
        Protocol::Volatile2Pc => "Volatile2PC",
        Protocol::Durable2Pc => "Durable2PC",
    }
}

fn protocol_from_name(name: &str) -> Option<Protocol> {
    [
        Protocol::Completion,
        Protocol::Volatile2Pc,
        Protocol::Durable2Pc,
    ]
    .into_iter()
    .find(|protocol| protocol_name(*protocol) == name)
}

/// The attributes of a correlation element, unchecked.
struct Claim {
    tx: String,
    participant: Option<String>,
    protocol: Option<String>,
    mac: String,
}

/// The claim in `parameter` if it is a correlation element.
fn parse(parameter: &str) -> Result<Option<Claim>, CorrelationError> {
    let mut reader = NsReader::from_str(parameter);
    loop {
        let Ok((resolved, event)) = reader.read_resolved_event() else {
            return Ok(None);
        };
        let start = match event {
            Event::Start(start) | Event::Empty(start) => start,
            Event::Eof => return Ok(None),
            _ => continue,
        };
        let ours = matches!(resolved, ResolveResult::Bound(ns) if ns.as_ref() == CORRELATION_NS)
            && start.local_name().as_ref() == CORRELATION_ELEMENT;
        if !ours {
            return Ok(None);
        }
        let mut tx = None;
        let mut participant = None;
        let mut protocol = None;
        let mut mac = None;
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|_| CorrelationError::Forged)?;
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|_| CorrelationError::Forged)?;
            if value.len() > MAX_TX_LEN {
                return Err(CorrelationError::Forged);
            }
            let slot = match attribute.key.as_ref() {
                "tx" => &mut tx,
                "participant" => &mut participant,
                "protocol" => &mut protocol,
                "mac" => &mut mac,
                _ => continue,
            };
            if slot.is_some() {
                return Err(CorrelationError::Forged);
            }
            *slot = Some(value.into_owned());
        }
        let (Some(tx), Some(mac)) = (tx, mac) else {
            return Err(CorrelationError::Forged);
        };
        return Ok(Some(Claim {
            tx,
            participant,
            protocol,
            mac,
        }));
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [high, low] => Some(digit(*high)? << 4 | digit(*low)?),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CorrelationKey {
        CorrelationKey::from_bytes([byte; 32])
    }

    /// The tag is HMAC-SHA-256 over the length-prefixed domain and fields
    /// (a vector computed independently with Python's `hmac`), so keys
    /// and endpoint references stored before a restart still verify.
    #[test]
    fn the_tag_matches_an_independent_hmac() {
        let key = CorrelationKey::from_bytes([1; 32]);
        let signed = key.sign(&Correlation {
            tx: TxId("urn:uuid:t".to_owned()),
            participant: Some((ParticipantId(3), Protocol::Durable2Pc)),
        });
        assert!(
            signed.contains(
                "mac=\"f28e15acebc1f40109ba7328087b3c3e67a8d341fc2ea21151c1d9662ab55b65\""
            ),
            "{signed}"
        );
    }

    #[test]
    fn a_signed_parameter_verifies_and_names_its_participant() {
        let correlation = Correlation {
            tx: TxId("urn:uuid:a&b".into()),
            participant: Some((ParticipantId(7), Protocol::Durable2Pc)),
        };
        let parameter = key(1).sign(&correlation);
        assert_eq!(key(1).verify(&[parameter]), Ok(correlation));
    }

    #[test]
    fn a_registration_parameter_names_only_the_transaction() {
        let correlation = Correlation {
            tx: TxId("urn:uuid:1".into()),
            participant: None,
        };
        let parameter = key(1).sign(&correlation);
        assert_eq!(
            key(1).verify(&["<x:other xmlns:x=\"urn:x\"/>".into(), parameter]),
            Ok(correlation)
        );
    }

    #[test]
    fn another_key_or_an_edited_field_is_forged() {
        let correlation = Correlation {
            tx: TxId("urn:uuid:1".into()),
            participant: Some((ParticipantId(1), Protocol::Completion)),
        };
        let parameter = key(1).sign(&correlation);
        assert_eq!(
            key(2).verify(std::slice::from_ref(&parameter)),
            Err(CorrelationError::Forged)
        );
        let edited = parameter.replace("participant=\"1\"", "participant=\"2\"");
        assert_eq!(key(1).verify(&[edited]), Err(CorrelationError::Forged));
        let edited = parameter.replace("urn:uuid:1", "urn:uuid:2");
        assert_eq!(key(1).verify(&[edited]), Err(CorrelationError::Forged));
        let dropped = parameter
            .replace(" participant=\"1\"", "")
            .replace(" protocol=\"Completion\"", "");
        assert_eq!(key(1).verify(&[dropped]), Err(CorrelationError::Forged));
        assert_eq!(
            key(1).verify(&[parameter.clone(), parameter]),
            Err(CorrelationError::Forged)
        );
    }

    #[test]
    fn no_parameter_is_missing() {
        assert_eq!(key(1).verify(&[]), Err(CorrelationError::Missing));
    }

    #[test]
    fn the_key_never_prints() {
        assert_eq!(format!("{:?}", key(9)), "CorrelationKey(..)");
    }
}
