//! The preprocessor: `#include`, macros, conditionals, pragmas and line
//! mapping. Its output is a token stream for the parser, in which
//! `#pragma prefix/ID/version` and file boundaries stay as
//! [`Tok::Pragma`] tokens (they are scoped, so the semantic pass applies
//! them), and every token keeps the file, line and column it came from.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::diag::{Diags, FileId, Loc, SourceMap};
use super::lexer::{MAX_FILE_BYTES, Pragma, Tok, Token, lex};

/// How deeply `#include`s may nest.
pub const MAX_INCLUDE_DEPTH: usize = 64;
/// How many files one run may read (counting repeats).
const MAX_FILES: usize = 2000;
/// How many tokens the preprocessor may produce.
const MAX_TOKENS: usize = 4_000_000;
/// How many tokens macro expansion may add to one run of source text.
const MAX_EXPANSION_GROWTH: usize = 200_000;
/// How deeply macro expansions may nest.
const MAX_MACRO_DEPTH: usize = 64;
/// How many macros may be defined.
const MAX_MACROS: usize = 100_000;

/// Where source files come from: the file system, memory, or both
/// (memory first). Memory files let tests and fuzzers exercise
/// `#include` without touching the disk.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    memory: BTreeMap<PathBuf, String>,
    filesystem: bool,
}

impl Sources {
    /// Files are read from the file system.
    pub fn filesystem() -> Self {
        Self {
            memory: BTreeMap::new(),
            filesystem: true,
        }
    }

    /// Only in-memory files exist (add them with [`Sources::add`]).
    pub fn memory() -> Self {
        Self::default()
    }

    /// Adds (or replaces) an in-memory file.
    pub fn add(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> &mut Self {
        self.memory.insert(path.into(), text.into());
        self
    }

    pub(crate) fn read(&self, path: &Path) -> Result<String, String> {
        if let Some(t) = self.memory.get(path) {
            return Ok(t.clone());
        }
        if !self.filesystem {
            return Err("No such file or directory".into());
        }
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err("Is a directory".into()),
            Ok(m) if m.len() > MAX_FILE_BYTES as u64 => {
                return Err(format!("file larger than {MAX_FILE_BYTES} bytes"));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err("No such file or directory".into());
            }
            Err(e) => return Err(e.to_string()),
        }
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        Ok(String::from_utf8(bytes).unwrap_or_else(|e| {
            // Latin-1 comments are common in old IDL.
            e.into_bytes().iter().map(|&b| char::from(b)).collect()
        }))
    }
}

#[derive(Clone, Debug)]
struct Macro {
    params: Option<Vec<String>>,
    variadic: bool,
    body: Vec<Token>,
}

#[derive(Clone, Copy, Debug)]
struct Cond {
    active: bool,
    taken: bool,
    else_seen: bool,
    loc: Loc,
}

pub(crate) struct Preprocessor<'a> {
    sources: &'a Sources,
    include_dirs: &'a [PathBuf],
    pub(crate) map: SourceMap,
    pub(crate) diags: Diags,
    macros: HashMap<String, Macro>,
    pub(crate) out: Vec<Token>,
    once: HashSet<PathBuf>,
    depth: usize,
    files_read: usize,
    overflowed: bool,
    expand_limit: usize,
}

impl<'a> Preprocessor<'a> {
    pub(crate) fn new(
        sources: &'a Sources,
        include_dirs: &'a [PathBuf],
        defines: &[(String, String)],
    ) -> Self {
        let mut pp = Self {
            sources,
            include_dirs,
            map: SourceMap::default(),
            diags: Diags::default(),
            macros: HashMap::new(),
            out: Vec::new(),
            once: HashSet::new(),
            depth: 0,
            files_read: 0,
            overflowed: false,
            expand_limit: MAX_EXPANSION_GROWTH,
        };
        let cmd = pp.map.add("<command line>");
        for (name, value) in defines {
            let mut body = lex(value, cmd);
            body.retain(|t| !matches!(t.tok, Tok::Newline | Tok::Eof));
            pp.macros.insert(
                name.clone(),
                Macro {
                    params: None,
                    variadic: false,
                    body,
                },
            );
        }
        pp
    }

