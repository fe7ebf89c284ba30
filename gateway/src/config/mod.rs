//! The gateway's configuration: one TOML file, every field defaulted, unknown
//! keys rejected, then `ITHACA_*` environment overrides, then command-line
//! overrides.
//!
//! The commented default file that `ithaca config default` prints is
//! [`DEFAULT_CONFIG_TOML`]; a test keeps it equal to [`Config::default`].
//!
//! Environment overrides name a key path with `__` between sections:
//! `ITHACA_SERVER__LISTEN=0.0.0.0:8080` sets `server.listen`. Every `ITHACA_*`
//! variable must name a real key, except `ITHACA_CONFIG` (the config file).

mod bank;
mod bridge;
mod sector_status;
mod transfer;
mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use bank::{
    BankConfig, BankStore, DEFAULT_BANKS, DEFAULT_OPEN_ACCOUNTS, DEFAULT_OPENING_BALANCE,
};
pub use bridge::{
    BridgeConfig, DEFAULT_IIOP_PORT, DEFAULT_SOAP_OBJECTS, IiopListenerConfig, SoapObjectConfig,
};
pub use sector_status::{BaselineRole, SectorStatusConfig, SectorStatusMode};
pub use transfer::TransferConfig;
use units::defaults;
pub use units::{ByteSize, HumanDuration, UnitError};

/// The commented default configuration, as printed by `ithaca config default`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default.toml");

/// The environment variable that names the configuration file.
pub const CONFIG_ENV: &str = "ITHACA_CONFIG";

/// The prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "ITHACA_";

/// The crash failpoints of the kill -9 tests (`ithaca_txn::failpoint`),
/// not a configuration key.
pub const FAILPOINTS_ENV: &str = "ITHACA_FAILPOINTS";

/// The whole configuration of one `ithaca serve` process.
///
/// Its [`Default`] is the embedded defaults, which host the whole story:
/// the EchoService, the banks [`DEFAULT_BANKS`] on SQLite, the transfer
/// service, the sector-status service (on this process's membership
/// oracle), the WS-AT coordinator, the membership oracle, the bridge's
/// IIOP listener and the admin endpoints.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The main HTTP listener that hosts services.
    pub server: ServerConfig,
    /// The admin endpoints (`/healthz`, `/readyz`, `/metrics`).
    pub admin: AdminConfig,
    /// Where durable state lives.
    pub storage: StorageConfig,
    /// Logging.
    pub log: LogConfig,
    /// The membership oracle and its heartbeat listener.
    pub membership: MembershipConfig,
    /// The WS-AtomicTransaction coordinator's endpoints.
    pub wsat: WsatConfig,
    /// The CORBA⇄SOAP bridge: the IIOP listener and the objects on it.
    pub bridge: BridgeConfig,
    /// The replicated air-traffic sector-status service.
    pub sector_status: SectorStatusConfig,
    /// The transfer service of the bank scenario (`[transfer]`).
    pub transfer: TransferConfig,
    /// The banks of the WS-AT bank-transfer example (`[[bank]]` tables),
    /// each hosted at `/services/NAME` (default: [`DEFAULT_BANKS`] on
    /// SQLite; `bank = []` hosts none).
    pub bank: Vec<BankConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            admin: AdminConfig::default(),
            storage: StorageConfig::default(),
            log: LogConfig::default(),
            membership: MembershipConfig::default(),
            wsat: WsatConfig::default(),
            bridge: BridgeConfig::default(),
            sector_status: SectorStatusConfig::default(),
            transfer: TransferConfig::default(),
            bank: bank::default_banks(),
        }
    }
}

