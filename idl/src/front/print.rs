//! Prints a syntax tree back as canonical IDL (one declaration per line,
//! two-space indentation, fully parenthesised expressions). Used by tests
//! and handy for debugging; `parse(print(parse(x)))` prints the same.

use std::fmt::{self, Write};

use super::ast::*;
use super::lexer::Pragma;

impl fmt::Display for Specification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        defs(&mut out, &self.definitions, 0);
        f.write_str(&out)
    }
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn names(list: &[ScopedName]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn defs(out: &mut String, list: &[Definition], level: usize) {
    for d in list {
        def(out, d, level);
    }
}

fn body(out: &mut String, list: &[Definition], level: usize) {
    out.push_str(" {\n");
    defs(out, list, level + 1);
    indent(out, level);
    out.push('}');
}

fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(q, "\\x{:02x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn char_lit(c: u32) -> String {
    match char::from_u32(c) {
        Some(ch) if ch.is_ascii_graphic() && ch != '\'' && ch != '\\' => format!("'{ch}'"),
        _ if c <= 0xff => format!("'\\x{c:02x}'"),
        _ => format!("'\\u{c:04x}'"),
    }
}

fn def(out: &mut String, d: &Definition, level: usize) {
    if let DefKind::Pragma(p) = &d.kind {
        match p {
            Pragma::Prefix(s) => {
                let _ = writeln!(out, "#pragma prefix {}", quote(s));
            }
            Pragma::Id(n, abs, id) => {
                let _ = writeln!(
                    out,
                    "#pragma ID {}{} {}",
                    if *abs { "::" } else { "" },
                    n.join("::"),
                    quote(id)
                );
            }
            Pragma::Version(n, abs, v) => {
                let _ = writeln!(
                    out,
                    "#pragma version {}{} {v}",
                    if *abs { "::" } else { "" },
                    n.join("::")
                );
            }
            Pragma::EnterFile(_) | Pragma::ExitFile => {}
        }
        return;
    }
    indent(out, level);
    def_kind(out, &d.kind, level);
    out.push_str(";\n");
}

fn def_kind(out: &mut String, k: &DefKind, level: usize) {
    match k {
        DefKind::Module { name, body: b } => {
            let _ = write!(out, "module {}", name.name);
            body(out, b, level);
        }
        DefKind::Interface {
            kind,
            name,
            bases,
            body: b,
        } => {
            let _ = write!(out, "{}interface {}", iface_kind(*kind), name.name);
            if !bases.is_empty() {
                let _ = write!(out, " : {}", names(bases));
            }
            body(out, b, level);
        }
        DefKind::InterfaceForward { kind, name } => {
            let _ = write!(out, "{}interface {}", iface_kind(*kind), name.name);
        }
        DefKind::Value {
            kind,
            name,
            truncatable,
            bases,
            supports,
            body: b,
        } => {
            let _ = write!(out, "{}valuetype {}", value_kind(*kind), name.name);
            if !bases.is_empty() {
                let _ = write!(
                    out,
                    " : {}{}",
                    if *truncatable { "truncatable " } else { "" },
                    names(bases)
                );
            }
            if !supports.is_empty() {
                let _ = write!(out, " supports {}", names(supports));
            }
            body(out, b, level);
        }
        DefKind::ValueForward { kind, name } => {
            let _ = write!(out, "{}valuetype {}", value_kind(*kind), name.name);
        }
        DefKind::ValueBox { name, ty } => {
            let _ = write!(out, "valuetype {} {}", name.name, type_spec(ty, level));
        }
        DefKind::StateMember(m) => {
            let _ = write!(
                out,
                "{} {} {}",
                if m.public { "public" } else { "private" },
                type_spec(&m.ty, level),
                declarators(&m.declarators)
            );
        }
        DefKind::Factory {
            name,
            params: ps,
            raises,
        } => {
            let _ = write!(out, "factory {}({})", name.name, params(ps, level));
            raises_clause(out, "raises", raises);
        }
        DefKind::Struct { name, members: ms } => {
            let _ = writeln!(out, "struct {} {{", name.name);
            members(out, ms, level + 1);
            indent(out, level);
            out.push('}');
        }
        DefKind::StructForward { name } => {
            let _ = write!(out, "struct {}", name.name);
        }
        DefKind::Union {
            name,
            switch,
            cases,
        } => {
            let _ = writeln!(
                out,
                "union {} switch ({}) {{",
                name.name,
                type_spec(switch, level)
            );
            for c in cases {
                for l in &c.labels {
                    indent(out, level + 1);
                    match l {
                        CaseLabel::Value(e) => {
                            let _ = writeln!(out, "case {}:", expr(e));
                        }
                        CaseLabel::Default(_) => out.push_str("default:\n"),
                    }
                }
                indent(out, level + 2);
                let _ = writeln!(
                    out,
                    "{} {};",
                    type_spec(&c.ty, level + 2),
                    declarator(&c.declarator)
                );
            }
            indent(out, level);
            out.push('}');
        }
        DefKind::UnionForward { name } => {
            let _ = write!(out, "union {}", name.name);
        }
        DefKind::Enum { name, members } => {
            let list: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
            let _ = write!(out, "enum {} {{ {} }}", name.name, list.join(", "));
        }
        DefKind::Typedef {
            ty,
            declarators: ds,
        } => {
            let _ = write!(out, "typedef {} {}", type_spec(ty, level), declarators(ds));
        }
        DefKind::Native { name } => {
            let _ = write!(out, "native {}", name.name);
        }
        DefKind::Const { ty, name, value } => {
            let _ = write!(
                out,
                "const {} {} = {}",
                type_spec(ty, level),
                name.name,
                expr(value)
            );
        }
        DefKind::Exception { name, members: ms } => {
            let _ = writeln!(out, "exception {} {{", name.name);
            members(out, ms, level + 1);
            indent(out, level);
            out.push('}');
        }
        DefKind::Attribute(a) => {
            let list: Vec<&str> = a.names.iter().map(|n| n.name.as_str()).collect();
            let _ = write!(
                out,
                "{}attribute {} {}",
                if a.readonly { "readonly " } else { "" },
                type_spec(&a.ty, level),
                list.join(", ")
            );
            if a.readonly {
                raises_clause(out, "raises", &a.get_raises);
            } else {
                raises_clause(out, "getraises", &a.get_raises);
                raises_clause(out, "setraises", &a.set_raises);
            }
        }
        DefKind::Operation(op) => {
            let ret = op
                .ret
                .as_ref()
                .map_or_else(|| "void".to_owned(), |t| type_spec(t, level));
            let _ = write!(
                out,
                "{}{ret} {}({})",
                if op.oneway { "oneway " } else { "" },
                op.name.name,
                params(&op.params, level)
            );
            raises_clause(out, "raises", &op.raises);
            if !op.context.is_empty() {
                let list: Vec<String> = op.context.iter().map(|c| quote(c)).collect();
                let _ = write!(out, " context ({})", list.join(", "));
            }
        }
        DefKind::TypeId { name, id } => {
            let _ = write!(out, "typeid {name} {}", quote(id));
        }
        DefKind::TypePrefix { name, prefix } => {
            let _ = write!(out, "typeprefix {name} {}", quote(prefix));
        }
        DefKind::Import { what } => {
            let _ = write!(out, "import {what}");
        }
        DefKind::Pragma(_) => {}
    }
}

fn raises_clause(out: &mut String, kw: &str, list: &[ScopedName]) {
    if !list.is_empty() {
        let _ = write!(out, " {kw} ({})", names(list));
    }
}

fn iface_kind(k: InterfaceKind) -> &'static str {
    match k {
        InterfaceKind::Plain => "",
        InterfaceKind::Abstract => "abstract ",
        InterfaceKind::Local => "local ",
    }
}