    /// Preprocesses the main file, read from the sources.
    pub(crate) fn run_file(&mut self, path: &Path) {
        let name = path.display().to_string();
        match self.sources.read(path) {
            Ok(text) => self.process(&name, path, &text),
            Err(e) => {
                let id = self.map.add(&name);
                self.diags.error(
                    Loc {
                        file: id,
                        line: 0,
                        col: 0,
                    },
                    format!("{name}: {e}"),
                );
            }
        }
        self.finish();
    }

    /// Preprocesses text that is not read from the sources.
    pub(crate) fn run_text(&mut self, name: &str, text: &str) {
        self.process(name, Path::new(name), text);
        self.finish();
    }

    fn finish(&mut self) {
        let loc = self.out.last().map(|t| t.loc).unwrap_or_default();
        self.out.push(Token {
            tok: Tok::Eof,
            loc,
            space_before: true,
        });
    }

    fn push_out(&mut self, t: Token) {
        if self.out.len() >= MAX_TOKENS {
            if !self.overflowed {
                self.overflowed = true;
                self.diags.error(
                    t.loc,
                    format!("more than {MAX_TOKENS} tokens after preprocessing"),
                );
            }
            return;
        }
        self.out.push(t);
    }

    fn process(&mut self, name: &str, path: &Path, text: &str) {
        self.files_read += 1;
        let fid = self.map.add(name);
        if text.len() > MAX_FILE_BYTES {
            self.diags.error(
                Loc {
                    file: fid,
                    line: 1,
                    col: 1,
                },
                "file too large",
            );
            return;
        }
        let toks = lex(text, fid);
        let lines: Vec<&str> = text.split('\n').collect();
        let mut conds: Vec<Cond> = Vec::new();
        let mut pending: Vec<Token> = Vec::new();
        let mut line_delta: i64 = 0;
        let mut file_override: Option<FileId> = None;
        let mut i = 0;
        let mut bol = true;
        while let Some(t) = toks.get(i) {
            match &t.tok {
                Tok::Eof => break,
                Tok::Newline => {
                    bol = true;
                    i += 1;
                }
                Tok::Punct("#") if bol => {
                    let start = i + 1;
                    let mut j = start;
                    while toks
                        .get(j)
                        .is_some_and(|t| !matches!(t.tok, Tok::Newline | Tok::Eof))
                    {
                        j += 1;
                    }
                    let dir = toks.get(start..j).unwrap_or(&[]);
                    let active = conds.iter().all(|c| c.active);
                    if active && !pending.is_empty() {
                        let p = std::mem::take(&mut pending);
                        self.expand_and_emit(p);
                    }
                    let line_text = lines.get((t.loc.line as usize).saturating_sub(1)).copied();
                    let ctx = DirCtx {
                        path,
                        loc: t.loc,
                        line_text: line_text.unwrap_or(""),
                    };
                    self.directive(dir, &ctx, &mut conds, &mut line_delta, &mut file_override);
                    i = j;
                }
                _ => {
                    bol = false;
                    if conds.iter().all(|c| c.active) {
                        let mut t = t.clone();
                        if line_delta != 0 || file_override.is_some() {
                            let l = i64::from(t.loc.line) + line_delta;
                            t.loc.line = u32::try_from(l.max(1)).unwrap_or(u32::MAX);
                            if let Some(f) = file_override {
                                t.loc.file = f;
                            }
                        }
                        pending.push(t);
                        if pending.len() > 65_536 {
                            let p = std::mem::take(&mut pending);
                            self.expand_and_emit_keep_tail(p, &mut pending);
                        }
                    }
                    i += 1;
                }
            }
        }
        if !pending.is_empty() {
            self.expand_and_emit(pending);
        }
        for c in conds {
            self.diags
                .error(c.loc, "unterminated conditional directive");
        }
    }

    /// Expands a long run of tokens in pieces, keeping the tail (which may
    /// be an unfinished macro invocation) for later.
    fn expand_and_emit_keep_tail(&mut self, mut p: Vec<Token>, tail: &mut Vec<Token>) {
        // Split at the last `;`, which never sits inside a macro call in IDL.
        let cut = p
            .iter()
            .rposition(|t| t.tok == Tok::Punct(";"))
            .map_or(p.len(), |i| i + 1);
        *tail = p.split_off(cut);
        self.expand_and_emit(p);
    }