/// The WS-AtomicTransaction coordinator hosted by `ithaca serve` (its
/// endpoints under `/wsat/`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WsatConfig {
    /// Host the coordinator.
    pub enabled: bool,
    /// Its log: `sqlite` (DATA_DIR/wsat.sqlite3) or a PostgreSQL URL.
    pub store: String,
    /// The base URL put into the endpoint references it hands out
    /// (default: `server.public_url`, else `http://` and the request's
    /// `Host`).
    pub public_url: Option<String>,
    /// This coordinator instance's name in the log (instances sharing one
    /// PostgreSQL database need different names).
    pub instance: String,
    /// Take part in automatic takeover (see docs/distributed-transactions.md,
    /// "Several gateways on one log"): join the membership oracle as member
    /// `instance`, primary of the service `wsat:INSTANCE`, and finish the
    /// transactions of each instance in `backs_up` once the oracle has
    /// removed it and promoted this one. Needs a PostgreSQL `store` and an
    /// oracle (`oracles`, or this process's `[membership]`).
    pub takeover: bool,
    /// The instances this one backs up, `a,b,...` (each a `wsat.instance`
    /// of another gateway on the same log).
    pub backs_up: String,
    /// The membership oracle nodes' member addresses, `host:port,...`;
    /// empty means this process's own oracle (`[membership] enabled`).
    pub oracles: String,
}

impl Default for WsatConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            store: "sqlite".to_owned(),
            public_url: None,
            instance: "ithaca".to_owned(),
            takeover: false,
            backs_up: String::new(),
            oracles: String::new(),
        }
    }
}

impl WsatConfig {
    /// Checks the store and URL, naming the key at fault.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.store != "sqlite"
            && !(self.store.starts_with("postgres://") || self.store.starts_with("postgresql://"))
        {
            return Err((
                "wsat.store",
                "must be \"sqlite\" or a postgres:// or postgresql:// URL".into(),
            ));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err((
                "wsat.public_url",
                "must be an http:// or https:// URL".into(),
            ));
        }
        if self.instance.is_empty() || self.instance.len() > 200 {
            return Err(("wsat.instance", "must be 1 to 200 characters".into()));
        }
        crate::wsat::instances::TakeoverPlan::from_config(self).map(|_| ())
    }
}

/// The membership oracle hosted by `ithaca serve` (see docs/membership.md).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MembershipConfig {
    /// Run an oracle node in this process.
    pub enabled: bool,
    /// Where members heartbeat (UDP) and join, leave and fetch views (TCP,
    /// same port). Port 0 picks a free port.
    pub listen: SocketAddr,
    /// This node's id in the oracle group.
    pub oracle_id: u64,
    /// Where this node's consensus listener binds (other oracle nodes).
    pub oracle_listen: SocketAddr,
    /// The oracle's voters, `id=host:port,...` (consensus addresses, this
    /// node included); empty for a single-node oracle.
    pub oracle_peers: String,
    /// The lease `L` the oracle grants, in milliseconds.
    pub lease_ms: u64,
    /// How often members heartbeat, `h`, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// The clock-rate drift bound `ρ`, in parts per million.
    pub clock_drift_ppm: u32,
    /// The silence `S` after which a member is removed, in milliseconds;
    /// must be at least `lease_ms·(1+ρ) + heartbeat_interval_ms`.
    pub suspicion_timeout_ms: u64,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            oracle_id: 1,
            oracle_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            oracle_peers: String::new(),
            lease_ms: 2_000,
            heartbeat_interval_ms: 200,
            clock_drift_ppm: 10_000,
            suspicion_timeout_ms: 2_600,
        }
    }
}

impl MembershipConfig {
    /// The timing knobs as the membership crate takes them.
    pub fn timing(&self) -> ithaca_membership::TimingConfig {
        ithaca_membership::TimingConfig {
            lease: std::time::Duration::from_millis(self.lease_ms),
            heartbeat_interval: std::time::Duration::from_millis(self.heartbeat_interval_ms),
            clock_drift_ppm: self.clock_drift_ppm,
            suspicion_timeout: std::time::Duration::from_millis(self.suspicion_timeout_ms),
        }
    }

