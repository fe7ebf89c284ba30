//! A SOAP client: posts an envelope to an endpoint over HTTP/1.1 (or
//! HTTP/2 when a TLS server offers it), in clear or over TLS, and reads the
//! answer.
//!
//! `https://` endpoints are reached with rustls (the ring provider, as the
//! server uses) and the roots of a [`ClientTls`]: Mozilla's roots
//! (webpki-roots) by default, or the CA certificates of a PEM bundle file
//! ([`ClientTls::from_ca_file`]) for private PKIs.
//!
//! [`SoapClient`] speaks SOAP 1.1 (`text/xml` with a `SOAPAction` header)
//! or SOAP 1.2 (`application/soap+xml` with the `action` parameter), reads
//! the response whole under a size bound and a deadline, checks it with
//! `ithaca_wsdl`'s envelope reader (no DOCTYPE, no entity expansion, every
//! limit applied) and turns a fault into [`ClientError::Fault`] with its
//! code, reasons and detail. Generated clients call
//! [`SoapClient::call_typed`], which decodes the response body into their
//! output type and a fault into their operation's fault enum, or
//! [`SoapClient::call_typed_with_headers`] for operations with SOAP header
//! parts, which also sends the input header blocks and reads the output
//! ones.
//!
//! rpc/encoded operations (SOAP 1.1 section 5) go through
//! [`SoapClient::call_encoded`] with an [`EncodedContract`]: the generated
//! writer's literal request is read into a value with the contract's
//! schema and encoded by section 5 (`encodingStyle`, `xsi:type` on every
//! accessor, `SOAP-ENC:Array`s); the response is decoded by section 5
//! (multi-reference `href`/`id` resolved, under
//! [`ValueLimits`](ithaca_wsdl::value::ValueLimits): depth, value and
//! reference counts and array sizes bounded, cycles refused) and written
//! literal for the generated reader.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ithaca_wsdl::typed::{DecodeError, HeaderSet, XmlRead, read_body, read_element, read_headers};
use ithaca_wsdl::value::{Direction, MessageCodec};
use ithaca_wsdl::wsdl11::{OperationInfo, Use};
use ithaca_wsdl::{EnvelopeWriter, Fault, Limits, Loaded, SoapVersion, read_envelope, read_fault};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Why a call did not produce a response body.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not an `http://` or `https://` URL.
    #[error("invalid endpoint `{0}`: give an http:// or https:// URL")]
    Endpoint(String),
    /// The TLS roots could not be read (a CA bundle file that cannot be
    /// read or holds no certificate).
    #[error("TLS roots: {path}: {message}")]
    Roots {
        /// The CA bundle file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The request could not be sent or the response not received.
    #[error("HTTP request failed: {0}")]
    Http(String),
    /// No complete response within the deadline.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The response is larger than the bound.
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    /// The response is not a SOAP envelope (with the HTTP status).
    #[error("HTTP {status}: the response is not a SOAP envelope: {message}")]
    NotSoap {
        /// The HTTP status.
        status: StatusCode,
        /// What the envelope reader said.
        message: String,
    },
    /// The server answered with a SOAP fault.
    #[error("SOAP fault {:?}: {}", .fault.code, .fault.reason())]
    Fault {
        /// The fault.
        fault: Box<Fault>,
        /// The whole response, for reading the fault's detail.
        message: Bytes,
    },
    /// The response body does not match the expected type.
    #[error("the response does not match the contract: {0}")]
    Decode(#[from] DecodeError),
    /// The request envelope could not be written.
    #[error("cannot write the request envelope: {0}")]
    Write(String),
    /// An rpc/encoded message could not be encoded or decoded by SOAP 1.1
    /// section 5 with the contract (a request value that does not fit, a
    /// response that does not decode, a limit passed, an `href` cycle).
    #[error("SOAP encoding: {0}")]
    Encoding(String),
}

/// The contract an rpc/encoded client encodes its requests and decodes
/// its responses with (SOAP 1.1 section 5 needs the schema's types at run
/// time). Built once per generated client from the [`Contract`] loaded
/// from the same WSDL the code was generated from.
///
/// [`Contract`]: super::Contract
#[derive(Clone)]
pub struct EncodedContract {
    loaded: Arc<Loaded>,
    operations: Arc<Vec<OperationInfo>>,
}

impl std::fmt::Debug for EncodedContract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedContract")
            .field("operations", &self.operations.len())
            .finish_non_exhaustive()
    }
}