fn value_kind(k: ValueKind) -> &'static str {
    match k {
        ValueKind::Concrete => "",
        ValueKind::Abstract => "abstract ",
        ValueKind::Custom => "custom ",
    }
}

fn members(out: &mut String, ms: &[Member], level: usize) {
    for m in ms {
        indent(out, level);
        let _ = writeln!(
            out,
            "{} {};",
            type_spec(&m.ty, level),
            declarators(&m.declarators)
        );
    }
}

fn params(ps: &[Param], level: usize) -> String {
    let list: Vec<String> = ps
        .iter()
        .map(|p| {
            let dir = match p.dir {
                ParamDir::In => "in",
                ParamDir::Out => "out",
                ParamDir::InOut => "inout",
            };
            format!("{dir} {} {}", type_spec(&p.ty, level), p.name.name)
        })
        .collect();
    list.join(", ")
}

fn declarator(d: &Declarator) -> String {
    let mut s = d.name.name.clone();
    for e in &d.dims {
        let _ = write!(s, "[{}]", expr(e));
    }
    s
}

fn declarators(ds: &[Declarator]) -> String {
    ds.iter().map(declarator).collect::<Vec<_>>().join(", ")
}

fn type_spec(t: &TypeSpec, level: usize) -> String {
    match t {
        TypeSpec::Base(b, _) => match b {
            BaseType::Short => "short",
            BaseType::Long => "long",
            BaseType::LongLong => "long long",
            BaseType::UShort => "unsigned short",
            BaseType::ULong => "unsigned long",
            BaseType::ULongLong => "unsigned long long",
            BaseType::Float => "float",
            BaseType::Double => "double",
            BaseType::LongDouble => "long double",
            BaseType::Char => "char",
            BaseType::WChar => "wchar",
            BaseType::Boolean => "boolean",
            BaseType::Octet => "octet",
            BaseType::Any => "any",
            BaseType::Object => "Object",
            BaseType::ValueBase => "ValueBase",
        }
        .to_owned(),
        TypeSpec::Named(n) => n.to_string(),
        TypeSpec::Sequence(e, b, _) => match b {
            Some(b) => format!("sequence<{}, {}>", type_spec(e, level), expr(b)),
            None => format!("sequence<{}>", type_spec(e, level)),
        },
        TypeSpec::String(b, _) => b
            .as_ref()
            .map_or_else(|| "string".to_owned(), |b| format!("string<{}>", expr(b))),
        TypeSpec::WString(b, _) => b
            .as_ref()
            .map_or_else(|| "wstring".to_owned(), |b| format!("wstring<{}>", expr(b))),
        TypeSpec::Fixed(None, _) => "fixed".to_owned(),
        TypeSpec::Fixed(Some((d, s)), _) => format!("fixed<{}, {}>", expr(d), expr(s)),
        TypeSpec::Constructed(d) => {
            let mut s = String::new();
            def_kind(&mut s, &d.kind, level);
            s
        }
    }
}

