//! The `[sector_status]` section: the replicated air-traffic sector-status
//! service hosted by `ithaca serve` (see docs/membership.md, "A replicated
//! service: sector status").

use serde::{Deserialize, Serialize};

/// How the sector-status service decides who is primary.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SectorStatusMode {
    /// The membership oracle's view names the primary; the primary serves
    /// only under a valid lease (no split brain).
    #[default]
    Oracle,
    /// No oracle: the backup takes over when the primary stops answering
    /// within `failover_timeout_ms` (the classic design, for comparison:
    /// it splits under a partition).
    Baseline,
}

/// The baseline mode's configured starting role.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineRole {
    /// Serves from the start.
    #[default]
    Primary,
    /// Follows `peer` and takes over when it goes silent.
    Backup,
}

/// The sector-status service.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SectorStatusConfig {
    /// Host the service at `/services/SectorStatus`.
    pub enabled: bool,
    /// `oracle` or `baseline`.
    pub mode: SectorStatusMode,
    /// This gateway's member id in the view (and `servedBy` in answers).
    pub member: String,
    /// The base URL other members and clients reach this gateway at
    /// (default: `http://` and the server listener's address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise: Option<String>,
    /// Oracle mode: the oracle nodes' member addresses, `host:port,...`;
    /// empty means this process's own oracle (`[membership] enabled`).
    pub oracles: String,
    /// Baseline mode: the role this gateway starts in.
    pub role: BaselineRole,
    /// Baseline mode: the other gateway's base URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// A shared secret every member of the service is given: replication
    /// messages carry it as `Authorization: Bearer TOKEN` and are refused
    /// (401) without it. Unset, the replication endpoint is open to anyone
    /// who reaches the server listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// How long the primary waits for a backup's acknowledgement, in
    /// milliseconds.
    pub replication_timeout_ms: u64,
    /// Oracle mode: the fewest backups the view must name for the primary
    /// to acknowledge a write (each acknowledges it first); with fewer,
    /// writes are refused and reads still answered. 1 makes every
    /// acknowledged write survive the primary's crash (the oracle promotes
    /// the first backup, which holds it). At most 16.
    pub min_backups: usize,
    /// Baseline mode: how often each gateway pings its peer, in
    /// milliseconds.
    pub ping_interval_ms: u64,
    /// Baseline mode: the silence after which a backup takes over, in
    /// milliseconds.
    pub failover_timeout_ms: u64,
}

impl Default for SectorStatusConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            mode: SectorStatusMode::Oracle,
            member: "ithaca".to_owned(),
            advertise: None,
            oracles: String::new(),
            role: BaselineRole::Primary,
            peer: None,
            token: None,
            replication_timeout_ms: 500,
            min_backups: 0,
            ping_interval_ms: 200,
            failover_timeout_ms: 1_000,
        }
    }
}

/// The largest `min_backups` accepted.
pub(crate) const MAX_MIN_BACKUPS: usize = 16;

impl SectorStatusConfig {
    /// Checks the keys, naming the one at fault.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.min_backups > MAX_MIN_BACKUPS {
            return Err((
                "sector_status.min_backups",
                format!("at most {MAX_MIN_BACKUPS}"),
            ));
        }
        if ithaca_membership::MemberId::new(self.member.clone()).is_err() {
            return Err(("sector_status.member", "not a valid member id".into()));
        }
        let url_ok = |url: &str| url.starts_with("http://") && url.len() > "http://".len();
        if let Some(url) = &self.advertise
            && !url_ok(url)
        {
            return Err(("sector_status.advertise", "must be an http:// URL".into()));
        }
        if let Some(url) = &self.peer
            && !url_ok(url)
        {
            return Err(("sector_status.peer", "must be an http:// URL".into()));
        }
        if let Some(token) = &self.token
            && (token.is_empty()
                || token.len() > 512
                || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err((
                "sector_status.token",
                "must be 1 to 512 printable ASCII characters".into(),
            ));
        }
        for oracle in self
            .oracles
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if oracle.parse::<std::net::SocketAddr>().is_err() {
                return Err((
                    "sector_status.oracles",
                    format!("`{oracle}` is not host:port (an IP address and a port)"),
                ));
            }
        }
        for (key, value) in [
            (
                "sector_status.replication_timeout_ms",
                self.replication_timeout_ms,
            ),
            ("sector_status.ping_interval_ms", self.ping_interval_ms),
            (
                "sector_status.failover_timeout_ms",
                self.failover_timeout_ms,
            ),
        ] {
            if value == 0 || value > 600_000 {
                return Err((key, "must be 1 to 600000 milliseconds".into()));
            }
        }
        if self.enabled && self.mode == SectorStatusMode::Baseline && self.peer.is_none() {
            return Err((
                "sector_status.peer",
                "the baseline mode needs the other gateway's URL".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_are_named() {
        let key = |config: SectorStatusConfig| config.validate().err().map(|(key, _)| key);
        assert_eq!(key(SectorStatusConfig::default()), None);
        let baseline_without_peer = SectorStatusConfig {
            enabled: true,
            mode: SectorStatusMode::Baseline,
            ..SectorStatusConfig::default()
        };
        assert_eq!(key(baseline_without_peer), Some("sector_status.peer"));
        let bad_oracles = SectorStatusConfig {
            oracles: "127.0.0.1:7946, oracle.example:7946".into(),
            ..SectorStatusConfig::default()
        };
        assert_eq!(key(bad_oracles), Some("sector_status.oracles"));
        let bad_member = SectorStatusConfig {
            member: String::new(),
            ..SectorStatusConfig::default()
        };
        assert_eq!(key(bad_member), Some("sector_status.member"));
        let zero = SectorStatusConfig {
            failover_timeout_ms: 0,
            ..SectorStatusConfig::default()
        };
        assert_eq!(key(zero), Some("sector_status.failover_timeout_ms"));
        let not_http = SectorStatusConfig {
            advertise: Some("10.0.0.5:8080".into()),
            ..SectorStatusConfig::default()
        };
        assert_eq!(key(not_http), Some("sector_status.advertise"));
    }
}
