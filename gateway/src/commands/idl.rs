//! `ithaca idl check FILE [-I DIR]...`: preprocesses, parses and checks
//! OMG IDL files the way omniidl does, printing every diagnostic as
//! `file:line:col: severity: message`; `ithaca idl describe FILE --json`
//! prints the interfaces and types a file declares.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ithaca_idl::front::{
    self,
    ast::ParamDir,
    model::{Decl, DeclId, DeclKind, Model},
};
use serde_json::json;

/// Checks each file; exit status 1 when any has an error.
pub(crate) fn check(files: &[PathBuf], include_dirs: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for path in files {
        let diagnostics = ithaca_idl::front::check_file(path, include_dirs);
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        for diagnostic in &diagnostics {
            eprintln!("{diagnostic}");
        }
        if errors == 0 {
            println!("{}: ok", path.display());
        } else {
            println!("{}: {errors} errors", path.display());
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `ithaca idl describe FILE [-I DIR]... --json`: prints every interface
/// and type declared in FILE (not in the files it includes) as one JSON
/// document; exit 1 (diagnostics on stderr) if the file has errors.
pub(crate) fn describe(file: &Path, include_dirs: &[PathBuf]) -> ExitCode {
    let options = front::Options {
        include_dirs: include_dirs.to_vec(),
        dialect: front::Dialect::Omniidl,
        ..front::Options::default()
    };
    let output = front::analyze_file(file, &options);
    for diagnostic in &output.diagnostics {
        eprintln!("{diagnostic}");
    }
    if output.has_errors() {
        return ExitCode::FAILURE;
    }
    println!(
        "{}",
        description(&output.model, &file.display().to_string())
    );
    ExitCode::SUCCESS
}

/// The `describe --json` document of the declarations of the file named
/// `main_file` (the predeclared `CORBA` names have no line).
pub(crate) fn description(model: &Model, main_file: &str) -> serde_json::Value {
    let in_main_file = |d: &Decl| d.file == main_file && d.loc.line > 0;
    let repo_ids = |ids: &[DeclId]| -> Vec<String> {
        ids.iter()
            .filter_map(|id| model.get(*id))
            .map(|d| d.repo_id.clone())
            .collect()
    };
    let mut interfaces = Vec::new();
    let mut types = Vec::new();
    for decl in model.decls.iter().filter(|d| in_main_file(d)) {
        let kind = match &decl.kind {
            DeclKind::Interface {
                bases,
                operations,
                attributes,
                ..
            } => {
                interfaces.push(json!({
                    "repo_id": decl.repo_id,
                    "bases": repo_ids(bases),
                    "operations": operations.iter().map(|op| json!({
                        "name": op.name,
                        "oneway": op.oneway,
                        "params": op.params.iter().map(|p| json!({
                            "name": p.name,
                            "dir": match p.dir {
                                ParamDir::In => "in",
                                ParamDir::Out => "out",
                                ParamDir::InOut => "inout",
                            },
                            "type": model.type_name(&p.ty),
                        })).collect::<Vec<_>>(),
                        "returns": op.ret.as_ref().map_or_else(|| "void".to_owned(), |t| model.type_name(t)),
                        "raises": repo_ids(&op.raises),
                    })).collect::<Vec<_>>(),
                    "attributes": attributes.iter().map(|a| json!({
                        "name": a.name,
                        "readonly": a.readonly,
                        "type": model.type_name(&a.ty),
                    })).collect::<Vec<_>>(),
                }));
                continue;
            }
            DeclKind::Struct { .. } => "struct",
            DeclKind::Union { .. } => "union",
            DeclKind::Enum(_) => "enum",
            DeclKind::Exception(_) => "exception",
            DeclKind::Alias(_) => "typedef",
            DeclKind::Const { .. } => "const",
            DeclKind::Value { .. } | DeclKind::ValueBox(_) => "valuetype",
            DeclKind::Native => "native",
            DeclKind::Module | DeclKind::Enumerator { .. } | DeclKind::Builtin(_) => continue,
        };
        types.push(json!({ "repo_id": decl.repo_id, "kind": kind }));
    }
    json!({ "interfaces": interfaces, "types": types })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_lists_interfaces_and_types_of_the_file() {
        let out = front::analyze_str(
            "module M {
               exception Oops { long code; };
               struct P { long x; };
               typedef sequence<P> Ps;
               union U switch (long) { case 1: string s; };
               enum E { a, b };
               const long N = 3;
               native Handle;
               valuetype V { public long count; };
               interface Base { readonly attribute string name; };
               interface I : Base {
                 oneway void ping();
                 P move(in P from, out long steps, inout Ps trail) raises (Oops);
                 attribute wstring<8> label;
               };
             };",
        );
        assert!(!out.has_errors(), "{:?}", out.diagnostics);
        let described = description(&out.model, "<input>");
        let interfaces = described["interfaces"].as_array().unwrap();
        assert_eq!(interfaces.len(), 2);
        assert_eq!(interfaces[0]["repo_id"], "IDL:M/Base:1.0");
        assert_eq!(
            interfaces[0]["attributes"],
            json!([{ "name": "name", "readonly": true, "type": "string" }])
        );
        let i = &interfaces[1];
        assert_eq!(i["bases"], json!(["IDL:M/Base:1.0"]));
        assert_eq!(
            i["operations"],
            json!([
                { "name": "ping", "oneway": true, "params": [], "returns": "void", "raises": [] },
                {
                    "name": "move",
                    "oneway": false,
                    "params": [
                        { "name": "from", "dir": "in", "type": "::M::P" },
                        { "name": "steps", "dir": "out", "type": "long" },
                        { "name": "trail", "dir": "inout", "type": "::M::Ps" },
                    ],
                    "returns": "::M::P",
                    "raises": ["IDL:M/Oops:1.0"],
                },
            ])
        );
        assert_eq!(
            i["attributes"],
            json!([{ "name": "label", "readonly": false, "type": "wstring<8>" }])
        );
        let kinds: Vec<(String, String)> = described["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["repo_id"].as_str().unwrap().to_owned(),
                    t["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected = [
            ("IDL:M/Oops:1.0", "exception"),
            ("IDL:M/P:1.0", "struct"),
            ("IDL:M/Ps:1.0", "typedef"),
            ("IDL:M/U:1.0", "union"),
            ("IDL:M/E:1.0", "enum"),
            ("IDL:M/N:1.0", "const"),
            ("IDL:M/Handle:1.0", "native"),
            ("IDL:M/V:1.0", "valuetype"),
        ];
        assert_eq!(
            kinds,
            expected.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec()
        );
    }
}
