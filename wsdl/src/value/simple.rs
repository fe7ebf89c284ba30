//! Simple values: from character data to [`Simple`] (checked against the
//! simple type and all its facets first) and back, for every built-in
//! root, lists and unions; and the Base64 and hexadecimal codecs.

use crate::qname::QName;
use crate::xsd::ResolvedType;
use crate::xsd::builtin::BuiltinType;

use super::model::Simple;
use super::types::{Root, Types};

/// How deep lists and unions may nest.
const MAX_NESTING: usize = 8;

impl<'s> Types<'s> {
    /// Decodes `text` as a value of `ty` (`None`: any simple value, kept
    /// as a string). `resolve` resolves QName values in the scope of the
    /// element. The error is the rule broken.
    pub(crate) fn decode_simple(
        &self,
        ty: Option<ResolvedType<'s>>,
        text: &str,
        resolve: &dyn Fn(&str) -> Option<QName>,
    ) -> Result<Simple, String> {
        let Some(ty) = ty else {
            return Ok(Simple::String(text.to_owned()));
        };
        self.schema.check_simple(ty, text, 0)?;
        self.convert(ty, text, resolve, 0)
    }

    fn convert(
        &self,
        ty: ResolvedType<'s>,
        text: &str,
        resolve: &dyn Fn(&str) -> Option<QName>,
        depth: usize,
    ) -> Result<Simple, String> {
        if depth > MAX_NESTING {
            return Err("list and union types nest too deeply".to_owned());
        }
        match self.root(ty) {
            None => Err("the type has element content, not a simple value".to_owned()),
            Some(Root::Any) => Ok(Simple::String(text.to_owned())),
            Some(Root::Builtin(builtin)) => {
                let normalized = builtin.white_space().apply(text);
                convert_builtin(builtin, &normalized, resolve)
            }
            Some(Root::List(item)) => {
                let item = self.resolve(item);
                let mut items = Vec::new();
                for token in text.split_ascii_whitespace() {
                    items.push(match item {
                        Some(item) => self.convert(item, token, resolve, depth + 1)?,
                        None => Simple::String(token.to_owned()),
                    });
                }
                Ok(Simple::List(items))
            }
            Some(Root::Union(members)) => {
                for member in members {
                    let Some(member) = self.resolve(member) else {
                        continue;
                    };
                    if self.schema.check_simple(member, text, depth + 1).is_ok() {
                        return self.convert(member, text, resolve, depth + 1);
                    }
                }
                Ok(Simple::String(text.to_owned()))
            }
        }
    }

    /// Writes `value` as character data of `ty` (`None`: inferred from the
    /// value), checking the result against the type. `prefix` gives the
    /// prefixed form of a QName, declaring its namespace.
    pub(crate) fn encode_simple(
        &self,
        ty: Option<ResolvedType<'s>>,
        value: &Simple,
        prefix: &mut dyn FnMut(&QName) -> String,
    ) -> Result<String, String> {
        let text = match ty {
            None => lexical(value, None, prefix)?,
            Some(ty) => self.lexical_for(ty, value, prefix, 0)?,
        };
        if let Some(ty) = ty {
            self.schema.check_simple(ty, &text, 0)?;
        }
        Ok(text)
    }

    fn lexical_for(
        &self,
        ty: ResolvedType<'s>,
        value: &Simple,
        prefix: &mut dyn FnMut(&QName) -> String,
        depth: usize,
    ) -> Result<String, String> {
        if depth > MAX_NESTING {
            return Err("list and union types nest too deeply".to_owned());
        }
        match self.root(ty) {
            None => Err("the type has element content, not a simple value".to_owned()),
            Some(Root::Any) => lexical(value, None, prefix),
            Some(Root::Builtin(builtin)) => lexical(value, Some(builtin), prefix),
            Some(Root::List(item)) => match value {
                Simple::List(items) => {
                    let item = self.resolve(item);
                    let mut parts = Vec::with_capacity(items.len());
                    for value in items {
                        parts.push(match item {
                            Some(item) => self.lexical_for(item, value, prefix, depth + 1)?,
                            None => lexical(value, None, prefix)?,
                        });
                    }
                    Ok(parts.join(" "))
                }
                Simple::String(text) => Ok(text.clone()),
                other => Err(format!("expected a list, got {}", describe(other))),
            },
            Some(Root::Union(members)) => {
                for member in members {
                    let Some(member) = self.resolve(member) else {
                        continue;
                    };
                    if let Ok(text) = self.lexical_for(member, value, prefix, depth + 1)
                        && self.schema.check_simple(member, &text, depth + 1).is_ok()
                    {
                        return Ok(text);
                    }
                }
                Err(format!(
                    "{} fits no member type of the union",
                    describe(value)
                ))
            }
        }
    }
}

