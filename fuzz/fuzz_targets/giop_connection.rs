//! Fuzzes the sans-IO GIOP connection.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::giop_connection(data));