    /// Checks the timing formula and the peer list, naming the key at fault.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        use ithaca_membership::ConfigError as Timing;
        if let Err(error) = self.timing().validate() {
            let key = match &error {
                Timing::Zero { key } | Timing::TooLong { key, .. } => match *key {
                    "lease_ms" => "membership.lease_ms",
                    "heartbeat_interval_ms" => "membership.heartbeat_interval_ms",
                    _ => "membership.suspicion_timeout_ms",
                },
                Timing::DriftTooLarge { .. } => "membership.clock_drift_ppm",
                Timing::HeartbeatTooSlow { .. } => "membership.heartbeat_interval_ms",
                Timing::SuspicionTooShort { .. } => "membership.suspicion_timeout_ms",
            };
            return Err((key, error.to_string()));
        }
        let peers = ithaca_membership::consensus::parse_oracle_peers(&self.oracle_peers)
            .map_err(|error| ("membership.oracle_peers", error.to_string()))?;
        if !peers.is_empty() && !peers.iter().any(|peer| peer.id == self.oracle_id) {
            return Err((
                "membership.oracle_peers",
                format!(
                    "must name this node (membership.oracle_id = {})",
                    self.oracle_id
                ),
            ));
        }
        Ok(())
    }
}

/// The main HTTP listener.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// PEM certificate chain; with `tls_key`, the listener speaks TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Accept HTTP/2 (h2c with prior knowledge, or h2 by ALPN over TLS).
    pub http2: bool,
    /// Keep HTTP/1.1 connections open between requests.
    pub keep_alive: bool,
    /// How long a client may take to send a request's headers, and how long an
    /// idle keep-alive connection stays open.
    pub header_read_timeout: HumanDuration,
    /// How long one request may take from its headers to its response.
    pub request_timeout: HumanDuration,
    /// How long a response write may make no progress (a client that stops
    /// reading) before the connection is closed.
    pub write_stall_timeout: HumanDuration,
    /// Largest request body accepted; larger ones get 413.
    pub max_body_size: ByteSize,
    /// Requests handled at once; beyond that new requests get 503.
    pub max_concurrent_requests: usize,
    /// Open connections at once; beyond that the listener stops accepting.
    pub max_connections: usize,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    pub drain_timeout: HumanDuration,
    /// The base URL clients reach the gateway at (behind a reverse proxy),
    /// such as `https://api.example.com/soap`: `?wsdl` publishes port
    /// addresses and import locations under it instead of `http://` and
    /// the request's `Host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// The admin endpoints.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// A separate listener for the admin endpoints; unset, they are served on
    /// `server.listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Bearer token that admin requests must carry. Required when the admin
    /// endpoints are reachable beyond loopback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A file holding the bearer token (first line), instead of `token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// PEM certificate chain for the admin listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for the admin listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

/// Where durable state lives.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Directory for the embedded SQLite store and other durable files.
    pub data_dir: PathBuf,
    /// A shared PostgreSQL database (`postgres://…`); unset, only the
    /// embedded store is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgres_url: Option<String>,
}

/// Logging.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `ithaca_gateway=debug,info`.
    /// `RUST_LOG`, when set, takes precedence.
    pub filter: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    #[default]
    Text,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_cert: None,
            tls_key: None,
            http2: true,
            keep_alive: true,
            header_read_timeout: defaults::secs(10),
            request_timeout: defaults::secs(30),
            write_stall_timeout: defaults::secs(30),
            max_body_size: defaults::mib(8),
            max_concurrent_requests: 512,
            max_connections: 4096,
            drain_timeout: defaults::secs(30),
            public_url: None,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./ithaca-data"),
            postgres_url: None,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// Where a configuration value came from, for error messages.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Origin {
    /// The built-in defaults.
    Default,
    /// The configuration file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("built-in defaults"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::Flag(flag) => write!(f, "command-line flag {flag}"),
        }
    }
}

