//! `ithaca idl codegen FILE [-I DIR]... [-o OUT.rs] [--with-includes]`:
//! the Rust code of an IDL file (types, client stubs, servant traits and
//! skeletons), exactly what `ithaca_idl::codegen::generate` returns for
//! `build.rs`. Problems are printed on stderr as `file:line:col: message`,
//! with exit status 1.

use std::path::PathBuf;
use std::process::ExitCode;

use ithaca_idl::codegen::{CodegenError, Options, generate};

/// The arguments of `ithaca idl codegen`.
#[derive(Debug, clap::Args)]
pub(crate) struct IdlCodegenArgs {
    /// The IDL file.
    file: PathBuf,
    /// Add DIR to the #include search path (repeatable).
    #[arg(short = 'I', value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Write the code to OUT instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// Also generate what the included files declare.
    #[arg(long)]
    with_includes: bool,
}

/// Generates the code; exit status 1 with diagnostics when the IDL has
/// errors or uses what code generation does not support, 2 when the output
/// cannot be written.
pub(crate) fn run(args: &IdlCodegenArgs) -> ExitCode {
    let options = Options {
        include_dirs: args.include.clone(),
        with_includes: args.with_includes,
        ..Options::default()
    };
    let code = match generate(&args.file, &options) {
        Ok(code) => code,
        Err(CodegenError::Idl(diagnostics)) => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            eprintln!("ithaca: {} generates no code", args.file.display());
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("{error}");
            eprintln!("ithaca: {} generates no code", args.file.display());
            return ExitCode::FAILURE;
        }
    };
    let written = match &args.output {
        Some(path) => {
            std::fs::write(path, code).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            use std::io::Write as _;
            std::io::stdout()
                .lock()
                .write_all(code.as_bytes())
                .map_err(|e| format!("cannot write to standard output: {e}"))
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ithaca: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(file: PathBuf, output: Option<PathBuf>) -> IdlCodegenArgs {
        IdlCodegenArgs {
            file,
            include: Vec::new(),
            output,
            with_includes: false,
        }
    }

    #[test]
    fn writes_the_generated_code_and_refuses_bad_idl() {
        let dir = tempfile::tempdir().unwrap();
        let idl = dir.path().join("Shop.idl");
        std::fs::write(
            &idl,
            "module Shop { interface Till { long total(in long a, in long b); }; };",
        )
        .unwrap();
        let out = dir.path().join("shop.rs");
        assert_eq!(run(&args(idl, Some(out.clone()))), ExitCode::SUCCESS);
        let code = std::fs::read_to_string(&out).unwrap();
        assert!(code.contains("pub struct TillClient"), "{code}");
        assert!(code.contains("pub trait Till:"), "{code}");

        let bad = dir.path().join("Bad.idl");
        std::fs::write(&bad, "module M { struct S { long x; long x; }; };").unwrap();
        let out = dir.path().join("bad.rs");
        assert_eq!(run(&args(bad, Some(out.clone()))), ExitCode::FAILURE);
        assert!(!out.exists());

        let missing = dir.path().join("Missing.idl");
        assert_eq!(run(&args(missing, None)), ExitCode::FAILURE);
    }
}
