//! Encoding CDR into a growable buffer.

use bytes::{BufMut, BytesMut};

use super::code_set::UTF_16;
use super::{ByteOrder, CharCodeSet, LongDouble, WcharCodeSet};
use crate::error::{Error, Result};
use crate::version::GiopVersion;

/// A CDR encoder appending to a [`BytesMut`].
///
/// The alignment origin is the length the buffer had when the writer was
/// created, shifted by [`with_alignment_offset`](Self::with_alignment_offset),
/// so several messages can be encoded one after the other into the same
/// buffer. Padding is always written as zeros.
#[derive(Debug)]
pub struct CdrWriter<'a> {
    buf: &'a mut BytesMut,
    start: usize,
    alignment_offset: usize,
    byte_order: ByteOrder,
    version: GiopVersion,
    char_code_set: CharCodeSet,
    wchar_code_set: Option<WcharCodeSet>,
}

impl<'a> CdrWriter<'a> {
    /// Creates a writer whose alignment origin is the current end of `buf`.
    pub fn new(buf: &'a mut BytesMut, byte_order: ByteOrder, version: GiopVersion) -> Self {
        let start = buf.len();
        Self {
            buf,
            start,
            alignment_offset: 0,
            byte_order,
            version,
            char_code_set: CharCodeSet::default(),
            wchar_code_set: Some(WcharCodeSet::default()),
        }
    }

    /// Sets the alignment offset of the first byte this writer appends.
    ///
    /// A writer producing a GIOP 1.0 or 1.1 message body uses the body's
    /// offset from the start of the GIOP header.
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
    /// (no wide code set negotiated) makes writing them fail with
    /// [`Error::NoWcharCodeSet`]. UTF-16 by default.
    pub fn with_wchar_code_set(mut self, code_set: Option<WcharCodeSet>) -> Self {
        self.wchar_code_set = code_set;
        self
    }

    /// The transmission code set for `char` and `string`.
    pub fn char_code_set(&self) -> CharCodeSet {
        self.char_code_set
    }

    /// The transmission code set for `wchar` and `wstring`, if any.
    pub fn wchar_code_set(&self) -> Option<WcharCodeSet> {
        self.wchar_code_set
    }

    /// Writes an `octet`.
    #[inline]
    pub fn write_octet(&mut self, value: u8) {
        self.buf.put_u8(value);
    }

    /// Writes a `boolean` as the octet 0 or 1.
    #[inline]
    pub fn write_boolean(&mut self, value: bool) {
        self.write_octet(u8::from(value));
    }

    /// Writes a `char` in the transmission code set.
    pub fn write_char(&mut self, value: char) -> Result<()> {
        let byte = self.char_code_set.encode_char(value)?;
        self.write_octet(byte);
        Ok(())
    }

    /// Writes a `wchar` with the rules of the writer's GIOP version.
    ///
    /// GIOP 1.1 only carries characters of the Basic Multilingual Plane.
    pub fn write_wchar(&mut self, value: char) -> Result<()> {
        let mut units = [0u16; 2];
        let units = value.encode_utf16(&mut units);
        match (self.version, &*units) {
            (GiopVersion::V1_0, _) => Err(self.version.not_allowed("wchar")),
            _ if self.wchar_code_set.is_none() => Err(Error::NoWcharCodeSet),
            (GiopVersion::V1_1, [unit]) => {
                self.write_ushort(*unit);
                Ok(())
            }
            (GiopVersion::V1_1, _) => Err(Error::UnencodableCharacter(value, UTF_16)),
            (GiopVersion::V1_2, units) => {
                let units = with_bom_if_ambiguous(units.iter().copied());
                // At most three code units: 6 octets.
                self.write_octet(u8::try_from(units.len() * 2).unwrap_or(u8::MAX));
                for unit in units {
                    self.buf.put_u16(unit);
                }
                Ok(())
            }
        }
    }

    /// Writes a `short`.
    #[inline]
    pub fn write_short(&mut self, value: i16) {
        self.align(2);
        match self.byte_order {
            ByteOrder::BigEndian => self.buf.put_i16(value),
            ByteOrder::LittleEndian => self.buf.put_i16_le(value),
        }
    }

    /// Writes an `unsigned short`.
    #[inline]
    pub fn write_ushort(&mut self, value: u16) {
        self.align(2);
        match self.byte_order {
            ByteOrder::BigEndian => self.buf.put_u16(value),
            ByteOrder::LittleEndian => self.buf.put_u16_le(value),
        }
    }

