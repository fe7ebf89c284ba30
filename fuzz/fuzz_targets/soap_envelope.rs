//! Fuzzes the SOAP envelope and fault readers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::soap_envelope(data));
