//! The transfer service's request and response elements as bytes.
//!
//! Readers take one element or a whole SOAP envelope (only local names are
//! read, so prefixes may be bound outside the element) and look up the
//! text of its leaf elements by local name; writers produce one element
//! binding [`super::NAMESPACE`] to the prefix `t`. Everything read is
//! bounded: at most [`MAX_DEPTH`] levels, [`MAX_LEAVES`] leaf elements and
//! [`MAX_TEXT`] bytes of text per leaf; a field that is not a valid bank
//! name, account, transaction identifier or non-negative 64-bit integer
//! is refused.
//!
//! ```
//! use ithaca_services::transfer::message::{self, TransferRequest};
//!
//! let request = TransferRequest {
//!     from_bank: "BankA".into(),
//!     from_account: "1".into(),
//!     to_bank: "BankB".into(),
//!     to_account: "2".into(),
//!     amount: 1_250,
//! };
//! let xml = message::transfer_request(&request);
//! assert_eq!(message::read_transfer_request(&xml)?, request);
//! # Ok::<(), message::MessageError>(())
//! ```

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::{NAMESPACE, Outcome, is_valid_bank};
use crate::bank::is_valid_account;

/// The deepest nesting read.
pub const MAX_DEPTH: usize = 16;
/// The most leaf elements read.
pub const MAX_LEAVES: usize = 64;
/// The most text read for one leaf (a transaction identifier is at most
/// [`MAX_TRANSACTION_ID`] bytes).
pub const MAX_TEXT: usize = 600;
/// The longest transaction identifier accepted.
pub const MAX_TRANSACTION_ID: usize = 512;

/// Why an element could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Not well-formed XML, or not UTF-8.
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    /// The root element is not the one expected.
    #[error("expected the element {expected}, found `{found}`")]
    WrongElement {
        /// The local name expected.
        expected: &'static str,
        /// The local name found.
        found: String,
    },
    /// A required field is missing.
    #[error("the field {0} is missing")]
    Missing(&'static str),
    /// A field's value is not valid.
    #[error("the field {field} is not valid: {problem}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// Nesting, leaf count or text over the bounds.
    #[error(
        "the element is nested deeper than {MAX_DEPTH} levels, has more than {MAX_LEAVES} fields or a field longer than {MAX_TEXT} bytes"
    )]
    TooLarge,
}

/// A `Transfer` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// The bank debited (a `[[bank]]` name).
    pub from_bank: String,
    /// The account debited there.
    pub from_account: String,
    /// The bank credited.
    pub to_bank: String,
    /// The account credited there.
    pub to_account: String,
    /// The amount in cents (never negative).
    pub amount: i64,
}

/// A `TransferResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferResponse {
    /// The WS-AT transaction's identifier (as written in the banks'
    /// journals).
    pub transaction_id: String,
    /// How it ended.
    pub outcome: Outcome,
}

/// A `Balance` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceRequest {
    /// The bank.
    pub bank: String,
    /// The account.
    pub account: String,
}

/// The fault detail of `InsufficientFunds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsufficientFunds {
    /// The transaction that was rolled back.
    pub transaction_id: String,
    /// The bank debited.
    pub bank: String,
    /// The account debited.
    pub account: String,
    /// Its balance, in cents.
    pub balance: i64,
    /// The amount asked for, in cents.
    pub requested: i64,
}

/// The leaves (elements holding only text) of a document: their local
/// names and texts, in document order, plus the root's local name.
struct Leaves {
    root: String,
    leaves: Vec<(String, String)>,
}

impl Leaves {
    /// The text of the first leaf named `field`.
    fn get(&self, field: &str) -> Option<&str> {
        self.leaves
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, text)| text.as_str())
    }

    fn require(&self, field: &'static str) -> Result<&str, MessageError> {
        self.get(field).ok_or(MessageError::Missing(field))
    }

    fn expect_root(&self, expected: &'static str) -> Result<(), MessageError> {
        if self.root == expected {
            Ok(())
        } else {
            Err(MessageError::WrongElement {
                expected,
                found: self.root.clone(),
            })
        }
    }
}

