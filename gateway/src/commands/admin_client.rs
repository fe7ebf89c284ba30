//! The HTTP client the operator commands (`ithaca txn`, `ithaca membership`)
//! use to read a running gateway's admin endpoints: where they are (from
//! `--admin URL` or the configuration), the bearer token, and one bounded,
//! deadline-limited GET or POST.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ithaca_gateway::config::{CliOverrides, Config};

/// The largest admin answer read.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// How long one admin request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The admin base URL (`--admin`, else the configured admin or server
/// listener, with an unspecified address replaced by loopback) and the
/// bearer token of the configuration, if any.
pub(crate) fn target(
    config_file: Option<&Path>,
    admin: Option<&str>,
) -> anyhow::Result<(String, Option<String>)> {
    let config = Config::load(config_file, &CliOverrides::default())
        .map_err(|error| anyhow::anyhow!("config error: {error}"))?;
    let token = match (&config.admin.token, &config.admin.token_file) {
        (Some(token), _) => Some(token.clone()),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("reading admin.token_file {}", file.display()))?
            .lines()
            .next()
            .map(|line| line.trim().to_owned()),
        (None, None) => None,
    };
    let base = match admin {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let mut addr = config.admin_addr();
            if addr.ip().is_unspecified() {
                addr.set_ip(if addr.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                });
            }
            format!("http://{addr}")
        }
    };
    if !base.starts_with("http://") {
        bail!("--admin {base}: only http:// admin URLs are supported by this command");
    }
    Ok((base, token))
}

/// GETs `url` with the bearer `token`: the status and the whole body, or
/// an error naming the URL (unreachable, no answer within the deadline,
/// answer too large).
pub(crate) async fn get(
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<(http::StatusCode, Bytes)> {
    send(http::Request::get(url), url, token, Bytes::new()).await
}

/// POSTs the JSON `body` to `url` with the bearer `token`; answers and
/// fails like [`get`].
pub(crate) async fn post_json(
    url: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> anyhow::Result<(http::StatusCode, Bytes)> {
    let request = http::Request::post(url).header(http::header::CONTENT_TYPE, "application/json");
    send(request, url, token, Bytes::from(body)).await
}

async fn send(
    mut request: http::request::Builder,
    url: &str,
    token: Option<&str>,
    body: Bytes,
) -> anyhow::Result<(http::StatusCode, Bytes)> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    if let Some(token) = token {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(body))
        .with_context(|| format!("bad admin URL {url}"))?;
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .with_context(|| format!("{url}: no answer within {}s", TIMEOUT.as_secs()))?
        .with_context(|| format!("cannot reach the gateway at {url}"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|error| anyhow::anyhow!("{url}: reading the answer: {error}"))?
        .to_bytes();
    Ok((status, body))
}
