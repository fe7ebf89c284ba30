//! The HTTP headers that announce a SOAP message: `Content-Type` (which
//! tells the SOAP version and, in SOAP 1.2, carries the `action` parameter)
//! and SOAP 1.1's `SOAPAction`.

use std::borrow::Cow;

use crate::error::ContentTypeError;
use crate::version::SoapVersion;

/// The longest header value this module parses, in bytes.
const MAX_HEADER_LEN: usize = 8 * 1024;

/// A parsed `Content-Type` header of a SOAP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// The SOAP version the media type announces.
    pub version: SoapVersion,
    /// The `charset` parameter as written, if any; when present it is
    /// UTF-8. The usual spellings (`utf-8`, `UTF-8`) are not copied.
    pub charset: Option<Cow<'static, str>>,
    /// SOAP 1.2's `action` parameter, if any. It is ignored on `text/xml`,
    /// where the action travels in the `SOAPAction` header instead.
    pub action: Option<String>,
}

impl ContentType {
    /// Parses a `Content-Type` header value such as
    /// `application/soap+xml; charset=utf-8; action="urn:Echo"`.
    ///
    /// The media type and parameter names are case-insensitive; parameter
    /// values may be tokens or quoted strings. A `charset` other than
    /// UTF-8 and media types other than `text/xml` and
    /// `application/soap+xml` are refused.
    pub fn parse(value: &str) -> Result<Self, ContentTypeError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(malformed("the header is too long"));
        }
        let mut cursor = Cursor { rest: value };
        cursor.skip_whitespace();
        let kind = cursor
            .token()
            .ok_or_else(|| malformed("missing media type"))?;
        if !cursor.eat('/') {
            return Err(malformed("missing `/` in media type"));
        }
        let subtype = cursor
            .token()
            .ok_or_else(|| malformed("missing media subtype"))?;
        // Compared in place: the lower-cased name is only made for the
        // refusal.
        let version = if kind.eq_ignore_ascii_case("text") && subtype.eq_ignore_ascii_case("xml") {
            SoapVersion::Soap11
        } else if kind.eq_ignore_ascii_case("application")
            && subtype.eq_ignore_ascii_case("soap+xml")
        {
            SoapVersion::Soap12
        } else {
            let media_type = format!("{kind}/{subtype}").to_ascii_lowercase();
            return Err(ContentTypeError::UnsupportedMediaType { media_type });
        };
        let mut charset = None;
        let mut action = None;
        loop {
            cursor.skip_whitespace();
            if cursor.rest.is_empty() {
                break;
            }
            if !cursor.eat(';') {
                return Err(malformed("expected `;` between parameters"));
            }
            cursor.skip_whitespace();
            if cursor.rest.is_empty() {
                // A trailing `;` is common in the wild and harmless.
                break;
            }
            let name = cursor
                .token()
                .ok_or_else(|| malformed("missing parameter name"))?;
            if !cursor.eat('=') {
                return Err(malformed("missing `=` after parameter name"));
            }
            let value = if cursor.rest.starts_with('"') {
                cursor.quoted_string()?
            } else {
                Cow::Borrowed(
                    cursor
                        .bare_value()
                        .ok_or_else(|| malformed("missing parameter value"))?,
                )
            };
            if name.eq_ignore_ascii_case("charset") {
                if !value.eq_ignore_ascii_case("utf-8") && !value.eq_ignore_ascii_case("utf8") {
                    return Err(ContentTypeError::UnsupportedCharset {
                        charset: value.into_owned(),
                    });
                }
                charset = Some(match &*value {
                    "utf-8" => Cow::Borrowed("utf-8"),
                    "UTF-8" => Cow::Borrowed("UTF-8"),
                    other => Cow::Owned(other.to_owned()),
                });
            } else if name.eq_ignore_ascii_case("action") && version == SoapVersion::Soap12 {
                action = Some(value.into_owned());
            }
        }
        Ok(Self {
            version,
            charset,
            action,
        })
    }
}

/// Parses a SOAP 1.1 `SOAPAction` header value.
///
/// The value is a URI, normally written as a quoted string; `""` and an
/// empty header both mean "no action" and give `None`. An unquoted URI is
/// accepted too, as many clients send one.
pub fn parse_soap_action(value: &str) -> Result<Option<String>, ContentTypeError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(malformed("the header is too long"));
    }
    let trimmed = value.trim_matches([' ', '\t']);
    let action = if trimmed.starts_with('"') {
        let mut cursor = Cursor { rest: trimmed };
        let action = cursor.quoted_string()?;
        if !cursor.rest.is_empty() {
            return Err(malformed("characters after the quoted SOAPAction"));
        }
        action.into_owned()
    } else {
        trimmed.to_owned()
    };
    Ok((!action.is_empty()).then_some(action))
}

fn malformed(message: &str) -> ContentTypeError {
    ContentTypeError::Malformed {
        message: message.to_owned(),
    }
}

