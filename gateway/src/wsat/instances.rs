//! Several coordinator instances on one log: `ithaca serve`'s automatic,
//! fenced takeover of a dead instance (`[wsat] takeover = true`).
//!
//! Each instance `I` joins the membership oracle as member `I`, with the
//! service `wsat:I` ([`super::takeover::takeover_service`]) as a role (it
//! is that service's primary while it lives) and `wsat:P` for each peer
//! `P` in `wsat.backs_up` (it is one of `P`'s backups). A task follows the
//! member's view stream; [`TakeoverPlanner`] (no I/O) says when a peer is
//! due: it has been seen in a view since this process started, the newest
//! view no longer has it, and this member is named primary of `wsat:P`.
//! The task then calls [`CoordinatorService::take_over_with`] with the
//! [`MembershipTakeover`] authority, which checks the rule once more (with
//! this member's lease valid on its own clock) and hands out the view id
//! as the fencing token. A refused or failed attempt is retried with
//! backoff, at once on a newer view. Each takeover is logged on one line,
//! counted in [`TAKEOVERS`] and [`TAKEOVER_TRANSACTIONS`], and kept in
//! [`TakeoverStatus`].
//!
//! A takeover fences the peer's name off for good, so it is done only when
//! there is something to finish: [`UnfinishedProbe`] reads the shared log
//! for the peer's unfinished commit decisions first, and a peer that left
//! none (stopped cleanly, or died with nothing decided) is not taken over
//! (checked again with backoff while it stays away, in case a paused peer
//! still writes one) and can start again under its name. A peer never
//! seen alive since this process started is not taken over either: it may
//! simply not have started yet. A peer that comes back (a new incarnation
//! in the view) is not taken over while it is a member; should it die
//! again, it is taken over again with a newer view id, which loads
//! whatever it left unfinished.
//! An instance that was taken over and is started again finds its records
//! fenced at the taker's token: its coordinator refuses new transactions
//! and never writes to the records it no longer owns (docs/
//! distributed-transactions.md, "Several gateways on one log").

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ithaca_membership::client::{Member, MemberConfig};
use ithaca_membership::{MemberId, ServiceName, TimingConfig, View};
use ithaca_txn::driver::{CoordinatorService, DriverError, InstanceId};
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::task::JoinHandle;

use super::AdoptedKeys;
use super::takeover::{MembershipTakeover, takeover_service};
use crate::config::WsatConfig;
use ithaca_txn::log::key_from_hex;
use ithaca_txn::wire::CorrelationKey;

/// Takeovers done by this process.
pub const TAKEOVERS: &str = "ithaca_wsat_takeovers_total";
/// Transactions finished on behalf of dead instances (counted when taken
/// over).
pub const TAKEOVER_TRANSACTIONS: &str = "ithaca_wsat_takeover_transactions_total";

/// The most peers one instance may back up.
pub const MAX_BACKED_UP: usize = 64;
/// The most oracle addresses `wsat.oracles` may list.
pub const MAX_ORACLES: usize = 16;

/// How long the task waits between attempts to join the oracle.
const JOIN_RETRY: Duration = Duration::from_millis(500);
/// The first wait after a failed takeover attempt (doubled up to
/// [`RETRY_MAX`]).
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest wait between takeover attempts.
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How often this instance reads its own fence in the log, to learn that
/// another instance took it over while it was paused or cut off (one
/// one-row read).
const FENCE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Reads the shared PostgreSQL coordinator log for whether an instance
/// left unfinished commit decisions (rows it has not forgotten).
#[derive(Debug, Clone)]
pub struct UnfinishedProbe {
    pool: PgPool,
}

