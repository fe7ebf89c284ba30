//! A hand-written recursive-descent parser for CORBA 3.x core IDL.
//!
//! It never fails wholesale: a syntax error is reported, the parser skips
//! to the end of the definition (the next `;` or closing `}` at the same
//! level) and goes on, so one run reports several errors. Nesting depth
//! and the number of errors are bounded.

use super::Dialect;
use super::ast::*;
use super::diag::{Diags, Loc};
use super::lexer::{Tok, Token};

/// The deepest nesting (of scopes, types and expressions) the parser accepts.
pub(crate) const MAX_DEPTH: u32 = 64;
/// The most operators one constant expression may hold.
const MAX_EXPR_NODES: u32 = 1000;
/// After this many syntax errors the parser gives up on the file.
const MAX_SYNTAX_ERRORS: usize = 50;

/// Keywords of CORBA 2.x core IDL (and the CORBA 2.3 valuetype ones).
const CORE_KEYWORDS: [&str; 46] = [
    "abstract",
    "any",
    "attribute",
    "boolean",
    "case",
    "char",
    "const",
    "context",
    "custom",
    "default",
    "double",
    "enum",
    "exception",
    "factory",
    "FALSE",
    "fixed",
    "float",
    "in",
    "inout",
    "interface",
    "local",
    "long",
    "module",
    "native",
    "Object",
    "octet",
    "oneway",
    "out",
    "private",
    "public",
    "raises",
    "readonly",
    "sequence",
    "short",
    "string",
    "struct",
    "supports",
    "switch",
    "TRUE",
    "truncatable",
    "typedef",
    "unsigned",
    "union",
    "ValueBase",
    "valuetype",
    "void",
];
const MORE_CORE_KEYWORDS: [&str; 2] = ["wchar", "wstring"];
/// Keywords that CORBA 3 adds (components and IDL 3 repository ids).
const IDL3_KEYWORDS: [&str; 18] = [
    "component",
    "consumes",
    "emits",
    "eventtype",
    "finder",
    "getraises",
    "home",
    "import",
    "manages",
    "multiple",
    "primarykey",
    "provides",
    "publishes",
    "setraises",
    "typeid",
    "typeprefix",
    "uses",
    "porttype",
];

#[derive(Debug)]
pub(crate) struct Fail;
type PResult<T> = Result<T, Fail>;

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Ctx {
    Module,
    Interface,
    Value,
}

