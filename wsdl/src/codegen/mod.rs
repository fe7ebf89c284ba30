//! Rust code generation from a WSDL 1.1 contract.
//!
//! [`generate`] (for `build.rs`) and [`generate_loaded`] turn a contract
//! into Rust source that `include!` brings into a module:
//!
//! - a struct per complex type and per element with an anonymous type:
//!   attributes and elements as fields (`Option` for `minOccurs="0"`,
//!   `Vec` for `maxOccurs` above one, `Option` with `xsi:nil` for
//!   nillable elements, `Box` where a type reaches itself), `xs:choice` as
//!   an enum of its elements, `xs:extension` flattened (the base's fields
//!   first), simple content as a `value` field; `xs:anyType` content,
//!   elements without a type and mixed content as [`crate::typed::AnyXml`]
//!   (kept as XML);
//! - a Rust enum per enumerated simple type, mapping each variant to its
//!   XML value; other simple types become Rust types (`String`, `bool`,
//!   `i8`…`u64`, `f32`/`f64`, and the newtypes of [`crate::typed`] for
//!   decimals, unbounded integers, dates, times, durations and binary);
//! - for each port type, a fault enum per operation (its declared
//!   `wsdl:fault`s, each with its typed detail, plus any other SOAP
//!   fault, and a [`crate::typed::HeaderFault`] variant per declared
//!   `soap:headerfault`), a server trait with one method per operation (input type in,
//!   `Result<Output, Fault>` out), a `serve_…` function registering an
//!   implementation on `ithaca_gateway`'s `SoapServiceBuilder`, and a
//!   client struct with one `async` method per operation.
//!
//! Every (de)serializer streams over [`crate::typed`]'s reader and writer;
//! no tree is built. document/literal (wrapped and bare, one body part)
//! and rpc/literal are supported. A repeated sequence of elements becomes
//! a `Vec` of a generated group struct, and a choice branch that is a
//! sequence of elements a variant holding one (a group is read from and
//! written into its parent's content). rpc/encoded operations are served
//! through the gateway's section 5 codec
//! (`ithaca_gateway::soap::typed::encoded_handler`) and called through it
//! (`SoapClient::call_encoded`; the client then holds the contract). A
//! one-dimensional SOAP-encoded array type (a restriction of
//! `soapenc:Array` with `wsdl:arrayType="T[]"`) maps to `Vec<T>`, read and
//! written by [`crate::typed::read_array`] / [`crate::typed::write_array`]
//! in its literal form, the codec adding `SOAP-ENC:arrayType` and the
//! `xsi:type`s. Multi-dimensional arrays and arrays of arrays,
//! document/encoded operations, rpc/encoded header parts, and repeated
//! sequences or choice branches holding other than elements are reported
//! as errors naming where they are written.
//! A list maps to a `Vec` of its item type (whitespace-separated on the
//! wire); a union to a newtype over its lexical form that parses only when
//! one of its member types accepts the text. Operations binding
//! `soap:header` parts get a header struct per side (see `service.rs`).

mod emit;
mod model;
mod names;
pub(crate) mod runtime;
mod service;

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::loader::{LoadOptions, Loaded, load_file};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The server traits and their `serve_…` registration functions
    /// (needs `ithaca-gateway`).
    pub server: bool,
    /// The clients (needs `ithaca-gateway`).
    pub client: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            server: true,
            client: true,
        }
    }
}

/// Why no code was generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodegenError {
    /// The contract does not load: its error diagnostics, each
    /// `file:line:col: error: message`.
    #[error("the contract does not load:\n{}", join(.0))]
    Load(Vec<String>),
    /// The contract uses constructs the generator does not support, each
    /// `file:line:col: message`.
    #[error("the contract cannot be generated:\n{}", join(.0))]
    Unsupported(Vec<String>),
}

impl CodegenError {
    /// The problems, one per line, `file:line:col: message`.
    pub fn lines(&self) -> &[String] {
        match self {
            Self::Load(lines) | Self::Unsupported(lines) => lines,
        }
    }
}

fn join(lines: &[String]) -> String {
    lines.join("\n")
}

