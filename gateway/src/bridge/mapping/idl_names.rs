//! IDL identifiers from XML names: sanitising, keywords, and the rule
//! that identifiers of one scope may not differ only in case.

use std::collections::{HashMap, HashSet};

/// The IDL keywords (CORBA 3.x and the IDL 4 words omniidl knows); an
/// identifier may not equal one of them ignoring case.
const KEYWORDS: &[&str] = &[
    "abstract",
    "any",
    "alias",
    "attribute",
    "bitfield",
    "bitmask",
    "bitset",
    "boolean",
    "case",
    "char",
    "component",
    "connector",
    "const",
    "consumes",
    "context",
    "custom",
    "default",
    "double",
    "exception",
    "emits",
    "enum",
    "eventtype",
    "factory",
    "false",
    "finder",
    "fixed",
    "float",
    "getraises",
    "getter",
    "home",
    "import",
    "in",
    "inout",
    "interface",
    "local",
    "long",
    "manages",
    "map",
    "mirrorport",
    "module",
    "multiple",
    "native",
    "object",
    "octet",
    "oneway",
    "out",
    "primarykey",
    "private",
    "port",
    "porttype",
    "provides",
    "public",
    "publishes",
    "raises",
    "readonly",
    "setraises",
    "setter",
    "sequence",
    "short",
    "string",
    "struct",
    "supports",
    "switch",
    "true",
    "truncatable",
    "typedef",
    "typeid",
    "typename",
    "typeprefix",
    "unsigned",
    "union",
    "uses",
    "valuebase",
    "valuetype",
    "void",
    "wchar",
    "wstring",
    "int8",
    "uint8",
    "int16",
    "int32",
    "int64",
    "uint16",
    "uint32",
    "uint64",
];

/// Turns any text into an IDL identifier: letters, digits and `_`,
/// starting with a letter (`x` is put before a leading digit or `_`), and
/// not a keyword in any case (`_` is appended).
pub(crate) fn sanitize(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    let out = out.trim_end_matches('_').to_owned();
    let mut out = if out.is_empty() {
        "x".to_owned()
    } else if out.starts_with(|c: char| !c.is_ascii_alphabetic()) {
        format!("x{out}")
    } else {
        out
    };
    if KEYWORDS.contains(&out.to_ascii_lowercase().as_str()) {
        out.push('_');
    }
    out
}

/// The identifiers taken in every scope, compared ignoring case.
#[derive(Default)]
pub(crate) struct Scopes {
    taken: HashMap<String, HashSet<String>>,
}

impl Scopes {
    /// Reserves `name` in `scope` as it is (for a scope's own name, which
    /// its members may not reuse).
    pub(crate) fn reserve(&mut self, scope: &str, name: &str) {
        self.taken
            .entry(scope.to_owned())
            .or_default()
            .insert(name.to_ascii_lowercase());
    }

    /// Claims an identifier for `wanted` in `scope`: sanitised, then
    /// `_2`, `_3`, … appended while it collides (ignoring case) with one
    /// claimed before, so the first in document order keeps its name.
    pub(crate) fn claim(&mut self, scope: &str, wanted: &str) -> String {
        let base = sanitize(wanted);
        let taken = self.taken.entry(scope.to_owned()).or_default();
        let mut name = base.clone();
        let mut n = 2u32;
        while taken.contains(&name.to_ascii_lowercase()) {
            name = format!("{base}_{n}");
            n = n.saturating_add(1);
        }
        taken.insert(name.to_ascii_lowercase());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_makes_identifiers() {
        assert_eq!(sanitize("order-id"), "order_id");
        assert_eq!(sanitize("1st"), "x1st");
        assert_eq!(sanitize("_return"), "x_return");
        assert_eq!(sanitize("Module"), "Module_");
        assert_eq!(sanitize("string"), "string_");
        assert_eq!(sanitize(""), "x");
    }

    #[test]
    fn case_collisions_are_renamed_in_document_order() {
        let mut s = Scopes::default();
        assert_eq!(s.claim("M", "Item"), "Item");
        assert_eq!(s.claim("M", "item"), "item_2");
        assert_eq!(s.claim("M", "ITEM"), "ITEM_3");
        assert_eq!(s.claim("N", "item"), "item");
    }
}
