//! Lexical validation of the XSD 1.0 built-in simple types (XML Schema
//! Part 2, §3), including the whitespace facet each type applies first.
//!
//! Validation is about lexical forms only: whether `"300"` can be an
//! `xs:byte` (it cannot: out of range), whether `"2024-02-30"` is an
//! `xs:date` (it is not), whether `"p:x"` is an `xs:QName` (it is; binding
//! the prefix is the caller's job). No value is built, so integers of any
//! size are checked without overflow.
//!
//! ```
//! use ithaca_wsdl::xsd::builtin::BuiltinType;
//!
//! let int = BuiltinType::from_local_name("int").unwrap();
//! assert!(int.validate(" 42 ").is_ok());
//! assert!(int.validate("2147483648").is_err());
//! ```

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::error::LexicalError;
use crate::names::{is_name, is_ncname, is_nmtoken, is_qname};
use crate::scan::is_xml_whitespace;

/// The namespace of the XSD built-in types.
pub const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";

/// How a type treats whitespace before checking a lexical form (the
/// `whiteSpace` facet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteSpace {
    /// Kept as written (`xs:string`).
    Preserve,
    /// Each tab, line feed and carriage return becomes a space
    /// (`xs:normalizedString`).
    Replace,
    /// As `Replace`, then runs of spaces become one and leading and
    /// trailing spaces go (every other built-in type).
    Collapse,
}

impl WhiteSpace {
    /// Applies this facet to `value`.
    pub fn apply(self, value: &str) -> Cow<'_, str> {
        match self {
            Self::Preserve => Cow::Borrowed(value),
            Self::Replace => {
                if value.contains(['\t', '\n', '\r']) {
                    Cow::Owned(value.replace(['\t', '\n', '\r'], " "))
                } else {
                    Cow::Borrowed(value)
                }
            }
            Self::Collapse => {
                let trimmed = value.trim_matches(is_xml_whitespace);
                let mut previous_space = false;
                let clean = trimmed.chars().all(|c| {
                    let ok = c == ' ' && !previous_space || !is_xml_whitespace(c);
                    previous_space = c == ' ';
                    ok
                });
                if clean {
                    Cow::Borrowed(trimmed)
                } else {
                    Cow::Owned(
                        trimmed
                            .split(is_xml_whitespace)
                            .filter(|part| !part.is_empty())
                            .collect::<Vec<_>>()
                            .join(" "),
                    )
                }
            }
        }
    }
}

