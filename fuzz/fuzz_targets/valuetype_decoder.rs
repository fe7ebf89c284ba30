//! Fuzzes the valuetype decoder of the dynamic CDR codec (value tags,
//! chunks, end tags, indirections, truncation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::valuetype_decoder(data));
