//! The accounts of one bank in SQLite, moved under WS-AT by escrow.
//!
//! Tables `bank_account (id, balance CHECK (balance >= 0))` and
//! `bank_journal (tx, account, delta, at)`, as in the PostgreSQL
//! [`super::ledger`]. SQLite has no prepared transactions, so a `Credit` or
//! `Debit` does not touch them while its transaction runs: it records the
//! movement in the branch's work (an [`SqliteBranch`] of
//! [`ithaca_txn::participant::sqlite`]) and a debit *reserves* the amount
//! in memory, so it succeeds only if the committed balance less every
//! amount already reserved (by open or prepared branches) covers it. At
//! Prepare the participant writes the work as a durable prepared record;
//! at Commit, [`SqliteLedger::apply`] changes the balances and writes the
//! journal rows in the same SQLite transaction that settles the record;
//! afterwards (or on rollback) the reservations are released. After a
//! crash, the prepared records' debits are reserved again before any new
//! request is served.
//!
//! Invariant: the reservations of an account never exceed its committed
//! balance, so applying any set of prepared branches never takes a balance
//! below zero, and money moves only when a transaction commits.
//!
//! The work is text, one movement per line: `ACCOUNT DELTA\n` (a debit has
//! a negative delta), accounts as the contract allows them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ithaca_txn::participant::{BoxError, BranchId, SqliteBranch, SqliteWork, sqlite};
use ithaca_txn::record::TxId;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use super::ledger::{LedgerError, MAX_OPENED_ACCOUNTS, MAX_TX_LEN, check};

/// How often a debit retries when other debits reserved meanwhile.
const DEBIT_ATTEMPTS: u32 = 64;

/// A bank's branch: its movements, until the transaction ends.
pub type BankBranch = SqliteBranch<SqliteLedger>;

/// What the reservations are.
#[derive(Debug, Default)]
struct Reservations {
    /// Amounts reserved per account, in cents.
    by_account: HashMap<String, i64>,
    /// Bumped by every new reservation (never by a release), so a debit
    /// can tell whether another debit reserved while it read the balance.
    generation: u64,
}

/// One bank's accounts in a SQLite file, and the [`SqliteWork`] of its
/// WS-AT participant.
#[derive(Debug)]
pub struct SqliteLedger {
    pool: SqlitePool,
    reservations: Mutex<Reservations>,
}

/// Opens the bank's SQLite file (WAL, `synchronous=FULL`), creating it and
/// its tables when new.
pub async fn open(path: &Path) -> Result<SqlitePool, LedgerError> {
    let pool = sqlite::open_pool(path).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bank_account (\
         id TEXT PRIMARY KEY, \
         balance INTEGER NOT NULL CHECK (balance >= 0))",
    )
    .execute(&pool)
    .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bank_journal (\
         tx TEXT NOT NULL, \
         account TEXT NOT NULL, \
         delta INTEGER NOT NULL, \
         at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
    )
    .execute(&pool)
    .await?;
    Ok(pool)
}

/// Opens accounts `1` to `count` with `balance` cents each when the bank
/// has no account yet (so a restart moves no money). Returns how many were
/// created.
pub async fn open_accounts(
    pool: &SqlitePool,
    count: u32,
    balance: i64,
) -> Result<u64, LedgerError> {
    if balance < 0 {
        return Err(LedgerError::NegativeAmount(balance));
    }
    let count = count.min(MAX_OPENED_ACCOUNTS);
    let created = sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 WHERE ?1 >= 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
         INSERT INTO bank_account (id, balance) \
         SELECT CAST(i AS TEXT), ?2 FROM n \
         WHERE NOT EXISTS (SELECT 1 FROM bank_account) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(i64::from(count))
    .bind(balance)
    .execute(pool)
    .await?;
    Ok(created.rows_affected())
}

/// The committed balance of `account`, `None` when it does not exist.
pub async fn balance(pool: &SqlitePool, account: &str) -> Result<Option<i64>, LedgerError> {
    check(account, 0)?;
    Ok(
        sqlx::query_scalar("SELECT balance FROM bank_account WHERE id = ?1")
            .bind(account)
            .fetch_optional(pool)
            .await?,
    )
}