macro_rules! builtin_types {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// An XSD 1.0 built-in simple type.
        ///
        /// Variants follow the order of XML Schema Part 2, §3.2 (primitive
        /// types) and §3.3 (derived types).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum BuiltinType {
            $(#[doc = $doc] $variant,)*
        }

        impl BuiltinType {
            /// Every built-in type, in specification order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The type's local name in the XSD namespace.
            pub const fn local_name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

builtin_types! {
    AnySimpleType => "anySimpleType", "`xs:anySimpleType`: any string.";
    String => "string", "`xs:string`: any string.";
    Boolean => "boolean", "`xs:boolean`: `true`, `false`, `1` or `0`.";
    Decimal => "decimal", "`xs:decimal`: a decimal number without exponent.";
    Float => "float", "`xs:float`: a decimal or exponent number, `INF`, `-INF` or `NaN`.";
    Double => "double", "`xs:double`: as `xs:float`.";
    Duration => "duration", "`xs:duration`: `PnYnMnDTnHnMnS` with an optional minus.";
    DateTime => "dateTime", "`xs:dateTime`: `YYYY-MM-DDThh:mm:ss` with optional fraction and zone.";
    Time => "time", "`xs:time`: `hh:mm:ss` with optional fraction and zone.";
    Date => "date", "`xs:date`: `YYYY-MM-DD` with optional zone.";
    GYearMonth => "gYearMonth", "`xs:gYearMonth`: `YYYY-MM` with optional zone.";
    GYear => "gYear", "`xs:gYear`: `YYYY` with optional zone.";
    GMonthDay => "gMonthDay", "`xs:gMonthDay`: `--MM-DD` with optional zone.";
    GDay => "gDay", "`xs:gDay`: `---DD` with optional zone.";
    GMonth => "gMonth", "`xs:gMonth`: `--MM` with optional zone.";
    HexBinary => "hexBinary", "`xs:hexBinary`: pairs of hexadecimal digits.";
    Base64Binary => "base64Binary", "`xs:base64Binary`: Base64 with canonical padding.";
    AnyUri => "anyURI", "`xs:anyURI`: a URI reference.";
    QName => "QName", "`xs:QName`: an optionally prefixed name.";
    Notation => "NOTATION", "`xs:NOTATION`: lexically a QName.";
    NormalizedString => "normalizedString", "`xs:normalizedString`: a string without tabs or line ends.";
    Token => "token", "`xs:token`: a collapsed string.";
    Language => "language", "`xs:language`: a language tag such as `en-GB`.";
    NmToken => "NMTOKEN", "`xs:NMTOKEN`: a name token.";
    NmTokens => "NMTOKENS", "`xs:NMTOKENS`: a space-separated list of name tokens.";
    Name => "Name", "`xs:Name`: an XML name.";
    NcName => "NCName", "`xs:NCName`: an XML name without colons.";
    Id => "ID", "`xs:ID`: lexically an NCName.";
    IdRef => "IDREF", "`xs:IDREF`: lexically an NCName.";
    IdRefs => "IDREFS", "`xs:IDREFS`: a space-separated list of NCNames.";
    Entity => "ENTITY", "`xs:ENTITY`: lexically an NCName.";
    Entities => "ENTITIES", "`xs:ENTITIES`: a space-separated list of NCNames.";
    Integer => "integer", "`xs:integer`: an integer of any size.";
    NonPositiveInteger => "nonPositiveInteger", "`xs:nonPositiveInteger`: an integer ≤ 0.";
    NegativeInteger => "negativeInteger", "`xs:negativeInteger`: an integer ≤ -1.";
    Long => "long", "`xs:long`: a 64-bit signed integer.";
    Int => "int", "`xs:int`: a 32-bit signed integer.";
    Short => "short", "`xs:short`: a 16-bit signed integer.";
    Byte => "byte", "`xs:byte`: an 8-bit signed integer.";
    NonNegativeInteger => "nonNegativeInteger", "`xs:nonNegativeInteger`: an integer ≥ 0.";
    UnsignedLong => "unsignedLong", "`xs:unsignedLong`: a 64-bit unsigned integer.";
    UnsignedInt => "unsignedInt", "`xs:unsignedInt`: a 32-bit unsigned integer.";
    UnsignedShort => "unsignedShort", "`xs:unsignedShort`: a 16-bit unsigned integer.";
    UnsignedByte => "unsignedByte", "`xs:unsignedByte`: an 8-bit unsigned integer.";
    PositiveInteger => "positiveInteger", "`xs:positiveInteger`: an integer ≥ 1.";
}

/// An integer bound: whether it is negative, and its digits without
/// leading zeros (empty for zero).
type Bound = (bool, &'static str);

impl BuiltinType {
    /// Finds the built-in type with this local name in the XSD namespace.
    pub fn from_local_name(local: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|builtin| builtin.local_name() == local)
    }

    /// The type's `whiteSpace` facet.
    pub const fn white_space(self) -> WhiteSpace {
        match self {
            Self::String | Self::AnySimpleType => WhiteSpace::Preserve,
            Self::NormalizedString => WhiteSpace::Replace,
            _ => WhiteSpace::Collapse,
        }
    }

    /// Applies the type's whitespace facet to `value` and checks that the
    /// result is in the type's lexical space; returns the normalised form.
    pub fn validate(self, value: &str) -> Result<Cow<'_, str>, LexicalError> {
        let normalized = self.white_space().apply(value);
        match self.check(&normalized) {
            Ok(()) => Ok(normalized),
            Err(reason) => Err(LexicalError {
                type_name: self.local_name(),
                value: normalized.chars().take(64).collect(),
                reason,
            }),
        }
    }

    /// Checks a value the whitespace facet was already applied to.
    fn check(self, value: &str) -> Result<(), &'static str> {
        match self {
            Self::AnySimpleType | Self::String | Self::NormalizedString | Self::Token => Ok(()),
            Self::Boolean => match value {
                "true" | "false" | "1" | "0" => Ok(()),
                _ => Err("expected true, false, 1 or 0"),
            },
            Self::Decimal => check_decimal(value),
            Self::Float | Self::Double => check_float(value),
            Self::Duration => check_duration(value),
            Self::DateTime => check_date_time(value),
            Self::Time => check_time_of_day(value),
            Self::Date => check_date(value),
            Self::GYearMonth => check_g(value, GPart::YearMonth),
            Self::GYear => check_g(value, GPart::Year),
            Self::GMonthDay => check_g(value, GPart::MonthDay),
            Self::GDay => check_g(value, GPart::Day),
            Self::GMonth => check_g(value, GPart::Month),
            Self::HexBinary => check_hex(value),
            Self::Base64Binary => check_base64(value),
            Self::AnyUri => check_any_uri(value),
            Self::QName | Self::Notation => expect(is_qname(value), "expected a QName"),
            Self::Language => check_language(value),
            Self::NmToken => expect(is_nmtoken(value), "expected a name token"),
            Self::NmTokens => check_list(value, is_nmtoken, "expected name tokens"),
            Self::Name => expect(is_name(value), "expected an XML name"),
            Self::NcName | Self::Id | Self::IdRef | Self::Entity => {
                expect(is_ncname(value), "expected a name without colons")
            }
            Self::IdRefs | Self::Entities => {
                check_list(value, is_ncname, "expected names without colons")
            }
            Self::Integer => check_integer(value, None, None),
            Self::NonPositiveInteger => check_integer(value, None, Some((false, ""))),
            Self::NegativeInteger => check_integer(value, None, Some((true, "1"))),
            Self::Long => check_integer(
                value,
                Some((true, "9223372036854775808")),
                Some((false, "9223372036854775807")),
            ),
            Self::Int => check_integer(
                value,
                Some((true, "2147483648")),
                Some((false, "2147483647")),
            ),
            Self::Short => check_integer(value, Some((true, "32768")), Some((false, "32767"))),
            Self::Byte => check_integer(value, Some((true, "128")), Some((false, "127"))),
            Self::NonNegativeInteger => check_integer(value, Some((false, "")), None),
            Self::UnsignedLong => check_integer(
                value,
                Some((false, "")),
                Some((false, "18446744073709551615")),
            ),
            Self::UnsignedInt => {
                check_integer(value, Some((false, "")), Some((false, "4294967295")))
            }
            Self::UnsignedShort => check_integer(value, Some((false, "")), Some((false, "65535"))),
            Self::UnsignedByte => check_integer(value, Some((false, "")), Some((false, "255"))),
            Self::PositiveInteger => check_integer(value, Some((false, "1")), None),
        }
    }
}

