//! The `[[bank]]` tables: the banks of the WS-AT bank-transfer example
//! that `ithaca serve` hosts (`gateway/src/bank.rs`), each at
//! `/services/NAME` on its own PostgreSQL database.

use serde::{Deserialize, Serialize};

/// One hosted bank.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankConfig {
    /// The bank's name: its path (`/services/NAME`) and its WS-AT
    /// participant node id (in the GIDs of its prepared transactions).
    /// 1 to 32 of `a-z A-Z 0-9 - _`, unique among the banks.
    pub name: String,
    /// Its PostgreSQL database (`postgres://…`); the server needs
    /// `max_prepared_transactions` > 0.
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
            database_url: String::new(),
            max_connections: 32,
            open_accounts: 0,
            opening_balance: 0,
            public_url: None,
        }
    }
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
        if !(bank.database_url.starts_with("postgres://")
            || bank.database_url.starts_with("postgresql://"))
        {
            return Err((
                "bank.database_url",
                format!(
                    "bank {}: must be a postgres:// or postgresql:// URL",
                    bank.name
                ),
            ));
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
