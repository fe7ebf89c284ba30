//! Decodes the golden omniORB traces in `shared/corpus/giop/` and re-encodes
//! every message.
//!
//! The re-encoding must match the wire bytes exactly except for padding,
//! which omniORB does not zero: every byte that differs must be a zero in our
//! output, the lengths must agree, and decoding our bytes must give the same
//! message. When the corpus is absent (a checkout without `shared/`), the
//! test says that this tier is skipped and passes.

// Helpers outside `#[test]` functions panic on broken fixtures too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use ithaca_idl::cdr::{ByteOrder, CdrReader};
use ithaca_idl::giop::{
    CompletionStatus, GiopCodec, LocateStatus, Message, MessageBody, ReplyStatus, ResponseFlags,
    TargetAddress,
};
use ithaca_idl::ior::{Ior, TaggedComponent};
use ithaca_idl::{GiopVersion, Version};

/// Which way a traced message went.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Direction {
    ClientToServer,
    ServerToClient,
}

/// One message from a trace: its direction and exact bytes.
#[derive(Debug)]
struct TracedMessage {
    direction: Direction,
    bytes: Vec<u8>,
}

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/giop");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "corpus tier skipped: {} is absent, so the golden GIOP traces were not checked",
            dir.display()
        );
        None
    }
}

/// Parses an omniORB `-ORBtraceLevel 40` log into its messages.
///
/// A message starts with a `sendChunk: ... N bytes` or `inputMessage: ...
/// N bytes` line, then a bare `omniORB: ` line, then hex dump lines whose
/// first 39 columns hold up to eight groups of four hex digits.
fn parse_trace(text: &str) -> Vec<TracedMessage> {
    let mut messages = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let direction =
            if line.contains("sendChunk: to") || line.contains("sendCloseConnection: to") {
                Direction::ClientToServer
            } else if line.contains("inputMessage: from") {
                Direction::ServerToClient
            } else {
                continue;
            };
        let size: usize = line
            .trim_end_matches(" bytes")
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no byte count in {line:?}"));
        assert_eq!(lines.next().map(str::trim_end), Some("omniORB:"));
        let mut bytes = Vec::with_capacity(size);
        while bytes.len() < size {
            let dump = lines.next().expect("hex dump ended early");
            let hex: String = dump.get(..39).unwrap_or(dump).split_whitespace().collect();
            for pair in hex.as_bytes().chunks(2) {
                let pair = std::str::from_utf8(pair).unwrap();
                bytes.push(
                    u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("bad hex in {dump:?}")),
                );
            }
        }
        assert_eq!(bytes.len(), size, "dump longer than announced");
        messages.push(TracedMessage { direction, bytes });
    }
    messages
}

/// Decodes one traced message, re-encodes it and checks the bytes.
fn decode_and_reencode(traced: &TracedMessage) -> Message {
    let mut buf = BytesMut::from(&traced.bytes[..]);
    let message = GiopCodec::new()
        .decode(&mut buf)
        .unwrap_or_else(|e| panic!("{e}: {:02x?}", traced.bytes))
        .expect("a whole message");
    assert!(buf.is_empty(), "bytes after the message");
    let mut ours = BytesMut::new();
    message.encode(&mut ours).unwrap();
    assert_eq!(ours.len(), traced.bytes.len(), "length of {message:?}");
    for (i, (&mine, &theirs)) in ours.iter().zip(&traced.bytes).enumerate() {
        assert!(
            mine == theirs || mine == 0,
            "byte {i} is {mine:#04x}, trace has {theirs:#04x}, in {message:?}"
        );
    }
    let again = GiopCodec::new().decode(&mut ours).unwrap().unwrap();
    assert_eq!(again, message);
    message
}

fn load(dir: &Path, name: &str) -> Vec<(Direction, Message)> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    let traced = parse_trace(&text);
    assert!(!traced.is_empty(), "no messages in {name}");
    traced
        .iter()
        .map(|t| (t.direction, decode_and_reencode(t)))
        .collect()
}

fn operation(message: &Message) -> Option<&str> {
    match &message.body {
        MessageBody::Request(request) => Some(&request.operation),
        _ => None,
    }
}

