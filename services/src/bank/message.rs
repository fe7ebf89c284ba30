//! The bank's request and response elements as bytes.
//!
//! Readers take one element (its prefixes may be bound outside it: only
//! local names are read, and the root's local name is checked) and read
//! its unqualified children; writers produce one element binding
//! [`super::NAMESPACE`] to the prefix `b`. Everything read is
//! bounded: at most [`MAX_DEPTH`] levels and [`MAX_TEXT`] bytes of text
//! per field, and a field that is not a valid account or a non-negative
//! 64-bit integer is refused.
//!
//! ```
//! use ithaca_services::bank::message::{self, Movement};
//!
//! let request = message::debit_request("42", 1_250);
//! let read = message::read_movement(&request, "Debit")?;
//! assert_eq!(read, Movement { account: "42".into(), amount: 1_250 });
//! let response = message::balance_response("DebitResponse", 8_750);
//! assert_eq!(message::read_field_i64(&response, "balance")?, 8_750);
//! # Ok::<(), message::MessageError>(())
//! ```

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::{NAMESPACE, is_valid_account};

/// The deepest nesting read.
pub const MAX_DEPTH: usize = 16;
/// The most text read for one field.
pub const MAX_TEXT: usize = 256;

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
    /// Nesting or text over the bounds.
    #[error(
        "the element is nested deeper than {MAX_DEPTH} levels or a field is longer than {MAX_TEXT} bytes"
    )]
    TooLarge,
}

/// A `Credit` or `Debit` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    /// The account.
    pub account: String,
    /// The amount in cents (never negative).
    pub amount: i64,
}

/// The fault detail of `InsufficientFunds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsufficientFunds {
    /// The account.
    pub account: String,
    /// Its balance, in cents.
    pub balance: i64,
    /// The amount asked for, in cents.
    pub requested: i64,
}

/// Reads the text of the first element named `field` (local name) under
/// the root, or `None`; the root's own local name is returned too.
fn scan(xml: &[u8], field: &str) -> Result<(String, Option<String>), MessageError> {
    let (root, [text]) = scan_fields(xml, [field])?;
    Ok((root, text))
}

