//! Bounds on decoding values, on top of the XML limits.

use crate::limits::Limits;

/// Bounds on what the value decoder accepts; breaking one is a
/// [`ValueError::Limit`](super::ValueError::Limit) naming the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueLimits {
    /// The XML limits (size, element depth and count, attributes, text).
    pub xml: Limits,
    /// The deepest value nesting, `href` indirections included.
    pub max_depth: usize,
    /// The most values in one message, each copy of a multi-referenced
    /// value counted (so that shared references cannot multiply work).
    pub max_values: usize,
    /// The most `href` references followed in one message.
    pub max_references: usize,
    /// The most items in one SOAP-encoded array.
    pub max_array_items: usize,
}

impl ValueLimits {
    /// The default limits: [`Limits::DEFAULT`], depth 64, 100 000 values,
    /// 10 000 references, 100 000 array items.
    pub const DEFAULT: Self = Self {
        xml: Limits::DEFAULT,
        max_depth: 64,
        max_values: 100_000,
        max_references: 10_000,
        max_array_items: 100_000,
    };
}

impl Default for ValueLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
