//! The stores the gateway opens at start: the embedded SQLite database in the
//! data directory (always), and a shared PostgreSQL database (when
//! configured). Both are readiness checks.

use std::fs::{File, TryLockError};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::StorageConfig;
use crate::error::StartError;
use crate::readiness::{Readiness, ReadinessCheck};

/// The file name of the embedded database inside the data directory.
pub const SQLITE_FILE: &str = "ithaca.sqlite3";

/// The open stores. Dropping this releases the data-directory lock.
#[derive(Debug)]
pub struct Stores {
    /// The embedded SQLite database.
    pub sqlite: SqlitePool,
    /// The shared PostgreSQL database, if configured.
    pub postgres: Option<PgPool>,
    data_dir: PathBuf,
    _lock: File,
}

impl Stores {
    /// Creates the data directory if needed, locks it against a second
    /// gateway process, and opens the stores.
    pub async fn open(config: &StorageConfig) -> Result<Self, StartError> {
        let dir = &config.data_dir;
        let dir_error = |problem: String| StartError::DataDir {
            path: dir.clone(),
            problem,
        };
        std::fs::create_dir_all(dir).map_err(|e| dir_error(format!("cannot create: {e}")))?;
        let lock_path = dir.join("LOCK");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| dir_error(format!("cannot open {}: {e}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(dir_error(
                    "in use by another ithaca process (its LOCK file is held)".to_owned(),
                ));
            }
            Err(TryLockError::Error(e)) => return Err(dir_error(format!("cannot lock: {e}"))),
        }

        let options = SqliteConnectOptions::new()
            .filename(dir.join(SQLITE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let sqlite = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| StartError::Store {
                what: "SQLite",
                problem: format!("{}: {e}", dir.join(SQLITE_FILE).display()),
            })?;

        let postgres = match &config.postgres_url {
            None => None,
            Some(url) => Some(
                PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(2))
                    .connect_lazy(url)
                    .map_err(|e| StartError::Store {
                        what: "PostgreSQL",
                        problem: format!("storage.postgres_url: {e}"),
                    })?,
            ),
        };
        Ok(Self {
            sqlite,
            postgres,
            data_dir: dir.clone(),
            _lock: lock,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Registers a readiness check per store.
    pub fn register(&self, readiness: &mut Readiness) {
        readiness.add(Arc::new(PoolCheck {
            name: "sqlite",
            pool: PoolKind::Sqlite(self.sqlite.clone()),
        }));
        if let Some(pg) = &self.postgres {
            readiness.add(Arc::new(PoolCheck {
                name: "postgres",
                pool: PoolKind::Postgres(pg.clone()),
            }));
        }
    }

    /// Closes the pools, waiting for connections to finish.
    pub async fn close(&self) {
        self.sqlite.close().await;
        if let Some(pg) = &self.postgres {
            pg.close().await;
        }
    }
}

enum PoolKind {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

struct PoolCheck {
    name: &'static str,
    pool: PoolKind,
}

impl ReadinessCheck for PoolCheck {
    fn name(&self) -> &str {
        self.name
    }

    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            let result = match &self.pool {
                PoolKind::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
                PoolKind::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            };
            result.map_err(|e| format!("unreachable: {e}"))
        })
    }
}