/// A position in a header value being parsed.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn skip_whitespace(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Takes an RFC 9110 token, if one starts here.
    fn token(&mut self) -> Option<&'a str> {
        let end = self
            .rest
            .find(|c: char| !is_token_char(c))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(token)
    }

    /// Takes an unquoted parameter value. RFC 9110 allows only a token,
    /// but clients send unquoted URIs as `action` values, so any visible
    /// character other than `;`, `,` and `"` is accepted.
    fn bare_value(&mut self) -> Option<&'a str> {
        let end = self
            .rest
            .find(|c: char| !c.is_ascii_graphic() || matches!(c, ';' | ',' | '"'))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (value, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(value)
    }

    /// Takes an RFC 9110 quoted string, which must start here, and returns
    /// its value with the quoting removed (borrowed when it has no
    /// escape).
    fn quoted_string(&mut self) -> Result<Cow<'a, str>, ContentTypeError> {
        let Some(inner) = self.rest.strip_prefix('"') else {
            return Err(malformed("expected a quoted string"));
        };
        // The common case, no escape: the value is a slice of the input.
        let plain = inner
            .char_indices()
            .find(|&(_, c)| c == '"' || c == '\\' || !is_quoted_char(c));
        if let Some((end, '"')) = plain {
            self.rest = inner.get(end + 1..).unwrap_or_default();
            return Ok(Cow::Borrowed(inner.get(..end).unwrap_or_default()));
        }
        let mut chars = inner.char_indices();
        let mut value = String::new();
        while let Some((index, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = inner.get(index + 1..).unwrap_or_default();
                    return Ok(Cow::Owned(value));
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) if is_quoted_char(escaped) => value.push(escaped),
                    _ => return Err(malformed("invalid escape in quoted string")),
                },
                c if is_quoted_char(c) => value.push(c),
                _ => return Err(malformed("invalid character in quoted string")),
            }
        }
        Err(malformed("unterminated quoted string"))
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_quoted_char(c: char) -> bool {
    c == '\t' || c == ' ' || (c >= '!' && c != '\u{7f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<ContentType, ContentTypeError> {
        ContentType::parse(value)
    }

    #[test]
    fn text_xml_is_soap11() {
        let ct = parse("text/xml").unwrap();
        assert_eq!(ct.version, SoapVersion::Soap11);
        assert_eq!(ct.charset, None);
        assert_eq!(ct.action, None);
        let ct = parse("Text/XML; Charset=\"UTF-8\"").unwrap();
        assert_eq!(ct.version, SoapVersion::Soap11);
        assert_eq!(ct.charset.as_deref(), Some("UTF-8"));
    }

    #[test]
    fn soap12_action_is_parsed() {
        let ct =
            parse(r#"application/soap+xml; charset=utf-8; action="urn:example:Echo""#).unwrap();
        assert_eq!(ct.version, SoapVersion::Soap12);
        assert_eq!(ct.action.as_deref(), Some("urn:example:Echo"));
        let ct = parse("application/soap+xml;action=urn:x;charset=utf-8").unwrap();
        assert_eq!(ct.action.as_deref(), Some("urn:x"));
        let ct = parse(r#"application/soap+xml ; ACTION = "a\"b""#);
        // Whitespace around `=` is not allowed by RFC 9110.
        assert!(ct.is_err());
        let ct = parse(r#"application/soap+xml;action="a\"b\\c""#).unwrap();
        assert_eq!(ct.action.as_deref(), Some(r#"a"b\c"#));
    }

    #[test]
    fn action_is_ignored_on_text_xml() {
        let ct = parse(r#"text/xml; action="urn:x""#).unwrap();
        assert_eq!(ct.action, None);
    }

    #[test]
    fn trailing_semicolon_is_accepted() {
        assert!(parse("text/xml;").is_ok());
        assert!(parse("text/xml; charset=utf-8;  ").is_ok());
    }

    #[test]
    fn other_media_types_are_refused() {
        for value in [
            "application/json",
            "application/xml",
            "multipart/related; type=x",
        ] {
            let err = parse(value).unwrap_err();
            assert!(
                matches!(err, ContentTypeError::UnsupportedMediaType { .. }),
                "{value}"
            );
            assert_eq!(err.http_status(), 415);
            assert_eq!(err.fault_code(), crate::FaultCode::Sender);
        }
    }

    #[test]
    fn other_charsets_are_refused() {
        let err = parse("text/xml; charset=iso-8859-1").unwrap_err();
        assert_eq!(
            err,
            ContentTypeError::UnsupportedCharset {
                charset: "iso-8859-1".into()
            }
        );
        assert_eq!(err.http_status(), 415);
    }

    #[test]
    fn malformed_values_are_refused() {
        for value in [
            "",
            "text",
            "text/",
            "/xml",
            "text/xml charset=utf-8",
            "text/xml; charset",
            "text/xml; charset=",
            "text/xml; action=\"unterminated",
            "text/xml; action=\"bad\\",
            "text/xml; action=\"ctl\u{1}\"",
        ] {
            let err = parse(value).unwrap_err();
            assert!(
                matches!(err, ContentTypeError::Malformed { .. }),
                "{value:?}"
            );
            assert_eq!(err.http_status(), 400);
        }
        assert!(parse(&"a".repeat(MAX_HEADER_LEN + 1)).is_err());
    }

    #[test]
    fn soap_action_header() {
        assert_eq!(
            parse_soap_action("\"urn:Echo\"").unwrap().as_deref(),
            Some("urn:Echo")
        );
        assert_eq!(
            parse_soap_action(" urn:Echo ").unwrap().as_deref(),
            Some("urn:Echo")
        );
        assert_eq!(parse_soap_action("\"\"").unwrap(), None);
        assert_eq!(parse_soap_action("").unwrap(), None);
        assert!(parse_soap_action("\"urn:x\" junk").is_err());
        assert!(parse_soap_action("\"urn:x").is_err());
    }
}
