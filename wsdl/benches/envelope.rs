//! What reading and writing SOAP envelopes costs, and streaming schema
//! validation of a body, in memory: the benchmark's 288-byte SOAP 1.1 echo
//! request (the one `bench/soap-echo.sh` sends), a SOAP 1.2 request with
//! header blocks, and a 64 KiB payload; the response envelope around the
//! echo's answer, with and without header blocks; and validation of the
//! echo's body and of a 1 000-item body against their schemas.
//!
//! Run with `cargo bench -p ithaca-wsdl --bench envelope`. The contracts
//! are written here; nothing is read from disk.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ithaca_wsdl::xsd::InstanceLimits;
use ithaca_wsdl::{
    ContentType, EnvelopeWriter, Limits, LoadOptions, QName, SoapVersion, load_bytes,
    read_envelope, write_envelope,
};

const ECHO_REQUEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:e="urn:ithaca:bench:echo"><soap:Body><e:echoString><text>hello from the benchmark, a short payload of about one hundred bytes of text......</text></e:echoString></soap:Body></soap:Envelope>"#;

const HEADERS_REQUEST: &str = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">
  <env:Header>
    <wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing" env:mustUnderstand="true">http://example.test/svc</wsa:To>
    <wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:ithaca:bench:echo#echoString</wsa:Action>
    <wsa:MessageID xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:uuid:6b29fc40-ca47-1067-b31d-00dd010662da</wsa:MessageID>
    <t:Trace xmlns:t="urn:trace" env:role="http://www.w3.org/2003/05/soap-envelope/role/next">abc</t:Trace>
  </env:Header>
  <env:Body><e:echoString xmlns:e="urn:ithaca:bench:echo"><text>hello</text></e:echoString></env:Body>
</env:Envelope>"#;

const ECHO_RESPONSE: &str = r#"<e:echoStringResponse xmlns:e="urn:ithaca:bench:echo"><result>hello from the benchmark, a short payload of about one hundred bytes of text......</result></e:echoStringResponse>"#;

/// The echo contract's schema (the same shape as the EchoService's).
const ECHO_XSD: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    targetNamespace="urn:ithaca:bench:echo">
  <xs:element name="echoString">
    <xs:complexType><xs:sequence><xs:element name="text" type="xs:string"/></xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>"#;

/// An order of many lines, each with attributes and typed values.
const ORDER_XSD: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    targetNamespace="urn:bench:order" xmlns:o="urn:bench:order" elementFormDefault="qualified">
  <xs:simpleType name="Sku"><xs:restriction base="xs:string"><xs:pattern value="[A-Z]{3}-\d{4}"/></xs:restriction></xs:simpleType>
  <xs:complexType name="Line">
    <xs:sequence>
      <xs:element name="sku" type="o:Sku"/>
      <xs:element name="quantity" type="xs:positiveInteger"/>
      <xs:element name="price" type="xs:decimal"/>
      <xs:element name="note" type="xs:string" minOccurs="0"/>
    </xs:sequence>
    <xs:attribute name="id" type="xs:int" use="required"/>
  </xs:complexType>
  <xs:element name="order">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="customer" type="xs:string"/>
        <xs:element name="line" type="o:Line" maxOccurs="unbounded"/>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>"#;

fn large_request(bytes: usize) -> String {
    let text = "0123456789abcdef".repeat(bytes / 16);
    ECHO_REQUEST.replace(
        "hello from the benchmark, a short payload of about one hundred bytes of text......",
        &text,
    )
}

fn order(lines: usize) -> String {
    let mut xml =
        String::from(r#"<o:order xmlns:o="urn:bench:order"><o:customer>ACME</o:customer>"#);
    for i in 0..lines {
        xml.push_str(&format!(
            r#"<o:line id="{i}"><o:sku>ABC-{:04}</o:sku><o:quantity>{}</o:quantity><o:price>12.50</o:price></o:line>"#,
            i % 10_000,
            i + 1
        ));
    }
    xml.push_str("</o:order>");
    xml
}

fn bench_read(c: &mut Criterion) {
    let limits = Limits::default();
    let soap11 = ContentType::parse("text/xml; charset=utf-8").expect("a valid type");
    let soap12 = ContentType::parse("application/soap+xml; charset=utf-8").expect("a valid type");
    let large = large_request(64 * 1024);
    let mut group = c.benchmark_group("read_envelope");
    for (name, message, content_type) in [
        ("echo_soap11", ECHO_REQUEST, &soap11),
        ("headers_soap12", HEADERS_REQUEST, &soap12),
        ("payload_64k", large.as_str(), &soap11),
    ] {
        group.throughput(Throughput::Bytes(message.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(read_envelope(
                    black_box(message.as_bytes()),
                    Some(content_type),
                    &limits,
                ))
            })
        });
    }
    group.finish();
}

fn bench_write(c: &mut Criterion) {
    let payload = ECHO_RESPONSE.as_bytes();
    let blocks: [&[u8]; 2] = [
        br#"<wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:ithaca:bench:echo#echoStringResponse</wsa:Action>"#,
        br#"<wsa:RelatesTo xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:uuid:6b29fc40-ca47-1067-b31d-00dd010662da</wsa:RelatesTo>"#,
    ];
    let mut group = c.benchmark_group("write_envelope");
    group.bench_function("echo_soap11", |b| {
        b.iter(|| black_box(write_envelope(SoapVersion::Soap11, black_box(payload))))
    });
    group.bench_function("echo_soap12_headers", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            let writer = blocks
                .iter()
                .fold(EnvelopeWriter::new(SoapVersion::Soap12), |w, block| {
                    w.header_block(block)
                });
            black_box(writer.write_to(black_box(payload), &mut out))
        })
    });
    group.finish();
}

fn bench_validate(c: &mut Criterion) {
    let options = LoadOptions::default();
    let limits = InstanceLimits::default();
    let echo = load_bytes("echo.xsd", ECHO_XSD.as_bytes(), &options);
    let orders = load_bytes("order.xsd", ORDER_XSD.as_bytes(), &options);
    let envelope =
        read_envelope(ECHO_REQUEST.as_bytes(), None, &Limits::default()).expect("a valid request");
    let body = envelope
        .body
        .first_child
        .as_ref()
        .and_then(|entry| ECHO_REQUEST.get(entry.range.clone()))
        .expect("a body element");
    let scope = envelope.body_scope();
    let echo_element = QName::new("urn:ithaca:bench:echo", "echoString");
    let order_element = QName::new("urn:bench:order", "order");
    let order_xml = order(1_000);
    assert!(
        orders
            .schema
            .validate_element(&order_xml, &[], Some(&order_element), &limits)
            .is_ok()
    );

    let mut group = c.benchmark_group("validate_element");
    group.bench_function("echo_body", |b| {
        b.iter(|| {
            black_box(echo.schema.validate_element(
                black_box(body),
                &scope,
                Some(&echo_element),
                &limits,
            ))
        })
    });
    group.throughput(Throughput::Bytes(order_xml.len() as u64));
    group.bench_function("order_1000_lines", |b| {
        b.iter(|| {
            black_box(orders.schema.validate_element(
                black_box(&order_xml),
                &[],
                Some(&order_element),
                &limits,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_read, bench_write, bench_validate);
criterion_main!(benches);
