//! Which operation a request calls: by SOAPAction (SOAP 1.1's header,
//! SOAP 1.2's `action` parameter) and by the QName of the body's first
//! child, the two keys a WSDL binding gives.
//!
//! The rules, for one port:
//!
//! 1. When the action names an operation, that operation is called,
//!    provided the body agrees: its first child is the operation's input
//!    element (or the operation's input body is empty and so is the
//!    request's).
//! 2. Otherwise (no action, `""`, or an action no operation declares,
//!    which many clients send) the body's first child decides; when
//!    several operations share it, the action must tell them apart.
//!
//! Both keys come from the request, so the table does not hash them: it
//! keeps each key kind in a vector sorted by key and looks requests up
//! by binary search, a logarithmic number of comparisons whatever the
//! client sends, without the SipHash per key that a DoS-resistant hash
//! map would cost on every request.

use std::collections::HashMap;

use ithaca_wsdl::QName;

/// Why no single operation matches a request. Each is the client's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DispatchError {
    /// Neither key names an operation.
    #[error("no operation of this service accepts the body element {body}{}", action_note(.action))]
    Unknown {
        /// The body's first child (`(empty body)` when none).
        body: String,
        /// The action, when one was sent.
        action: Option<String>,
    },
    /// The action and the body name different operations.
    #[error(
        "the SOAP action `{action}` names the operation `{operation}`, which expects the body element {expected}, not {body}"
    )]
    Conflict {
        /// The action sent.
        action: String,
        /// The operation it names.
        operation: String,
        /// That operation's input element.
        expected: String,
        /// The body's first child.
        body: String,
    },
    /// Several operations share the body element and no action tells them
    /// apart.
    #[error("the operations {} all accept the body element {body}; send the SOAP action of the one to call", .operations.join(", "))]
    Ambiguous {
        /// The body's first child.
        body: String,
        /// The candidates, quoted.
        operations: Vec<String>,
    },
}

fn action_note(action: &Option<String>) -> String {
    match action {
        Some(action) => format!(" and none has the SOAP action `{action}`"),
        None => String::new(),
    }
}

/// One operation as dispatch sees it.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    /// The operation's name.
    pub(crate) name: String,
    /// Its `soapAction`, if any.
    pub(crate) action: Option<String>,
    /// The QName of its input body's first child; `None` for an empty body.
    pub(crate) body: Option<QName>,
}

/// The dispatch table of one port.
#[derive(Debug, Default)]
pub(crate) struct Table {
    keys: Vec<Key>,
    /// Each action that names exactly one operation, sorted by action.
    by_action: Vec<(String, usize)>,
    /// The operations of each body element, sorted by element name.
    by_body: Vec<(QName, Vec<usize>)>,
    empty_body: Vec<usize>,
}

