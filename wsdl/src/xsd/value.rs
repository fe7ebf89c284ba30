//! Validation of simple values (text and attribute values) against simple
//! types: built-in lexical checks, then every facet of every restriction
//! step, lists and unions.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::builtin::{BuiltinType, WhiteSpace};
use super::model::{ComplexContent, Facets, SimpleVariety, TypeRef};
use super::pattern::BudgetExceeded;
use super::set::{MAX_DERIVATION_CHAIN, ResolvedType, SchemaSet};

/// Shortens a value for a message.
pub(crate) fn shorten(value: &str) -> Cow<'_, str> {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.chars().take(MAX).collect::<String>() + "…")
    }
}

/// What a restriction chain bottoms out in.
#[derive(Clone, Copy)]
enum Root<'s> {
    Builtin(BuiltinType),
    List(&'s TypeRef),
    Union(&'s [TypeRef]),
    Any,
}

impl SchemaSet {
    /// Checks `value` against the simple type `type_ref` (or the simple
    /// content of a complex type), returning the rule violated, such as
    /// `value "x" is not a valid xs:int`.
    pub fn validate_simple(&self, type_ref: &TypeRef, value: &str) -> Result<(), String> {
        match self.resolve_type(type_ref) {
            Some(resolved) => self.check_simple(resolved, value, 0),
            None => Ok(()),
        }
    }

    pub(crate) fn check_simple(
        &self,
        resolved: ResolvedType<'_>,
        value: &str,
        depth: usize,
    ) -> Result<(), String> {
        if depth > 8 {
            return Err("list and union types nest too deeply".to_owned());
        }
        // Walk the restriction steps down to a root, most derived first.
        let mut steps: Vec<&Facets> = Vec::new();
        let mut current = resolved;
        let mut root = Root::Any;
        for _ in 0..=MAX_DERIVATION_CHAIN {
            match current {
                ResolvedType::AnyType | ResolvedType::Lax => {
                    root = Root::Any;
                    break;
                }
                ResolvedType::Builtin(b) => {
                    root = Root::Builtin(b);
                    break;
                }
                ResolvedType::Simple(t) => match &t.variety {
                    SimpleVariety::Restriction { base, facets } => {
                        steps.push(facets);
                        match self.resolve_type(base) {
                            Some(next) => current = next,
                            None => break,
                        }
                    }
                    SimpleVariety::List { item } => {
                        root = Root::List(item);
                        break;
                    }
                    SimpleVariety::Union { members } => {
                        root = Root::Union(members);
                        break;
                    }
                },
                ResolvedType::Complex(t) => match &t.content {
                    ComplexContent::Simple { base, facets, .. } => {
                        steps.push(facets);
                        match self.resolve_type(base) {
                            Some(next) => current = next,
                            None => break,
                        }
                    }
                    ComplexContent::Elements { .. } => {
                        return Err("the type has element content, not a simple value".to_owned());
                    }
                },
            }
        }
        let white_space = steps
            .iter()
            .find_map(|f| f.white_space)
            .unwrap_or(match root {
                Root::Builtin(b) => b.white_space(),
                Root::List(_) => WhiteSpace::Collapse,
                Root::Union(_) | Root::Any => WhiteSpace::Preserve,
            });
        let normalized = white_space.apply(value);
        let normalized: &str = &normalized;
        match root {
            Root::Builtin(b) => {
                if b.validate(normalized).is_err() {
                    return Err(format!(
                        "value \"{}\" is not a valid xs:{}",
                        shorten(normalized),
                        b.local_name()
                    ));
                }
            }
            Root::List(item) => {
                if let Some(item) = self.resolve_type(item) {
                    for token in normalized.split_ascii_whitespace() {
                        self.check_simple(item, token, depth + 1)?;
                    }
                }
            }
            Root::Union(members) => {
                let ok = members.is_empty()
                    || members.iter().any(|m| {
                        self.resolve_type(m)
                            .is_none_or(|t| self.check_simple(t, normalized, depth + 1).is_ok())
                    });
                if !ok {
                    return Err(format!(
                        "value \"{}\" matches no member type of the union",
                        shorten(normalized)
                    ));
                }
            }
            Root::Any => {}
        }
        for facets in steps.iter().rev() {
            check_facets(facets, normalized, root)?;
        }
        Ok(())
    }
}

fn length_of(value: &str, root: Root<'_>) -> u64 {
    let n = match root {
        Root::List(_) => value.split_ascii_whitespace().count(),
        Root::Builtin(BuiltinType::HexBinary) => value.len() / 2,
        Root::Builtin(BuiltinType::Base64Binary) => {
            let chars = value.bytes().filter(|b| !b.is_ascii_whitespace()).count();
            let padding = value
                .bytes()
                .rev()
                .filter(|b| !b.is_ascii_whitespace())
                .take_while(|&b| b == b'=')
                .count();
            (chars / 4 * 3).saturating_sub(padding)
        }
        _ => value.chars().count(),
    };
    n as u64
}

/// The kind of ordering a root type's values have.
enum Order {
    Decimal,
    Float,
    Lexical,
}

fn order_of(root: Root<'_>) -> Order {
    use BuiltinType as B;
    match root {
        Root::Builtin(
            B::Decimal
            | B::Integer
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
            | B::PositiveInteger,
        ) => Order::Decimal,
        Root::Builtin(B::Float | B::Double) => Order::Float,
        _ => Order::Lexical,
    }
}

/// A decimal split into sign, integer digits without leading zeros and
/// fraction digits without trailing zeros.
fn decimal_parts(value: &str) -> Option<(bool, &str, &str)> {
    let (negative, digits) = match value.as_bytes().first() {
        Some(b'-') => (true, value.get(1..)?),
        Some(b'+') => (false, value.get(1..)?),
        _ => (false, value),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let zero = int.is_empty() && frac.is_empty();
    Some((negative && !zero, int, frac))
}

fn compare_decimal(a: &str, b: &str) -> Option<Ordering> {
    let (an, ai, af) = decimal_parts(a)?;
    let (bn, bi, bf) = decimal_parts(b)?;
    let magnitude = ai
        .len()
        .cmp(&bi.len())
        .then_with(|| ai.cmp(bi))
        .then_with(|| af.cmp(bf));
    Some(match (an, bn) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
    })
}

fn compare(a: &str, b: &str, root: Root<'_>) -> Option<Ordering> {
    match order_of(root) {
        Order::Decimal => compare_decimal(a, b),
        Order::Float => a.parse::<f64>().ok()?.partial_cmp(&b.parse::<f64>().ok()?),
        Order::Lexical => Some(a.cmp(b)),
    }
}

fn check_facets(facets: &Facets, value: &str, root: Root<'_>) -> Result<(), String> {
    let shown = shorten(value);
    let length = || length_of(value, root);
    if let Some(expected) = facets.length
        && length() != expected
    {
        return Err(format!(
            "value \"{shown}\" has length {}, not {expected}",
            length()
        ));
    }
    if let Some(min) = facets.min_length
        && length() < min
    {
        return Err(format!("value \"{shown}\" is shorter than minLength {min}"));
    }
    if let Some(max) = facets.max_length
        && length() > max
    {
        return Err(format!("value \"{shown}\" is longer than maxLength {max}"));
    }
    if !facets.patterns.is_empty() {
        let mut matched = false;
        for pattern in &facets.patterns {
            match pattern.is_match(value) {
                Ok(true) => {
                    matched = true;
                    break;
                }
                Ok(false) => {}
                Err(BudgetExceeded) => {
                    return Err(format!(
                        "value \"{shown}\" is too costly to match against the pattern \"{}\"",
                        pattern.as_str()
                    ));
                }
            }
        }
        if !matched {
            let shown_patterns: Vec<&str> = facets.patterns.iter().map(|p| p.as_str()).collect();
            return Err(format!(
                "value \"{shown}\" does not match the pattern \"{}\"",
                shown_patterns.join("\" or \"")
            ));
        }
    }
    if !facets.enumeration.is_empty() {
        let found = facets.enumeration.iter().any(|e| {
            let e = match root {
                Root::Builtin(b) => b.white_space().apply(e),
                _ => Cow::Borrowed(e.as_str()),
            };
            e == value
                || compare(&e, value, root) == Some(Ordering::Equal)
                    && !matches!(order_of(root), Order::Lexical)
        });
        if !found {
            return Err(format!(
                "value \"{shown}\" is not one of the enumerated values"
            ));
        }
    }
    let bounds = [
        (
            &facets.min_inclusive,
            "minInclusive",
            [Ordering::Greater, Ordering::Equal],
        ),
        (
            &facets.max_inclusive,
            "maxInclusive",
            [Ordering::Less, Ordering::Equal],
        ),
        (
            &facets.min_exclusive,
            "minExclusive",
            [Ordering::Greater, Ordering::Greater],
        ),
        (
            &facets.max_exclusive,
            "maxExclusive",
            [Ordering::Less, Ordering::Less],
        ),
    ];
    for (bound, name, allowed) in bounds {
        if let Some(bound) = bound {
            match compare(value, bound, root) {
                Some(ordering) if allowed.contains(&ordering) => {}
                _ => return Err(format!("value \"{shown}\" is outside {name} {bound}")),
            }
        }
    }
    if (facets.total_digits.is_some() || facets.fraction_digits.is_some())
        && let Some((_, int, frac)) = decimal_parts(value)
    {
        if let Some(total) = facets.total_digits
            && (int.len() + frac.len()) as u64 > u64::from(total)
        {
            return Err(format!(
                "value \"{shown}\" has more than totalDigits {total}"
            ));
        }
        if let Some(fraction) = facets.fraction_digits
            && frac.len() as u64 > u64::from(fraction)
        {
            return Err(format!(
                "value \"{shown}\" has more than fractionDigits {fraction}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_compare_by_value() {
        assert_eq!(compare_decimal("10", "9"), Some(Ordering::Greater));
        assert_eq!(compare_decimal("-10", "9"), Some(Ordering::Less));
        assert_eq!(compare_decimal("-10", "-9"), Some(Ordering::Less));
        assert_eq!(compare_decimal("1.50", "+1.5"), Some(Ordering::Equal));
        assert_eq!(compare_decimal("-0", "0.0"), Some(Ordering::Equal));
        assert_eq!(compare_decimal("0.05", ".5"), Some(Ordering::Less));
        assert_eq!(compare_decimal("x", "1"), None);
    }
}
