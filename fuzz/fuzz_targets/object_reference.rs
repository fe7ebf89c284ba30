//! Fuzzes the IOR: and corbaloc: parsers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::object_reference(data));