/// A configuration that cannot be used. Its `Display` is one line naming where
/// the value came from, the key and the problem.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{origin}: {}{problem}", key.as_deref().map(|k| format!("{k}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// The file, variable or flag the bad value came from.
    pub origin: Origin,
    /// The dotted key path (`server.listen`), when one key is at fault.
    pub key: Option<String>,
    /// What is wrong, in one line.
    pub problem: String,
}

impl ConfigError {
    fn new(origin: Origin, key: Option<String>, problem: impl Into<String>) -> Self {
        // Keep the message on one line whatever the underlying error says.
        let problem = problem
            .into()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            origin,
            key,
            problem,
        }
    }
}

/// Overrides given on the command line; each wins over file and environment.
#[derive(Clone, Debug, Default)]
pub struct CliOverrides {
    /// `--listen ADDR`: `server.listen`.
    pub listen: Option<String>,
    /// `--data-dir DIR`: `storage.data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `--admin-listen ADDR`: `admin.listen`.
    pub admin_listen: Option<String>,
    /// `--oracle-peers id=host:port,...`: `membership.oracle_peers`.
    pub oracle_peers: Option<String>,
}

/// Builds a [`Config`] from a file, the environment and flags, remembering
/// where each overridden key came from.
#[derive(Debug)]
pub struct ConfigLoader {
    file: Option<PathBuf>,
    table: toml::Table,
    origins: BTreeMap<String, Origin>,
}

impl ConfigLoader {
    /// Starts from the built-in defaults.
    pub fn new() -> Self {
        Self {
            file: None,
            table: toml::Table::new(),
            origins: BTreeMap::new(),
        }
    }

    /// Reads and parses a TOML file.
    pub fn file(mut self, path: &Path) -> Result<Self, ConfigError> {
        let origin = Origin::File(path.to_owned());
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(origin.clone(), None, format!("cannot read: {e}")))?;
        self.table = parse_toml(&text, &origin)?;
        self.file = Some(path.to_owned());
        Ok(self)
    }

    /// Parses TOML text as if it were the configuration file at `origin`.
    pub fn text(mut self, text: &str, origin: Origin) -> Result<Self, ConfigError> {
        self.table = parse_toml(text, &origin)?;
        if let Origin::File(path) = &origin {
            self.file = Some(path.clone());
        }
        Ok(self)
    }

    /// Applies `ITHACA_*` variables (all but [`CONFIG_ENV`] and
    /// [`FAILPOINTS_ENV`]).
    pub fn env<I>(mut self, vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut vars: Vec<_> = vars
            .into_iter()
            .filter(|(name, _)| {
                name.starts_with(ENV_PREFIX) && name != CONFIG_ENV && name != FAILPOINTS_ENV
            })
            .collect();
        vars.sort();
        for (name, value) in vars {
            let path = name[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>();
            if path.iter().any(String::is_empty) {
                return Err(ConfigError::new(
                    Origin::Env(name),
                    None,
                    "not a configuration key: write sections and keys separated by `__`, e.g. ITHACA_SERVER__LISTEN",
                ));
            }
            self.set(&path, &value, Origin::Env(name))?;
        }
        Ok(self)
    }

    /// Applies command-line overrides.
    pub fn cli(mut self, overrides: &CliOverrides) -> Result<Self, ConfigError> {
        if let Some(listen) = &overrides.listen {
            self.set(
                &["server", "listen"],
                listen,
                Origin::Flag("--listen".into()),
            )?;
        }
        if let Some(dir) = &overrides.data_dir {
            let dir = dir.to_string_lossy();
            self.set(
                &["storage", "data_dir"],
                &dir,
                Origin::Flag("--data-dir".into()),
            )?;
        }
        if let Some(listen) = &overrides.admin_listen {
            self.set(
                &["admin", "listen"],
                listen,
                Origin::Flag("--admin-listen".into()),
            )?;
        }
        if let Some(peers) = &overrides.oracle_peers {
            self.set(
                &["membership", "oracle_peers"],
                peers,
                Origin::Flag("--oracle-peers".into()),
            )?;
        }
        Ok(self)
    }

    /// Sets one key from text, typed like the default value at that key.
    fn set<S: AsRef<str>>(
        &mut self,
        path: &[S],
        value: &str,
        origin: Origin,
    ) -> Result<(), ConfigError> {
        let dotted = path.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(".");
        let typed = typed_value(&dotted, value)
            .map_err(|problem| ConfigError::new(origin.clone(), Some(dotted.clone()), problem))?;
        let mut table = &mut self.table;
        let Some((last, sections)) = path.split_last() else {
            return Ok(());
        };
        for section in sections {
            let entry = table
                .entry(section.as_ref())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(ConfigError::new(
                        origin,
                        Some(dotted),
                        format!("`{}` is not a section", section.as_ref()),
                    ));
                }
            };
        }
        table.insert(last.as_ref().to_owned(), typed);
        self.origins.insert(dotted, origin);
        Ok(())
    }

    /// Deserializes and validates the merged configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        let file_origin = self.file.clone().map_or(Origin::Default, Origin::File);
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(self.table))
            .map_err(|e| {
                let key = e.path().to_string();
                let origin = self
                    .origins
                    .iter()
                    .find(|(k, _)| {
                        key == **k
                            || key.starts_with(&format!("{k}."))
                            || k.starts_with(&format!("{key}."))
                    })
                    .map_or_else(|| file_origin.clone(), |(_, o)| o.clone());
                let key = (key != ".").then_some(key);
                ConfigError::new(origin, key, strip_location(&e.into_inner().to_string()))
            })?;
        config.validate().map_err(|(key, problem)| {
            let origin = self
                .origins
                .get(key)
                .cloned()
                .unwrap_or_else(|| file_origin.clone());
            ConfigError::new(origin, Some(key.to_owned()), problem)
        })?;
        Ok(config)
    }
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::new()
    }
}

