//! Decoding CDR from a byte buffer.

use bytes::Bytes;

use super::code_set::{UTF_16, decode_utf16};
use super::{ByteOrder, CharCodeSet, DEFAULT_MAX_DEPTH, LongDouble, WcharCodeSet};
use crate::error::{Error, Result};
use crate::version::GiopVersion;

/// A CDR decoder over an immutable buffer.
///
/// The reader owns a cheap clone of a [`Bytes`] buffer, so octet sequences
/// and message bodies are returned as zero-copy slices of it. It never reads
/// past the end of its buffer, checks every announced length against the
/// bytes that remain before allocating, and never panics.
#[derive(Clone, Debug)]
pub struct CdrReader {
    buf: Bytes,
    pos: usize,
    alignment_offset: usize,
    byte_order: ByteOrder,
    version: GiopVersion,
    char_code_set: CharCodeSet,
    wchar_code_set: Option<WcharCodeSet>,
    depth: u32,
    max_depth: u32,
}

impl CdrReader {
    /// Creates a reader whose alignment origin is the first byte of `buf`.
    pub fn new(buf: Bytes, byte_order: ByteOrder, version: GiopVersion) -> Self {
        Self {
            buf,
            pos: 0,
            alignment_offset: 0,
            byte_order,
            version,
            char_code_set: CharCodeSet::default(),
            wchar_code_set: Some(WcharCodeSet::default()),
            depth: 0,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }

    /// Sets the alignment offset of the first byte of the buffer.
    ///
    /// A reader over a GIOP message body uses 12, the size of the GIOP
    /// header that precedes the body.
    pub fn with_alignment_offset(mut self, offset: usize) -> Self {
        self.alignment_offset = offset;
        self
    }

    /// Sets the transmission code set for `char` and `string`.
    pub fn with_char_code_set(mut self, code_set: CharCodeSet) -> Self {
        self.char_code_set = code_set;
        self
    }

    /// Sets the transmission code set for `wchar` and `wstring`; `None`
    /// (no wide code set negotiated) makes reading them fail with
    /// [`Error::NoWcharCodeSet`]. UTF-16 by default.
    pub fn with_wchar_code_set(mut self, code_set: Option<WcharCodeSet>) -> Self {
        self.wchar_code_set = code_set;
        self
    }

    /// Sets how deeply encapsulations and [`nested`](Self::nested) values may nest.
    pub fn with_max_depth(mut self, max_depth: u32) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Reads a value that nests one level deeper, enforcing the depth limit.
    pub fn nested<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= self.max_depth {
            return Err(Error::DepthLimitExceeded(self.max_depth));
        }
        self.depth += 1;
        let result = read(self);
        self.depth -= 1;
        result
    }

    /// Reads an `octet`.
    #[inline]
    pub fn read_octet(&mut self) -> Result<u8> {
        let [b] = self.read_array::<1>()?;
        Ok(b)
    }