/// Loads the WSDL at `path` (with its local imports) and generates the
/// Rust source for it. Meant for `build.rs`:
///
/// ```no_run
/// let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
/// let code = ithaca_wsdl::codegen::generate("contracts/echo.wsdl", &Default::default())
///     .unwrap_or_else(|e| panic!("{e}"));
/// std::fs::write(out.join("echo.rs"), code).unwrap();
/// ```
pub fn generate(path: impl AsRef<Path>, options: &Options) -> Result<String, CodegenError> {
    let loaded = load_file(path.as_ref(), &LoadOptions::default());
    generate_loaded(&loaded, options)
}

/// Generates the Rust source for a contract already loaded.
pub fn generate_loaded(loaded: &Loaded, options: &Options) -> Result<String, CodegenError> {
    if loaded.has_errors() {
        return Err(CodegenError::Load(
            loaded.errors().map(Diagnostic::to_string).collect(),
        ));
    }
    let mut model = model::Model::new(&loaded.schema, &["Fault", "Limits"]);
    let ports = service::collect(loaded, &mut model);
    model.box_recursion();
    if !model.errors.is_empty() {
        let mut errors = model.errors;
        errors.dedup();
        return Err(CodegenError::Unsupported(errors));
    }
    let mut out = String::new();
    let source = loaded
        .documents
        .first()
        .map_or("the contract", |d| d.location.as_str());
    out.push_str(&format!(
        "// Generated by ithaca codegen from {}; do not edit.\n\n",
        Path::new(source)
            .file_name()
            .map_or_else(|| source.to_owned(), |n| n.to_string_lossy().into_owned())
    ));
    emit::emit_types(&model, &mut out);
    service::emit(&ports, options, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_bytes;

    fn wsdl(types: &str, style: &str, use_kind: &str) -> String {
        format!(
            r#"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="urn:t" targetNamespace="urn:t">
  <types><xs:schema targetNamespace="urn:t" elementFormDefault="qualified">{types}</xs:schema></types>
  <message name="in"><part name="p" element="tns:op"/></message>
  <message name="out"><part name="p" element="tns:opResponse"/></message>
  <portType name="Port"><operation name="op"><input message="tns:in"/><output message="tns:out"/></operation></portType>
  <binding name="B" type="tns:Port">
    <soap:binding style="{style}" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="op"><soap:operation soapAction="a"/>
      <input><soap:body use="{use_kind}"/></input><output><soap:body use="{use_kind}"/></output>
    </operation>
  </binding>
</definitions>"#
        )
    }

    const TYPES: &str = r#"<xs:element name="op"><xs:complexType><xs:sequence>
          <xs:element name="type" type="xs:int"/>
          <xs:element name="self" type="tns:Node" minOccurs="0"/>
        </xs:sequence></xs:complexType></xs:element>
        <xs:complexType name="Node"><xs:sequence>
          <xs:element name="next" type="tns:Node" minOccurs="0"/>
        </xs:sequence></xs:complexType>
        <xs:element name="opResponse" type="xs:string"/>"#;

    #[test]
    fn generates_keyword_safe_boxed_types_a_trait_and_a_client() {
        let loaded = load_bytes(
            "t.wsdl",
            wsdl(TYPES, "document", "literal").as_bytes(),
            &LoadOptions::default(),
        );
        let code = generate_loaded(&loaded, &Options::default()).unwrap();
        assert!(code.contains("pub r#type: i32,"), "{code}");
        assert!(
            code.contains("pub self_: ::std::option::Option<Node>,"),
            "{code}"
        );
        assert!(
            code.contains("pub next: ::std::option::Option<::std::boxed::Box<Self>>,"),
            "{code}"
        );
        assert!(code.contains("pub trait Port:"), "{code}");
        assert!(code.contains("pub struct PortClient"), "{code}");
        assert!(code.contains("pub fn serve_port<S: Port>"), "{code}");
        let client_only = generate_loaded(
            &loaded,
            &Options {
                server: false,
                client: true,
            },
        )
        .unwrap();
        assert!(!client_only.contains("ithaca_gateway::soap::SoapError"));
    }

    #[test]
    fn maps_lists_to_vecs_and_unions_to_checked_newtypes() {
        let types = r#"<xs:simpleType name="Ints"><xs:list itemType="xs:int"/></xs:simpleType>
        <xs:simpleType name="Size"><xs:union memberTypes="xs:int tns:Ints">
          <xs:simpleType><xs:restriction base="xs:string"><xs:enumeration value="big"/></xs:restriction></xs:simpleType>
        </xs:union></xs:simpleType>
        <xs:element name="op"><xs:complexType><xs:sequence>
          <xs:element name="ints" type="tns:Ints"/>
          <xs:element name="size" type="tns:Size" maxOccurs="2"/>
        </xs:sequence></xs:complexType></xs:element>
        <xs:element name="opResponse" type="xs:string"/>"#;
        let loaded = load_bytes(
            "t.wsdl",
            wsdl(types, "document", "literal").as_bytes(),
            &LoadOptions::default(),
        );
        let code = generate_loaded(&loaded, &Options::default()).unwrap();
        assert!(code.contains("pub ints: ::std::vec::Vec<i32>,"), "{code}");
        assert!(code.contains("pub size: ::std::vec::Vec<Size>,"), "{code}");
        assert!(
            code.contains("pub struct Size(pub ::std::string::String);"),
            "{code}"
        );
        for member in ["i32", "::std::vec::Vec<i32>"] {
            assert!(
                code.contains(&format!(
                    "<{member} as ::ithaca_wsdl::typed::SimpleValue>::parse_lexical(text).is_some()"
                )),
                "{member} in {code}"
            );
        }
    }

    #[test]
    fn maps_repeated_sequences_and_choice_branches_to_group_structs() {
        let types = r#"<xs:element name="op"><xs:complexType><xs:sequence>
          <xs:sequence maxOccurs="unbounded">
            <xs:element name="k" type="xs:string"/><xs:element name="v" type="xs:int"/>
          </xs:sequence>
          <xs:choice>
            <xs:element name="none" type="xs:boolean"/>
            <xs:sequence><xs:element name="a" type="xs:int"/><xs:element name="b" type="xs:int"/></xs:sequence>
          </xs:choice>
        </xs:sequence></xs:complexType></xs:element>
        <xs:element name="opResponse" type="xs:string"/>"#;
        let loaded = load_bytes(
            "t.wsdl",
            wsdl(types, "document", "literal").as_bytes(),
            &LoadOptions::default(),
        );
        let code = generate_loaded(&loaded, &Options::default()).unwrap();
        assert!(
            code.contains("pub group: ::std::vec::Vec<OpGroup>,"),
            "{code}"
        );
        assert!(code.contains("    Ab(OpGroup2),"), "{code}");
        assert!(code.contains("fn write_content(&self"), "{code}");

        let nested = r#"<xs:element name="op"><xs:complexType><xs:sequence>
          <xs:sequence maxOccurs="2"><xs:choice><xs:element name="x" type="xs:int"/></xs:choice></xs:sequence>
        </xs:sequence></xs:complexType></xs:element>
        <xs:element name="opResponse" type="xs:string"/>"#;
        let loaded = load_bytes(
            "t.wsdl",
            wsdl(nested, "document", "literal").as_bytes(),
            &LoadOptions::default(),
        );
        let error = generate_loaded(&loaded, &Options::default()).unwrap_err();
        assert!(
            error.to_string().contains("holds other than elements"),
            "{error}"
        );
    }

    #[test]
    fn maps_a_header_fault_to_a_typed_variant() {
        let types = r#"<xs:element name="op"><xs:complexType><xs:sequence>
          <xs:element name="a" type="xs:int"/></xs:sequence></xs:complexType></xs:element>
        <xs:element name="opResponse" type="xs:string"/>
        <xs:element name="token" type="xs:string"/>
        <xs:element name="tokenRefused"><xs:complexType><xs:sequence>
          <xs:element name="why" type="xs:string"/></xs:sequence></xs:complexType></xs:element>"#;
        let contract = wsdl(types, "document", "literal")
            .replace(
                r#"<message name="in"><part name="p" element="tns:op"/></message>"#,
                r#"<message name="in"><part name="p" element="tns:op"/><part name="t" element="tns:token"/></message>
  <message name="refused"><part name="f" element="tns:tokenRefused"/></message>"#,
            )
            .replacen(
                r#"<input><soap:body use="literal"/></input>"#,
                r#"<input><soap:body parts="p" use="literal"/><soap:header message="tns:in" part="t" use="literal"><soap:headerfault message="tns:refused" part="f" use="literal"/></soap:header></input>"#,
                1,
            );
        let loaded = load_bytes("t.wsdl", contract.as_bytes(), &LoadOptions::default());
        assert!(!loaded.has_errors());
        let operations = loaded.definitions.operations(&loaded.schema);
        let faults = &operations[0].header_faults;
        assert_eq!(faults.len(), 1, "{operations:?}");
        assert_eq!(faults[0].block, crate::QName::new("urn:t", "tokenRefused"));
        assert_eq!(faults[0].header, crate::QName::new("urn:t", "token"));
        let code = generate_loaded(&loaded, &Options::default()).unwrap();
        assert!(
            code.contains("TokenRefused(::ithaca_wsdl::typed::HeaderFault<TokenRefused>),"),
            "{code}"
        );
        assert!(code.contains("SoapError::header_fault("), "{code}");
        assert!(code.contains("read_header_block(message"), "{code}");
    }

    #[test]
    fn maps_any_type_and_mixed_content_to_raw_xml() {
        let types = r#"<xs:complexType name="Note" mixed="true"><xs:sequence>
          <xs:element name="b" type="xs:string" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType>
        <xs:complexType name="LongNote"><xs:complexContent><xs:extension base="tns:Note">
          <xs:sequence><xs:element name="i" type="xs:string"/></xs:sequence></xs:extension></xs:complexContent></xs:complexType>
        <xs:element name="op"><xs:complexType><xs:sequence>
          <xs:element name="anything" type="xs:anyType"/>
          <xs:element name="untyped" minOccurs="0"/>
          <xs:element name="note" type="tns:Note"/>
          <xs:element name="longNote" type="tns:LongNote" maxOccurs="unbounded"/>
        </xs:sequence></xs:complexType></xs:element>
        <xs:element name="opResponse" type="xs:anyType"/>"#;
        let loaded = load_bytes(
            "t.wsdl",
            wsdl(types, "document", "literal").as_bytes(),
            &LoadOptions::default(),
        );
        let code = generate_loaded(&loaded, &Options::default()).unwrap();
        for field in [
            "pub anything: ::ithaca_wsdl::typed::AnyXml,",
            "pub untyped: ::std::option::Option<::ithaca_wsdl::typed::AnyXml>,",
            "pub note: ::ithaca_wsdl::typed::AnyXml,",
            "pub long_note: ::std::vec::Vec<::ithaca_wsdl::typed::AnyXml>,",
        ] {
            assert!(code.contains(field), "{field} in {code}");
        }
        assert!(
            code.contains("Output = ::std::result::Result<::ithaca_wsdl::typed::AnyXml, OpFault>"),
            "{code}"
        );
        assert!(!code.contains("pub struct Note"), "{code}");
    }

    /// An rpc/encoded contract whose input part is the SOAP-encoded
    /// array type `Ints` with `wsdl:arrayType="xs:int{dims}"`.
    fn encoded_array_wsdl(dims: &str) -> String {
        wsdl(
            &format!(
                r#"<xs:import namespace="http://schemas.xmlsoap.org/soap/encoding/"/>
            <xs:complexType name="Ints"><xs:complexContent>
              <xs:restriction base="soapenc:Array">
                <xs:attribute ref="soapenc:arrayType" wsdl:arrayType="xs:int{dims}"/>
              </xs:restriction></xs:complexContent></xs:complexType>"#
            ),
            "rpc",
            "encoded",
        )
        .replace(
            r#"xmlns:tns="urn:t" targetNamespace="urn:t">"#,
            r#"xmlns:tns="urn:t" targetNamespace="urn:t" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">"#,
        )
        .replace(
            r#"<message name="in"><part name="p" element="tns:op"/></message>"#,
            r#"<message name="in"><part name="p" type="tns:Ints"/></message>"#,
        )
        .replace(
            r#"<message name="out"><part name="p" element="tns:opResponse"/></message>"#,
            r#"<message name="out"><part name="p" type="tns:Ints"/></message>"#,
        )
    }

    #[test]
    fn rpc_encoded_operations_get_a_server_and_a_client_with_arrays_as_vec() {
        let loaded = load_bytes(
            "t.wsdl",
            wsdl(TYPES, "rpc", "encoded").as_bytes(),
            &LoadOptions::default(),
        );
        let code = generate_loaded(&loaded, &Options::default()).unwrap();
        assert!(code.contains("builder.dynamic_operation("), "{code}");
        assert!(code.contains("typed::encoded_handler("), "{code}");
        assert!(code.contains("pub async fn op("), "{code}");
        assert!(code.contains(".call_encoded("), "{code}");
        assert!(
            code.contains("contract: &::ithaca_gateway::soap::Contract"),
            "{code}"
        );

        let loaded = load_bytes(
            "t.wsdl",
            encoded_array_wsdl("[]").as_bytes(),
            &LoadOptions::default(),
        );
        let code = generate_loaded(&loaded, &Options::default()).unwrap();
        assert!(code.contains("pub p: ::std::vec::Vec<i32>,"), "{code}");
        assert!(
            code.contains("::ithaca_wsdl::typed::read_array(r)?"),
            "{code}"
        );
        assert!(
            code.contains("::ithaca_wsdl::typed::write_array(&self.p, w"),
            "{code}"
        );
        assert!(!code.contains("pub struct Ints"), "{code}");
    }

    #[test]
    fn refuses_what_it_cannot_map_with_a_location() {
        // Multi-dimensional arrays and arrays of arrays are refused, not
        // flattened.
        for dims in ["[,]", "[][]", "[2,3]"] {
            let loaded = load_bytes(
                "t.wsdl",
                encoded_array_wsdl(dims).as_bytes(),
                &LoadOptions::default(),
            );
            let error = generate_loaded(&loaded, &Options::default()).unwrap_err();
            assert!(matches!(error, CodegenError::Unsupported(_)), "{error}");
            assert!(error.lines()[0].contains("SOAP-encoded array"), "{error}");
            assert!(error.lines()[0].contains("only one-dimensional"), "{error}");
            assert!(error.lines()[0].starts_with("t.wsdl:"), "{error}");
        }
        let loaded = load_bytes(
            "t.wsdl",
            wsdl(TYPES, "document", "encoded").as_bytes(),
            &LoadOptions::default(),
        );
        let error = generate_loaded(&loaded, &Options::default()).unwrap_err();
        assert!(error.to_string().contains("is document/encoded"), "{error}");
        assert!(error.lines()[0].starts_with("t.wsdl:"), "{error}");

        let nested_choice = r#"<xs:element name="op"><xs:complexType><xs:sequence>
          <xs:sequence maxOccurs="2"><xs:any processContents="lax"/></xs:sequence>
        </xs:sequence></xs:complexType></xs:element>
        <xs:element name="opResponse" type="xs:string"/>"#;
        let loaded = load_bytes(
            "t.wsdl",
            wsdl(nested_choice, "document", "literal").as_bytes(),
            &LoadOptions::default(),
        );
        let error = generate_loaded(&loaded, &Options::default()).unwrap_err();
        assert!(error.lines()[0].starts_with("t.wsdl:"), "{error}");
        assert!(
            error.to_string().contains("holds other than elements"),
            "{error}"
        );

        let broken = load_bytes("b.wsdl", b"<definitions", &LoadOptions::default());
        let error = generate_loaded(&broken, &Options::default()).unwrap_err();
        assert!(matches!(error, CodegenError::Load(_)));
        assert!(error.lines()[0].starts_with("b.wsdl:1:"), "{error}");
    }
}