/// Prints a constant expression, fully parenthesised.
pub(crate) fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Float(v) => {
            let s = format!("{v:?}");
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        ExprKind::Fixed(s) => format!("{s}d"),
        ExprKind::Char(c) => char_lit(*c),
        ExprKind::WChar(c) => format!("L{}", char_lit(*c)),
        ExprKind::String(s) => quote(s),
        ExprKind::WString(s) => format!("L{}", quote(s)),
        ExprKind::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).to_owned(),
        ExprKind::Name(n) => n.to_string(),
        ExprKind::Unary(op, a) => {
            let o = match op {
                UnaryOp::Neg => "-",
                UnaryOp::Plus => "+",
                UnaryOp::Not => "~",
            };
            format!("{o}{}", expr(a))
        }
        ExprKind::Binary(op, a, b) => {
            let o = match op {
                BinaryOp::Or => "|",
                BinaryOp::Xor => "^",
                BinaryOp::And => "&",
                BinaryOp::Shl => "<<",
                BinaryOp::Shr => ">>",
                BinaryOp::Add => "+",
                BinaryOp::Sub => "-",
                BinaryOp::Mul => "*",
                BinaryOp::Div => "/",
                BinaryOp::Mod => "%",
            };
            format!("({} {o} {})", expr(a), expr(b))
        }
    }
}
