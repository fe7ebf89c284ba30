//! Property tests: every CDR value decodes to what was encoded, in both byte
//! orders, every GIOP version and any alignment origin.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::error::Result;
use crate::version::GiopVersion;

/// One CDR value of any kind the reader and writer support.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Octet(u8),
    Boolean(bool),
    Char(char),
    WChar(char),
    Short(i16),
    UShort(u16),
    Long(i32),
    ULong(u32),
    LongLong(i64),
    ULongLong(u64),
    /// Floats are compared by their bits so NaNs round-trip too.
    Float(u32),
    Double(u64),
    LongDouble([u8; 16]),
    String(String),
    WString(String),
    Octets(Vec<u8>),
    Sequence(Vec<u32>),
    Encapsulation(ByteOrder, Vec<Self>),
}

fn leaf(wide: bool) -> BoxedStrategy<Value> {
    let narrow = prop_oneof![
        any::<u8>().prop_map(Value::Octet),
        any::<bool>().prop_map(Value::Boolean),
        (0u8..=255).prop_map(|b| Value::Char(char::from(b))),
        any::<i16>().prop_map(Value::Short),
        any::<u16>().prop_map(Value::UShort),
        any::<i32>().prop_map(Value::Long),
        any::<u32>().prop_map(Value::ULong),
        any::<i64>().prop_map(Value::LongLong),
        any::<u64>().prop_map(Value::ULongLong),
        any::<u32>().prop_map(Value::Float),
        any::<u64>().prop_map(Value::Double),
        any::<[u8; 16]>().prop_map(Value::LongDouble),
        "[\u{1}-\u{ff}]{0,12}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Octets),
        proptest::collection::vec(any::<u32>(), 0..6).prop_map(Value::Sequence),
    ];
    if wide {
        prop_oneof![
            4 => narrow,
            1 => "[\u{1}-\u{d7ff}\u{e000}-\u{fffd}]".prop_map(|s| Value::WChar(s.chars().next().unwrap_or('x'))),
            1 => "[^\u{0}]{0,8}".prop_map(Value::WString),
        ]
        .boxed()
    } else {
        narrow.boxed()
    }
}

fn values(wide: bool) -> impl Strategy<Value = Vec<Value>> {
    let tree = leaf(wide).prop_recursive(3, 24, 6, |inner| {
        (
            prop_oneof![Just(ByteOrder::BigEndian), Just(ByteOrder::LittleEndian)],
            proptest::collection::vec(inner, 0..6),
        )
            .prop_map(|(order, items)| Value::Encapsulation(order, items))
    });
    proptest::collection::vec(tree, 0..12)
}

fn write(w: &mut CdrWriter<'_>, value: &Value) -> Result<()> {
    match value {
        Value::Octet(v) => w.write_octet(*v),
        Value::Boolean(v) => w.write_boolean(*v),
        Value::Char(v) => w.write_char(*v)?,
        Value::WChar(v) => w.write_wchar(*v)?,
        Value::Short(v) => w.write_short(*v),
        Value::UShort(v) => w.write_ushort(*v),
        Value::Long(v) => w.write_long(*v),
        Value::ULong(v) => w.write_ulong(*v),
        Value::LongLong(v) => w.write_longlong(*v),
        Value::ULongLong(v) => w.write_ulonglong(*v),
        Value::Float(v) => w.write_float(f32::from_bits(*v)),
        Value::Double(v) => w.write_double(f64::from_bits(*v)),
        Value::LongDouble(v) => w.write_long_double(LongDouble(*v)),
        Value::String(v) => w.write_string(v)?,
        Value::WString(v) => w.write_wstring(v)?,
        Value::Octets(v) => w.write_octet_sequence(v)?,
        Value::Sequence(v) => w.write_sequence(v, |w, x| {
            w.write_ulong(*x);
            Ok(())
        })?,
        Value::Encapsulation(order, items) => w.write_encapsulation_in(*order, |inner| {
            items.iter().try_for_each(|item| write(inner, item))
        })?,
    }
    Ok(())
}

