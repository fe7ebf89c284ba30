//! TLS for listeners that have a certificate and key: rustls with the ring
//! provider, ALPN `h2` (when HTTP/2 is on) and `http/1.1`.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::StartError;

/// Loads a PEM certificate chain and key into a rustls server configuration.
pub fn server_config(
    cert: &Path,
    key: &Path,
    cert_key: &'static str,
    key_key: &'static str,
    http2: bool,
) -> Result<Arc<ServerConfig>, StartError> {
    let tls_error = |which: &'static str, path: &Path, problem: String| StartError::Tls {
        key: which,
        path: path.to_owned(),
        problem,
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_error(cert_key, cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(cert_key, cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls_error(
            cert_key,
            cert,
            "no certificate in the file".to_owned(),
        ));
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| tls_error(key_key, key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(cert_key, cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, private_key)
        .map_err(|e| tls_error(key_key, key, format!("does not fit the certificate: {e}")))?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}
