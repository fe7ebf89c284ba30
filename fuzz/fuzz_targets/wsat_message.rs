//! Fuzzes the WS-Coordination / WS-AT / WS-Addressing message codec.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::wsat_message(data));
