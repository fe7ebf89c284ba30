//! Fuzzes the sector-status replication messages and a backup replica's handling of them.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::sector_replication(data));
