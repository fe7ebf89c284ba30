//! Unit tests of the generator: what it emits for each construct and the
//! errors it reports. The generated code is compiled and run by the
//! `examples/corba-codegen` crate.

use super::{CodegenError, generate_str};

const SAMPLE: &str = r#"
module Shop {
  const long MAX_ITEMS = 10;
  const string GREETING = "hi";
  enum Color { red, green, blue };
  struct Item { string<8> name; long count; };
  typedef sequence<Item, 4> Items;
  union Choice switch (Color) { case red: case green: long warm; case blue: string cold; };
  union Opt switch (long) { case 1: long one; };
  exception Empty { string why; };
  interface Base { readonly attribute long size; };
  interface Cart : Base {
    Items list(in Items add, inout long total, out string note) raises (Empty);
    oneway void poke();
    attribute Color hue;
  };
};
"#;

#[test]
fn every_construct_is_generated() {
    let code = generate_str(SAMPLE).unwrap();
    for needle in [
        "pub mod shop {",
        "pub const MAX_ITEMS: i32 = 10;",
        "pub const GREETING: &str = \"hi\";",
        "pub enum Color {",
        "Red,",
        "pub struct Item {",
        "read_bounded_string(r, 8)?",
        "pub type Items = ::std::vec::Vec<Item>;",
        "check_bound(\"bounded sequence\", n0, 4)?",
        "Warm(Color, i32)",
        "Cold(::std::string::String)",
        "NoMember(i32)",
        "impl ::ithaca_idl::codegen::runtime::UserException for Empty",
        "pub trait Cart: Base + ",
        "pub struct CartClient {",
        "pub struct CartSkeleton<S> {",
        "pub enum ListError {",
        "pub struct ListReply {",
        "\"_get_size\" => ",
        "\"_set_hue\" => ",
        "pub async fn set_hue(&mut self, value: Color)",
        "pub async fn list(&mut self, add: &[Item], total: &mut i32)",
        "pub const REPOSITORY_IDS: &[&str] = &[\"IDL:Shop/Cart:1.0\", \"IDL:Shop/Base:1.0\"];",
        "invoke_oneway(&self.key, \"poke\"",
    ] {
        assert!(code.contains(needle), "{needle:?} missing from:\n{code}");
    }
}

#[test]
fn idl_errors_carry_file_line_and_column() {
    let err = generate_str("module M { struct S { long x; long x; }; };").unwrap_err();
    let CodegenError::Idl(diagnostics) = &err else {
        panic!("{err:?}")
    };
    assert!(!diagnostics.is_empty());
    assert!(err.to_string().starts_with("<input>:1:"), "{err}");
}

#[test]
fn unsupported_types_are_refused_where_used() {
    let err = generate_str("valuetype V { public long x; };\nstruct S { V item; };").unwrap_err();
    assert!(
        matches!(&err, CodegenError::Unsupported { line: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("valuetype V"), "{err}");
    // Declaring one is only skipped.
    let code = generate_str("valuetype V { public long x; };").unwrap();
    assert!(code.contains("is not generated"), "{code}");
}

#[test]
fn rust_keywords_and_client_methods_are_escaped() {
    let code = generate_str(
        "module type { struct match { long fn; }; interface I { void key(in long self); boolean locate(); }; };",
    )
    .unwrap();
    assert!(code.contains("pub mod r#type {"), "{code}");
    assert!(code.contains("pub struct r#match {"), "{code}");
    assert!(code.contains("pub r#fn: i32"), "{code}");
    assert!(
        code.contains("pub async fn key_op(&mut self, self_: i32)"),
        "{code}"
    );
    // `locate` is the generated LocateRequest; the operation steps aside.
    assert!(code.contains("pub async fn locate_op(&mut self)"), "{code}");
    assert!(code.contains("pub fn locate_op(&mut self)"), "{code}");
}

/// The IDL of the criterion bench `benches/codegen.rs`, whose generated
/// code is checked in as `benches/codegen/generated.rs`.
const BENCH_IDL: &str = "module BenchCodegen {
  enum Kind { small, large };
  struct Point { long x; long y; string label; };
  typedef sequence<Point> Points;
  union Tag switch (Kind) { case small: long n; case large: string text; };
  struct Order {
    unsigned long long id;
    string customer;
    Kind category;
    double total;
    Points path;
    sequence<octet> note;
    long grid[2][3];
    Tag marker;
    boolean paid;
  };
};
";

#[test]
fn the_bench_code_is_what_the_generator_emits() {
    let code = generate_str(BENCH_IDL).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/codegen/generated.rs");
    if std::env::var_os("UPDATE_CODEGEN").is_some() {
        std::fs::write(path, &code).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == code,
        "benches/codegen/generated.rs is stale: run UPDATE_CODEGEN=1 cargo test -p ithaca-idl --lib codegen"
    );
}

#[test]
fn included_declarations_are_generated_only_when_asked() {
    use std::path::Path;

    use super::{Options, generate_from};
    use crate::front::Sources;

    let mut sources = Sources::memory();
    sources
        .add(
            "inc/Common.idl",
            "module Common { struct Stamp { long long at; }; };",
        )
        .add(
            "Main.idl",
            "#include \"Common.idl\"\nmodule App { struct Event { Common::Stamp when; }; };",
        );
    let mut options = Options {
        include_dirs: vec!["inc".into()],
        ..Options::default()
    };
    let (code, files) = generate_from(Path::new("Main.idl"), &sources, &options).unwrap();
    assert!(code.contains("pub struct Event"), "{code}");
    assert!(code.contains("pub when: super::common::Stamp"), "{code}");
    assert!(!code.contains("pub struct Stamp"), "{code}");
    assert_eq!(files, ["Main.idl", "inc/Common.idl"]);

    options.with_includes = true;
    let (code, _) = generate_from(Path::new("Main.idl"), &sources, &options).unwrap();
    assert!(code.contains("pub struct Stamp"), "{code}");
    assert!(code.contains("pub struct Event"), "{code}");
}