impl EncodedContract {
    /// The rpc/encoded operations of `contract`.
    pub fn new(contract: &super::Contract) -> Self {
        let loaded = contract.loaded_arc();
        let operations = loaded
            .definitions
            .operations(&loaded.schema)
            .into_iter()
            .filter(|op| op.use_kind == Use::Encoded)
            .collect();
        Self {
            loaded,
            operations: Arc::new(operations),
        }
    }

    /// The operation `name` of the binding `{binding_ns}binding_local`.
    fn operation(
        &self,
        binding: (&str, &str),
        name: &str,
        version: SoapVersion,
    ) -> Result<&OperationInfo, ClientError> {
        let op = self
            .operations
            .iter()
            .find(|op| {
                op.name == name
                    && op.binding.local == binding.1
                    && op.binding.namespace.as_deref().unwrap_or("") == binding.0
            })
            .ok_or_else(|| {
                ClientError::Encoding(format!(
                    "the contract has no rpc/encoded operation `{name}` in the binding {}",
                    binding.1
                ))
            })?;
        if op.soap_version != version {
            return Err(ClientError::Encoding(format!(
                "the operation `{name}` is bound to {:?} but the client speaks {version:?}",
                op.soap_version
            )));
        }
        Ok(op)
    }
}

/// The error of a generated client's call: the operation's fault, or a
/// failure to complete the call at all.
#[derive(Debug, thiserror::Error)]
pub enum CallError<F> {
    /// The server answered with a fault, typed by the operation.
    #[error("{0}")]
    Fault(F),
    /// The call did not complete (transport, timeout, bad response).
    #[error(transparent)]
    Client(ClientError),
}

/// A SOAP response that is not a fault.
#[derive(Debug, Clone)]
pub struct SoapResponse {
    /// The HTTP status (200, or 202 for a one-way operation).
    pub status: StatusCode,
    /// The whole response message (empty for `202`).
    pub message: Bytes,
}

/// The certificates a [`SoapClient`] trusts for `https://` endpoints.
#[derive(Debug, Clone)]
pub struct ClientTls {
    roots: RootCertStore,
}

impl Default for ClientTls {
    /// Mozilla's roots, as [`ClientTls::webpki_roots`].
    fn default() -> Self {
        Self::webpki_roots()
    }
}

impl ClientTls {
    /// Trusts Mozilla's root certificates (the `webpki-roots` crate), as
    /// browsers do.
    pub fn webpki_roots() -> Self {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self { roots }
    }

    /// Trusts only the CA certificates of the PEM bundle at `path` (a
    /// private CA, a test CA).
    pub fn from_ca_file(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        Self {
            roots: RootCertStore::empty(),
        }
        .with_ca_file(path)
    }

    /// Also trusts the CA certificates of the PEM bundle at `path`.
    pub fn with_ca_file(mut self, path: impl AsRef<Path>) -> Result<Self, ClientError> {
        let path = path.as_ref();
        let error = |message: String| ClientError::Roots {
            path: path.to_path_buf(),
            message,
        };
        let mut added = 0usize;
        for certificate in CertificateDer::pem_file_iter(path).map_err(|e| error(e.to_string()))? {
            let certificate = certificate.map_err(|e| error(e.to_string()))?;
            self.roots
                .add(certificate)
                .map_err(|e| error(format!("not a usable CA certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(error(String::from("no PEM certificate in the file")));
        }
        Ok(self)
    }

    /// How many root certificates are trusted.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether no root certificate is trusted.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    fn connector(&self) -> Result<HttpsConnector<HttpConnector>, ClientError> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        // The https connector upgrades the connection itself.
        http.enforce_http(false);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        Ok(hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http))
    }
}

/// A client of one SOAP endpoint. Cheap to clone (connections are pooled
/// and shared).
#[derive(Debug, Clone)]
pub struct SoapClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    endpoint: Uri,
    version: SoapVersion,
    timeout: Duration,
    max_response_size: usize,
    limits: Limits,
}

impl SoapClient {
    /// A client of `endpoint` (an `http://` or `https://` URL) speaking
    /// `version`, with a 30 s deadline per call and responses up to
    /// 16 MiB; `https://` trusts Mozilla's roots ([`ClientTls::default`]).
    pub fn new(endpoint: &str, version: SoapVersion) -> Result<Self, ClientError> {
        Self::with_tls(endpoint, version, &ClientTls::default())
    }

