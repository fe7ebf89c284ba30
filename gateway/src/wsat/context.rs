//! The server side of a transactional SOAP service: the request's
//! `wscoor:CoordinationContext` header becomes a transaction-bound
//! PostgreSQL connection for the handler (or, for another resource such as
//! SQLite, the branch itself: [`TransactionalWork::branch_mut`]).
//!
//! A service hosted through [`SoapServiceBuilder`] declares itself
//! transactional with [`Transactional::transactional`]: the
//! `CoordinationContext` header (WS-Coordination 1.1/1.2, `…/2006/06`, and
//! 1.0, `…/2004/10`) is then understood, so a client may send it with
//! `mustUnderstand="1"` (as WCF, Metro and [`super::client`] do) without a
//! MustUnderstand fault. A service that does not declare it still answers
//! that fault: it cannot honour the transaction.
//!
//! In the handler, [`ParticipantHost::join`] reads the context
//! ([`read_context`]) and gives a [`TransactionalWork`]: the first request
//! of a transaction registers this service with the coordinator as a
//! Durable2PC participant (before any business work; a refused Register
//! fails the request) and opens the PostgreSQL branch; later requests of
//! the same transaction get the same branch, on the same connection, inside
//! the same database transaction, without registering again. Between
//! requests the branch is parked here; when the coordinator's first
//! message for it arrives (normally `Prepare`), the participant endpoint
//! hands it to the participant service, which prepares it.
//!
//! ```no_run
//! # use ithaca_gateway::soap::{SoapError, SoapRequest};
//! # use ithaca_gateway::wsat::participant::ParticipantHost;
//! # async fn debit(host: ParticipantHost, request: SoapRequest) -> Result<Vec<u8>, SoapError> {
//! let Some(mut work) = host.join(&request).await? else {
//!     return Err(SoapError::sender("this operation needs a WS-AT transaction"));
//! };
//! sqlx::query("UPDATE account SET balance = balance - 10 WHERE id = 1")
//!     .execute(work.connection())
//!     .await
//!     .map_err(|e| SoapError::receiver(e.to_string()))?; // dropping `work` votes Aborted
//! work.done(); // keep the work for Prepare
//! # Ok(Vec::new())
//! # }
//! ```
//!
//! Bounds: the header block is read under the envelope reader's limits
//! (no DTD) and [`WireLimits`]; at most one context per request; at most
//! [`MAX_OPEN_TRANSACTIONS`] transactions hold a parked branch at once
//! (further ones are refused with a Receiver fault), and a parked branch
//! is given back to the participant service when its context's `Expires`
//! (at most ten minutes) has passed, so its connection and row locks do
//! not outlive the transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ithaca_txn::participant::{
    BranchId, DurableResource, ParticipantService, PgBranch, PgParticipant, ResourceBranch,
};
use ithaca_txn::record::TxId;
use ithaca_txn::wire::{self, CoordinationContext, WireLimits, WsTxVersion};
use ithaca_wsdl::{Limits, QName};
use sqlx::PgConnection;
use tokio::sync::OwnedMutexGuard;

use super::participant::{ParticipantError, ParticipantHost};
use crate::soap::{SoapError, SoapRequest, SoapServiceBuilder};

/// The most transactions with a parked branch at once, per host.
pub const MAX_OPEN_TRANSACTIONS: usize = 10_000;
/// How long a branch of a context without `Expires` stays parked at most.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);
/// The longest CoordinationContext header block read.
const MAX_CONTEXT_BYTES: usize = 64 * 1024;
/// The prefix of the synthetic envelope the block is read in.
const ENVELOPE_PREFIX: &str = "ithaca-ctx-env";

/// The qualified names of the `CoordinationContext` header in both
/// WS-Coordination versions (1.1/1.2 first).
pub fn context_header_names() -> [QName; 2] {
    WsTxVersion::ALL.map(|version| QName::new(version.wscoor(), "CoordinationContext"))
}

/// Declares a hosted SOAP service transactional.
pub trait Transactional {
    /// The `CoordinationContext` header (both versions) is understood: a
    /// request may carry it with `mustUnderstand="1"`. The handlers take
    /// part with [`ParticipantHost::join`].
    #[must_use]
    fn transactional(self) -> Self;
}

impl Transactional for SoapServiceBuilder {
    fn transactional(self) -> Self {
        context_header_names()
            .into_iter()
            .fold(self, Self::understands)
    }
}

