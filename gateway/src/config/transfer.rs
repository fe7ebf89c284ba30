//! The `[transfer]` section: the transfer service of the bank scenario
//! (`gateway/src/transfer.rs`), which moves money between two banks inside
//! one WS-AtomicTransaction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The hosted transfer service.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransferConfig {
    /// Host the TransferService at `/services/TransferService`.
    pub enabled: bool,
    /// The WS-AT coordinator: a base URL (`http://host:port`, its
    /// Activation service at `/wsat/activation`) or the Activation
    /// service's URL (default: this gateway's own coordinator, which needs
    /// `[wsat] enabled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<String>,
    /// How long the activation, each bank call and the wait for the
    /// outcome may each take, in milliseconds.
    pub timeout_ms: u64,
    /// Bank name → its SOAP 1.1 endpoint (`…/services/NAME`). Empty: every
    /// `[[bank]]` hosted by this gateway.
    pub banks: BTreeMap<String, String>,
}

impl Default for TransferConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            coordinator: None,
            timeout_ms: 30_000,
            banks: BTreeMap::new(),
        }
    }
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

impl TransferConfig {
    /// Checks the URLs, names and timeout, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(url) = &self.coordinator
            && !is_http_url(url)
        {
            return Err((
                "transfer.coordinator",
                "must be an http:// or https:// URL".into(),
            ));
        }
        if self.timeout_ms == 0 || self.timeout_ms > 600_000 {
            return Err(("transfer.timeout_ms", "must be from 1 to 600000".into()));
        }
        if self.banks.len() > 64 {
            return Err(("transfer.banks", "at most 64 banks".into()));
        }
        for (name, url) in &self.banks {
            if !ithaca_services::transfer::is_valid_bank(name) {
                return Err((
                    "transfer.banks",
                    format!("{name:?} must be 1 to 32 of a-z A-Z 0-9 - _"),
                ));
            }
            if !is_http_url(url) {
                return Err((
                    "transfer.banks",
                    format!("bank {name}: must be an http:// or https:// URL"),
                ));
            }
        }
        Ok(())
    }
}
