//! Fuzzes the OMG IDL preprocessor, parser and semantic pass.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::idl_front_end(data));
