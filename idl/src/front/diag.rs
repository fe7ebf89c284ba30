//! Diagnostics and source locations.

use std::fmt;

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Ord, PartialOrd, Hash)]
pub enum Severity {
    /// The file is still accepted.
    Warning,
    /// The file is rejected.
    Error,
}

/// Index of a file in the [`SourceMap`] of one run.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Hash, Ord, PartialOrd)]
pub struct FileId(pub u32);

/// A position in an original source file (before preprocessing).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Hash, Ord, PartialOrd)]
pub struct Loc {
    /// The file.
    pub file: FileId,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
}

/// The names of the files read during one run, indexed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    names: Vec<String>,
}

impl SourceMap {
    /// Registers a file name and returns its id.
    pub fn add(&mut self, name: &str) -> FileId {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return FileId(u32::try_from(i).unwrap_or(u32::MAX));
        }
        self.names.push(name.to_owned());
        FileId(u32::try_from(self.names.len() - 1).unwrap_or(u32::MAX))
    }

    /// The name of a file, or `"<unknown>"`.
    pub fn name(&self, id: FileId) -> &str {
        self.names
            .get(id.0 as usize)
            .map_or("<unknown>", String::as_str)
    }
}

/// One message about the input, with the original file, line and column.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the message is about, as it was named or found.
    pub file: String,
    /// 1-based line (0 when the message is about no line in particular).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub col: u32,
    /// What is wrong, in one line.
    pub message: String,
}

impl Diagnostic {
    /// Whether this diagnostic rejects the input.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// A diagnostic before file ids are turned into names.
#[derive(Clone, Debug)]
pub(crate) struct RawDiag {
    pub(crate) severity: Severity,
    pub(crate) loc: Loc,
    pub(crate) message: String,
}

/// Collects diagnostics, with a cap so that hostile input cannot make the
/// list grow without bound.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    pub(crate) list: Vec<RawDiag>,
    dropped: usize,
}

/// The most diagnostics kept for one run.
pub(crate) const MAX_DIAGNOSTICS: usize = 200;

impl Diags {
    pub(crate) fn error(&mut self, loc: Loc, message: impl Into<String>) {
        self.push(Severity::Error, loc, message.into());
    }

    pub(crate) fn warning(&mut self, loc: Loc, message: impl Into<String>) {
        self.push(Severity::Warning, loc, message.into());
    }

    fn push(&mut self, severity: Severity, loc: Loc, message: String) {
        if self.list.len() >= MAX_DIAGNOSTICS {
            self.dropped += 1;
            return;
        }
        self.list.push(RawDiag {
            severity,
            loc,
            message,
        });
    }

    pub(crate) fn finish(mut self, map: &SourceMap) -> Vec<Diagnostic> {
        // Source order within each file (the passes run one after the other).
        self.list.sort_by_key(|d| d.loc);
        let mut out: Vec<Diagnostic> = self
            .list
            .into_iter()
            .map(|d| Diagnostic {
                severity: d.severity,
                file: map.name(d.loc.file).to_owned(),
                line: d.loc.line,
                col: d.loc.col,
                message: d.message,
            })
            .collect();
        if self.dropped > 0 {
            out.push(Diagnostic {
                severity: Severity::Error,
                file: String::new(),
                line: 0,
                col: 0,
                message: format!("{} more diagnostics were dropped", self.dropped),
            });
        }
        out
    }
}
