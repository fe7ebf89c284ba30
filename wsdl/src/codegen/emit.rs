//! Writes the Rust source of the types in a [`Model`]: structs with their
//! streaming `XmlRead`/`XmlWrite` impls, choice enums and value enums.

use std::fmt::Write as _;

use super::model::{ChoiceDef, ElementField, EnumDef, Member, Model, StructDef, TypeUse};

/// The runtime module generated code refers to.
pub(crate) const RT: &str = "::ithaca_wsdl::typed";

/// A Rust string literal.
pub(crate) fn lit(text: &str) -> String {
    format!("{text:?}")
}

/// The declared Rust type of an element field.
fn field_type(e: &ElementField, owner: &str) -> String {
    let inner = boxed(e, owner);
    if e.is_vec() {
        format!("::std::vec::Vec<{inner}>")
    } else if e.min == 0 || e.nillable {
        format!("::std::option::Option<{inner}>")
    } else {
        inner
    }
}

fn choice_type(c: &super::model::ChoiceField) -> String {
    if c.max != Some(1) {
        format!("::std::vec::Vec<{}>", c.enum_name)
    } else if c.min == 0 {
        format!("::std::option::Option<{}>", c.enum_name)
    } else {
        c.enum_name.clone()
    }
}

pub(crate) fn emit_types(model: &Model<'_>, out: &mut String) {
    for def in &model.enums {
        emit_enum(def, out);
    }
    for def in &model.unions {
        emit_union(def, out);
    }
    for def in &model.choices {
        emit_choice(def, out);
    }
    for def in &model.structs {
        emit_struct(def, model, out);
    }
}

fn emit_enum(def: &EnumDef, out: &mut String) {
    let _ = writeln!(out, "/// {}", def.doc);
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum {} {{",
        def.name
    );
    for (variant, value) in &def.values {
        let _ = writeln!(
            out,
            "    /// `{}`.\n    {variant},",
            value.replace('`', "'")
        );
    }
    out.push_str("}\n\n");
    let _ = writeln!(out, "impl {RT}::SimpleValue for {} {{", def.name);
    let _ = writeln!(
        out,
        "    const TYPE_NAME: &'static str = {};",
        lit(&def.name)
    );
    out.push_str("    fn parse_lexical(text: &str) -> ::std::option::Option<Self> {\n");
    out.push_str(
        "        match text.trim_matches(|c| matches!(c, ' ' | '\\t' | '\\n' | '\\r')) {\n",
    );
    for (variant, value) in &def.values {
        let _ = writeln!(
            out,
            "            {} => ::std::option::Option::Some(Self::{variant}),",
            lit(value)
        );
    }
    out.push_str("            _ => ::std::option::Option::None,\n        }\n    }\n");
    out.push_str(
        "    fn to_lexical(&self) -> ::std::borrow::Cow<'_, str> {\n        ::std::borrow::Cow::Borrowed(match self {\n",
    );
    for (variant, value) in &def.values {
        let _ = writeln!(out, "            Self::{variant} => {},", lit(value));
    }
    out.push_str("        })\n    }\n}\n\n");
}

/// A union: a newtype over the lexical form, which parses when one member
/// type accepts it (members tried in the schema's order).
fn emit_union(def: &super::model::UnionDef, out: &mut String) {
    let name = &def.name;
    let members = def
        .members
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "/// {}: the text as written, accepted when one of {members} parses it.\n#[derive(Debug, Clone, PartialEq, Eq, Hash)]\npub struct {name}(pub ::std::string::String);\n",
        def.doc
    );
    let _ = writeln!(out, "impl {RT}::SimpleValue for {name} {{");
    let _ = writeln!(out, "    const TYPE_NAME: &'static str = {};", lit(name));
    out.push_str("    fn parse_lexical(text: &str) -> ::std::option::Option<Self> {\n        let accepted = ");
    let checks = def
        .members
        .iter()
        .map(|m| format!("<{m} as {RT}::SimpleValue>::parse_lexical(text).is_some()"))
        .collect::<Vec<_>>();
    if checks.is_empty() {
        out.push_str("false");
    } else {
        out.push_str(&checks.join("\n            || "));
    }
    out.push_str(";\n        accepted.then(|| Self(text.to_owned()))\n    }\n");
    out.push_str("    fn to_lexical(&self) -> ::std::borrow::Cow<'_, str> {\n        ::std::borrow::Cow::Borrowed(&self.0)\n    }\n}\n\n");
}

