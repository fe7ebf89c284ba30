//! Tests for the connection state machine, driven in memory.

use bytes::{Bytes, BytesMut};

use super::*;
use crate::giop::{
    CompletionStatus, Fragment, LocateStatus, ReplyStatus, ResponseFlags, SystemException,
};

/// A client and a server wired back to back.
struct Pair {
    client: Connection,
    server: Connection,
}

impl Pair {
    fn new(client: ConnectionConfig, server: ConnectionConfig) -> Self {
        Self {
            client: Connection::new(client),
            server: Connection::new(server),
        }
    }

    fn default_1_2() -> Self {
        Self::new(
            ConnectionConfig::new(Role::Client),
            ConnectionConfig::new(Role::Server),
        )
    }

    /// Moves every queued byte across, one chunk at a time, until both sides are quiet.
    fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(bytes) = self.client.poll_transmit() {
                self.server.handle_input(&bytes);
                moved = true;
            }
            while let Some(bytes) = self.server.poll_transmit() {
                self.client.handle_input(&bytes);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }
}

fn events(connection: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| connection.poll_event()).collect()
}

fn transmitted(connection: &mut Connection) -> Vec<Bytes> {
    std::iter::from_fn(|| connection.poll_transmit()).collect()
}

fn request(operation: &str, response_flags: ResponseFlags, body: Bytes) -> Request {
    Request {
        request_id: 0,
        response_flags,
        target: TargetAddress::KeyAddr(Bytes::from_static(b"Account")),
        operation: operation.into(),
        service_contexts: Vec::new(),
        requesting_principal: Bytes::new(),
        body,
    }
}

fn reply(request_id: u32, body: &'static [u8]) -> Reply {
    Reply {
        request_id,
        service_contexts: Vec::new(),
        status: ReplyStatus::NoException(Bytes::from_static(body)),
    }
}

fn only_message(events: Vec<Event>) -> Message {
    match <[Event; 1]>::try_from(events) {
        Ok([Event::Message(message)]) => message,
        other => panic!("expected one message, got {other:?}"),
    }
}

#[test]
fn request_and_reply() {
    let mut pair = Pair::default_1_2();
    let id = pair
        .client
        .send_request(request(
            "balance",
            ResponseFlags::SyncWithTarget,
            Bytes::new(),
        ))
        .unwrap();
    assert_eq!(pair.client.outstanding_requests(), 1);
    pair.drive();
    let MessageBody::Request(received) = only_message(events(&mut pair.server)).body else {
        panic!("expected a request");
    };
    assert_eq!(received.request_id, id);
    assert_eq!(received.operation, "balance");
    assert_eq!(pair.server.owed_replies(), 1);
    pair.server.send_reply(reply(id, &[0x73, 0, 0, 0])).unwrap();
    pair.drive();
    let MessageBody::Reply(answer) = only_message(events(&mut pair.client)).body else {
        panic!("expected a reply");
    };
    assert_eq!(answer.request_id, id);
    assert_eq!(pair.client.outstanding_requests(), 0);
    assert_eq!(pair.server.owed_replies(), 0);
    // A second reply to the same request is refused.
    assert!(matches!(
        pair.server.send_reply(reply(id, &[])),
        Err(Error::ProtocolViolation(_))
    ));
}