/// The built-in type a value has when nothing else says (for `xsi:type`
/// of untyped SOAP-encoded values).
pub(crate) fn inferred_type(value: &Simple) -> BuiltinType {
    match value {
        Simple::String(_) | Simple::List(_) => BuiltinType::String,
        Simple::Boolean(_) => BuiltinType::Boolean,
        Simple::Int(v) if i32::try_from(*v).is_ok() => BuiltinType::Int,
        Simple::Int(_) => BuiltinType::Long,
        Simple::UInt(_) => BuiltinType::UnsignedLong,
        Simple::BigInt(_) => BuiltinType::Integer,
        Simple::Decimal(_) => BuiltinType::Decimal,
        Simple::Float(_) => BuiltinType::Float,
        Simple::Double(_) => BuiltinType::Double,
        Simple::Lexical(builtin, _) => *builtin,
        Simple::Bytes(_) => BuiltinType::Base64Binary,
        Simple::QName(_) => BuiltinType::QName,
    }
}

fn describe(value: &Simple) -> &'static str {
    match value {
        Simple::String(_) => "a string",
        Simple::Boolean(_) => "a boolean",
        Simple::Int(_) | Simple::UInt(_) | Simple::BigInt(_) => "an integer",
        Simple::Decimal(_) => "a decimal",
        Simple::Float(_) | Simple::Double(_) => "a floating-point number",
        Simple::Lexical(..) => "a date, time or duration",
        Simple::Bytes(_) => "bytes",
        Simple::QName(_) => "a QName",
        Simple::List(_) => "a list",
    }
}

fn is_integer_type(builtin: BuiltinType) -> bool {
    use BuiltinType as B;
    matches!(
        builtin,
        B::Integer
            | B::NonPositiveInteger
            | B::NegativeInteger
            | B::Long
            | B::Int
            | B::Short
            | B::Byte
            | B::NonNegativeInteger
            | B::UnsignedLong
            | B::UnsignedInt
            | B::UnsignedShort
            | B::UnsignedByte
            | B::PositiveInteger
    )
}

fn is_lexical_type(builtin: BuiltinType) -> bool {
    use BuiltinType as B;
    matches!(
        builtin,
        B::Duration
            | B::DateTime
            | B::Time
            | B::Date
            | B::GYearMonth
            | B::GYear
            | B::GMonthDay
            | B::GDay
            | B::GMonth
    )
}

