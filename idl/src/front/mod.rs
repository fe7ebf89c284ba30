//! The OMG IDL front end: preprocessor, parser and semantic pass.
//!
//! ```text
//! text ──lexer──▶ tokens ──pp──▶ tokens + pragmas ──parser──▶ Specification ──sema──▶ Model
//! ```
//!
//! Every stage reports [`Diagnostic`]s with the file, line and column of
//! the original source and keeps going, so one run reports several
//! problems; nothing panics on any input, and every depth, size and count
//! is bounded.
//!
//! - [`check_file`]: the verdict of `ithaca idl check FILE [-I DIR]...`,
//!   which must agree with omniidl 4.2.5 ([`Dialect::Omniidl`]).
//! - [`analyze_file`] / [`analyze_source`]: the same with [`Options`], and
//!   the resolved [`Model`] (types, interfaces, repository ids).
//! - [`parse_str`]: preprocess and parse one string, no file system; the
//!   entry point for fuzzing ([`analyze_str`] runs the semantic pass too).
//!
//! # Dialects
//!
//! [`Dialect::Corba3`] (the default) accepts CORBA 3.x core IDL, including
//! `typeid`, `typeprefix`, `import` (parsed only) and
//! `getraises`/`setraises`. [`Dialect::Omniidl`] mirrors omniidl 4.2.5
//! (`omniidl -bcxx`): the CORBA 3 words are ordinary identifiers, `>>` does
//! not close two template brackets, custom valuetypes are refused, and
//! `__OMNIIDL__`/`__OMNIIDL_CXX__` are predefined. Both implement the naming
//! rules omniidl enforces: identifiers that differ only in case collide, a
//! name used in a scope may not then be declared there
//! (`Points reverse(in Points points)` is an error), members may not reuse
//! the name of their scope, and identifiers may not differ from keywords
//! only in case.
//!
//! # Limits
//!
//! Include depth 64 and 2000 files per run; 16 MiB per file; 4 million
//! tokens after preprocessing; macro expansion nested 64 deep and adding
//! at most 200 000 tokens per run of text; syntax nesting (scopes, types,
//! parentheses) 64 deep; 1000 operators per constant expression; 50
//! syntax errors per run and 200 diagnostics in all.
//!
//! # Still to come
//!
//! Components, homes and event types (reported as unsupported), IDL 4
//! annotations (reported), the semantics of `import`, `__FILE__`/`__LINE__`,
//! TypeCodes built from the [`model::Model`], and the `describe` JSON of
//! the `ithaca idl` command.
//!
//! # Example
//!
//! ```
//! use ithaca_idl::front::{self, model::DeclKind};
//!
//! let out = front::analyze_str(
//!     "#pragma prefix \"acme.com\"\n\
//!      module Bank { exception Insufficient { long shortfall; };\n\
//!        interface Account { void deposit(in long amount) raises (Insufficient); }; };",
//! );
//! assert!(out.diagnostics.is_empty());
//! let account = out.model.find("Bank::Account").unwrap();
//! assert_eq!(account.repo_id, "IDL:acme.com/Bank/Account:1.0");
//! let DeclKind::Interface { operations, .. } = &account.kind else { unreachable!() };
//! assert_eq!(operations[0].name, "deposit");
//! ```

pub mod ast;
mod diag;
mod lexer;
pub mod model;
mod parser;
mod pp;
mod print;
mod sema;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, FileId, Loc, Severity, SourceMap};
pub use lexer::Pragma;
pub use pp::{MAX_INCLUDE_DEPTH, Sources};

use ast::Specification;
use diag::Diags;
use model::Model;

/// Which language the front end accepts.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum Dialect {
    /// CORBA 3.x core IDL: `typeid`, `typeprefix`, `import`,
    /// `getraises`/`setraises` are keywords and are accepted.
    #[default]
    Corba3,
    /// What omniidl 4.2.5 accepts: the CORBA 3 words are plain identifiers
    /// (a warning when declared), so the IDL 3 constructs are syntax errors.
    Omniidl,
}

