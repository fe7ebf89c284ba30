//! Loads the WSDL/XSD fixtures in `tests/fixtures/wsdl/` and pins the
//! model, the per-operation summary and every diagnostic.

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::PathBuf;

use expect_test::{Expect, expect};
use ithaca_wsdl::xsd::InstanceLimits;
use ithaca_wsdl::{
    DiagnosticKind, LoadLimits, LoadOptions, Loaded, NamespaceBinding, QName, load_bytes, load_file,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wsdl")
}

fn load(name: &str) -> Loaded {
    load_file(dir().join(name), &LoadOptions::default())
}

fn relative(text: &str) -> String {
    text.replace(&format!("{}/", dir().display()), "")
}

fn summary(loaded: &Loaded) -> String {
    let mut out = String::new();
    for document in &loaded.documents {
        let _ = writeln!(
            out,
            "doc {} {:?}",
            relative(&document.location),
            document.kind
        );
    }
    for diagnostic in &loaded.diagnostics {
        let _ = writeln!(out, "{}", relative(&diagnostic.to_string()));
    }
    for op in loaded.definitions.operations(&loaded.schema) {
        let _ = writeln!(
            out,
            "op {} {} soap{} {}/{} {:?} {:?} action={:?}",
            op.binding.local,
            op.name,
            op.soap_version,
            op.style,
            op.use_kind,
            op.kind,
            op.parameter_style,
            op.soap_action
        );
        for (label, body) in [("in", &op.input), ("out", &op.output)] {
            if let Some(body) = body {
                let name = body
                    .body_name
                    .as_ref()
                    .map_or("-".to_owned(), ToString::to_string);
                let headers: Vec<String> = body.headers.iter().map(ToString::to_string).collect();
                let _ = writeln!(
                    out,
                    "  {label} {name} parts={:?} headers={headers:?}",
                    body.parts
                );
            }
        }
        for fault in &op.faults {
            let element = fault
                .element
                .as_ref()
                .map_or("-".to_owned(), ToString::to_string);
            let _ = writeln!(out, "  fault {} {element}", fault.name);
        }
    }
    for service in &loaded.definitions.services {
        for port in &service.ports {
            let _ = writeln!(
                out,
                "port {}/{} binding={} soap={:?} address={:?}",
                service.name.local, port.name, port.binding.local, port.soap_version, port.address
            );
        }
    }
    out
}

fn check(name: &str, expected: Expect) {
    expected.assert_eq(&summary(&load(name)));
}

