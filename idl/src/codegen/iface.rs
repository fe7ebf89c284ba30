//! Interfaces: the servant trait, the client stub, the skeleton that plugs
//! a servant into [`OrbServer`](crate::orb::OrbServer), and the
//! per-operation reply structs and error enums.

use std::fmt::Write as _;

use super::Generator;
use super::names;
use super::types::{RT, Val};
use crate::front::ast::{InterfaceKind, ParamDir};
use crate::front::model::{Decl, DeclId, DeclKind, Type};

/// An operation or attribute accessor, as generated code sees it.
struct Method<'a> {
    /// The interface that declares it.
    owner: DeclId,
    /// The operation name on the wire (`_get_x` for attributes).
    wire: String,
    /// The Rust method name.
    rust: String,
    /// The prefix of its reply struct and error enum (`EchoString`).
    item: String,
    oneway: bool,
    ret: Option<&'a Type>,
    params: Vec<Param<'a>>,
    raises: &'a [DeclId],
    /// What the IDL says, for docs.
    idl: String,
}

struct Param<'a> {
    rust: String,
    dir: ParamDir,
    ty: &'a Type,
}

/// One value of a reply, in wire order.
enum Output<'a> {
    /// The result, or an `out` parameter: part of the returned value.
    Returned { field: String, ty: &'a Type },
    /// An `inout` parameter: written back through `&mut`.
    InOut { param: String, ty: &'a Type },
}

impl Method<'_> {
    fn outputs(&self) -> Vec<Output<'_>> {
        let mut fields = Vec::new();
        if self.ret.is_some() {
            fields.push("result".to_owned());
        }
        fields.extend(
            self.params
                .iter()
                .filter(|p| p.dir == ParamDir::Out)
                .map(|p| p.rust.trim_start_matches("r#").to_owned()),
        );
        let mut fields = names::distinct(fields)
            .into_iter()
            .map(|f| names::escape(&f));
        let mut out = Vec::new();
        if let Some(ty) = self.ret {
            out.push(Output::Returned {
                field: fields.next().unwrap_or_default(),
                ty,
            });
        }
        for p in &self.params {
            match p.dir {
                ParamDir::In => {}
                ParamDir::Out => out.push(Output::Returned {
                    field: fields.next().unwrap_or_default(),
                    ty: p.ty,
                }),
                ParamDir::InOut => out.push(Output::InOut {
                    param: p.rust.clone(),
                    ty: p.ty,
                }),
            }
        }
        out
    }

    fn returned(&self) -> usize {
        usize::from(self.ret.is_some())
            + self
                .params
                .iter()
                .filter(|p| p.dir == ParamDir::Out)
                .count()
    }

    fn args(&self) -> impl Iterator<Item = &Param<'_>> {
        self.params.iter().filter(|p| p.dir != ParamDir::Out)
    }
}

fn dir_name(dir: ParamDir) -> &'static str {
    match dir {
        ParamDir::In => "in",
        ParamDir::Out => "out",
        ParamDir::InOut => "inout",
    }
}

const OBJECT_ID: &str = "IDL:omg.org/CORBA/Object:1.0";

/// The blocking twin of a generated async client: the same methods on
/// [`BlockingOrbClient`](crate::orb::BlockingOrbClient), for synchronous
/// callers (one `send` and one `recv` per call on the calling thread, as
/// omniORB's stubs do). Derived from the async client's text, which this
/// module writes itself.
fn blocking_client(async_client: &str, idl_name: &str) -> String {
    let bare = names::type_name(idl_name)
        .trim_start_matches("r#")
        .to_owned();
    async_client
        .replace("\n            .await", "")
        .replace(".await", "")
        .replace("pub async fn", "pub fn")
        .replace("::ithaca_idl::orb::OrbClient", "::ithaca_idl::orb::BlockingOrbClient")
        .replace(&format!("{RT}::is_a("), &format!("{RT}::is_a_blocking("))
        .replace(&format!("{RT}::invoke("), &format!("{RT}::invoke_blocking("))
        .replace(&format!("{RT}::locate("), &format!("{RT}::locate_blocking("))
        .replace(&format!("{RT}::connect_ior("), &format!("{RT}::connect_ior_blocking("))
        .replace(
            &format!("pub struct {bare}Client "),
            &format!("pub struct {bare}BlockingClient "),
        )
        .replace(
            &format!("impl {bare}Client "),
            &format!("impl {bare}BlockingClient "),
        )
        .replace(
            "/// A client of IDL interface",
            "/// A blocking client (calls block the calling thread; no async runtime needed) of IDL interface",
        )
}

