//! Service contexts: the out-of-band data of Request and Reply headers.

use bytes::{Bytes, BytesMut};

use crate::cdr::{ByteOrder, CdrReader, CdrWriter};
use crate::error::Result;
use crate::version::GiopVersion;

/// `struct ServiceContext { ServiceId context_id; sequence<octet> context_data; }`.
#[derive(Clone, Debug, Default, Eq, Hash, PartialEq)]
pub struct ServiceContext {
    /// Which service the context belongs to.
    pub context_id: u32,
    /// The service's data, usually an encapsulation.
    pub context_data: Bytes,
}

impl ServiceContext {
    /// Transaction propagation (CosTransactions).
    pub const TRANSACTION_SERVICE: u32 = 0;
    /// Code-set negotiation: see [`CodeSetContext`].
    pub const CODE_SETS: u32 = 1;
    /// Bidirectional GIOP listen points.
    pub const BI_DIR_IIOP: u32 = 5;
    /// The sender's valuetype code base.
    pub const SENDING_CONTEXT_RUN_TIME: u32 = 6;
    /// CSIv2 security attributes.
    pub const SECURITY_ATTRIBUTE_SERVICE: u32 = 15;

    /// Reads one service context.
    pub fn read(r: &mut CdrReader) -> Result<Self> {
        let context_id = r.read_ulong()?;
        let context_data = r.read_octet_sequence()?;
        Ok(Self {
            context_id,
            context_data,
        })
    }

    /// Writes one service context.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> Result<()> {
        w.write_ulong(self.context_id);
        w.write_octet_sequence(&self.context_data)
    }

    /// Reads a `ServiceContextList`; each entry takes at least 8 bytes.
    pub fn read_list(r: &mut CdrReader) -> Result<Vec<Self>> {
        r.read_sequence(8, Self::read)
    }

    /// Writes a `ServiceContextList`.
    pub fn write_list(list: &[Self], w: &mut CdrWriter<'_>) -> Result<()> {
        // Most messages carry none: just the count.
        if list.is_empty() {
            w.write_ulong(0);
            return Ok(());
        }
        w.write_sequence(list, |w, c| c.write(w))
    }
}

/// The CodeSets service context: the transmission code sets a client chose.
///
/// `struct CodeSetContext { CodeSetId char_data; CodeSetId wchar_data; }`
/// in an encapsulation, sent by omniORB on the first request of a
/// connection.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct CodeSetContext {
    /// The transmission code set for `char` and `string`.
    pub char_data: u32,
    /// The transmission code set for `wchar` and `wstring`.
    pub wchar_data: u32,
}

impl CodeSetContext {
    /// The OSF registry id of UTF-16.
    pub const UTF_16: u32 = 0x0001_0109;

    /// Decodes the context from a [`ServiceContext`] with id [`ServiceContext::CODE_SETS`].
    pub fn from_service_context(context: &ServiceContext) -> Result<Self> {
        let mut r = CdrReader::from_encapsulation(context.context_data.clone(), GiopVersion::V1_2)?;
        let char_data = r.read_ulong()?;
        let wchar_data = r.read_ulong()?;
        r.finish()?;
        Ok(Self {
            char_data,
            wchar_data,
        })
    }

    /// Encodes the context as a service context in the given byte order.
    pub fn to_service_context(&self, byte_order: ByteOrder) -> ServiceContext {
        let mut buf = BytesMut::with_capacity(12);
        let mut w = CdrWriter::new(&mut buf, byte_order, GiopVersion::V1_2);
        w.write_octet(byte_order.flag());
        w.write_ulong(self.char_data);
        w.write_ulong(self.wchar_data);
        ServiceContext {
            context_id: ServiceContext::CODE_SETS,
            context_data: buf.freeze(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::CharCodeSet;

    #[test]
    fn golden_code_sets_context() {
        // From trace-ior-giop12.txt: LE flag + 3 padding, ISO-8859-1, UTF-16.
        let data = Bytes::from_static(&[1, 0, 0, 0, 1, 0, 1, 0, 9, 1, 1, 0]);
        let context = ServiceContext {
            context_id: ServiceContext::CODE_SETS,
            context_data: data,
        };
        let decoded = CodeSetContext::from_service_context(&context).unwrap();
        assert_eq!(
            decoded,
            CodeSetContext {
                char_data: CharCodeSet::ISO_8859_1_ID,
                wchar_data: CodeSetContext::UTF_16,
            }
        );
        assert_eq!(decoded.to_service_context(ByteOrder::LittleEndian), context);
    }

    #[test]
    fn truncated_code_sets_context_is_refused() {
        let context = ServiceContext {
            context_id: ServiceContext::CODE_SETS,
            context_data: Bytes::from_static(&[0, 0, 0, 0, 0, 1]),
        };
        assert!(CodeSetContext::from_service_context(&context).is_err());
    }
}
