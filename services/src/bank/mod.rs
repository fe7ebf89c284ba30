//! The bank: the participant service of the WS-AtomicTransaction
//! bank-transfer example.
//!
//! The contract ([`WSDL`], document/literal wrapped, namespace
//! [`NAMESPACE`]) has four operations: `Credit(account, amount)`,
//! `Debit(account, amount)` (which fails with the declared fault
//! `InsufficientFunds` rather than take a balance below zero),
//! `Balance(account)` and `Total()`. Amounts are integers in cents and
//! never negative.
//!
//! - [`message`]: the request and response elements as bytes, both
//!   directions (the gateway's handlers read requests and write responses;
//!   a client such as `bank-transfer` writes requests and reads responses).
//! - [`ledger`]: the accounts in PostgreSQL (table `bank_account`) and the
//!   four operations as SQL on one connection, which the host runs on the
//!   WS-AT branch's pinned connection, so the work is prepared and
//!   committed (or rolled back) with the caller's transaction.
//! - [`sqlite`]: the accounts in a SQLite file (the embedded default), moved
//!   by escrow: a branch records its movements and reserves its debits,
//!   Prepare writes them as a durable record and Commit applies them
//!   ([`ithaca_txn::participant::SqliteParticipant`]).
//!
//! Hosting (the `CoordinationContext` header, Durable2PC registration,
//! `PREPARE TRANSACTION` or the SQLite prepared record) is the gateway's
//! `bank` module.

pub mod ledger;
pub mod message;
pub mod sqlite;

/// The contract, as served at `GET /services/NAME?wsdl` (with its
/// addresses rewritten by the gateway).
pub const WSDL: &str = include_str!("../../wsdl/bank.wsdl");

/// The file name under which [`WSDL`] appears in diagnostics.
pub const WSDL_NAME: &str = "bank.wsdl";

/// The target namespace of the contract and of its elements.
pub const NAMESPACE: &str = "urn:ithaca:bank";

/// The `wsdl:service` name.
pub const SERVICE: &str = "BankService";

/// The operation names (also the request elements' local names).
pub mod operation {
    /// `Credit(account, amount) -> balance`.
    pub const CREDIT: &str = "Credit";
    /// `Debit(account, amount) -> balance`, or the `InsufficientFunds` fault.
    pub const DEBIT: &str = "Debit";
    /// `Balance(account) -> balance`.
    pub const BALANCE: &str = "Balance";
    /// `Total() -> (total, accounts)`.
    pub const TOTAL: &str = "Total";
}

/// The declared fault of `Debit` (its `wsdl:fault` name and detail
/// element's local name).
pub const INSUFFICIENT_FUNDS: &str = "InsufficientFunds";

/// The SOAPAction of an operation in both bindings.
pub fn soap_action(operation: &str) -> String {
    format!("{NAMESPACE}#{operation}")
}

/// The longest account identifier (the contract's `AccountId` pattern:
/// 1 to 64 of `A-Z a-z 0-9 _ -`).
pub const MAX_ACCOUNT_LEN: usize = 64;

/// Whether `account` is a valid account identifier.
pub fn is_valid_account(account: &str) -> bool {
    !account.is_empty()
        && account.len() <= MAX_ACCOUNT_LEN
        && account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