/// Reads a value of the same kind as `like`.
fn read(r: &mut CdrReader, like: &Value) -> Result<Value> {
    Ok(match like {
        Value::Octet(_) => Value::Octet(r.read_octet()?),
        Value::Boolean(_) => Value::Boolean(r.read_boolean()?),
        Value::Char(_) => Value::Char(r.read_char()?),
        Value::WChar(_) => Value::WChar(r.read_wchar()?),
        Value::Short(_) => Value::Short(r.read_short()?),
        Value::UShort(_) => Value::UShort(r.read_ushort()?),
        Value::Long(_) => Value::Long(r.read_long()?),
        Value::ULong(_) => Value::ULong(r.read_ulong()?),
        Value::LongLong(_) => Value::LongLong(r.read_longlong()?),
        Value::ULongLong(_) => Value::ULongLong(r.read_ulonglong()?),
        Value::Float(_) => Value::Float(r.read_float()?.to_bits()),
        Value::Double(_) => Value::Double(r.read_double()?.to_bits()),
        Value::LongDouble(_) => Value::LongDouble(r.read_long_double()?.0),
        Value::String(_) => Value::String(r.read_string()?),
        Value::WString(_) => Value::WString(r.read_wstring()?),
        Value::Octets(_) => Value::Octets(r.read_octet_sequence()?.to_vec()),
        Value::Sequence(_) => Value::Sequence(r.read_sequence(4, CdrReader::read_ulong)?),
        Value::Encapsulation(_, items) => {
            let mut inner = r.read_encapsulation()?;
            let order = inner.byte_order();
            let decoded = items
                .iter()
                .map(|item| read(&mut inner, item))
                .collect::<Result<Vec<_>>>()?;
            inner.finish()?;
            Value::Encapsulation(order, decoded)
        }
    })
}

fn versions() -> impl Strategy<Value = GiopVersion> {
    prop_oneof![
        Just(GiopVersion::V1_0),
        Just(GiopVersion::V1_1),
        Just(GiopVersion::V1_2)
    ]
}

fn orders() -> impl Strategy<Value = ByteOrder> {
    prop_oneof![Just(ByteOrder::BigEndian), Just(ByteOrder::LittleEndian)]
}

proptest! {
    #[test]
    fn narrow_values_round_trip(
        items in values(false),
        order in orders(),
        version in versions(),
        offset in 0usize..16,
    ) {
        round_trip(&items, order, version, offset)?;
    }

    #[test]
    fn wide_values_round_trip(
        items in values(true),
        order in orders(),
        version in prop_oneof![Just(GiopVersion::V1_1), Just(GiopVersion::V1_2)],
        offset in 0usize..16,
    ) {
        round_trip(&items, order, version, offset)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), version in versions()) {
        // Read every kind of value from garbage; errors are fine, panics are not.
        for like in [
            Value::WChar('a'), Value::String(String::new()), Value::WString(String::new()),
            Value::Octets(Vec::new()), Value::Sequence(Vec::new()), Value::LongDouble([0; 16]),
            Value::Encapsulation(ByteOrder::BigEndian, vec![Value::String(String::new())]),
        ] {
            for order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
                let mut r = CdrReader::new(Bytes::from(bytes.clone()), order, version);
                let _ = read(&mut r, &like);
            }
        }
    }
}

fn round_trip(
    items: &[Value],
    order: ByteOrder,
    version: GiopVersion,
    offset: usize,
) -> std::result::Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    let mut w = CdrWriter::new(&mut buf, order, version).with_alignment_offset(offset);
    for item in items {
        write(&mut w, item).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    let mut r = CdrReader::new(buf.freeze(), order, version).with_alignment_offset(offset);
    let decoded = items
        .iter()
        .map(|item| read(&mut r, item))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&decoded, items);
    prop_assert_eq!(r.remaining(), 0);
    Ok(())
}
