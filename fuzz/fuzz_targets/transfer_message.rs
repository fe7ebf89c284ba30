//! Fuzzes the transfer service's request, response and fault-detail readers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::transfer_message(data));
