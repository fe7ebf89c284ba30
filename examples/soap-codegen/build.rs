//! Generates the Rust code of the contracts in `contracts/` into
//! `OUT_DIR`, as any crate using `ithaca_wsdl::codegen` would.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for name in ["echo", "orders", "calculator", "session", "notes", "legacy"] {
        let wsdl = format!("contracts/{name}.wsdl");
        println!("cargo::rerun-if-changed={wsdl}");
        let code = ithaca_wsdl::codegen::generate(&wsdl, &Default::default())
            .unwrap_or_else(|error| panic!("{wsdl}: {error}"));
        std::fs::write(out.join(format!("{name}.rs")), code).expect("OUT_DIR is writable");
    }
}
