//! Fuzzes the corbaname: URL and stringified-name parsers and the CDR name reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::naming(data));
