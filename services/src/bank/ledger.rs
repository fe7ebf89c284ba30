//! The accounts of one bank in PostgreSQL, and the operations on them.
//!
//! Table `bank_account (id text PRIMARY KEY, balance bigint NOT NULL
//! CHECK (balance >= 0))`, and the journal `bank_journal (tx, account,
//! delta, at)`: every credit and debit also writes one journal row naming
//! the transaction (the WS-AT context's identifier) in the same branch, so
//! an auditor (or the crash tests) can check that each transaction is
//! either in both banks' journals or in neither. Every operation takes one `&mut PgConnection`
//! and issues plain statements on it, so when the host runs it on a WS-AT
//! branch's pinned connection (inside the branch's `BEGIN`), the change is
//! part of the branch: `PREPARE TRANSACTION` makes it durable and
//! `COMMIT PREPARED` / `ROLLBACK PREPARED` settle it. Row locks taken by a
//! prepared branch are held until it is settled, so each write first sets
//! a transaction-local `lock_timeout` ([`LOCK_TIMEOUT_MS`]): a request
//! stuck behind an in-doubt branch fails instead of hanging.
//!
//! **One statement per movement.** A credit or a debit is one round trip:
//! the lock timeout (`set_config(…, true)` in the row filter, evaluated
//! before the row is locked or waited for), the balance change and its
//! journal row (a data-modifying `WITH`, which always runs to completion)
//! go in one statement. Only a refused debit reads the balance again, for
//! the fault's detail.

use sqlx::{PgConnection, PgPool};

use super::{MAX_ACCOUNT_LEN, is_valid_account};

/// How long a write waits for a row lock before it fails, in milliseconds.
pub const LOCK_TIMEOUT_MS: u32 = 5_000;