    /// A client as [`SoapClient::new`] that trusts `tls`'s roots for
    /// `https://`.
    pub fn with_tls(
        endpoint: &str,
        version: SoapVersion,
        tls: &ClientTls,
    ) -> Result<Self, ClientError> {
        let uri: Uri = endpoint
            .parse()
            .map_err(|_| ClientError::Endpoint(endpoint.to_owned()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(ClientError::Endpoint(endpoint.to_owned()));
        }
        Ok(Self {
            http: Client::builder(TokioExecutor::new()).build(tls.connector()?),
            endpoint: uri,
            version,
            timeout: Duration::from_secs(30),
            max_response_size: Limits::DEFAULT.max_size,
            limits: Limits::DEFAULT,
        })
    }

    /// Sets the deadline of each call (sending, waiting and reading).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the largest response accepted, in bytes.
    pub fn with_max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self.limits.max_size = bytes;
        self
    }

    /// The SOAP version spoken.
    pub fn version(&self) -> SoapVersion {
        self.version
    }

    /// The endpoint called.
    pub fn endpoint(&self) -> &Uri {
        &self.endpoint
    }

    /// Sends `body` (the body's content, binding its own namespaces) in an
    /// envelope with the SOAP action `action`, and returns the response,
    /// or the fault as [`ClientError::Fault`].
    pub async fn call(
        &self,
        action: Option<&str>,
        body: &[u8],
    ) -> Result<SoapResponse, ClientError> {
        self.call_with_headers(action, &[], body).await
    }

