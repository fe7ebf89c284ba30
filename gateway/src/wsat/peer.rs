//! What the coordinator remembers about a registered peer inside the
//! endpoint reference it keeps (the engine and the durable log hold only
//! `EndpointRef`s): the SOAP and WS-TX versions to speak to it, and the
//! base URL of the coordinator it registered through. Kept as one extra
//! reference parameter that [`split`] takes off again before anything is
//! sent, so it survives restarts with the log and never reaches the peer.

use ithaca_txn::record::EndpointRef;
use ithaca_txn::wire::{CORRELATION_NS, EndpointReference, WireError, WsTxVersion};
use ithaca_wsdl::SoapVersion;
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// The local name of the marker element (in [`CORRELATION_NS`]).
const PEER_ELEMENT: &str = "Peer";

/// How to speak to a registered peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    /// The SOAP version it registered with.
    pub(crate) soap: SoapVersion,
    /// The WS-TX version it registered with.
    pub(crate) version: WsTxVersion,
    /// The coordinator's base URL as the peer reached it.
    pub(crate) base: String,
}

impl Default for Peer {
    fn default() -> Self {
        Self {
            soap: SoapVersion::Soap11,
            version: WsTxVersion::Jun2006,
            base: String::new(),
        }
    }
}

/// The endpoint to keep for `epr`: its reference parameters plus the
/// marker describing `peer`.
pub(crate) fn keep(epr: &EndpointReference, peer: &Peer) -> EndpointRef {
    let mut record = epr.to_record();
    let mut marker = String::from("<ic:Peer xmlns:ic=\"");
    marker.push_str(CORRELATION_NS);
    marker.push_str("\" soap=\"");
    marker.push_str(match peer.soap {
        SoapVersion::Soap11 => "1.1",
        SoapVersion::Soap12 => "1.2",
    });
    marker.push_str("\" version=\"");
    marker.push_str(match peer.version {
        WsTxVersion::Jun2006 => "2006/06",
        WsTxVersion::Oct2004 => "2004/10",
    });
    marker.push_str("\" base=\"");
    for c in peer.base.chars() {
        match c {
            '&' => marker.push_str("&amp;"),
            '<' => marker.push_str("&lt;"),
            '"' => marker.push_str("&quot;"),
            _ => marker.push(c),
        }
    }
    marker.push_str("\"/>");
    record.reference_parameters.push_str(&marker);
    record
}

/// The endpoint to send to, without the marker, and the peer it
/// describes (defaults when there is none).
pub(crate) fn split(record: &EndpointRef) -> Result<(EndpointReference, Peer), WireError> {
    let mut epr = EndpointReference::from_record(record)?;
    let mut peer = Peer::default();
    epr.reference_parameters
        .retain(|parameter| match read_marker(parameter) {
            Some(found) => {
                peer = found;
                false
            }
            None => true,
        });
    Ok((epr, peer))
}

fn read_marker(parameter: &str) -> Option<Peer> {
    if !parameter.contains(PEER_ELEMENT) {
        // Not the marker (whose element name holds it): no parse.
        return None;
    }
    let mut reader = NsReader::from_str(parameter);
    loop {
        let (resolved, event) = reader.read_resolved_event().ok()?;
        let start = match event {
            Event::Start(start) | Event::Empty(start) => start,
            Event::Eof => return None,
            _ => continue,
        };
        let ours = matches!(resolved, ResolveResult::Bound(ns) if ns.as_ref() == CORRELATION_NS)
            && start.local_name().as_ref() == PEER_ELEMENT;
        if !ours {
            return None;
        }
        let mut peer = Peer::default();
        for attribute in start.attributes().flatten() {
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()?;
            match attribute.key.as_ref() {
                "soap" if value == "1.2" => peer.soap = SoapVersion::Soap12,
                "version" if value == "2004/10" => peer.version = WsTxVersion::Oct2004,
                "base" => peer.base = value.into_owned(),
                _ => {}
            }
        }
        return Some(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_round_trips_and_is_taken_off() {
        let epr = EndpointReference {
            address: "http://p.example/2pc".into(),
            reference_parameters: vec![r#"<x:Id xmlns:x="urn:x">1</x:Id>"#.into()],
        };
        let peer = Peer {
            soap: SoapVersion::Soap12,
            version: WsTxVersion::Oct2004,
            base: "http://c.example:8080".into(),
        };
        let (back, found) = split(&keep(&epr, &peer)).unwrap();
        assert_eq!(back, epr);
        assert_eq!(found, peer);
        let (plain, default) = split(&epr.to_record()).unwrap();
        assert_eq!(plain, epr);
        assert_eq!(default, Peer::default());
    }
}
