//! The coordinator's outgoing side: [`HttpSink`] sends every one-way
//! message the driver asks for (Prepare, Commit, Rollback, Committed,
//! Aborted, faults) as a SOAP envelope over HTTP(S), and posts replies to
//! non-anonymous `wsa:ReplyTo` addresses.
//!
//! Every send, resends included, is a new message with a fresh
//! `wsa:MessageID`; `wsa:To` is the endpoint's address and its reference
//! parameters are echoed as headers. Messages to a participant carry the
//! coordinator's own protocol endpoint as `wsa:ReplyTo`, so a participant
//! that lost its state can still answer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ithaca_txn::driver::{self, NotificationSink, SendError, SendFuture};
use ithaca_txn::engine::Protocol;
use ithaca_txn::record::{EndpointRef, ParticipantId};
use ithaca_txn::wire::{
    Body, Correlation, CorrelationKey, EndpointReference, Message, Notification, WireFault,
    WsTxVersion,
};
use ithaca_wsdl::SoapVersion;

use crate::wsat::peer;
use crate::wsat::{COMPLETION_PATH, SUBORDINATE_PATH, TWO_PC_PATH, new_message_id};

/// How long one send may take (connect, send, read the answer).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer that is read (it is only checked for a status).
const MAX_ANSWER: usize = 64 * 1024;

/// A POST of a SOAP envelope of version `soap` with its action: the
/// `SOAPAction` header in SOAP 1.1, the `action` parameter of the content
/// type in SOAP 1.2.
pub(crate) fn soap_post(
    uri: Uri,
    soap: SoapVersion,
    action: &str,
    xml: Vec<u8>,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let request = Request::builder().method(Method::POST).uri(uri);
    let request = match soap {
        SoapVersion::Soap11 => request
            .header(header::CONTENT_TYPE, SoapVersion::Soap11.content_type())
            .header("SOAPAction", format!("\"{action}\"")),
        SoapVersion::Soap12 => request.header(
            header::CONTENT_TYPE,
            format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
        ),
    };
    request.body(Full::new(Bytes::from(xml)))
}

