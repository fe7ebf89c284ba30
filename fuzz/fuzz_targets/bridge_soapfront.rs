//! Fuzzes the SOAP front's request and reply conversions (CORBA objects as SOAP services).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::bridge::bridge_soapfront(data));
