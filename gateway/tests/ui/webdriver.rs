//! A small W3C WebDriver client for the operator page's browser test:
//! starts Debian's `chromedriver`, which drives headless Debian `chromium`,
//! and speaks its HTTP/JSON protocol over plain blocking sockets.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Where Debian installs the browser and its driver.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The key W3C WebDriver puts element references under.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Why the browser cannot run here, if it cannot.
pub fn missing() -> Option<String> {
    [CHROMIUM, CHROMEDRIVER]
        .iter()
        .find(|path| !Path::new(path).exists())
        .map(|path| format!("{path} is not installed"))
}

/// A chromedriver process and one browser session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile in
    /// `scratch`.
    pub fn start(scratch: &Path) -> Self {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(scratch.join("chromedriver.log")).unwrap();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let profile = scratch.join("chromium-profile");
        std::fs::create_dir_all(&profile).unwrap();
        let mut browser = Self {
            driver,
            port,
            session: String::new(),
            profile,
        };
        let started = Instant::now();
        while browser.request("GET", "/status", None).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-quic",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--disable-dev-shm-usage",
                            format!("--user-data-dir={}", browser.profile.display()),
                        ]
                    }
                }
            }
        });
        let created = browser
            .request("POST", "/session", Some(&capabilities))
            .unwrap_or_else(|e| panic!("no browser session: {e}"));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_owned();
        browser
    }

    /// One WebDriver command; the answer's `value`, or the error it named.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .map_err(|e| format!("chromedriver: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let (head, body) = read_response(&mut stream)?;
        let value: Value =
            serde_json::from_str(&body).map_err(|e| format!("not JSON ({e}): {body}"))?;
        let status_ok = head.starts_with("HTTP/1.1 200");
        let value = value.get("value").cloned().unwrap_or(Value::Null);
        if status_ok {
            Ok(value)
        } else {
            Err(value.to_string())
        }
    }

    fn session_path(&self, tail: &str) -> String {
        format!("/session/{}{tail}", self.session)
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.request(
            "POST",
            &self.session_path("/url"),
            Some(&json!({ "url": url })),
        )
        .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.request("GET", &self.session_path("/url"), None)
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub fn eval(&self, script: &str) -> Value {
        self.request(
            "POST",
            &self.session_path("/execute/sync"),
            Some(&json!({ "script": script, "args": [] })),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// The visible text of the element `css` selects, if there is one.
    pub fn text(&self, css: &str) -> Option<String> {
        let element = self.find(css)?;
        self.request(
            "GET",
            &self.session_path(&format!("/element/{element}/text")),
            None,
        )
        .ok()?
        .as_str()
        .map(str::to_owned)
    }

    /// The element `css` selects, if there is one.
    pub fn find(&self, css: &str) -> Option<String> {
        let found = self
            .request(
                "POST",
                &self.session_path("/element"),
                Some(&json!({ "using": "css selector", "value": css })),
            )
            .ok()?;
        found[ELEMENT_KEY].as_str().map(str::to_owned)
    }

    /// Clicks the element `css` selects, as a user would.
    pub fn click(&self, css: &str) {
        let element = self
            .find(css)
            .unwrap_or_else(|| panic!("nothing to click at {css}"));
        self.request(
            "POST",
            &self.session_path(&format!("/element/{element}/click")),
            Some(&json!({})),
        )
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &self.session_path(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Reads one response (chromedriver keeps the connection open, so the
/// body is read by its `Content-Length`): the head and the body.
fn read_response(stream: &mut TcpStream) -> Result<(String, String), String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("chromedriver closed the connection".into());
        }
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .ok_or_else(|| format!("no Content-Length: {head}"))?;
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, String::from_utf8_lossy(&body).into_owned()))
}