fn expect(condition: bool, reason: &'static str) -> Result<(), &'static str> {
    if condition { Ok(()) } else { Err(reason) }
}

fn check_list(
    value: &str,
    item: fn(&str) -> bool,
    reason: &'static str,
) -> Result<(), &'static str> {
    expect(!value.is_empty() && value.split(' ').all(item), reason)
}

fn is_digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// Splits an optional leading sign off.
fn split_sign(value: &str) -> (bool, &str) {
    if let Some(rest) = value.strip_prefix('-') {
        (true, rest)
    } else {
        (false, value.strip_prefix('+').unwrap_or(value))
    }
}

fn check_integer(value: &str, min: Option<Bound>, max: Option<Bound>) -> Result<(), &'static str> {
    let (negative, digits) = split_sign(value);
    if !is_digits(digits) {
        return Err("expected an integer");
    }
    let digits = digits.trim_start_matches('0');
    // Zero has no sign.
    let number = (negative && !digits.is_empty(), digits);
    if min.is_some_and(|min| compare(number, min) == Ordering::Less) {
        return Err("below the type's minimum");
    }
    if max.is_some_and(|max| compare(number, max) == Ordering::Greater) {
        return Err("above the type's maximum");
    }
    Ok(())
}

/// Compares two integers given as (negative, digits without leading
/// zeros); zero is never negative.
fn compare(a: (bool, &str), b: (bool, &str)) -> Ordering {
    let magnitude = |x: &str, y: &str| x.len().cmp(&y.len()).then_with(|| x.cmp(y));
    match (a.0, b.0) {
        (false, false) => magnitude(a.1, b.1),
        (true, true) => magnitude(b.1, a.1),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
    }
}