#[test]
fn request_ids_are_fresh() {
    let mut client = Connection::new(ConnectionConfig::new(Role::Client));
    let ids: Vec<u32> = (0..3)
        .map(|_| {
            client
                .send_request(request("op", ResponseFlags::SyncWithTarget, Bytes::new()))
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [0, 1, 2]);
    // Wrapping skips ids still awaiting a reply.
    client.next_request_id = u32::MAX;
    let wrapped: Vec<u32> = (0..2)
        .map(|_| {
            client
                .send_request(request("op", ResponseFlags::SyncWithTarget, Bytes::new()))
                .unwrap()
        })
        .collect();
    assert_eq!(wrapped, [u32::MAX, 3]);
}

#[test]
fn oneway_requests_expect_no_reply() {
    let mut pair = Pair::default_1_2();
    let id = pair
        .client
        .send_request(request("ping", ResponseFlags::NoResponse, Bytes::new()))
        .unwrap();
    assert_eq!(pair.client.outstanding_requests(), 0);
    pair.drive();
    assert_eq!(events(&mut pair.server).len(), 1);
    assert_eq!(pair.server.owed_replies(), 0);
    assert!(pair.server.send_reply(reply(id, &[])).is_err());
}

#[test]
fn locate_request_and_reply() {
    let mut pair = Pair::default_1_2();
    let id = pair
        .client
        .send_locate_request(TargetAddress::KeyAddr(Bytes::from_static(b"Account")))
        .unwrap();
    pair.drive();
    assert!(matches!(
        only_message(events(&mut pair.server)).body,
        MessageBody::LocateRequest(_)
    ));
    pair.server
        .send_locate_reply(LocateReply {
            request_id: id,
            status: LocateStatus::ObjectHere,
        })
        .unwrap();
    pair.drive();
    assert_eq!(
        only_message(events(&mut pair.client)).body,
        MessageBody::LocateReply(LocateReply {
            request_id: id,
            status: LocateStatus::ObjectHere,
        })
    );
}

#[test]
fn cancelled_requests_drop_their_late_reply() {
    let mut pair = Pair::default_1_2();
    let id = pair
        .client
        .send_request(request("slow", ResponseFlags::SyncWithTarget, Bytes::new()))
        .unwrap();
    pair.drive();
    events(&mut pair.server);
    // The server answers before it sees the cancel.
    pair.server.send_reply(reply(id, &[])).unwrap();
    pair.client.cancel_request(id).unwrap();
    pair.drive();
    assert_eq!(events(&mut pair.client), []);
    assert_eq!(
        only_message(events(&mut pair.server)).body,
        MessageBody::CancelRequest(CancelRequest { request_id: id })
    );
}

#[test]
fn replies_go_out_in_the_request_version() {
    let mut server = Connection::new(ConnectionConfig::new(Role::Server));
    let mut client_config = ConnectionConfig::new(Role::Client);
    client_config.version = GiopVersion::V1_0;
    client_config.byte_order = ByteOrder::BigEndian;
    let mut client = Connection::new(client_config);
    let id = client
        .send_request(request(
            "balance",
            ResponseFlags::SyncWithTarget,
            Bytes::new(),
        ))
        .unwrap();
    for bytes in transmitted(&mut client) {
        server.handle_input(&bytes);
    }
    assert_eq!(only_message(events(&mut server)).version, GiopVersion::V1_0);
    server.send_reply(reply(id, &[0, 0, 0, 1])).unwrap();
    let [wire] = <[Bytes; 1]>::try_from(transmitted(&mut server)).unwrap();
    assert_eq!(&wire[4..6], &[1, 0], "reply in GIOP 1.0");
    client.handle_input(&wire);
    assert!(matches!(
        only_message(events(&mut client)).body,
        MessageBody::Reply(_)
    ));
}

#[test]
fn byte_by_byte_input_is_framed() {
    let mut pair = Pair::default_1_2();
    pair.client
        .send_request(request(
            "balance",
            ResponseFlags::SyncWithTarget,
            Bytes::from_static(&[1; 8]),
        ))
        .unwrap();
    for bytes in transmitted(&mut pair.client) {
        for byte in bytes.iter() {
            pair.server.handle_input(&[*byte]);
        }
    }
    assert!(matches!(
        only_message(events(&mut pair.server)).body,
        MessageBody::Request(r) if r.body.len() == 8
    ));
}

#[test]
fn large_requests_are_fragmented_and_reassembled() {
    let mut client_config = ConnectionConfig::new(Role::Client);
    client_config.max_fragment_size = Some(1000);
    let mut pair = Pair::new(client_config, ConnectionConfig::new(Role::Server));
    let body: Bytes = (0..20_000u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let id = pair
        .client
        .send_request(request(
            "upload",
            ResponseFlags::SyncWithTarget,
            body.clone(),
        ))
        .unwrap();
    let pieces = transmitted(&mut pair.client);
    assert!(pieces.len() > 20);
    for (i, piece) in pieces.iter().enumerate() {
        assert!(piece.len() <= 1000);
        let last = i == pieces.len() - 1;
        assert_eq!(
            piece[6] & 0b10 != 0,
            !last,
            "more-fragments flag of piece {i}"
        );
        if !last {
            assert_eq!(piece.len() % 8, 0, "non-final pieces are a multiple of 8");
        }
        pair.server.handle_input(piece);
        assert_eq!(pair.server.is_reassembling(), !last);
    }
    let MessageBody::Request(received) = only_message(events(&mut pair.server)).body else {
        panic!("expected the reassembled request");
    };
    assert_eq!(received.request_id, id);
    assert_eq!(received.body, body);
}

#[test]
fn interleaved_giop_1_2_fragments_are_kept_apart() {
    let mut server = Connection::new(ConnectionConfig::new(Role::Server));
    let fragments = |id: u32, body: &'static [u8]| {
        let message = Message::new(
            GiopVersion::V1_2,
            ByteOrder::BigEndian,
            MessageBody::Request(Request {
                request_id: id,
                ..request(
                    "op",
                    ResponseFlags::SyncWithTarget,
                    Bytes::from_static(body),
                )
            }),
        );
        let mut buf = BytesMut::new();
        message.encode(&mut buf).unwrap();
        reassembly::fragment(&message, id, buf.freeze(), 32).unwrap()
    };
    let a = fragments(1, &[0xAA; 40]);
    let b = fragments(2, &[0xBB; 40]);
    assert!(a.len() > 2 && b.len() > 2);
    let mut wire = BytesMut::new();
    for (x, y) in a.iter().zip(&b) {
        x.encode(&mut wire).unwrap();
        y.encode(&mut wire).unwrap();
    }
    for rest in a.iter().skip(b.len()).chain(b.iter().skip(a.len())) {
        rest.encode(&mut wire).unwrap();
    }
    server.handle_input(&wire);
    let received: Vec<(u32, Bytes)> = events(&mut server)
        .into_iter()
        .map(|event| match event {
            Event::Message(Message {
                body: MessageBody::Request(r),
                ..
            }) => (r.request_id, r.body),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        received,
        [
            (1, Bytes::from_static(&[0xAA; 40])),
            (2, Bytes::from_static(&[0xBB; 40]))
        ]
    );
}

#[test]
fn giop_1_1_fragments_have_no_header() {
    let mut config = ConnectionConfig::new(Role::Server);
    config.version = GiopVersion::V1_1;
    let mut server = Connection::new(config);
    let whole = Message::new(
        GiopVersion::V1_1,
        ByteOrder::BigEndian,
        MessageBody::Request(request(
            "op",
            ResponseFlags::SyncWithTarget,
            Bytes::from_static(&[7; 8]),
        )),
    );
    let mut encoded = BytesMut::new();
    whole.encode(&mut encoded).unwrap();
    let body = encoded.split_off(GIOP_HEADER_LEN).freeze();
    let first = Message::new(
        GiopVersion::V1_1,
        ByteOrder::BigEndian,
        MessageBody::FirstFragment(crate::giop::FirstFragment {
            message_type: MessageType::Request,
            data: body.slice(..20),
        }),
    );
    let rest = Message::new(
        GiopVersion::V1_1,
        ByteOrder::BigEndian,
        MessageBody::Fragment(Fragment {
            request_id: None,
            more_fragments: false,
            data: body.slice(20..),
        }),
    );
    let mut wire = BytesMut::new();
    first.encode(&mut wire).unwrap();
    rest.encode(&mut wire).unwrap();
    server.handle_input(&wire);
    assert_eq!(only_message(events(&mut server)), whole);
}

#[test]
fn bad_input_queues_message_error_and_closes() {
    let mut server = Connection::new(ConnectionConfig::new(Role::Server));
    server.handle_input(b"GIOQ\x01\x02\x01\x00\x00\x00\x00\x00");
    assert_eq!(
        events(&mut server),
        [Event::ProtocolError(Error::BadMagic(*b"GIOQ"))]
    );
    let [wire] = <[Bytes; 1]>::try_from(transmitted(&mut server)).unwrap();
    assert_eq!(&wire[..], b"GIOP\x01\x02\x01\x06\x00\x00\x00\x00");
    assert!(server.is_closed());
    // Nothing more is read or sent.
    server.handle_input(b"GIOP\x01\x02\x01\x05\x00\x00\x00\x00");
    assert_eq!(events(&mut server), []);
    assert_eq!(
        server.send_reply(reply(0, &[])),
        Err(Error::ConnectionClosed)
    );
}

#[test]
fn versions_above_the_configured_one_are_refused() {
    let mut config = ConnectionConfig::new(Role::Server);
    config.version = GiopVersion::V1_1;
    let mut server = Connection::new(config);
    server.handle_input(b"GIOP\x01\x02\x01\x05\x00\x00\x00\x00");
    assert_eq!(
        events(&mut server),
        [Event::ProtocolError(Error::UnsupportedVersion {
            major: 1,
            minor: 2
        })]
    );
    let [wire] = <[Bytes; 1]>::try_from(transmitted(&mut server)).unwrap();
    assert_eq!(
        &wire[4..8],
        &[1, 1, 1, 6],
        "MessageError in our highest version"
    );
}

#[test]
fn roles_are_enforced() {
    let mut server = Connection::new(ConnectionConfig::new(Role::Server));
    assert!(matches!(
        server.send_request(request("op", ResponseFlags::SyncWithTarget, Bytes::new())),
        Err(Error::ProtocolViolation(_))
    ));
    // A server that receives a reply gives up on the connection.
    let mut wire = BytesMut::new();
    Message::new(
        GiopVersion::V1_2,
        ByteOrder::LittleEndian,
        MessageBody::Reply(reply(1, &[])),
    )
    .encode(&mut wire)
    .unwrap();
    server.handle_input(&wire);
    assert!(matches!(
        events(&mut server)[..],
        [Event::ProtocolError(Error::ProtocolViolation(_))]
    ));
    let mut client = Connection::new(ConnectionConfig::new(Role::Client));
    assert!(matches!(
        client.send_reply(reply(1, &[])),
        Err(Error::ProtocolViolation(_))
    ));
}

#[test]
fn malformed_requests_are_owed_a_marshal_reply() {
    let mut server = Connection::new(ConnectionConfig::new(Role::Server));
    // GIOP 1.2 request id 9 with response flags 0x02, which do not exist.
    server.handle_input(b"GIOP\x01\x02\x01\x00\x08\x00\x00\x00\x09\x00\x00\x00\x02\x00\x00\x00");
    assert_eq!(
        events(&mut server),
        [Event::Malformed {
            request_id: Some(9),
            error: Error::InvalidEnum {
                what: "response flags",
                value: 2
            },
        }]
    );
    assert!(!server.is_closed());
    let marshal =
        SystemException::standard("MARSHAL", SystemException::OMG_VMCID, CompletionStatus::No);
    server
        .send_reply(Reply {
            request_id: 9,
            service_contexts: Vec::new(),
            status: ReplyStatus::SystemException(marshal),
        })
        .unwrap();
    assert_eq!(transmitted(&mut server).len(), 1);
}

#[test]
fn peer_close_lists_unanswered_requests() {
    let mut pair = Pair::default_1_2();
    for _ in 0..3 {
        pair.client
            .send_request(request("op", ResponseFlags::SyncWithTarget, Bytes::new()))
            .unwrap();
    }
    pair.drive();
    events(&mut pair.server);
    pair.server.send_reply(reply(1, &[])).unwrap();
    pair.server.close();
    assert!(pair.server.is_closed());
    pair.drive();
    let got = events(&mut pair.client);
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1],
        Event::PeerClosed {
            unanswered: vec![0, 2]
        }
    );
    assert!(pair.client.is_closed());
}