fn emit_choice(def: &ChoiceDef, out: &mut String) {
    let _ = writeln!(
        out,
        "/// One of the elements of a choice in [`{}`].",
        def.owner
    );
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq)]\npub enum {} {{",
        def.name
    );
    for v in &def.variants {
        let ty = if v.boxed {
            format!("::std::boxed::Box<{}>", v.ty.rust())
        } else {
            v.ty.rust().to_owned()
        };
        let _ = writeln!(
            out,
            "    /// The {} `{}`.\n    {}({ty}),",
            if v.group {
                "sequence of elements starting with"
            } else {
                "element"
            },
            v.local,
            v.name
        );
    }
    out.push_str("}\n\n");
    let _ = writeln!(out, "impl {} {{", def.name);
    out.push_str("    fn write_content(&self, w: &mut ::ithaca_wsdl::typed::XmlWriter) {\n        match self {\n");
    for v in &def.variants {
        if v.group {
            let _ = writeln!(
                out,
                "            Self::{}(value) => value.write_content(w),",
                v.name
            );
            continue;
        }
        let _ = writeln!(
            out,
            "            Self::{}(value) => {RT}::XmlWrite::write_xml({}, w, {}, {}),",
            v.name,
            if v.boxed { "&**value" } else { "value" },
            lit(&v.namespace),
            lit(&v.local)
        );
    }
    out.push_str("        }\n    }\n\n");
    out.push_str("    fn matches(r: &::ithaca_wsdl::typed::XmlReader<'_>) -> bool {\n        ");
    let tests: Vec<String> = def
        .variants
        .iter()
        .map(|v| {
            if v.group {
                format!("{}::matches(r)", v.ty.rust())
            } else {
                format!("r.is({}, {})", lit(&v.namespace), lit(&v.local))
            }
        })
        .collect();
    if tests.is_empty() {
        out.push_str("let _ = r;\n        false");
    } else {
        out.push_str(&tests.join("\n            || "));
    }
    out.push_str("\n    }\n\n");
    let _ = writeln!(
        out,
        "    fn read(r: &mut ::ithaca_wsdl::typed::XmlReader<'_>) -> ::std::result::Result<Self, {RT}::DecodeError> {{"
    );
    for v in &def.variants {
        if v.group {
            let _ = writeln!(
                out,
                "        if {0}::matches(r) {{\n            return {0}::read(r){1}.map(Self::{2});\n        }}",
                v.ty.rust(),
                if v.boxed {
                    ".map(::std::boxed::Box::new)"
                } else {
                    ""
                },
                v.name
            );
            continue;
        }
        let _ = writeln!(
            out,
            "        if r.is({}, {}) {{\n            return {RT}::XmlRead::read_xml(r){}.map(Self::{});\n        }}",
            lit(&v.namespace),
            lit(&v.local),
            if v.boxed {
                ".map(::std::boxed::Box::new)"
            } else {
                ""
            },
            v.name
        );
    }
    out.push_str("        ::std::result::Result::Err(r.unexpected())\n    }\n}\n\n");
}

fn emit_struct(def: &StructDef, model: &Model<'_>, out: &mut String) {
    let _ = model;
    let _ = writeln!(out, "/// {}", def.doc);
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq)]\npub struct {} {{",
        def.name
    );
    for a in &def.attributes {
        let ty = if a.required {
            a.ty.clone()
        } else {
            format!("::std::option::Option<{}>", a.ty)
        };
        let _ = writeln!(
            out,
            "    /// The attribute `{}`.\n    pub {}: {ty},",
            a.local, a.field
        );
    }
    if let Some(ty) = &def.simple_content {
        let _ = writeln!(
            out,
            "    /// The element's character data.\n    pub value: {ty},"
        );
    }
    for member in &def.members {
        match member {
            Member::Element(e) => {
                let _ = writeln!(
                    out,
                    "    /// The element `{}`{}.\n    pub {}: {},",
                    e.local,
                    if e.nillable { " (nillable)" } else { "" },
                    e.field,
                    field_type(e, &def.name)
                );
            }
            Member::Choice(c) => {
                let _ = writeln!(
                    out,
                    "    /// {}\n    pub {}: {},",
                    if c.group {
                        "The occurrences of a repeated sequence."
                    } else {
                        "A choice of elements."
                    },
                    c.field,
                    choice_type(c)
                );
            }
        }
    }
    out.push_str("}\n\n");
    emit_read(def, out);
    emit_write(def, out);
}