/// Why a request's transaction could not be joined.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The `CoordinationContext` header is malformed.
    #[error("malformed CoordinationContext header: {0}")]
    Malformed(String),
    /// More than one `CoordinationContext` header.
    #[error("the request carries more than one CoordinationContext header")]
    Repeated,
    /// The transaction is already being prepared or has ended here.
    #[error("the transaction {0} is no longer active at this service")]
    Ended(String),
    /// Too many transactions are open at this service.
    #[error("too many open transactions at this service (at most {0})")]
    Busy(usize),
    /// Registration or the branch failed.
    #[error(transparent)]
    Participant(#[from] ParticipantError),
}

impl From<ContextError> for SoapError {
    fn from(error: ContextError) -> Self {
        match &error {
            ContextError::Malformed(_)
            | ContextError::Repeated
            | ContextError::Ended(_)
            | ContextError::Participant(ParticipantError::UnsupportedContext(_)) => {
                Self::sender(error.to_string())
            }
            _ => Self::receiver(error.to_string()),
        }
    }
}

/// The request's `CoordinationContext`, if it carries one (either
/// version), read with the project's WS-Coordination reader.
pub fn read_context(request: &SoapRequest) -> Result<Option<CoordinationContext>, ContextError> {
    let names = context_header_names();
    let mut blocks = request
        .header_blocks()
        .iter()
        .filter(|block| names.contains(&block.name));
    let Some(block) = blocks.next() else {
        return Ok(None);
    };
    if blocks.next().is_some() {
        return Err(ContextError::Repeated);
    }
    let bytes = request.header_block_bytes(block);
    if bytes.len() > MAX_CONTEXT_BYTES {
        return Err(ContextError::Malformed(format!(
            "longer than {MAX_CONTEXT_BYTES} bytes"
        )));
    }
    let envelope = synthetic_envelope(
        request.version().namespace(),
        &request.envelope().header_scope(),
        bytes,
    );
    let limits = Limits {
        max_size: envelope.len(),
        ..Limits::DEFAULT
    };
    let message = wire::decode(&envelope, None, &limits, &WireLimits::default())
        .map_err(|e| ContextError::Malformed(e.to_string()))?;
    message
        .context
        .map(Some)
        .ok_or_else(|| ContextError::Malformed("not a CoordinationContext".to_owned()))
}