#[test]
fn message_error_from_the_peer_closes() {
    let mut client = Connection::new(ConnectionConfig::new(Role::Client));
    client.handle_input(b"GIOP\x01\x02\x01\x06\x00\x00\x00\x00");
    assert_eq!(events(&mut client), [Event::PeerRejected]);
    assert!(client.is_closed());
}

#[test]
fn giop_1_0_clients_close_silently() {
    let mut config = ConnectionConfig::new(Role::Client);
    config.version = GiopVersion::V1_0;
    let mut client = Connection::new(config);
    client.close();
    assert!(client.is_closed());
    assert!(transmitted(&mut client).is_empty());
    let mut client = Connection::new(ConnectionConfig::new(Role::Client));
    client.close();
    assert_eq!(
        transmitted(&mut client).len(),
        1,
        "GIOP 1.2 clients send CloseConnection"
    );
}

#[test]
fn fragment_limits_are_enforced() {
    let mut config = ConnectionConfig::new(Role::Server);
    config.max_message_size = 64;
    config.max_fragmented_in_progress = 1;
    let first = |id: u8| {
        let mut m = b"GIOP\x01\x02\x03\x00\x08\x00\x00\x00".to_vec();
        m.extend_from_slice(&[id, 0, 0, 0, 3, 0, 0, 0]);
        m
    };
    // A second fragmented message while one is in progress.
    let mut server = Connection::new(config);
    server.handle_input(&first(1));
    server.handle_input(&first(2));
    assert!(matches!(
        events(&mut server)[..],
        [Event::ProtocolError(Error::LimitExceeded { .. })]
    ));
    // Fragments adding up to more than the size limit.
    let mut server = Connection::new(config);
    server.handle_input(&first(1));
    let mut fragment = b"GIOP\x01\x02\x03\x07\x40\x00\x00\x00\x01\x00\x00\x00".to_vec();
    fragment.extend_from_slice(&[0; 60]);
    server.handle_input(&fragment);
    assert!(matches!(
        events(&mut server)[..],
        [Event::ProtocolError(Error::LimitExceeded { .. })]
    ));
    // A fragment that continues nothing.
    let mut server = Connection::new(config);
    server.handle_input(b"GIOP\x01\x02\x01\x07\x04\x00\x00\x00\x05\x00\x00\x00");
    assert!(matches!(
        events(&mut server)[..],
        [Event::ProtocolError(Error::Reassembly(_))]
    ));
    // The same id started twice.
    config.max_fragmented_in_progress = 4;
    let mut server = Connection::new(config);
    server.handle_input(&first(1));
    server.handle_input(&first(1));
    assert!(matches!(
        events(&mut server)[..],
        [Event::ProtocolError(Error::Reassembly(_))]
    ));
}

