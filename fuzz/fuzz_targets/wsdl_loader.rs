//! Fuzzes the WSDL/XSD loader and the XSD pattern engine.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::wsdl_loader(data));
