//! The CORBA side of Ithaca: CDR, GIOP 1.0–1.2, object references, the
//! ORB runtime and the OMG IDL front end.
//!
//! Ithaca bridges legacy CORBA clients and servers (omniORB, TAO, JacORB)
//! to web services. This crate holds everything the bridge needs to speak
//! CORBA on the wire, written sans-IO: it turns bytes into values and values
//! into bytes, never touches a socket or a clock, and never panics on input.
//! Every size, length, count and nesting depth read from the wire is checked
//! against a limit or against the bytes that are actually there before
//! anything is allocated.
//!
//! # What exists
//!
//! - [`cdr`]: the Common Data Representation. [`cdr::CdrReader`] and
//!   [`cdr::CdrWriter`] handle every primitive type (including `wchar` and
//!   `long double`), strings and wide strings with the rules of each GIOP
//!   version, sequences and encapsulations, in both byte orders, with
//!   alignment counted from the start of the GIOP message.
//! - [`giop`]: the GIOP header and all eight message types in versions 1.0,
//!   1.1 and 1.2, service contexts (with the CodeSets context), target
//!   addresses, every reply and locate status, system exceptions, and a
//!   framer ([`giop::GiopCodec`]) with a message size limit (64 MiB by
//!   default). GIOP 1.3 and later are refused with an error that calls for a
//!   MessageError.
//! - [`connection`]: a sans-IO GIOP connection state machine: request ids,
//!   outstanding requests and owed replies, fragmentation of large GIOP 1.2
//!   messages and reassembly of fragmented ones (1.1 and 1.2), and the
//!   MessageError and CloseConnection rules. Bytes go in through
//!   `handle_input`; events and bytes to send come out of `poll_event` and
//!   `poll_transmit`.
//! - [`ior`]: object references, IIOP profiles 1.0–1.2 with tagged
//!   components (ORB type, code sets, alternate addresses), `IOR:` strings
//!   and `corbaloc:` URLs.
//! - [`naming`]: the CORBA Naming Service. `corbaname:` URLs, CosNaming
//!   names and their INS stringified form (`a/b.kind`, checked against
//!   omniNames), a `NamingContext` client on [`orb::OrbClient`] (resolve,
//!   bind, rebind, contexts, unbind, list with binding iterators; the
//!   CosNaming user exceptions as a typed [`naming::NamingError`]), a small
//!   bounded in-memory naming service served by [`orb::OrbServer`] that
//!   omniORB clients use like omniNames, IIOP 1.2 references for served
//!   objects ([`naming::object_ior`]), and [`naming::resolve_reference`]
//!   for `IOR:`, `corbaloc:` and `corbaname:` text.
//! - [`codeset`]: code-set negotiation: the `TAG_CODE_SETS` component a
//!   server publishes, the client's choice of transmission code sets and
//!   the CodeSets service context (ISO-8859-1 and UTF-8 for `char`, UTF-16
//!   for `wchar`).
//! - [`orb`]: the ORB runtime, the only part that does I/O: thin tokio
//!   drivers around the connection state machine. [`orb::OrbServer`]
//!   dispatches requests by object key to [`orb::Servant`]s (DSI-style) and
//!   answers `_is_a`, `_non_existent`, `_interface` and LocateRequests
//!   itself; [`orb::OrbClient`] invokes operations (DII-style) over GIOP
//!   1.0–1.2 in either byte order, with negotiated code sets and per-call
//!   deadlines; [`orb::Orb`] calls references over one multiplexed
//!   connection per endpoint and follows location forwards. All interoperate with omniORB 4.2.
//! - [`front`]: the OMG IDL front end. A preprocessor (`#include` with `-I`
//!   paths, include guards and a depth limit, object- and function-like
//!   `#define`, `#if`/`#elif` with constant expressions and `defined`,
//!   `#pragma prefix/ID/version`, `#line`), a recursive-descent parser for
//!   CORBA 3.x core IDL with error recovery, and a semantic pass (scopes,
//!   name resolution, the case-collision and "use" rules, inheritance,
//!   constant evaluation with range checks, union labels, repository ids
//!   from pragmas and `typeid`/`typeprefix`) that yields a resolved
//!   [`front::model::Model`]. Diagnostics carry file:line:col of the
//!   original source. [`front::check_file`] gives omniidl 4.2.5's verdict on
//!   every file of the shared IDL corpus; [`front::parse_str`] is the
//!   fuzzing entry point.
//! - [`codegen`]: Rust from IDL, for `build.rs` and `ithaca idl codegen`:
//!   a type per IDL type with direct CDR encoding and decoding, and per
//!   interface a servant trait, a skeleton for [`orb::OrbServer`] and a
//!   typed client on [`orb::OrbClient`].
//! - [`dynamic`]: the dynamic, TypeCode-driven CDR codec. CORBA
//!   [`dynamic::TypeCode`]s for every IDL type (recursive ones included),
//!   built from the front end's model and encoded and decoded on the wire
//!   (encapsulations, indirections); [`dynamic::Value`]s of any type
//!   encoded and decoded through them, with bounds, enum ranges, union
//!   discriminators, depth and size checked; operation signatures that read
//!   and write request, reply and user exception bodies, a
//!   [`dynamic::DynamicServant`] for any interface and a DII-style
//!   [`dynamic::invoke`]. Interoperates with omniORB 4.2 for every IDL type
//!   of a rich test contract.
//! - [`Error`]: one error type for all of it; [`Error::is_message_error`]
//!   separates broken framing (answer MessageError and close) from one
//!   broken message (answer MARSHAL).
//!
//! # What is still to come
//!
//! In the dynamic codec, chunked, shared and truncated valuetypes and abstract interfaces
//! holding values; in the naming service, federation by forwarding (a
//! foreign context answers
//! CannotProceed, which clients follow themselves) and `corbaname:` with
//! several addresses tried in turn; in the IDL front end, components and homes
//! (reported as unsupported today), `import` semantics and IDL 4
//! annotations; code generation for valuetypes, native types and abstract
//! and local interfaces.
//!
//! # Example
//!
//! Encode a GIOP 1.2 request for `deposit(5)`, then frame and decode it as
//! a server would, and read the argument from the body:
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use ithaca_idl::GiopVersion;
//! use ithaca_idl::cdr::{ByteOrder, CdrReader, CdrWriter};
//! use ithaca_idl::giop::{self, Message, MessageBody, Request, ResponseFlags, TargetAddress};
//!
//! # fn main() -> Result<(), ithaca_idl::Error> {
//! // GIOP 1.2 bodies start on a multiple of 8, so the arguments can be
//! // encoded on their own.
//! let mut args = BytesMut::new();
//! CdrWriter::new(&mut args, ByteOrder::LittleEndian, GiopVersion::V1_2).write_long(5);
//!
//! let request = Message::new(
//!     GiopVersion::V1_2,
//!     ByteOrder::LittleEndian,
//!     MessageBody::Request(Request {
//!         request_id: 6,
//!         response_flags: ResponseFlags::SyncWithTarget,
//!         target: TargetAddress::KeyAddr(Bytes::from_static(b"Account")),
//!         operation: "deposit".to_owned(),
//!         service_contexts: Vec::new(),
//!         requesting_principal: Bytes::new(),
//!         body: args.freeze(),
//!     }),
//! );
//! let mut wire = BytesMut::new();
//! giop::encode(&request, &mut wire)?;
//! assert_eq!(&wire[..4], b"GIOP");
//!
//! // The framer waits until the whole message is there.
//! let mut partial = BytesMut::from(&wire[..20]);
//! assert_eq!(giop::decode(&mut partial)?, None);
//!
//! let decoded = giop::decode(&mut wire)?.expect("a whole message");
//! assert_eq!(decoded, request);
//! let MessageBody::Request(request) = decoded.body else { unreachable!() };
//! let mut args = CdrReader::new(request.body, ByteOrder::LittleEndian, GiopVersion::V1_2);
//! assert_eq!(args.read_long()?, 5);
//! # Ok(())
//! # }
//! ```

pub mod cdr;
pub mod codegen;
pub mod codeset;
pub mod connection;
pub mod dynamic;
pub mod error;
pub mod front;
pub mod giop;
pub mod ior;
pub mod naming;
pub mod orb;
pub mod version;

pub use error::{Error, Result};
pub use version::{GiopVersion, Version};