#[test]
fn old_versions_are_never_fragmented() {
    let mut config = ConnectionConfig::new(Role::Client);
    config.version = GiopVersion::V1_1;
    config.max_fragment_size = Some(64);
    let mut client = Connection::new(config);
    client
        .send_request(request(
            "op",
            ResponseFlags::SyncWithTarget,
            Bytes::from_static(&[0; 200]),
        ))
        .unwrap();
    assert_eq!(transmitted(&mut client).len(), 1);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn fragmented_requests_arrive_whole(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..5),
            max_fragment_size in 0usize..400,
            little_endian in any::<bool>(),
        ) {
            let mut client_config = ConnectionConfig::new(Role::Client);
            client_config.max_fragment_size = Some(max_fragment_size);
            client_config.byte_order = if little_endian { ByteOrder::LittleEndian } else { ByteOrder::BigEndian };
            let mut pair = Pair::new(client_config, ConnectionConfig::new(Role::Server));
            let mut sent = Vec::new();
            for body in bodies {
                let body = Bytes::from(body);
                let id = pair.client.send_request(request("op", ResponseFlags::SyncWithTarget, body.clone())).unwrap();
                sent.push((id, body));
            }
            pair.drive();
            let received: Vec<(u32, Bytes)> = events(&mut pair.server)
                .into_iter()
                .filter_map(|event| match event {
                    Event::Message(Message { body: MessageBody::Request(r), .. }) => Some((r.request_id, r.body)),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(received, sent);
            prop_assert!(!pair.server.is_reassembling());
        }

        #[test]
        fn arbitrary_input_never_panics(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
            server in any::<bool>(),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            let mut connection = Connection::new(ConnectionConfig::new(role));
            // Start with a valid header now and then so bodies get decoded too.
            connection.handle_input(b"GIOP\x01\x02\x01");
            for chunk in chunks {
                connection.handle_input(&chunk);
            }
            while connection.poll_event().is_some() {}
        }
    }
}

