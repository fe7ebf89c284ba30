//! The operator page at `/ui/`: one HTML file, one script and one style
//! sheet, embedded in the binary, that poll the gateway's admin JSON every
//! 1.5 s and show the membership view (members, lease states, the oracle
//! node), the WS-AT coordinator's transactions in flight and in doubt, the
//! hosted SOAP services with links to their WSDLs, and the bridged CORBA
//! objects with their corbaloc URLs and IORs.
//!
//! The page reads the endpoints that already exist (`/membership/view`,
//! `/membership/members`, `/membership/oracle-status`, `/admin/txn`,
//! `/bridge/objects`); a part whose endpoint answers 404 is shown as
//! disabled. This module adds what was missing:
//!
//! - `GET /admin/services` ([`services`]): every hosted SOAP service, its
//!   ports and their `?wsdl` URLs, read from the route table;
//! - `GET /ui/settings.json`: what the page needs from the configuration
//!   (the membership timing, to tell a valid lease from a lapsed one, and
//!   the `[[bridge.corba]]` objects).
//!
//! [`OperatorPage::routes`] is mounted with the admin routes, so the page is
//! on the admin listener, and on the server listener when the admin
//! endpoints share it. The page, script and style sheet hold no data and
//! need no admin token; every JSON endpoint is an admin route. When a token
//! is configured, the page asks for it once (or reads it from the URL
//! fragment, `/ui/#token=…`, which browsers never send) and sends it as a
//! bearer token; the script puts every string into the DOM as text, never
//! as markup.

pub mod services;

use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode, header};
use serde::Serialize;

use crate::body::{Request, Response, full, text_response};
use crate::config::Config;
use crate::router::Router;

/// The page.
const INDEX_HTML: &str = include_str!("index.html");
/// Its script.
const APP_JS: &str = include_str!("app.js");
/// Its style sheet.
const STYLE_CSS: &str = include_str!("style.css");

/// Where the page is served.
pub const PAGE_PATH: &str = "/ui/";

/// The operator page and its JSON, built from the gateway's configuration
/// and application routes before the listeners are bound.
#[derive(Clone, Debug)]
pub struct OperatorPage {
    directory: services::ServiceDirectory,
    settings: Arc<PageSettings>,
    /// The application routes' admin endpoints (membership, bridge), so
    /// that a separate admin listener serves them to the page too.
    app_admin: Router,
}

impl OperatorPage {
    /// The page for a gateway with `config` whose application routes are
    /// `app`.
    pub fn new(config: &Config, app: &Router) -> Self {
        let links = services::LinkBase::new(
            config.server.public_url.as_deref(),
            config.admin.listen.is_some(),
        );
        Self {
            directory: services::ServiceDirectory::new(app, links),
            settings: Arc::new(PageSettings::new(config)),
            app_admin: app.filter(true),
        }
    }

    /// Tells the page the server listener's URL once it is bound (links to
    /// WSDLs use it when the admin endpoints have their own listener).
    pub fn set_server_url(&self, url: &str) {
        self.directory.set_server_url(url);
    }

    /// The routes: `/ui/` (and `/ui`, redirected), its script and style
    /// sheet, `/ui/settings.json`, `/admin/services`, plus the application
    /// routes' admin endpoints.
    pub fn routes(&self) -> Router {
        let settings = Arc::clone(&self.settings);
        let directory = self.directory.clone();
        self.app_admin
            .clone()
            .route("/ui", "ui", |request: Request| async move {
                only_get(&request).unwrap_or_else(|| {
                    let mut response = text_response(StatusCode::PERMANENT_REDIRECT, "see /ui/\n");
                    response
                        .headers_mut()
                        .insert(header::LOCATION, HeaderValue::from_static(PAGE_PATH));
                    response
                })
            })
            .route(PAGE_PATH, "ui", |request: Request| async move {
                only_get(&request)
                    .unwrap_or_else(|| asset(INDEX_HTML, "text/html; charset=utf-8"))
            })
            .route("/ui/app.js", "ui", |request: Request| async move {
                only_get(&request)
                    .unwrap_or_else(|| asset(APP_JS, "text/javascript; charset=utf-8"))
            })
            .route("/ui/style.css", "ui", |request: Request| async move {
                only_get(&request).unwrap_or_else(|| asset(STYLE_CSS, "text/css; charset=utf-8"))
            })
            .admin_route(
                "/ui/settings.json",
                "ui_settings",
                move |request: Request| {
                    let settings = Arc::clone(&settings);
                    async move { only_get(&request).unwrap_or_else(|| json_response(&*settings)) }
                },
            )
            .admin_route(
                services::PATH,
                "admin_services",
                move |request: Request| {
                    let directory = directory.clone();
                    async move {
                        only_get(&request).unwrap_or_else(|| json_response(&directory.listing()))
                    }
                },
            )
    }
}

/// What `GET /ui/settings.json` answers.
#[derive(Debug, Serialize)]
struct PageSettings {
    /// The gateway's version.
    version: &'static str,
    /// The membership oracle's timing (what it grants members).
    membership: MembershipSettings,
    /// CORBA objects hosted as SOAP services (`[[bridge.corba]]`).
    corba_objects: Vec<CorbaObject>,
}

#[derive(Debug, Serialize)]
struct MembershipSettings {
    enabled: bool,
    lease_ms: u64,
    heartbeat_interval_ms: u64,
    clock_drift_ppm: u32,
    suspicion_timeout_ms: u64,
}

#[derive(Debug, Serialize)]
struct CorbaObject {
    name: String,
    interface: Option<String>,
    target: String,
    path: String,
}

impl PageSettings {
    fn new(config: &Config) -> Self {
        let membership = &config.membership;
        Self {
            version: env!("CARGO_PKG_VERSION"),
            membership: MembershipSettings {
                enabled: membership.enabled,
                lease_ms: membership.lease_ms,
                heartbeat_interval_ms: membership.heartbeat_interval_ms,
                clock_drift_ppm: membership.clock_drift_ppm,
                suspicion_timeout_ms: membership.suspicion_timeout_ms,
            },
            corba_objects: config
                .bridge
                .corba
                .iter()
                .map(|object| CorbaObject {
                    name: object.name.clone(),
                    interface: object.interface.clone(),
                    target: object.target.clone(),
                    path: format!("/services/{}", object.name),
                })
                .collect(),
        }
    }
}

/// An embedded file with its content type; the page may be cached briefly
/// (it changes only with the binary).
fn asset(text: &'static str, content_type: &'static str) -> Response {
    let mut response = http::Response::new(full(text));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // The page loads only its own script and style sheet and talks only to
    // this origin.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    response
}

/// A 200 answer with `value` as JSON, never cached.
fn json_response(value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = http::Response::new(full(body));
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the answer: {error}\n"),
        ),
    }
}

/// These endpoints answer GET and HEAD only.
fn only_get(request: &Request) -> Option<Response> {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return None;
    }
    let mut response = text_response(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(response)
}

#[cfg(test)]
mod tests;