/// The reader of a struct: an `XmlRead` impl, or for a group (a run of
/// sibling elements) `matches`, which tells whether the peeked element
/// starts or continues one, and `read`, which reads one occurrence and
/// stops at the first element that is not its own or repeats one it holds.
fn emit_read(def: &StructDef, out: &mut String) {
    if def.group {
        let _ = writeln!(out, "impl {} {{", def.name);
        out.push_str("    fn matches(r: &::ithaca_wsdl::typed::XmlReader<'_>) -> bool {\n        ");
        let tests: Vec<String> = def
            .members
            .iter()
            .filter_map(|m| match m {
                Member::Element(e) => {
                    Some(format!("r.is({}, {})", lit(&e.namespace), lit(&e.local)))
                }
                Member::Choice(_) => None,
            })
            .collect();
        if tests.is_empty() {
            out.push_str("let _ = r;\n        false");
        } else {
            out.push_str(&tests.join("\n            || "));
        }
        out.push_str("\n    }\n\n");
        let _ = writeln!(
            out,
            "    fn read(r: &mut {RT}::XmlReader<'_>) -> ::std::result::Result<Self, {RT}::DecodeError> {{"
        );
    } else {
        let _ = writeln!(out, "impl {RT}::XmlRead for {} {{", def.name);
        let _ = writeln!(
            out,
            "    fn read_xml(r: &mut {RT}::XmlReader<'_>) -> ::std::result::Result<Self, {RT}::DecodeError> {{"
        );
    }
    // A group ends where an element repeats one it holds; an element ends
    // with an error there.
    let repeated = if def.group {
        "break;"
    } else {
        "return ::std::result::Result::Err(r.unexpected());"
    };
    for a in &def.attributes {
        let method = if a.required {
            "required_attribute"
        } else {
            "parse_attribute"
        };
        let _ = writeln!(
            out,
            "        let {} = r.{method}::<{}>({}, {})?;",
            binding(&a.field),
            a.ty,
            lit(&a.namespace),
            lit(&a.local)
        );
    }
    if let Some(ty) = &def.simple_content {
        let _ = writeln!(out, "        let value: {ty} = r.simple_content()?;");
    } else {
        if !def.group {
            out.push_str("        r.open()?;\n");
        }
        for member in &def.members {
            match member {
                Member::Element(e) => {
                    let slot = if e.is_vec() {
                        format!("::std::vec::Vec<{}>", boxed(e, &def.name))
                    } else if e.nillable {
                        format!(
                            "::std::option::Option<::std::option::Option<{}>>",
                            boxed(e, &def.name)
                        )
                    } else {
                        format!("::std::option::Option<{}>", boxed(e, &def.name))
                    };
                    let init = if e.is_vec() {
                        "::std::vec::Vec::new()"
                    } else {
                        "::std::option::Option::None"
                    };
                    let _ = writeln!(
                        out,
                        "        let mut {}: {slot} = {init};",
                        binding(&e.field)
                    );
                }
                Member::Choice(c) => {
                    let (slot, init) = if c.max != Some(1) {
                        (
                            format!("::std::vec::Vec<{}>", c.enum_name),
                            "::std::vec::Vec::new()",
                        )
                    } else {
                        (
                            format!("::std::option::Option<{}>", c.enum_name),
                            "::std::option::Option::None",
                        )
                    };
                    let _ = writeln!(
                        out,
                        "        let mut {}: {slot} = {init};",
                        binding(&c.field)
                    );
                }
            }
        }
        let never_loops = def.members.is_empty() && !def.allow_any;
        out.push_str(if never_loops {
            "        if r.peek()? {\n"
        } else {
            "        while r.peek()? {\n"
        });
        let mut first = true;
        for member in &def.members {
            let keyword = if first { "if" } else { "} else if" };
            first = false;
            match member {
                Member::Element(e) => {
                    let b = binding(&e.field);
                    let _ = writeln!(
                        out,
                        "            {keyword} r.is({}, {}) {{",
                        lit(&e.namespace),
                        lit(&e.local)
                    );
                    let array = matches!(e.ty, TypeUse::Array(_));
                    let read = match (e.nillable && !e.is_vec(), e.boxed) {
                        (true, false) if array => "r.read_nillable_array()?".to_owned(),
                        (false, false) if array => format!("{RT}::read_array(r)?"),
                        (true, false) => "r.read_nillable()?".to_owned(),
                        (true, true) => "r.read_nillable()?.map(::std::boxed::Box::new)".to_owned(),
                        (false, false) => format!("{RT}::XmlRead::read_xml(r)?"),
                        (false, true) => {
                            format!("::std::boxed::Box::new({RT}::XmlRead::read_xml(r)?)")
                        }
                    };
                    if e.is_vec() {
                        let _ = writeln!(out, "                {b}.push({read});");
                    } else {
                        let _ = writeln!(
                            out,
                            "                if {b}.is_some() {{\n                    {repeated}\n                }}\n                {b} = ::std::option::Option::Some({read});"
                        );
                    }
                }
                Member::Choice(c) => {
                    let b = binding(&c.field);
                    let _ = writeln!(out, "            {keyword} {}::matches(r) {{", c.enum_name);
                    if c.max != Some(1) {
                        let _ =
                            writeln!(out, "                {b}.push({}::read(r)?);", c.enum_name);
                    } else {
                        let _ = writeln!(
                            out,
                            "                if {b}.is_some() {{\n                    {repeated}\n                }}\n                {b} = ::std::option::Option::Some({}::read(r)?);",
                            c.enum_name
                        );
                    }
                }
            }
        }
        let fallback = if def.group {
            "break;"
        } else if def.allow_any {
            "r.skip()?;"
        } else {
            "return ::std::result::Result::Err(r.unexpected());"
        };
        if def.members.is_empty() {
            let _ = writeln!(out, "            {fallback}");
        } else {
            let _ = writeln!(
                out,
                "            }} else {{\n                {fallback}\n            }}"
            );
        }
        out.push_str("        }\n");
        // Required elements and maxOccurs, checked before leaving.
        for member in &def.members {
            match member {
                Member::Element(e) => {
                    let b = binding(&e.field);
                    if e.is_vec() {
                        if e.min == 1 {
                            let _ = writeln!(
                                out,
                                "        if {b}.is_empty() {{\n            return ::std::result::Result::Err(r.missing({}));\n        }}",
                                lit(&e.local)
                            );
                        } else if e.min > 1 {
                            let _ = writeln!(
                                out,
                                "        if {b}.len() < {} {{\n            return ::std::result::Result::Err(r.missing({}));\n        }}",
                                e.min,
                                lit(&e.local)
                            );
                        }
                        if let Some(max) = e.max {
                            let _ = writeln!(
                                out,
                                "        r.check_max(&{b}, {max}, {})?;",
                                lit(&e.local)
                            );
                        }
                    } else if e.min > 0 {
                        let _ = writeln!(
                            out,
                            "        let {b} = r.required({b}, {})?;",
                            lit(&e.local)
                        );
                    } else if e.nillable {
                        let _ = writeln!(out, "        let {b} = {b}.flatten();");
                    }
                }
                Member::Choice(c) => {
                    let b = binding(&c.field);
                    if c.max != Some(1) {
                        if let Some(max) = c.max {
                            let _ = writeln!(out, "        r.check_max(&{b}, {max}, \"choice\")?;");
                        }
                    } else if c.min > 0 {
                        let _ = writeln!(out, "        let {b} = r.required({b}, \"choice\")?;");
                    }
                }
            }
        }
        if !def.group {
            out.push_str("        r.close()?;\n");
        }
    }
    out.push_str("        ::std::result::Result::Ok(Self {\n");
    for a in &def.attributes {
        let _ = writeln!(out, "            {}: {},", a.field, binding(&a.field));
    }
    if def.simple_content.is_some() {
        out.push_str("            value,\n");
    }
    for member in &def.members {
        let field = match member {
            Member::Element(e) => &e.field,
            Member::Choice(c) => &c.field,
        };
        let _ = writeln!(out, "            {field}: {},", binding(field));
    }
    out.push_str("        })\n    }\n}\n\n");
}