/// An envelope holding only `block` as a header, with the namespace
/// bindings the block may use from its original envelope declared on the
/// `Header`, and an empty WS-AT notification as body (the reader needs
/// one).
fn synthetic_envelope(
    soap_namespace: &str,
    scope: &[ithaca_wsdl::NamespaceBinding],
    block: &[u8],
) -> Vec<u8> {
    let mut out = String::with_capacity(block.len() + 512);
    out.push('<');
    out.push_str(ENVELOPE_PREFIX);
    out.push_str(":Envelope xmlns:");
    out.push_str(ENVELOPE_PREFIX);
    out.push_str("=\"");
    push_escaped(&mut out, soap_namespace);
    out.push_str("\"><");
    out.push_str(ENVELOPE_PREFIX);
    out.push_str(":Header");
    for binding in scope {
        match binding.prefix.as_deref() {
            Some(ENVELOPE_PREFIX) => continue,
            Some(prefix) => {
                out.push_str(" xmlns:");
                out.push_str(prefix);
            }
            None => out.push_str(" xmlns"),
        }
        out.push_str("=\"");
        push_escaped(&mut out, &binding.uri);
        out.push('"');
    }
    out.push('>');
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(block);
    let tail = format!(
        "</{p}:Header><{p}:Body><n:Commit xmlns:n=\"{wsat}\"/></{p}:Body></{p}:Envelope>",
        p = ENVELOPE_PREFIX,
        wsat = WsTxVersion::Jun2006.wsat()
    );
    bytes.extend_from_slice(tail.as_bytes());
    bytes
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// Where a transaction's branch is between requests.
#[derive(Debug)]
enum Holding<B> {
    /// Nothing yet: the first request registers.
    Unregistered,
    /// The work so far, waiting for the next request or for `Prepare`.
    Parked(B),
    /// Given to the participant service (prepared, failed, rolled back).
    Released,
}

#[derive(Debug)]
struct Slot<B> {
    holding: Holding<B>,
}

type SlotHandle<B> = Arc<tokio::sync::Mutex<Slot<B>>>;

/// The branches of the transactions this host takes part in, between
/// requests.
#[derive(Debug)]
pub(crate) struct Parked<B> {
    slots: Mutex<HashMap<TxId, SlotHandle<B>>>,
}

impl<B> Default for Parked<B> {
    fn default() -> Self {
        Self {
            slots: Mutex::default(),
        }
    }
}

impl<B: ResourceBranch> Parked<B> {
    fn lock(&self) -> MutexGuard<'_, HashMap<TxId, SlotHandle<B>>> {
        // Each use is one lookup, insert or removal: a panic elsewhere
        // cannot leave the map half-changed.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many transactions hold a slot.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The slot of `tx`, made if needed. A new slot gives its branch back
    /// to the participant service by itself after `lifetime` (the
    /// service has rolled it back by then, unless `Prepare` came).
    fn slot<R: DurableResource<Branch = B>>(
        self: &Arc<Self>,
        tx: &TxId,
        lifetime: Duration,
        service: &ParticipantService<R>,
    ) -> Result<SlotHandle<B>, ContextError> {
        let mut slots = self.lock();
        if let Some(slot) = slots.get(tx) {
            return Ok(slot.clone());
        }
        if slots.len() >= MAX_OPEN_TRANSACTIONS {
            return Err(ContextError::Busy(MAX_OPEN_TRANSACTIONS));
        }
        let slot = Arc::new(tokio::sync::Mutex::new(Slot {
            holding: Holding::Unregistered,
        }));
        slots.insert(tx.clone(), slot.clone());
        drop(slots);
        let (parked, service, tx, expiring) =
            (self.clone(), service.clone(), tx.clone(), slot.clone());
        tokio::spawn(async move {
            tokio::time::sleep(lifetime).await;
            release(&mut *expiring.lock().await, &service);
            parked.forget(&tx, &expiring);
        });
        Ok(slot)
    }

    /// Removes the slot of `tx` if it is still `slot`.
    fn forget(&self, tx: &TxId, slot: &SlotHandle<B>) {
        let mut slots = self.lock();
        if slots.get(tx).is_some_and(|held| Arc::ptr_eq(held, slot)) {
            slots.remove(tx);
        }
    }

    /// The coordinator sent a message for `branch`: its parked work (if
    /// any) goes to the participant service, as soon as no request is
    /// working on it. The message itself is delivered at once; the service
    /// waits for the work when it is `Prepare`.
    pub(crate) fn release_for<R: DurableResource<Branch = B>>(
        self: &Arc<Self>,
        branch: &BranchId,
        service: &ParticipantService<R>,
    ) {
        let Some(slot) = self.lock().get(&branch.tx).cloned() else {
            return;
        };
        let parked = self.clone();
        let service = service.clone();
        let tx = branch.tx.clone();
        tokio::spawn(async move {
            release(&mut *slot.lock().await, &service);
            parked.forget(&tx, &slot);
        });
    }
}

/// Gives a parked branch to the participant service: its work is done.
fn release<R: DurableResource>(slot: &mut Slot<R::Branch>, service: &ParticipantService<R>) {
    if let Holding::Parked(branch) = std::mem::replace(&mut slot.holding, Holding::Released) {
        service.work_done(branch);
    }
}

/// A request's share of its transaction: the branch's connection, inside
/// the branch's database transaction. End it with
/// [`TransactionalWork::done`] when the request's work succeeded; dropping
/// it (or [`TransactionalWork::failed`]) rolls the branch back and makes
/// the transaction abort.
pub struct TransactionalWork<R: DurableResource = PgParticipant> {
    slot: OwnedMutexGuard<Slot<R::Branch>>,
    branch: Option<R::Branch>,
    tx: TxId,
    host: ParticipantHost<R>,
}

impl<R: DurableResource> std::fmt::Debug for TransactionalWork<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalWork")
            .field("tx", &self.tx)
            .finish_non_exhaustive()
    }
}

impl TransactionalWork<PgParticipant> {
    /// The branch's connection. Do not `COMMIT` or `ROLLBACK` on it
    /// (savepoints are fine): the coordinator decides.
    pub fn connection(&mut self) -> &mut PgConnection {
        PgBranch::connection(self.branch_mut())
    }
}

impl<R: DurableResource> TransactionalWork<R> {
    /// The transaction's identifier (the context's `wscoor:Identifier`).
    pub fn transaction(&self) -> &str {
        &self.tx.0
    }

    /// The branch the work is recorded on.
    pub fn branch_mut(&mut self) -> &mut R::Branch {
        match self.branch.as_mut() {
            Some(branch) => branch,
            // The branch is taken only by `done` and `failed`, which
            // consume `self`.
            None => unreachable!("a TransactionalWork always holds its branch until consumed"),
        }
    }