fn check_decimal(value: &str) -> Result<(), &'static str> {
    let (_, unsigned) = split_sign(value);
    expect(is_unsigned_decimal(unsigned), "expected a decimal number")
}

/// `digits`, `digits.`, `digits.digits` or `.digits`.
fn is_unsigned_decimal(value: &str) -> bool {
    match value.split_once('.') {
        Some((whole, fraction)) => {
            (is_digits(whole) || whole.is_empty())
                && (is_digits(fraction) || fraction.is_empty())
                && !(whole.is_empty() && fraction.is_empty())
        }
        None => is_digits(value),
    }
}

fn check_float(value: &str) -> Result<(), &'static str> {
    // `+INF` is XSD 1.1's; it is accepted for leniency.
    if matches!(value, "INF" | "-INF" | "+INF" | "NaN") {
        return Ok(());
    }
    let (_, unsigned) = split_sign(value);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let exponent_ok = exponent.is_none_or(|exponent| is_digits(split_sign(exponent).1));
    expect(
        is_unsigned_decimal(mantissa) && exponent_ok,
        "expected a floating-point number",
    )
}

fn check_duration(value: &str) -> Result<(), &'static str> {
    const REASON: &str = "expected a duration such as P1DT2H";
    let rest = value.strip_prefix('-').unwrap_or(value);
    let rest = rest.strip_prefix('P').ok_or(REASON)?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let date_parts = duration_parts(date, &['Y', 'M', 'D'], false).ok_or(REASON)?;
    let time_parts = match time {
        Some(time) => {
            let count = duration_parts(time, &['H', 'M', 'S'], true).ok_or(REASON)?;
            // A `T` must be followed by at least one time part.
            if count == 0 {
                return Err(REASON);
            }
            count
        }
        None => 0,
    };
    expect(date_parts + time_parts > 0, REASON)
}

/// Counts the `nX` parts of a duration section, which must come in the
/// order of `designators`, each at most once; only seconds may have a
/// fraction.
fn duration_parts(mut section: &str, designators: &[char], seconds: bool) -> Option<usize> {
    let mut count = 0;
    let mut next = 0;
    while !section.is_empty() {
        let end = section.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (number, rest) = section.split_at(end);
        let designator = rest.chars().next()?;
        let index = designators
            .get(next..)?
            .iter()
            .position(|&d| d == designator)?
            + next;
        let fraction_allowed = seconds && designator == 'S';
        let valid = if fraction_allowed {
            is_unsigned_decimal(number) && !number.ends_with('.') && !number.starts_with('.')
        } else {
            is_digits(number)
        };
        if !valid {
            return None;
        }
        count += 1;
        next = index + 1;
        section = rest.get(designator.len_utf8()..)?;
    }
    Some(count)
}

/// Parses exactly `width` digits at the start of `value`.
fn fixed_digits(value: &str, width: usize) -> Option<(u32, &str)> {
    let digits = value.get(..width)?;
    if !is_digits(digits) {
        return None;
    }
    Some((digits.parse().ok()?, value.get(width..)?))
}

/// Parses a year: an optional minus, then four digits or more (no leading
/// zero beyond four); year zero is not allowed in XSD 1.0. Years of more
/// than 18 digits, which no contract uses, are refused rather than handled
/// as big numbers.
fn year(value: &str) -> Option<(u64, &str)> {
    let rest = value.strip_prefix('-').unwrap_or(value);
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let digits = rest.get(..end)?;
    if digits.len() < 4 || (digits.len() > 4 && digits.starts_with('0')) || digits.len() > 18 {
        return None;
    }
    let year: u64 = digits.parse().ok()?;
    if year == 0 {
        return None;
    }
    Some((year, rest.get(end..)?))
}