    /// As [`SoapClient::call`], with these header blocks (each one element
    /// binding its own namespaces) in the request envelope's `Header`.
    pub async fn call_with_headers(
        &self,
        action: Option<&str>,
        headers: &[Vec<u8>],
        body: &[u8],
    ) -> Result<SoapResponse, ClientError> {
        let writer = headers
            .iter()
            .fold(EnvelopeWriter::new(self.version), |writer, block| {
                writer.header_block(block)
            });
        let envelope = writer
            .to_vec(body)
            .map_err(|e| ClientError::Write(e.to_string()))?;
        let request = self.request(action, envelope)?;
        match tokio::time::timeout(self.timeout, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout(self.timeout)),
        }
    }

    /// Calls an operation and decodes its response body as `Out`; a fault
    /// goes through `fault` (a generated `…Fault::from_response`).
    pub async fn call_typed<Out: XmlRead, F>(
        &self,
        action: Option<&str>,
        body: Vec<u8>,
        fault: impl FnOnce(Fault, &[u8]) -> F,
    ) -> Result<Out, CallError<F>> {
        match self.call(action, &body).await {
            Ok(response) => read_body(&response.message, &self.limits)
                .map_err(|e| CallError::Client(ClientError::Decode(e))),
            Err(ClientError::Fault { fault: f, message }) => {
                Err(CallError::Fault(fault(*f, &message)))
            }
            Err(other) => Err(CallError::Client(other)),
        }
    }

    /// Calls an rpc/encoded operation: `body` is the generated writer's
    /// literal rpc wrapper, encoded by SOAP 1.1 section 5 with `contract`
    /// before it is sent; the response is decoded by section 5 and read as
    /// `Out`. `binding` is the binding's `(namespace, local)` name; a
    /// fault goes through `fault`.
    pub async fn call_encoded<Out: XmlRead, F>(
        &self,
        contract: &EncodedContract,
        binding: (&str, &str),
        operation: &str,
        action: Option<&str>,
        body: Vec<u8>,
        fault: impl FnOnce(Fault, &[u8]) -> F,
    ) -> Result<Out, CallError<F>> {
        let result = async {
            let op = contract.operation(binding, operation, self.version)?;
            let request = encode_request(&contract.loaded, op, &body)?;
            let response = self.call(action, &request).await?;
            decode_response(&contract.loaded, op, &response.message, &self.limits)
        };
        match result.await {
            Ok(out) => Ok(out),
            Err(ClientError::Fault { fault: f, message }) => {
                Err(CallError::Fault(fault(*f, &message)))
            }
            Err(other) => Err(CallError::Client(other)),
        }
    }

    /// Sends a one-way rpc/encoded operation's request, encoded as
    /// [`SoapClient::call_encoded`] does; the server's `202 Accepted` (or
    /// any non-fault response) is success.
    pub async fn send_one_way_encoded<F>(
        &self,
        contract: &EncodedContract,
        binding: (&str, &str),
        operation: &str,
        action: Option<&str>,
        body: Vec<u8>,
        fault: impl FnOnce(Fault, &[u8]) -> F,
    ) -> Result<(), CallError<F>> {
        let result = async {
            let op = contract.operation(binding, operation, self.version)?;
            let request = encode_request(&contract.loaded, op, &body)?;
            self.call(action, &request).await.map(|_| ())
        };
        match result.await {
            Ok(()) => Ok(()),
            Err(ClientError::Fault { fault: f, message }) => {
                Err(CallError::Fault(fault(*f, &message)))
            }
            Err(other) => Err(CallError::Client(other)),
        }
    }

    /// Calls an operation with SOAP header parts: sends `headers`' blocks
    /// in the request's `Header`, decodes the response body as `Out` and
    /// the response's header blocks as `OutHeaders`; a fault goes through
    /// `fault`.
    pub async fn call_typed_with_headers<Out: XmlRead, OutHeaders: HeaderSet, F>(
        &self,
        action: Option<&str>,
        headers: &impl HeaderSet,
        body: Vec<u8>,
        fault: impl FnOnce(Fault, &[u8]) -> F,
    ) -> Result<(Out, OutHeaders), CallError<F>> {
        let blocks = headers.write_blocks();
        match self.call_with_headers(action, &blocks, &body).await {
            Ok(response) => {
                let decoded = read_body(&response.message, &self.limits)
                    .and_then(|out| Ok((out, read_headers(&response.message, &self.limits)?)));
                decoded.map_err(|e| CallError::Client(ClientError::Decode(e)))
            }
            Err(ClientError::Fault { fault: f, message }) => {
                Err(CallError::Fault(fault(*f, &message)))
            }
            Err(other) => Err(CallError::Client(other)),
        }
    }

    /// Sends a one-way operation's request with SOAP header blocks, as
    /// [`SoapClient::send_one_way`].
    pub async fn send_one_way_with_headers<F>(
        &self,
        action: Option<&str>,
        headers: &impl HeaderSet,
        body: Vec<u8>,
        fault: impl FnOnce(Fault, &[u8]) -> F,
    ) -> Result<(), CallError<F>> {
        let blocks = headers.write_blocks();
        match self.call_with_headers(action, &blocks, &body).await {
            Ok(_) => Ok(()),
            Err(ClientError::Fault { fault: f, message }) => {
                Err(CallError::Fault(fault(*f, &message)))
            }
            Err(other) => Err(CallError::Client(other)),
        }
    }

    /// Sends a one-way operation's request; the server's `202 Accepted`
    /// (or any non-fault response) is success.
    pub async fn send_one_way<F>(
        &self,
        action: Option<&str>,
        body: Vec<u8>,
        fault: impl FnOnce(Fault, &[u8]) -> F,
    ) -> Result<(), CallError<F>> {
        match self.call(action, &body).await {
            Ok(_) => Ok(()),
            Err(ClientError::Fault { fault: f, message }) => {
                Err(CallError::Fault(fault(*f, &message)))
            }
            Err(other) => Err(CallError::Client(other)),
        }
    }

    fn request(
        &self,
        action: Option<&str>,
        envelope: Vec<u8>,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let action = action.unwrap_or("");
        let escaped = action.replace('\\', "\\\\").replace('"', "\\\"");
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.clone());
        let content_type = match self.version {
            SoapVersion::Soap11 => {
                builder = builder.header("SOAPAction", format!("\"{escaped}\""));
                String::from("text/xml; charset=utf-8")
            }
            SoapVersion::Soap12 if action.is_empty() => {
                String::from("application/soap+xml; charset=utf-8")
            }
            SoapVersion::Soap12 => {
                format!("application/soap+xml; charset=utf-8; action=\"{escaped}\"")
            }
        };
        let content_type = HeaderValue::from_str(&content_type).map_err(|_| {
            ClientError::Write(format!(
                "the SOAP action `{action}` cannot be sent in a header"
            ))
        })?;
        builder
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(envelope)))
            .map_err(|e| ClientError::Write(e.to_string()))
    }

    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<SoapResponse, ClientError> {
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| ClientError::Http(error_chain(&e)))?;
        let status = response.status();
        if let Some(length) = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            && length > self.max_response_size
        {
            return Err(ClientError::TooLarge(self.max_response_size));
        }
        let body = Limited::new(response.into_body(), self.max_response_size)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    ClientError::TooLarge(self.max_response_size)
                } else {
                    ClientError::Http(e.to_string())
                }
            })?
            .to_bytes();
        if body.is_empty() && (status == StatusCode::ACCEPTED || status == StatusCode::OK) {
            return Ok(SoapResponse {
                status,
                message: body,
            });
        }
        let envelope =
            read_envelope(&body, None, &self.limits).map_err(|e| ClientError::NotSoap {
                status,
                message: e.to_string(),
            })?;
        if envelope.is_fault() {
            let (_, fault) = read_fault(&body, &self.limits).map_err(|e| ClientError::NotSoap {
                status,
                message: e.to_string(),
            })?;
            return Err(ClientError::Fault {
                fault: Box::new(fault),
                message: body,
            });
        }
        if !status.is_success() {
            return Err(ClientError::NotSoap {
                status,
                message: String::from("an error status without a fault"),
            });
        }
        Ok(SoapResponse {
            status,
            message: body,
        })
    }
}

