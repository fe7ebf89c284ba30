//! Bounds on what a reader accepts, so that memory and time stay
//! proportional to limits the operator chose.

/// Limits applied while reading an XML message.
///
/// Every limit is checked before the work it bounds is done, and breaking
/// one yields a typed error (see [`crate::ReadError`]) rather than a
/// partial result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest accepted input, in bytes.
    pub max_size: usize,
    /// The deepest accepted element nesting; the root element is at depth 1.
    pub max_depth: usize,
    /// The most elements accepted in one document.
    pub max_elements: usize,
    /// The most attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
    /// The longest accepted attribute value, in bytes as written.
    pub max_attribute_len: usize,
    /// The longest accepted run of character data between two tags, in
    /// bytes as written (references and CDATA sections included).
    pub max_text_len: usize,
    /// The most namespace bindings in scope at once.
    pub max_namespace_bindings: usize,
}

impl Limits {
    /// The default limits: 16 MiB of input, depth 64, 100 000 elements,
    /// 64 attributes per element, 64 KiB per attribute value, 4 MiB per
    /// text run and 256 namespace bindings in scope.
    pub const DEFAULT: Self = Self {
        max_size: 16 * 1024 * 1024,
        max_depth: 64,
        max_elements: 100_000,
        max_attributes: 64,
        max_attribute_len: 64 * 1024,
        max_text_len: 4 * 1024 * 1024,
        max_namespace_bindings: 256,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_depth_is_sixty_four() {
        assert_eq!(Limits::default().max_depth, 64);
        assert_eq!(Limits::default(), Limits::DEFAULT);
    }
}