    fn expand_and_emit(&mut self, toks: Vec<Token>) {
        self.expand_limit = toks.len().saturating_add(MAX_EXPANSION_GROWTH);
        let mut out = Vec::new();
        let mut disabled = Vec::new();
        self.expand(toks, &mut disabled, 0, &mut out);
        for t in out {
            self.push_out(t);
        }
    }

    fn directive(
        &mut self,
        dir: &[Token],
        ctx: &DirCtx<'_>,
        conds: &mut Vec<Cond>,
        line_delta: &mut i64,
        file_override: &mut Option<FileId>,
    ) {
        let active = conds.iter().all(|c| c.active);
        let Some(first) = dir.first() else { return };
        let name = match &first.tok {
            Tok::Ident(s) => s.as_str(),
            Tok::Int(n) => {
                if active {
                    self.line_directive(
                        *n,
                        dir.get(1..).unwrap_or(&[]),
                        ctx,
                        line_delta,
                        file_override,
                    );
                }
                return;
            }
            _ => {
                if active {
                    self.diags
                        .error(first.loc, "invalid preprocessing directive");
                }
                return;
            }
        };
        let rest = dir.get(1..).unwrap_or(&[]);
        match name {
            "if" | "ifdef" | "ifndef" => {
                if conds.len() >= 1024 {
                    self.diags
                        .error(ctx.loc, "conditional directives nested too deeply");
                    conds.push(Cond {
                        active: false,
                        taken: true,
                        else_seen: false,
                        loc: ctx.loc,
                    });
                    return;
                }
                if !active {
                    conds.push(Cond {
                        active: false,
                        taken: true,
                        else_seen: false,
                        loc: ctx.loc,
                    });
                    return;
                }
                let v = match name {
                    "if" => self.eval_if(rest, ctx.loc),
                    _ => {
                        let def = match rest.first().map(|t| &t.tok) {
                            Some(Tok::Ident(m)) => self.macros.contains_key(m),
                            _ => {
                                self.diags
                                    .warning(ctx.loc, format!("#{name} with no argument"));
                                false
                            }
                        };
                        if name == "ifdef" { def } else { !def }
                    }
                };
                conds.push(Cond {
                    active: v,
                    taken: v,
                    else_seen: false,
                    loc: ctx.loc,
                });
            }
            "elif" => {
                let Some(top) = conds.last().copied() else {
                    self.diags.error(ctx.loc, "#elif without #if");
                    return;
                };
                if top.else_seen {
                    self.diags.error(ctx.loc, "#elif after #else");
                }
                let parents = conds.iter().rev().skip(1).all(|c| c.active);
                let new = if top.taken || !parents {
                    Cond {
                        active: false,
                        ..top
                    }
                } else {
                    let v = self.eval_if(rest, ctx.loc);
                    Cond {
                        active: v,
                        taken: v,
                        ..top
                    }
                };
                if let Some(c) = conds.last_mut() {
                    *c = new;
                }
            }
            "else" => {
                let Some(top) = conds.last_mut() else {
                    self.diags.error(ctx.loc, "#else without #if");
                    return;
                };
                if top.else_seen {
                    self.diags.error(ctx.loc, "#else after #else");
                }
                top.active = !top.taken;
                top.taken = true;
                top.else_seen = true;
            }
            "endif" => {
                if conds.pop().is_none() {
                    self.diags.error(ctx.loc, "#endif without #if");
                }
            }
            _ if !active => {}
            "define" => self.define(rest, ctx.loc),
            "undef" => match rest.first().map(|t| &t.tok) {
                Some(Tok::Ident(m)) => {
                    self.macros.remove(m);
                }
                _ => self
                    .diags
                    .error(ctx.loc, "no macro name given in #undef directive"),
            },
            "include" => self.include(rest, ctx),
            "pragma" => self.pragma(rest, ctx.loc),
            "error" => {
                let msg = ctx.line_text.trim().trim_start_matches('#').trim_start();
                self.diags.error(ctx.loc, format!("#{}", msg.trim_end()));
            }
            "warning" => {
                let msg = ctx.line_text.trim().trim_start_matches('#').trim_start();
                self.diags.warning(ctx.loc, format!("#{}", msg.trim_end()));
            }
            "line" => match rest.first().map(|t| &t.tok) {
                Some(Tok::Int(n)) => {
                    let n = *n;
                    self.line_directive(
                        n,
                        rest.get(1..).unwrap_or(&[]),
                        ctx,
                        line_delta,
                        file_override,
                    );
                }
                _ => self
                    .diags
                    .error(ctx.loc, "#line directive requires a line number"),
            },
            "ident" | "sccs" | "include_next" | "assert" | "unassert" => {}
            other => {
                self.diags.error(
                    first.loc,
                    format!("invalid preprocessing directive #{other}"),
                );
            }
        }
    }