/// The literal rpc wrapper `literal`, read with the contract's schema and
/// encoded by SOAP 1.1 section 5.
fn encode_request(
    loaded: &Loaded,
    op: &OperationInfo,
    literal: &[u8],
) -> Result<Vec<u8>, ClientError> {
    let codec = MessageCodec::new(loaded, op);
    let value = codec
        .as_literal()
        .decode(Direction::Input, literal, &[])
        .map_err(|e| {
            ClientError::Encoding(format!("the request does not fit the contract: {e}"))
        })?;
    codec
        .encode(Direction::Input, &value)
        .map_err(|e| ClientError::Encoding(format!("the request does not fit the contract: {e}")))
}

/// The body of an rpc/encoded response `message`, decoded by SOAP 1.1
/// section 5 and read as `Out` from its literal form.
fn decode_response<Out: XmlRead>(
    loaded: &Loaded,
    op: &OperationInfo,
    message: &[u8],
    limits: &Limits,
) -> Result<Out, ClientError> {
    let envelope = read_envelope(message, None, limits).map_err(|e| ClientError::NotSoap {
        status: StatusCode::OK,
        message: e.to_string(),
    })?;
    let payload = message
        .get(envelope.body.payload.clone())
        .unwrap_or_default();
    let codec = MessageCodec::new(loaded, op);
    let value = codec
        .decode(Direction::Output, payload, &envelope.body_scope())
        .map_err(|e| {
            ClientError::Encoding(format!("the response does not fit the contract: {e}"))
        })?;
    let literal = codec
        .as_literal()
        .encode(Direction::Output, &value)
        .map_err(|e| {
            ClientError::Encoding(format!("the response does not fit the contract: {e}"))
        })?;
    Ok(read_element(&literal, limits)?)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_endpoints_that_are_not_http() {
        assert!(matches!(
            SoapClient::new("ftp://x/y", SoapVersion::Soap11),
            Err(ClientError::Endpoint(_))
        ));
        assert!(SoapClient::new("http://127.0.0.1:1/x", SoapVersion::Soap12).is_ok());
        assert!(SoapClient::new("https://127.0.0.1:1/x", SoapVersion::Soap12).is_ok());
    }

    #[test]
    fn ca_bundles_must_hold_certificates() {
        assert!(!ClientTls::webpki_roots().is_empty());
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let error = ClientTls::from_ca_file(&empty).unwrap_err();
        assert!(error.to_string().contains("no PEM certificate"), "{error}");
        let missing = ClientTls::from_ca_file(dir.path().join("missing.pem")).unwrap_err();
        assert!(matches!(missing, ClientError::Roots { .. }), "{missing}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_http_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client =
            SoapClient::new(&format!("http://127.0.0.1:{port}/x"), SoapVersion::Soap11).unwrap();
        let error = client.call(None, b"<a/>").await.unwrap_err();
        assert!(matches!(error, ClientError::Http(_)), "{error}");
    }
}
