//! Fuzzes the IIOP front's request and reply conversions (SOAP services as CORBA objects).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::bridge::bridge_iiopfront(data));
