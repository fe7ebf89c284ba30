//! Fuzzes the schema-typed value decoder (literal and SOAP-encoded).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::value_decoder(data));