/// `send_request_with` puts the same bytes on the wire as `send_request`
/// with an equivalent `Request` whose body was encoded separately, in every
/// version and byte order, with and without arguments, with the CodeSets
/// context of the first request, and in fragments.
#[test]
fn requests_encoded_in_place_match_built_requests() {
    use crate::codeset::CodeSets;
    let code_sets = CodeSets::default();
    let args = |w: &mut CdrWriter<'_>| -> Result<()> {
        w.write_octet(7);
        w.write_double(1.5);
        w.write_string("forty-two")
    };
    for version in [GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2] {
        for byte_order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            for fragment in [None, Some(40)] {
                for with_args in [false, true] {
                    for with_code_sets in [false, true] {
                        let mut config = ConnectionConfig::new(Role::Client);
                        config.version = version;
                        config.byte_order = byte_order;
                        config.max_fragment_size = fragment;
                        let (mut built, mut in_place) =
                            (Connection::new(config), Connection::new(config));
                        if with_code_sets {
                            built.set_code_sets(code_sets);
                            in_place.set_code_sets(code_sets);
                        }
                        // Two requests: only the first carries the code sets.
                        for _ in 0..2 {
                            let mut request =
                                request("deposit", ResponseFlags::SyncWithTarget, Bytes::new());
                            request.service_contexts =
                                built.pending_code_set_context().into_iter().collect();
                            let offset = match version {
                                GiopVersion::V1_2 => 0,
                                _ => Message::new(
                                    version,
                                    byte_order,
                                    MessageBody::Request(request.clone()),
                                )
                                .body_offset()
                                .unwrap()
                                .unwrap(),
                            };
                            let mut body = BytesMut::new();
                            if with_args {
                                let mut w = CdrWriter::new(&mut body, byte_order, version)
                                    .with_alignment_offset(offset);
                                args(&mut w).unwrap();
                            }
                            request.body = body.freeze();
                            let built_id = built.send_request(request).unwrap();
                            let in_place_id = in_place
                                .send_request_with(
                                    b"Account",
                                    "deposit",
                                    ResponseFlags::SyncWithTarget,
                                    |w| if with_args { args(w) } else { Ok(()) },
                                )
                                .unwrap();
                            assert_eq!(built_id, in_place_id);
                            assert_eq!(
                                transmitted(&mut built),
                                transmitted(&mut in_place),
                                "{version:?} {byte_order:?} fragment {fragment:?} args {with_args} code sets {with_code_sets}"
                            );
                        }
                        assert_eq!(in_place.outstanding_requests(), 2);
                    }
                }
            }
        }
    }
}

