//! XML Schema (XSD 1.0): the built-in simple types, the schema model used
//! at run time, a bounded engine for `pattern` facets, and validation of
//! simple values against simple types, and sample instances (`sample.rs`).

pub mod builtin;
mod instance;
pub mod model;
pub mod pattern;
pub(crate) mod reader;
mod sample;
pub(crate) mod set;
mod stream_match;
mod value;

pub use instance::{BodyValidator, InstanceLimits, RpcWrapper, Violation, XSI_NS};
pub use sample::SampleLimits;
pub use set::{ResolvedType, SOAP11_ENCODING_NS, SOAP12_ENCODING_NS, SchemaInfo, SchemaSet};
pub(crate) use stream_match::check_children;
