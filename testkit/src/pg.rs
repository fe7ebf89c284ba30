//! Throwaway PostgreSQL clusters for tests.
//!
//! [`PgCluster::start`] runs `initdb` and `pg_ctl start` (as the `postgres`
//! user through `runuser` when the tests run as root, since both refuse
//! root) on 127.0.0.1 and a free port, with `max_prepared_transactions` > 0
//! so participants can `PREPARE TRANSACTION`. [`database`] gives each test a
//! fresh database in a cluster shared by the test process.
//!
//! Clean-up happens three ways, so no `postgres` process outlives its test:
//! dropping a [`PgCluster`] stops it and deletes its directory (this also
//! runs when a test panics); a dropped [`TestDatabase`] is dropped from its
//! cluster; and a small watchdog process started with every cluster stops it
//! once the test process is gone, even after `kill -9` (the shared cluster,
//! a static, is never dropped and relies on it).

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// What to install when PostgreSQL is missing.
const INSTALL_HINT: &str = "install the PostgreSQL server (Debian: `apt-get install postgresql`, or run scripts/install-test-deps.sh)";

/// Why a cluster could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The server binaries are not installed.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in /usr/lib/postgresql/*/bin: {INSTALL_HINT}"
    )]
    NotInstalled,
    /// Running as root without `runuser`.
    #[error(
        "tests run as root and initdb/postgres refuse root, but `runuser` (util-linux) is missing: apt-get install util-linux"
    )]
    NoRunuser,
    /// Running as root without a `postgres` user to run the server as.
    #[error(
        "tests run as root and initdb/postgres refuse root, but there is no `postgres` user to run them as: {INSTALL_HINT}"
    )]
    NoPostgresUser,
    /// A command failed.
    #[error("{what} failed ({status}): {output}")]
    Command {
        /// Which step.
        what: String,
        /// Its exit status.
        status: String,
        /// What it printed, or its log.
        output: String,
    },
    /// A file-system or process error.
    #[error("{what}: {source}")]
    Io {
        /// Which step.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PgError {
    let what = what.into();
    move |source| PgError::Io { what, source }
}

/// How to start a cluster.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// The directory with `initdb`, `pg_ctl`, `postgres` and `psql`; found
    /// automatically when unset.
    pub bin_dir: Option<PathBuf>,
    /// Keep `fsync` on (slower). Off by default: tests kill processes, not the
    /// machine, so the page cache keeps what PostgreSQL wrote.
    pub fsync: bool,
    /// `max_prepared_transactions`.
    pub max_prepared_transactions: u32,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            bin_dir: None,
            fsync: false,
            max_prepared_transactions: 64,
        }
    }
}

/// Finds the server binaries: first on `PATH`, then in the highest-numbered
/// `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> Result<PathBuf, PgError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut candidates: Vec<PathBuf> = std::env::split_paths(&path).collect();
    candidates.extend(debian_bin_dirs(Path::new("/usr/lib/postgresql")));
    find_bin_dir_in(candidates)
}

/// The first directory among `candidates` that holds every server binary.
/// Symlinks (Debian puts some on `PATH`) are followed to the real directory,
/// where `pg_ctl` finds `postgres` beside itself.
pub fn find_bin_dir_in(candidates: impl IntoIterator<Item = PathBuf>) -> Result<PathBuf, PgError> {
    for dir in candidates {
        let Ok(initdb) = std::fs::canonicalize(dir.join("initdb")) else {
            continue;
        };
        let Some(real_dir) = initdb.parent() else {
            continue;
        };
        if ["pg_ctl", "postgres", "psql"]
            .iter()
            .all(|b| real_dir.join(b).is_file())
        {
            return Ok(real_dir.to_path_buf());
        }
    }
    Err(PgError::NotInstalled)
}

/// `/usr/lib/postgresql/<version>/bin`, highest version first.
fn debian_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// Whether this process runs as root (initdb and postgres refuse root).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// A running PostgreSQL cluster in a temporary directory.
#[derive(Debug)]
pub struct PgCluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    postmaster_pid: u32,
    next_db: AtomicU32,
}

static SHARED: OnceLock<Result<PgCluster, String>> = OnceLock::new();

/// A fresh, empty database in the cluster shared by this test process.
pub fn database() -> Result<TestDatabase<'static>, PgError> {
    PgCluster::shared()?.create_database()
}

impl PgCluster {
    /// Starts a private cluster with default options.
    pub fn start() -> Result<Self, PgError> {
        Self::start_with(&PgOptions::default())
    }

