//! One `ithaca serve` process for crash tests: written configuration, its
//! own port and data directory, started (with failpoints armed) and
//! `kill -9`ed as often as a test likes, its output appended to one log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ithaca_txn::failpoint;

const ITHACA: &str = env!("CARGO_BIN_EXE_ithaca");

/// One `ithaca serve` process, restartable on the same port and data
/// directory; killed when dropped.
pub struct ServeNode {
    /// Its name in messages (and, for a bank, the bank's name).
    pub name: &'static str,
    /// The port of its server listener on 127.0.0.1.
    pub port: u16,
    /// Its data directory.
    pub data: PathBuf,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    admin_token: Option<String>,
}

impl ServeNode {
    /// Writes the configuration `{head}`, then `[server]` and `[storage]`
    /// for a free port and `DIR/NAME-data`, then `{tail}` (`head` holds
    /// top-level keys such as `bank = []`, which must come before any
    /// table).
    pub fn new(dir: &Path, name: &'static str, head: &str, tail: &str) -> Self {
        let port = ithaca_testkit::free_port().unwrap();
        let data = dir.join(format!("{name}-data"));
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "{head}\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[storage]\ndata_dir = \"{}\"\n\n{tail}",
                data.display()
            ),
        )
        .unwrap();
        Self {
            name,
            port,
            data,
            config,
            log: dir.join(format!("{name}.log")),
            child: None,
            admin_token: None,
        }
    }

    /// The bearer token its readiness probe sends: set it when the
    /// configuration sets `admin.token` (then `/readyz` needs it).
    #[must_use]
    pub fn with_admin_token(mut self, token: &str) -> Self {
        self.admin_token = Some(token.to_owned());
        self
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the process (with `failpoints` armed, none of the test's
    /// own `ITHACA_*` variables, which `ithaca serve` would read as
    /// configuration) and waits until it answers `/readyz`.
    pub async fn start(&mut self, failpoints: Option<&str>) {
        self.start_until(failpoints, "ready", 200).await;
    }

    /// Starts the process like [`Self::start`] but waits until `/readyz`
    /// answers `status` (503 for a node expected to come up unready).
    pub async fn start_until(&mut self, failpoints: Option<&str>, what: &str, status: u16) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        writeln!(&log, "---- start (failpoints: {failpoints:?})").unwrap();
        let mut command = Command::new(ITHACA);
        command
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ITHACA_") {
                command.env_remove(key);
            }
        }
        if let Some(points) = failpoints {
            command.env(failpoint::ENV, points);
        }
        self.child = Some(command.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "{} exited at start ({status}):\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if readyz_status(self.port, self.admin_token.as_deref()).await == Some(status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not {what}:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `kill -STOP`: the process stops where it is (its sockets stay
    /// open, nothing runs), as a paused VM or a long GC pause would.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// `kill -CONT`: a paused process runs on from where it stopped.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("not running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {}: {status}", self.name);
    }

    /// Waits for the process to die by its failpoint (SIGKILL).
    pub async fn killed_by_failpoint(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        let deadline = Instant::now() + Duration::from_secs(30);
        let child = self.child.as_mut().expect("not running");
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{}'s failpoint never fired:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.child = None;
        assert_eq!(
            status.signal(),
            Some(9),
            "{} should die by SIGKILL, got {status}:\n{}",
            self.name,
            self.log_tail()
        );
    }

    /// The last 40 lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for ServeNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether `GET /readyz` on 127.0.0.1:`port` answers 200.
pub async fn ready(port: u16) -> bool {
    ready_with_token(port, None).await
}

/// Whether `GET /readyz` on 127.0.0.1:`port`, with the admin bearer
/// `token` if any, answers 200.
pub async fn ready_with_token(port: u16, token: Option<&str>) -> bool {
    readyz_status(port, token).await == Some(200)
}

/// The status `GET /readyz` on 127.0.0.1:`port` answers (with the admin
/// bearer `token` if any); `None` when nothing answers.
pub async fn readyz_status(port: u16, token: Option<&str>) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!("GET /readyz HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let head = std::str::from_utf8(answer.get(..12)?).ok()?;
    head.strip_prefix("HTTP/1.1 ")?.parse().ok()
}
