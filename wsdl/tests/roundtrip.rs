//! Property tests: what the writers write, the readers read back the same,
//! and the readers never panic, whatever the input.

use ithaca_wsdl::{
    EnvelopeWriter, Fault, FaultCode, Limits, NamespaceBinding, QName, Reason, SoapVersion,
    read_envelope, read_fault, write_fault,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn version() -> impl Strategy<Value = SoapVersion> {
    prop_oneof![Just(SoapVersion::Soap11), Just(SoapVersion::Soap12)]
}

fn ncname() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_.-]{0,10}"
}

fn uri() -> impl Strategy<Value = String> {
    "urn:[a-z]{1,8}(:[a-z0-9]{1,5}){0,2}"
}

fn qname() -> impl Strategy<Value = QName> {
    (option::of(uri()), ncname()).prop_map(|(namespace, local)| QName { namespace, local })
}

fn code() -> impl Strategy<Value = FaultCode> {
    prop_oneof![
        Just(FaultCode::VersionMismatch),
        Just(FaultCode::MustUnderstand),
        Just(FaultCode::DataEncodingUnknown),
        Just(FaultCode::Sender),
        Just(FaultCode::Receiver),
    ]
}

/// Any text, including characters XML cannot carry.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ a-z&<>\"'\r\n\t]{0,30}"]
}

