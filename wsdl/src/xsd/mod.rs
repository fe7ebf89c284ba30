//! XML Schema (XSD 1.0): the built-in simple types, the schema model used
//! at run time, a bounded engine for `pattern` facets, and validation of
//! simple values against simple types.

pub mod builtin;
mod instance;
pub mod model;
pub mod pattern;
pub(crate) mod reader;
pub(crate) mod set;
mod value;

pub use instance::{InstanceLimits, Violation, XSI_NS};
pub use set::{ResolvedType, SOAP11_ENCODING_NS, SOAP12_ENCODING_NS, SchemaInfo, SchemaSet};
