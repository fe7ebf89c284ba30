//! The `[[bank]]` tables: the banks of the WS-AT bank-transfer example
//! that `ithaca serve` hosts (`gateway/src/bank.rs`), each at
//! `/services/NAME` on its own database: PostgreSQL (`store = "postgres"`,
//! `database_url`) or a SQLite file in the data directory
//! (`store = "sqlite"`). The embedded defaults host two SQLite banks,
//! [`DEFAULT_BANKS`].

use serde::{Deserialize, Serialize};

/// The banks the embedded defaults host, each on SQLite.
pub const DEFAULT_BANKS: [&str; 2] = ["BankA", "BankB"];

/// How many accounts each default bank opens (`"1"`, `"2"`, `"3"`).
pub const DEFAULT_OPEN_ACCOUNTS: u32 = 3;

/// The opening balance of each default account, in cents (1000.00).
pub const DEFAULT_OPENING_BALANCE: i64 = 100_000;

/// Where a bank keeps its accounts.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BankStore {
    /// A PostgreSQL database (`database_url`), branches prepared with
    /// `PREPARE TRANSACTION`.
    #[default]
    Postgres,
    /// The SQLite file `DATA_DIR/bank-NAME.sqlite`, branches prepared as
    /// durable records (escrow).
    Sqlite,
}

/// One hosted bank.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankConfig {
    /// The bank's name: its path (`/services/NAME`) and its WS-AT
    /// participant node id (in the GIDs of its prepared transactions).
    /// 1 to 32 of `a-z A-Z 0-9 - _`, unique among the banks.
    pub name: String,
    /// Where the accounts are: `postgres` (the default; `database_url`) or
    /// `sqlite` (`DATA_DIR/bank-NAME.sqlite`).
    pub store: BankStore,
    /// Its PostgreSQL database (`postgres://…`), for `store = "postgres"`;
    /// the server needs `max_prepared_transactions` > 0.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub database_url: String,
    /// The most connections to the database (each open transaction branch
    /// pins one until it is prepared).
    pub max_connections: u32,
    /// Accounts `1`..=N opened at start when the bank has no account yet
    /// (0: none).
    pub open_accounts: u32,
    /// The balance, in cents, of each account opened at start.
    pub opening_balance: i64,
    /// The base URL (`http://host:port`) under which coordinators reach
    /// this bank's participant endpoint (default: `server.public_url`,
    /// else `http://` and `server.listen`, with 127.0.0.1 for an
    /// unspecified address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

impl Default for BankConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            store: BankStore::Postgres,
            database_url: String::new(),
            max_connections: 32,
            open_accounts: 0,
            opening_balance: 0,
            public_url: None,
        }
    }
}

impl BankConfig {
    /// A default bank: `name` on SQLite with [`DEFAULT_OPEN_ACCOUNTS`]
    /// accounts of [`DEFAULT_OPENING_BALANCE`].
    pub fn sqlite_default(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            store: BankStore::Sqlite,
            open_accounts: DEFAULT_OPEN_ACCOUNTS,
            opening_balance: DEFAULT_OPENING_BALANCE,
            ..Self::default()
        }
    }

    /// The SQLite file of a `store = "sqlite"` bank, under `data_dir`.
    pub fn sqlite_file(&self, data_dir: &std::path::Path) -> std::path::PathBuf {
        data_dir.join(format!("bank-{}.sqlite", self.name))
    }
}

/// The banks of the embedded defaults.
pub(super) fn default_banks() -> Vec<BankConfig> {
    DEFAULT_BANKS
        .iter()
        .map(|name| BankConfig::sqlite_default(name))
        .collect()
}

/// Checks every bank, naming the key at fault.
pub(super) fn validate(banks: &[BankConfig]) -> Result<(), (&'static str, String)> {
    for (index, bank) in banks.iter().enumerate() {
        let valid_name = !bank.name.is_empty()
            && bank.name.len() <= 32
            && bank
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_name {
            return Err((
                "bank.name",
                format!(
                    "bank #{}: {:?} must be 1 to 32 of a-z A-Z 0-9 - _",
                    index + 1,
                    bank.name
                ),
            ));
        }
        if banks[..index].iter().any(|other| other.name == bank.name) {
            return Err(("bank.name", format!("two banks are named {:?}", bank.name)));
        }
        match bank.store {
            BankStore::Postgres => {
                if !(bank.database_url.starts_with("postgres://")
                    || bank.database_url.starts_with("postgresql://"))
                {
                    return Err((
                        "bank.database_url",
                        format!(
                            "bank {}: must be a postgres:// or postgresql:// URL (or set store = \"sqlite\")",
                            bank.name
                        ),
                    ));
                }
            }
            BankStore::Sqlite => {
                if !bank.database_url.is_empty() {
                    return Err((
                        "bank.database_url",
                        format!(
                            "bank {}: only for store = \"postgres\" (a sqlite bank lives in DATA_DIR/bank-{}.sqlite)",
                            bank.name, bank.name
                        ),
                    ));
                }
            }
        }
        if bank.max_connections == 0 || bank.max_connections > 1000 {
            return Err((
                "bank.max_connections",
                format!("bank {}: must be from 1 to 1000", bank.name),
            ));
        }
        if bank.opening_balance < 0 {
            return Err((
                "bank.opening_balance",
                format!("bank {}: must not be negative", bank.name),
            ));
        }
        if bank.open_accounts > 1_000_000 {
            return Err((
                "bank.open_accounts",
                format!("bank {}: at most 1000000", bank.name),
            ));
        }
        if let Some(url) = &bank.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err((
                "bank.public_url",
                format!("bank {}: must be an http:// or https:// URL", bank.name),
            ));
        }
    }
    Ok(())
}
