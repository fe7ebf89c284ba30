//! Fuzzes the TypeCode and `any` decoders of the dynamic CDR codec.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::typecode_and_any(data));