/// Methods every generated client has; operations with these names get a
/// trailing `_op`.
const CLIENT_METHODS: &[&str] = &[
    "new",
    "connect_corbaloc",
    "from_ior",
    "narrow",
    "is_a",
    "locate",
    "orb",
    "key",
    "into_parts",
];

/// Names generated method bodies use for their own locals; parameters
/// with these names get a trailing `_`.
const LOCALS: &[&str] = &[
    "w",
    "r",
    "reply",
    "read",
    "out",
    "call",
    "members",
    "id",
    "other",
    "e",
    "x",
    "s",
    "args",
    "operation",
    "value_",
];

fn param_name(idl: &str) -> String {
    let rust = names::snake(idl);
    let generated_local = |prefix: char| {
        rust.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    };
    if LOCALS.contains(&rust.as_str())
        || rust.starts_with("o_")
        || generated_local('e')
        || generated_local('v')
        || generated_local('n')
    {
        format!("{rust}_")
    } else {
        rust
    }
}

fn method_name(rust: String) -> String {
    if CLIENT_METHODS.contains(&rust.as_str()) {
        format!("{rust}_op")
    } else {
        rust
    }
}

impl Generator<'_> {
    /// The methods an interface declares itself.
    fn own_methods(&self, id: DeclId) -> Vec<Method<'_>> {
        let Some(DeclKind::Interface {
            operations,
            attributes,
            ..
        }) = self.model.get(id).map(|d| &d.kind)
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for op in operations {
            let rust_names =
                names::distinct(op.params.iter().map(|p| param_name(&p.name)).collect());
            let params: Vec<Param<'_>> = op
                .params
                .iter()
                .zip(rust_names)
                .map(|(p, rust)| Param {
                    rust,
                    dir: p.dir,
                    ty: &p.ty,
                })
                .collect();
            let sig: Vec<String> = op
                .params
                .iter()
                .map(|p| {
                    format!(
                        "{} {} {}",
                        dir_name(p.dir),
                        self.model.type_name(&p.ty),
                        p.name
                    )
                })
                .collect();
            out.push(Method {
                owner: id,
                wire: op.name.clone(),
                rust: method_name(names::snake(&op.name)),
                item: names::camel(&op.name).trim_start_matches("r#").to_owned(),
                oneway: op.oneway,
                ret: op.ret.as_ref(),
                params,
                raises: &op.raises,
                idl: format!(
                    "{}{} {}({})",
                    if op.oneway { "oneway " } else { "" },
                    op.ret
                        .as_ref()
                        .map_or_else(|| "void".into(), |t| self.model.type_name(t)),
                    op.name,
                    sig.join(", ")
                ),
            });
        }
        for a in attributes {
            let camel = names::camel(&a.name).trim_start_matches("r#").to_owned();
            let ty_name = self.model.type_name(&a.ty);
            out.push(Method {
                owner: id,
                wire: format!("_get_{}", a.name),
                rust: method_name(names::snake(&a.name)),
                item: format!("Get{camel}"),
                oneway: false,
                ret: Some(&a.ty),
                params: Vec::new(),
                raises: &a.get_raises,
                idl: format!(
                    "{}attribute {ty_name} {} (get)",
                    if a.readonly { "readonly " } else { "" },
                    a.name
                ),
            });
            if !a.readonly {
                out.push(Method {
                    owner: id,
                    wire: format!("_set_{}", a.name),
                    rust: format!("set_{}", names::snake(&a.name).trim_start_matches("r#")),
                    item: format!("Set{camel}"),
                    oneway: false,
                    ret: None,
                    params: vec![Param {
                        rust: "value".into(),
                        dir: ParamDir::In,
                        ty: &a.ty,
                    }],
                    raises: &a.set_raises,
                    idl: format!("attribute {ty_name} {} (set)", a.name),
                });
            }
        }
        out
    }

    /// The interface and its plain bases, nearest first.
    fn with_bases(&self, id: DeclId) -> Vec<DeclId> {
        std::iter::once(id)
            .chain(self.model.all_bases(id))
            .filter(|b| {
                matches!(
                    self.model.get(*b).map(|d| &d.kind),
                    Some(DeclKind::Interface {
                        kind: InterfaceKind::Plain,
                        ..
                    })
                )
            })
            .collect()
    }

    /// What a method returns on success, seen from `cur`.
    fn ok_type(&self, m: &Method<'_>, cur: &[String]) -> Result<String, String> {
        let outputs = m.outputs();
        let returned: Vec<&Type> = outputs
            .iter()
            .filter_map(|o| match o {
                Output::Returned { ty, .. } => Some(*ty),
                Output::InOut { .. } => None,
            })
            .collect();
        Ok(match returned.as_slice() {
            [] => "()".into(),
            [ty] => self.rust_type(ty, cur)?,
            _ => format!("{}::{}Reply", self.scope_path(m.owner, cur), m.item),
        })
    }

    /// A method's error type, seen from `cur`.
    fn err_type(&self, m: &Method<'_>, cur: &[String]) -> String {
        if m.raises.is_empty() {
            format!("{RT}::SystemError")
        } else {
            format!("{}::{}Error", self.scope_path(m.owner, cur), m.item)
        }
    }

    fn exception_variants(&self, raises: &[DeclId]) -> Vec<String> {
        let mut all = vec!["System".to_owned()];
        all.extend(raises.iter().map(|e| {
            self.model
                .get(*e)
                .map_or_else(|| "Unknown".into(), |d| names::camel(&d.name))
        }));
        names::distinct(all).into_iter().skip(1).collect()
    }

    /// Generates an interface: the items of its parent module (trait,
    /// client, skeleton) and of its own module.
    pub(crate) fn gen_interface(
        &self,
        id: DeclId,
        decl: &Decl,
        cur: &[String],
    ) -> Result<(String, Vec<String>), String> {
        let mut scope_cur = cur.to_vec();
        scope_cur.push(names::snake(&decl.name));
        let scope = self.scope_path(id, cur);
        let own = self.own_methods(id);
        let chain = self.with_bases(id);
        let all: Vec<Method<'_>> = chain.iter().flat_map(|b| self.own_methods(*b)).collect();

        // The interface's own module.
        let mut scope_items = Vec::new();
        let ids: Vec<String> = chain
            .iter()
            .filter_map(|b| self.model.get(*b))
            .map(|d| format!("{:?}", d.repo_id))
            .collect();
        scope_items.push(format!(
            "/// The repository id of `{}`.\npub const REPOSITORY_ID: &str = {:?};\n\n/// The repository ids `_is_a` is true for: this interface's and its bases'.\npub const REPOSITORY_IDS: &[&str] = &[{}];",
            decl.scoped_name,
            decl.repo_id,
            ids.join(", ")
        ));
        for m in &own {
            scope_items.extend(self.scope_items(m, &scope_cur)?);
        }

        let mut out = String::new();
        out.push_str(&self.gen_trait(decl, &own, cur)?);
        let client = self.gen_client(decl, &all, cur, &scope)?;
        out.push_str(&blocking_client(&client, &decl.name));
        out.push_str(&client);
        out.push_str(&self.gen_skeleton(decl, &all, cur, &scope)?);
        Ok((out, scope_items))
    }

    /// A method's reply struct, error enum and argument reader.
    fn scope_items(&self, m: &Method<'_>, cur: &[String]) -> Result<Vec<String>, String> {
        let mut items = Vec::new();
        if m.returned() > 1 {
            let mut s = format!(
                "/// What `{}` returns: `{}`.\n#[derive(Clone, Debug, PartialEq)]\npub struct {}Reply {{\n",
                m.wire, m.idl, m.item
            );
            for o in m.outputs() {
                if let Output::Returned { field, ty } = o {
                    let _ = writeln!(
                        s,
                        "    /// `{}`.\n    pub {field}: {},",
                        field.trim_start_matches("r#"),
                        self.rust_type(ty, cur)?
                    );
                }
            }
            s.push('}');
            items.push(s);
        }
        if !m.raises.is_empty() {
            let variants = self.exception_variants(m.raises);
            let mut s = format!(
                "/// What `{}` raises.\n#[derive(Clone, Debug, PartialEq)]\npub enum {}Error {{\n",
                m.wire, m.item
            );
            let mut display = String::new();
            for (e, v) in m.raises.iter().zip(&variants) {
                let scoped = self.model.get(*e).map_or("", |d| d.scoped_name.as_str());
                let _ = writeln!(
                    s,
                    "    /// `{scoped}`.\n    {v}({}),",
                    self.path_to(*e, cur)
                );
                let _ = writeln!(
                    display,
                    "            Self::{v}(e) => ::std::fmt::Display::fmt(e, f),"
                );
            }
            let _ = write!(
                s,
                "    /// A system exception.\n    System({RT}::SystemError),\n}}\n\nimpl ::core::convert::From<{RT}::SystemError> for {item}Error {{\n    fn from(e: {RT}::SystemError) -> Self {{\n        Self::System(e)\n    }}\n}}\n\nimpl ::std::fmt::Display for {item}Error {{\n    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{\n        match self {{\n{display}            Self::System(e) => ::std::fmt::Display::fmt(e, f),\n        }}\n    }}\n}}\n\nimpl ::std::error::Error for {item}Error {{}}",
                item = m.item
            );
            items.push(s);
        }
        let args: Vec<&Param<'_>> = m.args().collect();
        if !args.is_empty() {
            let types: Vec<String> = args
                .iter()
                .map(|p| self.rust_type(p.ty, cur))
                .collect::<Result<_, _>>()?;
            let reads: Vec<String> = args
                .iter()
                .map(|p| self.decode(p.ty, 0, cur))
                .collect::<Result<_, _>>()?;
            items.push(format!(
                "/// Reads the arguments of `{}` (skeletons call this).\n#[doc(hidden)]\npub fn {}_args(r: &mut ::ithaca_idl::cdr::CdrReader) -> ::ithaca_idl::Result<({},)> {{\n    Ok(({},))\n}}",
                m.wire,
                m.rust.trim_start_matches("r#"),
                types.join(", "),
                reads.join(", ")
            ));
        }
        Ok(items)
    }

    fn gen_trait(&self, decl: &Decl, own: &[Method<'_>], cur: &[String]) -> Result<String, String> {
        let name = names::type_name(&decl.name);
        let mut supers: Vec<String> = Vec::new();
        if let Some(DeclKind::Interface { bases, .. }) = Some(&decl.kind) {
            for b in bases {
                if matches!(
                    self.model.get(*b).map(|d| &d.kind),
                    Some(DeclKind::Interface {
                        kind: InterfaceKind::Plain,
                        ..
                    })
                ) {
                    supers.push(self.path_to(*b, cur));
                }
            }
        }
        supers.extend([
            "::core::marker::Send".to_owned(),
            "::core::marker::Sync".to_owned(),
            "'static".to_owned(),
        ]);
        let mut out = format!(
            "{}///\n/// The servant: implement it and serve it with [`{}Skeleton`].\npub trait {name}: {} {{\n",
            super::emit::doc_of(decl),
            name.trim_start_matches("r#"),
            supers.join(" + ")
        );
        for m in own {
            let mut params = Vec::new();
            for p in m.args() {
                let ty = self.rust_type(p.ty, cur)?;
                params.push(match p.dir {
                    ParamDir::InOut => format!("{}: &mut {ty}", p.rust),
                    _ => format!("{}: {ty}", p.rust),
                });
            }
            let _ = writeln!(
                out,
                "    /// `{}`.\n    fn {}(&self{}) -> impl ::core::future::Future<Output = ::core::result::Result<{}, {}>> + ::core::marker::Send;",
                m.idl,
                m.rust,
                params.iter().map(|p| format!(", {p}")).collect::<String>(),
                self.ok_type(m, cur)?,
                self.err_type(m, cur)
            );
        }
        out.push_str("}\n\n");
        Ok(out)
    }

    fn gen_client(
        &self,
        decl: &Decl,
        all: &[Method<'_>],
        cur: &[String],
        scope: &str,
    ) -> Result<String, String> {
        let bare = names::type_name(&decl.name)
            .trim_start_matches("r#")
            .to_owned();
        let client = format!("{bare}Client");
        let mut out = format!(
            "/// A client of IDL interface `{}`: one method per operation and attribute, its own and its bases'.\n///\n/// Location forwards (LOCATION_FORWARD, LOCATION_FORWARD_PERM, and OBJECT_FORWARD to [`Self::locate`]) are followed up to `ClientConfig::max_forwards` hops; the client then stays on the object it was forwarded to.\n#[derive(Debug)]\npub struct {client} {{\n    orb: ::ithaca_idl::orb::OrbClient,\n    key: {RT}::Bytes,\n}}\n\n",
            decl.scoped_name
        );
        let _ = write!(
            out,
            "impl {client} {{
    /// The interface's repository id.
    pub const REPOSITORY_ID: &'static str = {scope}::REPOSITORY_ID;

    /// A client of the object under `key` on a connected ORB client.
    pub fn new(orb: ::ithaca_idl::orb::OrbClient, key: impl ::core::convert::Into<{RT}::Bytes>) -> Self {{
        Self {{ orb, key: key.into() }}
    }}

    /// Connects to the object a `corbaloc:` URL names (not checked with `_is_a`).
    pub async fn connect_corbaloc(url: &str, config: ::ithaca_idl::orb::ClientConfig) -> ::core::result::Result<Self, {RT}::SystemError> {{
        let (orb, key) = ::ithaca_idl::orb::OrbClient::connect_corbaloc(url, config)
            .await
            .map_err(|e| {RT}::SystemError::from_orb_error(&e))?;
        Ok(Self {{ orb, key }})
    }}

    /// Connects to the object an IOR names (not checked with `_is_a`).
    pub async fn from_ior(ior: &::ithaca_idl::ior::Ior, config: ::ithaca_idl::orb::ClientConfig) -> ::core::result::Result<Self, {RT}::SystemError> {{
        let (orb, key) = {RT}::connect_ior(ior, config).await?;
        Ok(Self {{ orb, key }})
    }}

    /// Narrows: a client if the object under `key` implements this interface (`_is_a`), `None` if not.
    pub async fn narrow(mut orb: ::ithaca_idl::orb::OrbClient, key: impl ::core::convert::Into<{RT}::Bytes>) -> ::core::result::Result<::core::option::Option<Self>, {RT}::SystemError> {{
        let mut key = key.into();
        if {RT}::is_a(&mut orb, &mut key, Self::REPOSITORY_ID).await? {{
            Ok(Some(Self {{ orb, key }}))
        }} else {{
            Ok(None)
        }}
    }}

    /// Whether the object implements the interface with this repository id.
    pub async fn is_a(&mut self, repository_id: &str) -> ::core::result::Result<bool, {RT}::SystemError> {{
        {RT}::is_a(&mut self.orb, &mut self.key, repository_id).await
    }}

    /// Asks the server where the object is (LocateRequest), following OBJECT_FORWARD answers: true if it is there, false if the server does not know it.
    pub async fn locate(&mut self) -> ::core::result::Result<bool, {RT}::SystemError> {{
        {RT}::locate(&mut self.orb, &mut self.key).await
    }}

    /// The ORB client, for DII-style calls.
    pub fn orb(&mut self) -> &mut ::ithaca_idl::orb::OrbClient {{
        &mut self.orb
    }}

    /// The object key.
    pub fn key(&self) -> &{RT}::Bytes {{
        &self.key
    }}

    /// The ORB client and object key, to build a client of another interface.
    pub fn into_parts(self) -> (::ithaca_idl::orb::OrbClient, {RT}::Bytes) {{
        (self.orb, self.key)
    }}
"
        );
        for m in all {
            out.push('\n');
            out.push_str(&self.client_method(m, cur)?);
        }
        out.push_str("}\n\n");
        Ok(out)
    }

    fn client_method(&self, m: &Method<'_>, cur: &[String]) -> Result<String, String> {
        let mut params = Vec::new();
        let mut writes = Vec::new();
        for p in m.args() {
            match p.dir {
                ParamDir::InOut => {
                    params.push(format!("{}: &mut {}", p.rust, self.rust_type(p.ty, cur)?));
                    writes.push(self.encode(p.ty, &Val::Ref(p.rust.clone()), 0, cur)?);
                }
                _ => {
                    params.push(format!("{}: {}", p.rust, self.client_in_type(p.ty, cur)?));
                    let v = if self.by_value(p.ty) {
                        Val::Place(p.rust.clone())
                    } else {
                        Val::Ref(p.rust.clone())
                    };
                    writes.push(self.encode(p.ty, &v, 0, cur)?);
                }
            }
        }
        let args_closure = if writes.is_empty() {
            "|_| Ok(())".to_owned()
        } else {
            format!("|w| {{ {} Ok(()) }}", writes.join(" "))
        };
        let params: String = params.iter().map(|p| format!(", {p}")).collect();
        let wire = &m.wire;
        if m.oneway {
            return Ok(format!(
                "    /// `{}` (oneway: returns once the request is sent).\n    pub async fn {}(&mut self{params}) -> ::core::result::Result<(), {RT}::SystemError> {{\n        self.orb\n            .invoke_oneway(&self.key, {wire:?}, {args_closure})\n            .await\n            .map_err(|e| {RT}::SystemError::from_orb_error(&e))\n    }}\n",
                m.idl, m.rust
            ));
        }
        let ok = self.ok_type(m, cur)?;
        let err = self.err_type(m, cur);
        let into = if m.raises.is_empty() { "" } else { ".into()" };
        let outputs = m.outputs();
        let returned = m.returned();
        let mut reads = Vec::new();
        let mut fields = Vec::new();
        for o in &outputs {
            match o {
                Output::Returned { field, ty } => {
                    let local = format!("o_{}", field.trim_start_matches("r#"));
                    reads.push(format!("let {local} = {};", self.decode(ty, 0, cur)?));
                    fields.push((field.clone(), local));
                }
                Output::InOut { param, ty } => {
                    reads.push(format!("*{param} = {};", self.decode(ty, 0, cur)?));
                }
            }
        }
        let value = match fields.as_slice() {
            [] => "()".to_owned(),
            [(_, local)] if returned == 1 => local.clone(),
            _ => format!(
                "{ok} {{ {} }}",
                fields
                    .iter()
                    .map(|(f, l)| format!("{f}: {l}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let return_arm = if reads.is_empty() {
            "::ithaca_idl::orb::ReplyBody::Return(_) => Ok(()),".to_owned()
        } else {
            let has_inout = outputs.iter().any(|o| matches!(o, Output::InOut { .. }));
            format!(
                "::ithaca_idl::orb::ReplyBody::Return(mut r) => {{\n                let {m}read = |r: &mut ::ithaca_idl::cdr::CdrReader| -> ::ithaca_idl::Result<{ok}> {{\n                    {}\n                    Ok({value})\n                }};\n                read(&mut r).map_err(|e| {RT}::SystemError::marshal(&e, ::ithaca_idl::giop::CompletionStatus::Yes){into})\n            }}",
                reads.join("\n                    "),
                m = if has_inout { "mut " } else { "" }
            )
        };
        let mut exception_arm = String::new();
        if !m.raises.is_empty() {
            let variants = self.exception_variants(m.raises);
            let mut checks = String::new();
            for (e, v) in m.raises.iter().zip(&variants) {
                let path = self.path_to(*e, cur);
                let _ = write!(
                    checks,
                    "\n                if id == <{path} as {RT}::UserException>::REPOSITORY_ID {{\n                    let e = <{path} as {RT}::CdrDecode>::decode(&mut members)\n                        .map_err(|e| {RT}::SystemError::marshal(&e, ::ithaca_idl::giop::CompletionStatus::Yes))?;\n                    return Err({err}::{v}(e));\n                }}"
                );
            }
            exception_arm = format!(
                "\n            ::ithaca_idl::orb::ReplyBody::UserException {{ id, mut members }} => {{{checks}\n                Err({RT}::SystemError::from_reply(::ithaca_idl::orb::ReplyBody::UserException {{ id, members }}).into())\n            }}"
            );
        }
        Ok(format!(
            "    /// `{}`.\n    pub async fn {}(&mut self{params}) -> ::core::result::Result<{ok}, {err}> {{\n        let reply = {RT}::invoke(&mut self.orb, &mut self.key, {wire:?}, {args_closure})\n            .await?;\n        match reply {{\n            {return_arm}{exception_arm}\n            other => Err({RT}::SystemError::from_reply(other){into}),\n        }}\n    }}\n",
            m.idl, m.rust
        ))
    }

    fn gen_skeleton(
        &self,
        decl: &Decl,
        all: &[Method<'_>],
        cur: &[String],
        scope: &str,
    ) -> Result<String, String> {
        let name = names::type_name(&decl.name);
        let bare = name.trim_start_matches("r#");
        let skeleton = format!("{bare}Skeleton");
        let mut out = format!(
            "/// Serves a [`{bare}`] servant on an [`OrbServer`](::ithaca_idl::orb::OrbServer): dispatches every operation of `{}` and its bases, answers `_is_a` for each of their repository ids, `BAD_OPERATION` for unknown operations and `MARSHAL` for arguments it cannot read.\n#[derive(Debug)]\npub struct {skeleton}<S> {{\n    servant: ::std::sync::Arc<S>,\n}}\n\n",
            decl.scoped_name
        );
        let _ = write!(
            out,
            "impl<S: {name}> {skeleton}<S> {{
    /// Serves `servant`.
    pub fn new(servant: S) -> Self {{
        Self {{ servant: ::std::sync::Arc::new(servant) }}
    }}

    /// Serves a shared servant.
    pub fn from_arc(servant: ::std::sync::Arc<S>) -> Self {{
        Self {{ servant }}
    }}

    /// The servant.
    pub fn servant(&self) -> &::std::sync::Arc<S> {{
        &self.servant
    }}
}}

"
        );
        let mut table = String::new();
        let mut arms = String::new();
        let mut reads_args = false;
        for (i, m) in all.iter().enumerate() {
            let _ = writeln!(table, "            {:?} => {i}usize,", m.wire);
            let trait_path = self.path_to(m.owner, cur);
            let owner_scope = self.scope_path(m.owner, cur);
            let args: Vec<&Param<'_>> = m.args().collect();
            let mut body = String::new();
            if !args.is_empty() {
                reads_args = true;
                let pattern: Vec<String> = args
                    .iter()
                    .map(|p| {
                        if p.dir == ParamDir::InOut {
                            format!("mut {}", p.rust)
                        } else {
                            p.rust.clone()
                        }
                    })
                    .collect();
                let _ = write!(
                    body,
                    "let ({},) = match {owner_scope}::{}_args(call.args()) {{\n                        Ok(args) => args,\n                        Err(e) => return ::ithaca_idl::orb::Outcome::marshal(e),\n                    }};\n                    ",
                    pattern.join(", "),
                    m.rust.trim_start_matches("r#")
                );
            }
            let call_args: String = args
                .iter()
                .map(|p| {
                    if p.dir == ParamDir::InOut {
                        format!(", &mut {}", p.rust)
                    } else {
                        format!(", {}", p.rust)
                    }
                })
                .collect();
            let invoke = format!(
                "<S as {trait_path}>::{}(&self.servant{call_args}).await",
                m.rust
            );
            if m.oneway {
                let _ = write!(
                    body,
                    "let _ = {invoke};\n                    call.reply(|_| Ok(()))"
                );
            } else {
                let outputs = m.outputs();
                let returned = m.returned();
                let mut writes = Vec::new();
                for o in &outputs {
                    match o {
                        Output::Returned { field, ty } => {
                            let place = if returned == 1 {
                                "out".to_owned()
                            } else {
                                format!("out.{field}")
                            };
                            writes.push(self.encode(ty, &Val::Place(place), 0, cur)?);
                        }
                        Output::InOut { param, ty } => {
                            writes.push(self.encode(ty, &Val::Place(param.clone()), 0, cur)?);
                        }
                    }
                }
                let binding = if returned == 0 { "()" } else { "out" };
                let reply = if writes.is_empty() {
                    "call.reply(|_| Ok(()))".to_owned()
                } else {
                    format!("call.reply(|w| {{ {} Ok(()) }})", writes.join(" "))
                };
                let error = if m.raises.is_empty() {
                    "e.into_outcome()".to_owned()
                } else {
                    let err = self.err_type(m, cur);
                    let variants = self.exception_variants(m.raises);
                    let mut arms = String::new();
                    for v in &variants {
                        let _ = write!(
                            arms,
                            "\n                            {err}::{v}(x) => {RT}::user_exception_outcome(&call, &x),"
                        );
                    }
                    format!(
                        "match e {{{arms}\n                            {err}::System(s) => s.into_outcome(),\n                        }}"
                    )
                };
                let _ = write!(
                    body,
                    "match {invoke} {{\n                        Ok({binding}) => {reply},\n                        Err(e) => {error},\n                    }}"
                );
            }
            let _ = write!(
                arms,
                "                {i} => {{\n                    {body}\n                }}\n"
            );
        }
        let call = if reads_args { "mut call" } else { "call" };
        let invoke_body = if all.is_empty() {
            "        let _ = call;\n        Box::pin(::core::future::ready(::ithaca_idl::orb::Outcome::bad_operation()))\n".to_owned()
        } else {
            format!(
                "        let operation = match call.operation() {{\n{table}            _ => return Box::pin(::core::future::ready(::ithaca_idl::orb::Outcome::bad_operation())),\n        }};\n        Box::pin(async move {{\n            match operation {{\n{arms}                _ => ::ithaca_idl::orb::Outcome::bad_operation(),\n            }}\n        }})\n"
            )
        };
        let _ = write!(
            out,
            "impl<S: {name}> ::ithaca_idl::orb::Servant for {skeleton}<S> {{
    fn repository_id(&self) -> &str {{
        {scope}::REPOSITORY_ID
    }}

    fn is_a(&self, repository_id: &str) -> bool {{
        repository_id == {OBJECT_ID:?} || {scope}::REPOSITORY_IDS.contains(&repository_id)
    }}

    fn invoke(&self, {call}: ::ithaca_idl::orb::Call) -> ::ithaca_idl::orb::ServantFuture<'_> {{
{invoke_body}    }}
}}
"
        );
        Ok(out)
    }
}
