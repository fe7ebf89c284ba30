//! Code generation: Rust types, client stubs and servant skeletons from
//! OMG IDL.
//!
//! [`generate`] runs the [front end](crate::front) on an IDL file and
//! returns Rust source for everything the file declares (and, with
//! [`Options::with_includes`], everything it includes):
//!
//! | IDL | Rust |
//! |---|---|
//! | `module M` | `pub mod m` |
//! | `struct`, `exception` | a struct with public fields; exceptions implement [`runtime::UserException`] |
//! | `union` | an enum, one variant per branch; a branch with several labels or `default` keeps its discriminator (`Variant(disc, value)`), and a union without `default` that does not cover its discriminator has a `NoMember(disc)` variant |
//! | `enum` | a fieldless enum; a value out of range is refused on decode |
//! | `typedef` | a type alias (bounds are still checked where it is used) |
//! | `sequence<T>`, `sequence<T, N>` | `Vec<T>` (the bound checked both ways) |
//! | `T[N][M]` | `[[T; M]; N]`, or nested `Vec`s with checked lengths above 1024 elements |
//! | `string`, `wstring`, bounded or not | `String` |
//! | `fixed<d, s>` | [`dynamic::Fixed`](crate::dynamic::Fixed) |
//! | `any` | [`runtime::Any`] (TypeCode and dynamic value) |
//! | `Object`, interface types | [`Ior`](crate::ior::Ior) |
//! | `const` | `pub const` |
//! | `interface I` | trait `I` (the servant), `IClient` (the async stub on [`OrbClient`](crate::orb::OrbClient)), `IBlockingClient` (the same on [`BlockingOrbClient`](crate::orb::BlockingOrbClient)), `ISkeleton` (a [`Servant`](crate::orb::Servant)) and module `i` (repository ids, per-operation reply structs and error enums) |
//!
//! Every generated type implements [`runtime::CdrEncode`] and
//! [`runtime::CdrDecode`] with direct [`CdrWriter`](crate::cdr::CdrWriter)
//! and [`CdrReader`](crate::cdr::CdrReader) calls (no dynamic values on the
//! way), with sequence counts checked against the input before allocating
//! and nesting bounded by the reader's depth limit.
//!
//! Operations: `in` arguments are passed by value (numbers), as `&str`,
//! slices or references; `inout` as `&mut T`, updated from the reply; the
//! result and `out` arguments are returned (one value as itself, several as
//! an `OpReply` struct with a `result` field and one per `out`). An
//! operation with `raises` returns an `OpError` enum with one variant per
//! exception plus `System`; one without returns
//! [`runtime::SystemError`]. Attributes are `name()`/`set_name()`.
//! Skeletons dispatch every operation of the interface and its bases,
//! answer `BAD_OPERATION` for others and `MARSHAL` for arguments they cannot
//! read, and answer `_is_a` for every base's repository id.
//!
//! Not generated (skipped with a comment, an error where they are used):
//! valuetypes and value boxes, native types, abstract and local interfaces.
//!
//! # Example
//!
//! In `build.rs`:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! ithaca_idl::codegen::build("idl/Bank.idl", &ithaca_idl::codegen::Options::default())?;
//! # Ok(())
//! # }
//! ```
//!
//! and in the crate: `mod bank { include!(concat!(env!("OUT_DIR"), "/Bank.rs")); }`.

mod emit;
mod iface;
mod names;
pub mod runtime;
#[cfg(test)]
mod tests;
mod types;

use std::path::{Path, PathBuf};

use crate::front::model::{DeclId, Model};
use crate::front::{self, Diagnostic, FileId, Output, Sources};

/// How to generate.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-I` directories, searched in order.
    pub include_dirs: Vec<PathBuf>,
    /// `-D` macros: name and replacement text.
    pub defines: Vec<(String, String)>,
    /// Also generate what the included files declare (otherwise only the
    /// named file's declarations; included types are then referred to as
    /// sibling modules, as if generated into the same Rust module).
    pub with_includes: bool,
}

/// Why code could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenError {
    /// The IDL has errors; every diagnostic (warnings too) is kept.
    #[error("{}", first_error(.0))]
    Idl(Vec<Diagnostic>),
    /// A declaration uses a construct code generation does not support.
    #[error("{file}:{line}:{col}: error: {what} is not supported by code generation")]
    Unsupported {
        /// The file of the declaration.
        file: String,
        /// Its line.
        line: u32,
        /// Its column.
        col: u32,
        /// What is not supported.
        what: String,
    },
    /// The generated file could not be written (build scripts).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `OUT_DIR` is not set: [`build`] runs only in build scripts.
    #[error("OUT_DIR is not set: codegen::build runs in build scripts")]
    NoOutDir,
}

fn first_error(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    match diagnostics.iter().find(|d| d.is_error()) {
        Some(d) if errors > 1 => format!("{d} (and {} more errors)", errors - 1),
        Some(d) => d.to_string(),
        None => "invalid idl".to_owned(),
    }
}

impl CodegenError {
    /// The front end's diagnostics, for [`CodegenError::Idl`].
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Idl(d) => d,
            _ => &[],
        }
    }
}

/// Generates Rust source for an IDL file.
pub fn generate(file: &Path, opts: &Options) -> Result<String, CodegenError> {
    generate_from(file, &Sources::filesystem(), opts).map(|(code, _)| code)
}

