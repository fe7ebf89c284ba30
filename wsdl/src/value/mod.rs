//! The schema-typed value tree and its codecs.
//!
//! A [`Value`] is what a dynamic handler reads and writes instead of XML:
//! complex values as ordered named [`Field`]s (repeated elements kept in
//! order) with their [`Attribute`]s, [`Simple`] values typed by their
//! built-in root (integers as `i64`/`u64` or a canonical big-integer
//! string, decimals as canonical strings, floats, dates and durations
//! validated and kept lexically, binary as bytes, QNames resolved, lists),
//! `xsi:nil`, the `xsi:type` received or to send, SOAP-encoded
//! [`Array`]s, and wildcard content as raw XML.
//!
//! - [`MessageCodec`]: the body of one operation's request or response,
//!   for document/literal (wrapped or bare), rpc/literal and rpc/encoded
//!   (SOAP 1.1 section 5: `xsi:type` on accessors, `SOAP-ENC:Array` with
//!   `SOAP-ENC:arrayType`, multi-reference values by `href`/`id`), both
//!   ways. Multi-dimensional, partially transmitted and sparse arrays and
//!   SOAP 1.2 encoding are refused with
//!   [`ValueError::Unsupported`].
//! - [`decode_element`] and [`encode_element`]: one global element.
//!
//! Decoding reads the payload with the crate's checked scanner over
//! quick-xml's `NsReader` (no DOCTYPE, no entities beyond XML's own,
//! every [`Limits`](crate::Limits) bound) into a bounded element tree,
//! then walks it with the schema; [`ValueLimits`] bounds the value depth,
//! the number of values (each copy of a multi-referenced value counted),
//! the references followed and array sizes, and `href` cycles are
//! refused. Every error names the element path, such as
//! `/add/point/x: value "a" is not a valid xs:int`.
//!
//! Encoding writes element names as declared (qualified or not per
//! `form`/`elementFormDefault`), declares every prefix it uses where it
//! is first needed (it never binds a default namespace, so unqualified
//! elements stay in no namespace), writes `xsi:type` where a complex
//! value's actual type is not the declared one (and on every accessor in
//! SOAP encoding) and checks simple values against their types, facets
//! included. Fields are written in the order given: build them in the
//! schema's order.

mod decode;
mod encode;
mod error;
mod limits;
mod message;
mod model;
mod simple;
mod tree;
mod types;

pub use error::ValueError;
pub use limits::ValueLimits;
pub use message::{Direction, MessageCodec, decode_element, encode_element};
pub use model::{Array, Attribute, Complex, Field, Simple, Value};

#[cfg(test)]
mod tests;