/// The TOML deserializer ends messages with `in `server.http2``; the key is
/// already part of our message.
fn strip_location(message: &str) -> String {
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match message.rfind(" in `") {
        Some(at) if message.ends_with('`') => message[..at].to_owned(),
        _ => message.to_owned(),
    }
}

fn parse_toml(text: &str, origin: &Origin) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| {
        let location = e
            .span()
            .map(|span| {
                let before = text.get(..span.start).unwrap_or(text);
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {col}: ")
            })
            .unwrap_or_default();
        ConfigError::new(
            origin.clone(),
            None,
            format!("invalid TOML: {location}{}", e.message()),
        )
    })
}

/// Interprets override text with the type of the key's default value, so
/// `ITHACA_SERVER__HTTP2=false` is a boolean and `ITHACA_ADMIN__TOKEN=123` a
/// string. Unknown keys stay strings and are rejected when deserializing.
fn typed_value(dotted: &str, text: &str) -> Result<toml::Value, String> {
    let Ok(defaults) = toml::Value::try_from(Config::default()) else {
        return Ok(toml::Value::String(text.to_owned()));
    };
    let mut current = Some(&defaults);
    for part in dotted.split('.') {
        current = current.and_then(|v| v.get(part));
    }
    Ok(match current {
        Some(toml::Value::Boolean(_)) => match text {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err(format!("`{text}` is not a boolean (true or false)")),
        },
        Some(toml::Value::Integer(_)) => toml::Value::Integer(
            text.trim()
                .parse()
                .map_err(|_| format!("`{text}` is not a whole number"))?,
        ),
        _ => toml::Value::String(text.to_owned()),
    })
}

impl Config {
    /// The configuration `ithaca serve` uses with no file, no environment and
    /// no flags.
    pub fn embedded_defaults() -> Self {
        Self::default()
    }

    /// Loads the file (if any), then the process environment, then flags.
    pub fn load(file: Option<&Path>, cli: &CliOverrides) -> Result<Self, ConfigError> {
        let mut loader = ConfigLoader::new();
        if let Some(file) = file {
            loader = loader.file(file)?;
        }
        loader.env(std::env::vars())?.cli(cli)?.build()
    }

