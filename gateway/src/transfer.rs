//! Hosting the transfer service of the bank scenario
//! ([`ithaca_services::transfer`]) at [`PATH`] (SOAP 1.1) and
//! `PATH/soap12` (SOAP 1.2), when `[transfer] enabled`.
//!
//! `Transfer(fromBank, fromAccount, toBank, toAccount, amount)` is one
//! WS-AtomicTransaction driven by a [`WsatClient`]: CreateCoordinationContext
//! at the coordinator's Activation service and registration for
//! Completion (the outcome arrives at [`INITIATOR_PATH`], a route of this
//! host, its reference parameter signed with the key kept in
//! `DATA_DIR/transfer-initiator.key`); then `Debit` at the first bank and
//! `Credit` at the second, each with the `CoordinationContext` header (each
//! bank registers for Durable2PC); then Commit and the wait for
//! `Committed` or `Aborted`. A failed bank call rolls the transaction back
//! before the caller gets its fault: `InsufficientFunds` becomes the
//! contract's declared fault (naming the transaction, bank, account,
//! balance and amount), a bank's Sender fault (an unknown account, say)
//! stays a Sender fault, anything else (a bank or the coordinator down, an
//! outcome that did not arrive in time) is a Receiver fault naming which
//! peer failed. `Balance` and `Total` pass through to the banks' own.
//!
//! The banks are `[transfer.banks]` (name → SOAP endpoint) or, when that is
//! empty, every `[[bank]]` of this gateway at `BASE/services/NAME`; the
//! coordinator is `[transfer] coordinator` or this gateway's own
//! (`BASE/wsat/activation`). BASE is `server.public_url`, else `http://`
//! and `server.listen` (127.0.0.1 for an unspecified address).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ithaca_services::bank;
use ithaca_services::transfer::{self, Outcome, message, operation};
use ithaca_wsdl::{FaultCode, SoapVersion};

use crate::config::Config;
use crate::router::Router;
use crate::soap::client::{ClientError, SoapClient};
use crate::soap::{Contract, SoapError, SoapRequest, SoapService};
use crate::wsat::client::{
    BeginOptions, CompletionInitiatorRoute, Outcome as WsatOutcome, Transaction, WsatClient,
};
use crate::wsat::load_or_create_key;

/// Where the service is hosted (SOAP 1.1; SOAP 1.2 at `PATH/soap12`).
pub const PATH: &str = "/services/TransferService";

/// Where the coordinator sends each transaction's outcome.
pub const INITIATOR_PATH: &str = "/services/TransferService/initiator";

/// The file under the data directory holding the initiator's key.
pub const KEY_FILE: &str = "transfer-initiator.key";

/// Why the transfer service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The configuration names no bank, or a bank URL that is not one.
    #[error("transfer service: {0}")]
    Config(String),
    /// The initiator key, the HTTP clients or the SOAP service could not
    /// be set up.
    #[error("transfer service: {0}")]
    Setup(String),
}

/// The hosted transfer service: its routes and the banks it knows.
#[derive(Debug, Clone)]
pub struct TransferHost {
    routes: Router,
    banks: Vec<(String, String)>,
    activation: String,
}

/// This gateway's base URL as peers reach it.
fn base_url(config: &Config) -> String {
    if let Some(url) = &config.server.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let listen = config.server.listen;
    let addr = if listen.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], listen.port()))
    } else {
        listen
    };
    let scheme = if config.server.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{addr}")
}

/// The Activation service's URL of `coordinator` (a base URL gets
/// `/wsat/activation`).
pub fn activation_url(coordinator: &str) -> String {
    let trimmed = coordinator.trim_end_matches('/');
    let path = trimmed
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, path)| path);
    match path {
        Some(path) if !path.is_empty() => coordinator.to_owned(),
        _ => format!("{trimmed}/wsat/activation"),
    }
}

