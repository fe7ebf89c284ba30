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

/// The JAX-WS RI client tools: `wsimport` and the JDK on `PATH`, and the
/// jars of Debian's `libjaxws-java` (whose manifests name the rest of the
/// runtime) as a class path.
#[derive(Debug, Clone)]
pub struct JaxWs {
    /// The `wsimport` program.
    pub wsimport: PathBuf,
    /// The `javac` program.
    pub javac: PathBuf,
    /// The `java` program.
    pub java: PathBuf,
    /// The JAX-WS runtime's jars, joined with `:`.
    pub classpath: String,
}

/// Finds the JAX-WS tools and runtime jars.
pub fn jax_ws() -> Result<JaxWs, MissingClient> {
    let on_path = |what: &'static str| -> Result<PathBuf, MissingClient> {
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join(what))
            .find(|path| path.is_file())
            .ok_or_else(|| MissingClient {
                what,
                path: PathBuf::from("$PATH"),
            })
    };
    let jars = Path::new("/usr/share/java");
    let mut classpath = Vec::new();
    for jar in [
        "jaxws-rt.jar",
        "jaxws-api.jar",
        "jws-api.jar",
        "jaxb-api.jar",
        "javax.activation.jar",
    ] {
        let path = jars.join(jar);
        if !path.is_file() {
            return Err(MissingClient {
                what: "a JAX-WS runtime jar (Debian libjaxws-java)",
                path,
            });
        }
        classpath.push(path.display().to_string());
    }
    Ok(JaxWs {
        wsimport: on_path("wsimport")?,
        javac: on_path("javac")?,
        java: on_path("java")?,
        classpath: classpath.join(":"),
    })
}