fn detail() -> impl Strategy<Value = String> {
    (ncname(), uri(), "[a-z ]{0,10}").prop_map(|(local, uri, text)| {
        format!(r#"<d:{local} xmlns:d="{uri}" at="&amp;">{text}<inner/></d:{local}>"#)
    })
}

fn fault() -> impl Strategy<Value = Fault> {
    (
        code(),
        vec(qname(), 0..4),
        vec(("[a-z]{0,3}", text()), 1..4),
        option::of(uri()),
        option::of(uri()),
        option::of(detail()),
        vec(
            qname().prop_filter("qualified", |q| q.namespace.is_some()),
            0..3,
        ),
        vec(detail(), 0..3),
    )
        .prop_map(
            |(code, subcodes, reasons, node, role, detail, not_understood, header_blocks)| Fault {
                code,
                subcodes,
                reasons: reasons
                    .into_iter()
                    .map(|(lang, text)| Reason { lang, text })
                    .collect(),
                node,
                role,
                detail,
                not_understood,
                header_blocks,
            },
        )
}

/// What a reader gets back from text the writers wrote.
fn sanitized(text: &str) -> String {
    text.chars()
        .map(|c| {
            let allowed = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
            if allowed { c } else { '\u{FFFD}' }
        })
        .collect()
}

/// The fault a reader gets back after `fault` was written as `version`.
fn expected(version: SoapVersion, fault: &Fault) -> Fault {
    let reasons: Vec<Reason> = fault
        .reasons
        .iter()
        .map(|reason| Reason {
            lang: sanitized(&reason.lang),
            text: sanitized(&reason.text),
        })
        .collect();
    match version {
        SoapVersion::Soap11 => Fault {
            code: match fault.code {
                FaultCode::DataEncodingUnknown => FaultCode::Sender,
                code => code,
            },
            subcodes: Vec::new(),
            reasons: vec![Reason {
                lang: String::new(),
                text: reasons.first().map(|r| r.text.clone()).unwrap_or_default(),
            }],
            node: fault.node.clone(),
            role: None,
            detail: fault.detail.clone(),
            not_understood: Vec::new(),
            header_blocks: fault.header_blocks.clone(),
        },
        SoapVersion::Soap12 => Fault {
            reasons,
            ..fault.clone()
        },
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[derive(Debug, Clone)]
struct Block {
    name: QName,
    must_understand: bool,
    role: Option<String>,
    text: String,
}

fn block() -> impl Strategy<Value = Block> {
    (
        uri(),
        ncname(),
        any::<bool>(),
        option::of(uri()),
        "[a-z&<> ]{0,12}",
    )
        .prop_map(|(namespace, local, must_understand, role, text)| Block {
            name: QName::new(namespace, local),
            must_understand,
            role,
            text,
        })
}

impl Block {
    fn to_xml(&self, version: SoapVersion) -> String {
        let mut attributes = format!(r#" xmlns:e="{}""#, version.namespace());
        if self.must_understand {
            attributes.push_str(r#" e:mustUnderstand="1""#);
        }
        if let Some(role) = &self.role {
            attributes.push_str(&format!(r#" e:{}="{role}""#, version.role_attribute()));
        }
        let local = &self.name.local;
        let namespace = self.name.namespace.as_deref().unwrap_or_default();
        format!(
            r#"<h:{local} xmlns:h="{namespace}"{attributes}>{}</h:{local}>"#,
            escape(&self.text)
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn envelopes_round_trip(
        version in version(),
        blocks in vec(block(), 0..4),
        body in (option::of(uri()), ncname(), "[a-z&<> ]{0,20}"),
        bound in option::of(uri()),
    ) {
        let block_xml: Vec<String> = blocks.iter().map(|b| b.to_xml(version)).collect();
        let (namespace, local, text) = body;
        // The payload may use a prefix bound only on the Envelope.
        let namespaces: Vec<NamespaceBinding> = bound
            .iter()
            .map(|uri| NamespaceBinding { prefix: Some("p".into()), uri: uri.clone() })
            .collect();
        let payload = match (&namespace, &bound) {
            (_, Some(_)) => format!("<p:{local}>{}</p:{local}><p:second/>", escape(&text)),
            (Some(ns), None) => format!(r#"<b:{local} xmlns:b="{ns}">{}</b:{local}>"#, escape(&text)),
            (None, None) => format!("<{local}>{}</{local}>", escape(&text)),
        };
        let mut writer = EnvelopeWriter::new(version).namespaces(&namespaces);
        for xml in &block_xml {
            writer = writer.header_block(xml.as_bytes());
        }
        let message = writer.to_vec(payload.as_bytes()).unwrap();
        let envelope = read_envelope(&message, None, &Limits::default()).unwrap();

        prop_assert_eq!(envelope.version, version);
        prop_assert_eq!(&message[envelope.body.payload.clone()], payload.as_bytes());
        let expected_name = match (&namespace, &bound) {
            (_, Some(uri)) => QName::new(uri.clone(), local.clone()),
            (Some(ns), None) => QName::new(ns.clone(), local.clone()),
            (None, None) => QName::unqualified(local.clone()),
        };
        prop_assert_eq!(envelope.body_name(), Some(&expected_name));
        prop_assert_eq!(envelope.body.child_count, if bound.is_some() { 2 } else { 1 });
        prop_assert_eq!(envelope.header.is_some(), !blocks.is_empty());
        let read_blocks = envelope.header_blocks();
        prop_assert_eq!(read_blocks.len(), blocks.len());
        for ((read, written), xml) in read_blocks.iter().zip(&blocks).zip(&block_xml) {
            prop_assert_eq!(&read.name, &written.name);
            prop_assert_eq!(read.must_understand, written.must_understand);
            prop_assert_eq!(&read.role, &written.role);
            prop_assert_eq!(&message[read.range.clone()], xml.as_bytes());
        }
        for binding in &namespaces {
            prop_assert!(envelope.body_scope().contains(binding));
        }
    }

    #[test]
    fn faults_round_trip(version in version(), fault in fault()) {
        let message = write_fault(version, &fault).unwrap();
        let envelope = read_envelope(&message, None, &Limits::default()).unwrap();
        prop_assert!(envelope.is_fault());
        prop_assert_eq!(envelope.version, version);
        let (read_version, read) = read_fault(&message, &Limits::default()).unwrap();
        prop_assert_eq!(read_version, version);
        prop_assert_eq!(read, expected(version, &fault));
    }

    #[test]
    fn readers_never_panic_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..600)) {
        let _ = read_envelope(&bytes, None, &Limits::default());
        let _ = read_fault(&bytes, &Limits::default());
    }

    #[test]
    fn readers_never_panic_on_mutated_envelopes(
        version in version(),
        fault in fault(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
        tight in any::<bool>(),
    ) {
        let mut message = write_fault(version, &fault).unwrap();
        for (index, byte, kind) in edits {
            let at = index.index(message.len() + 1);
            match kind {
                0 => message.insert(at, byte),
                1 if at < message.len() => { message.remove(at); }
                _ if at < message.len() => message[at] = byte,
                _ => message.truncate(at),
            }
        }
        let limits = if tight {
            Limits {
                max_depth: 4,
                max_elements: 12,
                max_attributes: 2,
                max_attribute_len: 30,
                max_text_len: 16,
                max_namespace_bindings: 2,
                max_size: 400,
            }
        } else {
            Limits::default()
        };
        if let Ok(envelope) = read_envelope(&message, None, &limits) {
            // Every range handed out lies within the input.
            prop_assert!(envelope.body.payload.end <= message.len());
            for block in envelope.header_blocks() {
                prop_assert!(block.range.start <= block.range.end && block.range.end <= message.len());
            }
        }
        let _ = read_fault(&message, &limits);
    }

    #[test]
    fn content_type_parser_never_panics(value in any::<String>()) {
        let _ = ithaca_wsdl::ContentType::parse(&value);
        let _ = ithaca_wsdl::parse_soap_action(&value);
    }
}
