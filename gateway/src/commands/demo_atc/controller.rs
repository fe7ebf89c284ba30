//! A controller client of the sector-status service: the four operations
//! over SOAP 1.1, each answer read into an [`Answer`], and the call loop one
//! controller runs during a round.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The contract's namespace (services/wsdl/sector-status.wsdl).
const NAMESPACE: &str = "urn:ithaca:atc:sector-status";

/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// How long one slot lasts: in a slot every controller reserves the same
/// interval of the same sector, for a flight of its own.
pub(crate) const SLOT: Duration = Duration::from_secs(1);

/// One operation of the contract.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Call {
    /// Reserve `sector` for `flight` during `[from, until)`.
    Reserve {
        sector: String,
        flight: String,
        from: u64,
        until: u64,
    },
    /// Which flights may be in `sector` at second `at`.
    WhoIsIn { sector: String, at: u64 },
    /// The sector's reservations (used to see who serves).
    GetSector { sector: String },
}

impl Call {
    /// The body element and the SOAP action's operation name. Every value
    /// is made by this module from ASCII letters and digits, so nothing
    /// needs escaping.
    fn body(&self) -> (String, &'static str) {
        match self {
            Self::Reserve {
                sector,
                flight,
                from,
                until,
            } => (
                format!(
                    "<s:Reserve xmlns:s=\"{NAMESPACE}\"><sector>{sector}</sector><flight>{flight}</flight><from>{from}</from><until>{until}</until></s:Reserve>"
                ),
                "Reserve",
            ),
            Self::WhoIsIn { sector, at } => (
                format!(
                    "<s:WhoIsIn xmlns:s=\"{NAMESPACE}\"><sector>{sector}</sector><at>{at}</at></s:WhoIsIn>"
                ),
                "WhoIsIn",
            ),
            Self::GetSector { sector } => (
                format!(
                    "<s:GetSector xmlns:s=\"{NAMESPACE}\"><sector>{sector}</sector></s:GetSector>"
                ),
                "GetSector",
            ),
        }
    }
}

/// What one call answered.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Answer {
    /// The reservation was acknowledged by `by` in `view`.
    Reserved { view: u64, by: String },
    /// WhoIsIn's flights, served by `by` in `view`.
    Flights {
        view: u64,
        by: String,
        flights: Vec<String>,
    },
    /// GetSector answered by `by`.
    Sector { by: String },
    /// The Conflict fault: another flight holds an overlapping interval.
    Conflict,
    /// The NotPrimary fault, with the primary's address when known.
    NotPrimary { address: Option<String> },
    /// Any other fault (not acknowledged, stale view, …).
    Fault(String),
    /// No answer (refused, timed out).
    Unreachable,
}

/// A SOAP 1.1 client for the contract.
#[derive(Clone)]
pub(crate) struct SectorClient {
    http: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl SectorClient {
    /// A client that gives up on a call after `timeout`.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            http: Client::builder(TokioExecutor::new()).build_http(),
            timeout,
        }
    }

    /// Sends `call` to `endpoint`.
    pub(crate) async fn call(&self, endpoint: &str, call: &Call) -> Answer {
        let (body, action) = call.body();
        let envelope = format!(
            "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\"><e:Body>{body}</e:Body></e:Envelope>"
        );
        let Ok(request) = http::Request::post(endpoint)
            .header(http::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("soapaction", format!("\"{NAMESPACE}#{action}\""))
            .body(Full::new(Bytes::from(envelope)))
        else {
            return Answer::Fault(format!("bad endpoint {endpoint}"));
        };
        let exchange = async {
            let response = self.http.request(request).await.ok()?;
            let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .ok()?
                .to_bytes();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Some(text)) => parse_answer(&text),
            _ => Answer::Unreachable,
        }
    }

    /// Sends `call`; on NotPrimary naming another address, follows it once,
    /// as a controller would.
    pub(crate) async fn call_following(
        &self,
        controller: &str,
        endpoint: &str,
        call: Call,
    ) -> Record {
        let sent = Instant::now();
        let mut answer = self.call(endpoint, &call).await;
        if let Answer::NotPrimary {
            address: Some(address),
        } = &answer
            && address != endpoint
        {
            answer = self.call(address, &call).await;
        }
        Record {
            controller: controller.to_owned(),
            call,
            sent,
            received: Instant::now(),
            answer,
        }
    }
}

/// The first descendant element named `name`.
fn find<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

fn text_of(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    find(node, name).map(|n| n.text().unwrap_or_default().trim().to_owned())
}

/// Reads a response envelope.
pub(crate) fn parse_answer(text: &str) -> Answer {
    let Ok(document) = roxmltree::Document::parse(text) else {
        return Answer::Fault("an answer that is not XML".to_owned());
    };
    let root = document.root();
    let served = |node| {
        (
            text_of(node, "viewId")
                .and_then(|v| v.parse().ok())
                .unwrap_or_default(),
            text_of(node, "servedBy").unwrap_or_default(),
        )
    };
    if find(root, "ConflictFault").is_some() {
        return Answer::Conflict;
    }
    if let Some(fault) = find(root, "NotPrimaryFault") {
        return Answer::NotPrimary {
            address: text_of(fault, "primaryAddress"),
        };
    }
    if let Some(fault) = find(root, "Fault") {
        return Answer::Fault(
            text_of(fault, "faultstring")
                .or_else(|| text_of(fault, "Text"))
                .unwrap_or_else(|| "a fault".to_owned()),
        );
    }
    if let Some(node) = find(root, "ReserveResponse") {
        let (view, by) = served(node);
        return Answer::Reserved { view, by };
    }
    if let Some(node) = find(root, "WhoIsInResponse") {
        let (view, by) = served(node);
        let flights = node
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "flight")
            .map(|n| n.text().unwrap_or_default().trim().to_owned())
            .collect();
        return Answer::Flights { view, by, flights };
    }
    if let Some(node) = find(root, "GetSectorResponse") {
        return Answer::Sector { by: served(node).1 };
    }
    Answer::Fault("an unexpected answer".to_owned())
}