    /// Writes a `long`.
    #[inline]
    pub fn write_long(&mut self, value: i32) {
        self.align(4);
        match self.byte_order {
            ByteOrder::BigEndian => self.buf.put_i32(value),
            ByteOrder::LittleEndian => self.buf.put_i32_le(value),
        }
    }

    /// Writes an `unsigned long`.
    #[inline]
    pub fn write_ulong(&mut self, value: u32) {
        self.align(4);
        match self.byte_order {
            ByteOrder::BigEndian => self.buf.put_u32(value),
            ByteOrder::LittleEndian => self.buf.put_u32_le(value),
        }
    }

    /// Writes a `long long`.
    #[inline]
    pub fn write_longlong(&mut self, value: i64) {
        self.align(8);
        match self.byte_order {
            ByteOrder::BigEndian => self.buf.put_i64(value),
            ByteOrder::LittleEndian => self.buf.put_i64_le(value),
        }
    }

    /// Writes an `unsigned long long`.
    #[inline]
    pub fn write_ulonglong(&mut self, value: u64) {
        self.align(8);
        match self.byte_order {
            ByteOrder::BigEndian => self.buf.put_u64(value),
            ByteOrder::LittleEndian => self.buf.put_u64_le(value),
        }
    }

    /// Writes a `float`.
    #[inline]
    pub fn write_float(&mut self, value: f32) {
        self.write_ulong(value.to_bits());
    }

    /// Writes a `double`.
    #[inline]
    pub fn write_double(&mut self, value: f64) {
        self.write_ulonglong(value.to_bits());
    }

    /// Writes a `long double` (16 bytes, aligned on 8).
    pub fn write_long_double(&mut self, value: LongDouble) {
        self.align(8);
        let mut bytes = value.0;
        if self.byte_order == ByteOrder::LittleEndian {
            bytes.reverse();
        }
        self.buf.put_slice(&bytes);
    }

    /// Writes a `string`: its length including the NUL, the characters, a NUL.
    ///
    /// Strings containing NUL cannot be represented in CDR and are refused.
    pub fn write_string(&mut self, value: &str) -> Result<()> {
        // ASCII without NUL is the same in every supported char code set:
        // written as it is, without a scratch buffer.
        if super::reader::is_ascii_without_nul(value.as_bytes()) {
            self.write_length(value.len().saturating_add(1))?;
            self.buf.put_slice(value.as_bytes());
            self.buf.put_u8(0);
            return Ok(());
        }
        if value.contains('\0') {
            return Err(Error::InvalidStringTerminator);
        }
        let mut bytes = Vec::with_capacity(value.len() + 1);
        self.char_code_set.encode(value, &mut bytes)?;
        bytes.push(0);
        self.write_length(bytes.len())?;
        self.buf.put_slice(&bytes);
        Ok(())
    }

    /// Writes a `wstring` with the rules of the writer's GIOP version.
    ///
    /// GIOP 1.2 wide strings are written big-endian without a byte-order
    /// mark, which is what the specification assumes when there is none,
    /// unless the text itself starts with a character a reader would take
    /// for a byte-order mark.
    pub fn write_wstring(&mut self, value: &str) -> Result<()> {
        if value.contains('\0') {
            return Err(Error::InvalidStringTerminator);
        }
        match self.version {
            GiopVersion::V1_0 => Err(self.version.not_allowed("wstring")),
            _ if self.wchar_code_set.is_none() => Err(Error::NoWcharCodeSet),
            GiopVersion::V1_1 => {
                let units: Vec<u16> = value.encode_utf16().chain([0]).collect();
                self.write_length(units.len())?;
                for unit in units {
                    self.write_ushort(unit);
                }
                Ok(())
            }
            GiopVersion::V1_2 => {
                let units = with_bom_if_ambiguous(value.encode_utf16());
                self.write_length(units.len().saturating_mul(2))?;
                for unit in units {
                    self.buf.put_u16(unit);
                }
                Ok(())
            }
        }
    }

    /// Writes raw octets (no length prefix, no alignment).
    pub fn write_octets(&mut self, value: &[u8]) {
        self.buf.put_slice(value);
    }

    /// Writes a `sequence<octet>`.
    pub fn write_octet_sequence(&mut self, value: &[u8]) -> Result<()> {
        self.write_length(value.len())?;
        self.buf.put_slice(value);
        Ok(())
    }

