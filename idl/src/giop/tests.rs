//! Tests for the GIOP messages and the framer: small fixtures taken from
//! omniORB's wire traces, hand-built edge cases and property tests.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::cdr::ByteOrder;
use crate::error::Error;
use crate::ior::{Ior, TaggedProfile};
use crate::version::GiopVersion;

fn hex(text: &str) -> BytesMut {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect::<Vec<u8>>()
        .as_slice()
        .into()
}

fn decode_one(text: &str) -> Message {
    let mut buf = hex(text);
    let message = decode(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty(), "bytes left after the message");
    message
}

fn encoded(message: &Message) -> BytesMut {
    let mut buf = BytesMut::new();
    encode(message, &mut buf).unwrap();
    buf
}

/// Checks that re-encoding gives the same bytes except padding, which omniORB
/// does not zero: every differing byte must be zero in our encoding.
fn assert_reencodes(text: &str, padding: &[usize]) {
    let original = hex(text);
    let message = decode_one(text);
    let ours = encoded(&message);
    assert_eq!(ours.len(), original.len());
    let differing: Vec<usize> = (0..ours.len())
        .filter(|&i| ours[i] != original[i])
        .collect();
    assert_eq!(differing, padding, "bytes differing from the trace");
    assert!(differing.iter().all(|&i| ours[i] == 0));
}

const BALANCE_REQUEST_1_2: &str = "
    47494f50 01020100 3c000000 04000000 03000000 00000000 07000000 4163636f
    756e7474 08000000 62616c61 6e636500 01000000 01000000 0c000000 01000000
    01000100 09010100";

#[test]
fn golden_giop_1_2_request_with_code_sets() {
    let message = decode_one(BALANCE_REQUEST_1_2);
    assert_eq!(message.version, GiopVersion::V1_2);
    assert_eq!(message.byte_order, ByteOrder::LittleEndian);
    let MessageBody::Request(request) = &message.body else {
        panic!("not a request: {message:?}");
    };
    assert_eq!(request.request_id, 4);
    assert_eq!(request.response_flags, ResponseFlags::SyncWithTarget);
    assert_eq!(
        request.target,
        TargetAddress::KeyAddr(Bytes::from_static(b"Account"))
    );
    assert_eq!(request.operation, "balance");
    assert!(request.body.is_empty());
    let [context] = request.service_contexts.as_slice() else {
        panic!("expected one service context");
    };
    let code_sets = CodeSetContext::from_service_context(context).unwrap();
    assert_eq!(code_sets.char_data, 0x0001_0001);
    assert_eq!(code_sets.wchar_data, 0x0001_0109);
    // The pad byte after "Account" is 0x74 on the wire, zero from us.
    assert_reencodes(BALANCE_REQUEST_1_2, &[35]);
}

#[test]
fn golden_giop_1_2_request_with_aligned_body() {
    // deposit(5): the body long sits at offset 56, after 4 bytes of padding.
    let text = "
        47494f50 01020100 30000000 06000000 03000000 00000000 07000000 4163636f
        756e7474 08000000 6465706f 73697400 00000000 01000000 05000000";
    let message = decode_one(text);
    let MessageBody::Request(request) = &message.body else {
        panic!("not a request");
    };
    assert_eq!(request.operation, "deposit");
    assert_eq!(&request.body[..], &[5, 0, 0, 0]);
    // After the empty service context list, omniORB pads with 01000000.
    assert_reencodes(text, &[35, 52]);
}

#[test]
fn golden_giop_1_2_replies() {
    let long_result = "47494f50 01020101 10000000 04000000 00000000 00000000 73000000";
    let message = decode_one(long_result);
    assert_eq!(
        message.body,
        MessageBody::Reply(Reply {
            request_id: 4,
            service_contexts: Vec::new(),
            status: ReplyStatus::NoException(Bytes::from_static(&[0x73, 0, 0, 0])),
        })
    );
    assert_reencodes(long_result, &[]);
    let user_exception = "
        47494f50 01020101 30000000 0a000000 01000000 00000000 1a000000 49444c3a
        42616e6b 2f496e73 75666669 6369656e 743a312e 30004f50 70030000";
    let message = decode_one(user_exception);
    let MessageBody::Reply(reply) = &message.body else {
        panic!("not a reply");
    };
    assert!(matches!(&reply.status, ReplyStatus::UserException(body) if body.len() == 36));
    // The body is opaque, so its garbage padding survives unchanged.
    assert_reencodes(user_exception, &[]);
}

