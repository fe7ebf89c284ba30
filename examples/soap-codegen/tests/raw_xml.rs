//! Content without a struct shape in generated code: `contracts/notes.wsdl`
//! has a mixed-content note (character data between elements), an
//! `xs:anyType` element and an element without a type, all generated as
//! `ithaca_wsdl::typed::AnyXml`. The generated client sends them to the
//! generated server, which answers them as received; a hand-written
//! envelope whose prefixes are bound on the `Envelope` comes back with
//! every prefix declared where it is used.

#![allow(clippy::unwrap_used)]

mod support;

use ithaca_gateway::soap::client::SoapClient;
use ithaca_soap_codegen_example::notes;
use ithaca_wsdl::SoapVersion;
use ithaca_wsdl::typed::AnyXml;
use support::Served;

#[tokio::test(flavor = "multi_thread")]
async fn mixed_and_any_type_content_round_trip_through_the_generated_code() {
    let served = Served::start().await;
    let url = format!("{}/services/NotesService", served.base());
    let client = notes::NotesClient::new(SoapClient::new(&url, SoapVersion::Soap11).unwrap());
    let note = AnyXml {
        attributes: vec![],
        content: r#"Ship <n:em xmlns:n="urn:ithaca:example:notes">today</n:em> &amp; wrap it"#
            .into(),
    };
    let extra = AnyXml {
        attributes: vec![("".into(), "kind".into(), "gift <&>".into())],
        content: r#"<w:wrap xmlns:w="urn:wrap" w:color="red"><w:paper/>tissue</w:wrap>"#.into(),
    };
    let answer = client
        .annotate(&notes::Annotate {
            note: note.clone(),
            extra: extra.clone(),
            untyped: Some(AnyXml::text("1 < 2")),
        })
        .await
        .unwrap();
    assert_eq!(answer.note, note);
    assert_eq!(answer.extra, extra);
    assert_eq!(answer.untyped, Some(AnyXml::text("1 < 2")));
    assert_eq!(answer.words, 5);
    // No `untyped`: None both ways.
    let answer = client
        .annotate(&notes::Annotate {
            note: AnyXml::text("just text"),
            extra: AnyXml::default(),
            untyped: None,
        })
        .await
        .unwrap();
    assert_eq!((answer.untyped, answer.words), (None, 2));
    assert_eq!(answer.extra, AnyXml::default());

    // Prefixes bound outside the content (on the wrapper and on `extra`,
    // as many clients write them): the content the server gets declares
    // them on each child that uses them.
    let soap = SoapClient::new(&url, SoapVersion::Soap11).unwrap();
    let body = br#"<n:annotate xmlns:n="urn:ithaca:example:notes"><n:note>a <n:em>b</n:em> c</n:note><n:extra xmlns:w="urn:wrap"><w:wrap w:color="red">x</w:wrap></n:extra></n:annotate>"#;
    let reply = soap
        .call(Some("urn:ithaca:example:notes#annotate"), body)
        .await
        .unwrap();
    let answer: notes::AnnotateResponse =
        ithaca_wsdl::typed::read_body(&reply.message, &ithaca_wsdl::Limits::default()).unwrap();
    assert_eq!(
        answer.note.content,
        r#"a <n:em xmlns:n="urn:ithaca:example:notes">b</n:em> c"#
    );
    assert_eq!(
        answer.extra.content,
        r#"<w:wrap xmlns:w="urn:wrap" w:color="red">x</w:wrap>"#
    );
    assert_eq!(answer.words, 3);
    served.stop().await;
}
