//! What the gateway's middleware costs per request, without sockets: one
//! request through every layer (metrics, request id, tracing span, error
//! mapping, load shedding, concurrency limit, timeout, body limit) to a
//! trivial route, compared with calling the router alone.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ithaca_gateway::Router;
use ithaca_gateway::body::{Request, full, text_response};
use ithaca_gateway::layers::{StackLimits, stack};
use tokio::sync::Semaphore;
use tower::ServiceExt;

fn request() -> Request {
    http::Request::get("/ping")
        .body(full(""))
        .expect("a static request is valid")
}

fn router() -> Router {
    Router::new().route("/ping", "ping", |_request: Request| async {
        text_response(http::StatusCode::OK, "pong")
    })
}

fn bench_stack(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _metrics = ithaca_gateway::metrics::install();
    let limits = StackLimits {
        max_body_size: 8 << 20,
        request_timeout: Duration::from_secs(30),
        concurrency: Arc::new(Semaphore::new(512)),
    };
    let service = stack(router(), &limits);
    let bare = router();

    let mut group = c.benchmark_group("gateway_stack");
    group.bench_function("router_only", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = bare.clone().oneshot(request()).await;
            black_box(response)
        });
    });
    group.bench_function("all_layers", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = service.clone().oneshot(request()).await;
            black_box(response)
        });
    });
    group.finish();
}

criterion_group!(benches, bench_stack);
criterion_main!(benches);