#[test]
fn golden_giop_1_2_locate_and_close() {
    let locate = "47494f50 01020103 13000000 02000000 00005472 07000000 4163636f 756e74";
    assert_eq!(
        decode_one(locate).body,
        MessageBody::LocateRequest(LocateRequest {
            request_id: 2,
            target: TargetAddress::KeyAddr(Bytes::from_static(b"Account")),
        })
    );
    assert_reencodes(locate, &[18, 19]);
    let here = "47494f50 01020104 08000000 02000000 01000000";
    assert_eq!(
        decode_one(here).body,
        MessageBody::LocateReply(LocateReply {
            request_id: 2,
            status: LocateStatus::ObjectHere,
        })
    );
    assert_reencodes(here, &[]);
    let close = "47494f50 01020105 00000000";
    assert_eq!(decode_one(close).body, MessageBody::CloseConnection);
    assert_reencodes(close, &[]);
}

#[test]
fn golden_giop_1_0_request_and_system_exception() {
    // _is_a("IDL:Bank/Account:1.0") on key "Nope" from trace-sysexc.txt.
    let request = "
        47494f50 01000100 3d000000 00000000 02000000 010a6f6d 04000000 4e6f7065
        06000000 5f69735f 61006c54 00000000 15000000 49444c3a 42616e6b 2f416363
        6f756e74 3a312e30 00";
    let message = decode_one(request);
    let MessageBody::Request(req) = &message.body else {
        panic!("not a request");
    };
    assert_eq!(req.request_id, 2);
    assert_eq!(req.response_flags, ResponseFlags::SyncWithTarget);
    assert_eq!(req.operation, "_is_a");
    assert!(req.requesting_principal.is_empty());
    assert_eq!(req.body.len(), 25);
    assert_reencodes(request, &[21, 22, 23, 42, 43]);

    let reply = "
        47494f50 01000101 40000000 00000000 02000000 02000000 27000000 49444c3a
        6f6d672e 6f72672f 434f5242 412f4f42 4a454354 5f4e4f54 5f455849 53543a31
        2e300000 01004d4f 01000000";
    let message = decode_one(reply);
    assert_eq!(
        message.body,
        MessageBody::Reply(Reply {
            request_id: 2,
            service_contexts: Vec::new(),
            status: ReplyStatus::SystemException(SystemException {
                exception_id: "IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0".into(),
                minor: SystemException::OMG_VMCID | 1,
                completed: CompletionStatus::No,
            }),
        })
    );
    assert_reencodes(reply, &[]);
}

#[test]
fn golden_giop_1_0_oneway() {
    let ping = "
        47494f50 01000100 28000000 00000000 0c000000 000a6f6d 07000000 4163636f
        756e7469 05000000 70696e67 00697400 00000000";
    let MessageBody::Request(request) = decode_one(ping).body else {
        panic!("not a request");
    };
    assert_eq!(request.response_flags, ResponseFlags::NoResponse);
    assert_eq!(request.operation, "ping");
    assert_reencodes(ping, &[21, 22, 23, 35, 45, 46]);
}

#[test]
fn framer_waits_for_whole_messages() {
    let whole = hex(BALANCE_REQUEST_1_2);
    let codec = GiopCodec::new();
    for cut in 0..whole.len() {
        let mut partial = BytesMut::from(&whole[..cut]);
        assert_eq!(codec.decode(&mut partial), Ok(None), "cut at {cut}");
        assert_eq!(partial.len(), cut, "nothing is consumed early");
    }
    let mut two = whole.clone();
    two.extend_from_slice(&whole);
    two.extend_from_slice(&whole[..5]);
    assert!(codec.decode(&mut two).unwrap().is_some());
    assert!(codec.decode(&mut two).unwrap().is_some());
    assert_eq!(codec.decode(&mut two), Ok(None));
    assert_eq!(two.len(), 5);
}