/// Converts a lexically valid, whitespace-normalised value of a built-in
/// type.
fn convert_builtin(
    builtin: BuiltinType,
    text: &str,
    resolve: &dyn Fn(&str) -> Option<QName>,
) -> Result<Simple, String> {
    use BuiltinType as B;
    Ok(match builtin {
        B::Boolean => Simple::Boolean(matches!(text, "true" | "1")),
        B::UnsignedLong | B::UnsignedInt | B::UnsignedShort | B::UnsignedByte => {
            match integer(text) {
                Some(Simple::Int(v)) => Simple::UInt(
                    u64::try_from(v)
                        .map_err(|_| format!("value \"{text}\" is not a valid unsigned integer"))?,
                ),
                Some(other) => other,
                None => return Err(format!("value \"{text}\" is not a valid integer")),
            }
        }
        b if is_integer_type(b) => {
            integer(text).ok_or_else(|| format!("value \"{text}\" is not a valid integer"))?
        }
        B::Decimal => Simple::Decimal(
            canonical_decimal(text)
                .ok_or_else(|| format!("value \"{text}\" is not a valid xs:decimal"))?,
        ),
        B::Float => Simple::Float(
            parse_float(text)
                .map(|v| v as f32)
                .ok_or_else(|| format!("value \"{text}\" is not a valid xs:float"))?,
        ),
        B::Double => Simple::Double(
            parse_float(text)
                .ok_or_else(|| format!("value \"{text}\" is not a valid xs:double"))?,
        ),
        b if is_lexical_type(b) => Simple::Lexical(b, text.to_owned()),
        B::HexBinary => Simple::Bytes(
            hex_decode(text).ok_or_else(|| format!("value \"{text}\" is not valid hexBinary"))?,
        ),
        B::Base64Binary => Simple::Bytes(
            base64_decode(text)
                .ok_or_else(|| format!("value \"{text}\" is not valid base64Binary"))?,
        ),
        B::QName | B::Notation => Simple::QName(
            resolve(text)
                .ok_or_else(|| format!("the prefix of the QName \"{text}\" is not bound"))?,
        ),
        B::NmTokens | B::IdRefs | B::Entities => Simple::List(
            text.split_ascii_whitespace()
                .map(|t| Simple::String(t.to_owned()))
                .collect(),
        ),
        _ => Simple::String(text.to_owned()),
    })
}

/// The lexical form of `value` as a `builtin` (`None`: whatever type the
/// value has).
fn lexical(
    value: &Simple,
    builtin: Option<BuiltinType>,
    prefix: &mut dyn FnMut(&QName) -> String,
) -> Result<String, String> {
    use BuiltinType as B;
    let builtin = builtin.unwrap_or_else(|| inferred_type(value));
    let wrong = || {
        format!(
            "{} does not fit the type xs:{}",
            describe(value),
            builtin.local_name()
        )
    };
    Ok(match (value, builtin) {
        // A string is taken as the lexical form of any type; the result
        // is checked against the type.
        (Simple::String(_), B::HexBinary | B::Base64Binary | B::QName | B::Notation) => {
            return Err(wrong());
        }
        (Simple::String(text), _) => text.clone(),
        (Simple::Boolean(v), B::Boolean) => v.to_string(),
        (Simple::Int(v), b) if is_integer_type(b) || b == B::Decimal => v.to_string(),
        (Simple::UInt(v), b) if is_integer_type(b) || b == B::Decimal => v.to_string(),
        (Simple::BigInt(v), b) if is_integer_type(b) || b == B::Decimal => v.clone(),
        (Simple::Decimal(v), B::Decimal) => v.clone(),
        (Simple::Int(v), B::Float | B::Double) => v.to_string(),
        (Simple::Float(v), B::Float | B::Double) => float_text(f64::from(*v), true),
        (Simple::Double(v), B::Double) => float_text(*v, false),
        (Simple::Double(v), B::Float) => float_text(f64::from(*v as f32), true),
        (Simple::Lexical(_, text), b) if is_lexical_type(b) => text.clone(),
        (Simple::Bytes(bytes), B::HexBinary) => hex_encode(bytes),
        (Simple::Bytes(bytes), B::Base64Binary) => base64_encode(bytes),
        (Simple::QName(name), B::QName | B::Notation) => prefix(name),
        (Simple::List(items), B::NmTokens | B::IdRefs | B::Entities) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                parts.push(lexical(item, Some(B::NmToken), prefix)?);
            }
            parts.join(" ")
        }
        (Simple::List(items), B::String | B::AnySimpleType) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                parts.push(lexical(item, None, prefix)?);
            }
            parts.join(" ")
        }
        _ => return Err(wrong()),
    })
}

fn float_text(value: f64, single: bool) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "INF".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-INF".to_owned()
    } else if single {
        // The shortest form that reads back as the same f32.
        format!("{:?}", value as f32)
    } else {
        format!("{value:?}")
    }
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "INF" | "+INF" => Some(f64::INFINITY),
        "-INF" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
        {
            None
        }
        _ => text.parse().ok(),
    }
}