    fn line_directive(
        &mut self,
        n: u64,
        rest: &[Token],
        ctx: &DirCtx<'_>,
        line_delta: &mut i64,
        file_override: &mut Option<FileId>,
    ) {
        // The line after the directive has number n.
        let n = i64::try_from(n.min(u64::from(u32::MAX))).unwrap_or(0);
        *line_delta = n - (i64::from(ctx.loc.line) + 1);
        if let Some(Tok::Str(f)) = rest.first().map(|t| &t.tok) {
            *file_override = Some(self.map.add(f));
        }
    }

    fn define(&mut self, rest: &[Token], loc: Loc) {
        let Some(Tok::Ident(name)) = rest.first().map(|t| &t.tok) else {
            self.diags.error(loc, "macro names must be identifiers");
            return;
        };
        if name == "defined" {
            self.diags
                .error(loc, "\"defined\" cannot be used as a macro name");
            return;
        }
        let mut params = None;
        let mut variadic = false;
        let mut body_start = 1;
        if let Some(t) = rest.get(1)
            && t.tok == Tok::Punct("(")
            && !t.space_before
        {
            let mut ps = Vec::new();
            let mut k = 2;
            loop {
                match rest.get(k).map(|t| &t.tok) {
                    Some(Tok::Punct(")")) => {
                        k += 1;
                        break;
                    }
                    Some(Tok::Ident(p)) => {
                        ps.push(p.clone());
                        k += 1;
                        if rest.get(k).map(|t| &t.tok) == Some(&Tok::Punct(",")) {
                            k += 1;
                        }
                    }
                    Some(Tok::Other('.')) => {
                        // `...`
                        variadic = true;
                        while rest.get(k).map(|t| &t.tok) == Some(&Tok::Other('.')) {
                            k += 1;
                        }
                        ps.push("__VA_ARGS__".to_owned());
                    }
                    _ => {
                        self.diags.error(loc, "malformed macro parameter list");
                        return;
                    }
                }
            }
            params = Some(ps);
            body_start = k;
        }
        let body = rest.get(body_start..).unwrap_or(&[]).to_vec();
        if self.macros.len() >= MAX_MACROS && !self.macros.contains_key(name) {
            self.diags.error(loc, "too many macros");
            return;
        }
        self.macros.insert(
            name.clone(),
            Macro {
                params,
                variadic,
                body,
            },
        );
    }

