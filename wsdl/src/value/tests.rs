//! Tests of the value codecs over fixture contracts of our own.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;
use crate::loader::{LoadOptions, Loaded, load_bytes};
use crate::qname::{NamespaceBinding, QName};
use crate::xsd::builtin::BuiltinType;

const NS: &str = "urn:ithaca:test:values";

/// A literal schema with most shapes a value can take.
const RECORDS_WSDL: &str = r###"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="urn:ithaca:test:values" targetNamespace="urn:ithaca:test:values">
  <types>
    <xs:schema targetNamespace="urn:ithaca:test:values" elementFormDefault="qualified"
        xmlns:tns="urn:ithaca:test:values">
      <xs:simpleType name="Colour">
        <xs:restriction base="xs:string">
          <xs:enumeration value="red"/><xs:enumeration value="green"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:simpleType name="Scores"><xs:list itemType="xs:int"/></xs:simpleType>
      <xs:simpleType name="IntOrWord">
        <xs:union memberTypes="xs:int xs:NCName"/>
      </xs:simpleType>
      <xs:simpleType name="Percent">
        <xs:restriction base="xs:int">
          <xs:minInclusive value="0"/><xs:maxInclusive value="100"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:complexType name="Money">
        <xs:simpleContent>
          <xs:extension base="xs:decimal">
            <xs:attribute name="currency" type="xs:string" use="required"/>
          </xs:extension>
        </xs:simpleContent>
      </xs:complexType>
      <xs:complexType name="Shape">
        <xs:sequence><xs:element name="label" type="xs:string"/></xs:sequence>
        <xs:attribute name="id" type="xs:long"/>
      </xs:complexType>
      <xs:complexType name="Circle">
        <xs:complexContent>
          <xs:extension base="tns:Shape">
            <xs:sequence><xs:element name="radius" type="xs:double"/></xs:sequence>
          </xs:extension>
        </xs:complexContent>
      </xs:complexType>
      <xs:element name="record">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="text" type="xs:string"/>
            <xs:element name="flag" type="xs:boolean"/>
            <xs:element name="small" type="xs:int"/>
            <xs:element name="big" type="xs:unsignedLong"/>
            <xs:element name="huge" type="xs:integer"/>
            <xs:element name="amount" type="xs:decimal"/>
            <xs:element name="ratio" type="xs:double"/>
            <xs:element name="single" type="xs:float"/>
            <xs:element name="day" type="xs:date"/>
            <xs:element name="blob" type="xs:base64Binary"/>
            <xs:element name="hex" type="xs:hexBinary"/>
            <xs:element name="kind" type="xs:QName"/>
            <xs:element name="colour" type="tns:Colour"/>
            <xs:element name="scores" type="tns:Scores"/>
            <xs:element name="either" type="tns:IntOrWord"/>
            <xs:element name="percent" type="tns:Percent"/>
            <xs:element name="price" type="tns:Money"/>
            <xs:element name="note" type="xs:string" nillable="true"/>
            <xs:element name="shape" type="tns:Shape" minOccurs="0" maxOccurs="unbounded"/>
            <xs:element name="local" form="unqualified" type="xs:string" minOccurs="0"/>
            <xs:any namespace="##other" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
          </xs:sequence>
          <xs:attribute name="version" type="xs:int"/>
          <xs:anyAttribute namespace="##other"/>
        </xs:complexType>
      </xs:element>
    </xs:schema>
  </types>
</definitions>"###;

fn records() -> Loaded {
    let loaded = load_bytes(
        "records.wsdl",
        RECORDS_WSDL.as_bytes(),
        &LoadOptions::default(),
    );
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    loaded
}

fn q(local: &str) -> QName {
    QName::new(NS, local)
}

fn field(local: &str, value: Value) -> Field {
    Field::qualified(NS, local, value)
}

fn simple(value: Simple) -> Value {
    Value::Simple(value)
}

