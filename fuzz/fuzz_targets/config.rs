//! Fuzzes the configuration loader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::config(data));