#[test]
fn framer_rejects_bad_headers_before_the_body_arrives() {
    let codec = GiopCodec::new().with_max_message_size(100);
    let mut oversized = hex("47494f50 01020100 65000000");
    assert_eq!(
        codec.decode(&mut oversized),
        Err(Error::MessageTooLarge {
            size: 101,
            limit: 100
        })
    );
    let mut magic = hex("504f4947 01020100 00000000");
    assert_eq!(codec.decode(&mut magic), Err(Error::BadMagic(*b"POIG")));
    let mut v13 = hex("47494f50 01030100 04000000");
    let err = codec.decode(&mut v13).unwrap_err();
    assert_eq!(err, Error::UnsupportedVersion { major: 1, minor: 3 });
    assert!(err.is_message_error());
}

#[test]
fn body_errors_consume_the_message_and_are_not_framing_errors() {
    // A CloseConnection that carries a byte, then a valid CloseConnection.
    let mut buf = hex("47494f50 01020105 01000000 ff 47494f50 01020105 00000000");
    let err = decode(&mut buf).unwrap_err();
    assert_eq!(err, Error::TrailingBytes(1));
    assert!(!err.is_message_error());
    assert_eq!(
        decode(&mut buf).unwrap().unwrap().body,
        MessageBody::CloseConnection
    );
}

#[test]
fn truncated_headers_inside_the_body_are_marshal_errors() {
    // A Request whose size covers only part of its header.
    let mut buf = hex("47494f50 01020100 06000000 04000000 0300");
    assert!(matches!(decode(&mut buf), Err(Error::UnexpectedEnd { .. })));
}

#[test]
fn statuses_that_do_not_exist_in_old_versions_are_refused() {
    let forward_perm = "47494f50 01010001 0000000c 00000000 00000001 00000004";
    assert!(matches!(
        decode(&mut hex(forward_perm)),
        Err(Error::NotInVersion { .. })
    ));
    let bad_status = "47494f50 01020001 0000000c 00000001 00000009 00000000";
    assert_eq!(
        decode(&mut hex(bad_status)),
        Err(Error::InvalidEnum {
            what: "reply status",
            value: 9
        })
    );
    let loc_exception = "47494f50 01000004 00000008 00000001 00000004";
    assert!(matches!(
        decode(&mut hex(loc_exception)),
        Err(Error::NotInVersion { .. })
    ));
}

#[test]
fn encoding_refuses_what_the_version_cannot_carry() {
    let fragment = Message::new(
        GiopVersion::V1_0,
        ByteOrder::BigEndian,
        MessageBody::Fragment(Fragment {
            request_id: None,
            more_fragments: false,
            data: Bytes::new(),
        }),
    );
    let mut buf = BytesMut::from(&b"keep"[..]);
    assert!(encode(&fragment, &mut buf).is_err());
    assert_eq!(&buf[..], b"keep", "a failed encode leaves the buffer alone");
    let locate_fragment = Message::new(
        GiopVersion::V1_1,
        ByteOrder::BigEndian,
        MessageBody::FirstFragment(FirstFragment {
            message_type: MessageType::LocateRequest,
            data: Bytes::new(),
        }),
    );
    assert_eq!(
        encode(&locate_fragment, &mut buf),
        Err(Error::UnexpectedFragmentFlag(3))
    );
    let principal_in_1_2 = Message::new(
        GiopVersion::V1_2,
        ByteOrder::BigEndian,
        MessageBody::Request(Request {
            request_id: 1,
            response_flags: ResponseFlags::SyncWithTarget,
            target: TargetAddress::KeyAddr(Bytes::new()),
            operation: "op".into(),
            service_contexts: Vec::new(),
            requesting_principal: Bytes::from_static(b"me"),
            body: Bytes::new(),
        }),
    );
    assert!(encode(&principal_in_1_2, &mut buf).is_err());
}

#[test]
fn fragments_per_version() {
    // GIOP 1.2: a first Request fragment, then a final Fragment with its header.
    let first = "47494f50 01020300 04000000 07000000";
    let message = decode_one(first);
    assert_eq!(
        message.body,
        MessageBody::FirstFragment(FirstFragment {
            message_type: MessageType::Request,
            data: Bytes::from_static(&[7, 0, 0, 0]),
        })
    );
    assert_reencodes(first, &[]);
    let last = "47494f50 01020107 06000000 07000000 abcd";
    assert_eq!(
        decode_one(last).body,
        MessageBody::Fragment(Fragment {
            request_id: Some(7),
            more_fragments: false,
            data: Bytes::from_static(&[0xab, 0xcd]),
        })
    );
    // GIOP 1.1: no fragment header.
    let v11 = "47494f50 01010207 00000002 abcd";
    assert_eq!(
        decode_one(v11).body,
        MessageBody::Fragment(Fragment {
            request_id: None,
            more_fragments: true,
            data: Bytes::from_static(&[0xab, 0xcd]),
        })
    );
    assert_reencodes(v11, &[]);
}

