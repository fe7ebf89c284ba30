//! The SOAP path of the EchoService in memory, without sockets or the
//! middleware stack: the benchmark request (the 288-byte SOAP 1.1 echo of
//! `bench/soap-echo.sh`) through the route, from HTTP request to response
//! bytes: content type, body, envelope parse, mustUnderstand, dispatch,
//! schema validation (on and off), the echo handler and the envelope
//! writer. The `parts` group times the main steps alone.
//!
//! With `ITHACA_COUNT_REQUESTS=N` set, the binary skips criterion and runs
//! the route N times (validation on, `ITHACA_COUNT_VALIDATION=off` for
//! off), for deterministic instruction counts per request:
//!
//! ```sh
//! cargo bench -p ithaca-gateway --bench soap_echo --no-run
//! ITHACA_COUNT_REQUESTS=10000 valgrind --tool=callgrind target/release/deps/soap_echo-*
//! ```
//!
//! Subtract a run with `N=0` (start-up) and divide by N.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group};
use http_body_util::BodyExt;
use ithaca_gateway::Router;
use ithaca_gateway::body::{Request, full};
use ithaca_gateway::soap::{Contract, SoapError, SoapRequest, SoapService};
use ithaca_services::echo;
use ithaca_wsdl::xsd::InstanceLimits;
use ithaca_wsdl::{ContentType, Limits, QName, SoapVersion, read_envelope, write_envelope};

const REQUEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:e="urn:ithaca:bench:echo"><soap:Body><e:echoString><text>hello from the benchmark, a short payload of about one hundred bytes of text......</text></e:echoString></soap:Body></soap:Envelope>"#;

fn request() -> Request {
    http::Request::post("/services/EchoService")
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", "\"urn:ithaca:bench:echo#echoString\"")
        .body(full(Bytes::from_static(REQUEST.as_bytes())))
        .expect("a static request is valid")
}

fn echo_router(validation: bool) -> Router {
    let contract = Contract::from_bytes(echo::WSDL_NAME, echo::WSDL).expect("the echo contract");
    SoapService::builder(contract)
        .validation(validation)
        .operation(echo::OPERATION, |request: SoapRequest| async move {
            echo::echo_string(request.body()).map_err(|e| SoapError::sender(e.to_string()))
        })
        .build()
        .expect("the echo service")
}

fn bench_route(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("soap_echo");
    for (name, validation) in [("validation_on", true), ("validation_off", false)] {
        let router = echo_router(validation);
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let response = router.dispatch(request()).await;
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await;
                black_box(body.map(|b| b.to_bytes()).ok())
            });
        });
    }
    group.finish();
}

fn bench_parts(c: &mut Criterion) {
    let message = REQUEST.as_bytes();
    let content_type = ContentType::parse("text/xml; charset=utf-8").expect("a valid type");
    let limits = Limits::default();
    let envelope = read_envelope(message, Some(&content_type), &limits).expect("a valid request");
    let body = envelope
        .body
        .first_child
        .as_ref()
        .and_then(|entry| message.get(entry.range.clone()))
        .expect("a body element");
    let body_str = std::str::from_utf8(body).expect("UTF-8");
    let scope = envelope.body_scope();
    let loaded =
        ithaca_wsdl::load_bytes(echo::WSDL_NAME, echo::WSDL.as_bytes(), &Default::default());
    let element = QName::new(echo::NAMESPACE, echo::REQUEST_ELEMENT);
    let response = echo::echo_string(body).expect("an echo");

    let mut group = c.benchmark_group("soap_echo_parts");
    group.bench_function("read_envelope", |b| {
        b.iter(|| {
            black_box(read_envelope(
                black_box(message),
                Some(&content_type),
                &limits,
            ))
        })
    });
    group.bench_function("validate_element", |b| {
        b.iter(|| {
            black_box(loaded.schema.validate_element(
                black_box(body_str),
                &scope,
                Some(&element),
                &InstanceLimits::default(),
            ))
        })
    });
    group.bench_function("echo_handler", |b| {
        b.iter(|| black_box(echo::echo_string(black_box(body))))
    });
    group.bench_function("write_envelope", |b| {
        b.iter(|| black_box(write_envelope(SoapVersion::Soap11, black_box(&response))))
    });
    group.finish();
}

/// Runs the route `requests` times outside criterion.
fn count(requests: u64, validation: bool) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let router = echo_router(validation);
    runtime.block_on(async {
        for _ in 0..requests {
            let response = router.dispatch(request()).await;
            assert_eq!(response.status(), 200);
            let body = response.into_body().collect().await;
            black_box(body.map(|b| b.to_bytes()).ok());
        }
    });
}

criterion_group!(benches, bench_route, bench_parts);

fn main() {
    if let Some(requests) = std::env::var("ITHACA_COUNT_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        let validation = std::env::var("ITHACA_COUNT_VALIDATION").as_deref() != Ok("off");
        count(requests, validation);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