    /// Reads a `boolean`, refusing octets other than 0 and 1.
    #[inline]
    pub fn read_boolean(&mut self) -> Result<bool> {
        match self.read_octet()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(Error::InvalidBoolean(other)),
        }
    }

    /// Reads a `char` in the transmission code set.
    pub fn read_char(&mut self) -> Result<char> {
        let byte = self.read_octet()?;
        self.char_code_set.decode_char(byte)
    }

    /// Reads a `wchar` (UTF-16; not allowed in GIOP 1.0).
    ///
    /// GIOP 1.1 sends one 2-byte code unit in the stream's byte order; GIOP
    /// 1.2 sends an octet length followed by the code units, big-endian
    /// unless they start with a byte-order mark.
    pub fn read_wchar(&mut self) -> Result<char> {
        let units = match self.version {
            GiopVersion::V1_0 => return Err(self.version.not_allowed("wchar")),
            _ if self.wchar_code_set.is_none() => return Err(Error::NoWcharCodeSet),
            GiopVersion::V1_1 => vec![self.read_ushort()?],
            GiopVersion::V1_2 => {
                let len = self.read_octet()?;
                let bytes = self.take(usize::from(len))?;
                utf16_units(&bytes, u32::from(len))?
            }
        };
        let text = decode_utf16(units)?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c),
            _ => Err(Error::InvalidCharacters(UTF_16)),
        }
    }

    /// Reads a `short`.
    #[inline]
    pub fn read_short(&mut self) -> Result<i16> {
        let bytes = self.read_array()?;
        Ok(match self.byte_order {
            ByteOrder::BigEndian => i16::from_be_bytes(bytes),
            ByteOrder::LittleEndian => i16::from_le_bytes(bytes),
        })
    }

    /// Reads an `unsigned short`.
    #[inline]
    pub fn read_ushort(&mut self) -> Result<u16> {
        let bytes = self.read_array()?;
        Ok(match self.byte_order {
            ByteOrder::BigEndian => u16::from_be_bytes(bytes),
            ByteOrder::LittleEndian => u16::from_le_bytes(bytes),
        })
    }

    /// Reads a `long`.
    #[inline]
    pub fn read_long(&mut self) -> Result<i32> {
        let bytes = self.read_array()?;
        Ok(match self.byte_order {
            ByteOrder::BigEndian => i32::from_be_bytes(bytes),
            ByteOrder::LittleEndian => i32::from_le_bytes(bytes),
        })
    }

    /// Reads an `unsigned long`.
    #[inline]
    pub fn read_ulong(&mut self) -> Result<u32> {
        let bytes = self.read_array()?;
        Ok(match self.byte_order {
            ByteOrder::BigEndian => u32::from_be_bytes(bytes),
            ByteOrder::LittleEndian => u32::from_le_bytes(bytes),
        })
    }

    /// Reads a `long long`.
    #[inline]
    pub fn read_longlong(&mut self) -> Result<i64> {
        let bytes = self.read_array()?;
        Ok(match self.byte_order {
            ByteOrder::BigEndian => i64::from_be_bytes(bytes),
            ByteOrder::LittleEndian => i64::from_le_bytes(bytes),
        })
    }

    /// Reads an `unsigned long long`.
    #[inline]
    pub fn read_ulonglong(&mut self) -> Result<u64> {
        let bytes = self.read_array()?;
        Ok(match self.byte_order {
            ByteOrder::BigEndian => u64::from_be_bytes(bytes),
            ByteOrder::LittleEndian => u64::from_le_bytes(bytes),
        })
    }

    /// Reads a `float`.
    #[inline]
    pub fn read_float(&mut self) -> Result<f32> {
        self.read_ulong().map(f32::from_bits)
    }

    /// Reads a `double`.
    #[inline]
    pub fn read_double(&mut self) -> Result<f64> {
        self.read_ulonglong().map(f64::from_bits)
    }

    /// Reads a `long double` (16 bytes, aligned on 8).
    pub fn read_long_double(&mut self) -> Result<LongDouble> {
        self.align(8)?;
        let mut bytes: [u8; 16] = self.read_array()?;
        if self.byte_order == ByteOrder::LittleEndian {
            bytes.reverse();
        }
        Ok(LongDouble(bytes))
    }

    /// Reads a `string`: a length counting the NUL, the characters, a NUL.
    ///
    /// A zero length, which some old ORBs send for the empty string, is
    /// accepted as the empty string.
    pub fn read_string(&mut self) -> Result<String> {
        let len = self.read_length(1)?;
        if len == 0 {
            return Ok(String::new());
        }
        let code_set = self.char_code_set;
        match self.take_slice(len)?.split_last() {
            // ASCII reads the same in every supported char code set: one
            // copy, no per-character decoding.
            Some((0, text)) if is_ascii_without_nul(text) => {
                match std::str::from_utf8(text) {
                    Ok(ascii) => Ok(ascii.to_owned()),
                    // Not reached (ASCII is UTF-8); decoded the long way.
                    Err(_) => code_set.decode(text),
                }
            }
            Some((0, text)) if !text.contains(&0) => code_set.decode(text),
            _ => Err(Error::InvalidStringTerminator),
        }
    }

    /// Reads a `wstring` with the rules of the stream's GIOP version.
    ///
    /// GIOP 1.2: the length counts octets, UTF-16 with an optional
    /// byte-order mark (big-endian without one), no terminating NUL.
    /// GIOP 1.1: the length counts 2-byte characters including a
    /// terminating NUL, in the stream's byte order. GIOP 1.0 has no wide
    /// strings.
    pub fn read_wstring(&mut self) -> Result<String> {
        match self.version {
            GiopVersion::V1_0 => Err(self.version.not_allowed("wstring")),
            _ if self.wchar_code_set.is_none() => Err(Error::NoWcharCodeSet),
            GiopVersion::V1_1 => {
                let len = self.read_length(2)?;
                if len == 0 {
                    return Ok(String::new());
                }
                let mut units = Vec::with_capacity(len);
                for _ in 0..len {
                    units.push(self.read_ushort()?);
                }
                match units.pop() {
                    Some(0) if !units.contains(&0) => decode_utf16(units),
                    _ => Err(Error::InvalidStringTerminator),
                }
            }
            GiopVersion::V1_2 => {
                let raw_len = self.read_ulong()?;
                let len = self.check_length(raw_len, 1)?;
                let bytes = self.take(len)?;
                decode_utf16(utf16_units(&bytes, raw_len)?)
            }
        }
    }

    /// Reads `len` raw octets (no length prefix, no alignment).
    pub fn read_octets(&mut self, len: usize) -> Result<Bytes> {
        self.take(len)
    }

    /// Reads a `sequence<octet>` as a zero-copy slice of the input.
    pub fn read_octet_sequence(&mut self) -> Result<Bytes> {
        let len = self.read_length(1)?;
        self.take(len)
    }

    /// Reads a sequence whose elements each take at least `min_element_size` bytes.
    ///
    /// The element count is checked against the bytes that remain before
    /// anything is allocated.
    pub fn read_sequence<T>(
        &mut self,
        min_element_size: usize,
        mut read_element: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let len = self.read_length(min_element_size)?;
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(read_element(self)?);
        }
        Ok(items)
    }

    /// Reads the `ulong` count of a sequence or string and checks that
    /// `count * min_element_size` bytes remain.
    #[inline]
    pub fn read_length(&mut self, min_element_size: usize) -> Result<usize> {
        let raw = self.read_ulong()?;
        self.check_length(raw, min_element_size)
    }

    /// Reads an encapsulation and returns a reader over its contents.
    ///
    /// The new reader takes its byte order from the encapsulation's first
    /// octet, aligns relative to that octet, and counts one level of depth.
    pub fn read_encapsulation(&mut self) -> Result<Self> {
        if self.depth >= self.max_depth {
            return Err(Error::DepthLimitExceeded(self.max_depth));
        }
        let data = self.read_octet_sequence()?;
        Self::encapsulation(data, self.version, self.depth + 1).map(|r| {
            r.with_char_code_set(self.char_code_set)
                .with_wchar_code_set(self.wchar_code_set)
                .with_max_depth(self.max_depth)
        })
    }

    /// Creates a reader over a standalone encapsulation, such as the body
    /// of a tagged profile or the bytes of a stringified IOR.
    pub fn from_encapsulation(data: Bytes, version: GiopVersion) -> Result<Self> {
        Self::encapsulation(data, version, 0)
    }

    fn encapsulation(data: Bytes, version: GiopVersion, depth: u32) -> Result<Self> {
        let flag = *data.first().ok_or(Error::EmptyEncapsulation)?;
        let byte_order = match flag {
            0 => ByteOrder::BigEndian,
            1 => ByteOrder::LittleEndian,
            other => return Err(Error::InvalidByteOrder(other)),
        };
        let mut reader = Self::new(data, byte_order, version);
        reader.pos = 1;
        reader.depth = depth;
        Ok(reader)
    }

    /// Skips the padding before a value aligned on `alignment` bytes.
    ///
    /// Padding is not checked: some ORBs leave garbage in it.
    #[inline]
    pub fn align(&mut self, alignment: usize) -> Result<()> {
        let padding = self.padding(alignment);
        self.skip(padding)
    }

    /// The number of padding bytes before a value aligned on `alignment` bytes.
    #[inline]
    pub fn padding(&self, alignment: usize) -> usize {
        let here = self.alignment_offset.wrapping_add(self.pos);
        match alignment {
            0 | 1 => 0,
            // CDR's alignments (2, 4, 8) are powers of two: a mask, no division.
            n if n.is_power_of_two() => here.wrapping_neg() & (n - 1),
            n => (n - here % n) % n,
        }
    }

    /// Skips `count` bytes.
    #[inline]
    pub fn skip(&mut self, count: usize) -> Result<()> {
        if count > self.remaining() {
            return Err(self.end_error(count));
        }
        self.pos += count;
        Ok(())
    }

    /// Takes every byte that remains.
    pub fn read_rest(&mut self) -> Bytes {
        let rest = self.buf.slice(self.pos.min(self.buf.len())..);
        self.pos = self.buf.len();
        rest
    }

    /// Fails unless every byte has been read.
    pub fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(Error::TrailingBytes(n)),
        }
    }

    /// The byte order of the stream.
    pub fn byte_order(&self) -> ByteOrder {
        self.byte_order
    }

    /// The GIOP version whose rules the reader follows.
    pub fn version(&self) -> GiopVersion {
        self.version
    }

    /// The transmission code set for `char` and `string`.
    pub fn char_code_set(&self) -> CharCodeSet {
        self.char_code_set
    }

    /// The transmission code set for `wchar` and `wstring`, if any.
    pub fn wchar_code_set(&self) -> Option<WcharCodeSet> {
        self.wchar_code_set
    }

    /// The position in the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The position relative to the alignment origin.
    #[inline]
    pub fn alignment_position(&self) -> usize {
        self.alignment_offset.wrapping_add(self.pos)
    }

    /// The number of bytes not yet read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn check_length(&self, raw: u32, min_element_size: usize) -> Result<usize> {
        let len = usize::try_from(raw).map_err(|_| Error::LengthOverflow(usize::MAX))?;
        let remaining = self.remaining();
        // Every element takes at least one byte, whatever the caller says.
        if len.saturating_mul(min_element_size.max(1)) > remaining {
            return Err(Error::LengthExceedsInput {
                length: raw,
                remaining,
            });
        }
        Ok(len)
    }

    #[inline]
    fn read_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        // The common case in one bounds check: aligned start, N bytes.
        let start = self.pos.saturating_add(self.padding(N.min(8)));
        if let Some(bytes) = self
            .buf
            .get(start..start.saturating_add(N))
            .and_then(|s| <[u8; N]>::try_from(s).ok())
        {
            self.pos = start + N;
            return Ok(bytes);
        }
        self.read_array_short()
    }

    /// [`CdrReader::read_array`] when the bytes are not all there: the
    /// error says where and how many were missing.
    #[cold]
    fn read_array_short<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.align(N.min(8))?;
        let start = self.pos;
        let bytes = self
            .buf
            .get(start..start.saturating_add(N))
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or_else(|| self.end_error(N))?;
        self.pos += N;
        Ok(bytes)
    }

    /// Takes `len` bytes as a borrowed slice, for values copied out anyway.
    fn take_slice(&mut self, len: usize) -> Result<&[u8]> {
        let start = self.pos;
        let end = start.saturating_add(len);
        let Some(bytes) = self.buf.get(start..end) else {
            return Err(self.end_error(len));
        };
        self.pos = end;
        Ok(bytes)
    }

    fn take(&mut self, len: usize) -> Result<Bytes> {
        if len > self.remaining() {
            return Err(self.end_error(len));
        }
        let start = self.pos;
        self.pos += len;
        Ok(self.buf.slice(start..self.pos))
    }

    fn end_error(&self, wanted: usize) -> Error {
        Error::UnexpectedEnd {
            offset: self.pos,
            needed: wanted.saturating_sub(self.remaining()),
        }
    }
}