/// Encodes a GIOP 1.2 little-endian reply, as omniORB sends them.
fn reply_1_2(request_id: u32, status: ReplyStatus) -> BytesMut {
    encoded(&Message::new(
        GiopVersion::V1_2,
        ByteOrder::LittleEndian,
        MessageBody::Reply(Reply {
            request_id,
            service_contexts: Vec::new(),
            status,
        }),
    ))
}

fn message_size(wire: &[u8]) -> u32 {
    u32::from_le_bytes(wire[8..12].try_into().unwrap())
}

#[test]
fn reply_sizes_match_omniorb() {
    // raw_giop_output.txt lists the sizes of omniORB's replies.
    let bad_operation = SystemException {
        exception_id: "IDL:omg.org/CORBA/BAD_OPERATION:1.0".into(),
        minor: 0x4154_0026,
        completed: CompletionStatus::No,
    };
    let wire = reply_1_2(5, ReplyStatus::SystemException(bad_operation.clone()));
    assert_eq!(message_size(&wire), 60);
    let not_exist = SystemException::standard(
        "OBJECT_NOT_EXIST",
        SystemException::OMG_VMCID | 1,
        CompletionStatus::No,
    );
    assert_eq!(
        not_exist.exception_id,
        "IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0"
    );
    assert_eq!(
        message_size(&reply_1_2(6, ReplyStatus::SystemException(not_exist))),
        64
    );
    let boolean = ReplyStatus::NoException(Bytes::from_static(&[0]));
    assert_eq!(message_size(&reply_1_2(7, boolean)), 13);
    assert_eq!(
        message_size(&reply_1_2(3, ReplyStatus::NoException(Bytes::new()))),
        12
    );
    // The system exception body starts 8-aligned at offset 24.
    assert_eq!(&wire[24..28], &36u32.to_le_bytes());
}

#[test]
fn giop_1_2_locate_reply_bodies_are_not_aligned() {
    let forward = Message::new(
        GiopVersion::V1_2,
        ByteOrder::BigEndian,
        MessageBody::LocateReply(LocateReply {
            request_id: 1,
            status: LocateStatus::ObjectForward(Ior::default()),
        }),
    );
    let wire = encoded(&forward);
    // request_id, status, then the IOR's type_id length right at offset 20.
    assert_eq!(&wire[20..24], &[0, 0, 0, 1]);
    assert_eq!(decode(&mut wire.clone()), Ok(Some(forward)));
}

