//! The `ithaca` binary as an operator uses it: configuration errors, the
//! embedded defaults, signals, and `/metrics` read by a real Prometheus
//! parser.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn ithaca() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ithaca"));
    // The tests' own environment must not configure the binary.
    for (name, _) in std::env::vars() {
        if name.starts_with("ITHACA_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null());
    command
}

/// Runs `ithaca ARGS` to completion; returns (status, stdout, stderr).
fn run(mut command: Command) -> (i32, String, String) {
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Asserts exit status 2 with exactly one line on stderr containing every
/// part of `expected`.
fn assert_config_error(command: Command, expected: &[&str]) {
    let (status, _, stderr) = run(command);
    assert_eq!(status, 2, "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
    for part in expected {
        assert!(stderr.contains(part), "{stderr:?} lacks {part:?}");
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn version_is_printed() {
    let (status, stdout, _) = run({
        let mut c = ithaca();
        c.arg("--version");
        c
    });
    assert_eq!(status, 0);
    assert_eq!(
        stdout.trim(),
        format!("ithaca {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_default_config_is_complete_and_checks_clean() {
    let (status, default, _) = run({
        let mut c = ithaca();
        c.args(["config", "default"]);
        c
    });
    assert_eq!(status, 0);
    assert!(default.contains("[server]") && default.contains("listen = \"127.0.0.1:8080\""));
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "default.toml", &default);
    let (status, stdout, stderr) = run({
        let mut c = ithaca();
        c.args(["config", "check"]).arg(&file);
        c
    });
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.ends_with(": ok\n"));
}

#[test]
fn bad_config_files_exit_2_with_one_line_naming_file_key_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let check = |file: &Path| {
        let mut c = ithaca();
        c.args(["config", "check"]).arg(file);
        c
    };
    let unknown = write(dir.path(), "unknown.toml", "[server]\nlisten_port = 80\n");
    assert_config_error(
        check(&unknown),
        &[
            "unknown.toml",
            "server.listen_port",
            "unknown field `listen_port`",
        ],
    );
    let wrong_type = write(
        dir.path(),
        "type.toml",
        "[server]\nmax_concurrent_requests = \"many\"\n",
    );
    assert_config_error(
        check(&wrong_type),
        &[
            "type.toml",
            "server.max_concurrent_requests",
            "invalid type",
        ],
    );
    let syntax = write(dir.path(), "syntax.toml", "[server\n");
    assert_config_error(check(&syntax), &["syntax.toml", "invalid TOML", "line 1"]);
    assert_config_error(
        check(&dir.path().join("missing.toml")),
        &["missing.toml", "cannot read"],
    );
    let unreadable = dir.path().join("a-directory.toml");
    std::fs::create_dir(&unreadable).unwrap();
    assert_config_error(check(&unreadable), &["a-directory.toml", "cannot read"]);

    // `serve` reports the same way, before binding anything.
    let mut serve = ithaca();
    serve.arg("--config").arg(&unknown).arg("serve");
    assert_config_error(serve, &["unknown.toml", "server.listen_port"]);
}

#[test]
fn bad_environment_and_flags_are_named() {
    let mut c = ithaca();
    c.env("ITHACA_SERVER__REQUEST_TIMEOUT", "soon")
        .args(["serve", "--listen", "127.0.0.1:0"]);
    assert_config_error(
        c,
        &[
            "ITHACA_SERVER__REQUEST_TIMEOUT",
            "server.request_timeout",
            "not a duration",
        ],
    );
    let mut c = ithaca();
    c.env("ITHACA_SERVR__LISTEN", "127.0.0.1:0").arg("serve");
    assert_config_error(c, &["ITHACA_SERVR__LISTEN", "unknown field `servr`"]);
    let mut c = ithaca();
    c.args(["serve", "--listen", "localhost:80"]);
    assert_config_error(c, &["--listen", "server.listen", "invalid socket address"]);
}

#[test]
fn a_port_in_use_exits_2_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut c = ithaca();
    c.args(["serve", "--listen", &addr.to_string(), "--data-dir"])
        .arg(dir.path());
    assert_config_error(
        c,
        &[&format!(
            "cannot listen on {addr} (server.listen): address already in use"
        )],
    );
}

/// A running `ithaca serve`, killed on drop if still running.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = lines
            .find_map(|l| {
                let line = l.ok()?;
                line.strip_prefix("listening: server http://")?.parse().ok()
            })
            .expect("ithaca prints where it listens");
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, addr }
    }

    fn terminate(&mut self) -> i32 {
        self.signal("-TERM")
    }

    fn signal(&mut self, signal: &str) -> i32 {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_on_embedded_defaults_answers_healthz_and_exits_0_on_sigterm() {
    // Exactly what the README's first command runs: no flags, no file.
    let dir = tempfile::tempdir().unwrap();
    let mut command = ithaca();
    command.current_dir(dir.path());
    let mut server = Server::start(command);
    assert_eq!(server.addr, "127.0.0.1:8080".parse().unwrap());
    let health = support::http1(server.addr, support::get("/healthz")).await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let ready = support::http1(server.addr, support::get("/readyz")).await;
    assert_eq!(ready.status, 200);
    assert!(dir.path().join("ithaca-data/ithaca.sqlite3").exists());
    assert_eq!(server.terminate(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_stops_the_gateway_cleanly_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = ithaca();
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path());
    let mut server = Server::start(command);
    assert_eq!(
        support::http1(server.addr, support::get("/healthz"))
            .await
            .status,
        200
    );
    assert_eq!(server.signal("-INT"), 0);
    // The data directory lock is released: a new gateway can start on it.
    let mut again = ithaca();
    again
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path());
    let mut server = Server::start(again);
    assert_eq!(server.terminate(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_completes_every_accepted_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = ithaca();
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path());
    let mut server = Server::start(command);
    let load = support::Load::start(server.addr, b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", 16);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert_eq!(status, 0);
    // 503: /readyz says "draining" once shutdown began.
    let complete = load.finish(&[200, 503]).await;
    assert!(complete > 16, "the load did not run ({complete} requests)");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_with_the_prometheus_client_parser() {
    let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let mut command = ithaca();
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path());
    let mut server = Server::start(command);
    for path in ["/healthz", "/readyz", "/nope"] {
        support::http1(server.addr, support::get(path)).await;
    }
    let metrics = support::http1(server.addr, support::get("/metrics")).await;
    assert_eq!(metrics.status, 200);
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &metrics.body).unwrap();
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
for name in sorted(families):
    f = families[name]
    print(name, f.type, len(f.samples))
requests = families["ithaca_http_requests"]
seen = {(s.labels["route"], s.labels["status"]) for s in requests.samples}
assert ("healthz", "200") in seen, seen
assert ("unmatched", "404") in seen, seen
"#;
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "ithaca_http_requests counter",
        "ithaca_http_request_duration_seconds histogram",
        "ithaca_http_requests_in_flight gauge",
        "ithaca_http_connections_open gauge",
        "ithaca_build_info gauge",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    assert_eq!(server.terminate(), 0);
}

#[test]
fn wsdl_check_lists_operations_and_reports_diagnostics_with_positions() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wsdl/tests/fixtures/wsdl");
    let (status, stdout, stderr) = run({
        let mut c = ithaca();
        c.args(["wsdl", "check"])
            .arg(fixtures.join("doc-literal-wrapped.wsdl"))
            .arg(fixtures.join("rpc-literal-soap12.wsdl"));
        c
    });
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stdout.contains("echoString SOAP 1.1 document/literal Wrapped"),
        "{stdout}"
    );
    assert!(stdout.contains("SOAP 1.2 rpc/literal"), "{stdout}");
    assert!(stdout.contains("0 errors"), "{stdout}");

    let (status, _, stderr) = run({
        let mut c = ithaca();
        c.args(["wsdl", "check"])
            .arg(fixtures.join("bad-unresolved.wsdl"));
        c
    });
    assert_eq!(status, 1);
    assert!(
        stderr.contains(
            "bad-unresolved.wsdl:12:7: error: unknown type {http://www.w3.org/2001/XMLSchema}noSuchBuiltin"
        ) && stderr.contains(
            "bad-unresolved.wsdl:11:7: warning: unknown type {urn:bad}NoSuchType (defined nowhere; handled laxly)"
        ),
        "{stderr}"
    );
    // A DOCTYPE is refused, not expanded, and nothing panics.
    let (status, _, stderr) = run({
        let mut c = ithaca();
        c.args(["wsdl", "check"])
            .arg(fixtures.join("bad-doctype.wsdl"));
        c
    });
    assert_eq!(status, 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn idl_check_reports_omniidl_style_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.idl",
        "#include \"types.idl\"\nmodule M { interface I { T twice(in T value); }; };\n",
    );
    let include = dir.path().join("inc");
    std::fs::create_dir(&include).unwrap();
    write(&include, "types.idl", "typedef long T;\n");
    let (status, stdout, stderr) = run({
        let mut c = ithaca();
        c.args(["idl", "check"]).arg(&good).arg("-I").arg(&include);
        c
    });
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.ends_with("good.idl: ok\n"), "{stdout}");

    // omniidl rejects identifiers that differ from a used name only in case.
    let bad = write(
        dir.path(),
        "bad.idl",
        "typedef sequence<long> Points;\ninterface I { Points reverse(in Points points); };\n",
    );
    let (status, _, stderr) = run({
        let mut c = ithaca();
        c.args(["idl", "check"]).arg(&bad);
        c
    });
    assert_eq!(status, 1);
    assert!(stderr.contains("bad.idl:2:"), "{stderr}");
    assert!(stderr.contains("error:"), "{stderr}");
}

