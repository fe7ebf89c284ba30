//! Where the interop clients live. `scripts/install-test-deps.sh` installs
//! them; a test that needs one and cannot find it fails with a message
//! naming that script.

use std::path::{Path, PathBuf};

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    // testkit/ sits directly under the root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Why an interop client is not available.
#[derive(Debug, thiserror::Error)]
#[error("{what} not found at {}: run scripts/install-test-deps.sh (it installs every interop client)", .path.display())]
pub struct MissingClient {
    /// What is missing.
    pub what: &'static str,
    /// Where it was looked for.
    pub path: PathBuf,
}

/// The Python interpreter of the interop venv (zeep, suds, prometheus_client).
pub fn python() -> Result<PathBuf, MissingClient> {
    let path = repo_root().join(".interop/venv/bin/python");
    if path.exists() {
        Ok(path)
    } else {
        Err(MissingClient {
            what: "the interop Python venv",
            path,
        })
    }
}

/// The directory whose `node_modules` holds the node `soap` client.
pub fn node_dir() -> Result<PathBuf, MissingClient> {
    let dir = repo_root().join("tests/interop/node");
    if dir.join("node_modules/soap").exists() {
        Ok(dir)
    } else {
        Err(MissingClient {
            what: "node_modules/soap",
            path: dir.join("node_modules/soap"),
        })
    }
}
