//! XML Schema (XSD 1.0) support. For now only the built-in simple types;
//! the schema model is still to come.

pub mod builtin;