/// Reads, in one pass, the text of the first element named by each of
/// `fields` (local names) under the root; the root's local name too.
fn scan_fields<const N: usize>(
    xml: &[u8],
    fields: [&str; N],
) -> Result<(String, [Option<String>; N]), MessageError> {
    let xml = std::str::from_utf8(xml).map_err(|_| MessageError::Malformed("not UTF-8".into()))?;
    let mut reader = Reader::from_str(xml);
    let malformed = |e: &dyn std::fmt::Display| MessageError::Malformed(e.to_string());
    let mut depth = 0usize;
    let mut root: Option<String> = None;
    // The field whose text is being read.
    let mut inside: Option<usize> = None;
    let mut texts: [Option<String>; N] = std::array::from_fn(|_| None);
    // The first field named `local` not read yet.
    let unread = |texts: &[Option<String>; N], local: &str| {
        fields
            .iter()
            .zip(texts.iter())
            .position(|(field, text)| text.is_none() && *field == local)
    };
    loop {
        match reader.read_event().map_err(|e| malformed(&e))? {
            Event::Start(start) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(MessageError::TooLarge);
                }
                let local = start.local_name();
                if root.is_none() {
                    root = Some(local.as_ref().to_owned());
                } else if let Some(i) = unread(&texts, local.as_ref()) {
                    inside = Some(i);
                    if let Some(text) = texts.get_mut(i) {
                        *text = Some(String::new());
                    }
                }
            }
            Event::Empty(start) => {
                let local = start.local_name();
                if root.is_none() {
                    return Ok((local.as_ref().to_owned(), texts));
                }
                if let Some(i) = unread(&texts, local.as_ref())
                    && let Some(text) = texts.get_mut(i)
                {
                    *text = Some(String::new());
                }
            }
            Event::Text(t) => {
                if let Some(i) = inside {
                    push_text(texts.get_mut(i), &t.xml10_content())?;
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
                if let Some(i) = inside {
                    push_text(texts.get_mut(i), &resolved)?;
                }
            }
            Event::CData(c) => {
                if let Some(i) = inside {
                    push_text(texts.get_mut(i), &c.xml10_content())?;
                }
            }
            Event::End(_) => {
                inside = None;
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
    let root = root.ok_or_else(|| MessageError::Malformed("no element".into()))?;
    Ok((root, texts))
}

fn push_text(text: Option<&mut Option<String>>, piece: &str) -> Result<(), MessageError> {
    let Some(Some(text)) = text else {
        return Ok(());
    };
    if text.len() + piece.len() > MAX_TEXT {
        return Err(MessageError::TooLarge);
    }
    text.push_str(piece);
    Ok(())
}

fn expect_root(root: String, expected: &'static str) -> Result<(), MessageError> {
    if root == expected {
        Ok(())
    } else {
        Err(MessageError::WrongElement {
            expected,
            found: root,
        })
    }
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

fn parse_account(text: &str) -> Result<String, MessageError> {
    let account = text.trim();
    if is_valid_account(account) {
        Ok(account.to_owned())
    } else {
        Err(MessageError::Invalid {
            field: "account",
            problem: "not 1 to 64 of A-Z a-z 0-9 _ -",
        })
    }
}

/// Which `Credit`/`Debit` element: its static name for errors.
fn static_name(element: &str) -> &'static str {
    match element {
        "Credit" => "Credit",
        "Debit" => "Debit",
        _ => "Credit or Debit",
    }
}

/// Reads a `Credit` or `Debit` request (`element` is its local name).
pub fn read_movement(xml: &[u8], element: &str) -> Result<Movement, MessageError> {
    let (root, [account, amount]) = scan_fields(xml, ["account", "amount"])?;
    expect_root(root, static_name(element))?;
    let account = parse_account(&account.ok_or(MessageError::Missing("account"))?)?;
    let amount = parse_cents("amount", &amount.ok_or(MessageError::Missing("amount"))?)?;
    Ok(Movement { account, amount })
}

/// Reads a `Balance` request: the account.
pub fn read_balance_request(xml: &[u8]) -> Result<String, MessageError> {
    let (root, account) = scan(xml, "account")?;
    expect_root(root, "Balance")?;
    parse_account(&account.ok_or(MessageError::Missing("account"))?)
}

/// Checks a `Total` request.
pub fn read_total_request(xml: &[u8]) -> Result<(), MessageError> {
    let (root, _) = scan(xml, "")?;
    expect_root(root, "Total")
}

/// Reads the first field named `field` anywhere under the root (such as
/// `balance` in a response, or in a whole response envelope) as a
/// non-negative 64-bit integer.
pub fn read_field_i64(xml: &[u8], field: &'static str) -> Result<i64, MessageError> {
    let (_, text) = scan(xml, field)?;
    parse_cents(field, &text.ok_or(MessageError::Missing(field))?)
}

/// Reads the `InsufficientFunds` detail from an element or a whole fault
/// envelope; `None` when there is none.
pub fn read_insufficient_funds(xml: &[u8]) -> Option<InsufficientFunds> {
    let text = std::str::from_utf8(xml).ok()?;
    let start = text
        .find(":InsufficientFunds")
        .or_else(|| text.find("<InsufficientFunds"))?;
    let open = text.get(..start)?.rfind('<')?;
    let rest = text.get(open..)?.as_bytes();
    let (_, account) = scan(rest, "account").ok()?;
    Some(InsufficientFunds {
        account: parse_account(&account?).ok()?,
        balance: read_field_i64(rest, "balance").ok()?,
        requested: read_field_i64(rest, "requested").ok()?,
    })
}

fn movement(element: &str, account: &str, amount: i64) -> Vec<u8> {
    format!(
        "<b:{element} xmlns:b=\"{NAMESPACE}\"><account>{}</account><amount>{amount}</amount></b:{element}>",
        escape(account)
    )
    .into_bytes()
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// A `Credit` request element.
pub fn credit_request(account: &str, amount: i64) -> Vec<u8> {
    movement("Credit", account, amount)
}

/// A `Debit` request element.
pub fn debit_request(account: &str, amount: i64) -> Vec<u8> {
    movement("Debit", account, amount)
}

/// A `Balance` request element.
pub fn balance_request(account: &str) -> Vec<u8> {
    format!(
        "<b:Balance xmlns:b=\"{NAMESPACE}\"><account>{}</account></b:Balance>",
        escape(account)
    )
    .into_bytes()
}

/// A `Total` request element.
pub fn total_request() -> Vec<u8> {
    format!("<b:Total xmlns:b=\"{NAMESPACE}\"/>").into_bytes()
}

/// A response holding one `balance` (`CreditResponse`, `DebitResponse` or
/// `BalanceResponse`).
pub fn balance_response(element: &str, balance: i64) -> Vec<u8> {
    format!("<b:{element} xmlns:b=\"{NAMESPACE}\"><balance>{balance}</balance></b:{element}>")
        .into_bytes()
}

/// A `TotalResponse`.
pub fn total_response(total: i64, accounts: i64) -> Vec<u8> {
    format!(
        "<b:TotalResponse xmlns:b=\"{NAMESPACE}\"><total>{total}</total><accounts>{accounts}</accounts></b:TotalResponse>"
    )
    .into_bytes()
}

/// The `InsufficientFunds` fault detail element.
pub fn insufficient_funds(detail: &InsufficientFunds) -> String {
    format!(
        "<b:InsufficientFunds xmlns:b=\"{NAMESPACE}\"><account>{}</account><balance>{}</balance><requested>{}</requested></b:InsufficientFunds>",
        escape(&detail.account),
        detail.balance,
        detail.requested
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_round_trip() {
        let credit = credit_request("acct-1", 5);
        assert_eq!(
            read_movement(&credit, "Credit"),
            Ok(Movement {
                account: "acct-1".into(),
                amount: 5
            })
        );
        assert!(matches!(
            read_movement(&credit, "Debit"),
            Err(MessageError::WrongElement { .. })
        ));
        assert_eq!(read_balance_request(&balance_request("7")), Ok("7".into()));
        assert_eq!(read_total_request(&total_request()), Ok(()));
        let (total, accounts) = (total_response(10, 2), 2);
        assert_eq!(read_field_i64(&total, "total"), Ok(10));
        assert_eq!(read_field_i64(&total, "accounts"), Ok(accounts));
    }

    #[test]
    fn bad_fields_are_refused() {
        let negative = br#"<b:Debit xmlns:b="urn:ithaca:bank"><account>1</account><amount>-5</amount></b:Debit>"#;
        assert!(matches!(
            read_movement(negative, "Debit"),
            Err(MessageError::Invalid {
                field: "amount",
                ..
            })
        ));
        let bad_account = br#"<b:Debit xmlns:b="urn:ithaca:bank"><account>a b</account><amount>5</amount></b:Debit>"#;
        assert!(matches!(
            read_movement(bad_account, "Debit"),
            Err(MessageError::Invalid {
                field: "account",
                ..
            })
        ));
        let missing = br#"<b:Debit xmlns:b="urn:ithaca:bank"><account>1</account></b:Debit>"#;
        assert_eq!(
            read_movement(missing, "Debit"),
            Err(MessageError::Missing("amount"))
        );
        let entity = br#"<b:Debit xmlns:b="urn:ithaca:bank"><account>&x;</account><amount>5</amount></b:Debit>"#;
        assert!(matches!(
            read_movement(entity, "Debit"),
            Err(MessageError::Malformed(_))
        ));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(
            read_movement(deep.as_bytes(), "Debit"),
            Err(MessageError::TooLarge)
        );
    }

    #[test]
    fn both_fields_are_read_in_one_pass_in_any_order() {
        let reversed = br#"<b:Credit xmlns:b="urn:ithaca:bank"><amount> 7 </amount><account>x-1</account></b:Credit>"#;
        assert_eq!(
            read_movement(reversed, "Credit"),
            Ok(Movement {
                account: "x-1".into(),
                amount: 7
            })
        );
        // The first of each field counts; text split by CDATA and
        // character references is joined.
        let repeated = br#"<b:Debit xmlns:b="urn:ithaca:bank"><account>a<![CDATA[b]]>&#99;</account><amount>1</amount><account>z</account><amount>2</amount></b:Debit>"#;
        assert_eq!(
            read_movement(repeated, "Debit"),
            Ok(Movement {
                account: "abc".into(),
                amount: 1
            })
        );
        // A field nested in the other is read as its own field.
        let nested = br#"<b:Debit xmlns:b="urn:ithaca:bank"><account>k<amount>3</amount></account></b:Debit>"#;
        assert_eq!(
            read_movement(nested, "Debit"),
            Ok(Movement {
                account: "k".into(),
                amount: 3
            })
        );
        let empty = br#"<b:Debit xmlns:b="urn:ithaca:bank"><account/><amount>3</amount></b:Debit>"#;
        assert!(matches!(
            read_movement(empty, "Debit"),
            Err(MessageError::Invalid {
                field: "account",
                ..
            })
        ));
    }

    #[test]
    fn the_fault_detail_is_found_in_an_envelope() {
        let detail = InsufficientFunds {
            account: "9".into(),
            balance: 3,
            requested: 4,
        };
        let envelope = format!(
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Server</faultcode><detail>{}</detail></s:Fault></s:Body></s:Envelope>",
            insufficient_funds(&detail)
        );
        assert_eq!(read_insufficient_funds(envelope.as_bytes()), Some(detail));
        assert_eq!(read_insufficient_funds(b"<x/>"), None);
    }

    proptest! {
        #[test]
        fn any_movement_round_trips(account in "[A-Za-z0-9_-]{1,64}", amount in 0i64..) {
            let read = read_movement(&debit_request(&account, amount), "Debit").unwrap();
            prop_assert_eq!(read, Movement { account, amount });
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read_movement(&bytes, "Credit");
            let _ = read_insufficient_funds(&bytes);
        }
    }
}