    /// Writes a sequence, one element at a time.
    pub fn write_sequence<T>(
        &mut self,
        items: &[T],
        mut write_element: impl FnMut(&mut Self, &T) -> Result<()>,
    ) -> Result<()> {
        self.write_length(items.len())?;
        items.iter().try_for_each(|item| write_element(self, item))
    }

    /// Writes the `ulong` length of a sequence or string.
    #[inline]
    pub fn write_length(&mut self, len: usize) -> Result<()> {
        let len = u32::try_from(len).map_err(|_| Error::LengthOverflow(len))?;
        self.write_ulong(len);
        Ok(())
    }

    /// Writes an encapsulation in the writer's byte order.
    ///
    /// `write_contents` gets a writer whose alignment origin is the
    /// encapsulation's byte-order octet; the length is filled in afterwards.
    pub fn write_encapsulation(
        &mut self,
        write_contents: impl FnOnce(&mut CdrWriter<'_>) -> Result<()>,
    ) -> Result<()> {
        self.write_encapsulation_in(self.byte_order, write_contents)
    }

    /// Writes an encapsulation in the given byte order.
    pub fn write_encapsulation_in(
        &mut self,
        byte_order: ByteOrder,
        write_contents: impl FnOnce(&mut CdrWriter<'_>) -> Result<()>,
    ) -> Result<()> {
        self.write_ulong(0);
        let length_at = self.buf.len() - 4;
        let mut inner = CdrWriter::new(self.buf, byte_order, self.version)
            .with_char_code_set(self.char_code_set)
            .with_wchar_code_set(self.wchar_code_set);
        inner.write_octet(byte_order.flag());
        write_contents(&mut inner)?;
        let len = self.buf.len() - length_at - 4;
        self.patch_ulong(
            length_at,
            u32::try_from(len).map_err(|_| Error::LengthOverflow(len))?,
        );
        Ok(())
    }

    /// Overwrites the `ulong` at `index` of the underlying buffer, which
    /// this writer or its caller wrote earlier.
    pub(crate) fn patch_ulong(&mut self, index: usize, value: u32) {
        let bytes = match self.byte_order {
            ByteOrder::BigEndian => value.to_be_bytes(),
            ByteOrder::LittleEndian => value.to_le_bytes(),
        };
        if let Some(slot) = self.buf.get_mut(index..index + 4) {
            slot.copy_from_slice(&bytes);
        }
    }

    /// Overwrites the `ulong` this writer wrote when it had written
    /// `written` bytes (a size known only afterwards, such as a valuetype
    /// chunk's).
    pub(crate) fn patch_written_ulong(&mut self, written: usize, value: u32) {
        self.patch_ulong(self.start.saturating_add(written), value);
    }

    /// Writes zero padding up to the next multiple of `alignment`.
    #[inline]
    pub fn align(&mut self, alignment: usize) {
        let padding = self.padding(alignment);
        // Most values are already aligned: skip the call for no bytes.
        if padding > 0 {
            self.buf.put_bytes(0, padding);
        }
    }

    /// The number of padding bytes before a value aligned on `alignment` bytes.
    #[inline]
    pub fn padding(&self, alignment: usize) -> usize {
        let here = self.alignment_position();
        match alignment {
            0 | 1 => 0,
            // CDR's alignments (2, 4, 8) are powers of two: a mask, no division.
            n if n.is_power_of_two() => here.wrapping_neg() & (n - 1),
            n => (n - here % n) % n,
        }
    }

    /// The position relative to the alignment origin.
    #[inline]
    pub fn alignment_position(&self) -> usize {
        (self.buf.len() - self.start).wrapping_add(self.alignment_offset)
    }

    /// The number of bytes this writer has appended.
    pub fn written(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Drops what this writer appended after its first `written` bytes
    /// (such as padding before a body that turned out empty).
    pub(crate) fn truncate(&mut self, written: usize) {
        self.buf.truncate(self.start.saturating_add(written));
    }

    /// The byte order of the stream.
    pub fn byte_order(&self) -> ByteOrder {
        self.byte_order
    }

    /// The GIOP version whose rules the writer follows.
    pub fn version(&self) -> GiopVersion {
        self.version
    }
}

/// Big-endian UTF-16 code units for GIOP 1.2, with a big-endian
/// byte-order mark in front when the first unit would otherwise be taken
/// for one.
fn with_bom_if_ambiguous(units: impl IntoIterator<Item = u16>) -> Vec<u16> {
    let mut units = units.into_iter().peekable();
    let mut out = Vec::new();
    if matches!(units.peek(), Some(0xFEFF | 0xFFFE)) {
        out.push(0xFEFF);
    }
    out.extend(units);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(
        order: ByteOrder,
        version: GiopVersion,
        f: impl FnOnce(&mut CdrWriter<'_>),
    ) -> Vec<u8> {
        let mut buf = BytesMut::new();
        f(&mut CdrWriter::new(&mut buf, order, version));
        buf.to_vec()
    }

    #[test]
    fn primitives_are_aligned_and_ordered() {
        let be = encode(ByteOrder::BigEndian, GiopVersion::V1_2, |w| {
            w.write_octet(1);
            w.write_ushort(0x0203);
            w.write_ulong(0x0405_0607);
            w.write_ulonglong(8);
        });
        assert_eq!(be, [1, 0, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 8]);
        let le = encode(ByteOrder::LittleEndian, GiopVersion::V1_2, |w| {
            w.write_octet(1);
            w.write_short(-2);
        });
        assert_eq!(le, [1, 0, 0xFE, 0xFF]);
    }

    #[test]
    fn alignment_offset_shifts_the_origin() {
        let mut buf = BytesMut::from(&b"prefix"[..]);
        let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_0)
            .with_alignment_offset(12);
        w.write_octet(9);
        w.write_ulonglong(1);
        assert_eq!(&buf[6..], &[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn strings_carry_length_and_nul() {
        let bytes = encode(ByteOrder::LittleEndian, GiopVersion::V1_0, |w| {
            w.write_string("hi").unwrap();
        });
        assert_eq!(bytes, [3, 0, 0, 0, b'h', b'i', 0]);
        let mut buf = BytesMut::new();
        let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_0);
        assert_eq!(w.write_string("a\0b"), Err(Error::InvalidStringTerminator));
        assert_eq!(
            w.write_string("€"),
            Err(Error::UnencodableCharacter('€', "iso-8859-1"))
        );
        let mut w = w.with_char_code_set(CharCodeSet::Utf8);
        assert_eq!(w.write_string("€"), Ok(()));
    }

    #[test]
    fn wide_strings_follow_the_giop_version() {
        let v12 = encode(ByteOrder::LittleEndian, GiopVersion::V1_2, |w| {
            w.write_wstring("hi").unwrap();
        });
        assert_eq!(v12, [4, 0, 0, 0, 0, b'h', 0, b'i']);
        let v11 = encode(ByteOrder::LittleEndian, GiopVersion::V1_1, |w| {
            w.write_wstring("hi").unwrap();
        });
        assert_eq!(v11, [3, 0, 0, 0, b'h', 0, b'i', 0, 0, 0]);
        let mut buf = BytesMut::new();
        let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_0);
        assert!(matches!(
            w.write_wstring("x"),
            Err(Error::NotInVersion { .. })
        ));
        assert!(matches!(
            w.write_wchar('x'),
            Err(Error::NotInVersion { .. })
        ));
        let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_2);
        w.write_wstring("\u{feff}a").unwrap();
        w.write_wchar('\u{fffe}').unwrap();
        assert_eq!(
            &buf[..],
            [
                0, 0, 0, 6, 0xFE, 0xFF, 0xFE, 0xFF, 0, b'a', 4, 0xFE, 0xFF, 0xFF, 0xFE
            ]
        );
        let mut w = CdrWriter::new(&mut buf, ByteOrder::BigEndian, GiopVersion::V1_1);
        assert_eq!(
            w.write_wchar('😀'),
            Err(Error::UnencodableCharacter('😀', "utf-16"))
        );
    }

    #[test]
    fn encapsulations_restart_alignment_and_patch_their_length() {
        let bytes = encode(ByteOrder::BigEndian, GiopVersion::V1_2, |w| {
            w.write_octet(0xAA);
            w.write_encapsulation_in(ByteOrder::LittleEndian, |inner| {
                inner.write_ulong(5);
                Ok(())
            })
            .unwrap();
        });
        assert_eq!(bytes, [0xAA, 0, 0, 0, 0, 0, 0, 8, 1, 0, 0, 0, 5, 0, 0, 0]);
    }

    #[test]
    fn long_double_is_swapped_for_little_endian() {
        let value = LongDouble(std::array::from_fn(|i| u8::try_from(i).unwrap()));
        let bytes = encode(ByteOrder::LittleEndian, GiopVersion::V1_2, |w| {
            w.write_octet(0);
            w.write_long_double(value);
        });
        assert_eq!(bytes.len(), 24);
        assert_eq!(bytes[8], 15);
        assert_eq!(bytes[23], 0);
    }
}