impl UnfinishedProbe {
    /// A probe of the log at `url` (`wsat.store`); connects on first use,
    /// one connection at most.
    pub fn new(url: &str) -> Result<Self, String> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy(url)
            .map_err(|e| format!("wsat.store: {e}"))?;
        Ok(Self { pool })
    }

    /// Whether `instance` has a decision in the log that it has not
    /// forgotten.
    pub async fn has_unfinished(&self, instance: &InstanceId) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM wsat_decision WHERE instance = $1)")
            .bind(instance.0.as_str())
            .fetch_one(&self.pool)
            .await
    }

    /// The correlation key `instance` published in the log (at its start,
    /// with takeover on), if any.
    pub async fn correlation_key(
        &self,
        instance: &InstanceId,
    ) -> Result<Option<CorrelationKey>, String> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT correlation_key FROM wsat_instance_key WHERE instance = $1")
                .bind(instance.0.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| e.to_string())?;
        text.map(|text| {
            key_from_hex(&text)
                .map(CorrelationKey::from_bytes)
                .ok_or_else(|| {
                    format!("the correlation key of {instance} in the log is not 64 hex digits")
                })
        })
        .transpose()
    }
}

/// The takeover part of `[wsat]`, checked: who this instance is, whom it
/// backs up and where the oracle is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeoverPlan {
    /// This instance (and its member id).
    pub instance: InstanceId,
    /// The instances it backs up, in configuration order, without repeats.
    pub backs_up: Vec<InstanceId>,
    /// The oracle nodes' member addresses (empty: this process's oracle).
    pub oracles: Vec<SocketAddr>,
}

impl TakeoverPlan {
    /// The plan `config` asks for: `None` when takeover is off (or the
    /// coordinator is), else the checked keys, or the key at fault and
    /// why.
    pub fn from_config(config: &WsatConfig) -> Result<Option<Self>, (&'static str, String)> {
        if !config.enabled || !config.takeover {
            return Ok(None);
        }
        if config.store == "sqlite" {
            return Err((
                "wsat.takeover",
                "needs a PostgreSQL wsat.store that the instances share (a SQLite file cannot be shared)".into(),
            ));
        }
        let instance = InstanceId(config.instance.clone());
        member_and_service(&instance).map_err(|problem| ("wsat.instance", problem))?;
        let mut backs_up: Vec<InstanceId> = Vec::new();
        for name in list(&config.backs_up) {
            let peer = InstanceId(name.to_owned());
            member_and_service(&peer)
                .map_err(|problem| ("wsat.backs_up", format!("`{name}`: {problem}")))?;
            if peer == instance {
                return Err((
                    "wsat.backs_up",
                    format!("`{name}` is this instance (wsat.instance)"),
                ));
            }
            if !backs_up.contains(&peer) {
                backs_up.push(peer);
            }
            if backs_up.len() > MAX_BACKED_UP {
                return Err((
                    "wsat.backs_up",
                    format!("at most {MAX_BACKED_UP} instances"),
                ));
            }
        }
        let mut oracles = Vec::new();
        for text in list(&config.oracles) {
            let addr = text
                .parse::<SocketAddr>()
                .map_err(|_| ("wsat.oracles", format!("`{text}` is not host:port")))?;
            oracles.push(addr);
            if oracles.len() > MAX_ORACLES {
                return Err(("wsat.oracles", format!("at most {MAX_ORACLES} addresses")));
            }
        }
        Ok(Some(Self {
            instance,
            backs_up,
            oracles,
        }))
    }