    fn include(&mut self, rest: &[Token], ctx: &DirCtx<'_>) {
        // The file name: "…" or <…>, possibly from a macro.
        let (name, quoted) = match rest.first().map(|t| &t.tok) {
            Some(Tok::Str(s)) => (s.clone(), true),
            Some(Tok::Punct("<")) => {
                let text = ctx.line_text;
                let inc = text.find("include").map_or(0, |i| i + 7);
                let after = text.get(inc..).unwrap_or("");
                match (after.find('<'), after.find('>')) {
                    (Some(a), Some(b)) if a < b => {
                        (after.get(a + 1..b).unwrap_or("").to_owned(), false)
                    }
                    _ => {
                        self.diags.error(ctx.loc, "missing terminating > character");
                        return;
                    }
                }
            }
            Some(Tok::Ident(_)) => {
                let mut out = Vec::new();
                self.expand(rest.to_vec(), &mut Vec::new(), 0, &mut out);
                match out.first().map(|t| &t.tok) {
                    Some(Tok::Str(s)) => (s.clone(), true),
                    _ => {
                        self.diags
                            .error(ctx.loc, "#include expects \"FILENAME\" or <FILENAME>");
                        return;
                    }
                }
            }
            _ => {
                self.diags
                    .error(ctx.loc, "#include expects \"FILENAME\" or <FILENAME>");
                return;
            }
        };
        if name.is_empty() {
            self.diags.error(ctx.loc, "empty filename in #include");
            return;
        }
        if self.depth >= MAX_INCLUDE_DEPTH {
            self.diags.error(
                ctx.loc,
                format!("#include nested deeper than {MAX_INCLUDE_DEPTH} levels"),
            );
            return;
        }
        if self.files_read >= MAX_FILES {
            self.diags
                .error(ctx.loc, format!("more than {MAX_FILES} files included"));
            return;
        }
        let mut candidates = Vec::new();
        let p = Path::new(&name);
        if p.is_absolute() {
            candidates.push(p.to_path_buf());
        } else {
            if quoted {
                let dir = ctx.path.parent().unwrap_or(Path::new(""));
                candidates.push(dir.join(p));
            }
            for d in self.include_dirs {
                candidates.push(d.join(p));
            }
        }
        for c in candidates {
            if self.once.contains(&c) {
                return;
            }
            if let Ok(text) = self.sources.read(&c) {
                let display = c.display().to_string();
                let fid = self.map.add(&display);
                self.push_out(Token {
                    tok: Tok::Pragma(Pragma::EnterFile(fid)),
                    loc: ctx.loc,
                    space_before: true,
                });
                self.depth += 1;
                let before = self.once.len();
                self.process(&display, &c, &text);
                let _ = before;
                if text.contains("pragma once") && has_pragma_once(&text) {
                    self.once.insert(c.clone());
                }
                self.depth -= 1;
                self.push_out(Token {
                    tok: Tok::Pragma(Pragma::ExitFile),
                    loc: ctx.loc,
                    space_before: true,
                });
                return;
            }
        }
        self.diags
            .error(ctx.loc, format!("{name}: No such file or directory"));
    }

    fn pragma(&mut self, rest: &[Token], loc: Loc) {
        let Some(Tok::Ident(kind)) = rest.first().map(|t| &t.tok) else {
            return;
        };
        let args = rest.get(1..).unwrap_or(&[]);
        match kind.as_str() {
            "prefix" => {
                // Adjacent string literals are concatenated, as in C.
                let mut prefix = String::new();
                let mut ok = !args.is_empty();
                for a in args {
                    match &a.tok {
                        Tok::Str(s) => prefix.push_str(s),
                        _ => ok = false,
                    }
                }
                if ok {
                    self.push_out(Token {
                        tok: Tok::Pragma(Pragma::Prefix(prefix)),
                        loc,
                        space_before: true,
                    });
                } else {
                    self.diags.error(loc, "Malformed #pragma prefix");
                }
            }
            "ID" | "version" => {
                let Some((abs, name, k)) = pragma_name(args) else {
                    self.diags.error(loc, format!("Malformed #pragma {kind}"));
                    return;
                };
                let value = args.get(k..).unwrap_or(&[]);
                let p = match (kind.as_str(), value) {
                    (
                        "ID",
                        [
                            Token {
                                tok: Tok::Str(s), ..
                            },
                        ],
                    ) => Pragma::Id(name, abs, s.clone()),
                    (
                        "version",
                        [
                            Token {
                                tok: Tok::Float(_, text),
                                ..
                            },
                        ],
                    ) if valid_version(text) => Pragma::Version(name, abs, text.clone()),
                    _ => {
                        self.diags.error(loc, format!("Malformed #pragma {kind}"));
                        return;
                    }
                };
                self.push_out(Token {
                    tok: Tok::Pragma(p),
                    loc,
                    space_before: true,
                });
            }
            "once" => {}
            _ => {} // Unknown pragmas are ignored, as omniidl does.
        }
    }