#[test]
fn imports_includes_cycles_and_duplicates() {
    check(
        "imports/main.wsdl",
        expect![[r#"
            doc imports/main.wsdl Wsdl
            doc imports/messages.wsdl Wsdl
            doc imports/types/common.xsd Schema
            doc imports/types/chameleon.xsd Schema
            doc imports/types/cycle.xsd Schema
            op OrdersBinding PlaceOrder soap1.1 document/literal RequestResponse Wrapped action=Some("urn:orders:PlaceOrder")
              in {urn:orders:types}PlaceOrder parts=["parameters"] headers=[]
              out {urn:orders:types}PlaceOrderResponse parts=["parameters"] headers=[]
            port OrdersService/OrdersPort binding=OrdersBinding soap=Some(Soap11) address=Some("http://localhost:8080/orders")
        "#]],
    );
}

#[test]
fn document_literal_wrapped() {
    check(
        "doc-literal-wrapped.wsdl",
        expect![[r#"
        doc doc-literal-wrapped.wsdl Wsdl
        op EchoBinding echoString soap1.1 document/literal RequestResponse Wrapped action=Some("urn:echo:echoString")
          in {urn:echo}echoString parts=["parameters"] headers=["{urn:echo}Trace"]
          out {urn:echo}echoStringResponse parts=["parameters"] headers=[]
          fault EchoFault {urn:echo}EchoFault
        op EchoBinding ping soap1.1 document/literal OneWay Wrapped action=Some("")
          in {urn:echo}ping parts=["parameters"] headers=[]
        port EchoService/EchoPort binding=EchoBinding soap=Some(Soap11) address=Some("http://localhost:8080/services/EchoService")
    "#]],
    );
}

#[test]
fn document_literal_bare() {
    check(
        "doc-literal-bare.wsdl",
        expect![[r#"
        doc doc-literal-bare.wsdl Wsdl
        op CalcSoap Add soap1.1 document/literal RequestResponse Bare action=Some("urn:calc:Add")
          in {urn:calc}AddRequest parts=["body"] headers=[]
          out {urn:calc}Result parts=["body"] headers=[]
        op CalcSoap Negate soap1.1 document/literal RequestResponse Bare action=Some("urn:calc:Negate")
          in {urn:calc}Negate parts=["body"] headers=[]
          out {urn:calc}Result parts=["body"] headers=[]
        port CalcService/CalcSoap binding=CalcSoap soap=Some(Soap11) address=Some("http://localhost/calc")
    "#]],
    );
}

#[test]
fn rpc_literal_soap12() {
    check(
        "rpc-literal-soap12.wsdl",
        expect![[r#"
        doc rpc-literal-soap12.wsdl Wsdl
        op QuotesSoap12 GetQuote soap1.2 rpc/literal RequestResponse Rpc action=Some("urn:quote:GetQuote")
          in {urn:quote:rpc}GetQuote parts=["symbol", "when"] headers=[]
          out {urn:quote:rpc}GetQuoteResponse parts=["price"] headers=[]
        port QuoteService/QuotesSoap12 binding=QuotesSoap12 soap=Some(Soap12) address=Some("http://localhost/quotes")
    "#]],
    );
}

#[test]
fn rpc_encoded_and_unsupported_operations() {
    check(
        "rpc-encoded.wsdl",
        expect![[r#"
        doc rpc-encoded.wsdl Wsdl
        rpc-encoded.wsdl:32:5: warning: the operation `tick` is a notification operation, which SOAP over HTTP does not support; it is ignored when serving
        rpc-encoded.wsdl:35:5: warning: the operation `ask` is a solicit-response operation, which SOAP over HTTP does not support; it is ignored when serving
        op LegacyBinding echoStrings soap1.1 rpc/encoded RequestResponse Rpc action=Some("urn:legacy#echoStrings")
          in {urn:legacy}echoStrings parts=["input"] headers=[]
          out {urn:legacy}echoStringsResponse parts=["return"] headers=[]
        port LegacyService/LegacyPort binding=LegacyBinding soap=Some(Soap11) address=Some("http://localhost/legacy")
    "#]],
    );
}

#[test]
fn constructs_load_cleanly() {
    check(
        "constructs.xsd",
        expect![[r#"
        doc constructs.xsd Schema
    "#]],
    );
}

#[test]
fn unresolved_references() {
    check(
        "bad-unresolved.wsdl",
        expect![[r#"
            doc bad-unresolved.wsdl Wsdl
            bad-unresolved.wsdl:49:5: warning: `weird` is not a binding style (document or rpc); it is ignored
            bad-unresolved.wsdl:11:7: warning: unknown type {urn:bad}NoSuchType (defined nowhere; handled laxly)
            bad-unresolved.wsdl:12:7: error: unknown type {http://www.w3.org/2001/XMLSchema}noSuchBuiltin
            bad-unresolved.wsdl:15:11: warning: unknown element {urn:bad}noSuchElement (defined nowhere; handled laxly)
            bad-unresolved.wsdl:16:11: warning: unknown group {urn:bad}NoSuchGroup (defined nowhere; handled laxly)
            bad-unresolved.wsdl:17:11: warning: the schema for the namespace `urn:elsewhere` was not (completely) loaded; its missing components (such as the type {urn:elsewhere}Lax) are handled laxly
            bad-unresolved.wsdl:19:9: warning: unknown attribute group {urn:bad}NoSuchAttributeGroup (defined nowhere; handled laxly)
            bad-unresolved.wsdl:20:9: warning: unknown attribute {urn:bad}noSuchAttribute (defined nowhere; handled laxly)
            bad-unresolved.wsdl:25:5: warning: unknown element {urn:bad}missingElement (defined nowhere; handled laxly)
            bad-unresolved.wsdl:26:5: warning: unknown type {urn:bad}MissingType (defined nowhere; handled laxly)
            bad-unresolved.wsdl:32:7: warning: unknown message {urn:bad}NoSuchMessage (defined nowhere)
            bad-unresolved.wsdl:42:7: warning: the binding fault `Undeclared` is not a fault of the operation `op`; it is ignored
            bad-unresolved.wsdl:40:9: warning: the message {urn:bad}In has no part `missing`; the binding of that part is ignored
            bad-unresolved.wsdl:37:5: warning: the message {urn:bad}In has no part `nope`; the binding of that part is ignored
            bad-unresolved.wsdl:44:5: warning: the binding operation `extra` is not an operation of the port type {urn:bad}P; it is ignored
            bad-unresolved.wsdl:48:3: warning: unknown port type {urn:bad}NoSuchPortType (defined nowhere)
            bad-unresolved.wsdl:52:5: warning: unknown binding {urn:bad}NoSuchBinding (defined nowhere)
            op B op soap1.1 document/literal RequestResponse Bare action=None
              in {urn:bad}missingElement parts=["p", "nope"] headers=[]
              out - parts=[] headers=[]
            port S/p1 binding=NoSuchBinding soap=None address=None
        "#]],
    );
}

#[test]
fn basic_profile_warnings() {
    check(
        "bad-basic-profile.wsdl",
        expect![[r#"
        doc bad-basic-profile.wsdl Wsdl
        bad-basic-profile.wsdl:23:3: warning: the binding has SOAP operations but no soap:binding; it is read as a SOAP binding
        bad-basic-profile.wsdl:23:3: warning: the binding {urn:bp}B mixes document and rpc operations (WS-I BP R2705)
        bad-basic-profile.wsdl:15:26: warning: the part `in` is bound by document/literal but gives a type, not an element (WS-I BP R2204)
        bad-basic-profile.wsdl:16:29: warning: the part `in` is bound by rpc/literal but gives an element, not a type (WS-I BP R2203)
        bad-basic-profile.wsdl:36:5: warning: the operations `first` and `second` of the binding {urn:bp}B share the request body element {urn:bp}Shared; only SOAPAction can tell them apart (WS-I BP R2710)
        op B docByType soap1.1 document/literal OneWay Bare action=None
          in - parts=["in"] headers=[]
        op B rpcByElement soap1.1 rpc/literal OneWay Rpc action=None
          in {urn:bp}rpcByElement parts=["in"] headers=[]
        op B first soap1.1 document/literal OneWay Bare action=Some("urn:first")
          in {urn:bp}Shared parts=["in"] headers=[]
        op B second soap1.1 document/literal OneWay Bare action=Some("urn:second")
          in {urn:bp}Shared parts=["in"] headers=[]
    "#]],
    );
}

#[test]
fn undeclared_prefixes_and_bad_qnames() {
    check(
        "bad-undeclared-prefix.wsdl",
        expect![[r#"
            doc bad-undeclared-prefix.wsdl Wsdl
            bad-undeclared-prefix.wsdl:3:22: warning: the prefix `nope` in `nope:thing` is not declared; it is read as `urn:bad`
            bad-undeclared-prefix.wsdl:4:23: error: `1bad` is not a valid QName
            bad-undeclared-prefix.wsdl:3:22: warning: the schema for the namespace `urn:bad` was not (completely) loaded; its missing components (such as the element {urn:bad}thing) are handled laxly
        "#]],
    );
}

#[test]
fn remote_and_missing_locations() {
    check(
        "bad-remote.wsdl",
        expect![[r#"
        doc bad-remote.wsdl Wsdl
        bad-remote.wsdl:8:3: warning: the location https://example.invalid/other.wsdl was not loaded: only local files are read unless a resolver allows others
        bad-remote.wsdl:11:7: warning: the location http://example.invalid/types.xsd was not loaded: only local files are read unless a resolver allows others
        bad-remote.wsdl:12:7: warning: cannot read no-such-hint.xsd: No such file or directory (os error 2) (an xs:import location is a hint; the namespace is handled laxly)
        bad-remote.wsdl:13:7: error: cannot read no-such-include.xsd: No such file or directory (os error 2)
        bad-remote.wsdl:14:7: warning: the schema for the namespace `urn:remote:types` was not (completely) loaded; its missing components (such as the type {urn:remote:types}Remote) are handled laxly
        bad-remote.wsdl:15:7: warning: the schema for the namespace `urn:hint` was not (completely) loaded; its missing components (such as the type {urn:hint}Hinted) are handled laxly
    "#]],
    );
}

#[test]
fn schema_problems() {
    check(
        "bad-schema.xsd",
        expect![[r#"
            doc bad-schema.xsd Schema
            bad-schema.xsd:4:3: warning: xs:redefine is read as xs:include; its redefinitions are ignored
            bad-schema.xsd:6:38: error: the pattern `(unclosed` cannot be used: a group is not closed by `)` at character 9
            bad-schema.xsd:9:38: warning: the pattern `\p{IsTagalog}+` cannot be used: the block `IsTagalog` is not supported at character 13; it is not checked
            bad-schema.xsd:14:3: warning: the type {urn:s}Twice is defined more than once; the first definition is kept
            bad-schema.xsd:17:7: error: `-1` is not a valid value for `minOccurs` on xs:element
            bad-schema.xsd:18:7: error: maxOccurs is less than minOccurs
            bad-schema.xsd:19:7: error: `sometimes` is not a valid value for `form` on xs:element
            bad-schema.xsd:20:7: error: xs:element needs a `name` attribute
            bad-schema.xsd:23:3: error: xs:simpleType needs an xs:restriction, xs:list or xs:union child
            bad-schema.xsd:24:3: error: `perhaps` is not a valid value for `nillable` on xs:element
            bad-schema.xsd:4:3: error: the included schema constructs.xsd has the target namespace `urn:c`, not `urn:s`
            bad-schema.xsd:19:7: warning: the type `string` has no namespace; it is read as xs:string
            bad-schema.xsd:11:3: error: the type {urn:s}Loop1 derives from itself
            bad-schema.xsd:12:3: error: the type {urn:s}Loop2 derives from itself
        "#]],
    );
}

#[test]
fn doctype_malformed_and_not_wsdl() {
    let mut out = String::new();
    for name in [
        "bad-doctype.wsdl",
        "bad-malformed.wsdl",
        "bad-not-wsdl.xml",
        "no-such-file.wsdl",
    ] {
        out.push_str(&summary(&load(name)));
    }
    expect![[r#"
        bad-doctype.wsdl:1:1: error: not well-formed XML: XML with DTD detected
        bad-malformed.wsdl:4:1: error: not well-formed XML: expected 'message' tag, not 'definitions' at 4:1
        bad-not-wsdl.xml:2:1: error: the root element {urn:not-wsdl}project is not wsdl:definitions or xs:schema
        no-such-file.wsdl: error: cannot read no-such-file.wsdl: No such file or directory (os error 2)
    "#]].assert_eq(&out);
}

#[test]
fn limits() {
    let mut out = String::new();
    let small = |limits: LoadLimits| LoadOptions {
        limits,
        ..LoadOptions::default()
    };
    let main = dir().join("imports/main.wsdl");
    for (label, limits) in [
        (
            "documents",
            LoadLimits {
                max_documents: 2,
                ..LoadLimits::DEFAULT
            },
        ),
        (
            "import depth",
            LoadLimits {
                max_import_depth: 1,
                ..LoadLimits::DEFAULT
            },
        ),
        (
            "document size",
            LoadLimits {
                max_document_bytes: 1500,
                ..LoadLimits::DEFAULT
            },
        ),
        (
            "total size",
            LoadLimits {
                max_total_bytes: 4000,
                ..LoadLimits::DEFAULT
            },
        ),
        (
            "nodes",
            LoadLimits {
                max_nodes: 20,
                ..LoadLimits::DEFAULT
            },
        ),
        (
            "depth",
            LoadLimits {
                max_depth: 3,
                ..LoadLimits::DEFAULT
            },
        ),
    ] {
        let loaded = load_file(&main, &small(limits));
        let _ = writeln!(out, "{label}:");
        for d in loaded
            .diagnostics
            .iter()
            .filter(|d| d.kind == DiagnosticKind::Limit || d.kind == DiagnosticKind::Xml)
        {
            let _ = writeln!(out, "  {}", relative(&d.to_string()));
        }
    }
    expect![[r#"
        documents:
          imports/main.wsdl:15:7: error: more than 2 documents; the rest are not loaded
        import depth:
          imports/messages.wsdl:8:3: error: imports nest deeper than 1; main.wsdl is not loaded
          imports/messages.wsdl:11:7: error: imports nest deeper than 1; types/common.xsd is not loaded
          imports/types/common.xsd:7:3: error: imports nest deeper than 1; chameleon.xsd is not loaded
          imports/types/common.xsd:8:3: error: imports nest deeper than 1; cycle.xsd is not loaded
        document size:
          imports/main.wsdl: error: imports/main.wsdl is larger than 1500 bytes
        total size:
          imports/types/common.xsd:8:3: error: the documents exceed 4000 bytes in all
        nodes:
          imports/main.wsdl:1:1: error: not well-formed XML: nodes limit reached
        depth:
          imports/main.wsdl:35:7: error: elements nest deeper than 3
    "#]].assert_eq(&out);
}

#[test]
fn bytes_are_loaded_without_touching_the_file_system() {
    let wsdl = br#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:m">
  <import namespace="urn:x" location="imports/main.wsdl"/>
  <types><xs:schema targetNamespace="urn:m"><xs:element name="e" type="xs:int"/></xs:schema></types>
</definitions>"#;
    let loaded = load_bytes("memory.wsdl", wsdl, &LoadOptions::default());
    let invalid = load_bytes("bad.wsdl", b"<a>\xff</a>", &LoadOptions::default());
    let mut out = summary(&loaded);
    out.push_str(&summary(&invalid));
    expect![[r#"
        doc memory.wsdl Wsdl
        memory.wsdl:2:3: warning: the location imports/main.wsdl was not loaded: only local files are read unless a resolver allows others
        bad.wsdl: error: bad.wsdl is not UTF-8 (invalid byte at 3)
    "#]].assert_eq(&out);
    assert!(loaded.schema.element(&QName::new("urn:m", "e")).is_some());
}

#[test]
fn resolver_allows_remote_locations() {
    struct Fixed;
    impl ithaca_wsdl::Resolver for Fixed {
        fn fetch(&self, uri: &str) -> Result<Vec<u8>, String> {
            if uri == "http://example.invalid/types.xsd" {
                Ok(br#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:remote:types"><xs:simpleType name="Remote"><xs:restriction base="xs:int"/></xs:simpleType></xs:schema>"#.to_vec())
            } else {
                Err("not allowed".to_owned())
            }
        }
    }
    let options = LoadOptions {
        resolver: Some(std::sync::Arc::new(Fixed)),
        ..LoadOptions::default()
    };
    let loaded = load_file(dir().join("bad-remote.wsdl"), &options);
    expect![[r#"
        doc bad-remote.wsdl Wsdl
        doc http://example.invalid/types.xsd Schema
        bad-remote.wsdl:8:3: warning: the location https://example.invalid/other.wsdl was not loaded: not allowed
        bad-remote.wsdl:12:7: warning: cannot read no-such-hint.xsd: No such file or directory (os error 2) (an xs:import location is a hint; the namespace is handled laxly)
        bad-remote.wsdl:13:7: error: cannot read no-such-include.xsd: No such file or directory (os error 2)
        bad-remote.wsdl:15:7: warning: the schema for the namespace `urn:hint` was not (completely) loaded; its missing components (such as the type {urn:hint}Hinted) are handled laxly
    "#]].assert_eq(&summary(&loaded));
}

fn validate(element: &str, xml: &str) -> String {
    let loaded = load("constructs.xsd");
    assert!(!loaded.has_errors());
    let bindings = [
        NamespaceBinding {
            prefix: Some("c".into()),
            uri: "urn:c".into(),
        },
        NamespaceBinding {
            prefix: Some("xsi".into()),
            uri: "http://www.w3.org/2001/XMLSchema-instance".into(),
        },
    ];
    let name = QName::new("urn:c", element);
    match loaded
        .schema
        .validate_element(xml, &bindings, Some(&name), &InstanceLimits::default())
    {
        Ok(()) => "ok".to_owned(),
        Err(violations) => violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn instance_validation() {
    let cases: &[(&str, &str)] = &[
        (
            "person",
            r#"<c:person createdBy="me"><c:name>  Ann  </c:name><c:email>a@b</c:email><c:tag>red</c:tag><c:tag>green</c:tag><c:comment>hi</c:comment><c:nick xsi:nil="true"/><local>x</local></c:person>"#,
        ),
        (
            "person",
            r#"<c:person createdBy="me" kind="robot" version="x" bogus="1"><c:name>much too long</c:name><c:phone>AB12</c:phone></c:person>"#,
        ),
        (
            "person",
            r#"<c:person><c:name>A</c:name><c:phone>A123</c:phone><c:street>s</c:street><c:city>c</c:city><c:tag>blue</c:tag></c:person>"#,
        ),
        (
            "person",
            r#"<c:person createdBy="me"><c:name>A</c:name></c:person>"#,
        ),
        (
            "person",
            r#"<c:person createdBy="me"><c:name>A</c:name><c:email>e</c:email><c:street>s</c:street></c:person>"#,
        ),
        (
            "person",
            r#"<c:person createdBy="me"><c:email>e</c:email></c:person>"#,
        ),
        (
            "settings",
            r#"<c:settings><c:b>2</c:b><c:a>1</c:a></c:settings>"#,
        ),
        ("settings", r#"<c:settings><c:b>2</c:b></c:settings>"#),
        ("price", r#"<c:price currency="EUR">9.50</c:price>"#),
        ("price", r#"<c:price>12</c:price>"#),
        (
            "shape",
            r#"<c:shape xsi:type="c:Circle"><c:id>1</c:id><c:radius>2.5</c:radius></c:shape>"#,
        ),
        ("shape", r#"<c:shape><c:id>1</c:id></c:shape>"#),
        (
            "shape",
            r#"<c:shape xsi:type="c:Dot"><c:id>101</c:id></c:shape>"#,
        ),
        (
            "shape",
            r#"<c:shape xsi:type="c:Person"><c:id>1</c:id></c:shape>"#,
        ),
        (
            "garage",
            r#"<c:garage><c:car>vw</c:car><c:bike/></c:garage>"#,
        ),
        ("garage", r#"<c:garage><c:vehicle>x</c:vehicle></c:garage>"#),
        (
            "garage",
            r#"<c:garage><c:car>1</c:car><c:car>2</c:car><c:car>3</c:car><c:car>4</c:car></c:garage>"#,
        ),
        (
            "envelope",
            r#"<c:envelope xmlns:o="urn:o" o:any="1"><o:x><o:y/></o:x><c:comment>c</c:comment></c:envelope>"#,
        ),
        ("envelope", r#"<c:envelope><c:undeclared/></c:envelope>"#),
        ("envelope", r#"<c:envelope other="1"/>"#),
        (
            "tree",
            r#"<c:tree><c:value>1</c:value><c:child><c:value>2</c:value><c:child><c:value>x</c:value></c:child></c:child></c:tree>"#,
        ),
        ("mixed", r#"<c:mixed>text <c:b>bold</c:b> more</c:mixed>"#),
        ("settings", r#"<c:settings>text<c:a>1</c:a></c:settings>"#),
        (
            "values",
            r#"<c:values><c:colors>red green</c:colors><c:either>12</c:either><c:either>red</c:either><c:either>true</c:either><c:positive>999.99</c:positive><c:small>10</c:small><c:fixed>F</c:fixed></c:values>"#,
        ),
        (
            "values",
            r#"<c:values><c:colors>red blue</c:colors><c:either>blue</c:either><c:positive>0</c:positive><c:small>11</c:small><c:fixed>G</c:fixed></c:values>"#,
        ),
        (
            "values",
            r#"<c:values><c:colors/><c:either>1</c:either><c:positive>12.345</c:positive></c:values>"#,
        ),
        (
            "values",
            r#"<c:values><c:colors/><c:either>1</c:either><c:positive>1000</c:positive></c:values>"#,
        ),
        (
            "person",
            r#"<c:person createdBy="me"><c:name>A</c:name><c:email>e</c:email><c:nick>n</c:nick><c:nick>n</c:nick></c:person>"#,
        ),
        (
            "comment",
            r#"<c:comment>x</c:comment><c:comment>y</c:comment>"#,
        ),
        ("comment", r#"<c:person/>"#),
        ("comment", r#"<c:comment>unclosed"#),
    ];
    let mut out = String::new();
    for (element, xml) in cases {
        let _ = writeln!(
            out,
            "{element}: {}",
            validate(element, xml).replace('\n', "\n  ")
        );
    }
    expect![[r#"
        person: ok
        person: /person/@kind: value "robot" differs from the fixed value "person"
          /person/@version: value "x" is not a valid xs:int
          /person/@bogus: the attribute is not allowed here
          /person/name: value "much too long" is longer than maxLength 8
        person: /person: the required attribute createdBy is missing
          /person/phone: value "A123" does not match the pattern "[A-Z]{2}\d+"
          /person/tag: value "blue" is not one of the enumerated values
        person: /person: missing element {urn:c}email or {urn:c}phone
        person: /person: missing element {urn:c}city
        person: /person: unexpected element {urn:c}email; expected {urn:c}name
        settings: ok
        settings: /settings: missing element {urn:c}a
        price: ok
        price: /price: the required attribute currency is missing
          /price: value "12" is outside maxInclusive 10
        shape: ok
        shape: /shape: the element's type is abstract; give a derived type with xsi:type
        shape: /shape/id: value "101" is outside maxInclusive 100
        shape: /shape: xsi:type "c:Person" does not derive from the declared type
        garage: ok
        garage: /garage/vehicle: the element {urn:c}vehicle is abstract
        garage: /garage: unexpected element {urn:c}car
        envelope: ok
        envelope: /envelope/undeclared: no global element {urn:c}undeclared is declared for this strict wildcard
        envelope: /envelope/@other: the attribute is not allowed here
        tree: /tree/child/child/value: value "x" is not a valid xs:int
        mixed: ok
        settings: /settings: character data is not allowed in element-only content
        values: ok
        values: /values/colors: value "blue" is not one of the enumerated values
          /values/either: value "blue" matches no member type of the union
          /values/positive: value "0" is outside minExclusive 0
          /values/small: value "11" is outside maxInclusive 10
          /values/fixed: value "G" differs from the fixed value "F"
        values: /values/positive: value "12.345" has more than fractionDigits 2
        values: /values/positive: value "1000" is outside maxExclusive 1000
        person: /person: unexpected element {urn:c}nick
        comment: /: expected exactly one element
        comment: /: expected the element {urn:c}comment, found {urn:c}person
        comment: /: not well-formed XML: the message ends unexpectedly at byte 19
    "#]].assert_eq(&out);
}

#[test]
fn deep_instances_are_refused() {
    let loaded = load("constructs.xsd");
    let mut xml = String::new();
    for _ in 0..100 {
        xml.push_str("<c:child><c:value>1</c:value>");
    }
    for _ in 0..100 {
        xml.push_str("</c:child>");
    }
    let xml = format!("<c:tree xmlns:c=\"urn:c\"><c:value>0</c:value>{xml}</c:tree>");
    let result = loaded
        .schema
        .validate_element(&xml, &[], None, &InstanceLimits::default());
    assert_eq!(
        result.unwrap_err()[0].message,
        "elements nest deeper than 64"
    );
}

#[test]
fn body_payload_from_the_envelope_reader_is_validated() {
    let loaded = load("doc-literal-wrapped.wsdl");
    let request =
        br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:echo">
  <s:Body><echoString><text>hi</text><count>x</count></echoString></s:Body>
</s:Envelope>"#;
    let envelope =
        ithaca_wsdl::read_envelope(request, None, &ithaca_wsdl::Limits::default()).unwrap();
    let operations = loaded.definitions.operations(&loaded.schema);
    let op = operations
        .iter()
        .find(|op| op.input.as_ref().and_then(|i| i.body_name.as_ref()) == envelope.body_name())
        .unwrap();
    assert_eq!(op.name, "echoString");
    let payload = std::str::from_utf8(&request[envelope.body.payload.clone()]).unwrap();
    let violations = loaded
        .schema
        .validate_element(
            payload,
            &envelope.body_scope(),
            None,
            &InstanceLimits::default(),
        )
        .unwrap_err();
    assert_eq!(violations.len(), 1);
    assert_eq!(
        violations[0].to_string(),
        r#"/echoString/count: value "x" is not a valid xs:int"#
    );
}

#[test]
fn the_model_keeps_what_the_schema_says() {
    use ithaca_wsdl::xsd::ResolvedType;
    use ithaca_wsdl::xsd::model::{
        AttributeUseKind, ComplexContent, Compositor, NamespaceConstraint, ProcessContents, Term,
        TypeDef,
    };

    let loaded = load("constructs.xsd");
    let schema = &loaded.schema;
    let c = |local: &str| QName::new("urn:c", local);

    let Some(TypeDef::Complex(person)) = schema.type_def(&c("Person")) else {
        panic!("Person is a complex type");
    };
    let kind = person
        .attributes
        .iter()
        .find(|a| a.name.local == "kind")
        .unwrap();
    assert_eq!(kind.fixed.as_deref(), Some("person"));
    assert_eq!(
        kind.name,
        QName::unqualified("kind"),
        "attributeFormDefault is unqualified"
    );
    let lang = person.attributes.iter().find(|a| a.is_ref).unwrap();
    assert_eq!(lang.name, c("lang"));
    let audit = schema.attribute_group(&c("Audit")).unwrap();
    assert_eq!(audit.attributes[0].use_kind, AttributeUseKind::Required);
    assert_eq!(audit.attributes[1].default.as_deref(), Some("1"));
    let ComplexContent::Elements {
        particle: Some(particle),
        ..
    } = &person.content
    else {
        panic!("Person has element content");
    };
    let Term::Group(sequence) = &particle.term else {
        panic!()
    };
    assert_eq!(sequence.compositor, Compositor::Sequence);
    let names: Vec<String> = sequence
        .particles
        .iter()
        .map(|p| match &p.term {
            Term::Element(e) => format!("{} {}..{:?}", e.name, p.occurs.min, p.occurs.max),
            Term::ElementRef(q) => format!("ref {q}"),
            Term::Group(g) => format!("{:?}", g.compositor),
            Term::GroupRef(q) => format!("group {q} min {}", p.occurs.min),
            Term::Any(_) => "any".to_owned(),
        })
        .collect();
    assert_eq!(
        names,
        [
            "{urn:c}name 1..Some(1)",
            "Choice",
            "group {urn:c}Address min 0",
            "{urn:c}tag 0..None",
            "ref {urn:c}comment",
            "{urn:c}nick 0..Some(1)",
            "local 0..Some(1)",
        ]
    );
    let Term::Element(nick) = &sequence.particles[5].term else {
        panic!()
    };
    assert!(nick.nillable);

    assert_eq!(
        schema.substitution_group(&c("vehicle")),
        [c("bike"), c("car")]
    );
    assert!(schema.element(&c("vehicle")).unwrap().is_abstract);
    let shape = schema.resolve_named_type(&c("Shape"));
    assert!(matches!(shape, Some(ResolvedType::Complex(t)) if t.is_abstract));

    let envelope = schema.element(&c("envelope")).unwrap();
    let Some(ResolvedType::Complex(anon)) =
        schema.resolve_type(envelope.type_ref.as_ref().unwrap())
    else {
        panic!("envelope has an anonymous complex type");
    };
    let wildcard = anon.any_attribute.as_ref().unwrap();
    assert_eq!(wildcard.process_contents, ProcessContents::Skip);
    assert_eq!(
        wildcard.namespaces,
        NamespaceConstraint::Other(Some("urn:c".into()))
    );
    assert!(!wildcard.namespaces.admits(Some("urn:c")));
    assert!(wildcard.namespaces.admits(Some("urn:o")));
    assert!(!wildcard.namespaces.admits(None));

    // SOAP-encoded arrays keep their wsdl:arrayType.
    let legacy = load("rpc-encoded.wsdl");
    let Some(TypeDef::Complex(array)) = legacy
        .schema
        .type_def(&QName::new("urn:legacy", "ArrayOfString"))
    else {
        panic!("ArrayOfString is a complex type");
    };
    let array_type = array.attributes[0].array_type.as_ref().unwrap();
    assert_eq!(
        array_type.item,
        QName::new("http://www.w3.org/2001/XMLSchema", "string")
    );
    assert_eq!(array_type.dimensions, "[]");
    assert_eq!(
        array.attributes[0].name,
        QName::new("http://schemas.xmlsoap.org/soap/encoding/", "arrayType")
    );

    // The chameleon include put its types in the including namespace.
    let imports = load("imports/main.wsdl");
    assert!(
        imports
            .schema
            .type_def(&QName::new("urn:orders:types", "Sku"))
            .is_some()
    );
    assert!(
        imports
            .schema
            .type_def(&QName::unqualified("Sku"))
            .is_none()
    );
    let sku = ithaca_wsdl::xsd::model::TypeRef::Named(QName::new("urn:orders:types", "Sku"));
    assert_eq!(imports.schema.validate_simple(&sku, " ABC-1234 "), Ok(()));
    assert_eq!(
        imports.schema.validate_simple(&sku, "abc"),
        Err(r#"value "abc" does not match the pattern "[A-Z]{3}-\d{4}""#.to_owned())
    );
}