/// Generates Rust source for an IDL text (no include files); everything it
/// declares is generated.
pub fn generate_str(text: &str) -> Result<String, CodegenError> {
    let out = front::analyze_str(text);
    from_output(&out, "<input>", true)
}

/// Generates Rust source for `file` into `$OUT_DIR/<file stem>.rs`, for
/// build scripts: prints `cargo:rerun-if-changed` for the file and every
/// file it includes, and returns the path written.
pub fn build(file: impl AsRef<Path>, opts: &Options) -> Result<PathBuf, CodegenError> {
    let file = file.as_ref();
    let out_dir = std::env::var_os("OUT_DIR").ok_or(CodegenError::NoOutDir)?;
    let (code, files) = generate_from(file, &Sources::filesystem(), opts)?;
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let stem = file
        .file_stem()
        .map_or_else(|| "idl".into(), |s| s.to_string_lossy().into_owned());
    let path = Path::new(&out_dir).join(format!("{stem}.rs"));
    std::fs::write(&path, code).map_err(|source| CodegenError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

fn generate_from(
    file: &Path,
    sources: &Sources,
    opts: &Options,
) -> Result<(String, Vec<String>), CodegenError> {
    let front_opts = front::Options {
        include_dirs: opts.include_dirs.clone(),
        defines: opts.defines.clone(),
        dialect: front::Dialect::Corba3,
    };
    let out = front::analyze_source(file, sources, &front_opts);
    let mut files = Vec::new();
    for i in 0..2000usize {
        let name = out
            .sources
            .name(FileId(u32::try_from(i).unwrap_or(u32::MAX)));
        if name == "<unknown>" {
            break;
        }
        // `<command line>` holds the predefined macros.
        if !name.starts_with('<') {
            files.push(name.to_owned());
        }
    }
    let main = file.display().to_string();
    from_output(&out, &main, opts.with_includes).map(|code| (code, files))
}

fn from_output(out: &Output, main: &str, with_includes: bool) -> Result<String, CodegenError> {
    if out.has_errors() {
        return Err(CodegenError::Idl(out.diagnostics.clone()));
    }
    let main_file = (0..2000u32)
        .map(FileId)
        .take_while(|id| out.sources.name(*id) != "<unknown>")
        .find(|id| out.sources.name(*id) == main);
    let generator = Generator {
        model: &out.model,
        sources: out,
        main_file,
        with_includes,
    };
    generator.run()
}

/// One generation run over a resolved model.
pub(crate) struct Generator<'a> {
    pub(crate) model: &'a Model,
    sources: &'a Output,
    main_file: Option<FileId>,
    with_includes: bool,
}

impl Generator<'_> {
    /// Whether a declaration is generated in this run.
    pub(crate) fn selected(&self, id: DeclId) -> bool {
        self.model.get(id).is_some_and(|d| {
            d.loc.line > 0 && (self.with_includes || Some(d.loc.file) == self.main_file)
        })
    }

    /// The error for an unsupported construct used by declaration `id`.
    pub(crate) fn unsupported(&self, id: DeclId, what: String) -> CodegenError {
        let (file, line, col) = self.model.get(id).map_or((String::new(), 0, 0), |d| {
            (
                self.sources.sources.name(d.loc.file).to_owned(),
                d.loc.line,
                d.loc.col,
            )
        });
        CodegenError::Unsupported {
            file,
            line,
            col,
            what,
        }
    }

    /// The Rust module path of the scope declaration `id` lives in.
    pub(crate) fn module_of(&self, id: DeclId) -> Vec<String> {
        let mut path = Vec::new();
        let mut parent = self.model.get(id).and_then(|d| d.parent);
        let mut hops = 0;
        while let Some(p) = parent {
            let Some(decl) = self.model.get(p) else { break };
            path.push(names::snake(&decl.name));
            parent = decl.parent;
            hops += 1;
            if hops > 1000 {
                break;
            }
        }
        path.reverse();
        path
    }

    /// The Rust name of a declaration's main item.
    pub(crate) fn item_name(&self, id: DeclId) -> String {
        self.model
            .get(id)
            .map_or_else(|| "Unknown".into(), |d| names::type_name(&d.name))
    }

    /// A path to item `name` in module `target`, seen from module `cur`.
    pub(crate) fn relative(target: &[String], name: &str, cur: &[String]) -> String {
        let common = target.iter().zip(cur).take_while(|(a, b)| a == b).count();
        let mut parts: Vec<String> = vec!["super".into(); cur.len() - common];
        parts.extend(target.iter().skip(common).cloned());
        parts.push(name.to_owned());
        parts.join("::")
    }

    /// A path to a declaration's main item, seen from module `cur`.
    pub(crate) fn path_to(&self, id: DeclId, cur: &[String]) -> String {
        Self::relative(&self.module_of(id), &self.item_name(id), cur)
    }

    /// A path to module `sub` inside the scope of declaration `id` (an
    /// interface's own module), seen from `cur`.
    pub(crate) fn scope_path(&self, id: DeclId, cur: &[String]) -> String {
        let mut target = self.module_of(id);
        let name = self
            .model
            .get(id)
            .map_or_else(|| "unknown".into(), |d| names::snake(&d.name));
        target.push(name);
        let common = target.iter().zip(cur).take_while(|(a, b)| a == b).count();
        let mut parts: Vec<String> = vec!["super".into(); cur.len() - common];
        parts.extend(target.iter().skip(common).cloned());
        if parts.is_empty() {
            "self".into()
        } else {
            parts.join("::")
        }
    }
}