/// The sum of every committed balance and the number of accounts.
pub async fn total(pool: &SqlitePool) -> Result<(i64, i64), LedgerError> {
    let (total, accounts): (i64, i64) =
        sqlx::query_as("SELECT coalesce(sum(balance), 0), count(*) FROM bank_account")
            .fetch_one(pool)
            .await?;
    Ok((total, accounts))
}

/// The movements of a work text, skipping nothing: an unreadable line is
/// an error (the work was written by [`SqliteLedger`] only).
fn movements(work: &[u8]) -> impl Iterator<Item = Result<(&str, i64), LedgerError>> {
    work.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let text = std::str::from_utf8(line).map_err(|_| LedgerError::InvalidAccount)?;
            let (account, delta) = text.split_once(' ').ok_or(LedgerError::InvalidAccount)?;
            let delta: i64 = delta.parse().map_err(|_| LedgerError::InvalidAccount)?;
            check(account, 0)?;
            Ok((account, delta))
        })
}

/// The debits of a work text, per account (readable lines only).
fn debits(work: &[u8]) -> HashMap<&str, i64> {
    let mut out: HashMap<&str, i64> = HashMap::new();
    for (account, delta) in movements(work).flatten() {
        if delta < 0 {
            let slot = out.entry(account).or_default();
            *slot = slot.saturating_add(delta.saturating_neg());
        }
    }
    out
}

/// The net change a branch's work makes to `account`.
fn net(work: &[u8], account: &str) -> i64 {
    movements(work)
        .flatten()
        .filter(|(a, _)| *a == account)
        .fold(0i64, |sum, (_, delta)| sum.saturating_add(delta))
}