impl Table {
    /// Builds the table; indexes returned by [`Table::resolve`] are
    /// positions in `keys`. An action shared by several operations is
    /// useless for dispatch and is left out.
    pub(crate) fn new(keys: Vec<Key>) -> Self {
        let mut by_action: HashMap<String, Option<usize>> = HashMap::new();
        let mut by_body: HashMap<QName, Vec<usize>> = HashMap::new();
        let mut empty_body = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            if let Some(action) = key.action.as_ref().filter(|a| !a.is_empty()) {
                by_action
                    .entry(action.clone())
                    .and_modify(|slot| *slot = None)
                    .or_insert(Some(index));
            }
            match &key.body {
                Some(body) => by_body.entry(body.clone()).or_default().push(index),
                None => empty_body.push(index),
            }
        }
        let mut by_action: Vec<(String, usize)> = by_action
            .into_iter()
            .filter_map(|(action, index)| Some((action, index?)))
            .collect();
        by_action.sort_unstable();
        let mut by_body: Vec<(QName, Vec<usize>)> = by_body.into_iter().collect();
        by_body.sort_unstable();
        Self {
            keys,
            by_action,
            by_body,
            empty_body,
        }
    }

    /// The operation `action` names alone, if any.
    fn action(&self, action: &str) -> Option<usize> {
        let at = self
            .by_action
            .binary_search_by(|(key, _)| key.as_str().cmp(action))
            .ok()?;
        self.by_action.get(at).map(|&(_, index)| index)
    }

    /// Finds the operation a request calls.
    pub(crate) fn resolve(
        &self,
        action: Option<&str>,
        body: Option<&QName>,
    ) -> Result<usize, DispatchError> {
        let action = action.filter(|a| !a.is_empty());
        let candidates: &[usize] = match body {
            Some(body) => self
                .by_body
                .binary_search_by(|(name, _)| name.cmp(body))
                .ok()
                .and_then(|at| self.by_body.get(at))
                .map_or(&[], |(_, indices)| indices.as_slice()),
            None => &self.empty_body,
        };
        if let Some(action) = action
            && let Some(index) = self.action(action)
        {
            if candidates.contains(&index) {
                return Ok(index);
            }
            let key = self.keys.get(index);
            return Err(DispatchError::Conflict {
                action: action.to_owned(),
                operation: key.map(|k| k.name.clone()).unwrap_or_default(),
                expected: describe(key.and_then(|k| k.body.as_ref())),
                body: describe(body),
            });
        }
        match candidates {
            [index] => Ok(*index),
            [] => Err(DispatchError::Unknown {
                body: describe(body),
                action: action.map(str::to_owned),
            }),
            several => Err(DispatchError::Ambiguous {
                body: describe(body),
                operations: several
                    .iter()
                    .filter_map(|&i| self.keys.get(i))
                    .map(|k| format!("`{}`", k.name))
                    .collect(),
            }),
        }
    }
}

fn describe(body: Option<&QName>) -> String {
    body.map_or_else(|| "(empty body)".to_owned(), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, action: Option<&str>, body: Option<&str>) -> Key {
        Key {
            name: name.to_owned(),
            action: action.map(str::to_owned),
            body: body.map(|local| QName::new("urn:t", local)),
        }
    }

    fn table() -> Table {
        Table::new(vec![
            key("echo", Some("urn:echo"), Some("echo")),
            key("ping", Some(""), None),
            key("a", Some("urn:a"), Some("shared")),
            key("b", Some("urn:b"), Some("shared")),
            key("c", Some("urn:dup"), Some("c")),
            key("d", Some("urn:dup"), Some("d")),
        ])
    }

    fn q(local: &str) -> QName {
        QName::new("urn:t", local)
    }

    #[test]
    fn action_and_body_agree() {
        let t = table();
        assert_eq!(t.resolve(Some("urn:echo"), Some(&q("echo"))), Ok(0));
        assert_eq!(t.resolve(Some("urn:b"), Some(&q("shared"))), Ok(3));
    }

    #[test]
    fn body_decides_without_a_known_action() {
        let t = table();
        assert_eq!(t.resolve(None, Some(&q("echo"))), Ok(0));
        assert_eq!(t.resolve(Some(""), Some(&q("echo"))), Ok(0));
        assert_eq!(t.resolve(Some("urn:whatever"), Some(&q("echo"))), Ok(0));
        assert_eq!(t.resolve(None, None), Ok(1));
        // A shared action is no key: the body decides.
        assert_eq!(t.resolve(Some("urn:dup"), Some(&q("d"))), Ok(5));
    }

    #[test]
    fn unknown_conflicting_and_ambiguous_requests_are_refused() {
        let t = table();
        let unknown = t.resolve(Some("urn:x"), Some(&q("nope"))).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "no operation of this service accepts the body element {urn:t}nope and none has the SOAP action `urn:x`"
        );
        let conflict = t.resolve(Some("urn:echo"), Some(&q("shared"))).unwrap_err();
        assert_eq!(
            conflict.to_string(),
            "the SOAP action `urn:echo` names the operation `echo`, which expects the body element {urn:t}echo, not {urn:t}shared"
        );
        let ambiguous = t.resolve(None, Some(&q("shared"))).unwrap_err();
        assert_eq!(
            ambiguous.to_string(),
            "the operations `a`, `b` all accept the body element {urn:t}shared; send the SOAP action of the one to call"
        );
        assert!(matches!(
            t.resolve(Some("urn:echo"), None),
            Err(DispatchError::Conflict { .. })
        ));
    }
}
