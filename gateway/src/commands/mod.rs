//! Commands of the `ithaca` binary other than `serve` and `config`.

pub(crate) mod admin_client;
pub(crate) mod bridge;
pub(crate) mod codegen;
pub(crate) mod corba;
pub(crate) mod demo;
pub(crate) mod demo_atc;
pub(crate) mod demo_bank;
pub(crate) mod idl;
pub(crate) mod idl_codegen;
pub(crate) mod membership;
pub(crate) mod mock;
pub(crate) mod txn;
pub(crate) mod wsdl;
