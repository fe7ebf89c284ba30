//! Length- and checksum-framed records, the on-disk unit of the oracle's log
//! and snapshot files.
//!
//! A file starts with an 8-byte magic naming its kind and format version,
//! then holds records `[len: u32 LE][crc: u32 LE][payload: len bytes]`, where
//! `crc` is the CRC-32C (Castagnoli) of the payload. Reading stops at the
//! first record that is incomplete, oversized or fails its checksum: that is
//! a torn tail (a write cut short by a crash) and everything from it on is
//! dropped.

use crc::{CRC_32_ISCSI, Crc};

/// Largest record payload accepted, in bytes (a snapshot of the largest
/// possible view fits; a log entry is far smaller).
pub(crate) const MAX_RECORD_LEN: usize = 64 * 1024 * 1024;

/// Bytes before each payload: length and checksum.
pub(crate) const HEADER_LEN: usize = 8;

const CASTAGNOLI: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// Appends one framed record holding `payload` to `out`.
pub(crate) fn encode(payload: &[u8], out: &mut Vec<u8>) {
    // Payloads come from our own serialiser and are checked against
    // MAX_RECORD_LEN by callers; saturate rather than wrap regardless.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&CASTAGNOLI.checksum(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Why scanning stopped before the end of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TailDamage {
    /// Fewer bytes than a header or than the length announces.
    Incomplete,
    /// The announced length is above [`MAX_RECORD_LEN`].
    Oversized,
    /// The payload does not match its checksum.
    Checksum,
}

/// The records found in `bytes` (after the magic): the payloads in order,
/// the length of the valid prefix, and why the rest (if any) was rejected.
pub(crate) fn scan(bytes: &[u8]) -> (Vec<&[u8]>, usize, Option<TailDamage>) {
    let mut records = Vec::new();
    let mut offset = 0usize;
    loop {
        let rest = bytes.get(offset..).unwrap_or_default();
        if rest.is_empty() {
            return (records, offset, None);
        }
        let (Some(len), Some(crc)) = (read_u32(rest, 0), read_u32(rest, 4)) else {
            return (records, offset, Some(TailDamage::Incomplete));
        };
        let len = len as usize;
        if len > MAX_RECORD_LEN {
            return (records, offset, Some(TailDamage::Oversized));
        }
        let Some(payload) = rest.get(HEADER_LEN..HEADER_LEN + len) else {
            return (records, offset, Some(TailDamage::Incomplete));
        };
        if CASTAGNOLI.checksum(payload) != crc {
            return (records, offset, Some(TailDamage::Checksum));
        }
        records.push(payload);
        offset += HEADER_LEN + len;
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let chunk: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(chunk))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for payload in payloads {
            encode(payload, &mut out);
        }
        out
    }

    #[test]
    fn records_round_trip() {
        let bytes = framed(&[b"one", b"", b"three"]);
        let (records, valid, damage) = scan(&bytes);
        assert_eq!(records, [&b"one"[..], b"", b"three"]);
        assert_eq!(valid, bytes.len());
        assert_eq!(damage, None);
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_cut_at_the_last_good_record() {
        let good = framed(&[b"one", b"two"]);
        let mut torn = good.clone();
        encode(b"three", &mut torn);
        torn.truncate(torn.len() - 2);
        let (records, valid, damage) = scan(&torn);
        assert_eq!(records.len(), 2);
        assert_eq!(valid, good.len());
        assert_eq!(damage, Some(TailDamage::Incomplete));

        let mut flipped = good.clone();
        encode(b"three", &mut flipped);
        if let Some(last) = flipped.last_mut() {
            *last ^= 0x40;
        }
        let (records, valid, damage) = scan(&flipped);
        assert_eq!((records.len(), valid), (2, good.len()));
        assert_eq!(damage, Some(TailDamage::Checksum));

        let mut huge = good.clone();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 4]);
        assert_eq!(scan(&huge).2, Some(TailDamage::Oversized));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn encoded_records_scan_back_unchanged(
                payloads in proptest::collection::vec(
                    proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            ) {
                let mut bytes = Vec::new();
                for payload in &payloads {
                    encode(payload, &mut bytes);
                }
                let (records, valid, damage) = scan(&bytes);
                prop_assert_eq!(records, payloads.iter().map(Vec::as_slice).collect::<Vec<_>>());
                prop_assert_eq!(valid, bytes.len());
                prop_assert_eq!(damage, None);
            }

            #[test]
            fn a_cut_anywhere_keeps_exactly_the_whole_records_before_it(
                payloads in proptest::collection::vec(
                    proptest::collection::vec(any::<u8>(), 0..100), 1..10),
                cut in any::<prop::sample::Index>(),
            ) {
                let mut bytes = Vec::new();
                let mut ends = Vec::new();
                for payload in &payloads {
                    encode(payload, &mut bytes);
                    ends.push(bytes.len());
                }
                let at = cut.index(bytes.len() + 1);
                let (records, valid, damage) = scan(&bytes[..at]);
                let whole = ends.iter().filter(|end| **end <= at).count();
                prop_assert_eq!(records.len(), whole);
                prop_assert_eq!(valid, if whole == 0 { 0 } else { ends[whole - 1] });
                prop_assert_eq!(damage.is_some(), valid != at);
            }

            #[test]
            fn arbitrary_bytes_never_panic_and_the_valid_prefix_is_clean(
                bytes in proptest::collection::vec(any::<u8>(), 0..2048),
            ) {
                let (records, valid, _) = scan(&bytes);
                prop_assert!(valid <= bytes.len());
                let (again, valid_again, damage) = scan(&bytes[..valid]);
                prop_assert_eq!(again, records);
                prop_assert_eq!(valid_again, valid);
                prop_assert_eq!(damage, None);
            }
        }
    }
}