    /// The oracle addresses to join: the configured ones, else
    /// `own_oracle` (this process's oracle; an unspecified IP becomes
    /// 127.0.0.1), else why not.
    pub fn oracles_or(&self, own_oracle: Option<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
        if !self.oracles.is_empty() {
            return Ok(self.oracles.clone());
        }
        let mut own = own_oracle.ok_or_else(|| {
            "wsat.oracles: empty, and this process runs no oracle ([membership] enabled = false)"
                .to_owned()
        })?;
        if own.ip().is_unspecified() {
            own.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Ok(vec![own])
    }

    /// The membership this instance joins with: member `instance`, roles
    /// `wsat:INSTANCE` and `wsat:P` for each backed-up `P`.
    pub fn member_config(
        &self,
        address: String,
        oracles: Vec<SocketAddr>,
        timing: TimingConfig,
    ) -> Result<MemberConfig, String> {
        let (member, own) = member_and_service(&self.instance)?;
        let mut config = MemberConfig::new(member, address, oracles).role(own);
        for peer in &self.backs_up {
            let (_, service) = member_and_service(peer)?;
            config = config.role(service);
        }
        config.timing = timing;
        Ok(config)
    }
}

/// The non-empty, trimmed items of a comma-separated list.
fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The member id and the `wsat:` service of an instance, or why it cannot
/// have them.
fn member_and_service(instance: &InstanceId) -> Result<(MemberId, ServiceName), String> {
    let member = MemberId::new(instance.0.as_str())
        .map_err(|e| format!("not usable as a membership member id: {e}"))?;
    let service = takeover_service(instance).map_err(|refused| refused.reason)?;
    Ok((member, service))
}

/// One backed-up peer, as the planner follows it.
#[derive(Debug)]
struct Watched {
    instance: InstanceId,
    member: MemberId,
    service: ServiceName,
    /// Seen as a member of a view since this process started.
    seen: bool,
    /// Taken over since it was last seen.
    taken_over: bool,
}

/// Decides, view by view, which backed-up peers are due for a takeover
/// (see the module docs). Pure: the task does the I/O.
#[derive(Debug)]
pub struct TakeoverPlanner {
    me: MemberId,
    peers: Vec<Watched>,
}

impl TakeoverPlanner {
    /// A planner for member `me` backing up `peers` (instances whose names
    /// are no member id or service name are skipped; the configuration
    /// check refuses them first).
    pub fn new(me: MemberId, peers: &[InstanceId]) -> Self {
        let peers = peers
            .iter()
            .filter_map(|instance| {
                let (member, service) = member_and_service(instance).ok()?;
                Some(Watched {
                    instance: instance.clone(),
                    member,
                    service,
                    seen: false,
                    taken_over: false,
                })
            })
            .collect();
        Self { me, peers }
    }

    /// Reads `view`: the peers due for a takeover now (seen alive before,
    /// absent from `view`, this member named primary of their service, not
    /// yet taken over since they were last seen).
    pub fn due(&mut self, view: &View) -> Vec<InstanceId> {
        let mut due = Vec::new();
        for peer in &mut self.peers {
            if view.member(&peer.member).is_some() {
                peer.seen = true;
                peer.taken_over = false;
                continue;
            }
            if peer.seen && !peer.taken_over && view.primary(&peer.service) == Some(&self.me) {
                due.push(peer.instance.clone());
            }
        }
        due
    }

    /// Records that `instance` was taken over: not due again until it has
    /// been seen alive once more.
    pub fn taken_over(&mut self, instance: &InstanceId) {
        if let Some(peer) = self.peers.iter_mut().find(|p| &p.instance == instance) {
            peer.taken_over = true;
        }
    }
}

/// What the takeover task has done, for the summary and tests.
#[derive(Debug, Default)]
pub struct TakeoverStatus {
    joined: AtomicBool,
    takeovers: AtomicU64,
    transactions: AtomicU64,
}

impl TakeoverStatus {
    /// Whether this instance has joined the oracle.
    pub fn joined(&self) -> bool {
        self.joined.load(Ordering::Relaxed)
    }

    /// Takeovers done.
    pub fn takeovers(&self) -> u64 {
        self.takeovers.load(Ordering::Relaxed)
    }

    /// Transactions taken over, all takeovers together.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }
}

/// The running membership of one coordinator instance and its takeover
/// task (see the module docs). Dropping it stops the task; the member
/// stops heartbeating without leaving, so the oracle removes it after the
/// suspicion timeout, as it would a crashed process.
#[derive(Debug)]
pub struct InstanceMembership {
    status: Arc<TakeoverStatus>,
    task: JoinHandle<()>,
    fence_task: JoinHandle<()>,
}

impl InstanceMembership {
    /// Starts joining with `config` ([`TakeoverPlan::member_config`];
    /// retrying until the oracle answers) and then follows the view,
    /// taking the instances of `backs_up` that `probe` finds unfinished
    /// decisions of over on `service`; the correlation key of each
    /// instance taken over goes to `keys` (the endpoints then answer its
    /// participants).
    pub fn start(
        service: CoordinatorService,
        config: MemberConfig,
        backs_up: Vec<InstanceId>,
        probe: UnfinishedProbe,
        keys: AdoptedKeys,
    ) -> Self {
        describe_metrics();
        let status = Arc::new(TakeoverStatus::default());
        let fence_task = tokio::spawn(watch_fence(service.clone()));
        let task = tokio::spawn(run(
            service,
            config,
            backs_up,
            probe,
            keys,
            Arc::clone(&status),
        ));
        Self {
            status,
            task,
            fence_task,
        }
    }