fn sample() -> Value {
    Value::Complex(Complex {
        attributes: vec![Attribute {
            name: QName::unqualified("version"),
            value: Simple::Int(2),
        }],
        any_attributes: vec![(QName::new("urn:other", "trace"), "t-1".to_owned())],
        fields: vec![
            field("text", Value::string(" a <b> & \"c\"\r\n ")),
            field("flag", Value::boolean(true)),
            field("small", Value::int(-42)),
            field("big", simple(Simple::UInt(u64::MAX))),
            field(
                "huge",
                simple(Simple::BigInt("-123456789012345678901234567890".into())),
            ),
            field("amount", simple(Simple::Decimal("-12.5".into()))),
            field("ratio", simple(Simple::Double(0.1))),
            field("single", simple(Simple::Float(f32::INFINITY))),
            field(
                "day",
                simple(Simple::Lexical(BuiltinType::Date, "2026-11-24Z".into())),
            ),
            field("blob", simple(Simple::Bytes(vec![0, 1, 2, 255]))),
            field("hex", simple(Simple::Bytes(vec![0xCA, 0xFE]))),
            field(
                "kind",
                simple(Simple::QName(QName::new("urn:kinds", "gold"))),
            ),
            field("colour", Value::string("green")),
            field(
                "scores",
                simple(Simple::List(vec![Simple::Int(1), Simple::Int(-2)])),
            ),
            field("either", simple(Simple::String("word".into()))),
            field("percent", Value::int(99)),
            field(
                "price",
                Value::Complex(Complex {
                    attributes: vec![Attribute {
                        name: QName::unqualified("currency"),
                        value: Simple::String("EUR".into()),
                    }],
                    content: Some(Simple::Decimal("9.99".into())),
                    ..Complex::default()
                }),
            ),
            field("note", Value::Nil),
            field(
                "shape",
                Value::complex([field("label", Value::string("plain"))]),
            ),
            field(
                "shape",
                Value::Complex(Complex {
                    type_name: Some(q("Circle")),
                    attributes: vec![Attribute {
                        name: QName::unqualified("id"),
                        value: Simple::Int(7),
                    }],
                    fields: vec![
                        field("label", Value::string("round")),
                        field("radius", simple(Simple::Double(1.5))),
                    ],
                    ..Complex::default()
                }),
            ),
            Field::unqualified("local", Value::string("no namespace")),
            Field {
                name: QName::new("urn:other", "extra"),
                value: Value::Raw(
                    r###"<o:extra xmlns:o="urn:other" o:a="1"><o:in>x</o:in></o:extra>"###.into(),
                ),
            },
        ],
        ..Complex::default()
    })
}

