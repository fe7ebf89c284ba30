//! `ithaca idl2wsdl FILE [-I DIR]... [-o OUT.wsdl] [--address URL]
//! [--partial]` and `ithaca wsdl2idl FILE [-o OUT.idl] [--narrow-strings]`:
//! the CORBA⇄SOAP interface mappings of
//! `ithaca_gateway::bridge::mapping`. Bad input: one
//! `file:line:col: severity: message` line per diagnostic on stderr and
//! exit status 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ithaca_gateway::bridge::mapping::{
    IdlToWsdlOptions, MappingDiagnostic, MappingError, WsdlToIdlOptions, idl_to_wsdl, wsdl_to_idl,
};

/// The arguments of `ithaca idl2wsdl`.
#[derive(Debug, clap::Args)]
pub(crate) struct Idl2WsdlArgs {
    /// The IDL file.
    file: PathBuf,
    /// Add DIR to the #include search path (repeatable).
    #[arg(short = 'I', value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Write the WSDL to OUT instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// The port address (with several interfaces, URL/Module.Interface).
    #[arg(long, value_name = "URL")]
    address: Option<String>,
    /// Map what can be mapped, reporting the rest on stderr (exit 0).
    #[arg(long)]
    partial: bool,
}

/// The arguments of `ithaca wsdl2idl`.
#[derive(Debug, clap::Args)]
pub(crate) struct Wsdl2IdlArgs {
    /// The WSDL file (its local imports are read too).
    file: PathBuf,
    /// Write the IDL to OUT instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// Map xs:string to `string` instead of the specification's `wstring`.
    #[arg(long)]
    narrow_strings: bool,
}

/// Exit status for input that cannot be mapped.
const EXIT_BAD_INPUT: u8 = 2;

/// Runs `ithaca idl2wsdl`.
pub(crate) fn idl2wsdl(args: &Idl2WsdlArgs) -> ExitCode {
    let options = IdlToWsdlOptions {
        include_dirs: args.include.clone(),
        address: args.address.clone(),
        partial: args.partial,
    };
    match idl_to_wsdl(&args.file, &options) {
        Ok(mapping) => {
            print_diagnostics(&mapping.diagnostics);
            write_out(args.output.as_deref(), &mapping.wsdl)
        }
        Err(error) => failed(&args.file, &error),
    }
}

/// Runs `ithaca wsdl2idl`.
pub(crate) fn wsdl2idl(args: &Wsdl2IdlArgs) -> ExitCode {
    let options = WsdlToIdlOptions {
        narrow_strings: args.narrow_strings,
    };
    match wsdl_to_idl(&args.file, &options) {
        Ok(mapping) => {
            print_diagnostics(&mapping.diagnostics);
            write_out(args.output.as_deref(), &mapping.idl)
        }
        Err(error) => failed(&args.file, &error),
    }
}

fn print_diagnostics(diagnostics: &[MappingDiagnostic]) {
    for d in diagnostics {
        eprintln!("{d}");
    }
}

fn failed(file: &Path, error: &MappingError) -> ExitCode {
    match error {
        MappingError::Diagnostics(diagnostics) => print_diagnostics(diagnostics),
        MappingError::Read { .. } => eprintln!("ithaca: {error}"),
    }
    eprintln!("ithaca: {} is not mapped", file.display());
    ExitCode::from(EXIT_BAD_INPUT)
}

fn write_out(output: Option<&Path>, text: &str) -> ExitCode {
    let written = match output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            use std::io::Write as _;
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(|e| format!("cannot write standard output: {e}"))
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ithaca: {message}");
            ExitCode::FAILURE
        }
    }
}