    /// What the task has done so far.
    pub fn status(&self) -> &TakeoverStatus {
        &self.status
    }

    /// Stops the task (and the member's heartbeats).
    pub fn shutdown(&self) {
        self.task.abort();
        self.fence_task.abort();
    }
}

impl Drop for InstanceMembership {
    fn drop(&mut self) {
        self.task.abort();
        self.fence_task.abort();
    }
}

/// Reads this instance's fence every [`FENCE_CHECK_EVERY`] until it finds
/// it raised by a takeover. An instance that was paused (or cut off) while
/// another took it over may have nothing to write that would tell it so;
/// once fenced, its coordinator rolls back what it had not decided and
/// answers its participants from the log (`ithaca_txn::engine::fenced`).
async fn watch_fence(service: CoordinatorService) {
    loop {
        tokio::time::sleep(FENCE_CHECK_EVERY).await;
        match service.check_fence().await {
            Ok(true) => {
                tracing::warn!(
                    instance = %service.instance(),
                    "wsat takeover: this instance was taken over by another; it writes no decision any more and answers its participants from the log"
                );
                return;
            }
            Ok(false) => {}
            Err(error) => {
                tracing::debug!(%error, "wsat takeover: cannot read this instance's fence yet");
            }
        }
    }
}

fn describe_metrics() {
    metrics::describe_counter!(
        TAKEOVERS,
        "Dead WS-AT coordinator instances this instance took over."
    );
    metrics::describe_counter!(
        TAKEOVER_TRANSACTIONS,
        "Unfinished transactions of dead coordinator instances taken over."
    );
}

/// The wait before retry `attempt` (1-based): doubling from
/// [`RETRY_FIRST`], at most [`RETRY_MAX`].
fn retry_wait(attempt: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(RETRY_MAX)
}

/// Joins, then takes due peers over, view by view.
async fn run(
    service: CoordinatorService,
    config: MemberConfig,
    backs_up: Vec<InstanceId>,
    probe: UnfinishedProbe,
    keys: AdoptedKeys,
    status: Arc<TakeoverStatus>,
) {
    let member = loop {
        match Member::join(config.clone()).await {
            Ok(member) => break member,
            Err(error) => {
                tracing::warn!(%error, "wsat takeover: cannot join the membership oracle yet");
                tokio::time::sleep(JOIN_RETRY).await;
            }
        }
    };
    status.joined.store(true, Ordering::Relaxed);
    let mut views = member.watch();
    let roles: BTreeSet<&str> = config.roles.iter().map(ServiceName::as_str).collect();
    tracing::info!(
        member = %config.member,
        view = %member.view().id(),
        roles = ?roles,
        "wsat takeover: joined the membership oracle"
    );
    let mut planner = TakeoverPlanner::new(config.member.clone(), &backs_up);
    let authority = MembershipTakeover::new(member);
    let mut attempt: u32 = 0;
    // The peers reported gone with nothing to finish (one line each per
    // absence).
    let mut reported_clean: BTreeSet<InstanceId> = BTreeSet::new();
    loop {
        let view = views.borrow_and_update().clone();
        let mut failed = false;
        let due = planner.due(&view);
        reported_clean.retain(|instance| due.contains(instance));
        for instance in due {
            match probe.has_unfinished(&instance).await {
                Ok(true) => {}
                Ok(false) => {
                    // Nothing to finish: leave its name usable; look again
                    // while it stays away.
                    failed = true;
                    if reported_clean.insert(instance.clone()) {
                        tracing::info!(
                            instance = %instance,
                            view = %view.id(),
                            "wsat takeover: coordinator instance {instance} is gone and left no unfinished decision; nothing to take over"
                        );
                    }
                    continue;
                }
                Err(error) => {
                    failed = true;
                    tracing::warn!(instance = %instance, %error, "wsat takeover: cannot read the coordinator log; retrying");
                    continue;
                }
            }
            match service.take_over_with(&authority, &instance).await {
                Ok(count) => {
                    planner.taken_over(&instance);
                    let total = status.takeovers.fetch_add(1, Ordering::Relaxed) + 1;
                    let count_u64 = u64::try_from(count).unwrap_or(u64::MAX);
                    status.transactions.fetch_add(count_u64, Ordering::Relaxed);
                    metrics::counter!(TAKEOVERS).increment(1);
                    metrics::counter!(TAKEOVER_TRANSACTIONS).increment(count_u64);
                    tracing::info!(
                        instance = %instance,
                        transactions = count,
                        view = %view.id(),
                        takeovers = total,
                        "wsat takeover: took over dead coordinator instance {instance} ({count} unfinished transaction(s))"
                    );
                    match probe.correlation_key(&instance).await {
                        Ok(Some(key)) => keys.add(key),
                        Ok(None) => tracing::warn!(
                            instance = %instance,
                            "wsat takeover: {instance} published no correlation key; its participants reaching this instance are refused"
                        ),
                        Err(error) => tracing::warn!(
                            instance = %instance,
                            %error,
                            "wsat takeover: cannot read {instance}'s correlation key; its participants reaching this instance are refused"
                        ),
                    }
                }
                Err(DriverError::TakeoverRefused(reason)) => {
                    failed = true;
                    // Expected for a moment after the view change, until
                    // this member's lease covers the new view.
                    tracing::debug!(instance = %instance, %reason, "wsat takeover: not yet");
                }
                Err(error) => {
                    failed = true;
                    tracing::warn!(instance = %instance, %error, attempt, "wsat takeover failed; retrying");
                }
            }
        }
        if failed {
            attempt = attempt.saturating_add(1);
            tokio::select! {
                () = tokio::time::sleep(retry_wait(attempt)) => {}
                changed = views.changed() => if changed.is_err() { return stopped(&config.member) },
            }
        } else {
            attempt = 0;
            if views.changed().await.is_err() {
                return stopped(&config.member);
            }
        }
    }
}

/// Logs that the member's view stream ended (its heartbeats stopped): no
/// takeover happens from this process any more.
fn stopped(member: &MemberId) {
    tracing::warn!(%member, "wsat takeover: the membership view stream ended; takeovers stopped");
}

#[cfg(test)]
mod tests {
    use ithaca_membership::{Incarnation, ViewCommand};

