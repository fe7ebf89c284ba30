//! Fuzzes the CosTransactions PropagationContext and WS-Coordination CoordinationContext readers of the bridge.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ithaca_fuzz::bridge::bridge_propagation_context(data));
