//! GIOP in memory, without sockets: the benchmark's `echoString` request
//! and its reply (GIOP 1.2, little-endian, object key `Echo`, the payload
//! of `bench/corba-echo.sh`), encoded and decoded as messages, and carried
//! through the sans-IO [`Connection`] on the server side (bytes in, event
//! out, reply in, bytes out), which is the protocol work of one call.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use ithaca_idl::GiopVersion;
use ithaca_idl::cdr::{ByteOrder, CdrWriter};
use ithaca_idl::connection::{Connection, ConnectionConfig, Event, Role};
use ithaca_idl::giop::{
    GiopCodec, Message, MessageBody, Reply, ReplyStatus, Request, ResponseFlags, TargetAddress,
};

const TEXT: &str = "hello from the benchmark, a short payload";

/// A CDR body holding one string, as `echoString` sends and returns it.
fn string_body() -> Bytes {
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, ByteOrder::LittleEndian, GiopVersion::V1_2);
    w.write_string(TEXT).expect("the text encodes");
    buf.freeze()
}

fn request(request_id: u32) -> Message {
    Message::new(
        GiopVersion::V1_2,
        ByteOrder::LittleEndian,
        MessageBody::Request(Request {
            request_id,
            response_flags: ResponseFlags::SyncWithTarget,
            target: TargetAddress::KeyAddr(Bytes::from_static(b"Echo")),
            operation: "echoString".to_owned(),
            service_contexts: Vec::new(),
            requesting_principal: Bytes::new(),
            body: string_body(),
        }),
    )
}

fn reply(request_id: u32) -> Reply {
    Reply {
        request_id,
        service_contexts: Vec::new(),
        status: ReplyStatus::NoException(string_body()),
    }
}

fn encoded(message: &Message) -> Bytes {
    let mut buf = BytesMut::new();
    message.encode(&mut buf).expect("the message encodes");
    buf.freeze()
}

fn messages(c: &mut Criterion) {
    let mut group = c.benchmark_group("giop");
    let request = request(7);
    let reply = Message::new(
        GiopVersion::V1_2,
        ByteOrder::LittleEndian,
        MessageBody::Reply(reply(7)),
    );
    let codec = GiopCodec::new();
    let mut buf = BytesMut::with_capacity(4096);
    group.bench_function("request_encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&request).encode(&mut buf).expect("encodes");
            black_box(buf.len())
        })
    });
    let request_bytes = encoded(&request);
    group.bench_function("request_decode", |b| {
        b.iter(|| {
            let mut input = BytesMut::from(black_box(&request_bytes[..]));
            codec.decode(&mut input).expect("decodes")
        })
    });
    group.bench_function("reply_encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&reply).encode(&mut buf).expect("encodes");
            black_box(buf.len())
        })
    });
    let reply_bytes = encoded(&reply);
    group.bench_function("reply_decode", |b| {
        b.iter(|| {
            let mut input = BytesMut::from(black_box(&reply_bytes[..]));
            codec.decode(&mut input).expect("decodes")
        })
    });
    group.finish();
}

/// One call as the server's connection sees it: the request's bytes in,
/// the request event out, the reply in, the reply's bytes out.
fn server_connection(c: &mut Criterion) {
    let mut connection = Connection::new(ConnectionConfig::new(Role::Server));
    // The id is free again once answered, so the same bytes serve every call.
    let wire = encoded(&request(1));
    c.bench_function("connection/server_call", |b| {
        b.iter(|| {
            connection.handle_input(black_box(&wire));
            let Some(Event::Message(message)) = connection.poll_event() else {
                panic!("the request should come out whole");
            };
            let MessageBody::Request(request) = message.body else {
                panic!("a request was sent");
            };
            connection
                .send_reply(reply(request.request_id))
                .expect("the reply is owed");
            let mut sent = 0;
            while let Some(bytes) = connection.poll_transmit() {
                sent += bytes.len();
            }
            black_box(sent)
        })
    });
}

criterion_group!(benches, messages, server_connection);
criterion_main!(benches);
