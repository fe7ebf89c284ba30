//! `%xx` escapes in `corbaloc:` keys and `corbaname:` names (RFC 2396, as
//! the Interoperable Naming Service uses them).

use crate::error::{Error, Result};

/// Decodes `%xx` escapes; `what` names the URL part in the error.
pub(crate) fn percent_decode(text: &str, what: &'static str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let digit = |d: Option<u8>| d.and_then(|d| char::from(d).to_digit(16));
        match (digit(bytes.next()), digit(bytes.next())) {
            (Some(high), Some(low)) => out.push(u8::try_from(high << 4 | low).unwrap_or(0)),
            _ => return Err(Error::InvalidReference(what)),
        }
    }
    Ok(out)
}

/// Whether a byte may stay unescaped in a URL (RFC 2396 unreserved and
/// reserved characters).
pub(crate) fn is_url_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b";/:?@&=+$,-_.!~*'()".contains(&byte)
}

/// Escapes every byte that [`is_url_safe`] refuses as `%XX`.
pub(crate) fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if is_url_safe(byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        let raw = b"a b/%\xff#c";
        let encoded = percent_encode(raw);
        assert_eq!(encoded, "a%20b/%25%FF%23c");
        assert_eq!(percent_decode(&encoded, "test").unwrap(), raw);
        assert!(percent_decode("%4", "test").is_err());
        assert!(percent_decode("%zz", "test").is_err());
    }
}