#[test]
fn a_rich_record_round_trips() {
    let loaded = records();
    let value = sample();
    let xml = encode_element(&loaded.schema, &q("record"), &value).unwrap();
    // What a user would check on the wire.
    assert!(xml.starts_with(r###"<ns1:record xmlns:ns1="urn:ithaca:test:values" xmlns:ns2="urn:other" version="2" ns2:trace="t-1">"###), "{xml}");
    assert!(xml.contains(r###"<ns1:note xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>"###), "{xml}");
    assert!(
        xml.contains(r###"<ns1:blob>AAEC/w==</ns1:blob><ns1:hex>CAFE</ns1:hex>"###),
        "{xml}"
    );
    assert!(
        xml.contains(r###"<ns1:kind xmlns:ns3="urn:kinds">ns3:gold</ns1:kind>"###),
        "{xml}"
    );
    assert!(xml.contains(r###"xsi:type="ns1:Circle" id="7""###), "{xml}");
    assert!(xml.contains("<local>no namespace</local>"), "{xml}");
    assert!(xml.contains(r###"<ns1:single>INF</ns1:single>"###), "{xml}");
    // Validated by the schema's own validator, then decoded back.
    loaded
        .schema
        .validate_element(&xml, &[], None, &crate::xsd::InstanceLimits::default())
        .unwrap();
    let decoded = decode_element(
        &loaded.schema,
        xml.as_bytes(),
        &[],
        &q("record"),
        &ValueLimits::default(),
    )
    .unwrap();
    assert_eq!(decoded, value);
}

#[test]
fn decoding_uses_the_outer_scope_and_normalises_values() {
    let loaded = records();
    let scope = [NamespaceBinding {
        prefix: Some("r".into()),
        uri: NS.into(),
    }];
    let xml = r###"<r:record>
      <r:text>t</r:text><r:flag>1</r:flag><r:small> +007 </r:small><r:big>0</r:big>
      <r:huge>-0</r:huge><r:amount>+001.50</r:amount><r:ratio>1e3</r:ratio><r:single>-0</r:single>
      <r:day> 2026-01-02 </r:day><r:blob>AA==</r:blob><r:hex>ff</r:hex><r:kind>r:x</r:kind>
      <r:colour>red</r:colour><r:scores> 1  2 </r:scores><r:either>5</r:either><r:percent>0</r:percent>
      <r:price currency="USD">3</r:price><r:note>n</r:note>
    </r:record>"###;
    let value = decode_element(
        &loaded.schema,
        xml.as_bytes(),
        &scope,
        &q("record"),
        &ValueLimits::default(),
    )
    .unwrap();
    assert_eq!(value.field("flag"), Some(&Value::boolean(true)));
    assert_eq!(value.field("small").and_then(Value::as_i64), Some(7));
    assert_eq!(value.field("huge"), Some(&Value::int(0)));
    assert_eq!(
        value.field("amount"),
        Some(&simple(Simple::Decimal("1.5".into())))
    );
    assert_eq!(value.field("ratio"), Some(&simple(Simple::Double(1000.0))));
    assert_eq!(
        value.field("day"),
        Some(&simple(Simple::Lexical(
            BuiltinType::Date,
            "2026-01-02".into()
        )))
    );
    assert_eq!(value.field("kind"), Some(&simple(Simple::QName(q("x")))));
    assert_eq!(
        value.field("scores"),
        Some(&simple(Simple::List(vec![Simple::Int(1), Simple::Int(2)])))
    );
    assert_eq!(value.field("either"), Some(&Value::int(5)));
    assert_eq!(value.field("note"), Some(&Value::string("n")));
}

#[test]
fn bad_input_is_refused_with_the_path() {
    let loaded = records();
    let limits = ValueLimits::default();
    let decode = |xml: &str| {
        decode_element(&loaded.schema, xml.as_bytes(), &[], &q("record"), &limits)
            .unwrap_err()
            .to_string()
    };
    let head =
        r###"<r:record xmlns:r="urn:ithaca:test:values"><r:text>t</r:text><r:flag>true</r:flag>"###;
    assert_eq!(
        decode(&format!("{head}<r:small>x</r:small></r:record>")),
        r###"/record/small: value "x" is not a valid xs:int"###
    );
    assert_eq!(
        decode(&format!("{head}<r:small>1</r:small><r:bogus/></r:record>"))
            .split(';')
            .next()
            .unwrap(),
        "/record/bogus: unexpected element {urn:ithaca:test:values}bogus"
    );
    assert_eq!(
        decode(&format!(
            r###"{head}<r:small xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></r:record>"###
        )),
        "/record/small: the element is not nillable"
    );
    assert_eq!(
        decode(&format!("{head}<r:percent>101</r:percent></r:record>")),
        "/record/percent: value \"101\" is outside maxInclusive 100"
    );
    assert_eq!(
        decode(&format!("{head}<r:price>1</r:price></r:record>")),
        "/record/price: the required attribute currency is missing"
    );
    assert!(decode("<!DOCTYPE x><x/>").contains("document type declarations are not allowed"));
    assert_eq!(
        decode(r###"<r:other xmlns:r="urn:ithaca:test:values"/>"###),
        "/other: expected the element {urn:ithaca:test:values}record, found {urn:ithaca:test:values}other"
    );
}

/// What schema validation refuses, the value decoder refuses too: content
/// out of the sequence's order, more occurrences than `maxOccurs`, and a
/// missing required element (a dynamic handler never sees such a value,
/// even with validation turned off).
#[test]
fn the_decoder_checks_order_and_occurrences() {
    let loaded = records();
    let limits = ValueLimits::default();
    let decode = |xml: &str| {
        decode_element(&loaded.schema, xml.as_bytes(), &[], &q("record"), &limits)
            .map_err(|e| e.to_string())
    };
    let open = r###"<r:record xmlns:r="urn:ithaca:test:values">"###;
    let rest = "<r:small>1</r:small><r:big>1</r:big><r:huge>1</r:huge><r:amount>1</r:amount><r:ratio>1</r:ratio><r:single>1</r:single><r:day>2020-01-01</r:day><r:blob></r:blob><r:hex></r:hex><r:kind>r:x</r:kind><r:colour>red</r:colour><r:scores/><r:either>1</r:either><r:percent>1</r:percent><r:price currency=\"EUR\">1</r:price><r:note>n</r:note>";
    let valid = format!("{open}<r:text>t</r:text><r:flag>true</r:flag>{rest}</r:record>");
    assert!(decode(&valid).is_ok(), "{:?}", decode(&valid));
    let swapped = format!("{open}<r:flag>true</r:flag><r:text>t</r:text>{rest}</r:record>");
    let error = decode(&swapped).unwrap_err();
    assert!(error.starts_with("/record/flag"), "{error}");
    let twice =
        format!("{open}<r:text>t</r:text><r:text>u</r:text><r:flag>true</r:flag>{rest}</r:record>");
    let error = decode(&twice).unwrap_err();
    assert!(error.starts_with("/record/text"), "{error}");
    let missing = format!("{open}<r:flag>true</r:flag>{rest}</r:record>");
    let error = decode(&missing).unwrap_err();
    assert!(error.starts_with("/record"), "{error}");
    let late = format!(
        "{open}<r:text>t</r:text><r:flag>true</r:flag>{rest}<r:small>2</r:small></r:record>"
    );
    let error = decode(&late).unwrap_err();
    assert!(error.starts_with("/record/small"), "{error}");
}

#[test]
fn encoding_refuses_values_that_do_not_fit() {
    let loaded = records();
    let encode = |value: Value| {
        encode_element(&loaded.schema, &q("record"), &value)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        encode(Value::complex([field("small", Value::string("x"))])),
        r###"/record/small: value "x" is not a valid xs:int"###
    );
    assert_eq!(
        encode(Value::complex([field("nope", Value::int(1))])),
        "/record/nope: the type has no element {urn:ithaca:test:values}nope"
    );
    assert_eq!(
        encode(Value::complex([field("small", Value::Nil)])),
        "/record/small: the element is not nillable"
    );
    assert_eq!(
        encode(Value::complex([field("colour", Value::string("blue"))])),
        r###"/record/colour: value "blue" is not one of the enumerated values"###
    );
}

/// An rpc/encoded and rpc/literal contract.
const RPC_WSDL: &str = r###"<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"
    xmlns:tns="urn:ithaca:test:rpc" targetNamespace="urn:ithaca:test:rpc">
  <types>
    <xsd:schema targetNamespace="urn:ithaca:test:rpc">
      <xsd:complexType name="Point">
        <xsd:sequence>
          <xsd:element name="x" type="xsd:int"/>
          <xsd:element name="y" type="xsd:int"/>
          <xsd:element name="label" type="xsd:string" nillable="true"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="ArrayOfPoint">
        <xsd:complexContent>
          <xsd:restriction base="soapenc:Array">
            <xsd:attribute ref="soapenc:arrayType" wsdl:arrayType="tns:Point[]"/>
          </xsd:restriction>
        </xsd:complexContent>
      </xsd:complexType>
      <xsd:complexType name="ArrayOfInt">
        <xsd:complexContent>
          <xsd:restriction base="soapenc:Array">
            <xsd:attribute ref="soapenc:arrayType" wsdl:arrayType="xsd:int[]"/>
          </xsd:restriction>
        </xsd:complexContent>
      </xsd:complexType>
    </xsd:schema>
  </types>
  <message name="moveIn"><part name="points" type="tns:ArrayOfPoint"/><part name="dx" type="xsd:int"/></message>
  <message name="moveOut"><part name="moved" type="tns:ArrayOfPoint"/></message>
  <message name="sumIn"><part name="values" type="tns:ArrayOfInt"/></message>
  <message name="sumOut"><part name="total" type="xsd:long"/></message>
  <message name="pointIn"><part name="p" type="tns:Point"/><part name="name" type="xsd:string"/></message>
  <message name="pointOut"><part name="p" type="tns:Point"/></message>
  <portType name="Geometry">
    <operation name="move"><input message="tns:moveIn"/><output message="tns:moveOut"/></operation>
    <operation name="sum"><input message="tns:sumIn"/><output message="tns:sumOut"/></operation>
  </portType>
  <portType name="Points">
    <operation name="point"><input message="tns:pointIn"/><output message="tns:pointOut"/></operation>
  </portType>
  <binding name="GeometryEncoded" type="tns:Geometry">
    <soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="move">
      <input><soap:body use="encoded" namespace="urn:ithaca:test:rpc" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></input>
      <output><soap:body use="encoded" namespace="urn:ithaca:test:rpc" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></output>
    </operation>
    <operation name="sum">
      <input><soap:body use="encoded" namespace="urn:ithaca:test:rpc" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></input>
      <output><soap:body use="encoded" namespace="urn:ithaca:test:rpc" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></output>
    </operation>
  </binding>
  <binding name="PointsLiteral" type="tns:Points">
    <soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="point">
      <input><soap:body use="literal" namespace="urn:ithaca:test:rpc"/></input>
      <output><soap:body use="literal" namespace="urn:ithaca:test:rpc"/></output>
    </operation>
  </binding>
</definitions>"###;

fn rpc() -> (Loaded, Vec<crate::wsdl11::OperationInfo>) {
    let loaded = load_bytes("rpc.wsdl", RPC_WSDL.as_bytes(), &LoadOptions::default());
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let operations = loaded.definitions.operations(&loaded.schema);
    (loaded, operations)
}

fn operation<'o>(
    operations: &'o [crate::wsdl11::OperationInfo],
    name: &str,
) -> &'o crate::wsdl11::OperationInfo {
    operations.iter().find(|o| o.name == name).unwrap()
}

const ENC_HEAD: &str = r###"xmlns:g="urn:ithaca:test:rpc""###;

/// The bindings a SOAP 1.1 envelope usually makes around an encoded body.
fn enc_scope() -> Vec<NamespaceBinding> {
    [
        ("xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ("xsd", "http://www.w3.org/2001/XMLSchema"),
        ("SOAP-ENC", "http://schemas.xmlsoap.org/soap/encoding/"),
        ("g", "urn:ithaca:test:rpc"),
    ]
    .into_iter()
    .map(|(prefix, uri)| NamespaceBinding {
        prefix: Some(prefix.to_owned()),
        uri: uri.to_owned(),
    })
    .collect()
}

fn point(x: i64, y: i64, label: Option<&str>) -> Value {
    Value::Complex(Complex {
        type_name: Some(QName::new("urn:ithaca:test:rpc", "Point")),
        fields: vec![
            Field::unqualified("x", Value::int(x)),
            Field::unqualified("y", Value::int(y)),
            Field::unqualified("label", label.map_or(Value::Nil, Value::string)),
        ],
        ..Complex::default()
    })
}

#[test]
fn rpc_encoded_reads_arrays_and_multi_references() {
    let (loaded, operations) = rpc();
    let codec = MessageCodec::new(&loaded, operation(&operations, "move"));
    let body = format!(
        r###"<g:move {ENC_HEAD}>
  <points xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="g:Point[2]">
    <item href="#p1"/>
    <item xsi:type="g:Point"><x xsi:type="xsd:int">3</x><y xsi:type="xsd:int">4</y><label xsi:nil="true"/></item>
  </points>
  <dx xsi:type="xsd:int">10</dx>
</g:move>
<multiRef id="p1" SOAP-ENC:root="0" xsi:type="g:Point"><x>1</x><y href="#y1"/><label>a</label></multiRef>
<multiRef id="y1" xsi:type="xsd:int">2</multiRef>"###
    );
    let value = codec
        .decode(Direction::Input, body.as_bytes(), &enc_scope())
        .unwrap();
    let expected = Value::complex([
        Field::unqualified(
            "points",
            Value::Array(Array {
                item_type: Some(QName::new("urn:ithaca:test:rpc", "Point")),
                items: vec![point(1, 2, Some("a")), point(3, 4, None)],
            }),
        ),
        Field::unqualified("dx", Value::int(10)),
    ]);
    assert_eq!(value, expected);

    // The reply: xsi:type on every accessor, a SOAP-ENC array.
    let reply = Value::complex([Field::unqualified(
        "moved",
        Value::Array(Array {
            item_type: None,
            items: vec![point(11, 2, Some("a")), point(13, 4, None)],
        }),
    )]);
    let xml = String::from_utf8(codec.encode(Direction::Output, &reply).unwrap()).unwrap();
    assert!(xml.starts_with(r###"<ns1:moveResponse xmlns:ns1="urn:ithaca:test:rpc" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">"###), "{xml}");
    assert!(xml.contains(r###"<moved xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="ns1:Point[2]"><item xsi:type="ns1:Point"><x xsi:type="xsd:int">11</x>"###), "{xml}");
    assert!(xml.contains(r###"<label xsi:nil="true"/>"###), "{xml}");
    // And it reads back.
    let back = codec
        .decode(Direction::Output, xml.as_bytes(), &[])
        .unwrap();
    let Value::Array(array) = back.field("moved").unwrap() else {
        panic!("{back:?}")
    };
    assert_eq!(
        array.items,
        vec![point(11, 2, Some("a")), point(13, 4, None)]
    );
}

#[test]
fn rpc_encoded_refuses_what_it_does_not_support() {
    let (loaded, operations) = rpc();
    let codec = MessageCodec::new(&loaded, operation(&operations, "sum"));
    let decode = |values: &str, extra: &str| {
        let body = format!(r###"<g:sum {ENC_HEAD}>{values}</g:sum>{extra}"###);
        codec.decode(Direction::Input, body.as_bytes(), &enc_scope())
    };
    let ok = decode(
        r###"<values SOAP-ENC:arrayType="xsd:int[3]"><i>1</i><i>2</i><i>3</i></values>"###,
        "",
    )
    .unwrap();
    assert_eq!(
        ok.field("values")
            .and_then(Value::items)
            .map(<[Value]>::len),
        Some(3)
    );
    let error = |values: &str, extra: &str| decode(values, extra).unwrap_err();
    let two_d = error(r###"<values SOAP-ENC:arrayType="xsd:int[2,2]"/>"###, "");
    assert!(matches!(two_d, ValueError::Unsupported { .. }), "{two_d}");
    assert_eq!(
        two_d.to_string(),
        r###"/sum/values: multi-dimensional arrays (SOAP-ENC:arrayType "xsd:int[2,2]") are not supported"###
    );
    let partial = error(
        r###"<values SOAP-ENC:arrayType="xsd:int[5]" SOAP-ENC:offset="[2]"><i>3</i></values>"###,
        "",
    );
    assert!(
        partial.to_string().contains("partially transmitted"),
        "{partial}"
    );
    let sparse = error(
        r###"<values SOAP-ENC:arrayType="xsd:int[5]"><i SOAP-ENC:position="[4]">3</i></values>"###,
        "",
    );
    assert!(sparse.to_string().contains("sparse"), "{sparse}");
    let count = error(
        r###"<values SOAP-ENC:arrayType="xsd:int[3]"><i>1</i></values>"###,
        "",
    );
    assert_eq!(
        count.to_string(),
        "/sum/values: the array declares 3 items but holds 1"
    );
    let cycle = error(
        r###"<values href="#a"/>"###,
        r###"<a id="a" SOAP-ENC:arrayType="xsd:anyType[1]"><i href="#a"/></a>"###,
    );
    assert!(cycle.to_string().contains("cycle"), "{cycle}");
    let dangling = error(r###"<values href="#nowhere"/>"###, "");
    assert_eq!(
        dangling.to_string(),
        "/sum/values: the href \"#nowhere\" names no element of the message"
    );
    let missing = decode("", "").unwrap_err();
    assert_eq!(
        missing.to_string(),
        "/sum: the accessor of the part `values` is missing"
    );
}

#[test]
fn shared_references_cannot_multiply_work() {
    let (loaded, operations) = rpc();
    let limits = ValueLimits {
        max_values: 1000,
        ..ValueLimits::default()
    };
    let codec = MessageCodec::new(&loaded, operation(&operations, "sum")).with_limits(limits);
    // Each level references the next twice: 2^20 values if copied blindly.
    let mut extra = String::new();
    for level in 0..20 {
        extra.push_str(&format!(
            r###"<l{level} id="l{level}" SOAP-ENC:arrayType="xsd:anyType[2]"><i href="#l{next}"/><i href="#l{next}"/></l{level}>"###,
            next = level + 1
        ));
    }
    extra.push_str(r###"<l20 id="l20" xsi:type="xsd:int">1</l20>"###);
    let body = format!(r###"<g:sum {ENC_HEAD}><values href="#l0"/></g:sum>{extra}"###);
    let error = codec
        .decode(Direction::Input, body.as_bytes(), &enc_scope())
        .unwrap_err();
    assert!(matches!(error, ValueError::Limit { .. }), "{error}");
}

#[test]
fn rpc_literal_uses_unqualified_accessors() {
    let (loaded, operations) = rpc();
    let codec = MessageCodec::new(&loaded, operation(&operations, "point"));
    let body = r###"<g:point xmlns:g="urn:ithaca:test:rpc"><p><x>1</x><y>2</y><label>here</label></p><name>n</name></g:point>"###;
    let value = codec
        .decode(Direction::Input, body.as_bytes(), &enc_scope())
        .unwrap();
    assert_eq!(
        value
            .field("p")
            .and_then(|p| p.field("x"))
            .and_then(Value::as_i64),
        Some(1)
    );
    assert_eq!(value.field("name").and_then(Value::as_str), Some("n"));
    let reply = Value::complex([Field::unqualified(
        "p",
        Value::complex([
            Field::unqualified("x", Value::int(5)),
            Field::unqualified("y", Value::int(6)),
            Field::unqualified("label", Value::Nil),
        ]),
    )]);
    let xml = String::from_utf8(codec.encode(Direction::Output, &reply).unwrap()).unwrap();
    assert_eq!(
        xml,
        r###"<ns1:pointResponse xmlns:ns1="urn:ithaca:test:rpc"><p><x>5</x><y>6</y><label xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></p></ns1:pointResponse>"###
    );
    let error = codec
        .decode(Direction::Input, br###"<g:point xmlns:g="urn:ithaca:test:rpc"><p><x>1</x><y>2</y><label/></p></g:point>"###, &[])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "/point: the accessor of the part `name` is missing"
    );
    let error = codec
        .decode(
            Direction::Input,
            br###"<g:other xmlns:g="urn:ithaca:test:rpc"/>"###,
            &[],
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "/other: expected the element {urn:ithaca:test:rpc}point, found {urn:ithaca:test:rpc}other"
    );
}

// Property: encode then decode is the identity, for generated records.

fn text() -> impl Strategy<Value = String> {
    // Characters XML can carry, including ones that need escaping.
    proptest::collection::vec(
        prop_oneof![
            Just('a'),
            Just('<'),
            Just('&'),
            Just('>'),
            Just('"'),
            Just('\''),
            Just(' '),
            Just('\n'),
            Just('\r'),
            Just('\t'),
            Just('é'),
            Just('☺'),
            Just(']'),
        ],
        0..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn shape() -> impl Strategy<Value = Value> {
    (
        text(),
        proptest::option::of(any::<i64>()),
        proptest::option::of(-1e6f64..1e6),
    )
        .prop_map(|(label, id, radius)| {
            let mut fields = vec![field("label", Value::string(label))];
            let type_name = radius.map(|r| {
                fields.push(field("radius", simple(Simple::Double(r))));
                q("Circle")
            });
            Value::Complex(Complex {
                type_name,
                attributes: id
                    .map(|id| Attribute {
                        name: QName::unqualified("id"),
                        value: Simple::Int(id),
                    })
                    .into_iter()
                    .collect(),
                fields,
                ..Complex::default()
            })
        })
}

fn record() -> impl Strategy<Value = Value> {
    (
        (
            text(),
            any::<bool>(),
            any::<i32>(),
            any::<u64>(),
            any::<i64>(),
        ),
        (
            (any::<i64>(), 0u32..1000).prop_map(|(i, f)| {
                super::simple::canonical_decimal(&format!("{i}.{f:03}")).unwrap()
            }),
            any::<f64>().prop_filter("not NaN", |v| !v.is_nan()),
            any::<f32>().prop_filter("not NaN", |v| !v.is_nan()),
            proptest::collection::vec(any::<u8>(), 0..20),
            proptest::option::of(text()),
        ),
        (
            proptest::collection::vec(any::<i32>(), 0..4),
            0i64..=100,
            proptest::collection::vec(shape(), 0..3),
        ),
    )
        .prop_map(
            |(
                (t, flag, small, big, huge),
                (amount, ratio, single, bytes, note),
                (scores, percent, shapes),
            )| {
                let mut fields = vec![
                    field("text", Value::string(t)),
                    field("flag", Value::boolean(flag)),
                    field("small", Value::int(i64::from(small))),
                    field("big", simple(Simple::UInt(big))),
                    field("huge", Value::int(huge)),
                    field("amount", simple(Simple::Decimal(amount.clone()))),
                    field("ratio", simple(Simple::Double(ratio))),
                    field("single", simple(Simple::Float(single))),
                    field(
                        "day",
                        simple(Simple::Lexical(BuiltinType::Date, "2000-02-29".into())),
                    ),
                    field("blob", simple(Simple::Bytes(bytes.clone()))),
                    field("hex", simple(Simple::Bytes(bytes))),
                    field("kind", simple(Simple::QName(QName::new("urn:k", "k")))),
                    field("colour", Value::string("red")),
                    field(
                        "scores",
                        simple(Simple::List(
                            scores
                                .into_iter()
                                .map(|s| Simple::Int(i64::from(s)))
                                .collect(),
                        )),
                    ),
                    field("either", Value::int(i64::from(small))),
                    field("percent", Value::int(percent)),
                    field(
                        "price",
                        Value::Complex(Complex {
                            attributes: vec![Attribute {
                                name: QName::unqualified("currency"),
                                value: Simple::String("EUR".into()),
                            }],
                            content: Some(Simple::Decimal(amount)),
                            ..Complex::default()
                        }),
                    ),
                    field("note", note.map_or(Value::Nil, Value::string)),
                ];
                fields.extend(shapes.into_iter().map(|s| field("shape", s)));
                Value::complex(fields)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn encode_then_decode_is_the_identity(value in record()) {
        let loaded = records();
        let xml = encode_element(&loaded.schema, &q("record"), &value).unwrap();
        let decoded = decode_element(&loaded.schema, xml.as_bytes(), &[], &q("record"), &ValueLimits::default());
        prop_assert_eq!(decoded, Ok(value), "{}", xml);
    }

    #[test]
    fn encoded_arrays_round_trip(points in proptest::collection::vec((any::<i32>(), any::<i32>(), proptest::option::of(text())), 0..5)) {
        let (loaded, operations) = rpc();
        let codec = MessageCodec::new(&loaded, operation(&operations, "move"));
        let items: Vec<Value> = points
            .iter()
            .map(|(x, y, label)| point(i64::from(*x), i64::from(*y), label.as_deref()))
            .collect();
        let value = Value::complex([Field::unqualified(
            "moved",
            Value::Array(Array { item_type: Some(QName::new("urn:ithaca:test:rpc", "Point")), items }),
        )]);
        let xml = codec.encode(Direction::Output, &value).unwrap();
        prop_assert_eq!(codec.decode(Direction::Output, &xml, &[]), Ok(value));
    }

    /// What generated rpc/encoded code does with a `Vec<i32>` part: the
    /// typed writer's literal form, read and encoded by section 5 (as the
    /// client sends it), decoded (as the server reads it) and written
    /// literal again for the typed reader, gives back the same items.
    #[test]
    fn typed_arrays_cross_the_section_5_bridge(values in proptest::collection::vec(any::<i32>(), 0..8)) {
        let (loaded, operations) = rpc();
        let codec = MessageCodec::new(&loaded, operation(&operations, "sum"));
        let mut writer = crate::typed::XmlWriter::new();
        writer.start("urn:ithaca:test:rpc", "sum");
        crate::typed::write_array(&values, &mut writer, "", "values");
        writer.end();
        let literal = writer.into_bytes();
        let value = codec.as_literal().decode(Direction::Input, &literal, &[]).unwrap();
        let encoded = codec.encode(Direction::Input, &value).unwrap();
        let text = String::from_utf8_lossy(&encoded).into_owned();
        let declared = format!(":int[{}]\"", values.len());
        prop_assert!(text.contains(&declared), "{}", text);
        let received = codec.decode(Direction::Input, &encoded, &[]).unwrap();
        let back = codec.as_literal().encode(Direction::Input, &received).unwrap();
        let mut reader = crate::typed::XmlReader::new(&back, &crate::Limits::DEFAULT).unwrap();
        prop_assert!(reader.peek().unwrap());
        reader.open().unwrap();
        prop_assert!(reader.peek().unwrap());
        let items: Vec<i32> = crate::typed::read_array(&mut reader).unwrap();
        prop_assert_eq!(items, values);
    }

    #[test]
    fn the_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let loaded = records();
        let _ = decode_element(&loaded.schema, &bytes, &[], &q("record"), &ValueLimits::default());
    }
}
