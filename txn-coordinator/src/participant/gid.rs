//! Global transaction identifiers for PostgreSQL's `PREPARE TRANSACTION`.
//!
//! PostgreSQL takes the GID as a string literal (no bind parameter), so a
//! GID is only ever made from a validated character set and quoted by
//! [`Gid::literal`]. It must be shorter than 200 bytes. Ithaca's GIDs are
//! `wsat:<node-id>:<tx-hash>:<branch>`: the participant process's
//! [`NodeId`], the first 128 bits of the SHA-256 of the transaction's
//! identifier in hex (the identifier is a URI anyone can choose, so it never
//! goes into SQL itself), and the branch number. Recovery finds a node's
//! branches by the `wsat:<node-id>:` prefix.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::record::TxId;

/// The longest GID PostgreSQL accepts (it refuses 200 bytes and more).
pub const MAX_GID_BYTES: usize = 199;

/// The longest node identifier.
pub const MAX_NODE_ID_BYTES: usize = 64;

/// Why a node identifier or a GID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GidError {
    /// Empty.
    #[error("identifier is empty")]
    Empty,
    /// Longer than the limit.
    #[error("identifier is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A byte outside the allowed set.
    #[error("identifier has {found:?} at byte {at}; allowed: {allowed}")]
    BadCharacter {
        /// The offending character.
        found: char,
        /// Its byte offset.
        at: usize,
        /// The allowed set, for the message.
        allowed: &'static str,
    },
}

const NODE_ALLOWED: &str = "ASCII letters, digits, '.', '_' and '-'";
const GID_ALLOWED: &str = "ASCII letters, digits, ':', '.', '_' and '-'";

fn check(
    text: &str,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(u8) -> bool,
) -> Result<(), GidError> {
    if text.is_empty() {
        return Err(GidError::Empty);
    }
    if text.len() > max {
        return Err(GidError::TooLong {
            len: text.len(),
            max,
        });
    }
    if let Some((at, found)) = text.char_indices().find(|(_, c)| {
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        bytes.len() != 1 || !bytes.iter().all(|b| ok(*b))
    }) {
        return Err(GidError::BadCharacter { found, at, allowed });
    }
    Ok(())
}

fn node_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

fn gid_byte(b: u8) -> bool {
    node_byte(b) || b == b':'
}

/// A participant process's identifier: 1 to 64 bytes of ASCII letters,
/// digits, `.`, `_` and `-`. Every process sharing a database needs its
/// own, and keeps it across restarts (recovery finds its branches by it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeId(String);