    /// Checks the rules that types alone cannot express, returning the key at
    /// fault and the problem.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let s = &self.server;
        pair_check(&s.tls_cert, &s.tls_key, "server.tls_cert", "server.tls_key")?;
        let a = &self.admin;
        pair_check(&a.tls_cert, &a.tls_key, "admin.tls_cert", "admin.tls_key")?;
        if a.tls_cert.is_some() && a.listen.is_none() {
            return Err((
                "admin.tls_cert",
                "needs admin.listen: without it the admin endpoints share server.listen and its TLS settings".into(),
            ));
        }
        for (key, value) in [
            ("server.header_read_timeout", s.header_read_timeout),
            ("server.request_timeout", s.request_timeout),
            ("server.write_stall_timeout", s.write_stall_timeout),
        ] {
            if value.get().is_zero() {
                return Err((key, "must be longer than zero".into()));
            }
        }
        if s.max_body_size.bytes() == 0 {
            return Err(("server.max_body_size", "must be at least 1 byte".into()));
        }
        if s.max_concurrent_requests == 0 {
            return Err((
                "server.max_concurrent_requests",
                "must be at least 1".into(),
            ));
        }
        if s.max_connections == 0 {
            return Err(("server.max_connections", "must be at least 1".into()));
        }
        if let Some(url) = &s.public_url {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"))
                .unwrap_or("");
            let clean = !rest.is_empty()
                && !rest.starts_with('/')
                && url.bytes().all(|b| {
                    b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'?' | b'#')
                });
            if !clean {
                return Err((
                    "server.public_url",
                    "must be an http:// or https:// URL with a host, such as https://api.example.com/soap, without query or fragment".into(),
                ));
            }
        }
        self.wsat.validate()?;
        if self.wsat.enabled
            && self.wsat.takeover
            && self.wsat.oracles.trim().is_empty()
            && !self.membership.enabled
        {
            return Err((
                "wsat.oracles",
                "takeover needs a membership oracle: set wsat.oracles (host:port,...) or enable [membership]".into(),
            ));
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            return Err(("storage.data_dir", "must not be empty".into()));
        }
        if let Some(url) = &self.storage.postgres_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err((
                "storage.postgres_url",
                "must start with postgres:// or postgresql://".into(),
            ));
        }
        if a.token.is_some() && a.token_file.is_some() {
            return Err((
                "admin.token_file",
                "set admin.token or admin.token_file, not both".into(),
            ));
        }
        if let Some(token) = &a.token
            && (token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err((
                "admin.token",
                "must be at least 16 printable ASCII characters without spaces".into(),
            ));
        }
        let admin_addr = a.listen.unwrap_or(s.listen);
        if !admin_addr.ip().is_loopback() && a.token.is_none() && a.token_file.is_none() {
            let key = if a.listen.is_some() {
                "admin.listen"
            } else {
                "server.listen"
            };
            return Err((
                key,
                format!(
                    "the admin endpoints would be reachable beyond loopback on {admin_addr}: set admin.token (or admin.token_file), or bind admin.listen to 127.0.0.1"
                ),
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            return Err(("log.filter", format!("not a valid filter: {e}")));
        }
        self.membership.validate()?;
        self.bridge.validate()?;
        bank::validate(&self.bank)?;
        self.sector_status.validate()?;
        self.transfer.validate()?;
        Ok(())
    }

    /// Where the admin endpoints are served, and whether that is its own
    /// listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.listen.unwrap_or(self.server.listen)
    }
}

fn pair_check(
    cert: &Option<PathBuf>,
    key: &Option<PathBuf>,
    cert_name: &'static str,
    key_name: &'static str,
) -> Result<(), (&'static str, String)> {
    match (cert, key) {
        (Some(_), None) => Err((key_name, format!("required when {cert_name} is set"))),
        (None, Some(_)) => Err((cert_name, format!("required when {key_name} is set"))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