/// A request whose arguments fail to encode sends nothing, and the
/// connection goes on.
#[test]
fn a_request_that_fails_to_encode_sends_nothing() {
    let mut pair = Pair::default_1_2();
    let failed =
        pair.client
            .send_request_with(b"Account", "deposit", ResponseFlags::SyncWithTarget, |w| {
                w.write_ulong(1);
                w.write_string("nul\0inside")
            });
    assert_eq!(failed, Err(Error::InvalidStringTerminator));
    assert!(transmitted(&mut pair.client).is_empty());
    assert_eq!(pair.client.outstanding_requests(), 0);
    let id = pair
        .client
        .send_request_with(b"Account", "deposit", ResponseFlags::SyncWithTarget, |w| {
            w.write_ulong(5);
            Ok(())
        })
        .unwrap();
    pair.drive();
    let Message {
        body: MessageBody::Request(request),
        ..
    } = only_message(events(&mut pair.server))
    else {
        panic!("a request was sent");
    };
    assert_eq!(request.request_id, id);
    assert_eq!(request.operation, "deposit");
    assert_eq!(
        request.target,
        TargetAddress::KeyAddr(Bytes::from_static(b"Account"))
    );
    assert_eq!(&request.body[..], &5u32.to_le_bytes());
}

proptest::proptest! {
    /// For any key, operation and argument bytes, a request encoded in
    /// place is byte for byte the request `send_request` sends.
    #[test]
    fn any_request_encoded_in_place_matches(
        key in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        operation in "[a-zA-Z_][a-zA-Z0-9_]{0,30}",
        args in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        version in proptest::sample::select(vec![GiopVersion::V1_0, GiopVersion::V1_1, GiopVersion::V1_2]),
        little_endian in proptest::bool::ANY,
        oneway in proptest::bool::ANY,
    ) {
        let mut config = ConnectionConfig::new(Role::Client);
        config.version = version;
        config.byte_order = if little_endian { ByteOrder::LittleEndian } else { ByteOrder::BigEndian };
        let flags = ResponseFlags::from_response_expected(!oneway);
        let (mut built, mut in_place) = (Connection::new(config), Connection::new(config));
        let mut request = request(&operation, flags, Bytes::from(args.clone()));
        request.target = TargetAddress::KeyAddr(Bytes::from(key.clone()));
        built.send_request(request).unwrap();
        in_place
            .send_request_with(&key, &operation, flags, |w| {
                w.write_octets(&args);
                Ok(())
            })
            .unwrap();
        proptest::prop_assert_eq!(transmitted(&mut built), transmitted(&mut in_place));
        proptest::prop_assert_eq!(built.outstanding_requests(), in_place.outstanding_requests());
    }
}