fn days_in_month(year: Option<u64>, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        // Without a year (gMonthDay), February 29 is allowed. Negative
        // years follow the same proleptic rule on their magnitude, which
        // is only off for years before 1 BCE, outside any real contract.
        _ => match year {
            Some(year)
                if !(year.is_multiple_of(4)
                    && (!year.is_multiple_of(100) || year.is_multiple_of(400))) =>
            {
                28
            }
            _ => 29,
        },
    }
}

/// Parses an optional time zone: `Z` or `±hh:mm` up to 14:00.
fn zone(value: &str) -> Option<()> {
    if value.is_empty() || value == "Z" {
        return Some(());
    }
    let rest = value.strip_prefix(['+', '-'])?;
    let (hours, rest) = fixed_digits(rest, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (minutes, rest) = fixed_digits(rest, 2)?;
    (rest.is_empty() && minutes <= 59 && (hours < 14 || hours == 14 && minutes == 0)).then_some(())
}

/// Parses `YYYY-MM-DD` and returns what follows.
fn date_part(value: &str) -> Option<&str> {
    let (year, rest) = year(value)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = fixed_digits(rest, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = fixed_digits(rest, 2)?;
    ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(Some(year), month))
        .then_some(rest)
}

/// Parses `hh:mm:ss(.s+)?` and returns what follows; `24:00:00` is
/// allowed, as XSD 1.0 allows it.
fn time_part(value: &str) -> Option<&str> {
    let (hours, rest) = fixed_digits(value, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (minutes, rest) = fixed_digits(rest, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (seconds, rest) = fixed_digits(rest, 2)?;
    let (fraction_zero, rest) = match rest.strip_prefix('.') {
        Some(fraction) => {
            let end = fraction
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(fraction.len());
            let digits = fraction.get(..end)?;
            if digits.is_empty() {
                return None;
            }
            (digits.bytes().all(|b| b == b'0'), fraction.get(end..)?)
        }
        None => (true, rest),
    };
    let valid = minutes <= 59
        && seconds <= 59
        && (hours <= 23 || hours == 24 && minutes == 0 && seconds == 0 && fraction_zero);
    valid.then_some(rest)
}

fn check_date_time(value: &str) -> Result<(), &'static str> {
    let parsed = date_part(value)
        .and_then(|rest| rest.strip_prefix('T'))
        .and_then(time_part)
        .and_then(zone);
    expect(
        parsed.is_some(),
        "expected a date and time such as 2024-01-31T12:00:00Z",
    )
}

fn check_date(value: &str) -> Result<(), &'static str> {
    expect(
        date_part(value).and_then(zone).is_some(),
        "expected a date such as 2024-01-31",
    )
}

fn check_time_of_day(value: &str) -> Result<(), &'static str> {
    expect(
        time_part(value).and_then(zone).is_some(),
        "expected a time such as 12:00:00",
    )
}

/// The Gregorian fragments of XSD.
#[derive(Clone, Copy)]
enum GPart {
    YearMonth,
    Year,
    MonthDay,
    Day,
    Month,
}

fn check_g(value: &str, part: GPart) -> Result<(), &'static str> {
    let month = month_part;
    let parsed = match part {
        GPart::YearMonth => year(value)
            .and_then(|(_, rest)| rest.strip_prefix('-'))
            .and_then(month)
            .and_then(|(_, rest)| zone(rest)),
        GPart::Year => year(value).and_then(|(_, rest)| zone(rest)),
        GPart::MonthDay => value
            .strip_prefix("--")
            .and_then(month)
            .and_then(|(month, rest)| {
                let rest = rest.strip_prefix('-')?;
                let (day, rest) = fixed_digits(rest, 2)?;
                (day >= 1 && day <= days_in_month(None, month)).then_some(rest)
            })
            .and_then(zone),
        GPart::Day => value
            .strip_prefix("---")
            .and_then(|rest| fixed_digits(rest, 2))
            .and_then(|(day, rest)| (1..=31).contains(&day).then_some(rest))
            .and_then(zone),
        GPart::Month => value
            .strip_prefix("--")
            .and_then(month)
            .and_then(|(_, rest)| zone(rest)),
    };
    expect(parsed.is_some(), "expected a Gregorian date fragment")
}

