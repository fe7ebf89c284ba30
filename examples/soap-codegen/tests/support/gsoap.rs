//! A gSOAP server built from WSDLs with Debian's gSOAP (wsdl2h, soapcpp2,
//! g++) and started on a free port, for the tests that call it with the
//! generated clients.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const HINT: &str = "run scripts/install-test-deps.sh (it installs gsoap and libgsoap-dev)";

/// What to build: the WSDLs (relative to the example crate), the header
/// wsdl2h writes, the server's `main` (`gsoap/…`) and the program's name,
/// which also names its build directory.
pub struct GsoapBuild<'a> {
    pub wsdls: &'a [&'a str],
    pub header: &'a str,
    pub server: &'a str,
    pub program: &'a str,
}

/// A running gSOAP server, killed when the test ends (also on panic).
pub struct GsoapServer {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl Drop for GsoapServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}; {HINT}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl GsoapBuild<'_> {
    /// Builds the server; its program's path.
    pub fn build(&self) -> PathBuf {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(self.program);
        std::fs::create_dir_all(&out).unwrap();
        let mut wsdl2h = Command::new("wsdl2h");
        wsdl2h.current_dir(&out).arg("-o").arg(self.header);
        for wsdl in self.wsdls {
            wsdl2h.arg(crate_dir.join(wsdl));
        }
        run(&mut wsdl2h, "wsdl2h");
        run(
            Command::new("soapcpp2").current_dir(&out).args([
                "-S",
                "-L",
                "-x",
                "-I/usr/share/gsoap/import",
                self.header,
            ]),
            "soapcpp2",
        );
        run(
            Command::new("g++")
                .current_dir(&out)
                .args(["-O1", "-I."])
                .arg("-o")
                .arg(self.program)
                .arg(crate_dir.join(self.server))
                .args(["soapC.cpp", "soapServer.cpp", "-lgsoap++"]),
            "g++",
        );
        out.join(self.program)
    }
}

/// Starts `program`, which prints `listening PORT` once it listens.
pub fn start(program: &Path) -> GsoapServer {
    let mut child = Command::new(program)
        .arg("0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut server = GsoapServer { child, port: 0 };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    server.port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the gSOAP server said {line:?}"));
    server
}
