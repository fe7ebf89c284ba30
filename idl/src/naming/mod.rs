//! The CORBA Naming Service (`CosNaming`) and `corbaname:` URLs.
//!
//! - [`Name`] and [`NameComponent`]: names, their CDR encoding and the INS
//!   stringified form (`a/b.kind`, `\` escapes) both ways
//!   ([`Name::to_name`], [`Name::to_string_name`]).
//! - [`Corbaname`]: `corbaname:` URLs (`corbaname::host:port#a/b.kind`,
//!   `corbaname:rir:#name`, key `NameService` by default).
//! - [`NamingClient`]: a `NamingContext` client on an
//!   [`OrbClient`](crate::orb::OrbClient): resolve, bind, rebind,
//!   bind_context, rebind_context, new_context, bind_new_context, unbind,
//!   destroy and list (with the binding iterator). The `CosNaming` user
//!   exceptions come back as a typed [`NamingError`].
//! - [`NamingService`]: a small in-memory naming service served by an
//!   [`OrbServer`](crate::orb::OrbServer) (`NamingContextExt` and
//!   `BindingIterator`), bounded by [`NamingLimits`], that omniORB clients
//!   use like omniNames; optionally persistent ([`NamingStore`],
//!   [`FileStore`]: every change is durable before it is answered).
//! - [`object_ior`]: the IIOP 1.2 reference of an object served at a
//!   published address, to bind it.
//! - [`resolve_reference`] and [`Resolver`]: `IOR:`, `corbaloc:` and
//!   `corbaname:` text to an [`ObjectTarget`] (address, key, GIOP version).
//!
//! [`Name::to_name`] and [`Corbaname::parse`] are the fuzzing entry points
//! of the text parsers; [`Name::read`] that of the CDR decoder.

mod binding;
mod client;
mod error;
mod name;
mod publish;
mod resolve;
mod server;
mod store;
mod tree;
mod url;

pub use binding::{Binding, BindingType, MAX_BINDINGS_PER_REPLY};
pub use client::{DEFAULT_LIST_CHUNK, DEFAULT_MAX_LIST, NamingClient};
pub use error::{
    ALREADY_BOUND_ID, CANNOT_PROCEED_ID, INVALID_ADDRESS_ID, INVALID_NAME_ID, NOT_EMPTY_ID,
    NOT_FOUND_ID, NamingError, NotFoundReason,
};
pub use name::{InvalidName, MAX_COMPONENT_LEN, MAX_NAME_COMPONENTS, Name, NameComponent};
pub use publish::{object_ior, object_ior_with_code_sets};
pub use resolve::{ObjectTarget, Resolver, connect_reference, resolve_reference};
pub use server::{BINDING_ITERATOR_ID, NAMING_CONTEXT_EXT_ID, NAMING_CONTEXT_ID, NamingService};
pub use store::{FileStore, MAX_SNAPSHOT_BYTES, NamingStore};
pub use tree::NamingLimits;
pub use url::{Corbaname, DEFAULT_NAMING_KEY, MAX_URL_LEN, escape_url_name};