#[test]
fn ior_client_speaks_giop_1_2() {
    let Some(dir) = corpus_dir() else { return };
    let messages = load(&dir, "trace-ior-giop12.txt");
    assert_eq!(messages.len(), 12);
    for (_, message) in &messages {
        assert_eq!(message.version, GiopVersion::V1_2);
        assert_eq!(message.byte_order, ByteOrder::LittleEndian);
    }
    let (direction, first) = &messages[0];
    assert_eq!(*direction, Direction::ClientToServer);
    assert!(matches!(&first.body, MessageBody::LocateRequest(l)
        if l.target == TargetAddress::KeyAddr(Bytes::from_static(b"Account"))));
    assert!(
        matches!(&messages[1].1.body, MessageBody::LocateReply(l) if l.status == LocateStatus::ObjectHere)
    );
    let operations: Vec<_> = messages.iter().filter_map(|(_, m)| operation(m)).collect();
    assert_eq!(
        operations,
        ["balance", "deposit", "balance", "deposit", "ping"]
    );
    let MessageBody::Request(ping) = &messages[10].1.body else {
        panic!("expected the oneway ping");
    };
    assert_eq!(ping.response_flags, ResponseFlags::NoResponse);
    let MessageBody::Reply(user) = &messages[9].1.body else {
        panic!("expected the user exception reply");
    };
    let ReplyStatus::UserException(body) = &user.status else {
        panic!("expected a user exception");
    };
    // The body starts 8-aligned at offset 24 of the message.
    let mut r = CdrReader::new(body.clone(), ByteOrder::LittleEndian, GiopVersion::V1_2)
        .with_alignment_offset(24);
    assert_eq!(r.read_string().unwrap(), "IDL:Bank/Insufficient:1.0");
    assert_eq!(r.read_long().unwrap(), 880);
    assert_eq!(messages[11].1.body, MessageBody::CloseConnection);
}

#[test]
fn corbaloc_client_speaks_giop_1_0() {
    let Some(dir) = corpus_dir() else { return };
    let messages = load(&dir, "trace-corbaloc-giop10.txt");
    assert_eq!(messages.len(), 11);
    for (_, message) in &messages {
        assert_eq!(message.version, GiopVersion::V1_0);
    }
    let operations: Vec<_> = messages.iter().filter_map(|(_, m)| operation(m)).collect();
    assert_eq!(
        operations,
        ["_is_a", "balance", "deposit", "balance", "deposit", "ping"]
    );
    let MessageBody::Request(is_a) = &messages[0].1.body else {
        panic!("expected _is_a");
    };
    assert!(
        is_a.service_contexts.is_empty(),
        "no CodeSets context over corbaloc"
    );
    // Header ends at offset 48; the body is the repository id string.
    let mut r = CdrReader::new(
        is_a.body.clone(),
        ByteOrder::LittleEndian,
        GiopVersion::V1_0,
    )
    .with_alignment_offset(48);
    assert_eq!(r.read_string().unwrap(), "IDL:Bank/Account:1.0");
}

#[test]
fn unknown_key_gives_object_not_exist() {
    let Some(dir) = corpus_dir() else { return };
    let messages = load(&dir, "trace-sysexc.txt");
    assert_eq!(messages.len(), 2);
    let MessageBody::Reply(reply) = &messages[1].1.body else {
        panic!("expected a reply");
    };
    let ReplyStatus::SystemException(exception) = &reply.status else {
        panic!("expected a system exception");
    };
    assert_eq!(
        exception.exception_id,
        "IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0"
    );
    assert_eq!(exception.minor, 0x4F4D_0001);
    assert_eq!(exception.completed, CompletionStatus::No);
}

#[test]
fn naming_service_returns_the_account_ior() {
    let Some(dir) = corpus_dir() else { return };
    let messages = load(&dir, "trace-corbaname-resolve.txt");
    assert_eq!(messages.len(), 2);
    assert_eq!(operation(&messages[0].1), Some("resolve"));
    let MessageBody::Reply(reply) = &messages[1].1.body else {
        panic!("expected a reply");
    };
    let ReplyStatus::NoException(body) = &reply.status else {
        panic!("expected a result");
    };
    // GIOP 1.0 reply header: 12 + 12 bytes, so the IOR starts at offset 24.
    let mut r = CdrReader::new(body.clone(), ByteOrder::LittleEndian, GiopVersion::V1_0)
        .with_alignment_offset(24);
    let ior = Ior::read(&mut r).unwrap();
    assert_eq!(r.remaining(), 0);
    assert_eq!(ior.type_id, "IDL:Bank/Account:1.0");
    let profile = ior.iiop_profile().expect("an IIOP profile").unwrap();
    assert_eq!(profile.version, Version::new(1, 2));
    assert_eq!(profile.host, "127.0.0.1");
    assert_eq!(profile.port, 12345);
    assert_eq!(&profile.object_key[..], b"Account");
    let tags: Vec<u32> = profile.components.iter().map(|c| c.tag).collect();
    assert_eq!(
        tags,
        [
            TaggedComponent::TAG_ORB_TYPE,
            TaggedComponent::TAG_CODE_SETS
        ]
    );
    // The stringified form decodes back to the same reference.
    let text = ior.to_string();
    assert!(text.starts_with("IOR:"));
    assert_eq!(text.parse::<Ior>().unwrap(), ior);
}
