//! Generates the Rust code of `idl/Bench.idl` and `idl/Rich.idl` into
//! `OUT_DIR`, as a user's build script would.

fn main() {
    let options = ithaca_idl::codegen::Options::default();
    for idl in ["idl/Bench.idl", "idl/Rich.idl"] {
        if let Err(e) = ithaca_idl::codegen::build(idl, &options) {
            // One line per problem, as cargo shows build script errors.
            for d in e.diagnostics() {
                eprintln!("{d}");
            }
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
