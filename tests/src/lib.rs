//! Ithaca's cross-crate and interop tests live in this package's `tests/`
//! folder; the library itself is empty. Harnesses are in `ithaca-testkit`.