    /// The work of this request succeeded: the branch waits for the next
    /// request of the transaction or for `Prepare`.
    pub fn done(mut self) {
        if let Some(branch) = self.branch.take() {
            self.slot.holding = Holding::Parked(branch);
        }
    }

    /// The work of this request failed: the branch rolls back and votes
    /// `Aborted`, so the whole transaction rolls back.
    pub fn failed(self) {
        drop(self);
    }
}

impl<R: DurableResource> Drop for TransactionalWork<R> {
    fn drop(&mut self) {
        if let Some(branch) = self.branch.take() {
            self.slot.holding = Holding::Released;
            self.host.service().work_failed(branch);
            let slot = OwnedMutexGuard::mutex(&self.slot).clone();
            self.host.parked().forget(&self.tx, &slot);
        }
    }
}

impl<R: DurableResource> ParticipantHost<R> {
    /// Joins the transaction of `request`'s `CoordinationContext`:
    /// `Ok(None)` when it carries none. The first request of a transaction
    /// registers this service for Durable2PC and opens its branch; later
    /// ones (one at a time) continue on the same branch.
    pub async fn join(
        &self,
        request: &SoapRequest,
    ) -> Result<Option<TransactionalWork<R>>, ContextError> {
        let Some(context) = read_context(request)? else {
            return Ok(None);
        };
        self.join_context(&context).await.map(Some)
    }

    /// [`ParticipantHost::join`] for a context already read.
    pub async fn join_context(
        &self,
        context: &CoordinationContext,
    ) -> Result<TransactionalWork<R>, ContextError> {
        let tx = TxId(context.identifier.clone());
        let lifetime = context.expires.map_or(DEFAULT_LIFETIME, |ms| {
            Duration::from_millis(u64::from(ms)).min(DEFAULT_LIFETIME)
        });
        let slot = self.parked().slot(&tx, lifetime, self.service())?;
        let mut slot = slot.lock_owned().await;
        let branch = match std::mem::replace(&mut slot.holding, Holding::Released) {
            Holding::Parked(branch) => branch,
            Holding::Released => return Err(ContextError::Ended(tx.0)),
            Holding::Unregistered => match self.enlist(context).await {
                Ok(branch) => branch,
                Err(error) => {
                    let handle = OwnedMutexGuard::mutex(&slot).clone();
                    drop(slot);
                    self.parked().forget(&tx, &handle);
                    return Err(error.into());
                }
            },
        };
        Ok(TransactionalWork {
            slot,
            branch: Some(branch),
            tx,
            host: self.clone(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn both_versions_are_named() {
        let names = context_header_names();
        assert_eq!(
            names[0].namespace.as_deref(),
            Some("http://docs.oasis-open.org/ws-tx/wscoor/2006/06")
        );
        assert_eq!(
            names[1].namespace.as_deref(),
            Some("http://schemas.xmlsoap.org/ws/2004/10/wscoor")
        );
    }

    #[test]
    fn the_synthetic_envelope_reads_a_block_using_outer_prefixes() {
        let scope = [
            ithaca_wsdl::NamespaceBinding {
                prefix: Some("c".into()),
                uri: WsTxVersion::Oct2004.wscoor().into(),
            },
            ithaca_wsdl::NamespaceBinding {
                prefix: Some("a".into()),
                uri: WsTxVersion::Oct2004.wsa().into(),
            },
            ithaca_wsdl::NamespaceBinding {
                prefix: Some(ENVELOPE_PREFIX.into()),
                uri: "urn:clash".into(),
            },
        ];
        let block = format!(
            "<c:CoordinationContext><c:Identifier>urn:t:1</c:Identifier><c:CoordinationType>{}</c:CoordinationType><c:RegistrationService><a:Address>http://c.example/reg</a:Address></c:RegistrationService></c:CoordinationContext>",
            WsTxVersion::Oct2004.wsat()
        );
        let envelope = synthetic_envelope(
            ithaca_wsdl::SoapVersion::Soap11.namespace(),
            &scope,
            block.as_bytes(),
        );
        let message =
            wire::decode(&envelope, None, &Limits::DEFAULT, &WireLimits::default()).unwrap();
        let context = message.context.unwrap();
        assert_eq!(context.identifier, "urn:t:1");
        assert_eq!(context.coordination_type, WsTxVersion::Oct2004.wsat());
        assert_eq!(context.registration_service.address, "http://c.example/reg");
    }
}
