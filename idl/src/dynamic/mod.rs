//! The dynamic, TypeCode-driven CDR codec: values of any IDL type encoded
//! and decoded without generated code. This is what the CORBA⇄SOAP bridge
//! converts through.
//!
//! - [`TypeCode`]: the CORBA TypeCode model (every kind up to
//!   `tk_local_interface`, recursion through [`TypeCode::Recursive`]), its
//!   wire form ([`TypeCode::write`], [`TypeCode::read`]: parameters in
//!   encapsulations, indirections for recursive and repeated TypeCodes),
//!   and [`TypeCode::from_model`] to build one from the IDL front end's
//!   resolved model.
//! - [`Value`]: a dynamic value, with [`decode`] and [`encode`] driven by a
//!   TypeCode; bounds, enum ranges, union discriminators, member names and
//!   array lengths are checked, nesting depth and the number of decoded
//!   values are limited ([`DecodeLimits`]).
//! - [`Operation`]: an interface operation's signature as TypeCodes, to
//!   read and write request, reply and user exception bodies;
//!   [`DynamicServant`] serves any interface through one function of
//!   values, and [`invoke`] calls any operation (DSI and DII style).
//! - [`TypeCode::from_encapsulation`] and [`decode_any_encapsulation`] take
//!   raw bytes: the fuzzing entry points.
//!
//! Valuetypes and value boxes use the GIOP value encoding
//! (`valuetype.rs`): null values, value tags with no, one or a list of
//! repository ids, codebase URLs (skipped, never fetched), chunked state
//! (always read; written for truncatable values and inside chunked
//! state), values of a derived type truncated to the formal one, and
//! indirections for repeated repository ids and for shared values and
//! cycles ([`Value::ValueRef`], in one scope per [`decode_many`] or
//! [`encode_many`] call, as in one GIOP body), and values of types derived
//! from the formal one that [`ValueFactories`] know
//! ([`Value::DerivedValuetype`]; an [`Operation`] knows every derived
//! valuetype of its contract). Custom-marshalled valuetypes, abstract
//! interfaces holding a value and values of types the receiver does not
//! know (and cannot truncate) are refused with [`Error::Unsupported`]. A user
//! exception is marshalled, in a reply as in an `any`, as its repository
//! id followed by its members.
//!
//! [`Error::Unsupported`]: crate::Error::Unsupported
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use ithaca_idl::GiopVersion;
//! use ithaca_idl::cdr::{ByteOrder, CdrReader, CdrWriter};
//! use ithaca_idl::dynamic::{self, TypeCode, Value};
//! use ithaca_idl::front;
//!
//! let out = front::analyze_str("module M { struct Point { long x; long y; string label; }; };");
//! let tc = TypeCode::from_model(&out.model, "M::Point")?;
//! let point = Value::Struct(vec![
//!     ("x".into(), Value::Long(1)),
//!     ("y".into(), Value::Long(2)),
//!     ("label".into(), Value::String("one".into())),
//! ]);
//! let mut buf = BytesMut::new();
//! dynamic::encode(&tc, &point, &mut CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2))?;
//! let mut r = CdrReader::new(buf.freeze(), ByteOrder::BigEndian, GiopVersion::V1_2);
//! assert_eq!(dynamic::decode(&tc, &mut r)?, point);
//! # Ok::<(), ithaca_idl::Error>(())
//! ```

mod factories;
mod from_model;
mod operation;
mod servant;
#[cfg(test)]
mod tests;
mod typecode;
mod value;
mod valuetype;

pub use factories::{VALUE_BASE_ID, ValueFactories};
pub use operation::{Operation, Param, ReplyValues, UserException};
pub use servant::{DynamicReply, DynamicServant, Handler, invoke};
pub use typecode::{
    MAX_FIXED_DIGITS, MAX_TYPECODE_DEPTH, MAX_TYPECODE_NODES, Member, TypeCode, UnionCase,
    ValueMember,
};
pub use value::{
    DEFAULT_MAX_VALUES, DEFAULT_VALUE_DEPTH, DecodeLimits, Fixed, Value, decode,
    decode_any_encapsulation, decode_many, decode_many_with, decode_with, encode,
    encode_any_encapsulation, encode_many, encode_many_with,
};
pub use valuetype::{MAX_VALUE_IDS, NO_VALUE_FACTORY};