    use super::*;

    fn member(name: &str) -> MemberId {
        MemberId::new(name).unwrap()
    }

    fn join(view: View, name: &str, incarnation: u64, roles: &[&str]) -> View {
        view.apply(&ViewCommand::Join {
            member: member(name),
            incarnation: Incarnation(incarnation),
            address: format!("{name}:7000"),
            roles: roles
                .iter()
                .map(|r| ServiceName::new(*r).unwrap())
                .collect(),
        })
        .unwrap()
    }

    fn remove(view: View, name: &str, incarnation: u64) -> View {
        view.apply(&ViewCommand::Remove {
            member: member(name),
            incarnation: Incarnation(incarnation),
        })
        .unwrap()
    }

    fn a() -> InstanceId {
        InstanceId("a".into())
    }

    /// `a` primary of wsat:a, `b` its backup.
    fn both() -> View {
        let view = join(View::new(), "a", 1, &["wsat:a"]);
        join(view, "b", 1, &["wsat:b", "wsat:a"])
    }

    #[test]
    fn a_dead_peer_is_due_once_for_its_promoted_backup() {
        let mut planner = TakeoverPlanner::new(member("b"), &[a()]);
        assert!(planner.due(&both()).is_empty(), "a is alive");
        let without_a = remove(both(), "a", 1);
        assert_eq!(planner.due(&without_a), [a()]);
        // Not taken over yet (refused, retried): still due.
        assert_eq!(planner.due(&without_a), [a()]);
        planner.taken_over(&a());
        assert!(planner.due(&without_a).is_empty(), "taken over already");
    }