/// Sends the coordinator's messages over HTTP(S) (Mozilla's roots for
/// `https://`). Cheap to clone.
#[derive(Clone)]
pub struct HttpSink {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    key: Arc<CorrelationKey>,
    public_url: Option<Arc<str>>,
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl HttpSink {
    /// A sink signing the coordinator endpoints it names with `key`, under
    /// `public_url` when set (else the base URL each peer registered
    /// through).
    pub fn new(key: Arc<CorrelationKey>, public_url: Option<&str>) -> Result<Self, String> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(SEND_TIMEOUT));
        http.enforce_http(false);
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            http: Client::builder(TokioExecutor::new()).build(connector),
            key,
            public_url: public_url.map(Arc::from),
        })
    }

    /// Posts `message` to `address`: `Ok` for a 2xx answer.
    pub async fn post(&self, address: &str, message: &Message) -> Result<(), SendError> {
        let uri: Uri = address
            .parse()
            .map_err(|_| SendError::Rejected(format!("not a URL: {address}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(SendError::Rejected(format!(
                "not an http(s) address: {address}"
            )));
        }
        let xml = message
            .encode()
            .map_err(|e| SendError::Rejected(format!("cannot write the message: {e}")))?;
        let request = soap_post(uri, message.soap, &message.action(), xml)
            .map_err(|e| SendError::Rejected(e.to_string()))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| SendError::Unreachable(e.to_string()))?;
            let status = response.status();
            // Read (a bounded part of) the answer so the connection can be
            // reused.
            let _ = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await;
            Ok::<StatusCode, SendError>(status)
        };
        let status = tokio::time::timeout(SEND_TIMEOUT, exchange)
            .await
            .map_err(|_| SendError::Unreachable(format!("no answer from {address}")))??;
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() && status != StatusCode::INTERNAL_SERVER_ERROR {
            Err(SendError::Unreachable(format!(
                "{address} answered {status}"
            )))
        } else {
            // 4xx, and 500 (how SOAP 1.1 carries a fault): refused.
            Err(SendError::Rejected(format!("{address} answered {status}")))
        }
    }

    /// Posts a request/response `message` (a Register, say) to `address`
    /// and reads the answer envelope, bounded by `limits` and `wire`, in
    /// at most the send timeout.
    pub(crate) async fn exchange(
        &self,
        address: &str,
        message: &Message,
        limits: &ithaca_wsdl::Limits,
        wire: &ithaca_txn::wire::WireLimits,
    ) -> Result<Message, String> {
        let uri: Uri = address
            .parse()
            .map_err(|_| format!("not a URL: {address}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!("not an http(s) address: {address}"));
        }
        let xml = message.encode().map_err(|e| e.to_string())?;
        let request =
            soap_post(uri, message.soap, &message.action(), xml).map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| format!("{address}: {e}"))?;
            let body = http_body_util::Limited::new(response.into_body(), limits.max_size)
                .collect()
                .await
                .map_err(|e| format!("{address}: {e}"))?
                .to_bytes();
            ithaca_txn::wire::decode(&body, None, limits, wire)
                .map_err(|e| format!("{address}: {e}"))
        };
        tokio::time::timeout(SEND_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer from {address}"))?
    }

    /// The coordinator protocol endpoint of `correlation`, as handed out
    /// in RegisterResponse (for [`ParticipantId::SUPERIOR`], the
    /// subordinate's participant endpoint, where a superior sends
    /// Prepare, Commit and Rollback).
    pub(crate) fn coordinator_endpoint(
        &self,
        base: &str,
        correlation: &Correlation,
    ) -> EndpointReference {
        let base = self.public_url.as_deref().unwrap_or(base);
        let path = match correlation.participant {
            Some((ParticipantId::SUPERIOR, _)) => SUBORDINATE_PATH,
            Some((_, Protocol::Completion)) => COMPLETION_PATH,
            _ => TWO_PC_PATH,
        };
        EndpointReference {
            address: format!("{}{path}", base.trim_end_matches('/')),
            reference_parameters: vec![self.key.sign(correlation)],
        }
    }

    async fn send_notification(
        &self,
        to: &EndpointRef,
        notification: driver::Notification,
    ) -> Result<(), SendError> {
        let (epr, peer) = peer::split(to)
            .map_err(|e| SendError::Rejected(format!("unusable endpoint reference: {e}")))?;
        let body = match notification.message {
            driver::Message::Prepare => Body::Notification(Notification::Prepare),
            driver::Message::Commit => Body::Notification(Notification::Commit),
            driver::Message::Rollback => Body::Notification(Notification::Rollback),
            driver::Message::Committed => Body::Notification(Notification::Committed),
            driver::Message::Aborted => Body::Notification(Notification::Aborted),
            driver::Message::Prepared => Body::Notification(Notification::Prepared),
            driver::Message::ReadOnly => Body::Notification(Notification::ReadOnly),
            // WS-AT 1.2 has no Replay: a recovered participant says
            // Prepared again.
            driver::Message::Replay if peer.version == WsTxVersion::Oct2004 => {
                Body::Notification(Notification::Replay)
            }
            driver::Message::Replay => Body::Notification(Notification::Prepared),
            driver::Message::Fault(fault) => Body::Fault(WireFault::new(fault.into())),
        };
        let mut message = Message::to_endpoint(peer.soap, peer.version, &epr, body);
        message.addressing.message_id = Some(new_message_id());
        if let (Some(participant), Some(protocol)) =
            (notification.participant, notification.protocol)
            && !peer.base.is_empty()
        {
            let correlation = Correlation {
                tx: notification.tx.clone(),
                participant: Some((participant, protocol)),
            };
            message.addressing.reply_to = Some(self.coordinator_endpoint(&peer.base, &correlation));
        }
        self.post(&epr.address, &message).await
    }
}

impl NotificationSink for HttpSink {
    fn send<'a>(
        &'a self,
        to: &'a EndpointRef,
        notification: driver::Notification,
    ) -> SendFuture<'a> {
        Box::pin(self.send_notification(to, notification))
    }
}
