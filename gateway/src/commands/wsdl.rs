//! `ithaca wsdl check FILE...`: loads each WSDL or XSD file with its local
//! imports and includes, prints every diagnostic as
//! `file:line:col: severity: message` and one line per SOAP operation.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ithaca_wsdl::{LoadOptions, load_file};

/// Checks each file; exit status 1 when any has an error.
pub(crate) fn check(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut out = std::io::stdout().lock();
    for path in files {
        let started = Instant::now();
        let loaded = load_file(path, &LoadOptions::default());
        let elapsed = started.elapsed();
        for diagnostic in &loaded.diagnostics {
            eprintln!("{diagnostic}");
        }
        let name = path.display();
        for op in loaded.definitions.operations(&loaded.schema) {
            let body = op
                .input
                .as_ref()
                .and_then(|input| input.body_name.as_ref())
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            writeln!(
                out,
                "{name}: operation {} {} SOAP {} {}/{} {:?} body {body}",
                op.binding, op.name, op.soap_version, op.style, op.use_kind, op.parameter_style,
            )?;
        }
        let errors = loaded.errors().count();
        writeln!(
            out,
            "{name}: {} documents, {errors} errors, {} warnings, loaded in {:.1} ms",
            loaded.documents.len(),
            loaded.diagnostics.len() - errors,
            elapsed.as_secs_f64() * 1000.0
        )?;
        failed |= loaded.has_errors();
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
