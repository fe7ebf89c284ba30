//! The transfer service: moves money between two banks
//! ([`crate::bank`]) inside one WS-AtomicTransaction.
//!
//! The contract ([`WSDL`], document/literal wrapped, namespace
//! [`NAMESPACE`]) has three operations:
//!
//! - `Transfer(fromBank, fromAccount, toBank, toAccount, amount)` →
//!   `(transactionId, outcome)`: the host begins a transaction at its
//!   WS-AT coordinator, debits one bank and credits the other with the
//!   `CoordinationContext` header, and commits; `outcome` is `Committed`,
//!   or `Aborted` when a bank voted Aborted at Prepare. A debit beyond the
//!   balance rolls the transaction back and answers the declared fault
//!   `InsufficientFunds` (the transaction, bank, account, balance and the
//!   amount asked for).
//! - `Balance(bank, account)` → `balance` and `Total()` →
//!   `(total, accounts)` (summed over the banks): pass-throughs to the
//!   banks' own `Balance` and `Total`.
//!
//! Amounts are integers in cents, never negative. [`message`] reads and
//! writes the elements (both directions: the gateway's host reads requests
//! and writes responses; `ithaca demo bank` writes requests and reads
//! responses). Hosting (the WS-AT initiator, the bank calls) is the
//! gateway's `transfer` module.

pub mod message;

/// The contract, as served at `GET /services/TransferService?wsdl` (with
/// its addresses rewritten by the gateway).
pub const WSDL: &str = include_str!("../../wsdl/transfer.wsdl");

/// The file name under which [`WSDL`] appears in diagnostics.
pub const WSDL_NAME: &str = "transfer.wsdl";

/// The target namespace of the contract and of its elements.
pub const NAMESPACE: &str = "urn:ithaca:transfer";

/// The `wsdl:service` name.
pub const SERVICE: &str = "TransferService";

/// The operation names (also the request elements' local names).
pub mod operation {
    /// `Transfer(fromBank, fromAccount, toBank, toAccount, amount) ->
    /// (transactionId, outcome)`, or the `InsufficientFunds` fault.
    pub const TRANSFER: &str = "Transfer";
    /// `Balance(bank, account) -> balance`.
    pub const BALANCE: &str = "Balance";
    /// `Total() -> (total, accounts)`.
    pub const TOTAL: &str = "Total";
}

/// The declared fault of `Transfer` (its `wsdl:fault` name and detail
/// element's local name).
pub const INSUFFICIENT_FUNDS: &str = "InsufficientFunds";

/// The SOAPAction of an operation in both bindings.
pub fn soap_action(operation: &str) -> String {
    format!("{NAMESPACE}#{operation}")
}

/// The longest bank name (the contract's `BankName` pattern: 1 to 32 of
/// `A-Z a-z 0-9 _ -`, as a `[[bank]]` name).
pub const MAX_BANK_LEN: usize = 32;

/// Whether `bank` is a valid bank name.
pub fn is_valid_bank(bank: &str) -> bool {
    !bank.is_empty()
        && bank.len() <= MAX_BANK_LEN
        && bank
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// How a transfer's transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Both banks committed: the money moved.
    Committed,
    /// The transaction rolled back: nothing moved.
    Aborted,
}

impl Outcome {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Committed => "Committed",
            Self::Aborted => "Aborted",
        }
    }

    /// Reads the contract's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "Committed" => Some(Self::Committed),
            "Aborted" => Some(Self::Aborted),
            _ => None,
        }
    }
}