pub(crate) struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    diags: &'a mut Diags,
    dialect: Dialect,
    depth: u32,
    errors: usize,
    in_angle: bool,
    expr_budget: u32,
    braces: usize,
    stray: Vec<Definition>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(toks: Vec<Token>, diags: &'a mut Diags, dialect: Dialect) -> Self {
        Self {
            toks,
            pos: 0,
            diags,
            dialect,
            depth: 0,
            errors: 0,
            in_angle: false,
            expr_budget: 0,
            braces: 0,
            stray: Vec::new(),
        }
    }

    pub(crate) fn parse(mut self) -> Specification {
        let mut defs = Vec::new();
        loop {
            self.definitions_into(&mut defs, Ctx::Module, false);
            if self.at_eof() || self.errors >= MAX_SYNTAX_ERRORS {
                break;
            }
        }
        self.take_pragmas(&mut defs);
        Specification { definitions: defs }
    }

    // ----- token access -------------------------------------------------

    fn skip_pragmas(&mut self) {
        while let Some(Token {
            tok: Tok::Pragma(p),
            loc,
            ..
        }) = self.toks.get(self.pos)
        {
            self.stray.push(Definition {
                kind: DefKind::Pragma(p.clone()),
                loc: *loc,
            });
            self.pos += 1;
        }
    }

    fn take_pragmas(&mut self, defs: &mut Vec<Definition>) {
        self.skip_pragmas();
        defs.append(&mut self.stray);
    }

    fn peek(&mut self) -> &Tok {
        self.skip_pragmas();
        self.toks.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let mut i = self.pos;
        let mut left = n;
        while let Some(t) = self.toks.get(i) {
            if !matches!(t.tok, Tok::Pragma(_)) {
                if left == 0 {
                    return &t.tok;
                }
                left -= 1;
            }
            i += 1;
        }
        &Tok::Eof
    }

    fn loc(&mut self) -> Loc {
        self.skip_pragmas();
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map(|t| t.loc)
            .unwrap_or_default()
    }

    fn bump(&mut self) {
        self.skip_pragmas();
        match self.toks.get(self.pos).map(|t| &t.tok) {
            None | Some(Tok::Eof) => return,
            Some(Tok::Punct("{")) => self.braces += 1,
            Some(Tok::Punct("}")) => self.braces = self.braces.saturating_sub(1),
            _ => {}
        }
        self.pos += 1;
    }

    /// Whether the next raw token starts or ends an included file.
    fn at_file_boundary(&self) -> bool {
        matches!(
            self.toks.get(self.pos).map(|t| &t.tok),
            Some(Tok::Pragma(
                super::lexer::Pragma::EnterFile(_) | super::lexer::Pragma::ExitFile
            ))
        )
    }

    fn at_eof(&mut self) -> bool {
        matches!(self.peek(), Tok::Eof)
    }

    fn is_keyword(&self, s: &str) -> bool {
        CORE_KEYWORDS.contains(&s)
            || MORE_CORE_KEYWORDS.contains(&s)
            || (self.dialect == Dialect::Corba3 && IDL3_KEYWORDS.contains(&s))
    }

    fn at_kw(&mut self, kw: &str) -> bool {
        let d = self.dialect;
        match self.peek() {
            Tok::Ident(s) => s == kw && (d == Dialect::Corba3 || !IDL3_KEYWORDS.contains(&kw)),
            _ => false,
        }
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn at_punct(&mut self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.at_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn describe(tok: &Tok) -> String {
        match tok {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Int(v) => format!("integer {v}"),
            Tok::Float(_, s) => format!("'{s}'"),
            Tok::Fixed(s) => format!("'{s}d'"),
            Tok::Char(_) | Tok::WChar(_) => "a character literal".into(),
            Tok::Str(_) | Tok::WStr(_) => "a string literal".into(),
            Tok::Punct(p) => format!("'{p}'"),
            Tok::Other(c) => format!("'{c}'"),
            Tok::Error(e) => e.clone(),
            Tok::Newline | Tok::Pragma(_) => "a directive".into(),
            Tok::Eof => "end of file".into(),
        }
    }

    fn error<T>(&mut self, what: &str) -> PResult<T> {
        let loc = self.loc();
        let found = self.peek().clone();
        let msg = match &found {
            Tok::Error(e) => e.clone(),
            Tok::Punct("@") => "IDL 4 annotations (@…) are not supported".into(),
            _ => format!(
                "Syntax error: expected {what}, found {}",
                Self::describe(&found)
            ),
        };
        self.errors += 1;
        self.diags.error(loc, msg);
        Err(Fail)
    }

    fn expect_punct(&mut self, p: &str) -> PResult<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            self.error(&format!("'{p}'"))
        }
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            self.error(&format!("'{kw}'"))
        }
    }

    /// Accepts `>`, splitting a `>>` in two.
    fn expect_gt(&mut self) -> PResult<()> {
        // omniidl 4.2.5 wants `> >`, as C++03 did.
        if self.at_punct(">>") && self.dialect == Dialect::Corba3 {
            if let Some(t) = self.toks.get_mut(self.pos) {
                t.tok = Tok::Punct(">");
                t.loc.col = t.loc.col.saturating_add(1);
            }
            return Ok(());
        }
        self.expect_punct(">")
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_DEPTH {
            let loc = self.loc();
            self.errors += 1;
            self.diags
                .error(loc, format!("nesting deeper than {MAX_DEPTH} levels"));
            // Skip everything: the rest of the file cannot be trusted.
            self.pos = self.toks.len().saturating_sub(1);
            return Err(Fail);
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// Skips to the end of the broken definition: the next `;` at brace
    /// depth `level`, or just before the `}` that closes the enclosing
    /// scope, or an include-file boundary.
    fn recover(&mut self, level: usize) {
        loop {
            if self.at_file_boundary() && self.braces <= level {
                return;
            }
            let outer = self.braces <= level;
            match self.peek() {
                Tok::Eof => return,
                Tok::Punct("}") if outer => return,
                Tok::Punct(";") if outer => {
                    self.bump();
                    return;
                }
                _ => {}
            }
            self.bump();
        }
    }

    // ----- identifiers and names ------------------------------------------

    /// An identifier used in a scoped name (no keyword-clash check).
    fn ident_ref(&mut self) -> PResult<Ident> {
        let loc = self.loc();
        let Tok::Ident(s) = self.peek().clone() else {
            return self.error("an identifier");
        };
        if self.is_keyword(&s) {
            return self.error("an identifier");
        }
        self.bump();
        let name = s.strip_prefix('_').map_or(s.clone(), str::to_owned);
        Ok(Ident { name, loc })
    }

    /// An identifier being declared: it may not differ from a keyword only
    /// in case (unless escaped with `_`).
    fn ident(&mut self) -> PResult<Ident> {
        let loc = self.loc();
        let Tok::Ident(s) = self.peek().clone() else {
            return self.error("an identifier");
        };
        if self.is_keyword(&s) {
            return self.error("an identifier");
        }
        self.bump();
        if let Some(rest) = s.strip_prefix('_') {
            return Ok(Ident {
                name: rest.to_owned(),
                loc,
            });
        }
        let lower = s.to_ascii_lowercase();
        for kw in CORE_KEYWORDS
            .iter()
            .chain(MORE_CORE_KEYWORDS.iter())
            .chain(IDL3_KEYWORDS.iter())
        {
            if kw.to_ascii_lowercase() == lower {
                let idl3 = IDL3_KEYWORDS.contains(kw);
                if idl3 && self.dialect == Dialect::Omniidl {
                    self.diags.warning(
                        loc,
                        format!("Identifier '{s}' clashes with CORBA 3 keyword '{kw}'"),
                    );
                } else {
                    self.diags
                        .error(loc, format!("Identifier '{s}' clashes with keyword '{kw}'"));
                }
                break;
            }
        }
        Ok(Ident { name: s, loc })
    }

    fn scoped_name(&mut self) -> PResult<ScopedName> {
        let loc = self.loc();
        let absolute = self.eat_punct("::");
        let mut parts = vec![self.ident_ref()?];
        while self.at_punct("::") {
            self.bump();
            parts.push(self.ident_ref()?);
            if parts.len() > 1000 {
                return self.error("a shorter name");
            }
        }
        Ok(ScopedName {
            absolute,
            parts,
            loc,
        })
    }

    fn scoped_names(&mut self) -> PResult<Vec<ScopedName>> {
        let mut v = vec![self.scoped_name()?];
        while self.eat_punct(",") {
            v.push(self.scoped_name()?);
            if v.len() > 1000 {
                return self.error("a list of at most 1000 names");
            }
        }
        Ok(v)
    }

    // ----- definitions ------------------------------------------------------

    fn definitions_into(&mut self, defs: &mut Vec<Definition>, ctx: Ctx, nested: bool) {
        loop {
            self.take_pragmas(defs);
            if self.errors >= MAX_SYNTAX_ERRORS {
                self.pos = self.toks.len().saturating_sub(1);
                return;
            }
            match self.peek() {
                Tok::Eof => return,
                Tok::Punct("}") if nested => return,
                Tok::Punct("}") => {
                    let _ = self.error::<()>("a definition");
                    self.bump();
                    continue;
                }
                _ => {}
            }
            let before = self.pos;
            let level = self.braces;
            match self.definition(ctx) {
                Ok(d) => defs.push(d),
                Err(Fail) => {
                    self.recover(level);
                    if self.pos == before && !nested {
                        self.bump();
                    }
                }
            }
        }
    }

    fn body(&mut self, ctx: Ctx) -> PResult<Vec<Definition>> {
        self.expect_punct("{")?;
        let mut defs = Vec::new();
        self.nested(|p| {
            p.definitions_into(&mut defs, ctx, true);
            Ok(())
        })?;
        self.take_pragmas(&mut defs);
        self.expect_punct("}")?;
        Ok(defs)
    }

    fn definition(&mut self, ctx: Ctx) -> PResult<Definition> {
        let loc = self.loc();
        let kind = self.definition_kind(ctx)?;
        self.expect_punct(";")?;
        Ok(Definition { kind, loc })
    }

    fn definition_kind(&mut self, ctx: Ctx) -> PResult<DefKind> {
        if self.at_punct("::") && ctx != Ctx::Module {
            return self.operation();
        }
        let Tok::Ident(word) = self.peek().clone() else {
            return self.error(match ctx {
                Ctx::Module => "a definition",
                _ => "an export",
            });
        };
        let kw = if self.is_keyword(&word) {
            word.as_str()
        } else {
            ""
        };
        match (kw, ctx) {
            ("module", Ctx::Module) => {
                self.bump();
                let name = self.ident()?;
                let loc = self.loc();
                let errors = self.errors;
                let body = self.body(Ctx::Module)?;
                if body.is_empty() && self.errors == errors {
                    // The grammar wants at least one definition.
                    self.errors += 1;
                    self.diags
                        .error(loc, format!("Module '{}' is empty", name.name));
                }
                Ok(DefKind::Module { name, body })
            }
            ("abstract", Ctx::Module) if matches!(self.peek_at(1), Tok::Ident(s) if s == "valuetype") =>
            {
                self.bump();
                self.valuetype(ValueKind::Abstract)
            }
            ("custom", Ctx::Module) => {
                self.bump();
                self.valuetype(ValueKind::Custom)
            }
            ("valuetype", Ctx::Module) => self.valuetype(ValueKind::Concrete),
            ("abstract", Ctx::Module) => {
                self.bump();
                self.interface(InterfaceKind::Abstract)
            }
            ("local", Ctx::Module) => {
                self.bump();
                self.interface(InterfaceKind::Local)
            }
            ("interface", Ctx::Module) => self.interface(InterfaceKind::Plain),
            ("struct" | "union" | "enum", _) => match self.constructed()? {
                TypeSpec::Constructed(d) => Ok(d.kind),
                _ => self.error("a type definition"),
            },
            ("typedef", _) => {
                self.bump();
                let ty = self.type_spec()?;
                let declarators = self.declarators()?;
                Ok(DefKind::Typedef { ty, declarators })
            }
            ("native", _) => {
                self.bump();
                Ok(DefKind::Native {
                    name: self.ident()?,
                })
            }
            ("const", _) => {
                self.bump();
                let ty = self.type_spec()?;
                let name = self.ident()?;
                self.expect_punct("=")?;
                let value = self.expr()?;
                Ok(DefKind::Const { ty, name, value })
            }
            ("exception", _) => {
                self.bump();
                let name = self.ident()?;
                self.expect_punct("{")?;
                let members = self.members()?;
                self.expect_punct("}")?;
                Ok(DefKind::Exception { name, members })
            }
            ("typeid", _) => {
                self.bump();
                let name = self.scoped_name()?;
                let id = self.string_lit()?;
                Ok(DefKind::TypeId { name, id })
            }
            ("typeprefix", _) => {
                self.bump();
                let name = self.scoped_name()?;
                let prefix = self.string_lit()?;
                Ok(DefKind::TypePrefix { name, prefix })
            }
            ("import", Ctx::Module) => {
                self.bump();
                let what = if let Tok::Str(s) = self.peek().clone() {
                    self.bump();
                    s
                } else {
                    self.scoped_name()?.to_string()
                };
                Ok(DefKind::Import { what })
            }
            ("component" | "home" | "eventtype" | "porttype", Ctx::Module) => {
                let loc = self.loc();
                self.errors += 1;
                self.diags.error(
                    loc,
                    format!("'{word}' (CORBA Component Model) is not supported"),
                );
                Err(Fail)
            }
            ("readonly" | "attribute", Ctx::Interface | Ctx::Value) => self.attribute(),
            ("public" | "private", Ctx::Value) => {
                let public = word == "public";
                self.bump();
                let ty = self.type_spec()?;
                let declarators = self.declarators()?;
                Ok(DefKind::StateMember(Member {
                    ty,
                    declarators,
                    public,
                }))
            }
            ("factory", Ctx::Value) => {
                self.bump();
                let name = self.ident()?;
                self.expect_punct("(")?;
                let mut params = Vec::new();
                if !self.at_punct(")") {
                    loop {
                        let loc = self.loc();
                        if !self.eat_kw("in") {
                            return self.error("'in'");
                        }
                        let ty = self.type_spec()?;
                        let name = self.ident()?;
                        let _ = loc;
                        params.push(Param {
                            dir: ParamDir::In,
                            ty,
                            name,
                        });
                        if !self.eat_punct(",") {
                            break;
                        }
                    }
                }
                self.expect_punct(")")?;
                let raises = self.raises("raises")?;
                Ok(DefKind::Factory {
                    name,
                    params,
                    raises,
                })
            }
            (_, Ctx::Interface | Ctx::Value) => self.operation(),
            _ => self.error(match ctx {
                Ctx::Module => "a definition",
                _ => "an export",
            }),
        }
    }

    fn string_lit(&mut self) -> PResult<String> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.bump();
                Ok(s)
            }
            _ => self.error("a string literal"),
        }
    }

    fn interface(&mut self, kind: InterfaceKind) -> PResult<DefKind> {
        self.expect_kw("interface")?;
        let name = self.ident()?;
        if self.at_punct(";") {
            return Ok(DefKind::InterfaceForward { kind, name });
        }
        let bases = if self.eat_punct(":") {
            self.scoped_names()?
        } else {
            Vec::new()
        };
        let body = self.body(Ctx::Interface)?;
        Ok(DefKind::Interface {
            kind,
            name,
            bases,
            body,
        })
    }

    fn valuetype(&mut self, kind: ValueKind) -> PResult<DefKind> {
        self.expect_kw("valuetype")?;
        let name = self.ident()?;
        if kind == ValueKind::Custom && self.dialect == Dialect::Omniidl {
            self.diags.error(
                name.loc,
                "custom valuetypes are not supported by omniidl's C++ back end",
            );
        }
        if self.at_punct(";") {
            return Ok(DefKind::ValueForward { kind, name });
        }
        let full = self.at_punct(":") || self.at_punct("{") || self.at_kw("supports");
        if !full {
            if kind != ValueKind::Concrete {
                return self.error("':', 'supports' or '{'");
            }
            let ty = self.type_spec()?;
            return Ok(DefKind::ValueBox { name, ty });
        }
        let mut truncatable = false;
        let mut bases = Vec::new();
        if self.eat_punct(":") {
            truncatable = self.eat_kw("truncatable");
            bases = self.scoped_names()?;
        }
        let supports = if self.eat_kw("supports") {
            self.scoped_names()?
        } else {
            Vec::new()
        };
        let body = self.body(Ctx::Value)?;
        Ok(DefKind::Value {
            kind,
            name,
            truncatable,
            bases,
            supports,
            body,
        })
    }

    fn raises(&mut self, kw: &str) -> PResult<Vec<ScopedName>> {
        if !self.eat_kw(kw) {
            return Ok(Vec::new());
        }
        self.expect_punct("(")?;
        let v = self.scoped_names()?;
        self.expect_punct(")")?;
        Ok(v)
    }

    fn attribute(&mut self) -> PResult<DefKind> {
        let readonly = self.eat_kw("readonly");
        self.expect_kw("attribute")?;
        let ty = self.param_type()?;
        let mut names = vec![self.ident()?];
        while self.eat_punct(",") {
            names.push(self.ident()?);
        }
        let (get_raises, set_raises) = if readonly {
            // Exceptions on attributes are CORBA 3; omniidl 4.2.5 has none.
            let raises = if self.dialect == Dialect::Corba3 {
                self.raises("raises")?
            } else {
                Vec::new()
            };
            (raises, Vec::new())
        } else {
            let g = self.raises("getraises")?;
            (g, self.raises("setraises")?)
        };
        if names.len() > 1 && !(get_raises.is_empty() && set_raises.is_empty()) {
            return self.error("a single declarator before raises");
        }
        Ok(DefKind::Attribute(Attribute {
            readonly,
            ty,
            names,
            get_raises,
            set_raises,
        }))
    }

    fn param_type(&mut self) -> PResult<TypeSpec> {
        if self.at_kw("struct") || self.at_kw("union") || self.at_kw("enum") {
            return self.error("a type name");
        }
        self.type_spec()
    }

    fn operation(&mut self) -> PResult<DefKind> {
        let oneway = self.eat_kw("oneway");
        let ret = if self.eat_kw("void") {
            None
        } else {
            Some(self.param_type()?)
        };
        let name = self.ident()?;
        self.expect_punct("(")?;
        let mut params = Vec::new();
        if !self.at_punct(")") {
            loop {
                let dir = if self.eat_kw("in") {
                    ParamDir::In
                } else if self.eat_kw("out") {
                    ParamDir::Out
                } else if self.eat_kw("inout") {
                    ParamDir::InOut
                } else {
                    return self.error("'in', 'out' or 'inout'");
                };
                let ty = self.param_type()?;
                let name = self.ident()?;
                params.push(Param { dir, ty, name });
                if params.len() > 10_000 {
                    return self.error("fewer parameters");
                }
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_punct(")")?;
        let raises = self.raises("raises")?;
        let mut context = Vec::new();
        if self.eat_kw("context") {
            self.expect_punct("(")?;
            loop {
                context.push(self.string_lit()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(")")?;
        }
        Ok(DefKind::Operation(Operation {
            oneway,
            ret,
            name,
            params,
            raises,
            context,
        }))
    }

    // ----- types ------------------------------------------------------------------

    fn declarators(&mut self) -> PResult<Vec<Declarator>> {
        let mut v = vec![self.declarator()?];
        while self.eat_punct(",") {
            v.push(self.declarator()?);
        }
        Ok(v)
    }

    fn declarator(&mut self) -> PResult<Declarator> {
        let name = self.ident()?;
        let mut dims = Vec::new();
        while self.eat_punct("[") {
            dims.push(self.expr()?);
            self.expect_punct("]")?;
        }
        Ok(Declarator { name, dims })
    }

    fn members(&mut self) -> PResult<Vec<Member>> {
        let mut v = Vec::new();
        while !self.at_punct("}") && !self.at_eof() {
            let level = self.braces;
            let ty = self.type_spec();
            let m = ty.and_then(|ty| {
                let declarators = self.declarators()?;
                self.expect_punct(";")?;
                Ok(Member {
                    ty,
                    declarators,
                    public: true,
                })
            });
            match m {
                Ok(m) => v.push(m),
                Err(Fail) => {
                    if self.errors >= MAX_SYNTAX_ERRORS {
                        return Err(Fail);
                    }
                    self.recover(level);
                }
            }
        }
        Ok(v)
    }

    fn constructed(&mut self) -> PResult<TypeSpec> {
        self.nested(|p| {
            let loc = p.loc();
            let kind = if p.eat_kw("struct") {
                let name = p.ident()?;
                if p.at_punct(";") {
                    DefKind::StructForward { name }
                } else {
                    p.expect_punct("{")?;
                    if p.at_punct("}") {
                        return p.error("a struct member");
                    }
                    let members = p.members()?;
                    p.expect_punct("}")?;
                    DefKind::Struct { name, members }
                }
            } else if p.eat_kw("union") {
                let name = p.ident()?;
                if p.at_punct(";") {
                    DefKind::UnionForward { name }
                } else {
                    p.expect_kw("switch")?;
                    p.expect_punct("(")?;
                    let switch = p.type_spec()?;
                    p.expect_punct(")")?;
                    p.expect_punct("{")?;
                    let cases = p.cases()?;
                    p.expect_punct("}")?;
                    DefKind::Union {
                        name,
                        switch,
                        cases,
                    }
                }
            } else {
                p.expect_kw("enum")?;
                let name = p.ident()?;
                p.expect_punct("{")?;
                let mut members = vec![p.ident()?];
                while p.eat_punct(",") {
                    members.push(p.ident()?);
                    if members.len() > 1_000_000 {
                        return p.error("fewer enumerators");
                    }
                }
                p.expect_punct("}")?;
                DefKind::Enum { name, members }
            };
            Ok(TypeSpec::Constructed(Box::new(Definition { kind, loc })))
        })
    }

    fn cases(&mut self) -> PResult<Vec<UnionCase>> {
        let mut cases = Vec::new();
        while !self.at_punct("}") && !self.at_eof() {
            let mut labels = Vec::new();
            loop {
                let loc = self.loc();
                if self.eat_kw("case") {
                    let e = self.expr()?;
                    self.expect_punct(":")?;
                    labels.push(CaseLabel::Value(e));
                } else if self.eat_kw("default") {
                    self.expect_punct(":")?;
                    labels.push(CaseLabel::Default(loc));
                } else if labels.is_empty() {
                    return self.error("'case' or 'default'");
                } else {
                    break;
                }
            }
            let ty = self.type_spec()?;
            let declarator = self.declarator()?;
            self.expect_punct(";")?;
            cases.push(UnionCase {
                labels,
                ty,
                declarator,
            });
        }
        if cases.is_empty() {
            return self.error("'case' or 'default'");
        }
        Ok(cases)
    }

    fn type_spec(&mut self) -> PResult<TypeSpec> {
        self.nested(Self::type_spec_inner)
    }

    fn type_spec_inner(&mut self) -> PResult<TypeSpec> {
        let loc = self.loc();
        let word = match self.peek().clone() {
            Tok::Ident(s) if self.is_keyword(&s) => s,
            Tok::Ident(_) | Tok::Punct("::") => return Ok(TypeSpec::Named(self.scoped_name()?)),
            _ => return self.error("a type"),
        };
        let base = |b| Ok(TypeSpec::Base(b, loc));
        match word.as_str() {
            "struct" | "union" | "enum" => return self.constructed(),
            "sequence" => {
                self.bump();
                self.expect_punct("<")?;
                let elem = self.type_spec()?;
                let bound = if self.eat_punct(",") {
                    Some(Box::new(self.angle_expr()?))
                } else {
                    None
                };
                self.expect_gt()?;
                return Ok(TypeSpec::Sequence(Box::new(elem), bound, loc));
            }
            "string" | "wstring" => {
                self.bump();
                let bound = if self.eat_punct("<") {
                    let e = self.angle_expr()?;
                    self.expect_gt()?;
                    Some(Box::new(e))
                } else {
                    None
                };
                return Ok(if word == "string" {
                    TypeSpec::String(bound, loc)
                } else {
                    TypeSpec::WString(bound, loc)
                });
            }
            "fixed" => {
                self.bump();
                if self.eat_punct("<") {
                    let d = self.angle_expr()?;
                    self.expect_punct(",")?;
                    let s = self.angle_expr()?;
                    self.expect_gt()?;
                    return Ok(TypeSpec::Fixed(Some((Box::new(d), Box::new(s))), loc));
                }
                return Ok(TypeSpec::Fixed(None, loc));
            }
            _ => {}
        }
        self.bump();
        match word.as_str() {
            "short" => base(BaseType::Short),
            "long" => {
                if self.eat_kw("long") {
                    base(BaseType::LongLong)
                } else if self.eat_kw("double") {
                    base(BaseType::LongDouble)
                } else {
                    base(BaseType::Long)
                }
            }
            "unsigned" => {
                if self.eat_kw("short") {
                    base(BaseType::UShort)
                } else if self.eat_kw("long") {
                    if self.eat_kw("long") {
                        base(BaseType::ULongLong)
                    } else {
                        base(BaseType::ULong)
                    }
                } else {
                    self.error("'short' or 'long'")
                }
            }
            "float" => base(BaseType::Float),
            "double" => base(BaseType::Double),
            "char" => base(BaseType::Char),
            "wchar" => base(BaseType::WChar),
            "boolean" => base(BaseType::Boolean),
            "octet" => base(BaseType::Octet),
            "any" => base(BaseType::Any),
            "Object" => base(BaseType::Object),
            "ValueBase" => base(BaseType::ValueBase),
            _ => {
                self.pos -= 1;
                self.error("a type")
            }
        }
    }

    // ----- constant expressions ------------------------------------------------------

    fn angle_expr(&mut self) -> PResult<Expr> {
        let saved = self.in_angle;
        self.in_angle = true;
        let r = self.expr();
        self.in_angle = saved;
        r
    }

    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.expr_budget = MAX_EXPR_NODES;
        self.nested(|p| p.binary(0))
    }

    fn spend(&mut self) -> PResult<()> {
        if self.expr_budget == 0 {
            return self.error(&format!(
                "a constant expression with fewer than {MAX_EXPR_NODES} operators"
            ));
        }
        self.expr_budget -= 1;
        Ok(())
    }

    fn binary(&mut self, level: u8) -> PResult<Expr> {
        const LEVELS: [&[(&str, BinaryOp)]; 6] = [
            &[("|", BinaryOp::Or)],
            &[("^", BinaryOp::Xor)],
            &[("&", BinaryOp::And)],
            &[("<<", BinaryOp::Shl), (">>", BinaryOp::Shr)],
            &[("+", BinaryOp::Add), ("-", BinaryOp::Sub)],
            &[
                ("*", BinaryOp::Mul),
                ("/", BinaryOp::Div),
                ("%", BinaryOp::Mod),
            ],
        ];
        let Some(ops) = LEVELS.get(level as usize) else {
            return self.unary();
        };
        let mut lhs = self.binary(level + 1)?;
        while let Tok::Punct(p) = self.peek() {
            let p = *p;
            let Some(&(_, op)) = ops.iter().find(|(s, _)| *s == p) else {
                break;
            };
            if p == ">>" && self.in_angle {
                break;
            }
            self.spend()?;
            let loc = self.loc();
            self.bump();
            let rhs = self.nested(|s| s.binary(level + 1))?;
            lhs = Expr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                loc,
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let loc = self.loc();
        let op = match self.peek() {
            Tok::Punct("-") => Some(UnaryOp::Neg),
            Tok::Punct("+") => Some(UnaryOp::Plus),
            Tok::Punct("~") => Some(UnaryOp::Not),
            _ => None,
        };
        if let Some(op) = op {
            self.spend()?;
            self.bump();
            let e = self.nested(Self::primary)?;
            return Ok(Expr {
                kind: ExprKind::Unary(op, Box::new(e)),
                loc,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> PResult<Expr> {
        let loc = self.loc();
        let kind = match self.peek().clone() {
            Tok::Int(v) => ExprKind::Int(v),
            Tok::Float(v, _) => ExprKind::Float(v),
            Tok::Fixed(s) => ExprKind::Fixed(s),
            Tok::Char(c) => ExprKind::Char(c),
            Tok::WChar(c) => ExprKind::WChar(c),
            Tok::Str(s) => {
                self.bump();
                let mut s = s;
                while let Tok::Str(t) = self.peek().clone() {
                    self.bump();
                    s.push_str(&t);
                }
                return Ok(Expr {
                    kind: ExprKind::String(s),
                    loc,
                });
            }
            Tok::WStr(s) => {
                self.bump();
                let mut s = s;
                while let Tok::WStr(t) = self.peek().clone() {
                    self.bump();
                    s.push_str(&t);
                }
                return Ok(Expr {
                    kind: ExprKind::WString(s),
                    loc,
                });
            }
            Tok::Ident(s) if s == "TRUE" || s == "FALSE" => ExprKind::Bool(s == "TRUE"),
            Tok::Ident(_) | Tok::Punct("::") => {
                return Ok(Expr {
                    kind: ExprKind::Name(self.scoped_name()?),
                    loc,
                });
            }
            Tok::Punct("(") => {
                self.bump();
                let saved = self.in_angle;
                self.in_angle = false;
                let e = self.nested(|p| p.binary(0));
                self.in_angle = saved;
                let e = e?;
                self.expect_punct(")")?;
                return Ok(e);
            }
            _ => return self.error("an expression"),
        };
        self.bump();
        Ok(Expr { kind, loc })
    }
}