impl SqliteLedger {
    /// The ledger of the bank in `pool` (from [`open`]), with nothing
    /// reserved yet (the participant's start-up recovery reserves what
    /// prepared branches need).
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            reservations: Mutex::new(Reservations::default()),
        }
    }

    /// The database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn reservations(&self) -> MutexGuard<'_, Reservations> {
        // Every update is one map change: a panic cannot leave it half done.
        self.reservations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How much of `account` is reserved by open and prepared branches.
    pub fn reserved(&self, account: &str) -> i64 {
        self.reservations()
            .by_account
            .get(account)
            .copied()
            .unwrap_or(0)
    }

    /// Records a credit of `amount` cents to `account` (opened when new at
    /// commit) in `branch`; the balance the account will have once it
    /// commits, other transactions aside.
    pub async fn credit(
        &self,
        branch: &mut BankBranch,
        account: &str,
        amount: i64,
    ) -> Result<i64, LedgerError> {
        check(account, amount)?;
        let committed = balance(&self.pool, account).await?.unwrap_or(0);
        let after = committed
            .checked_add(net(branch.work(), account))
            .and_then(|b| b.checked_add(amount))
            .ok_or_else(|| LedgerError::Overflow(account.to_owned()))?;
        branch
            .push_work(format!("{account} {amount}\n").as_bytes())
            .map_err(|_| LedgerError::TooManyMovements)?;
        Ok(after)
    }

    /// Records a debit of `amount` cents from `account` in `branch`,
    /// reserving it; [`LedgerError::InsufficientFunds`] (nothing recorded)
    /// when the committed balance less what is already reserved does not
    /// cover it. Returns what is left available.
    pub async fn debit(
        &self,
        branch: &mut BankBranch,
        account: &str,
        amount: i64,
    ) -> Result<i64, LedgerError> {
        check(account, amount)?;
        let line = format!("{account} -{amount}\n");
        for _ in 0..DEBIT_ATTEMPTS {
            // Reservations read before the balance: a commit that lands in
            // between is counted twice (its debit is still reserved), never
            // missed, so the check errs on the safe side.
            let (generation, reserved) = {
                let r = self.reservations();
                (
                    r.generation,
                    r.by_account.get(account).copied().unwrap_or(0),
                )
            };
            let committed = balance(&self.pool, account).await?.unwrap_or(0);
            let available = committed.saturating_sub(reserved);
            let mut r = self.reservations();
            if r.generation != generation {
                // Another debit reserved meanwhile: read again.
                continue;
            }
            if available < amount {
                return Err(LedgerError::InsufficientFunds {
                    account: account.to_owned(),
                    balance: available.max(0),
                    requested: amount,
                });
            }
            branch
                .push_work(line.as_bytes())
                .map_err(|_| LedgerError::TooManyMovements)?;
            r.generation = r.generation.wrapping_add(1);
            let slot = r.by_account.entry(account.to_owned()).or_default();
            *slot = slot.saturating_add(amount);
            return Ok(available - amount);
        }
        Err(LedgerError::Busy)
    }

    fn reserve(&self, work: &[u8]) {
        let mut r = self.reservations();
        r.generation = r.generation.wrapping_add(1);
        for (account, amount) in debits(work) {
            let slot = r.by_account.entry(account.to_owned()).or_default();
            *slot = slot.saturating_add(amount);
        }
    }

    async fn apply_work(
        connection: &mut SqliteConnection,
        tx: &TxId,
        work: &[u8],
    ) -> Result<(), LedgerError> {
        if tx.0.is_empty() || tx.0.len() > MAX_TX_LEN {
            return Err(LedgerError::InvalidTransaction);
        }
        for movement in movements(work) {
            let (account, delta) = movement?;
            let changed = if delta >= 0 {
                sqlx::query(
                    "INSERT INTO bank_account (id, balance) VALUES (?1, ?2) \
                     ON CONFLICT (id) DO UPDATE SET balance = balance + excluded.balance \
                     WHERE balance <= 9223372036854775807 - excluded.balance",
                )
                .bind(account)
                .bind(delta)
                .execute(&mut *connection)
                .await?
            } else {
                sqlx::query(
                    "UPDATE bank_account SET balance = balance + ?2 \
                     WHERE id = ?1 AND balance >= -?2",
                )
                .bind(account)
                .bind(delta)
                .execute(&mut *connection)
                .await?
            };
            if changed.rows_affected() != 1 {
                // Cannot happen while the reservations hold; refuse rather
                // than take a balance below zero (the branch stays
                // prepared, in doubt, for an operator).
                return Err(LedgerError::InsufficientFunds {
                    account: account.to_owned(),
                    balance: 0,
                    requested: delta.saturating_neg(),
                });
            }
            sqlx::query("INSERT INTO bank_journal (tx, account, delta) VALUES (?1, ?2, ?3)")
                .bind(&tx.0)
                .bind(account)
                .bind(delta)
                .execute(&mut *connection)
                .await?;
        }
        Ok(())
    }
}

impl SqliteWork for SqliteLedger {
    async fn apply<'a>(
        &'a self,
        connection: &'a mut SqliteConnection,
        tx: &'a TxId,
        work: &'a [u8],
    ) -> Result<(), BoxError> {
        Ok(Self::apply_work(connection, tx, work).await?)
    }

    fn release(&self, _branch: &BranchId, work: &[u8]) {
        let mut r = self.reservations();
        for (account, amount) in debits(work) {
            if let Some(slot) = r.by_account.get_mut(account) {
                *slot = slot.saturating_sub(amount);
                if *slot <= 0 {
                    r.by_account.remove(account);
                }
            }
        }
    }

    fn recover(&self, _branch: &BranchId, work: &[u8]) {
        self.reserve(work);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn work_lines_read_back_as_movements() {
        let work = b"1 250\n2 -100\n2 -50\n";
        let all: Vec<_> = movements(work).map(Result::unwrap).collect();
        assert_eq!(all, vec![("1", 250), ("2", -100), ("2", -50)]);
        assert_eq!(debits(work).get("2"), Some(&150));
        assert_eq!(net(work, "2"), -150);
        assert!(movements(b"bad line\n").next().unwrap().is_err());
        assert!(movements(b"a b c 1\n").next().unwrap().is_err());
    }
}
