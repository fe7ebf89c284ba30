//! Bad input for the loader, the pattern engine and instance validation:
//! never a panic, never a hang.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use ithaca_wsdl::xsd::InstanceLimits;
use ithaca_wsdl::xsd::pattern::Pattern;
use ithaca_wsdl::{LoadOptions, QName, load_bytes};
use proptest::prelude::*;

fn fixture_bytes() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wsdl");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            out.push(std::fs::read(path).unwrap());
        }
    }
    out
}

#[test]
fn truncated_fixtures_never_panic() {
    for bytes in fixture_bytes() {
        for cut in (0..bytes.len()).step_by(97) {
            let loaded = load_bytes(
                "cut.wsdl",
                bytes.get(..cut).unwrap(),
                &LoadOptions::default(),
            );
            let _ = loaded.definitions.operations(&loaded.schema);
        }
    }
}

#[test]
fn self_referencing_groups_and_types_are_bounded() {
    let xsd = br#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:r" xmlns:r="urn:r">
  <xs:group name="G"><xs:sequence><xs:group ref="r:G"/></xs:sequence></xs:group>
  <xs:group name="H"><xs:choice><xs:group ref="r:H" minOccurs="0"/><xs:element name="x" type="xs:int"/></xs:choice></xs:group>
  <xs:element name="g"><xs:complexType><xs:group ref="r:G"/></xs:complexType></xs:element>
  <xs:element name="h"><xs:complexType><xs:group ref="r:H" maxOccurs="unbounded"/></xs:complexType></xs:element>
  <xs:simpleType name="U"><xs:union memberTypes="r:U"/></xs:simpleType>
  <xs:element name="u" type="r:U"/>
  <xs:complexType name="C"><xs:complexContent><xs:extension base="r:C"/></xs:complexContent></xs:complexType>
  <xs:element name="c" type="r:C"/>
</xs:schema>"#;
    let loaded = load_bytes("r.xsd", xsd, &LoadOptions::default());
    let messages: Vec<String> = loaded.errors().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "r.xsd:8:3: error: the type {urn:r}C derives from itself",
            "r.xsd:2:3: error: the group {urn:r}G contains itself",
            "r.xsd:3:3: error: the group {urn:r}H contains itself",
        ]
    );
    let limits = InstanceLimits::default();
    for (name, xml) in [
        ("g", r#"<r:g xmlns:r="urn:r"><r:x/></r:g>"#),
        ("h", r#"<r:h xmlns:r="urn:r"><r:x>1</r:x><r:y/></r:h>"#),
        ("u", r#"<r:u xmlns:r="urn:r">1</r:u>"#),
        ("c", r#"<r:c xmlns:r="urn:r"><r:x/></r:c>"#),
    ] {
        let _ = loaded
            .schema
            .validate_element(xml, &[], Some(&QName::new("urn:r", name)), &limits);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = load_bytes("random.wsdl", &bytes, &LoadOptions::default());
    }

    #[test]
    fn mutated_fixtures_never_panic(index in 0usize..64, at in 0usize..4096, byte in any::<u8>()) {
        let all = fixture_bytes();
        let mut bytes = all.get(index % all.len()).unwrap().clone();
        let len = bytes.len();
        if let Some(slot) = bytes.get_mut(at % len.max(1)) {
            *slot = byte;
        }
        let loaded = load_bytes("mutated.wsdl", &bytes, &LoadOptions::default());
        let _ = loaded.definitions.operations(&loaded.schema);
    }

    #[test]
    fn arbitrary_patterns_never_panic(pattern in "[a-c()\\[\\]{}|*+?.\\\\^$0-9,-]{0,24}", value in "[a-c0-9 ]{0,40}") {
        if let Ok(p) = Pattern::new(&pattern) {
            let _ = p.is_match(&value);
        }
    }

    #[test]
    fn arbitrary_instances_never_panic(xml in "<[a-c:]{1,3}( [a-c:]{1,2}=\"[0-9a-c]{0,3}\")?>[a-c0-9<>/: ]{0,40}") {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wsdl/constructs.xsd");
        let loaded = ithaca_wsdl::load_file(dir, &LoadOptions::default());
        for element in ["person", "values", "garage", "envelope"] {
            let _ = loaded.schema.validate_element(&xml, &[], Some(&QName::new("urn:c", element)), &InstanceLimits::default());
        }
    }
}

#[test]
fn deeply_nested_schemas_stay_within_the_stack() {
    // 250 levels of elements is just under the default depth limit of 256.
    let mut xsd = String::from(
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:d"><xs:element name="e"><xs:complexType>"#,
    );
    let levels = 122;
    for _ in 0..levels {
        xsd.push_str("<xs:sequence>");
    }
    xsd.push_str(r#"<xs:element name="leaf" type="xs:int"/>"#);
    for _ in 0..levels {
        xsd.push_str("</xs:sequence>");
    }
    xsd.push_str("</xs:complexType></xs:element></xs:schema>");
    let loaded = load_bytes("deep.xsd", xsd.as_bytes(), &LoadOptions::default());
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let result = loaded.schema.validate_element(
        r#"<d:e xmlns:d="urn:d"><leaf>x</leaf></d:e>"#,
        &[],
        None,
        &InstanceLimits::default(),
    );
    assert!(result.is_err());

    let too_deep = "<a>".repeat(300) + &"</a>".repeat(300);
    let loaded = load_bytes("deeper.xsd", too_deep.as_bytes(), &LoadOptions::default());
    assert_eq!(
        loaded.diagnostics[0].kind,
        ithaca_wsdl::DiagnosticKind::Limit
    );
}
