//! Rust identifiers from XML names: case conversion, keywords, and a
//! registry that keeps generated names unique.

use std::collections::HashSet;

/// Rust's strict and reserved keywords (2024 edition), which a field or
/// method name must not be.
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// Splits an XML name into words at `-`, `_`, `.`, spaces, case changes
/// and letter/digit boundaries; characters a Rust identifier cannot hold
/// are dropped.
fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !(c.is_alphanumeric()) {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let previous = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let boundary = match previous {
            Some(p) if p.is_alphanumeric() => {
                (c.is_uppercase() && p.is_lowercase())
                    || (c.is_uppercase()
                        && p.is_uppercase()
                        && next.is_some_and(char::is_lowercase))
            }
            _ => false,
        };
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn is_identifier_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// `UpperCamelCase` for types and variants; `fallback` when nothing is
/// left of `name`.
pub(crate) fn type_name(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for word in words(name) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase_if_upper());
        }
    }
    if out.is_empty() {
        return fallback.to_owned();
    }
    if !out.chars().next().is_some_and(is_identifier_start) {
        out.insert(0, 'V');
    }
    if out == "Self" {
        out.push('_');
    }
    out
}

/// `snake_case` for fields and methods, keywords escaped.
pub(crate) fn field_name(name: &str, fallback: &str) -> String {
    let mut out = words(name)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    if out.is_empty() {
        return fallback.to_owned();
    }
    if !out.chars().next().is_some_and(is_identifier_start) {
        out.insert(0, '_');
    }
    if KEYWORDS.contains(&out.as_str()) {
        match out.as_str() {
            "self" | "super" | "crate" | "Self" => out.push('_'),
            _ => out.insert_str(0, "r#"),
        }
    }
    out
}

trait LowerIfUpper {
    fn to_lowercase_if_upper(&self) -> String;
}

impl LowerIfUpper for str {
    /// Keeps camel humps inside a word (`HTTPServer` was already split),
    /// lowercases an all-capitals word (`ID` → `Id`).
    fn to_lowercase_if_upper(&self) -> String {
        if self.chars().all(|c| !c.is_lowercase()) {
            self.to_lowercase()
        } else {
            self.to_owned()
        }
    }
}

/// Hands out names unique within one scope, adding `2`, `3`… on a clash.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameSet {
    used: HashSet<String>,
}

impl NameSet {
    /// A set holding these names already.
    pub(crate) fn with_reserved(names: &[&str]) -> Self {
        Self {
            used: names.iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    /// `name`, or `name2`, `name3`… when taken.
    pub(crate) fn unique(&mut self, name: String) -> String {
        if self.used.insert(name.clone()) {
            return name;
        }
        let base = name.trim_start_matches("r#").to_owned();
        let mut n = 2u32;
        loop {
            let candidate = format!("{base}{n}");
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
            n = n.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_case_and_escapes_keywords() {
        assert_eq!(type_name("echoStringResponse", "T"), "EchoStringResponse");
        assert_eq!(type_name("HTTPServer", "T"), "HttpServer");
        assert_eq!(type_name("order-line_item", "T"), "OrderLineItem");
        assert_eq!(type_name("2fast", "T"), "V2fast");
        assert_eq!(type_name("Self", "T"), "Self_");
        assert_eq!(type_name("---", "T"), "T");
        assert_eq!(field_name("type", "f"), "r#type");
        assert_eq!(field_name("self", "f"), "self_");
        assert_eq!(field_name("orderID", "f"), "order_id");
        assert_eq!(field_name("PostalCode", "f"), "postal_code");
        assert_eq!(field_name("line2", "f"), "line2");
        assert_eq!(field_name("3d", "f"), "_3d");
        let mut set = NameSet::with_reserved(&["Fault"]);
        assert_eq!(set.unique("Fault".into()), "Fault2");
        assert_eq!(set.unique("Order".into()), "Order");
        assert_eq!(set.unique("Order".into()), "Order2");
    }
}
