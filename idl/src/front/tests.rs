//! Data-driven tests of the front end: printed syntax trees, model dumps
//! and diagnostics, checked with `expect-test` (`UPDATE_EXPECT=1` rewrites
//! the expectations).

use std::path::{Path, PathBuf};

use expect_test::{Expect, expect};

use super::*;

fn diag_lines(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

/// Parses, prints the tree back as IDL, and checks that printing is stable.
fn check_print(src: &str, expect: Expect) {
    let (spec, diags) = parse_str(src);
    let printed = spec.to_string();
    let (again, diags2) = parse_str(&printed);
    assert_eq!(again.to_string(), printed, "printing is not stable");
    assert!(diags2.iter().all(|d| !d.is_error()), "{diags2:?}");
    expect.assert_eq(&format!("{printed}{}", diag_lines(&diags)));
}

/// Runs the whole front end and shows the model and the diagnostics.
fn check_model(src: &str, expect: Expect) {
    let out = analyze_str(src);
    expect.assert_eq(&format!(
        "{}{}",
        out.model.dump(),
        diag_lines(&out.diagnostics)
    ));
}

/// Runs the whole front end and shows only the diagnostics.
fn check_diags(src: &str, expect: Expect) {
    let out = analyze_str(src);
    expect.assert_eq(&diag_lines(&out.diagnostics));
}

fn check_omniidl(src: &str, expect: Expect) {
    let mut sources = Sources::memory();
    sources.add("main.idl", src);
    let opts = Options {
        dialect: Dialect::Omniidl,
        ..Options::default()
    };
    let out = analyze_source(Path::new("main.idl"), &sources, &opts);
    expect.assert_eq(&diag_lines(&out.diagnostics));
}

#[test]
fn parser_prints_every_construct() {
    check_print(
        r#"
module M {
  interface Fwd;
  abstract interface Abs { void f(); };
  local interface Loc;
  interface A : Abs, ::M::Fwd {
    typedef sequence<sequence<long, 10>> Nested;
    readonly attribute string<5> name raises (E);
    attribute long x, y;
    oneway void ping(in string s);
    long op(in long a, out double b, inout Nested c) raises (E, ::M::E) context ("x", "y*");
  };
  exception E { long code; string reason; };
  struct S { long a[2][3]; struct Inner { octet o; } inner; };
  union U switch (long) { case 1: case 2: long l; default: string s; };
  enum Color { red, green, blue };
  typedef fixed<5,2> Money;
  const long C = (1 + 2) * 3 << 1 | ~0 & 0xff ^ 010 % 3;
  const double D = 1.5e3;
  const char Ch = '\n';
  const wchar W = L'x';
  const string Str = "a" "b";
  const boolean B = TRUE;
  const fixed F = 12.50d;
  native Handle;
  valuetype Box long;
  abstract valuetype AV { void f(); };
  custom valuetype CV : truncatable ::M::Base supports A { public long x; private string y; factory make(in long x) raises (E); };
  typeid S "IDL:other/S:2.0";
  typeprefix M "acme.com";
};
import ::M;
"#,
        expect![[r#"
            module M {
              interface Fwd;
              abstract interface Abs {
                void f();
              };
              local interface Loc;
              interface A : Abs, ::M::Fwd {
                typedef sequence<sequence<long, 10>> Nested;
                readonly attribute string<5> name raises (E);
                attribute long x, y;
                oneway void ping(in string s);
                long op(in long a, out double b, inout Nested c) raises (E, ::M::E) context ("x", "y*");
              };
              exception E {
                long code;
                string reason;
              };
              struct S {
                long a[2][3];
                struct Inner {
                  octet o;
                } inner;
              };
              union U switch (long) {
                case 1:
                case 2:
                  long l;
                default:
                  string s;
              };
              enum Color { red, green, blue };
              typedef fixed<5, 2> Money;
              const long C = ((((1 + 2) * 3) << 1) | ((~0 & 255) ^ (8 % 3)));
              const double D = 1500.0;
              const char Ch = '\x0a';
              const wchar W = L'x';
              const string Str = "ab";
              const boolean B = TRUE;
              const fixed F = 12.50d;
              native Handle;
              valuetype Box long;
              abstract valuetype AV {
                void f();
              };
              custom valuetype CV : truncatable ::M::Base supports A {
                public long x;
                private string y;
                factory make(in long x) raises (E);
              };
              typeid S "IDL:other/S:2.0";
              typeprefix M "acme.com";
            };
            import ::M;
        "#]],
    );
}

#[test]
fn model_of_a_bank() {
    check_model(
        r#"
#pragma prefix "acme.com"
module Bank {
  exception Insufficient { long shortfall; };
  typedef sequence<octet, 16> Id;
  enum Kind { checking, savings };
  struct Info { Id account_id; Kind account_kind; string<32> owner; };
  union Detail switch (Kind) { case checking: long overdraft; case savings: double rate; };
  interface Account {
    readonly attribute Info details;
    long balance();
    void deposit(in long amount) raises (Insufficient);
    oneway void ping();
  };
  interface SavingsAccount : Account { attribute double rate; };
  const Kind DEFAULT_KIND = savings;
  const unsigned long MAX = 0xFFFFFFFF;
  const long long NEG = -9223372036854775807 - 1;
};
"#,
        expect![[r#"
            module Bank IDL:acme.com/Bank:1.0
            exception Bank::Insufficient IDL:acme.com/Bank/Insufficient:1.0
              long shortfall
            typedef Bank::Id IDL:acme.com/Bank/Id:1.0 = sequence<octet,16>
            enum Bank::Kind IDL:acme.com/Bank/Kind:1.0 {Bank::checking, Bank::savings}
            struct Bank::Info IDL:acme.com/Bank/Info:1.0
              ::Bank::Id account_id
              ::Bank::Kind account_kind
              string<32> owner
            union Bank::Detail IDL:acme.com/Bank/Detail:1.0 switch(::Bank::Kind)
              case ::Bank::checking: long overdraft
              case ::Bank::savings: double rate
            interface Bank::Account IDL:acme.com/Bank/Account:1.0
              readonly attribute ::Bank::Info details
              long balance()
              void deposit(in long amount) raises(Bank::Insufficient)
              oneway void ping()
            interface Bank::SavingsAccount IDL:acme.com/Bank/SavingsAccount:1.0 : Bank::Account
              attribute double rate
            const Bank::DEFAULT_KIND IDL:acme.com/Bank/DEFAULT_KIND:1.0 : ::Bank::Kind = ::Bank::savings
            const Bank::MAX IDL:acme.com/Bank/MAX:1.0 : unsigned long = 4294967295
            const Bank::NEG IDL:acme.com/Bank/NEG:1.0 : long long = -9223372036854775808
        "#]],
    );
}

#[test]
fn identifiers_differing_only_in_case_collide() {
    check_diags(
        "typedef sequence<long> Points;\ninterface I { Points reverse(in Points points); };\n",
        expect![[r#"
            <input>:2:40: error: Declaration of parameter 'points' clashes with use of identifier 'Points' (used at <input>:2)
        "#]],
    );
    check_diags(
        "module M { struct S { long a; }; typedef long s; interface I { void f(); void F(); }; };\nstruct T { long x; short X; };\n",
        expect![[r#"
            <input>:1:47: error: Declaration of typedef declarator 's' clashes with earlier declaration of struct 'S' (<input>:1)
            <input>:1:79: error: Declaration of operation 'F' clashes with earlier declaration of operation 'f' (<input>:1)
            <input>:2:26: error: Instance identifier 'X' clashes with member 'x'
        "#]],
    );
    // A name found with the wrong case is an error, not a match.
    check_diags(
        "typedef long Foo;\nstruct S { foo f; };\n",
        expect![[r#"
            <input>:2:12: error: Error in look-up of 'foo': 'foo' differs in case from 'Foo'
        "#]],
    );
    check_diags(
        "struct S { long In; };\n",
        expect![[r#"
            <input>:1:17: error: Identifier 'In' clashes with keyword 'in'
        "#]],
    );
}

#[test]
fn redefinitions_and_kinds() {
    check_diags(
        r#"
struct S { long a; };
struct S { long b; };
module S {};
interface I { attribute long l; void l(); };
exception E {};
interface J { void f(in E e); void g() raises (S); };
interface K : S {};
interface L; union L;
"#,
        expect![[r#"
            <input>:3:8: error: Declaration of struct 'S' clashes with earlier declaration of struct 'S' (<input>:2)
            <input>:4:8: error: Declaration of module 'S' clashes with earlier declaration of struct 'S' (<input>:2)
            <input>:4:10: error: Module 'S' is empty
            <input>:5:38: error: Declaration of operation 'l' clashes with earlier declaration of attribute 'l' (<input>:5)
            <input>:7:25: error: 'E' is not a type
            <input>:7:27: error: Declaration of parameter 'e' clashes with use of identifier 'E' (used at <input>:7)
            <input>:7:48: error: 'S' used in raises expression is not an exception
            <input>:8:15: error: 'S' used in inheritance specification is not an interface
            <input>:9:11: warning: Forward declared interface 'L' was never fully defined
            <input>:9:20: error: Declaration of forward union 'L' clashes with earlier declaration of forward interface 'L' (<input>:9)
        "#]],
    );
}

#[test]
fn scoped_names_and_inheritance() {
    check_diags(
        r#"
module A { typedef long mylong; module B { module A { }; typedef A::mylong bad; typedef ::A::mylong good; }; };
interface P { void op(); attribute long at; };
interface Q { void op(); };
interface R : P, Q {};
interface S : P { void OP(); typedef long at; };
interface Base { typedef long T; };
interface Derived : Base { T get(); typedef short T; };
interface F;
interface G : F {};
interface Diamond1 : P {}; interface Diamond2 : P {}; interface Diamond : Diamond1, Diamond2 { void x(); };
"#,
        expect![[r#"
            <input>:2:53: error: Module 'A' is empty
            <input>:2:66: error: Error in look-up of 'A::mylong': 'mylong' not found
            <input>:5:11: error: 'op' inherited from 'Q' clashes with 'op' inherited from 'P'
            <input>:6:24: error: Declaration of operation 'OP' clashes with inherited operation 'op'
            <input>:6:43: error: Declaration of typedef declarator 'at' clashes with inherited attribute 'at'
            <input>:8:51: error: Declaration of typedef declarator 'T' clashes with use of identifier 'T' (used at <input>:8)
            <input>:9:11: warning: Forward declared interface 'F' was never fully defined
            <input>:10:15: error: Inherited interface 'F' must be fully defined
        "#]],
    );
}

#[test]
fn constants_are_evaluated_and_range_checked() {
    check_model(
        r#"
const short S = -32768;
const unsigned short US = 0xffff;
const long L = (1 << 20) + 017 - 0x10 * 3 / 2 % 5;
const unsigned long UL = ~0;
const long NL = ~0;
const octet O = 255;
const long long LL = 1 << 62;
const float F = 1.5e2 * 2.0;
const double D = -1.0 / 3.0;
const char C = 'A';
const wchar W = L'\u20ac';
const string<3> STR = "abc";
const wstring WS = L"wide";
const boolean B = FALSE;
const fixed FX = 1.25d + 2.5d;
const long REF = L + 1;
enum E { e0, e1 };
const E EV = e1;
typedef long Alias;
const Alias AL = 3;
"#,
        expect![[r#"
            const S IDL:S:1.0 : short = -32768
            const US IDL:US:1.0 : unsigned short = 65535
            const L IDL:L:1.0 : long = 1048587
            const UL IDL:UL:1.0 : unsigned long = 4294967295
            const NL IDL:NL:1.0 : long = -1
            const O IDL:O:1.0 : octet = 255
            const LL IDL:LL:1.0 : long long = 4611686018427387904
            const F IDL:F:1.0 : float = 300.0
            const D IDL:D:1.0 : double = -0.3333333333333333
            const C IDL:C:1.0 : char = 'A'
            const W IDL:W:1.0 : wchar = '€'
            const STR IDL:STR:1.0 : string<3> = "abc"
            const WS IDL:WS:1.0 : wstring = "wide"
            const B IDL:B:1.0 : boolean = FALSE
            const FX IDL:FX:1.0 : fixed = 3.75d
            const REF IDL:REF:1.0 : long = 1048588
            enum E IDL:E:1.0 {e0, e1}
            const EV IDL:EV:1.0 : ::E = ::e1
            typedef Alias IDL:Alias:1.0 = long
            const AL IDL:AL:1.0 : ::Alias = 3
        "#]],
    );
    check_diags(
        r#"
const short S = 32768;
const unsigned long U = -1;
const long Z = 1 / 0;
const double D = 14;
const long I = 1.5;
const char C = L'x';
const wchar W = 'x';
const string<2> T = "abc";
const string WS = L"x";
const octet O = 256;
const long SH = 1 << 64;
const long long OV = 18446744073709551615 * 2;
enum E { a }; enum F { b };
const E X = b;
const long NOTC = E;
const any A = 1;
"#,
        expect![[r#"
            <input>:2:17: error: Value too large for short
            <input>:3:25: error: Value too small for unsigned long
            <input>:4:18: error: Divide by zero
            <input>:5:18: error: Cannot interpret integer literal as a double
            <input>:6:16: error: Cannot interpret floating literal as an integer
            <input>:7:16: error: Cannot interpret wide character literal as a character
            <input>:8:17: error: Cannot interpret character literal as a wide character
            <input>:9:21: error: String literal is longer than the bound of the string type
            <input>:10:19: error: Cannot interpret wide string literal as a string
            <input>:11:17: error: Value too large for octet
            <input>:12:19: error: Shift operand must be between 0 and 63
            <input>:13:43: error: Result of multiplication overflows
            <input>:15:13: error: Enumerator is not a member of enum 'E'
            <input>:16:19: error: 'E' is not a constant
            <input>:17:7: error: Invalid type for a constant
        "#]],
    );
}

#[test]
fn unions_check_labels() {
    check_diags(
        r#"
enum Color { red, green };
union UA switch (Color) { case red: long a; case red: long b; };
union UB switch (short) { default: long a; default: long b; };
union UC switch (float) { case 1: long a; };
union UD switch (char) { case 'a': long a; case 1: long b; };
union UE switch (boolean) { case TRUE: long a; case FALSE: long b; };
typedef long Disc;
union UF switch (Disc) { case 1: case 2: long a; case 70000: short s; };
union UG switch (octet) { case 300: long a; };
"#,
        expect![[r#"
            <input>:3:50: error: Duplicate union case label
            <input>:4:44: error: Union has more than one default label
            <input>:5:18: error: Invalid union discriminator type
            <input>:6:49: error: Cannot interpret integer literal as a character
            <input>:10:18: error: Invalid union discriminator type
        "#]],
    );
}

#[test]
fn forward_declarations() {
    check_diags(
        r#"
struct Node;
typedef sequence<Node> Nodes;
struct Node { string name; Nodes children; sequence<Node> more; };
struct Later;
typedef Later LaterAlias;
struct User { Later l; };
struct Self { Self s; };
union U;
interface I; interface I; interface I {}; interface I;
valuetype V; valuetype V { public long x; };
"#,
        expect![[r#"
            <input>:5:8: error: Forward declared struct 'Later' was never fully defined
            <input>:6:9: error: Cannot use forward struct 'Later' before it is fully defined (only in a sequence)
            <input>:7:15: error: Cannot use forward struct 'Later' before it is fully defined (only in a sequence)
            <input>:8:15: error: Recursive use of 'Self' is only allowed inside a sequence
            <input>:9:7: error: Forward declared union 'U' was never fully defined
        "#]],
    );
}

#[test]
fn repository_ids_honour_pragmas() {
    check_model(
        r#"
#pragma prefix "omg.org"
module CosX {
  interface A {};
#pragma prefix "inner.org"
  interface B {};
  module Sub { interface C {}; };
};
interface Top {};
#pragma prefix ""
interface NoPrefix {};
module M { interface D {}; interface E {}; struct S { long x; }; };
#pragma ID M::D "IDL:custom/D:3.1"
#pragma version M::E 2.5
#pragma ID ::M::S "LOCAL:whatever"
"#,
        expect![[r#"
            module CosX IDL:omg.org/CosX:1.0
            interface CosX::A IDL:omg.org/CosX/A:1.0
            interface CosX::B IDL:inner.org/CosX/B:1.0
            module CosX::Sub IDL:inner.org/CosX/Sub:1.0
            interface CosX::Sub::C IDL:inner.org/CosX/Sub/C:1.0
            interface Top IDL:omg.org/Top:1.0
            interface NoPrefix IDL:NoPrefix:1.0
            module M IDL:M:1.0
            interface M::D IDL:custom/D:3.1
            interface M::E IDL:M/E:2.5
            struct M::S LOCAL:whatever
              long x
        "#]],
    );
    check_model(
        r#"
module M { interface A {}; typeprefix M "acme.com"; module N { struct S { long x; }; }; typeid N::S "IDL:S_ID:1.0"; };
"#,
        expect![[r#"
            module M IDL:acme.com/M:1.0
            interface M::A IDL:acme.com/M/A:1.0
            module M::N IDL:acme.com/M/N:1.0
            struct M::N::S IDL:S_ID:1.0
              long x
        "#]],
    );
    check_diags(
        "interface A {};\n#pragma ID A \"IDL:A:1.0x\"\n#pragma prefix nope\n#pragma version A 1\n#pragma ID B \"IDL:B:1.0\"\n#pragma whatever is ignored\n",
        expect![[r#"
            <input>:2:1: warning: Repository id of 'A' set to invalid string 'IDL:A:1.0x'
            <input>:3:1: error: Malformed #pragma prefix
            <input>:4:1: error: Malformed #pragma version
            <input>:5:1: error: Error in look-up of 'B': 'B' not found
        "#]],
    );
}

#[test]
fn preprocessor_directives() {
    check_model(
        r#"
#define SIZE 10
#define TWICE(x) ((x) * 2)
#define NAME(a, b) a##b
#define STR(x) #x
#if defined(SIZE) && SIZE > 5 && !defined NOPE
const long A = TWICE(SIZE);
#elif 1
const long WRONG = 1;
#else
const long WRONG2 = 1;
#endif
#ifdef NOPE
garbage that is never parsed $ 14e
#endif
#ifndef NOPE
const string S = STR(hello);
#endif
#undef SIZE
#ifdef SIZE
const long WRONG3 = 1;
#endif
#if (3 > 2 ? 0 : 1) || 0x10 % 3 == 1
const long NAME(Pas, ted) = 1;
#endif
#define SELF SELF
typedef long SELF;
"#,
        expect![[r#"
            const A IDL:A:1.0 : long = 20
            const S IDL:S:1.0 : string = "hello"
            const Pasted IDL:Pasted:1.0 : long = 1
            typedef SELF IDL:SELF:1.0 = long
        "#]],
    );
    check_diags(
        "#if 1\n#error stop here\n#endif\n#if 1 +\n#endif\n#bogus\n#if 1\n#else\n#else\n#endif\n#endif\n#if 0\n",
        expect![[r##"
            <input>:2:1: error: #error stop here
            <input>:4:1: error: #if expression ends too soon
            <input>:6:2: error: invalid preprocessing directive #bogus
            <input>:9:1: error: #else after #else
            <input>:11:1: error: #endif without #if
            <input>:12:1: error: unterminated conditional directive
        "##]],
    );
}

#[test]
fn line_directives_map_locations() {
    check_diags(
        "\n#line 100 \"orig.idl\"\nstruct S { undefined x; };\n",
        expect![[r#"
            orig.idl:100:12: error: Error in look-up of 'undefined': 'undefined' not found
        "#]],
    );
}

fn sources() -> Sources {
    let mut s = Sources::memory();
    s.add(
        "dir/main.idl",
        "#include \"local.idl\"\n#include <lib.idl>\n#include <lib.idl>\n#include \"lib.idl\"\n\
         module Main { typedef Lib::T T2; typedef LocalT L2; typedef DirLib::X X2; };\n",
    )
    .add("dir/local.idl", "#pragma prefix \"local.org\"\ntypedef long LocalT;\n")
    .add("inc/lib.idl", "#ifndef LIB_IDL\n#define LIB_IDL\nmodule Lib { typedef long T; };\n#endif\n")
    .add("dir/lib.idl", "module DirLib { typedef long X; };\n")
    .add("broken.idl", "#include \"dir/lib.idl\"\nthis is not IDL\n#include \"inc/lib.idl\"\nstruct S { long x; long x; };\n")
        .add("loop.idl", "#include \"loop.idl\"\n")
        .add("bad.idl", "#include \"missing.idl\"\n#include \"dir/local.idl\"\nstruct S { long x; long x; };\n");
    s
}

#[test]
fn includes_resolve_and_report_locations() {
    let opts = Options {
        include_dirs: vec![PathBuf::from("inc")],
        ..Options::default()
    };
    let s = sources();
    // Quotes look next to the including file first ("lib.idl" is
    // dir/lib.idl), <lib.idl> only searches -I (inc/lib.idl); the include
    // guard keeps the second <lib.idl> out. The prefix of local.idl stops
    // at its end.
    let out = analyze_source(Path::new("dir/main.idl"), &s, &opts);
    expect![[r#"
        typedef LocalT IDL:local.org/LocalT:1.0 = long
        module Lib IDL:Lib:1.0
        typedef Lib::T IDL:Lib/T:1.0 = long
        module DirLib IDL:DirLib:1.0
        typedef DirLib::X IDL:DirLib/X:1.0 = long
        module Main IDL:Main:1.0
        typedef Main::T2 IDL:Main/T2:1.0 = ::Lib::T
        typedef Main::L2 IDL:Main/L2:1.0 = ::LocalT
        typedef Main::X2 IDL:Main/X2:1.0 = ::DirLib::X
    "#]]
    .assert_eq(&format!(
        "{}{}",
        out.model.dump(),
        diag_lines(&out.diagnostics)
    ));

    let out = analyze_source(Path::new("loop.idl"), &s, &opts);
    assert!(
        out.diagnostics
            .iter()
            .any(|d| d.message.contains("nested deeper than 64")),
        "{:?}",
        out.diagnostics
    );

    // Errors in several files, each with its own file and line; recovery
    // stops at the end of an included file.
    let out = analyze_source(Path::new("broken.idl"), &s, &opts);
    expect![[r#"
        module DirLib IDL:DirLib:1.0
        typedef DirLib::X IDL:DirLib/X:1.0 = long
        module Lib IDL:Lib:1.0
        typedef Lib::T IDL:Lib/T:1.0 = long
        struct S IDL:S:1.0
          long x
        broken.idl:2:1: error: Syntax error: expected a definition, found 'this'
        broken.idl:4:25: error: Instance identifier 'x' clashes with member 'x'
    "#]]
    .assert_eq(&format!(
        "{}{}",
        out.model.dump(),
        diag_lines(&out.diagnostics)
    ));

    let out = analyze_source(Path::new("bad.idl"), &s, &opts);
    expect![[r#"
        bad.idl:1:1: error: missing.idl: No such file or directory
        bad.idl:3:25: error: Instance identifier 'x' clashes with member 'x'
    "#]]
    .assert_eq(&diag_lines(&out.diagnostics));

    let out = analyze_source(Path::new("nothere.idl"), &s, &opts);
    expect![[r#"
        nothere.idl:0:0: error: nothere.idl: No such file or directory
    "#]]
    .assert_eq(&diag_lines(&out.diagnostics));
}

#[test]
fn syntax_errors_are_recovered_from() {
    check_diags(
        r#"
module M {
  struct S { long; };
  interface I { void f(in long); long g(); };
  typedef long T
  const long C = ;
  enum E { };
  interface J { void ok(); };
};
struct After { long a; };
}
"#,
        expect![[r#"
            <input>:3:18: error: Syntax error: expected an identifier, found ';'
            <input>:4:31: error: Syntax error: expected an identifier, found ')'
            <input>:6:3: error: Syntax error: expected ';', found 'const'
            <input>:7:12: error: Syntax error: expected an identifier, found '}'
            <input>:11:1: error: Syntax error: expected a definition, found '}'
        "#]],
    );
}

#[test]
fn omniidl_dialect_rejects_idl3() {
    check_omniidl(
        "interface I { attribute long a getraises (E); };\nmodule M { typeprefix M \"x\"; };\ntypedef long home;\n",
        expect![[r#"
            main.idl:1:32: error: Syntax error: expected ';', found 'getraises'
            main.idl:2:12: error: Syntax error: expected a definition, found 'typeprefix'
            main.idl:3:14: warning: Identifier 'home' clashes with CORBA 3 keyword 'home'
        "#]],
    );
    check_diags(
        "component C {};\n@annotation struct S {};\n",
        expect![[r#"
            <input>:1:1: error: 'component' (CORBA Component Model) is not supported
            <input>:2:1: error: IDL 4 annotations (@…) are not supported
        "#]],
    );
}

#[test]
fn oneway_and_valuetype_rules() {
    check_diags(
        r#"
exception X {};
interface I { oneway long f(); oneway void g(out long x); oneway void h() raises (X); };
interface Plain {};
local interface Loc {};
interface Bad : Loc {};
abstract interface Abs : Plain {};
valuetype V { public long x; private long X; };
valuetype W : Plain {};
valuetype B V;
"#,
        expect![[r#"
            <input>:3:27: error: Oneway operation 'f' does not return void
            <input>:3:44: error: Oneway operation 'g' has out or inout parameters
            <input>:3:71: error: Oneway operation 'h' may not have a raises expression
            <input>:6:17: error: Unconstrained interface 'Bad' cannot inherit from local interface 'Loc'
            <input>:7:26: error: Abstract interface 'Abs' may only inherit from abstract interfaces
            <input>:8:43: error: Instance identifier 'X' clashes with state member 'x'
            <input>:9:15: error: 'Plain' used in inheritance specification is not a valuetype
            <input>:10:13: error: A value box cannot contain a valuetype
        "#]],
    );
}

#[test]
fn limits_stop_hostile_input() {
    let deep_parens = format!("const long C = {}1{};", "(".repeat(5000), ")".repeat(5000));
    let deep_seq = format!(
        "typedef {}long{} T;",
        "sequence<".repeat(5000),
        ">".repeat(5000)
    );
    let deep_mod = format!("{}{}", "module m {".repeat(5000), "};".repeat(5000));
    let long_expr = format!("const long C = 1{};", "+1".repeat(100_000));
    let deep_struct = format!(
        "{} long x; {}",
        "struct S { struct T {".repeat(3000),
        "} t; };".repeat(3000)
    );
    let macro_bomb = "#define A B B B B B B B B B B\n#define B C C C C C C C C C C\n#define C D D D D D D D D D D\n#define D E E E E E E E E E E\n#define E F F F F F F F F F F\n#define F G G G G G G G G G G\n#define G H H H H H H H H H H\nA\n".to_owned();
    let macro_loop = "#define A B\n#define B A\nA\n".to_owned();
    let unary = format!("const long C = {}1;", "-".repeat(100_000));
    for src in [
        deep_parens,
        deep_seq,
        deep_mod,
        long_expr,
        deep_struct,
        macro_bomb,
        macro_loop,
        unary,
    ] {
        let out = analyze_str(&src);
        assert!(out.has_errors(), "{}", &src[..40]);
        let (_, diags) = parse_str(&src);
        assert!(diags.len() <= diag::MAX_DIAGNOSTICS + 1);
    }
}

#[test]
fn every_prefix_of_a_valid_file_is_handled() {
    let src = r#"
#pragma prefix "x.org"
module M { typedef sequence<long, 3> S; const long C = (1 << 2) | 3;
  union U switch (long) { case 1: string<4> s; default: fixed<5,2> f; };
  interface I : ::CORBA::Object { attribute S a; void op(in S s, out long l) raises (E); };
  exception E { wstring w; }; valuetype V : truncatable W supports I { public long x; factory f(in long x); };
};
"#;
    for (i, _) in src.char_indices() {
        let _ = analyze_str(&src[..i]);
        let _ = analyze_str(&src[i..]);
    }
}

mod props {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = super::analyze_str(&s);
        }

        #[test]
        fn idl_like_soup_never_panics(words in proptest::collection::vec(prop_oneof![
            Just("module"), Just("interface"), Just("struct"), Just("union"), Just("switch"), Just("case"),
            Just("default"), Just("{"), Just("}"), Just(";"), Just(":"), Just("::"), Just("<"), Just(">"),
            Just(">>"), Just("("), Just(")"), Just(","), Just("["), Just("]"), Just("long"), Just("sequence"),
            Just("typedef"), Just("const"), Just("="), Just("1"), Just("A"), Just("a"), Just("B"), Just("valuetype"),
            Just("#define A B\n"), Just("#if A\n"), Just("#endif\n"), Just("#pragma prefix \"p\"\n"),
            Just("exception"), Just("raises"), Just("attribute"), Just("enum"), Just("string"), Just("'x'"),
        ], 0..80)) {
            let src = words.join(" ");
            let _ = super::analyze_str(&src);
        }
    }
}

#[test]
fn omniidl_quirks() {
    // omniidl wants `> >`, rejects custom valuetypes (C++ back end) and
    // takes concatenated strings in #pragma prefix.
    check_omniidl(
        "typedef sequence<sequence<long>> SS;\ntypedef sequence<sequence<long> > OK;\ncustom valuetype CV { public long x; };\n#pragma prefix \"a\" \".b\"\ninterface I {};\n",
        expect![[r#"
            main.idl:1:31: error: Syntax error: expected '>', found '>>'
            main.idl:3:18: error: custom valuetypes are not supported by omniidl's C++ back end
        "#]],
    );
    check_model(
        "#pragma prefix \"a\" \".b\"\ninterface I {};\ntypedef sequence<sequence<long>> SS;\n",
        expect![[r#"
            interface I IDL:a.b/I:1.0
            typedef SS IDL:a.b/SS:1.0 = sequence<sequence<long>>
        "#]],
    );
}

#[test]
fn valuetype_inheritance_and_union_defaults() {
    check_diags(
        r#"
valuetype A {}; valuetype B : A, A {};
valuetype C {}; valuetype D : A, C {};
abstract valuetype AA {}; valuetype E : AA, A {};
abstract valuetype F : A {};
abstract valuetype G { public long x; factory f(); };
interface I {}; valuetype H supports I, I {};
union U1 switch (boolean) { case TRUE: long x; case FALSE: long y; default: short z; };
enum Two { e1, e2 }; union U2 switch (Two) { case e1: long x; case e2: long y; default: short z; };
union U3 switch (Two) { case e1: long x; default: short z; };
"#,
        expect![[r#"
            <input>:2:34: error: Cannot specify 'A' as a direct base valuetype more than once
            <input>:3:34: error: In declaration of valuetype 'D', inherited valuetype 'C' is non-abstract but is not specified first
            <input>:4:45: error: In declaration of valuetype 'E', inherited valuetype 'A' is non-abstract but is not specified first
            <input>:5:24: error: Abstract valuetype 'F' cannot inherit from non-abstract valuetype 'A'
            <input>:6:24: error: Abstract valuetypes may not have state members or factories
            <input>:6:39: error: Abstract valuetypes may not have state members or factories
            <input>:7:41: error: Cannot specify 'I' as a direct base interface more than once
            <input>:8:7: error: Error in union 'U1': cannot declare default case since all cases are explicitly listed
            <input>:9:28: error: Error in union 'U2': cannot declare default case since all cases are explicitly listed
        "#]],
    );
}

#[test]
fn model_flattens_inheritance() {
    let out = analyze_str(
        "interface A { void fa(); attribute long x; };\n\
         interface B : A { void fb(); };\n\
         interface C : A { void fc(); };\n\
         interface D : B, C { void fd(); };\n",
    );
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let id = out.model.find_id("::D").unwrap();
    let names: Vec<&str> = out
        .model
        .all_operations(id)
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(names, ["fd", "fb", "fc", "fa"]);
    let bases: Vec<&str> = out
        .model
        .all_bases(id)
        .iter()
        .map(|b| out.model.get(*b).unwrap().name.as_str())
        .collect();
    assert_eq!(bases, ["B", "C", "A"]);
    assert_eq!(out.model.all_attributes(id).len(), 1);
}