    #[test]
    fn a_peer_never_seen_alive_is_not_taken_over() {
        // b starts first: it is primary of wsat:a while a has not started.
        let view = join(View::new(), "b", 1, &["wsat:b", "wsat:a"]);
        let mut planner = TakeoverPlanner::new(member("b"), &[a()]);
        assert!(planner.due(&view).is_empty());
    }

    #[test]
    fn a_backup_that_is_not_primary_does_not_take_over() {
        let view = join(both(), "c", 1, &["wsat:a"]);
        let mut planner = TakeoverPlanner::new(member("c"), &[a()]);
        assert!(planner.due(&view).is_empty());
        assert!(
            planner.due(&remove(view, "a", 1)).is_empty(),
            "b is promoted"
        );
    }

    #[test]
    fn a_peer_that_came_back_is_not_taken_over_while_it_lives_and_again_when_it_dies() {
        let mut planner = TakeoverPlanner::new(member("b"), &[a()]);
        planner.due(&both());
        let without_a = remove(both(), "a", 1);
        assert_eq!(planner.due(&without_a), [a()]);
        planner.taken_over(&a());
        // a restarts with a new incarnation: a member again.
        let back = join(without_a, "a", 2, &["wsat:a"]);
        assert!(planner.due(&back).is_empty());
        assert!(planner.due(&back).is_empty());
        // It dies again: due again (a newer view, a higher token).
        assert_eq!(planner.due(&remove(back, "a", 2)), [a()]);
    }

    fn wsat(store: &str, backs_up: &str, oracles: &str) -> WsatConfig {
        WsatConfig {
            store: store.into(),
            instance: "b".into(),
            takeover: true,
            backs_up: backs_up.into(),
            oracles: oracles.into(),
            ..WsatConfig::default()
        }
    }

    const PG: &str = "postgres://ithaca@127.0.0.1/ithaca";

    #[test]
    fn the_plan_reads_the_peers_and_oracles() {
        let plan = TakeoverPlan::from_config(&wsat(PG, " a , c,a", "127.0.0.1:7400"))
            .unwrap()
            .unwrap();
        assert_eq!(plan.backs_up, [a(), InstanceId("c".into())]);
        assert_eq!(plan.oracles, ["127.0.0.1:7400".parse().unwrap()]);
        let config = plan
            .member_config(
                "http://b".into(),
                plan.oracles.clone(),
                TimingConfig::default(),
            )
            .unwrap();
        let roles: Vec<&str> = config.roles.iter().map(ServiceName::as_str).collect();
        assert_eq!(roles, ["wsat:a", "wsat:b", "wsat:c"]);
    }

    #[test]
    fn the_plan_refuses_sqlite_self_and_bad_names() {
        let refused = |config: WsatConfig| TakeoverPlan::from_config(&config).unwrap_err();
        assert_eq!(refused(wsat("sqlite", "a", "")).0, "wsat.takeover");
        assert_eq!(refused(wsat(PG, "a,b", "")).0, "wsat.backs_up");
        assert_eq!(refused(wsat(PG, "a b", "")).0, "wsat.backs_up");
        assert_eq!(refused(wsat(PG, "a", "oracle")).0, "wsat.oracles");
        let off = WsatConfig {
            takeover: false,
            ..wsat("sqlite", "", "")
        };
        assert_eq!(TakeoverPlan::from_config(&off), Ok(None));
    }

    #[test]
    fn the_own_oracle_is_used_when_none_is_listed() {
        let plan = TakeoverPlan::from_config(&wsat(PG, "a", ""))
            .unwrap()
            .unwrap();
        assert!(plan.oracles_or(None).unwrap_err().contains("wsat.oracles"));
        assert_eq!(
            plan.oracles_or(Some("0.0.0.0:7400".parse().unwrap())),
            Ok(vec!["127.0.0.1:7400".parse().unwrap()])
        );
    }

    #[test]
    fn retries_back_off_to_a_cap() {
        assert_eq!(retry_wait(1), RETRY_FIRST);
        assert_eq!(retry_wait(2), RETRY_FIRST * 2);
        assert_eq!(retry_wait(40), RETRY_MAX);
    }
}