/// Parses a two-digit month.
fn month_part(value: &str) -> Option<(u32, &str)> {
    let (month, rest) = fixed_digits(value, 2)?;
    (1..=12).contains(&month).then_some((month, rest))
}

fn check_hex(value: &str) -> Result<(), &'static str> {
    expect(
        value.len().is_multiple_of(2) && value.bytes().all(|b| b.is_ascii_hexdigit()),
        "expected pairs of hexadecimal digits",
    )
}

fn check_base64(value: &str) -> Result<(), &'static str> {
    const REASON: &str = "expected Base64";
    let is_base64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let symbols: Vec<u8> = value.bytes().filter(|&b| b != b' ').collect();
    if !symbols.len().is_multiple_of(4) {
        return Err(REASON);
    }
    let padding = symbols.iter().rev().take_while(|&&b| b == b'=').count();
    let data = symbols.get(..symbols.len() - padding).ok_or(REASON)?;
    if padding > 2 || !data.iter().all(|&b| is_base64(b)) {
        return Err(REASON);
    }
    // The last symbol before padding may only carry bits that are used.
    let last = data.last().copied();
    let canonical = match (padding, last) {
        (0, _) => true,
        (1, Some(b)) => b"AEIMQUYcgkosw048".contains(&b),
        (2, Some(b)) => b"AQgw".contains(&b),
        _ => false,
    };
    expect(canonical, REASON)
}

fn check_any_uri(value: &str) -> Result<(), &'static str> {
    // XSD 1.0 lets almost any string be an anyURI once disallowed
    // characters are escaped; what cannot be fixed by escaping is a broken
    // percent escape, a second fragment, or a bad scheme.
    const REASON: &str = "expected a URI reference";
    let bytes = value.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b'%' {
            let hex = |offset: usize| bytes.get(index + offset).is_some_and(u8::is_ascii_hexdigit);
            if !hex(1) || !hex(2) {
                return Err(REASON);
            }
        }
    }
    if value.matches('#').count() > 1 {
        return Err(REASON);
    }
    if let Some(colon) = value.find(':') {
        let before = value.get(..colon).unwrap_or_default();
        if !before.contains(['/', '?', '#']) {
            let mut chars = before.chars();
            let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if !scheme_ok {
                return Err(REASON);
            }
        }
    }
    Ok(())
}