impl TransferHost {
    /// Builds the service from `[transfer]` (its key in `data_dir`), or
    /// `None` when it is not enabled.
    pub fn start(config: &Config, data_dir: &Path) -> Result<Option<Self>, TransferError> {
        let settings = &config.transfer;
        if !settings.enabled {
            return Ok(None);
        }
        let base = base_url(config);
        let banks: BTreeMap<String, String> = if settings.banks.is_empty() {
            config
                .bank
                .iter()
                .map(|b| (b.name.clone(), format!("{base}/services/{}", b.name)))
                .collect()
        } else {
            settings.banks.clone()
        };
        if banks.len() < 2 {
            return Err(TransferError::Config(
                "[transfer] needs at least two banks: set transfer.banks or host two [[bank]]s"
                    .to_owned(),
            ));
        }
        if settings.coordinator.is_none() && !config.wsat.enabled {
            return Err(TransferError::Config(
                "set transfer.coordinator, or enable this gateway's coordinator ([wsat] enabled = true)"
                    .to_owned(),
            ));
        }
        let activation = activation_url(settings.coordinator.as_deref().unwrap_or(&base));
        let timeout = Duration::from_millis(settings.timeout_ms);
        std::fs::create_dir_all(data_dir)
            .map_err(|e| TransferError::Setup(format!("{}: {e}", data_dir.display())))?;
        let key = load_or_create_key(&data_dir.join(KEY_FILE)).map_err(TransferError::Setup)?;
        let initiator = CompletionInitiatorRoute::new(key, &base, INITIATOR_PATH);
        let wsat =
            WsatClient::new(initiator.clone()).map_err(|e| TransferError::Setup(e.to_string()))?;
        let mut clients = BTreeMap::new();
        for (name, url) in &banks {
            let client = SoapClient::new(url, SoapVersion::Soap11)
                .map_err(|e| TransferError::Config(format!("bank {name}: {e}")))?
                .with_timeout(timeout);
            clients.insert(name.clone(), client);
        }
        let handler = Handler {
            shared: Arc::new(Shared {
                wsat,
                activation: activation.clone(),
                banks: clients,
                options: BeginOptions {
                    // A transaction abandoned mid-way (this process killed)
                    // rolls back at the coordinator by itself.
                    expires: Some(timeout.saturating_mul(2)),
                    request_timeout: timeout,
                    outcome_timeout: timeout,
                    ..BeginOptions::default()
                },
            }),
        };
        let routes = soap_routes(config, handler)
            .map_err(TransferError::Setup)?
            .merge(&initiator.routes());
        tracing::info!(
            banks = banks.len(),
            coordinator = %activation,
            "transfer service hosted at {PATH}"
        );
        Ok(Some(Self {
            routes,
            banks: banks.into_iter().collect(),
            activation,
        }))
    }

    /// Its routes: the SOAP ports and the Completion initiator endpoint.
    pub fn routes(&self) -> &Router {
        &self.routes
    }

    /// The banks it moves money between: name and SOAP endpoint.
    pub fn banks(&self) -> &[(String, String)] {
        &self.banks
    }

    /// The coordinator's Activation service it begins transactions at.
    pub fn activation(&self) -> &str {
        &self.activation
    }
}

struct Shared {
    wsat: WsatClient,
    activation: String,
    banks: BTreeMap<String, SoapClient>,
    options: BeginOptions,
}

/// What a request handler needs. Cheap to clone.
#[derive(Clone)]
struct Handler {
    shared: Arc<Shared>,
}

fn soap_routes(config: &Config, handler: Handler) -> Result<Router, String> {
    let contract =
        Contract::from_bytes(transfer::WSDL_NAME, transfer::WSDL).map_err(|e| e.to_string())?;
    let mut builder = SoapService::builder(contract)
        .service(transfer::SERVICE)
        .base_path(PATH);
    if let Some(url) = &config.server.public_url {
        builder = builder.public_url(url);
    }
    let (transfer_handler, balance, total) = (handler.clone(), handler.clone(), handler);
    builder
        .operation(operation::TRANSFER, move |request: SoapRequest| {
            let handler = transfer_handler.clone();
            async move { handler.transfer(request).await }
        })
        .operation(operation::BALANCE, move |request: SoapRequest| {
            let handler = balance.clone();
            async move { handler.balance(request).await }
        })
        .operation(operation::TOTAL, move |request: SoapRequest| {
            let handler = total.clone();
            async move { handler.total(request).await }
        })
        .build()
        .map_err(|e| e.to_string())
}

/// A bank's fault or failure as this service's fault: the bank's Sender
/// faults stay Sender faults, the rest are Receiver faults.
fn bank_fault(bank: &str, what: &str, error: &ClientError) -> SoapError {
    match error {
        ClientError::Fault { fault, .. } if fault.code == FaultCode::Sender => {
            SoapError::sender(format!("bank {bank}: {what}: {}", fault.reason()))
        }
        ClientError::Fault { fault, .. } => {
            SoapError::receiver(format!("bank {bank}: {what}: {}", fault.reason()))
        }
        other => SoapError::receiver(format!("bank {bank}: {what}: {other}")),
    }
}

