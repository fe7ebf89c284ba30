//! `ithaca idl check FILE [-I DIR]...`: preprocesses, parses and checks
//! OMG IDL files the way omniidl does, printing every diagnostic as
//! `file:line:col: severity: message`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Checks each file; exit status 1 when any has an error.
pub(crate) fn check(files: &[PathBuf], include_dirs: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for path in files {
        let diagnostics = ithaca_idl::front::check_file(path, include_dirs);
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        for diagnostic in &diagnostics {
            eprintln!("{diagnostic}");
        }
        if errors == 0 {
            println!("{}: ok", path.display());
        } else {
            println!("{}: {errors} errors", path.display());
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
