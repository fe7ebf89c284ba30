//! Commands of the `ithaca` binary other than `serve` and `config`.

pub(crate) mod wsdl;