    /// The cluster shared by every test of this process, started on first
    /// use. It is stopped by its watchdog when the process exits.
    pub fn shared() -> Result<&'static Self, PgError> {
        match SHARED.get_or_init(|| Self::start().map_err(|e| e.to_string())) {
            Ok(cluster) => Ok(cluster),
            Err(message) => Err(PgError::Command {
                what: "starting the shared test cluster".to_owned(),
                status: "earlier failure".to_owned(),
                output: message.clone(),
            }),
        }
    }

    /// Starts a private cluster.
    pub fn start_with(options: &PgOptions) -> Result<Self, PgError> {
        let bin = match &options.bin_dir {
            Some(dir) => find_bin_dir_in([dir.clone()])?,
            None => find_bin_dir()?,
        };
        let as_postgres = running_as_root();
        let postgres_ids = if as_postgres {
            if !Path::new("/usr/sbin/runuser").exists() && which("runuser").is_none() {
                return Err(PgError::NoRunuser);
            }
            Some(postgres_user_ids()?)
        } else {
            None
        };

        let root = make_temp_dir()?;
        if let Some((uid, gid)) = postgres_ids {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))
                .map_err(io_error(format!("chown {} to postgres", root.display())))?;
        }
        let mut cluster = Self {
            root,
            bin,
            port: 0,
            as_postgres,
            postmaster_pid: 0,
            next_db: AtomicU32::new(1),
        };
        // From here on, dropping `cluster` cleans up whatever exists.
        cluster.spawn_watchdog()?;
        cluster.initdb()?;
        cluster.start_server(options)?;
        Ok(cluster)
    }

    fn data_dir_path(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir_path()
    }

    /// The temporary directory holding data, socket and log.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's process id.
    pub fn postmaster_pid(&self) -> u32 {
        self.postmaster_pid
    }

    /// A connection URL for database `db` as the `postgres` superuser.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A command for a server binary, run as `postgres` when we are root.
    fn server_command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(exe);
            command
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, what: &str, command: &mut Command) -> Result<Output, PgError> {
        let output = command
            .stdin(Stdio::null())
            .output()
            .map_err(io_error(format!("running {what}")))?;
        if output.status.success() {
            return Ok(output);
        }
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        Err(PgError::Command {
            what: what.to_owned(),
            status: output.status.to_string(),
            output: text.trim().to_owned(),
        })
    }

    fn initdb(&self) -> Result<(), PgError> {
        let mut command = self.server_command("initdb");
        command
            .arg("-D")
            .arg(self.data_dir_path())
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"]);
        self.run("initdb", &mut command).map(drop)
    }

    fn start_server(&mut self, options: &PgOptions) -> Result<(), PgError> {
        let mut last_error = None;
        // The free port may be taken between the check and the start.
        for _attempt in 0..5 {
            let port = crate::free_port().map_err(io_error("finding a free port"))?;
            let mut server_options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_prepared_transactions={} -c max_connections=200 -c shared_buffers=64MB",
                self.root.display(),
                options.max_prepared_transactions
            );
            if !options.fsync {
                server_options.push_str(" -c fsync=off -c full_page_writes=off");
            }
            let log = self.root.join("postgres.log");
            let mut command = self.server_command("pg_ctl");
            command
                .arg("-D")
                .arg(self.data_dir_path())
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &server_options, "start"]);
            match self.run("pg_ctl start", &mut command) {
                Ok(_) => {
                    self.port = port;
                    self.postmaster_pid = self.read_postmaster_pid()?;
                    return Ok(());
                }
                Err(PgError::Command {
                    what,
                    status,
                    mut output,
                }) => {
                    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
                    let _ = write!(output, "\nserver log:\n{log_text}");
                    let retry = log_text.contains("Address already in use");
                    last_error = Some(PgError::Command {
                        what,
                        status,
                        output,
                    });
                    if !retry {
                        break;
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Err(last_error.unwrap_or(PgError::NotInstalled))
    }

    fn read_postmaster_pid(&self) -> Result<u32, PgError> {
        let path = self.data_dir_path().join("postmaster.pid");
        let text = std::fs::read_to_string(&path)
            .map_err(io_error(format!("reading {}", path.display())))?;
        text.lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| PgError::Command {
                what: "reading postmaster.pid".to_owned(),
                status: "unparsable".to_owned(),
                output: text.clone(),
            })
    }

    /// Starts a shell loop that stops the cluster and deletes its directory
    /// once this process is gone (or the directory was already removed).
    fn spawn_watchdog(&self) -> Result<(), PgError> {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.as_postgres {
            format!("runuser -u postgres -- '{}'", pg_ctl.display())
        } else {
            format!("'{}'", pg_ctl.display())
        };
        let script = format!(
            "while [ -d /proc/{pid} ] && [ -d '{root}' ]; do sleep 0.2; done; \
             if [ -f '{root}/data/postmaster.pid' ]; then {stop} -D '{root}/data' -m immediate -w stop >/dev/null 2>&1; fi; \
             rm -rf '{root}'",
            pid = std::process::id(),
            root = self.root.display(),
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io_error("starting the cluster watchdog"))?;
        Ok(())
    }

    /// Runs SQL through `psql` against database `db` and returns its
    /// unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, PgError> {
        let mut command = Command::new(self.bin.join("psql"));
        command
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-U", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(db)
            .arg("-c")
            .arg(sql);
        let output = self.run("psql", &mut command)?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Creates a fresh, empty database, dropped again with the returned
    /// guard.
    pub fn create_database(&self) -> Result<TestDatabase<'_>, PgError> {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = format!("test_{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(TestDatabase {
            cluster: self,
            url: self.url(&name),
            name,
        })
    }

    /// Stops the server immediately, as a crash would (`pg_ctl -m immediate`).
    pub fn stop_immediate(&self) -> Result<(), PgError> {
        let mut command = self.server_command("pg_ctl");
        command
            .arg("-D")
            .arg(self.data_dir_path())
            .args(["-m", "immediate", "-w", "stop"]);
        self.run("pg_ctl stop", &mut command).map(drop)
    }

    /// Starts the server again after it was stopped or killed (`kill -9` of
    /// [`PgCluster::postmaster_pid`]), with the same data directory, port
    /// and options (`pg_ctl restart` reads them back from
    /// `postmaster.opts`). Retries for a few seconds while the old server's
    /// backends are still exiting and holding its shared memory.
    pub fn restart(&mut self) -> Result<(), PgError> {
        let log = self.root.join("postgres.log");
        let mut last_error = None;
        for _attempt in 0..20 {
            let mut command = self.server_command("pg_ctl");
            command
                .arg("-D")
                .arg(self.data_dir_path())
                .arg("-l")
                .arg(&log)
                .args(["-m", "immediate", "-w", "-t", "60", "restart"]);
            match self.run("pg_ctl restart", &mut command) {
                Ok(_) => {
                    self.postmaster_pid = self.read_postmaster_pid()?;
                    return Ok(());
                }
                Err(error) => last_error = Some(error),
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        Err(last_error.unwrap_or(PgError::NotInstalled))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.data_dir_path().join("postmaster.pid").exists() {
            let _ = self.stop_immediate();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One test's database; dropped (with `FORCE`) when this guard is.
#[derive(Debug)]
pub struct TestDatabase<'a> {
    cluster: &'a PgCluster,
    name: String,
    url: String,
}

impl TestDatabase<'_> {
    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection URL (`postgres://postgres@127.0.0.1:PORT/NAME`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cluster it lives in.
    pub fn cluster(&self) -> &PgCluster {
        self.cluster
    }

    /// Runs SQL through `psql` in this database.
    pub fn psql(&self, sql: &str) -> Result<String, PgError> {
        self.cluster.psql(&self.name, sql)
    }
}

impl Drop for TestDatabase<'_> {
    fn drop(&mut self) {
        // Prepared transactions would keep the database busy: roll them back.
        let _ = self.cluster.psql(
            &self.name,
            "DO $$ DECLARE g text; BEGIN FOR g IN SELECT gid FROM pg_prepared_xacts WHERE database = current_database() LOOP EXECUTE format('ROLLBACK PREPARED %L', g); END LOOP; END $$",
        );
        let _ = self.cluster.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn postgres_user_ids() -> Result<(u32, u32), PgError> {
    let id = |flag: &str| -> Option<u32> {
        let output = Command::new("id").args([flag, "postgres"]).output().ok()?;
        if !output.status.success() {
            return None;
        }
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) => Ok((uid, gid)),
        _ => Err(PgError::NoPostgresUser),
    }
}

fn make_temp_dir() -> Result<PathBuf, PgError> {
    let base = std::env::temp_dir();
    for n in 0..1000u32 {
        let dir = base.join(format!("ithaca-pg-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(format!("creating {}", dir.display()))(e)),
        }
    }
    Err(PgError::Io {
        what: "creating a temporary directory".to_owned(),
        source: std::io::Error::other("too many ithaca-pg directories"),
    })
}

/// Whether a process with `pid` is alive (for tests that check clean-up).
/// A zombie counts as dead: it has exited, and on machines whose init does
/// not reap orphans it may linger in the process table.
pub fn process_exists(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name.
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// Whether any process runs `postgres` with `data_dir` on its command line.
pub fn postgres_running_in(data_dir: &Path) -> bool {
    let needle = data_dir.as_os_str();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|cmdline| {
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let is_postgres = args
                .first()
                .and_then(|a| {
                    Path::new(OsStr::new(std::str::from_utf8(a).unwrap_or("")))
                        .file_name()
                        .map(|n| n == "postgres")
                })
                .unwrap_or(false);
            is_postgres && args.iter().any(|a| a == &needle.as_encoded_bytes())
        })
}
