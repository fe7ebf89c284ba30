//! Reads every message in `tests/fixtures/` and pins what the readers make
//! of it.

use std::fmt::Write as _;
use std::path::Path;

use expect_test::expect;
use ithaca_wsdl::{Limits, SoapVersion, read_envelope, read_fault};

fn describe(name: &str, input: &[u8]) -> String {
    let limits = Limits::default();
    let mut out = format!("{name}:\n");
    match read_envelope(input, None, &limits) {
        Ok(envelope) => {
            let _ = writeln!(out, "  SOAP {}", envelope.version);
            for block in envelope.header_blocks() {
                let _ = writeln!(
                    out,
                    "  header {} must_understand={} role={:?} relay={}",
                    block.name, block.must_understand, block.role, block.relay
                );
            }
            if let Some(name) = envelope.body_name() {
                let _ = writeln!(out, "  body {name}");
            }
            let payload = String::from_utf8_lossy(&input[envelope.body.payload.clone()]);
            let _ = writeln!(out, "  payload {:?}", payload.trim());
            if envelope.is_fault() {
                match read_fault(input, &limits) {
                    Ok((_, fault)) => {
                        let _ = writeln!(out, "  fault {fault:?}");
                    }
                    Err(error) => {
                        let _ = writeln!(out, "  fault error {error:?}");
                    }
                }
            }
        }
        Err(error) => {
            let _ = writeln!(
                out,
                "  error {error:?}\n  fault {:?}, HTTP {} (1.1) / {} (1.2)",
                error.fault_code(),
                error.http_status(SoapVersion::Soap11),
                error.http_status(SoapVersion::Soap12)
            );
        }
    }
    out
}

#[test]
fn fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".xml"))
        .collect();
    names.sort();
    let mut report = String::new();
    for name in &names {
        let input = std::fs::read(dir.join(name)).unwrap();
        let description = describe(name, &input);
        assert_eq!(
            name.starts_with("bad-"),
            description.contains("  error "),
            "{description}"
        );
        report.push_str(&description);
    }
    expect![[r#"
        bad-billion-laughs.xml:
          error Doctype { position: 22 }
          fault Sender, HTTP 500 (1.1) / 400 (1.2)
        bad-external-entity.xml:
          error Doctype { position: 22 }
          fault Sender, HTTP 500 (1.1) / 400 (1.2)
        bad-invalid-utf8.xml:
          error InvalidUtf8 { position: 84 }
          fault Sender, HTTP 500 (1.1) / 400 (1.2)
        bad-mismatched-tags.xml:
          error Malformed { position: 84, message: "ill-formed document: expected `</a>`, but `</b>` was found" }
          fault Sender, HTTP 500 (1.1) / 400 (1.2)
        bad-missing-body.xml:
          error MissingBody
          fault Sender, HTTP 500 (1.1) / 400 (1.2)
        bad-must-understand-value.xml:
          error InvalidAttribute { name: QName { namespace: Some("http://schemas.xmlsoap.org/soap/envelope/"), local: "mustUnderstand" }, value: "true" }
          fault Sender, HTTP 500 (1.1) / 400 (1.2)
        bad-truncated.xml:
          error Truncated { position: 127 }
          fault Sender, HTTP 500 (1.1) / 400 (1.2)
        bad-unqualified-header.xml:
          error UnqualifiedHeaderBlock { local: "Trace", position: 83 }
          fault Sender, HTTP 500 (1.1) / 400 (1.2)
        bad-wrong-namespace.xml:
          error VersionMismatch { found: QName { namespace: Some("http://www.w3.org/2001/12/soap-envelope"), local: "Envelope" } }
          fault VersionMismatch, HTTP 500 (1.1) / 500 (1.2)
        soap11-echo.xml:
          SOAP 1.1
          body {urn:ithaca:echo}echo
          payload "<ns:echo><text>hello &amp; welcome</text></ns:echo>"
        soap11-fault.xml:
          SOAP 1.1
          body {http://schemas.xmlsoap.org/soap/envelope/}Fault
          payload "<soap:Fault>\n      <faultcode>soap:Client</faultcode>\n      <faultstring>no operation named frobnicate</faultstring>\n      <faultactor>http://ithaca.example/services/EchoService</faultactor>\n      <detail><e:UnknownOperation xmlns:e=\"urn:ithaca:echo\">frobnicate</e:UnknownOperation></detail>\n    </soap:Fault>"
          fault Fault { code: Sender, subcodes: [], reasons: [Reason { lang: "", text: "no operation named frobnicate" }], node: Some("http://ithaca.example/services/EchoService"), role: None, detail: Some("<e:UnknownOperation xmlns:e=\"urn:ithaca:echo\">frobnicate</e:UnknownOperation>"), not_understood: [], header_blocks: [] }
        soap12-fault.xml:
          SOAP 1.2
          header {http://www.w3.org/2003/05/soap-envelope}NotUnderstood must_understand=false role=None relay=false
          body {http://www.w3.org/2003/05/soap-envelope}Fault
          payload "<env:Fault>\n      <env:Code>\n        <env:Value>env:MustUnderstand</env:Value>\n      </env:Code>\n      <env:Reason>\n        <env:Text xml:lang=\"en\">header block not understood</env:Text>\n        <env:Text xml:lang=\"fr\">bloc d'en-tête non compris</env:Text>\n      </env:Reason>\n    </env:Fault>"
          fault Fault { code: MustUnderstand, subcodes: [], reasons: [Reason { lang: "en", text: "header block not understood" }, Reason { lang: "fr", text: "bloc d'en-tête non compris" }], node: None, role: None, detail: None, not_understood: [QName { namespace: Some("urn:ithaca:trace"), local: "Trace" }], header_blocks: [] }
        soap12-headers.xml:
          SOAP 1.2
          header {http://www.w3.org/2005/08/addressing}Action must_understand=true role=None relay=false
          header {http://www.w3.org/2005/08/addressing}MessageID must_understand=false role=None relay=false
          header {urn:ithaca:trace}Trace must_understand=false role=Some("http://www.w3.org/2003/05/soap-envelope/role/next") relay=true
          body {urn:ithaca:echo}echo
          payload "<e:echo><text><![CDATA[<raw>]]></text></e:echo>"
    "#]].assert_eq(&report);
}