/// Corpus tier: `ithaca idl check` gives omniidl's verdict on every file of
/// ../shared/corpus/idl (MANIFEST.tsv records omniidl's verdict and flags).
#[test]
fn idl_check_agrees_with_omniidl_on_the_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/idl");
    let Ok(manifest) = std::fs::read_to_string(root.join("MANIFEST.tsv")) else {
        println!("corpus tier skipped: {} is absent", root.display());
        return;
    };
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [path, _source, verdict, flags, ..] = cols.as_slice() else {
            continue;
        };
        let mut command = ithaca();
        command.current_dir(&root).args(["idl", "check", path]);
        for flag in flags.split_whitespace() {
            if let Some(dir) = flag.strip_prefix("-I") {
                command.arg("-I").arg(dir);
            }
        }
        let (status, _, stderr) = run(command);
        assert!(
            status == 0 || status == 1,
            "{path}: status {status}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{path}: {stderr}");
        let ours = if status == 0 { "accept" } else { "reject" };
        if ours != *verdict {
            mismatches.push(format!("{path}: omniidl {verdict}, ithaca {ours}"));
        }
        checked += 1;
    }
    println!(
        "ithaca idl check agrees with omniidl on {}/{checked} corpus files",
        checked - mismatches.len()
    );
    assert!(checked > 200, "only {checked} corpus entries");
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