impl Handler {
    fn bank(&self, name: &str) -> Result<&SoapClient, SoapError> {
        self.shared.banks.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.shared.banks.keys().map(String::as_str).collect();
            SoapError::sender(format!(
                "no bank named {name}: this service knows {}",
                known.join(", ")
            ))
        })
    }

    async fn transfer(&self, request: SoapRequest) -> Result<Vec<u8>, SoapError> {
        let plan = message::read_transfer_request(request.body())
            .map_err(|e| SoapError::sender(e.to_string()))?;
        if plan.from_bank == plan.to_bank {
            return Err(SoapError::sender(format!(
                "fromBank and toBank are both {}: a transfer moves money between two banks",
                plan.from_bank
            )));
        }
        let (from, to) = (self.bank(&plan.from_bank)?, self.bank(&plan.to_bank)?);
        let transaction = self
            .shared
            .wsat
            .begin(&self.shared.activation, self.shared.options)
            .await
            .map_err(|e| SoapError::receiver(format!("coordinator: begin: {e}")))?;
        let id = transaction.context().identifier.clone();
        let debit = bank::message::debit_request(&plan.from_account, plan.amount);
        let action = bank::soap_action(bank::operation::DEBIT);
        if let Err(error) = transaction.call(from, Some(&action), &[], &debit).await {
            let refused = match &error {
                ClientError::Fault { message, .. } => {
                    bank::message::read_insufficient_funds(message).map(|detail| {
                        message::InsufficientFunds {
                            transaction_id: id.clone(),
                            bank: plan.from_bank.clone(),
                            account: detail.account,
                            balance: detail.balance,
                            requested: detail.requested,
                        }
                    })
                }
                _ => None,
            };
            let fault = match refused {
                Some(detail) => SoapError::declared(
                    transfer::INSUFFICIENT_FUNDS,
                    format!(
                        "insufficient funds in account {} at bank {}: balance {}, requested {}; transaction {} rolled back",
                        detail.account, detail.bank, detail.balance, detail.requested, id
                    ),
                    message::insufficient_funds(&detail),
                ),
                None => bank_fault(&plan.from_bank, "Debit", &error),
            };
            return Err(roll_back(transaction, fault).await);
        }
        let credit = bank::message::credit_request(&plan.to_account, plan.amount);
        let action = bank::soap_action(bank::operation::CREDIT);
        if let Err(error) = transaction.call(to, Some(&action), &[], &credit).await {
            let fault = bank_fault(&plan.to_bank, "Credit", &error);
            return Err(roll_back(transaction, fault).await);
        }
        let outcome = match transaction.commit().await {
            Ok(WsatOutcome::Committed) => Outcome::Committed,
            Ok(WsatOutcome::Aborted) => Outcome::Aborted,
            Err(error) => {
                return Err(SoapError::receiver(format!(
                    "coordinator: transaction {id}: commit: {error}"
                )));
            }
        };
        Ok(message::transfer_response(&message::TransferResponse {
            transaction_id: id,
            outcome,
        }))
    }

    async fn balance(&self, request: SoapRequest) -> Result<Vec<u8>, SoapError> {
        let asked = message::read_balance_request(request.body())
            .map_err(|e| SoapError::sender(e.to_string()))?;
        let client = self.bank(&asked.bank)?;
        let action = bank::soap_action(bank::operation::BALANCE);
        let response = client
            .call(
                Some(&action),
                &bank::message::balance_request(&asked.account),
            )
            .await
            .map_err(|e| bank_fault(&asked.bank, "Balance", &e))?;
        let balance = bank::message::read_field_i64(&response.message, "balance")
            .map_err(|e| SoapError::receiver(format!("bank {}: Balance: {e}", asked.bank)))?;
        Ok(message::balance_response(balance))
    }

    async fn total(&self, request: SoapRequest) -> Result<Vec<u8>, SoapError> {
        message::read_total_request(request.body())
            .map_err(|e| SoapError::sender(e.to_string()))?;
        let action = bank::soap_action(bank::operation::TOTAL);
        let (mut total, mut accounts) = (0i64, 0i64);
        for (name, client) in &self.shared.banks {
            let response = client
                .call(Some(&action), &bank::message::total_request())
                .await
                .map_err(|e| bank_fault(name, "Total", &e))?;
            let read = |field| {
                bank::message::read_field_i64(&response.message, field)
                    .map_err(|e| SoapError::receiver(format!("bank {name}: Total: {e}")))
            };
            total = total.saturating_add(read("total")?);
            accounts = accounts.saturating_add(read("accounts")?);
        }
        Ok(message::total_response(total, accounts))
    }
}

/// Rolls `transaction` back and returns `fault`, noting a rollback that
/// failed (the coordinator still rolls back at the context's expiry).
async fn roll_back(transaction: Transaction, fault: SoapError) -> SoapError {
    let id = transaction.context().identifier.clone();
    match transaction.rollback().await {
        Ok(_) => fault,
        Err(error) => {
            tracing::warn!(transaction = %id, %error, "rollback failed; the coordinator aborts at expiry");
            fault
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_coordinator_url_gets_the_activation_path() {
        assert_eq!(
            activation_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/wsat/activation"
        );
        assert_eq!(
            activation_url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/wsat/activation"
        );
        assert_eq!(
            activation_url("http://h:1/x/activation"),
            "http://h:1/x/activation"
        );
    }

    #[test]
    fn disabled_means_not_hosted_and_one_bank_is_refused() {
        let mut config = Config::default();
        config.transfer.enabled = false;
        config.bank.clear();
        let dir = std::env::temp_dir().join(format!("ithaca-transfer-{}", std::process::id()));
        assert!(matches!(TransferHost::start(&config, &dir), Ok(None)));
        config.transfer.enabled = true;
        config.wsat.enabled = true;
        config
            .transfer
            .banks
            .insert("A".into(), "http://127.0.0.1:1/services/A".into());
        assert!(matches!(
            TransferHost::start(&config, &dir),
            Err(TransferError::Config(_))
        ));
    }
}