/// One call a controller made and what came back.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    /// The controller's name (`P1`: the first controller sent to P).
    pub(crate) controller: String,
    /// What it asked.
    pub(crate) call: Call,
    /// When it asked.
    pub(crate) sent: Instant,
    /// When the answer came (after following NotPrimary).
    pub(crate) received: Instant,
    /// The answer.
    pub(crate) answer: Answer,
}

/// Live counters a round prints while it runs.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Reservations acknowledged by the first member (P).
    pub(crate) by_p: AtomicUsize,
    /// Reservations acknowledged by the second member (B).
    pub(crate) by_b: AtomicUsize,
    /// Reservations refused because another flight holds the interval
    /// (the right answer for all but the first controller of a slot).
    pub(crate) taken: AtomicUsize,
    /// Reservations not served (NotPrimary, not acknowledged, no answer).
    pub(crate) unserved: AtomicUsize,
}

/// One controller: until `stop`, reserves the current slot's interval of
/// the slot's sector for a flight of its own, then asks who is in it.
pub(crate) async fn controller_loop(
    name: String,
    endpoint: String,
    start: Instant,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Vec<Record> {
    let client = SectorClient::new(Duration::from_millis(1500));
    let mut records = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let slot = u64::try_from(start.elapsed().as_millis() / SLOT.as_millis()).unwrap_or(0);
        let sector = format!("S{}", slot % 2);
        let from = slot * 100;
        let reserve = Call::Reserve {
            sector: sector.clone(),
            flight: format!("{name}x{n}"),
            from,
            until: from + 100,
        };
        let record = client.call_following(&name, &endpoint, reserve).await;
        match &record.answer {
            Answer::Reserved { by, .. } if by == "P" => {
                tally.by_p.fetch_add(1, Ordering::Relaxed);
            }
            Answer::Reserved { .. } => {
                tally.by_b.fetch_add(1, Ordering::Relaxed);
            }
            Answer::Conflict => {
                tally.taken.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                tally.unserved.fetch_add(1, Ordering::Relaxed);
            }
        }
        records.push(record);
        let who = Call::WhoIsIn {
            sector,
            at: from + 50,
        };
        records.push(client.call_following(&name, &endpoint, who).await);
        n += 1;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_answers_and_faults() {
        let envelope = |body: &str| {
            format!(
                "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\"><e:Body>{body}</e:Body></e:Envelope>"
            )
        };
        assert_eq!(
            parse_answer(&envelope(
                "<s:ReserveResponse xmlns:s=\"urn:ithaca:atc:sector-status\"><viewId>3</viewId><servedBy>B</servedBy></s:ReserveResponse>"
            )),
            Answer::Reserved {
                view: 3,
                by: "B".into()
            }
        );
        assert_eq!(
            parse_answer(&envelope(
                "<s:WhoIsInResponse xmlns:s=\"urn:ithaca:atc:sector-status\"><viewId>2</viewId><servedBy>P</servedBy><flight>A1</flight><flight>B2</flight></s:WhoIsInResponse>"
            )),
            Answer::Flights {
                view: 2,
                by: "P".into(),
                flights: vec!["A1".into(), "B2".into()]
            }
        );
        assert_eq!(
            parse_answer(&envelope(
                "<e:Fault><faultcode>e:Server</faultcode><faultstring>no</faultstring><detail><s:NotPrimaryFault xmlns:s=\"urn:ithaca:atc:sector-status\"><primaryAddress>http://x/services/SectorStatus</primaryAddress></s:NotPrimaryFault></detail></e:Fault>"
            )),
            Answer::NotPrimary {
                address: Some("http://x/services/SectorStatus".into())
            }
        );
        assert_eq!(
            parse_answer(&envelope(
                "<e:Fault><faultcode>e:Server</faultcode><faultstring>not acknowledged</faultstring></e:Fault>"
            )),
            Answer::Fault("not acknowledged".into())
        );
        assert!(matches!(parse_answer("<!DOCTYPE x><x/>"), Answer::Fault(_)));
        assert!(matches!(parse_answer("garbage"), Answer::Fault(_)));
    }

    proptest::proptest! {
        /// Whatever comes back, reading it never panics.
        #[test]
        fn reading_any_answer_never_panics(text in "\\PC{0,200}", tag in "(Reserve|WhoIsIn|GetSector)Response|Fault|NotPrimaryFault|ConflictFault") {
            let _ = parse_answer(&text);
            let _ = parse_answer(&format!("<e:Envelope xmlns:e=\"x\"><e:Body><{tag}>{text}</{tag}></e:Body></e:Envelope>"));
        }
    }
}
