//! Fuzzes the GIOP framer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::giop_frames(data));