fn check_language(value: &str) -> Result<(), &'static str> {
    let mut parts = value.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    expect(first_ok && rest_ok, "expected a language tag such as en-GB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use BuiltinType as T;

    fn ok(builtin: BuiltinType, values: &[&str]) {
        for value in values {
            assert!(
                builtin.validate(value).is_ok(),
                "{} should accept {value:?}",
                builtin.local_name()
            );
        }
    }

    fn bad(builtin: BuiltinType, values: &[&str]) {
        for value in values {
            let err = builtin.validate(value);
            assert!(
                err.is_err(),
                "{} should refuse {value:?}",
                builtin.local_name()
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for &builtin in BuiltinType::ALL {
            assert_eq!(
                BuiltinType::from_local_name(builtin.local_name()),
                Some(builtin)
            );
        }
        assert_eq!(BuiltinType::ALL.len(), 45);
        assert_eq!(BuiltinType::from_local_name("Int"), None);
    }

    #[test]
    fn whitespace_facets() {
        assert_eq!(WhiteSpace::Preserve.apply(" a\tb "), " a\tb ");
        assert_eq!(WhiteSpace::Replace.apply(" a\tb\r\n"), " a b  ");
        assert_eq!(WhiteSpace::Collapse.apply("  a \t\n b  c "), "a b c");
        assert!(matches!(
            WhiteSpace::Collapse.apply("a b"),
            Cow::Borrowed(_)
        ));
        assert_eq!(WhiteSpace::Collapse.apply("a  b"), "a b");
        assert_eq!(T::String.validate(" x ").unwrap(), " x ");
        assert_eq!(T::Token.validate(" x  y ").unwrap(), "x y");
        assert_eq!(T::NormalizedString.validate("a\nb").unwrap(), "a b");
    }

    #[test]
    fn string_family() {
        ok(T::String, &["", " any\tthing "]);
        ok(
            T::Language,
            &["en", "en-GB", "x-klingon", "de-CH-1996", " fr "],
        );
        bad(T::Language, &["", "en_GB", "toolongtag", "en-", "1en"]);
        ok(T::NmToken, &["1a", "a:b", "-x"]);
        bad(T::NmToken, &["", "a b", "a/b"]);
        ok(T::NmTokens, &["a b  c", "x"]);
        bad(T::NmTokens, &["", "  ", "a /"]);
        ok(T::Name, &["a:b", "_x", ":a"]);
        bad(T::Name, &["1a", "a b"]);
        ok(T::NcName, &["a", "a-b.c"]);
        bad(T::NcName, &["a:b", "1", ""]);
        ok(T::Id, &["id1"]);
        bad(T::IdRef, &["1"]);
        ok(T::IdRefs, &["a b"]);
        bad(T::Entities, &["a:b c"]);
    }

    #[test]
    fn booleans() {
        ok(T::Boolean, &["true", "false", "1", "0", " true "]);
        bad(T::Boolean, &["TRUE", "yes", "", "01"]);
    }

    #[test]
    fn decimals_and_floats() {
        ok(T::Decimal, &["0", "-1.5", "+.5", "5.", "007.100"]);
        bad(T::Decimal, &["", ".", "1e3", "--1", "1.2.3", "INF", "1 2"]);
        ok(
            T::Float,
            &["1", "-1.5e10", "1E-3", ".5e+2", "INF", "-INF", "NaN", "3."],
        );
        bad(T::Float, &["", "e3", "1e", "1e1.5", "inf", "nan", "1.0f"]);
        ok(T::Double, &["1.7976931348623157E308", "1e400"]);
    }

    #[test]
    fn integer_ranges() {
        ok(
            T::Integer,
            &["0", "-0", "+123", "123456789012345678901234567890"],
        );
        bad(T::Integer, &["", "+", "1.0", "1e3", " 1 2 "]);
        ok(
            T::Long,
            &[
                "-9223372036854775808",
                "9223372036854775807",
                "0009223372036854775807",
            ],
        );
        bad(T::Long, &["-9223372036854775809", "9223372036854775808"]);
        ok(T::Int, &["-2147483648", "2147483647"]);
        bad(T::Int, &["-2147483649", "2147483648"]);
        ok(T::Short, &["-32768", "32767"]);
        bad(T::Short, &["-32769", "32768"]);
        ok(T::Byte, &["-128", "127", "+0"]);
        bad(T::Byte, &["-129", "128", "300"]);
        ok(T::UnsignedLong, &["0", "18446744073709551615", "-0"]);
        bad(T::UnsignedLong, &["18446744073709551616", "-1"]);
        ok(T::UnsignedInt, &["4294967295"]);
        bad(T::UnsignedInt, &["4294967296"]);
        ok(T::UnsignedShort, &["65535"]);
        bad(T::UnsignedShort, &["65536"]);
        ok(T::UnsignedByte, &["255", "000"]);
        bad(T::UnsignedByte, &["256", "-1"]);
        ok(T::PositiveInteger, &["1", "99999999999999999999"]);
        bad(T::PositiveInteger, &["0", "-0", "-1"]);
        ok(T::NonNegativeInteger, &["0", "-0", "5"]);
        bad(T::NonNegativeInteger, &["-1"]);
        ok(T::NegativeInteger, &["-1", "-99999999999999999999"]);
        bad(T::NegativeInteger, &["0", "-0", "1"]);
        ok(T::NonPositiveInteger, &["0", "+0", "-5"]);
        bad(T::NonPositiveInteger, &["1"]);
    }

    #[test]
    fn durations() {
        ok(
            T::Duration,
            &[
                "P1Y",
                "P1Y2M3DT4H5M6.7S",
                "-P10D",
                "PT1H",
                "PT0.5S",
                "P1M",
                "PT1M",
                "P0Y",
            ],
        );
        bad(
            T::Duration,
            &[
                "", "P", "PT", "1Y", "P1H", "P1DT", "P1.5Y", "PT1.S", "P-1Y", "P1M1Y", "P1Y1Y",
                "PT1S1M",
            ],
        );
    }

    #[test]
    fn dates_and_times() {
        ok(
            T::DateTime,
            &[
                "2024-01-31T12:00:00",
                "2024-02-29T23:59:59.999Z",
                "-0044-03-15T12:00:00+01:00",
                "12024-01-01T00:00:00-14:00",
                "2024-01-01T24:00:00",
            ],
        );
        bad(
            T::DateTime,
            &[
                "2024-01-31",
                "2023-02-29T00:00:00",
                "2024-13-01T00:00:00",
                "2024-04-31T00:00:00",
                "0000-01-01T00:00:00",
                "02024-01-01T00:00:00",
                "24-01-01T00:00:00",
                "2024-01-01T24:00:01",
                "2024-01-01T12:60:00",
                "2024-01-01T12:00:60",
                "2024-01-01T12:00:00.",
                "2024-01-01T12:00:00+14:01",
                "2024-01-01T12:00:00+1:00",
                "2024-01-01T12:00:00z",
                "2024-01-01 12:00:00",
            ],
        );
        ok(T::Date, &["2000-02-29", "1900-02-28Z", "2024-12-31+05:30"]);
        bad(T::Date, &["1900-02-29", "2024-1-01", "2024-01-01T00:00:00"]);
        ok(T::Time, &["00:00:00", "23:59:59.5-08:00", "24:00:00.000"]);
        bad(T::Time, &["24:00:00.1", "1:00:00", "12:00"]);
        ok(T::GYearMonth, &["2024-02", "2024-12Z"]);
        bad(T::GYearMonth, &["2024-13", "2024"]);
        ok(T::GYear, &["2024", "-0001", "2024+02:00"]);
        bad(T::GYear, &["24", "0000"]);
        ok(T::GMonthDay, &["--02-29", "--12-31Z"]);
        bad(T::GMonthDay, &["--02-30", "--13-01", "-02-01"]);
        ok(T::GDay, &["---01", "---31Z"]);
        bad(T::GDay, &["---32", "---00", "--01"]);
        ok(T::GMonth, &["--12", "--01-05:00"]);
        bad(T::GMonth, &["--13", "--00", "--1"]);
    }

    #[test]
    fn binary() {
        ok(T::HexBinary, &["", "0fA9", " 00 "]);
        bad(T::HexBinary, &["0", "0g", "0 0"]);
        ok(
            T::Base64Binary,
            &["", "QUJD", "QUI=", "QQ==", "QU JD", " QUJD\n"],
        );
        bad(
            T::Base64Binary,
            &["Q", "QUJ", "Q===", "QUJ=D", "QR==", "QUK=", "QU*D", "===="],
        );
    }

    #[test]
    fn uris_and_qnames() {
        ok(
            T::AnyUri,
            &[
                "",
                "http://example.com/a?b#c",
                "urn:x",
                "relative/path",
                "a%20b",
                "../x:y",
            ],
        );
        bad(T::AnyUri, &["a%2", "%zz", "a#b#c", "1x:y", ":x"]);
        ok(T::QName, &["p:local", "local"]);
        bad(T::QName, &["p:", ":l", "a:b:c", "1a"]);
        ok(T::Notation, &["p:n"]);
    }

    #[test]
    fn errors_name_the_type_and_are_short() {
        let err = T::Int.validate(&"9".repeat(200)).unwrap_err();
        assert_eq!(err.type_name, "int");
        assert_eq!(err.value.chars().count(), 64);
        assert!(err.to_string().starts_with('`'));
        assert!(
            err.to_string()
                .contains("is not a valid xs:int: above the type's maximum")
        );
        assert_eq!(err.fault_code(), crate::FaultCode::Sender);
    }
}
