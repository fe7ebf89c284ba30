//! The generated client over HTTPS: a gateway listener with a certificate
//! issued by a test CA, called by a `SoapClient` that trusts that CA's PEM
//! bundle (rustls, ring provider). A client trusting only Mozilla's roots
//! refuses the same server.

#![allow(clippy::unwrap_used)]

use ithaca_gateway::Gateway;
use ithaca_gateway::config::Config;
use ithaca_gateway::soap::client::{CallError, ClientError, ClientTls, SoapClient};
use ithaca_soap_codegen_example::{echo, session};
use ithaca_wsdl::SoapVersion;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A test CA and a certificate for `localhost` it issued, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Ithaca test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), leaf_key.serialize_pem()).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_generated_client_calls_a_tls_listener_trusting_a_ca_bundle() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.storage.data_dir = data.path().join("data");
    config.server.tls_cert = Some(pki.path("cert.pem"));
    config.server.tls_key = Some(pki.path("key.pem"));
    let routes = ithaca_soap_codegen_example::routes().unwrap();
    let gateway = Gateway::new(config).routes(&routes).start().await.unwrap();
    let base = format!("https://localhost:{}", gateway.server_addr().port());

    let tls = ClientTls::from_ca_file(pki.path("ca.pem")).unwrap();
    assert_eq!(tls.len(), 1);
    for (path, version) in [
        ("/services/EchoService", SoapVersion::Soap11),
        ("/services/EchoService/soap12", SoapVersion::Soap12),
    ] {
        let soap = SoapClient::with_tls(&format!("{base}{path}"), version, &tls).unwrap();
        let client = echo::EchoPortClient::new(soap);
        let answer = client
            .echo(&echo::Echo {
                text: "over TLS".into(),
                times: Some(2),
            })
            .await
            .unwrap();
        assert_eq!(answer.text, "over TLSover TLS", "{version:?}");
    }
    // Header parts travel over TLS too.
    let soap = SoapClient::with_tls(
        &format!("{base}/services/SessionService"),
        SoapVersion::Soap11,
        &tls,
    )
    .unwrap();
    let (_, headers) = session::SessionClient::new(soap)
        .stamp(&session::Stamp {
            note: "n".into(),
            codes: None,
            size: Some(session::Size("12".into())),
            extras: None,
        })
        .await
        .unwrap();
    assert!(headers.audit.is_some());

    // Mozilla's roots do not include the test CA: the handshake fails.
    let untrusting =
        SoapClient::new(&format!("{base}/services/EchoService"), SoapVersion::Soap11).unwrap();
    let error = echo::EchoPortClient::new(untrusting)
        .echo(&echo::Echo {
            text: "x".into(),
            times: None,
        })
        .await
        .unwrap_err();
    match error {
        CallError::Client(ClientError::Http(message)) => {
            assert!(message.contains("certificate"), "{message}");
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    gateway.shutdown().await;
}