/// The most accounts [`open_accounts`] creates at once.
pub const MAX_OPENED_ACCOUNTS: u32 = 1_000_000;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The debit would take the balance below zero (or the account does
    /// not exist, balance 0): the declared fault.
    #[error("insufficient funds in account {account}: balance {balance}, requested {requested}")]
    InsufficientFunds {
        /// The account.
        account: String,
        /// Its balance now, in cents.
        balance: i64,
        /// The amount asked for, in cents.
        requested: i64,
    },
    /// The account identifier does not match the contract's pattern.
    #[error("invalid account identifier (1 to {MAX_ACCOUNT_LEN} of A-Z a-z 0-9 _ -)")]
    InvalidAccount,
    /// The transaction identifier is empty or longer than [`MAX_TX_LEN`].
    #[error("the transaction identifier must be 1 to {MAX_TX_LEN} bytes")]
    InvalidTransaction,
    /// The amount is negative.
    #[error("the amount must not be negative, got {0}")]
    NegativeAmount(i64),
    /// The credit would overflow the balance.
    #[error("the balance of account {0} would overflow")]
    Overflow(String),
    /// The transaction's branch holds too much work (SQLite banks: about a
    /// thousand movements per bank and transaction).
    #[error("too many movements in one transaction")]
    TooManyMovements,
    /// Too many debits raced for the same funds; try again.
    #[error("the account is busy, try again")]
    Busy,
    /// The database failed (including a lock wait over [`LOCK_TIMEOUT_MS`]).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Creates the `bank_account` table when it does not exist.
pub async fn ensure_schema(pool: &PgPool) -> Result<(), LedgerError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bank_account (\
         id text PRIMARY KEY, \
         balance bigint NOT NULL CHECK (balance >= 0))",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bank_journal (\
         tx text NOT NULL, \
         account text NOT NULL, \
         delta bigint NOT NULL, \
         at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The longest transaction identifier written to the journal.
pub const MAX_TX_LEN: usize = 512;

fn check_tx(tx: &str) -> Result<(), LedgerError> {
    if tx.is_empty() || tx.len() > MAX_TX_LEN {
        return Err(LedgerError::InvalidTransaction);
    }
    Ok(())
}

/// Opens accounts `1` to `count` with `balance` cents each when the bank
/// has no account yet (so a restart moves no money, and never waits on
/// the row locks of branches left prepared by a crash). Returns how many
/// were created.
pub async fn open_accounts(pool: &PgPool, count: u32, balance: i64) -> Result<u64, LedgerError> {
    if balance < 0 {
        return Err(LedgerError::NegativeAmount(balance));
    }
    let count = count.min(MAX_OPENED_ACCOUNTS);
    let created = sqlx::query(
        "INSERT INTO bank_account (id, balance) \
         SELECT g::text, $2 FROM generate_series(1, $1::int) g \
         WHERE NOT EXISTS (SELECT 1 FROM bank_account) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(i64::from(count))
    .bind(balance)
    .execute(pool)
    .await?;
    Ok(created.rows_affected())
}

pub(crate) fn check(account: &str, amount: i64) -> Result<(), LedgerError> {
    if !is_valid_account(account) {
        return Err(LedgerError::InvalidAccount);
    }
    if amount < 0 {
        return Err(LedgerError::NegativeAmount(amount));
    }
    Ok(())
}

/// [`LOCK_TIMEOUT_MS`] as `set_config` takes it (`SET` takes no bind
/// parameters; `set_config` with is_local = true is `SET LOCAL`).
fn lock_timeout() -> String {
    LOCK_TIMEOUT_MS.to_string()
}

/// Adds `amount` cents to `account` (opening it when new) as part of
/// the transaction `tx` (journalled); the new balance.
pub async fn credit(
    connection: &mut PgConnection,
    tx: &str,
    account: &str,
    amount: i64,
) -> Result<i64, LedgerError> {
    check(account, amount)?;
    check_tx(tx)?;
    // The source row exists only once the lock timeout is set, so the
    // insert (and any wait on a locked row) comes after it.
    let balance: Option<i64> = sqlx::query_scalar(
        "WITH moved AS (\
           INSERT INTO bank_account AS a (id, balance) \
           SELECT $1::text, $2::bigint WHERE set_config('lock_timeout', $4, true) IS NOT NULL \
           ON CONFLICT (id) DO UPDATE SET balance = a.balance + EXCLUDED.balance \
           WHERE a.balance <= 9223372036854775807 - EXCLUDED.balance \
           RETURNING balance), \
         journal AS (\
           INSERT INTO bank_journal (tx, account, delta) SELECT $3::text, $1::text, $2::bigint FROM moved) \
         SELECT balance FROM moved",
    )
    .bind(account)
    .bind(amount)
    .bind(tx)
    .bind(lock_timeout())
    .fetch_optional(&mut *connection)
    .await?;
    balance.ok_or_else(|| LedgerError::Overflow(account.to_owned()))
}

/// Takes `amount` cents from `account` as part of the transaction `tx`
/// (journalled); the new balance, or [`LedgerError::InsufficientFunds`]
/// (nothing changed) when the balance is smaller.
pub async fn debit(
    connection: &mut PgConnection,
    tx: &str,
    account: &str,
    amount: i64,
) -> Result<i64, LedgerError> {
    check(account, amount)?;
    check_tx(tx)?;
    // The filter sets the lock timeout on the row it found, before the
    // update locks it (or waits for a prepared branch that holds it).
    let balance: Option<i64> = sqlx::query_scalar(
        "WITH moved AS (\
           UPDATE bank_account SET balance = balance - $2::bigint \
           WHERE id = $1::text AND balance >= $2::bigint \
           AND set_config('lock_timeout', $4, true) IS NOT NULL \
           RETURNING balance), \
         journal AS (\
           INSERT INTO bank_journal (tx, account, delta) SELECT $3::text, $1::text, -$2::bigint FROM moved) \
         SELECT balance FROM moved",
    )
    .bind(account)
    .bind(amount)
    .bind(tx)
    .bind(lock_timeout())
    .fetch_optional(&mut *connection)
    .await?;
    match balance {
        Some(balance) => Ok(balance),
        None => Err(LedgerError::InsufficientFunds {
            account: account.to_owned(),
            balance: self::balance(connection, account).await?.unwrap_or(0),
            requested: amount,
        }),
    }
}

/// The balance of `account`, `None` when it does not exist.
pub async fn balance(
    connection: &mut PgConnection,
    account: &str,
) -> Result<Option<i64>, LedgerError> {
    check(account, 0)?;
    Ok(
        sqlx::query_scalar("SELECT balance FROM bank_account WHERE id = $1")
            .bind(account)
            .fetch_optional(&mut *connection)
            .await?,
    )
}

/// The sum of every balance and the number of accounts.
pub async fn total(connection: &mut PgConnection) -> Result<(i64, i64), LedgerError> {
    let (total, accounts): (i64, i64) =
        sqlx::query_as("SELECT coalesce(sum(balance), 0)::bigint, count(*) FROM bank_account")
            .fetch_one(&mut *connection)
            .await?;
    Ok((total, accounts))
}
