//! Commands of the `ithaca` binary other than `serve` and `config`.

pub(crate) mod idl;
pub(crate) mod wsdl;
