//! IDL identifiers as Rust identifiers: case conventions and escaping.
//!
//! Modules, fields, operations and parameters become `snake_case`,
//! enumerators and union variants `UpperCamelCase`, constants
//! `SCREAMING_SNAKE_CASE`; type names keep their IDL spelling. (The
//! front end has already removed IDL's escaping `_` prefix.) A result that
//! is a Rust keyword is written as a raw identifier (`r#type`), or with a
//! trailing `_` for the words that cannot be raw (`self_`).

/// Words that are keywords (strict or reserved) in Rust 2024.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Makes `name` usable as a Rust identifier.
pub(crate) fn escape(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name.to_owned()
    }
}

/// The words of an identifier: split at `_` and where case changes from
/// lower (or digit) to upper, or from an acronym to a word (`HTTPServer`).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let boundary = c.is_ascii_uppercase()
            && prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        word.push(c);
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// `echoString` → `echo_string`.
pub(crate) fn snake(name: &str) -> String {
    let joined = words(name)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    escape(if joined.is_empty() { name } else { &joined })
}

/// `max_items` → `MAX_ITEMS`.
pub(crate) fn screaming(name: &str) -> String {
    let joined = words(name)
        .iter()
        .map(|w| w.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join("_");
    escape(if joined.is_empty() { name } else { &joined })
}

/// `red_light` → `RedLight`.
pub(crate) fn camel(name: &str) -> String {
    let joined: String = words(name)
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut cs = lower.chars();
            match cs.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect();
    escape(if joined.is_empty() { name } else { &joined })
}

/// A type name: the IDL spelling, escaped.
pub(crate) fn type_name(name: &str) -> String {
    escape(name)
}

/// Renames the later of any names that collide after conversion by adding
/// `_2`, `_3`, ... so that every result is distinct.
pub(crate) fn distinct(names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .map(|n| {
            let mut candidate = n.clone();
            let mut i = 2;
            while !seen.insert(candidate.clone()) {
                let base = n.strip_prefix("r#").unwrap_or(&n);
                candidate = format!("{base}_{i}");
                i += 1;
            }
            candidate
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions() {
        assert_eq!(snake("echoString"), "echo_string");
        assert_eq!(snake("HTTPServer"), "http_server");
        assert_eq!(snake("IthacaBench"), "ithaca_bench");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("Self"), "self_");
        assert_eq!(camel("red"), "Red");
        assert_eq!(camel("DARK_RED"), "DarkRed");
        assert_eq!(camel("self"), "Self_");
        assert_eq!(screaming("maxItems"), "MAX_ITEMS");
        assert_eq!(type_name("match"), "r#match");
        assert_eq!(
            distinct(vec!["a_b".into(), "a_b".into(), "c".into()]),
            ["a_b", "a_b_2", "c"]
        );
    }
}