    /// Macro-expands `toks` into `out`.
    fn expand(
        &mut self,
        toks: Vec<Token>,
        disabled: &mut Vec<String>,
        depth: usize,
        out: &mut Vec<Token>,
    ) {
        if depth > MAX_MACRO_DEPTH {
            if let Some(t) = toks.first() {
                self.diags.error(t.loc, "macro expansion nested too deeply");
            }
            return;
        }
        let mut i = 0;
        while let Some(t) = toks.get(i) {
            if out.len() > self.expand_limit {
                if !self.overflowed {
                    self.overflowed = true;
                    self.diags.error(
                        t.loc,
                        format!("macro expansion adds more than {MAX_EXPANSION_GROWTH} tokens"),
                    );
                }
                return;
            }
            let Tok::Ident(name) = &t.tok else {
                out.push(t.clone());
                i += 1;
                continue;
            };
            let Some(m) = self
                .macros
                .get(name)
                .filter(|_| !disabled.contains(name))
                .cloned()
            else {
                out.push(t.clone());
                i += 1;
                continue;
            };
            let loc = t.loc;
            let relocate = |b: &Token| Token { loc, ..b.clone() };
            match &m.params {
                None => {
                    let body: Vec<Token> = m.body.iter().map(relocate).collect();
                    disabled.push(name.clone());
                    self.expand(body, disabled, depth + 1, out);
                    disabled.pop();
                    i += 1;
                }
                Some(params) => {
                    if toks.get(i + 1).map(|t| &t.tok) != Some(&Tok::Punct("(")) {
                        out.push(t.clone());
                        i += 1;
                        continue;
                    }
                    // Collect the arguments.
                    let mut args: Vec<Vec<Token>> = vec![Vec::new()];
                    let mut level = 0usize;
                    let mut k = i + 2;
                    let mut closed = false;
                    while let Some(a) = toks.get(k) {
                        match a.tok {
                            Tok::Punct("(") => level += 1,
                            Tok::Punct(")") if level == 0 => {
                                closed = true;
                                break;
                            }
                            Tok::Punct(")") => level -= 1,
                            Tok::Punct(",")
                                if level == 0 && !(m.variadic && args.len() >= params.len()) =>
                            {
                                args.push(Vec::new());
                                k += 1;
                                continue;
                            }
                            _ => {}
                        }
                        if let Some(last) = args.last_mut() {
                            last.push(a.clone());
                        }
                        k += 1;
                    }
                    if !closed {
                        self.diags.error(
                            loc,
                            format!("unterminated argument list invoking macro \"{name}\""),
                        );
                        return;
                    }
                    if params.is_empty()
                        && args.len() == 1
                        && args.first().is_some_and(Vec::is_empty)
                    {
                        args.clear();
                    }
                    if args.len() != params.len() {
                        self.diags.error(
                            loc,
                            format!(
                                "macro \"{name}\" expects {} arguments, {} given",
                                params.len(),
                                args.len()
                            ),
                        );
                        i = k + 1;
                        continue;
                    }
                    let mut expanded_args = Vec::new();
                    for a in &args {
                        let mut e = Vec::new();
                        self.expand(a.clone(), disabled, depth + 1, &mut e);
                        expanded_args.push(e);
                    }
                    let mut body: Vec<Token> = Vec::new();
                    let mut b = 0;
                    while let Some(bt) = m.body.get(b) {
                        if body.len() > self.expand_limit {
                            if !self.overflowed {
                                self.overflowed = true;
                                self.diags.error(loc, format!("macro expansion adds more than {MAX_EXPANSION_GROWTH} tokens"));
                            }
                            return;
                        }
                        let param_index = |tok: Option<&Token>| match tok.map(|t| &t.tok) {
                            Some(Tok::Ident(p)) => params.iter().position(|q| q == p),
                            _ => None,
                        };
                        if bt.tok == Tok::Punct("#")
                            && let Some(pi) = param_index(m.body.get(b + 1))
                        {
                            let text: Vec<String> = args
                                .get(pi)
                                .map(|a| a.iter().map(token_text).collect())
                                .unwrap_or_default();
                            body.push(Token {
                                tok: Tok::Str(text.join(" ")),
                                loc,
                                space_before: true,
                            });
                            b += 2;
                            continue;
                        }
                        if bt.tok == Tok::Punct("##") {
                            let next = m.body.get(b + 1);
                            let rhs: Vec<Token> = match param_index(next) {
                                Some(pi) => args.get(pi).cloned().unwrap_or_default(),
                                None => next.cloned().into_iter().collect(),
                            };
                            let lhs = body.pop();
                            let mut text = lhs.as_ref().map(token_text).unwrap_or_default();
                            let mut rest_rhs = rhs.into_iter();
                            if let Some(r) = rest_rhs.next() {
                                text.push_str(&token_text(&r));
                            }
                            let mut pasted = lex(&text, loc.file);
                            pasted.retain(|t| !matches!(t.tok, Tok::Newline | Tok::Eof));
                            body.extend(pasted.into_iter().map(|t| Token { loc, ..t }));
                            body.extend(rest_rhs.map(|t| Token { loc, ..t }));
                            b += 2;
                            continue;
                        }
                        match param_index(Some(bt)) {
                            Some(pi) => body.extend(
                                expanded_args
                                    .get(pi)
                                    .into_iter()
                                    .flatten()
                                    .map(|t| Token { loc, ..t.clone() }),
                            ),
                            None => body.push(relocate(bt)),
                        }
                        b += 1;
                    }
                    disabled.push(name.clone());
                    self.expand(body, disabled, depth + 1, out);
                    disabled.pop();
                    i = k + 1;
                }
            }
        }
    }

