//! Why a SOAP service could not be set up.

use std::path::PathBuf;

/// A problem found while loading a contract or building a hosted service.
/// Each is found at start-up, never per request.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The WSDL file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The contract has errors (each `file:line:col: message`, one a line).
    #[error("{name} does not load:\n{errors}")]
    Load {
        /// The contract's name or path.
        name: String,
        /// The error diagnostics, one a line.
        errors: String,
    },
    /// The contract cannot be published (it is not UTF-8, or not XML).
    #[error("{name} cannot be published: {problem}")]
    Publication {
        /// The contract's name or path.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The contract has no `wsdl:service` of that name (or none at all).
    #[error("{name} has no service named `{service}`")]
    NoSuchService {
        /// The contract's name or path.
        name: String,
        /// The service asked for (empty: the first one).
        service: String,
    },
    /// The service has no port bound to SOAP.
    #[error("the service `{service}` has no SOAP port")]
    NoSoapPort {
        /// The service.
        service: String,
    },
    /// A handler was registered for an operation the service does not have.
    #[error("the service `{service}` has no operation `{operation}`")]
    NoSuchOperation {
        /// The service.
        service: String,
        /// The operation named by the handler.
        operation: String,
    },
    /// A path given for a port is not an absolute path.
    #[error("`{path}` is not a valid route path (it must start with `/` and hold no `?` or `#`)")]
    InvalidPath {
        /// The path.
        path: String,
    },
    /// Two ports would be mounted at the same path.
    #[error("two ports of the service `{service}` would be mounted at `{path}`")]
    DuplicatePath {
        /// The service.
        service: String,
        /// The path.
        path: String,
    },
}