/// Reads the leaves of `xml`; with `within`, only those inside the first
/// element of that local name (the root's name is then that element's).
fn leaves(xml: &[u8], within: Option<&str>) -> Result<Leaves, MessageError> {
    let xml = std::str::from_utf8(xml).map_err(|_| MessageError::Malformed("not UTF-8".into()))?;
    let mut reader = Reader::from_str(xml);
    let malformed = |e: &dyn std::fmt::Display| MessageError::Malformed(e.to_string());
    let mut depth = 0usize;
    let mut root: Option<String> = None;
    // The depth of the `within` element once entered (or 0: the document).
    let mut scope: Option<usize> = if within.is_none() { Some(0) } else { None };
    let mut open: Option<(String, String)> = None;
    let mut found = Vec::new();
    let push = |found: &mut Vec<(String, String)>, leaf: (String, String)| {
        if found.len() >= MAX_LEAVES {
            return Err(MessageError::TooLarge);
        }
        found.push(leaf);
        Ok(())
    };
    loop {
        match reader.read_event().map_err(|e| malformed(&e))? {
            Event::Start(start) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(MessageError::TooLarge);
                }
                let local = start.local_name().as_ref().to_owned();
                open = None;
                match (scope, within) {
                    (None, Some(name)) if local == name => {
                        scope = Some(depth);
                        root = Some(local);
                    }
                    (Some(_), _) => {
                        if root.is_none() {
                            root = Some(local);
                        } else {
                            open = Some((local, String::new()));
                        }
                    }
                    _ => {}
                }
            }
            Event::Empty(start) => {
                let local = start.local_name().as_ref().to_owned();
                match (scope, within) {
                    (None, Some(name)) if local == name => {
                        return Ok(Leaves {
                            root: local,
                            leaves: found,
                        });
                    }
                    (Some(_), _) => {
                        if root.is_none() {
                            return Ok(Leaves {
                                root: local,
                                leaves: found,
                            });
                        }
                        push(&mut found, (local, String::new()))?;
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                if let Some((_, text)) = &mut open {
                    push_text(text, &t.xml10_content())?;
                }
            }
            Event::CData(c) => {
                if let Some((_, text)) = &mut open {
                    push_text(text, &c.xml10_content())?;
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => resolve_predefined_entity(&reference)
                        .ok_or_else(|| {
                            MessageError::Malformed(format!("undeclared entity &{};", &*reference))
                        })?
                        .to_owned(),
                    Err(e) => return Err(malformed(&e)),
                };
                if let Some((_, text)) = &mut open {
                    push_text(text, &resolved)?;
                }
            }
            Event::End(_) => {
                if let Some(leaf) = open.take() {
                    push(&mut found, leaf)?;
                }
                if scope == Some(depth) && within.is_some() {
                    break;
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            Event::DocType(_) => {
                return Err(MessageError::Malformed("a DOCTYPE is not allowed".into()));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let root = root.ok_or_else(|| match within {
        Some(_) => MessageError::Missing("the expected element"),
        None => MessageError::Malformed("no element".into()),
    })?;
    Ok(Leaves {
        root,
        leaves: found,
    })
}

fn push_text(text: &mut String, piece: &str) -> Result<(), MessageError> {
    if text.len() + piece.len() > MAX_TEXT {
        return Err(MessageError::TooLarge);
    }
    text.push_str(piece);
    Ok(())
}

fn parse_cents(field: &'static str, text: &str) -> Result<i64, MessageError> {
    let value: i64 = text.trim().parse().map_err(|_| MessageError::Invalid {
        field,
        problem: "not a 64-bit integer",
    })?;
    if value < 0 {
        return Err(MessageError::Invalid {
            field,
            problem: "negative",
        });
    }
    Ok(value)
}

fn parse_account(field: &'static str, text: &str) -> Result<String, MessageError> {
    let account = text.trim();
    if is_valid_account(account) {
        Ok(account.to_owned())
    } else {
        Err(MessageError::Invalid {
            field,
            problem: "not 1 to 64 of A-Z a-z 0-9 _ -",
        })
    }
}

fn parse_bank(field: &'static str, text: &str) -> Result<String, MessageError> {
    let bank = text.trim();
    if is_valid_bank(bank) {
        Ok(bank.to_owned())
    } else {
        Err(MessageError::Invalid {
            field,
            problem: "not 1 to 32 of A-Z a-z 0-9 _ -",
        })
    }
}

fn parse_transaction_id(text: &str) -> Result<String, MessageError> {
    let id = text.trim();
    if id.is_empty() || id.len() > MAX_TRANSACTION_ID {
        return Err(MessageError::Invalid {
            field: "transactionId",
            problem: "empty or longer than 512 bytes",
        });
    }
    Ok(id.to_owned())
}

/// Reads a `Transfer` request element.
pub fn read_transfer_request(xml: &[u8]) -> Result<TransferRequest, MessageError> {
    let leaves = leaves(xml, None)?;
    leaves.expect_root("Transfer")?;
    Ok(TransferRequest {
        from_bank: parse_bank("fromBank", leaves.require("fromBank")?)?,
        from_account: parse_account("fromAccount", leaves.require("fromAccount")?)?,
        to_bank: parse_bank("toBank", leaves.require("toBank")?)?,
        to_account: parse_account("toAccount", leaves.require("toAccount")?)?,
        amount: parse_cents("amount", leaves.require("amount")?)?,
    })
}

/// Reads a `TransferResponse`, from the element or a whole envelope.
pub fn read_transfer_response(xml: &[u8]) -> Result<TransferResponse, MessageError> {
    let leaves = leaves(xml, Some("TransferResponse"))?;
    let outcome = leaves.require("outcome")?;
    Ok(TransferResponse {
        transaction_id: parse_transaction_id(leaves.require("transactionId")?)?,
        outcome: Outcome::parse(outcome).ok_or(MessageError::Invalid {
            field: "outcome",
            problem: "not Committed or Aborted",
        })?,
    })
}

/// Reads a `Balance` request element.
pub fn read_balance_request(xml: &[u8]) -> Result<BalanceRequest, MessageError> {
    let leaves = leaves(xml, None)?;
    leaves.expect_root("Balance")?;
    Ok(BalanceRequest {
        bank: parse_bank("bank", leaves.require("bank")?)?,
        account: parse_account("account", leaves.require("account")?)?,
    })
}

/// Checks a `Total` request element.
pub fn read_total_request(xml: &[u8]) -> Result<(), MessageError> {
    leaves(xml, None)?.expect_root("Total")
}

/// Reads the first field named `field` anywhere in `xml` (such as
/// `balance` in a `BalanceResponse` envelope) as a non-negative 64-bit
/// integer.
pub fn read_field_i64(xml: &[u8], field: &'static str) -> Result<i64, MessageError> {
    let leaves = leaves(xml, None)?;
    parse_cents(field, leaves.require(field)?)
}

/// Reads the `InsufficientFunds` detail from an element or a whole fault
/// envelope; `None` when there is none.
pub fn read_insufficient_funds(xml: &[u8]) -> Option<InsufficientFunds> {
    let leaves = leaves(xml, Some(super::INSUFFICIENT_FUNDS)).ok()?;
    Some(InsufficientFunds {
        transaction_id: parse_transaction_id(leaves.get("transactionId")?).ok()?,
        bank: parse_bank("bank", leaves.get("bank")?).ok()?,
        account: parse_account("account", leaves.get("account")?).ok()?,
        balance: parse_cents("balance", leaves.get("balance")?).ok()?,
        requested: parse_cents("requested", leaves.get("requested")?).ok()?,
    })
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// A `Transfer` request element.
pub fn transfer_request(request: &TransferRequest) -> Vec<u8> {
    format!(
        "<t:Transfer xmlns:t=\"{NAMESPACE}\"><fromBank>{}</fromBank><fromAccount>{}</fromAccount><toBank>{}</toBank><toAccount>{}</toAccount><amount>{}</amount></t:Transfer>",
        escape(&request.from_bank),
        escape(&request.from_account),
        escape(&request.to_bank),
        escape(&request.to_account),
        request.amount
    )
    .into_bytes()
}

/// A `TransferResponse` element.
pub fn transfer_response(response: &TransferResponse) -> Vec<u8> {
    format!(
        "<t:TransferResponse xmlns:t=\"{NAMESPACE}\"><transactionId>{}</transactionId><outcome>{}</outcome></t:TransferResponse>",
        escape(&response.transaction_id),
        response.outcome.as_str()
    )
    .into_bytes()
}

/// A `Balance` request element.
pub fn balance_request(request: &BalanceRequest) -> Vec<u8> {
    format!(
        "<t:Balance xmlns:t=\"{NAMESPACE}\"><bank>{}</bank><account>{}</account></t:Balance>",
        escape(&request.bank),
        escape(&request.account)
    )
    .into_bytes()
}

/// A `BalanceResponse` element.
pub fn balance_response(balance: i64) -> Vec<u8> {
    format!(
        "<t:BalanceResponse xmlns:t=\"{NAMESPACE}\"><balance>{balance}</balance></t:BalanceResponse>"
    )
    .into_bytes()
}

/// A `Total` request element.
pub fn total_request() -> Vec<u8> {
    format!("<t:Total xmlns:t=\"{NAMESPACE}\"/>").into_bytes()
}

/// A `TotalResponse` element.
pub fn total_response(total: i64, accounts: i64) -> Vec<u8> {
    format!(
        "<t:TotalResponse xmlns:t=\"{NAMESPACE}\"><total>{total}</total><accounts>{accounts}</accounts></t:TotalResponse>"
    )
    .into_bytes()
}

/// The `InsufficientFunds` fault detail element.
pub fn insufficient_funds(detail: &InsufficientFunds) -> String {
    format!(
        "<t:InsufficientFunds xmlns:t=\"{NAMESPACE}\"><transactionId>{}</transactionId><bank>{}</bank><account>{}</account><balance>{}</balance><requested>{}</requested></t:InsufficientFunds>",
        escape(&detail.transaction_id),
        escape(&detail.bank),
        escape(&detail.account),
        detail.balance,
        detail.requested
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> TransferRequest {
        TransferRequest {
            from_bank: "BankA".into(),
            from_account: "1".into(),
            to_bank: "BankB".into(),
            to_account: "acct-2".into(),
            amount: 500,
        }
    }

    #[test]
    fn requests_and_responses_round_trip() {
        assert_eq!(
            read_transfer_request(&transfer_request(&sample())),
            Ok(sample())
        );
        let response = TransferResponse {
            transaction_id: "urn:uuid:1&2".into(),
            outcome: Outcome::Aborted,
        };
        assert_eq!(
            read_transfer_response(&transfer_response(&response)),
            Ok(response)
        );
        let balance = BalanceRequest {
            bank: "BankA".into(),
            account: "7".into(),
        };
        assert_eq!(
            read_balance_request(&balance_request(&balance)),
            Ok(balance)
        );
        assert_eq!(read_total_request(&total_request()), Ok(()));
        assert_eq!(read_field_i64(&total_response(10, 2), "total"), Ok(10));
        assert_eq!(read_field_i64(&balance_response(9), "balance"), Ok(9));
    }

    #[test]
    fn a_response_is_read_from_a_whole_envelope() {
        let response = TransferResponse {
            transaction_id: "urn:uuid:abc".into(),
            outcome: Outcome::Committed,
        };
        let envelope = format!(
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header><x:Id xmlns:x=\"urn:x\">no</x:Id></s:Header><s:Body>{}</s:Body></s:Envelope>",
            String::from_utf8(transfer_response(&response)).unwrap()
        );
        assert_eq!(read_transfer_response(envelope.as_bytes()), Ok(response));
        let detail = InsufficientFunds {
            transaction_id: "urn:uuid:abc".into(),
            bank: "BankA".into(),
            account: "9".into(),
            balance: 3,
            requested: 4,
        };
        let fault = format!(
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>no</faultstring><detail>{}</detail></s:Fault></s:Body></s:Envelope>",
            insufficient_funds(&detail)
        );
        assert_eq!(read_insufficient_funds(fault.as_bytes()), Some(detail));
        assert_eq!(
            read_insufficient_funds(b"<x><balance>1</balance></x>"),
            None
        );
    }

    #[test]
    fn bad_fields_are_refused() {
        let wrong_root = br#"<t:Total xmlns:t="urn:ithaca:transfer"/>"#;
        assert!(matches!(
            read_transfer_request(wrong_root),
            Err(MessageError::WrongElement { .. })
        ));
        let negative = String::from_utf8(transfer_request(&sample()))
            .unwrap()
            .replace("<amount>500", "<amount>-500");
        assert!(matches!(
            read_transfer_request(negative.as_bytes()),
            Err(MessageError::Invalid {
                field: "amount",
                ..
            })
        ));
        let bad_bank = String::from_utf8(transfer_request(&sample()))
            .unwrap()
            .replace("BankA", "Bank A");
        assert!(matches!(
            read_transfer_request(bad_bank.as_bytes()),
            Err(MessageError::Invalid {
                field: "fromBank",
                ..
            })
        ));
        let missing =
            br#"<t:Transfer xmlns:t="urn:ithaca:transfer"><fromBank>A</fromBank></t:Transfer>"#;
        assert_eq!(
            read_transfer_request(missing),
            Err(MessageError::Missing("fromAccount"))
        );
        let entity = br#"<t:Balance xmlns:t="urn:ithaca:transfer"><bank>&x;</bank><account>1</account></t:Balance>"#;
        assert!(matches!(
            read_balance_request(entity),
            Err(MessageError::Malformed(_))
        ));
        let doctype = br#"<!DOCTYPE t [<!ENTITY x "y">]><t:Total xmlns:t="urn:ithaca:transfer"/>"#;
        assert!(matches!(
            read_total_request(doctype),
            Err(MessageError::Malformed(_))
        ));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(
            read_transfer_request(deep.as_bytes()),
            Err(MessageError::TooLarge)
        );
        let wide = format!("<r>{}</r>", "<x>1</x>".repeat(MAX_LEAVES + 1));
        assert_eq!(
            read_field_i64(wide.as_bytes(), "x"),
            Err(MessageError::TooLarge)
        );
        let long = format!("<r><x>{}</x></r>", "1".repeat(MAX_TEXT + 1));
        assert_eq!(
            read_field_i64(long.as_bytes(), "x"),
            Err(MessageError::TooLarge)
        );
    }

    proptest! {
        #[test]
        fn any_transfer_round_trips(
            from_bank in "[A-Za-z0-9_-]{1,32}",
            from_account in "[A-Za-z0-9_-]{1,64}",
            to_bank in "[A-Za-z0-9_-]{1,32}",
            to_account in "[A-Za-z0-9_-]{1,64}",
            amount in 0i64..,
        ) {
            let request = TransferRequest { from_bank, from_account, to_bank, to_account, amount };
            prop_assert_eq!(read_transfer_request(&transfer_request(&request)), Ok(request));
        }

        #[test]
        fn any_transaction_id_round_trips(id in "[ -~]{1,200}", committed in any::<bool>()) {
            prop_assume!(!id.trim().is_empty());
            let response = TransferResponse {
                transaction_id: id.trim().to_owned(),
                outcome: if committed { Outcome::Committed } else { Outcome::Aborted },
            };
            prop_assert_eq!(read_transfer_response(&transfer_response(&response)), Ok(response));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read_transfer_request(&bytes);
            let _ = read_transfer_response(&bytes);
            let _ = read_insufficient_funds(&bytes);
        }
    }
}