    fn eval_if(&mut self, toks: &[Token], loc: Loc) -> bool {
        // Replace `defined X` / `defined(X)` before expansion.
        let mut pre = Vec::new();
        let mut i = 0;
        while let Some(t) = toks.get(i) {
            if t.tok == Tok::Ident("defined".into()) {
                let (name, skip) = match (
                    toks.get(i + 1).map(|t| &t.tok),
                    toks.get(i + 2).map(|t| &t.tok),
                    toks.get(i + 3).map(|t| &t.tok),
                ) {
                    (Some(Tok::Ident(n)), _, _) => (Some(n.clone()), 2),
                    (Some(Tok::Punct("(")), Some(Tok::Ident(n)), Some(Tok::Punct(")"))) => {
                        (Some(n.clone()), 4)
                    }
                    _ => (None, 1),
                };
                match name {
                    Some(n) => {
                        let v = u64::from(self.macros.contains_key(&n));
                        pre.push(Token {
                            tok: Tok::Int(v),
                            ..t.clone()
                        });
                    }
                    None => self
                        .diags
                        .error(loc, "operator \"defined\" requires an identifier"),
                }
                i += skip;
                continue;
            }
            pre.push(t.clone());
            i += 1;
        }
        let mut expanded = Vec::new();
        self.expand(pre, &mut Vec::new(), 0, &mut expanded);
        let mut ev = IfEval {
            toks: &expanded,
            pos: 0,
            err: None,
        };
        let v = ev.ternary(0);
        if ev.err.is_none() && ev.pos < expanded.len() {
            ev.err = Some("missing binary operator in #if expression".into());
        }
        if expanded.is_empty() {
            ev.err = Some("#if with no expression".into());
        }
        match ev.err {
            Some(e) => {
                self.diags.error(loc, e);
                false
            }
            None => v != 0,
        }
    }
}

struct DirCtx<'a> {
    path: &'a Path,
    loc: Loc,
    line_text: &'a str,
}

fn has_pragma_once(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.strip_prefix('#').is_some_and(|r| {
            let mut w = r.split_whitespace();
            w.next() == Some("pragma") && w.next() == Some("once")
        })
    })
}

fn valid_version(text: &str) -> bool {
    let mut parts = text.split('.');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()))
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// Parses a scoped name at the start of pragma arguments: (absolute, parts, tokens used).
fn pragma_name(args: &[Token]) -> Option<(bool, Vec<String>, usize)> {
    let mut k = 0;
    let mut abs = false;
    if args.first().map(|t| &t.tok) == Some(&Tok::Punct("::")) {
        abs = true;
        k = 1;
    }
    let mut parts = Vec::new();
    loop {
        match args.get(k).map(|t| &t.tok) {
            Some(Tok::Ident(s)) => parts.push(s.clone()),
            _ => return None,
        }
        k += 1;
        if args.get(k).map(|t| &t.tok) == Some(&Tok::Punct("::")) {
            k += 1;
        } else {
            return Some((abs, parts, k));
        }
    }
}

/// The spelling of a token, for `#` and `##`.
pub(crate) fn token_text(t: &Token) -> String {
    match &t.tok {
        Tok::Ident(s) => s.clone(),
        Tok::Int(v) => v.to_string(),
        Tok::Float(_, s) => s.clone(),
        Tok::Fixed(s) => format!("{s}d"),
        Tok::Char(c) => format!("'{}'", char::from_u32(*c).unwrap_or('?')),
        Tok::WChar(c) => format!("L'{}'", char::from_u32(*c).unwrap_or('?')),
        Tok::Str(s) => format!("{s:?}"),
        Tok::WStr(s) => format!("L{s:?}"),
        Tok::Punct(p) => (*p).to_owned(),
        Tok::Other(c) => c.to_string(),
        Tok::Error(_) | Tok::Newline | Tok::Pragma(_) | Tok::Eof => String::new(),
    }
}

