//! `GET /admin/services`: the SOAP services a gateway hosts, read from its
//! route table.
//!
//! Every SOAP port a [`crate::soap::SoapService`] builds is a route named
//! `soap:SERVICE/PORT` at the port's path, and answers `GET PATH?wsdl` with
//! the contract; the directory groups those routes by service. Links are
//! relative when the page is served by the same listener as the services,
//! absolute otherwise (`server.public_url`, or the server listener's URL
//! once it is bound).

use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::router::Router;

/// Where the listing is served.
pub const PATH: &str = "/admin/services";

/// The prefix of SOAP port route names.
const SOAP_ROUTE_PREFIX: &str = "soap:";

/// How links to services are written.
#[derive(Clone, Debug)]
pub struct LinkBase {
    /// `server.public_url`, without a trailing `/`.
    public_url: Option<String>,
    /// Whether the page is on a listener of its own (links must then name
    /// the server listener).
    separate_admin: bool,
    /// The server listener's URL, once bound.
    server_url: Arc<OnceLock<String>>,
}

impl LinkBase {
    /// Links for a gateway with `public_url` whose admin endpoints are
    /// (`separate_admin`) or are not on their own listener.
    pub fn new(public_url: Option<&str>, separate_admin: bool) -> Self {
        Self {
            public_url: public_url.map(|url| url.trim_end_matches('/').to_owned()),
            separate_admin,
            server_url: Arc::new(OnceLock::new()),
        }
    }

    /// What is put before a path: the public URL, the server listener's
    /// URL when the page is elsewhere, or nothing (a relative link).
    fn base(&self) -> &str {
        if let Some(url) = &self.public_url {
            return url;
        }
        if self.separate_admin {
            return self.server_url.get().map_or("", String::as_str);
        }
        ""
    }
}

/// One SOAP port.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct PortEntry {
    /// The WSDL port's name.
    pub port: String,
    /// The path it is mounted at.
    pub path: String,
    /// Its endpoint URL (relative when the page shares the listener).
    pub url: String,
    /// Its contract, `URL?wsdl`.
    pub wsdl: String,
}

/// One hosted service (one contract mounted at one base path: the same
/// WSDL service mounted twice, such as two banks, is two entries).
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct ServiceEntry {
    /// The WSDL service's name.
    pub name: String,
    /// Where it is mounted: its first port's path, of which the other
    /// ports' paths are extensions.
    pub path: String,
    /// Its SOAP ports, by path.
    pub ports: Vec<PortEntry>,
}

/// What `GET /admin/services` answers.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct ServiceListing {
    /// The hosted services, by name.
    pub services: Vec<ServiceEntry>,
}

/// The hosted services, collected once from the route table.
#[derive(Clone, Debug)]
pub struct ServiceDirectory {
    /// (service, port, path), sorted.
    ports: Arc<Vec<(String, String, String)>>,
    links: LinkBase,
}

impl ServiceDirectory {
    /// The SOAP ports among `app`'s routes.
    pub fn new(app: &Router, links: LinkBase) -> Self {
        let mut ports: Vec<(String, String, String)> = app
            .iter()
            .filter_map(|(path, route)| {
                let name = route.name.strip_prefix(SOAP_ROUTE_PREFIX)?;
                let (service, port) = name.split_once('/')?;
                Some((service.to_owned(), port.to_owned(), path.to_owned()))
            })
            .collect();
        ports.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
        Self {
            ports: Arc::new(ports),
            links,
        }
    }

    /// Records the server listener's URL (the first call wins).
    pub fn set_server_url(&self, url: &str) {
        let _ = self
            .links
            .server_url
            .set(url.trim_end_matches('/').to_owned());
    }

    /// The listing.
    pub fn listing(&self) -> ServiceListing {
        let base = self.links.base();
        let mut services: Vec<ServiceEntry> = Vec::new();
        // Sorted by service, then path: a port whose path extends an entry's
        // path (`/services/X/soap12` after `/services/X`) belongs to it.
        for (service, port, path) in self.ports.iter() {
            let url = format!("{base}{path}");
            let entry = PortEntry {
                port: port.clone(),
                path: path.clone(),
                wsdl: format!("{url}?wsdl"),
                url,
            };
            let extends = |entry: &&mut ServiceEntry| {
                entry.name == *service
                    && path
                        .strip_prefix(entry.path.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            };
            match services.iter_mut().rev().find(extends) {
                Some(existing) => existing.ports.push(entry),
                None => services.push(ServiceEntry {
                    name: service.clone(),
                    path: path.clone(),
                    ports: vec![entry],
                }),
            }
        }
        ServiceListing { services }
    }
}
