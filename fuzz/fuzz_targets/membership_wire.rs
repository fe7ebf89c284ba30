//! Fuzzes the membership wire codec (heartbeats, joins, views) and TCP frame prefixes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::membership_wire(data));
