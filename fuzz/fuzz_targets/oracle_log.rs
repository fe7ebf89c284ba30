//! Fuzzes the membership oracle's log file format (framed, checksummed records).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::oracle_log(data));