#[test]
fn giop_1_1_big_endian_request_layout() {
    let request = Message::new(
        GiopVersion::V1_1,
        ByteOrder::BigEndian,
        MessageBody::Request(Request {
            request_id: 2,
            response_flags: ResponseFlags::SyncWithTarget,
            target: TargetAddress::KeyAddr(Bytes::from_static(b"Account")),
            operation: "balance".into(),
            service_contexts: Vec::new(),
            requesting_principal: Bytes::new(),
            body: Bytes::new(),
        }),
    );
    let wire = encoded(&request);
    let expected = hex("
        47494f50 01010000 00000028 00000000 00000002 01000000 00000007 4163636f
        756e7400 00000008 62616c61 6e636500 00000000");
    assert_eq!(wire, expected);
    assert_eq!(request.body_offset(), Ok(Some(52)));
}

#[test]
fn body_readers_know_the_alignment_of_the_body() {
    // GIOP 1.0 _is_a from trace-sysexc.txt: the body starts at offset 48.
    let message = decode_one(
        "
        47494f50 01000100 3d000000 00000000 02000000 010a6f6d 04000000 4e6f7065
        06000000 5f69735f 61006c54 00000000 15000000 49444c3a 42616e6b 2f416363
        6f756e74 3a312e30 00",
    );
    assert_eq!(message.body_offset(), Ok(Some(48)));
    let mut r = message.body_reader().unwrap().unwrap();
    assert_eq!(r.alignment_position(), 48);
    assert_eq!(r.read_string().unwrap(), "IDL:Bank/Account:1.0");
    // A GIOP 1.2 reply body starts on a multiple of 8 even when it is empty.
    let reply = decode_one("47494f50 01020101 0c000000 06000000 00000000 00000000");
    assert_eq!(reply.body_offset(), Ok(Some(24)));
    assert_eq!(
        decode_one("47494f50 01020105 00000000")
            .body_reader()
            .unwrap()
            .map(|r| r.remaining()),
        None
    );
}

// ===== Property tests =====

fn versions() -> impl Strategy<Value = GiopVersion> {
    prop_oneof![
        Just(GiopVersion::V1_0),
        Just(GiopVersion::V1_1),
        Just(GiopVersion::V1_2)
    ]
}

fn orders() -> impl Strategy<Value = ByteOrder> {
    prop_oneof![Just(ByteOrder::BigEndian), Just(ByteOrder::LittleEndian)]
}

fn octets(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn text() -> impl Strategy<Value = String> {
    "[\u{1}-\u{ff}]{0,12}"
}

fn service_contexts() -> impl Strategy<Value = Vec<ServiceContext>> {
    proptest::collection::vec(
        (any::<u32>(), octets(12)).prop_map(|(context_id, context_data)| ServiceContext {
            context_id,
            context_data,
        }),
        0..3,
    )
}

fn iors() -> impl Strategy<Value = Ior> {
    (
        text(),
        proptest::collection::vec(
            (any::<u32>(), octets(16))
                .prop_map(|(tag, profile_data)| TaggedProfile { tag, profile_data }),
            0..3,
        ),
    )
        .prop_map(|(type_id, profiles)| Ior { type_id, profiles })
}

fn system_exceptions() -> impl Strategy<Value = SystemException> {
    (
        text(),
        any::<u32>(),
        prop_oneof![
            Just(CompletionStatus::Yes),
            Just(CompletionStatus::No),
            Just(CompletionStatus::Maybe)
        ],
    )
        .prop_map(|(exception_id, minor, completed)| SystemException {
            exception_id,
            minor,
            completed,
        })
}

fn dispositions() -> impl Strategy<Value = AddressingDisposition> {
    prop_oneof![
        Just(AddressingDisposition::KeyAddr),
        Just(AddressingDisposition::ProfileAddr),
        Just(AddressingDisposition::ReferenceAddr)
    ]
}

fn targets(version: GiopVersion) -> BoxedStrategy<TargetAddress> {
    let key = octets(16).prop_map(TargetAddress::KeyAddr);
    if version < GiopVersion::V1_2 {
        return key.boxed();
    }
    prop_oneof![
        key,
        (any::<u32>(), octets(16)).prop_map(|(tag, profile_data)| TargetAddress::ProfileAddr(
            TaggedProfile { tag, profile_data }
        )),
        (any::<u32>(), iors()).prop_map(|(selected_profile_index, ior)| {
            TargetAddress::ReferenceAddr(IorAddressingInfo {
                selected_profile_index,
                ior,
            })
        }),
    ]
    .boxed()
}

fn requests(version: GiopVersion) -> impl Strategy<Value = Request> {
    let flags = if version < GiopVersion::V1_2 {
        prop_oneof![
            Just(ResponseFlags::NoResponse),
            Just(ResponseFlags::SyncWithTarget)
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(ResponseFlags::NoResponse),
            Just(ResponseFlags::SyncWithServer),
            Just(ResponseFlags::SyncWithTarget)
        ]
        .boxed()
    };
    let principal = if version < GiopVersion::V1_2 {
        octets(8).boxed()
    } else {
        Just(Bytes::new()).boxed()
    };
    (
        any::<u32>(),
        flags,
        targets(version),
        text(),
        service_contexts(),
        principal,
        octets(24),
    )
        .prop_map(
            |(
                request_id,
                response_flags,
                target,
                operation,
                service_contexts,
                requesting_principal,
                body,
            )| {
                Request {
                    request_id,
                    response_flags,
                    target,
                    operation,
                    service_contexts,
                    requesting_principal,
                    body,
                }
            },
        )
}

fn reply_statuses(version: GiopVersion) -> BoxedStrategy<ReplyStatus> {
    let common = prop_oneof![
        octets(24).prop_map(ReplyStatus::NoException),
        octets(24).prop_map(ReplyStatus::UserException),
        system_exceptions().prop_map(ReplyStatus::SystemException),
        iors().prop_map(ReplyStatus::LocationForward),
    ];
    if version < GiopVersion::V1_2 {
        return common.boxed();
    }
    prop_oneof![
        4 => common,
        1 => iors().prop_map(ReplyStatus::LocationForwardPerm),
        1 => dispositions().prop_map(ReplyStatus::NeedsAddressingMode),
    ]
    .boxed()
}

fn locate_statuses(version: GiopVersion) -> BoxedStrategy<LocateStatus> {
    let common = prop_oneof![
        Just(LocateStatus::UnknownObject),
        Just(LocateStatus::ObjectHere),
        iors().prop_map(LocateStatus::ObjectForward),
    ];
    if version < GiopVersion::V1_2 {
        return common.boxed();
    }
    prop_oneof![
        common,
        iors().prop_map(LocateStatus::ObjectForwardPerm),
        system_exceptions().prop_map(LocateStatus::LocSystemException),
        dispositions().prop_map(LocateStatus::LocNeedsAddressingMode),
    ]
    .boxed()
}

fn bodies(version: GiopVersion) -> BoxedStrategy<MessageBody> {
    let mut kinds = vec![
        requests(version).prop_map(MessageBody::Request).boxed(),
        (any::<u32>(), service_contexts(), reply_statuses(version))
            .prop_map(|(request_id, service_contexts, status)| {
                MessageBody::Reply(Reply {
                    request_id,
                    service_contexts,
                    status,
                })
            })
            .boxed(),
        any::<u32>()
            .prop_map(|request_id| MessageBody::CancelRequest(CancelRequest { request_id }))
            .boxed(),
        (any::<u32>(), targets(version))
            .prop_map(|(request_id, target)| {
                MessageBody::LocateRequest(LocateRequest { request_id, target })
            })
            .boxed(),
        (any::<u32>(), locate_statuses(version))
            .prop_map(|(request_id, status)| {
                MessageBody::LocateReply(LocateReply { request_id, status })
            })
            .boxed(),
        Just(MessageBody::CloseConnection).boxed(),
        Just(MessageBody::MessageError).boxed(),
    ];
    if version > GiopVersion::V1_0 {
        let request_id = if version == GiopVersion::V1_2 {
            any::<u32>().prop_map(Some).boxed()
        } else {
            Just(None).boxed()
        };
        kinds.push(
            (request_id, any::<bool>(), octets(24))
                .prop_map(|(request_id, more_fragments, data)| {
                    MessageBody::Fragment(Fragment {
                        request_id,
                        more_fragments,
                        data,
                    })
                })
                .boxed(),
        );
        let fragmentable = if version == GiopVersion::V1_2 {
            prop_oneof![
                Just(MessageType::Request),
                Just(MessageType::Reply),
                Just(MessageType::LocateRequest),
                Just(MessageType::LocateReply)
            ]
            .boxed()
        } else {
            prop_oneof![Just(MessageType::Request), Just(MessageType::Reply)].boxed()
        };
        kinds.push(
            (fragmentable, octets(24))
                .prop_map(|(message_type, data)| {
                    MessageBody::FirstFragment(FirstFragment { message_type, data })
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(kinds).boxed()
}

fn messages() -> impl Strategy<Value = Message> {
    (versions(), orders()).prop_flat_map(|(version, byte_order)| {
        bodies(version).prop_map(move |body| Message::new(version, byte_order, body))
    })
}

proptest! {
    #[test]
    fn messages_round_trip(message in messages()) {
        let mut buf = encoded(&message);
        let decoded = decode(&mut buf);
        prop_assert_eq!(decoded, Ok(Some(message)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn streams_of_messages_round_trip(list in proptest::collection::vec(messages(), 1..5)) {
        let mut buf = BytesMut::new();
        for message in &list {
            encode(message, &mut buf).unwrap();
        }
        let mut decoded = Vec::new();
        while let Some(message) = decode(&mut buf).unwrap() {
            decoded.push(message);
        }
        prop_assert_eq!(decoded, list);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = decode(&mut buf) {}
    }

    #[test]
    fn mutated_messages_never_panic(message in messages(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut buf = encoded(&message);
        for (index, value) in flips {
            let i = index.index(buf.len());
            buf[i] = value;
        }
        let _ = decode(&mut buf);
    }
}