/// An integer as `Int`, `UInt` or, when it fits neither, `BigInt` in
/// canonical form.
fn integer(text: &str) -> Option<Simple> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, text.get(1..)?),
        b'+' => (false, text.get(1..)?),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(Simple::Int(0));
    }
    let canonical = if negative {
        format!("-{digits}")
    } else {
        digits.to_owned()
    };
    if let Ok(value) = canonical.parse::<i64>() {
        return Some(Simple::Int(value));
    }
    if let Ok(value) = canonical.parse::<u64>() {
        return Some(Simple::UInt(value));
    }
    Some(Simple::BigInt(canonical))
}

/// The canonical form of a decimal (see [`Simple::Decimal`]).
pub(crate) fn canonical_decimal(text: &str) -> Option<String> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, text.get(1..)?),
        b'+' => (false, text.get(1..)?),
        _ => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let zero = int == "0" && frac.is_empty();
    let mut out = String::with_capacity(int.len() + frac.len() + 2);
    if negative && !zero {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 with padding (RFC 4648 section 4), no line breaks.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                let index = ((n >> shift) & 63) as usize;
                out.push(char::from(BASE64.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes Base64, ignoring whitespace; `None` when malformed.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    let mut padding = 0usize;
    for byte in text.bytes() {
        if byte.is_ascii_whitespace() {
            continue;
        }
        if byte == b'=' {
            padding += 1;
            continue;
        }
        if padding > 0 {
            return None;
        }
        let value = BASE64.iter().position(|&c| c == byte)? as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xFF) as u8);
        }
    }
    if padding > 2 {
        return None;
    }
    Some(out)
}

/// Upper-case hexadecimal, as the canonical form of `xs:hexBinary`.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 15] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// Decodes hexadecimal; `None` when malformed.
pub(crate) fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| char::from(b).to_digit(16);
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [high, low] => Some((digit(*high)? * 16 + digit(*low)?) as u8),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimals_and_integers_are_canonical() {
        assert_eq!(canonical_decimal("+001.500").as_deref(), Some("1.5"));
        assert_eq!(canonical_decimal("-0.0").as_deref(), Some("0"));
        assert_eq!(canonical_decimal(".5").as_deref(), Some("0.5"));
        assert_eq!(canonical_decimal("-12.").as_deref(), Some("-12"));
        assert_eq!(integer("-0"), Some(Simple::Int(0)));
        assert_eq!(integer("+0042"), Some(Simple::Int(42)));
        assert_eq!(
            integer("18446744073709551615"),
            Some(Simple::UInt(u64::MAX))
        );
        assert_eq!(
            integer("-99999999999999999999"),
            Some(Simple::BigInt("-99999999999999999999".to_owned()))
        );
    }

    #[test]
    fn binary_codecs_match_known_vectors() {
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_decode("Zm9v YmE=").as_deref(), Some(&b"fooba"[..]));
        assert_eq!(hex_encode(&[0, 0xAB, 0x7f]), "00AB7F");
        assert_eq!(hex_decode("00ab7F").as_deref(), Some(&[0, 0xAB, 0x7F][..]));
        assert_eq!(hex_decode("0"), None);
    }

    #[test]
    fn floats_keep_their_special_values() {
        assert_eq!(float_text(f64::INFINITY, false), "INF");
        assert_eq!(float_text(f64::NAN, true), "NaN");
        assert_eq!(parse_float("-INF"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("inf"), None);
        assert_eq!(float_text(0.1, false), "0.1");
    }

    proptest! {
        #[test]
        fn base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(base64_decode(&base64_encode(&bytes)), Some(bytes.clone()));
            prop_assert_eq!(hex_decode(&hex_encode(&bytes)), Some(bytes));
        }

        #[test]
        fn doubles_round_trip(value in any::<f64>().prop_filter("not NaN", |v| !v.is_nan())) {
            prop_assert_eq!(parse_float(&float_text(value, false)), Some(value));
        }
    }
}