/// Whether every byte is ASCII and none is NUL (each in `1..=0x7f`): such
/// text reads and writes the same in every supported char code set. Short
/// text is checked byte by byte; longer text with a branch-free OR over the
/// bytes (a byte outside the range sets bit 7 of itself or of itself minus
/// one), which the compiler vectorises.
#[inline]
pub(crate) fn is_ascii_without_nul(text: &[u8]) -> bool {
    if text.len() < 16 {
        text.iter().all(|b| b.wrapping_sub(1) < 0x7f)
    } else {
        text.iter().fold(0u8, |acc, &b| acc | b | b.wrapping_sub(1)) & 0x80 == 0
    }
}

/// Splits GIOP 1.2 UTF-16 octets into code units, honouring a leading
/// byte-order mark and defaulting to big-endian.
fn utf16_units(bytes: &[u8], raw_len: u32) -> Result<Vec<u16>> {
    if !bytes.len().is_multiple_of(2) {
        return Err(Error::InvalidWideLength(raw_len));
    }
    let (little_endian, body) = match bytes {
        [0xFE, 0xFF, rest @ ..] => (false, rest),
        [0xFF, 0xFE, rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    let (pairs, _) = body.as_chunks::<2>();
    Ok(pairs
        .iter()
        .map(|&pair| {
            if little_endian {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &[u8], order: ByteOrder) -> CdrReader {
        CdrReader::new(Bytes::copy_from_slice(bytes), order, GiopVersion::V1_2)
    }

    #[test]
    fn ascii_without_nul_is_exactly_1_to_0x7f() {
        for b in 0..=u8::MAX {
            let expected = (1..=0x7f).contains(&b);
            assert_eq!(is_ascii_without_nul(&[b]), expected, "byte {b:#x}");
            // Anywhere in a longer text.
            let mut text = b"a longer text around one byte".to_vec();
            text.insert(9, b);
            assert_eq!(is_ascii_without_nul(&text), expected, "byte {b:#x}");
        }
        assert!(is_ascii_without_nul(b""));
    }

    #[test]
    fn a_short_primitive_says_where_and_how_much_is_missing() {
        // Two bytes, then a long that would start at 4: the padding is
        // there, the long is not.
        let mut r = reader(&[1, 2, 0, 0, 9], ByteOrder::LittleEndian);
        r.read_ushort().unwrap();
        assert!(matches!(
            r.read_long(),
            Err(Error::UnexpectedEnd {
                offset: 4,
                needed: 3
            })
        ));
        // Not even the padding.
        let mut r = reader(&[1, 2, 0], ByteOrder::BigEndian);
        r.read_ushort().unwrap();
        assert!(matches!(r.read_long(), Err(Error::UnexpectedEnd { .. })));
    }

    #[test]
    fn primitives_in_both_byte_orders() {
        let mut be = reader(
            &[0x12, 0x34, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF],
            ByteOrder::BigEndian,
        );
        assert_eq!(be.read_ushort(), Ok(0x1234));
        assert_eq!(be.read_ulong(), Ok(0xDEAD_BEEF));
        let mut le = reader(
            &[0x34, 0x12, 0, 0, 0xEF, 0xBE, 0xAD, 0xDE],
            ByteOrder::LittleEndian,
        );
        assert_eq!(le.read_ushort(), Ok(0x1234));
        assert_eq!(le.read_ulong(), Ok(0xDEAD_BEEF));
        assert_eq!(le.finish(), Ok(()));
    }

    #[test]
    fn alignment_counts_from_the_origin_not_the_buffer() {
        // The body of a GIOP message starts at offset 12, so a long long
        // right after one octet needs 3 padding bytes, not 7.
        let mut r = reader(
            &[9, 0xAA, 0xBB, 0xCC, 0, 0, 0, 0, 0, 0, 0, 7],
            ByteOrder::BigEndian,
        )
        .with_alignment_offset(12);
        assert_eq!(r.read_octet(), Ok(9));
        assert_eq!(r.padding(8), 3);
        assert_eq!(r.read_ulonglong(), Ok(7));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn padding_is_skipped_not_checked() {
        let mut r = reader(&[1, 0x74, 0x6c, 0x54, 0, 0, 0, 5], ByteOrder::BigEndian);
        assert_eq!(r.read_boolean(), Ok(true));
        assert_eq!(r.read_long(), Ok(5));
    }

    #[test]
    fn booleans_other_than_zero_and_one_are_refused() {
        assert_eq!(
            reader(&[2], ByteOrder::BigEndian).read_boolean(),
            Err(Error::InvalidBoolean(2))
        );
    }

    #[test]
    fn truncated_values_report_the_missing_bytes() {
        let mut r = reader(&[0, 0, 0], ByteOrder::BigEndian);
        assert_eq!(
            r.read_ulong(),
            Err(Error::UnexpectedEnd {
                offset: 0,
                needed: 1
            })
        );
        let mut r = reader(&[0, 0], ByteOrder::BigEndian);
        assert_eq!(r.read_octet(), Ok(0));
        // Alignment padding itself can run past the end.
        assert_eq!(
            r.read_ulonglong(),
            Err(Error::UnexpectedEnd {
                offset: 1,
                needed: 6
            })
        );
    }

    #[test]
    fn strings_need_their_nul() {
        let mut r = reader(&[0, 0, 0, 3, b'h', b'i', 0], ByteOrder::BigEndian);
        assert_eq!(r.read_string().as_deref(), Ok("hi"));
        let mut r = reader(&[0, 0, 0, 2, b'h', b'i'], ByteOrder::BigEndian);
        assert_eq!(r.read_string(), Err(Error::InvalidStringTerminator));
        let mut r = reader(&[0, 0, 0, 3, b'h', 0, 0], ByteOrder::BigEndian);
        assert_eq!(r.read_string(), Err(Error::InvalidStringTerminator));
        let mut r = reader(&[0, 0, 0, 0], ByteOrder::BigEndian);
        assert_eq!(r.read_string().as_deref(), Ok(""));
    }

    #[test]
    fn huge_lengths_fail_before_allocating() {
        let mut r = reader(&[0xFF, 0xFF, 0xFF, 0xFF, 1, 2], ByteOrder::BigEndian);
        assert_eq!(
            r.read_octet_sequence(),
            Err(Error::LengthExceedsInput {
                length: u32::MAX,
                remaining: 2
            })
        );
        let mut r = reader(&[0, 0, 0, 2, 0, 0, 0, 1], ByteOrder::BigEndian);
        assert_eq!(
            r.read_sequence(4, CdrReader::read_ulong),
            Err(Error::LengthExceedsInput {
                length: 2,
                remaining: 4
            })
        );
        let mut r = reader(&[0xFF, 0xFF, 0xFF, 0xFF], ByteOrder::BigEndian);
        assert!(r.read_string().is_err());
    }

    #[test]
    fn wide_lengths_are_bounded_by_the_input() {
        // GIOP 1.1 counts 2-byte characters: 3 of them need 6 bytes, not 4.
        let bytes = Bytes::from_static(&[0, 0, 0, 3, 0, b'a', 0, 0]);
        let mut r = CdrReader::new(bytes, ByteOrder::BigEndian, GiopVersion::V1_1);
        assert_eq!(
            r.read_wstring(),
            Err(Error::LengthExceedsInput {
                length: 3,
                remaining: 4
            })
        );
        let mut r = reader(&[0, 0, 0, 9, 0, b'a'], ByteOrder::BigEndian);
        assert!(matches!(
            r.read_wstring(),
            Err(Error::LengthExceedsInput { .. })
        ));
        // A zero minimum element size still bounds the count by the input.
        let mut r = reader(&[0, 0, 0, 5, 1, 2], ByteOrder::BigEndian);
        assert!(r.read_sequence(0, |_| Ok(())).is_err());
    }

    #[test]
    fn octet_sequences_are_zero_copy_slices() {
        let input = Bytes::from_static(&[0, 0, 0, 2, 7, 8]);
        let mut r = CdrReader::new(input.clone(), ByteOrder::BigEndian, GiopVersion::V1_0);
        let seq = r.read_octet_sequence().unwrap();
        assert_eq!(&seq[..], &[7, 8]);
        assert_eq!(seq.as_ptr(), input[4..].as_ptr());
    }

    #[test]
    fn encapsulations_carry_their_own_byte_order_and_origin() {
        // Outer stream big-endian; the encapsulation is little-endian and its
        // ulong sits at offset 4 of the encapsulation (3 padding bytes).
        let mut r = reader(
            &[0, 0, 0, 8, 1, 0xEE, 0xEE, 0xEE, 5, 0, 0, 0],
            ByteOrder::BigEndian,
        );
        let mut inner = r.read_encapsulation().unwrap();
        assert_eq!(inner.byte_order(), ByteOrder::LittleEndian);
        assert_eq!(inner.read_ulong(), Ok(5));
        assert_eq!(inner.finish(), Ok(()));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn encapsulations_need_a_valid_byte_order_octet() {
        let mut r = reader(&[0, 0, 0, 0], ByteOrder::BigEndian);
        assert_eq!(
            r.read_encapsulation().err(),
            Some(Error::EmptyEncapsulation)
        );
        let mut r = reader(&[0, 0, 0, 1, 2], ByteOrder::BigEndian);
        assert_eq!(
            r.read_encapsulation().err(),
            Some(Error::InvalidByteOrder(2))
        );
    }

    #[test]
    fn nested_encapsulations_hit_the_depth_limit() {
        // Each level is an encapsulation whose only content is the next one.
        let mut bytes = vec![0u8];
        for _ in 0..10 {
            let mut outer = vec![0, 0, 0, 0];
            outer.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
            outer.extend_from_slice(&bytes);
            bytes = outer;
        }
        let mut r = reader(&bytes, ByteOrder::BigEndian).with_max_depth(4);
        r.skip(4).unwrap();
        let mut result = Ok(());
        for _ in 0..10 {
            match r.read_encapsulation() {
                Ok(inner) => {
                    r = inner;
                    r.align(4).unwrap();
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        assert_eq!(result, Err(Error::DepthLimitExceeded(4)));
    }

    #[test]
    fn nested_values_hit_the_depth_limit() {
        fn dive(r: &mut CdrReader) -> Result<u32> {
            r.nested(|r| dive(r).map(|d| d + 1))
        }
        let mut r = reader(&[], ByteOrder::BigEndian).with_max_depth(3);
        assert_eq!(dive(&mut r), Err(Error::DepthLimitExceeded(3)));
    }

    #[test]
    fn wide_strings_follow_the_giop_version() {
        // GIOP 1.2: octet length, big-endian by default, BOM honoured.
        let mut r = reader(&[4, 0, 0, 0, 0, b'h', 0, b'i'], ByteOrder::LittleEndian);
        assert_eq!(r.read_wstring().as_deref(), Ok("hi"));
        let mut r = reader(&[0, 0, 0, 4, 0xFF, 0xFE, b'h', 0], ByteOrder::BigEndian);
        assert_eq!(r.read_wstring().as_deref(), Ok("h"));
        let mut r = reader(&[0, 0, 0, 3, 0, b'h', 0], ByteOrder::BigEndian);
        assert_eq!(r.read_wstring(), Err(Error::InvalidWideLength(3)));
        // GIOP 1.1: character count including the NUL, stream byte order.
        let bytes = Bytes::from_static(&[3, 0, 0, 0, b'h', 0, b'i', 0, 0, 0]);
        let mut r = CdrReader::new(bytes, ByteOrder::LittleEndian, GiopVersion::V1_1);
        assert_eq!(r.read_wstring().as_deref(), Ok("hi"));
        let bytes = Bytes::from_static(&[0, 0, 0, 1, 0, b'h']);
        let mut r = CdrReader::new(bytes, ByteOrder::BigEndian, GiopVersion::V1_1);
        assert_eq!(r.read_wstring(), Err(Error::InvalidStringTerminator));
        // GIOP 1.0: no wide characters at all.
        let mut r = CdrReader::new(
            Bytes::from_static(&[0, 0, 0, 0]),
            ByteOrder::BigEndian,
            GiopVersion::V1_0,
        );
        assert!(matches!(r.read_wstring(), Err(Error::NotInVersion { .. })));
        assert!(matches!(r.read_wchar(), Err(Error::NotInVersion { .. })));
    }

    #[test]
    fn wide_chars_follow_the_giop_version() {
        let mut r = reader(&[2, 0x20, 0xAC], ByteOrder::LittleEndian);
        assert_eq!(r.read_wchar(), Ok('€'));
        let mut r = reader(&[4, 0xD8, 0x3D, 0xDE, 0x00], ByteOrder::BigEndian);
        assert_eq!(r.read_wchar(), Ok('😀'));
        let mut r = reader(&[4, 0, b'a', 0, b'b'], ByteOrder::BigEndian);
        assert_eq!(r.read_wchar(), Err(Error::InvalidCharacters("utf-16")));
        let mut r = reader(&[0], ByteOrder::BigEndian);
        assert_eq!(r.read_wchar(), Err(Error::InvalidCharacters("utf-16")));
        let bytes = Bytes::from_static(&[0xAC, 0x20]);
        let mut r = CdrReader::new(bytes, ByteOrder::LittleEndian, GiopVersion::V1_1);
        assert_eq!(r.read_wchar(), Ok('€'));
    }

    #[test]
    fn long_double_is_sixteen_bytes_aligned_on_eight() {
        let mut bytes = vec![0xAB, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend(1..=16);
        let mut r = reader(&bytes, ByteOrder::LittleEndian);
        r.read_octet().unwrap();
        let value = r.read_long_double().unwrap();
        let mut expected: [u8; 16] = std::array::from_fn(|i| u8::try_from(i + 1).unwrap());
        expected.reverse();
        assert_eq!(value, LongDouble(expected));
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let mut r = reader(&[0, 1, 2], ByteOrder::BigEndian);
        r.read_octet().unwrap();
        assert_eq!(r.finish(), Err(Error::TrailingBytes(2)));
        assert_eq!(&r.read_rest()[..], &[1, 2]);
        assert_eq!(r.finish(), Ok(()));
    }
}
