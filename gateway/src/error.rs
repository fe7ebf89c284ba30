//! Why the gateway could not start. Each error's `Display` is one line that
//! names the key or file at fault; the `ithaca` binary prints it and exits
//! with status 2.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::ConfigError;

/// A start-up failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error("config error: {0}")]
    Config(#[from] ConfigError),
    /// A listener could not bind.
    #[error("cannot listen on {addr} ({key}): {}", describe_io(.source))]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The key that set it.
        key: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A certificate or key could not be loaded.
    #[error("TLS setup failed ({key} = {}): {problem}", .path.display())]
    Tls {
        /// The key that named the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The admin token file could not be read or is unusable.
    #[error("admin.token_file = {}: {problem}", .path.display())]
    AdminToken {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The data directory cannot be used.
    #[error("data directory {} (storage.data_dir): {problem}", .path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A store could not be opened.
    #[error("cannot open the {what} store: {problem}")]
    Store {
        /// Which store.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
}

fn describe_io(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::AddrInUse => "address already in use".to_owned(),
        io::ErrorKind::AddrNotAvailable => "address not available on this machine".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    }
}