/// Evaluates `#if` expressions over 128-bit integers.
struct IfEval<'a> {
    toks: &'a [Token],
    pos: usize,
    err: Option<String>,
}

impl IfEval<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn fail(&mut self, msg: &str) -> i128 {
        if self.err.is_none() {
            self.err = Some(msg.to_owned());
        }
        0
    }

    fn ternary(&mut self, depth: usize) -> i128 {
        if depth > 200 {
            return self.fail("#if expression nested too deeply");
        }
        let c = self.binary(1, depth);
        if self.peek() == Some(&Tok::Other('?')) {
            self.pos += 1;
            let a = self.ternary(depth + 1);
            if self.peek() != Some(&Tok::Punct(":")) {
                return self.fail("expected ':' in #if expression");
            }
            self.pos += 1;
            let b = self.ternary(depth + 1);
            return if c != 0 { a } else { b };
        }
        c
    }

    fn prec(op: &str) -> Option<u8> {
        Some(match op {
            "||" => 1,
            "&&" => 2,
            "|" => 3,
            "^" => 4,
            "&" => 5,
            "==" | "!=" => 6,
            "<" | ">" | "<=" | ">=" => 7,
            "<<" | ">>" => 8,
            "+" | "-" => 9,
            "*" | "/" | "%" => 10,
            _ => return None,
        })
    }

    fn binary(&mut self, min: u8, depth: usize) -> i128 {
        let mut lhs = self.unary(depth);
        loop {
            let Some(Tok::Punct(op)) = self.peek() else {
                return lhs;
            };
            let op = *op;
            let Some(p) = Self::prec(op) else { return lhs };
            if p < min {
                return lhs;
            }
            self.pos += 1;
            let rhs = self.binary(p + 1, depth + 1);
            lhs = match op {
                "||" => i128::from(lhs != 0 || rhs != 0),
                "&&" => i128::from(lhs != 0 && rhs != 0),
                "|" => lhs | rhs,
                "^" => lhs ^ rhs,
                "&" => lhs & rhs,
                "==" => i128::from(lhs == rhs),
                "!=" => i128::from(lhs != rhs),
                "<" => i128::from(lhs < rhs),
                ">" => i128::from(lhs > rhs),
                "<=" => i128::from(lhs <= rhs),
                ">=" => i128::from(lhs >= rhs),
                "<<" => u32::try_from(rhs)
                    .ok()
                    .and_then(|r| lhs.checked_shl(r))
                    .unwrap_or(0),
                ">>" => u32::try_from(rhs)
                    .ok()
                    .and_then(|r| lhs.checked_shr(r))
                    .unwrap_or(0),
                "+" => lhs.wrapping_add(rhs),
                "-" => lhs.wrapping_sub(rhs),
                "*" => lhs.wrapping_mul(rhs),
                "/" | "%" => {
                    if rhs == 0 {
                        return self.fail("division by zero in #if");
                    }
                    if op == "/" {
                        lhs.wrapping_div(rhs)
                    } else {
                        lhs.wrapping_rem(rhs)
                    }
                }
                _ => lhs,
            };
        }
    }

    fn unary(&mut self, depth: usize) -> i128 {
        if depth > 200 {
            return self.fail("#if expression nested too deeply");
        }
        let Some(t) = self.peek().cloned() else {
            return self.fail("#if expression ends too soon");
        };
        self.pos += 1;
        match t {
            Tok::Int(v) => i128::from(v),
            Tok::Char(c) | Tok::WChar(c) => i128::from(c),
            Tok::Ident(s) => i128::from(s == "true"),
            Tok::Punct("-") => self.unary(depth + 1).wrapping_neg(),
            Tok::Punct("+") => self.unary(depth + 1),
            Tok::Punct("~") => !self.unary(depth + 1),
            Tok::Punct("!") => i128::from(self.unary(depth + 1) == 0),
            Tok::Punct("(") => {
                let v = self.ternary(depth + 1);
                if self.peek() != Some(&Tok::Punct(")")) {
                    return self.fail("missing ')' in #if expression");
                }
                self.pos += 1;
                v
            }
            Tok::Error(e) => self.fail(&e),
            _ => self.fail("invalid token in #if expression"),
        }
    }
}
