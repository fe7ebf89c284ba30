//! Building hosted SOAP services: contracts from files, the default and
//! chosen mount paths, and every set-up error.

#![allow(clippy::unwrap_used)]

mod support;

use ithaca_gateway::soap::{Contract, SetupError, SoapRequest, SoapService};
use support::SHOP_WSDL;

async fn noop(_request: SoapRequest) -> Result<Vec<u8>, ithaca_gateway::soap::SoapError> {
    Ok(Vec::new())
}

#[test]
fn a_contract_loads_from_a_file_and_mounts_its_ports() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.wsdl");
    std::fs::write(&path, SHOP_WSDL).unwrap();
    let contract = Contract::from_file(&path).unwrap();
    assert!(contract.name().ends_with("shop.wsdl"));
    assert!(
        contract
            .loaded()
            .definitions
            .service("ShopService")
            .is_some()
    );

    let router = SoapService::builder(contract.clone()).build().unwrap();
    assert_eq!(
        router.route_name("/services/ShopService"),
        "soap:ShopService/ShopSoap11Port"
    );
    assert_eq!(
        router.route_name("/services/ShopService/soap12"),
        "soap:ShopService/ShopSoap12Port"
    );

    let router = SoapService::builder(contract.clone())
        .base_path("/api/shop/")
        .port_path("ShopSoap12Port", "/v12/shop")
        .build()
        .unwrap();
    assert!(router.lookup("/api/shop").is_some());
    assert!(router.lookup("/v12/shop").is_some());
    assert!(router.lookup("/services/ShopService").is_none());
}

#[test]
fn set_up_errors_name_what_is_wrong() {
    let missing = Contract::from_file("/nonexistent/shop.wsdl").unwrap_err();
    assert!(matches!(missing, SetupError::Read { .. }), "{missing}");

    // A name missing from the XML Schema namespace is an error (one
    // defined nowhere else is only a warning, as lenient toolkits have it).
    let broken = SHOP_WSDL.replace(r#"element="tns:order""#, r#"element="xs:nothing""#);
    let error = Contract::from_bytes("broken.wsdl", broken).unwrap_err();
    assert!(matches!(error, SetupError::Load { .. }), "{error}");
    assert!(error.to_string().contains("broken.wsdl"), "{error}");

    let error = Contract::from_bytes("latin1.wsdl", b"\xff\xfe<a/>").unwrap_err();
    assert!(
        matches!(
            error,
            SetupError::Load { .. } | SetupError::Publication { .. }
        ),
        "{error}"
    );

    let contract = Contract::from_bytes("shop.wsdl", SHOP_WSDL).unwrap();
    let build = |builder: ithaca_gateway::soap::SoapServiceBuilder| builder.build().unwrap_err();
    let error = build(SoapService::builder(contract.clone()).service("Nope"));
    assert_eq!(error.to_string(), "shop.wsdl has no service named `Nope`");
    let error = build(SoapService::builder(contract.clone()).operation("refund", noop));
    assert_eq!(
        error.to_string(),
        "the service `ShopService` has no operation `refund`"
    );
    let error = build(SoapService::builder(contract.clone()).base_path("relative"));
    assert!(matches!(error, SetupError::InvalidPath { .. }), "{error}");
    let error = build(
        SoapService::builder(contract.clone()).port_path("ShopSoap12Port", "/services/ShopService"),
    );
    assert!(matches!(error, SetupError::DuplicatePath { .. }), "{error}");

    let no_soap = SHOP_WSDL
        .replace(
            r#"<port name="ShopSoap11Port" binding="tns:ShopSoap11"><soap:address location="http://localhost/shop"/></port>"#,
            "",
        )
        .replace(
            r#"<port name="ShopSoap12Port" binding="tns:ShopSoap12"><soap12:address location="http://localhost/shop12"/></port>"#,
            "",
        );
    let contract = Contract::from_bytes("empty.wsdl", no_soap).unwrap();
    let error = build(SoapService::builder(contract));
    assert_eq!(
        error.to_string(),
        "the service `ShopService` has no SOAP port"
    );
}
