//! Fuzzes the bank's request, response and fault-detail readers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::bank_message(data));
