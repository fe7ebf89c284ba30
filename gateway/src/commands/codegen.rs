//! `ithaca codegen FILE.wsdl [-o OUT.rs]`: the Rust code of a contract
//! (types, server traits, clients), exactly what
//! `ithaca_wsdl::codegen::generate` returns for `build.rs`. Problems are
//! printed on stderr as `file:line:col: message`, with exit status 1.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use ithaca_wsdl::codegen::{Options, generate};

/// Generates the code of `file` into `out` (standard output when `None`).
pub(crate) fn codegen(
    file: &Path,
    out: Option<&Path>,
    options: &Options,
) -> anyhow::Result<ExitCode> {
    let code = match generate(file, options) {
        Ok(code) => code,
        Err(error) => {
            for line in error.lines() {
                eprintln!("{line}");
            }
            eprintln!("ithaca: {} generates no code", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    match out {
        Some(path) => std::fs::write(path, code)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            use std::io::Write as _;
            std::io::stdout().lock().write_all(code.as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