/// The writer of a struct: an `XmlWrite` impl, or for a group
/// `write_content`, which writes its elements in the parent.
fn emit_write(def: &StructDef, out: &mut String) {
    if def.group {
        let _ = writeln!(out, "impl {} {{", def.name);
        let _ = writeln!(
            out,
            "    fn write_content(&self, w: &mut {RT}::XmlWriter) {{"
        );
    } else {
        let _ = writeln!(out, "impl {RT}::XmlWrite for {} {{", def.name);
        let _ = writeln!(
            out,
            "    fn write_xml(&self, w: &mut {RT}::XmlWriter, namespace: &str, local: &str) {{"
        );
        out.push_str("        w.start(namespace, local);\n");
    }
    for a in &def.attributes {
        if a.required {
            let _ = writeln!(
                out,
                "        w.simple_attribute({}, {}, &self.{});",
                lit(&a.namespace),
                lit(&a.local),
                a.field
            );
        } else {
            let _ = writeln!(
                out,
                "        if let ::std::option::Option::Some(value) = &self.{} {{\n            w.simple_attribute({}, {}, value);\n        }}",
                a.field,
                lit(&a.namespace),
                lit(&a.local)
            );
        }
    }
    if def.simple_content.is_some() {
        let _ = writeln!(
            out,
            "        w.text(&{RT}::SimpleValue::to_lexical(&self.value));"
        );
    }
    for member in &def.members {
        match member {
            Member::Element(e) => {
                let (ns, local) = (lit(&e.namespace), lit(&e.local));
                let write = writer(e);
                if e.is_vec() {
                    let _ = writeln!(
                        out,
                        "        for value in &self.{} {{\n            {write}(value, w, {ns}, {local});\n        }}",
                        e.field
                    );
                } else if e.nillable && e.min > 0 {
                    let _ = writeln!(
                        out,
                        "        match &self.{} {{\n            ::std::option::Option::Some(value) => {write}({}, w, {ns}, {local}),\n            ::std::option::Option::None => w.nil({ns}, {local}),\n        }}",
                        e.field,
                        if e.boxed { "&**value" } else { "value" }
                    );
                } else if e.min == 0 || e.nillable {
                    let _ = writeln!(
                        out,
                        "        if let ::std::option::Option::Some(value) = &self.{} {{\n            {write}({}, w, {ns}, {local});\n        }}",
                        e.field,
                        if e.boxed { "&**value" } else { "value" }
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "        {write}({}self.{}, w, {ns}, {local});",
                        if e.boxed { "&*" } else { "&" },
                        e.field
                    );
                }
            }
            Member::Choice(c) => {
                if c.max != Some(1) {
                    let _ = writeln!(
                        out,
                        "        for value in &self.{} {{\n            value.write_content(w);\n        }}",
                        c.field
                    );
                } else if c.min == 0 {
                    let _ = writeln!(
                        out,
                        "        if let ::std::option::Option::Some(value) = &self.{} {{\n            value.write_content(w);\n        }}",
                        c.field
                    );
                } else {
                    let _ = writeln!(out, "        self.{}.write_content(w);", c.field);
                }
            }
        }
    }
    if !def.group {
        out.push_str("        w.end();\n");
    }
    out.push_str("    }\n}\n\n");
}

/// The function that writes an element field's value: the runtime's
/// `write_array` for a SOAP-encoded array, `XmlWrite::write_xml` for the
/// rest.
fn writer(e: &ElementField) -> String {
    match e.ty {
        TypeUse::Array(_) => format!("{RT}::write_array"),
        _ => format!("{RT}::XmlWrite::write_xml"),
    }
}

fn boxed(e: &ElementField, owner: &str) -> String {
    let ty = if e.ty.rust() == owner {
        "Self"
    } else {
        e.ty.rust()
    };
    if e.boxed {
        format!("::std::boxed::Box<{ty}>")
    } else {
        ty.to_owned()
    }
}

/// The local variable holding a field while reading (`f_` + the field
/// name without a raw prefix).
fn binding(field: &str) -> String {
    format!("f_{}", field.trim_start_matches("r#"))
}