/// How to run the front end.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-I` directories, searched in order.
    pub include_dirs: Vec<PathBuf>,
    /// `-D` macros: name and replacement text.
    pub defines: Vec<(String, String)>,
    /// The language accepted.
    pub dialect: Dialect,
}

/// Everything one run produces.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// The syntax tree (of the main file and everything it includes).
    pub spec: Specification,
    /// The resolved declarations.
    pub model: Model,
    /// Errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// The files read, by [`FileId`].
    pub sources: SourceMap,
}

impl Output {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks one IDL file the way `ithaca idl check FILE -I DIR...` does: the
/// file is rejected iff an error is returned. Uses [`Dialect::Omniidl`] so
/// that the verdict matches omniidl's.
pub fn check_file(path: &Path, include_dirs: &[PathBuf]) -> Vec<Diagnostic> {
    let opts = Options {
        include_dirs: include_dirs.to_vec(),
        dialect: Dialect::Omniidl,
        ..Options::default()
    };
    analyze_file(path, &opts).diagnostics
}

/// Preprocesses, parses and checks a file from the file system.
pub fn analyze_file(path: &Path, opts: &Options) -> Output {
    let sources = Sources::filesystem();
    run(&sources, opts, |pp| pp.run_file(path))
}

/// Preprocesses, parses and checks a file read from `sources` (which may be
/// in memory).
pub fn analyze_source(path: &Path, sources: &Sources, opts: &Options) -> Output {
    run(sources, opts, |pp| pp.run_file(path))
}

/// Preprocesses, parses and checks one string (CORBA 3 dialect, no
/// include files).
pub fn analyze_str(text: &str) -> Output {
    let sources = Sources::memory();
    run(&sources, &Options::default(), |pp| {
        pp.run_text("<input>", text)
    })
}

/// Preprocesses and parses one string, without the semantic pass. Nothing
/// is read from the file system. This is the fuzzing entry point.
pub fn parse_str(text: &str) -> (Specification, Vec<Diagnostic>) {
    let sources = Sources::memory();
    let opts = Options::default();
    let mut pp = pp::Preprocessor::new(&sources, &opts.include_dirs, &opts.defines);
    pp.run_text("<input>", text);
    let tokens = std::mem::take(&mut pp.out);
    let mut diags = std::mem::take(&mut pp.diags);
    let spec = parser::Parser::new(tokens, &mut diags, opts.dialect).parse();
    (spec, diags.finish(&pp.map))
}

/// The macros predefined in each dialect, before the user's `-D`s.
fn predefined(opts: &Options) -> Vec<(String, String)> {
    let mut defs = vec![("__ITHACA_IDL__".to_owned(), "1".to_owned())];
    if opts.dialect == Dialect::Omniidl {
        // omniidl 4.2.5 -bcxx defines these; omniORB's own IDL tests them.
        defs.push(("__OMNIIDL__".to_owned(), "0x2630".to_owned()));
        defs.push(("__OMNIIDL_CXX__".to_owned(), "1".to_owned()));
    }
    defs.extend(opts.defines.iter().cloned());
    defs
}

fn run(sources: &Sources, opts: &Options, start: impl FnOnce(&mut pp::Preprocessor<'_>)) -> Output {
    let defines = predefined(opts);
    let mut pp = pp::Preprocessor::new(sources, &opts.include_dirs, &defines);
    start(&mut pp);
    let tokens = std::mem::take(&mut pp.out);
    let mut diags: Diags = std::mem::take(&mut pp.diags);
    let map = std::mem::take(&mut pp.map);
    let spec = parser::Parser::new(tokens, &mut diags, opts.dialect).parse();
    let model = sema::Sema::new(&mut diags, &map).run(&spec);
    let diagnostics = diags.finish(&map);
    Output {
        spec,
        model,
        diagnostics,
        sources: map,
    }
}
