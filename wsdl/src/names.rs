//! The productions of XML names (XML 1.0 fifth edition, §2.3, and
//! Namespaces in XML 1.0, §3).

/// Tells whether `name` is an XML NCName (a name without a colon).
pub(crate) fn is_ncname(name: &str) -> bool {
    if name.is_ascii() {
        let bytes = name.as_bytes();
        return bytes
            .first()
            .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
            && bytes
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    }
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    is_name_start(first) && chars.all(|c| is_name_start(c) || is_name_char(c))
}

pub(crate) fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

pub(crate) fn is_name_char(c: char) -> bool {
    matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Tells whether `name` is an XML Name (which may hold colons).
pub(crate) fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first == ':' || is_name_start(first))
        && chars.all(|c| c == ':' || is_name_start(c) || is_name_char(c))
}

/// Tells whether `token` is an XML Nmtoken.
pub(crate) fn is_nmtoken(token: &str) -> bool {
    !token.is_empty()
        && token
            .chars()
            .all(|c| c == ':' || is_name_start(c) || is_name_char(c))
}

/// Tells whether `name` is a prefixed or unprefixed QName.
pub(crate) fn is_qname(name: &str) -> bool {
    match name.split_once(':') {
        Some((prefix, local)) => is_ncname(prefix) && is_ncname(local),
        None => is_ncname(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ncnames() {
        for good in ["a", "_x", "soap-env", "\u{e9}", "a.b1"] {
            assert!(is_ncname(good), "{good}");
        }
        for bad in ["", "1a", "a:b", "-a", "a b", ".a"] {
            assert!(!is_ncname(bad), "{bad}");
        }
    }

    #[test]
    fn names_tokens_and_qnames() {
        assert!(is_name("a:b:c"));
        assert!(is_name(":a"));
        assert!(!is_name("1a"));
        assert!(is_nmtoken("1a-b:c"));
        assert!(!is_nmtoken(""));
        assert!(!is_nmtoken("a b"));
        assert!(is_qname("p:l"));
        assert!(is_qname("l"));
        assert!(!is_qname("p:"));
        assert!(!is_qname(":l"));
        assert!(!is_qname("a:b:c"));
    }
}