impl NodeId {
    /// A node identifier, if `text` is one.
    pub fn new(text: &str) -> Result<Self, GidError> {
        check(text, MAX_NODE_ID_BYTES, NODE_ALLOWED, node_byte)?;
        Ok(Self(text.to_owned()))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix of every GID of this node: `wsat:<node-id>:`.
    pub fn gid_prefix(&self) -> String {
        format!("wsat:{}:", self.0)
    }

    /// A `LIKE` pattern (with `\` as the escape) matching exactly this
    /// node's GIDs: `_` in the node identifier is escaped, so node `a_b`
    /// does not match node `axb`'s branches.
    pub fn like_pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.0.len() + 8);
        for c in self.gid_prefix().chars() {
            if matches!(c, '_' | '%' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        pattern
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated GID: 1 to 199 bytes of ASCII letters, digits, `:`, `.`, `_`
/// and `-`, so it can be written as a literal without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gid(String);

impl Gid {
    /// A GID, if `text` is a valid one (any text, from anywhere: this is
    /// the only way to make one besides [`Gid::for_branch`]).
    pub fn parse(text: &str) -> Result<Self, GidError> {
        check(text, MAX_GID_BYTES, GID_ALLOWED, gid_byte)?;
        Ok(Self(text.to_owned()))
    }

    /// The GID of branch `branch` of `tx` at `node`:
    /// `wsat:<node-id>:<tx-hash>:<branch>` (at most 5 + 64 + 1 + 32 + 1 +
    /// 10 = 113 bytes).
    pub fn for_branch(node: &NodeId, tx: &TxId, branch: u32) -> Self {
        Self(format!("wsat:{node}:{}:{branch}", tx_hash(tx)))
    }

    /// The GID.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GID as an SQL string literal, `'…'`. The character set has no
    /// quote or backslash; doubling quotes anyway keeps this correct should
    /// the set ever grow.
    pub fn literal(&self) -> String {
        format!("'{}'", self.0.replace('\'', "''"))
    }
}

impl fmt::Display for Gid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The first 128 bits of SHA-256 of the transaction identifier, in lower
/// case hex (32 characters).
pub fn tx_hash(tx: &TxId) -> String {
    let digest = Sha256::digest(tx.0.as_bytes());
    let mut hex = String::with_capacity(32);
    for byte in digest.iter().take(16) {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn branch_gids_have_the_documented_shape() {
        let node = NodeId::new("bank-a.1").unwrap();
        let gid = Gid::for_branch(&node, &TxId("urn:uuid:42".into()), 7);
        let parts: Vec<&str> = gid.as_str().split(':').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0], "wsat");
        assert_eq!(parts[1], "bank-a.1");
        assert_eq!(parts[2].len(), 32);
        assert!(parts[2].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(parts[3], "7");
        assert!(gid.as_str().starts_with(&node.gid_prefix()));
        assert_eq!(Gid::parse(gid.as_str()), Ok(gid.clone()));
    }

    #[test]
    fn the_hash_is_stable_and_depends_on_the_transaction() {
        // SHA-256("urn:uuid:42"), first 16 bytes: a stored GID must mean
        // the same transaction after an upgrade.
        assert_eq!(
            tx_hash(&TxId("urn:uuid:42".into())),
            tx_hash(&TxId("urn:uuid:42".into()))
        );
        assert_ne!(
            tx_hash(&TxId("urn:uuid:42".into())),
            tx_hash(&TxId("urn:uuid:43".into()))
        );
        assert_eq!(
            tx_hash(&TxId("abc".into())),
            "ba7816bf8f01cfea414140de5dae2223"
        );
    }

    #[test]
    fn the_longest_branch_gid_fits() {
        let node = NodeId::new(&"n".repeat(MAX_NODE_ID_BYTES)).unwrap();
        let gid = Gid::for_branch(&node, &TxId("x".repeat(10_000)), u32::MAX);
        assert_eq!(gid.as_str().len(), 113);
        assert!(Gid::parse(gid.as_str()).is_ok());
    }

    #[test]
    fn gid_length_boundary_is_199_bytes() {
        assert!(Gid::parse(&"g".repeat(199)).is_ok());
        assert_eq!(
            Gid::parse(&"g".repeat(200)),
            Err(GidError::TooLong { len: 200, max: 199 })
        );
        assert_eq!(Gid::parse(""), Err(GidError::Empty));
    }

    #[test]
    fn bad_gids_and_node_ids_are_refused() {
        for bad in [
            "a'b",
            "a b",
            "a\\b",
            "a;b",
            "a%b",
            "é",
            "a\0b",
            "x'; DROP TABLE t; --",
        ] {
            assert!(
                matches!(Gid::parse(bad), Err(GidError::BadCharacter { .. })),
                "{bad:?}"
            );
            assert!(NodeId::new(bad).is_err(), "{bad:?}");
        }
        // A node identifier cannot hold the separator.
        assert!(NodeId::new("a:b").is_err());
        assert!(NodeId::new(&"n".repeat(65)).is_err());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        let node = NodeId::new("a_b").unwrap();
        assert_eq!(node.like_pattern(), "wsat:a\\_b:%");
    }

    #[test]
    fn literals_are_quoted() {
        let gid = Gid::parse("wsat:n:ab:1").unwrap();
        assert_eq!(gid.literal(), "'wsat:n:ab:1'");
    }

    proptest! {
        #[test]
        fn parse_accepts_exactly_the_allowed_set(text in "\\PC{0,210}") {
            let ok = !text.is_empty()
                && text.len() <= MAX_GID_BYTES
                && text.bytes().all(gid_byte);
            prop_assert_eq!(Gid::parse(&text).is_ok(), ok);
            if let Ok(gid) = Gid::parse(&text) {
                // A valid GID's literal is the GID in quotes, nothing else.
                prop_assert_eq!(gid.literal(), format!("'{text}'"));
            }
        }

        #[test]
        fn branch_gids_always_parse(tx in "\\PC{0,300}", branch in any::<u32>(), node in "[A-Za-z0-9._-]{1,64}") {
            let node = NodeId::new(&node).unwrap();
            let gid = Gid::for_branch(&node, &TxId(tx), branch);
            prop_assert!(Gid::parse(gid.as_str()).is_ok());
            prop_assert!(gid.as_str().len() <= 113);
        }
    }
}
