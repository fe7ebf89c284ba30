//! Hosting the banks of the WS-AT bank-transfer example
//! ([`ithaca_services::bank`]): one per `[[bank]]` table, at
//! `/services/NAME` (SOAP 1.1) and `/services/NAME/soap12` (SOAP 1.2),
//! each on its own database: PostgreSQL (`store = "postgres"`) or the
//! SQLite file `DATA_DIR/bank-NAME.sqlite` (`store = "sqlite"`, the
//! embedded default).
//!
//! `Credit` and `Debit` run inside the caller's WS-AtomicTransaction: the
//! request's `wscoor:CoordinationContext` header (understood, so it may be
//! sent with `mustUnderstand`) is read, the bank registers for Durable2PC
//! at the context's RegistrationService through its [`ParticipantHost`]
//! (a refused Register fails the request before any work), and the work
//! runs on the branch's pinned connection (PostgreSQL) or is recorded in
//! the branch, debits reserved ([`ithaca_services::bank::sqlite`]).
//! Handed back with `work_done`, the branch is prepared (`PREPARE
//! TRANSACTION`, or a durable prepared record on SQLite) when the
//! coordinator's Prepare arrives and committed or rolled back with the
//! transaction; an
//! `InsufficientFunds` debit (or any failure) hands it back with
//! `work_failed`, so the bank votes Aborted and the transaction aborts.
//! `Credit` and `Debit` without a context are refused (a Sender fault):
//! the bank moves money only inside a transaction. `Balance` and `Total`
//! read committed balances outside any transaction.
//!
//! The participant protocol endpoint is `/services/NAME/wsat`; its
//! correlation key is `DATA_DIR/bank-NAME.key`, stable across restarts,
//! since prepared branches recovered at start (from `pg_prepared_xacts`,
//! or the SQLite prepared records) are answered at the endpoint they
//! registered.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ithaca_services::bank::sqlite::SqliteLedger;
use ithaca_services::bank::{self, ledger, message, operation};
use ithaca_txn::participant::{
    self, DurableResource, NodeId, ParticipantService, PgParticipant, Recovery, SqliteParticipant,
};
use ithaca_txn::wire::{CorrelationKey, WsTxVersion};
use ithaca_wsdl::QName;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::config::{BankConfig, BankStore, Config};
use crate::router::Router;
use crate::soap::{Contract, SoapError, SoapRequest, SoapService};
use crate::wsat::participant::{ParticipantHost, SoapCoordinatorLink};
use crate::wsat::{HttpSink, load_or_create_key};

/// How long a bank waits for its database at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a bank could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BankError {
    /// The database could not be reached or prepared.
    #[error("bank {name}: database: {message}")]
    Database {
        /// The bank.
        name: String,
        /// What failed.
        message: String,
    },
    /// The participant could not start (such as `max_prepared_transactions`
    /// being 0).
    #[error("bank {name}: {message}")]
    Participant {
        /// The bank.
        name: String,
        /// What failed.
        message: String,
    },
    /// The SOAP service could not be set up.
    #[error("bank {name}: {message}")]
    Setup {
        /// The bank.
        name: String,
        /// What failed.
        message: String,
    },
}

/// The SQLite bank's participant resource.
type SqliteResource = SqliteParticipant<SqliteLedger>;

/// Where a bank's accounts are, and its participant.
#[derive(Clone)]
enum Backend {
    Postgres {
        pool: PgPool,
        host: ParticipantHost<PgParticipant>,
    },
    Sqlite {
        ledger: Arc<SqliteLedger>,
        host: ParticipantHost<SqliteResource>,
    },
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Postgres { host, .. } => f.debug_tuple("Postgres").field(host).finish(),
            Self::Sqlite { host, .. } => f.debug_tuple("Sqlite").field(host).finish(),
        }
    }
}

/// One hosted bank: its database, its WS-AT participant and its routes.
#[derive(Debug, Clone)]
pub struct BankHost {
    name: String,
    backend: Backend,
    recovered: usize,
    routes: Router,
}

/// The base URL the participant endpoint is published under.
fn base_url(config: &Config, bank: &BankConfig) -> String {
    if let Some(url) = bank
        .public_url
        .as_ref()
        .or(config.server.public_url.as_ref())
    {
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

impl BankHost {
    /// Starts every `[[bank]]` of `config` (correlation keys in
    /// `data_dir`).
    pub async fn start_all(config: &Config, data_dir: &Path) -> Result<Vec<Self>, BankError> {
        let mut banks = Vec::with_capacity(config.bank.len());
        for bank in &config.bank {
            banks.push(Self::start(config, bank, data_dir).await?);
        }
        Ok(banks)
    }

    /// Starts one bank: opens its database, creates its tables and
    /// opening accounts, starts its participant (recovering prepared
    /// branches) and builds its routes.
    pub async fn start(
        config: &Config,
        bank: &BankConfig,
        data_dir: &Path,
    ) -> Result<Self, BankError> {
        let name = bank.name.clone();
        let participant_error = |message: String| BankError::Participant {
            name: name.clone(),
            message,
        };
        let node = NodeId::new(&name).map_err(|e| participant_error(e.to_string()))?;
        std::fs::create_dir_all(data_dir)
            .map_err(|e| participant_error(format!("{}: {e}", data_dir.display())))?;
        let key = load_or_create_key(&data_dir.join(format!("bank-{name}.key")))
            .map_err(participant_error)?;
        let base = base_url(config, bank);
        let base_path = format!("/services/{name}");
        let (backend, recovered) = match bank.store {
            BankStore::Postgres => {
                let pool = open_postgres(bank).await?;
                let (pg, recovery) = PgParticipant::start(pool.clone(), node)
                    .await
                    .map_err(|e| participant_error(e.to_string()))?;
                let host = participant_host(pg, &recovery, key, &base, &base_path)
                    .map_err(participant_error)?;
                (Backend::Postgres { pool, host }, recovery.branches.len())
            }
            BankStore::Sqlite => {
                let database = |message: String| BankError::Database {
                    name: name.clone(),
                    message,
                };
                let file = bank.sqlite_file(data_dir);
                let pool = bank::sqlite::open(&file)
                    .await
                    .map_err(|e| database(format!("{}: {e}", file.display())))?;
                if bank.open_accounts > 0 {
                    bank::sqlite::open_accounts(&pool, bank.open_accounts, bank.opening_balance)
                        .await
                        .map_err(|e| database(e.to_string()))?;
                }
                let ledger = Arc::new(SqliteLedger::new(pool.clone()));
                let (resource, recovery) = SqliteParticipant::start(pool, node, ledger.clone())
                    .await
                    .map_err(|e| participant_error(e.to_string()))?;
                let host = participant_host(resource, &recovery, key, &base, &base_path)
                    .map_err(participant_error)?;
                (Backend::Sqlite { ledger, host }, recovery.branches.len())
            }
        };
        let routes = soap_routes(&name, &base_path, &backend, config)
            .map_err(|message| BankError::Setup {
                name: name.clone(),
                message,
            })?
            .merge(&match &backend {
                Backend::Postgres { host, .. } => host.routes(),
                Backend::Sqlite { host, .. } => host.routes(),
            });
        tracing::info!(
            bank = %name,
            store = ?bank.store,
            recovered,
            "bank hosted at {base_path}"
        );
        Ok(Self {
            name,
            backend,
            recovered,
            routes,
        })
    }

    /// The bank's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its routes: the SOAP ports and the participant endpoint.
    pub fn routes(&self) -> &Router {
        &self.routes
    }

    /// Where its accounts are.
    pub fn store(&self) -> BankStore {
        match self.backend {
            Backend::Postgres { .. } => BankStore::Postgres,
            Backend::Sqlite { .. } => BankStore::Sqlite,
        }
    }

    /// Its PostgreSQL database (`store = "postgres"`).
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match &self.backend {
            Backend::Postgres { pool, .. } => Some(pool),
            Backend::Sqlite { .. } => None,
        }
    }

    /// How many prepared branches its participant recovered at start.
    pub fn recovered(&self) -> usize {
        self.recovered
    }

    /// How many branches (transactions) its participant holds now.
    pub fn branches(&self) -> usize {
        match &self.backend {
            Backend::Postgres { host, .. } => host.service().len(),
            Backend::Sqlite { host, .. } => host.service().len(),
        }
    }
}

/// Connects to a PostgreSQL bank and opens its accounts.
async fn open_postgres(bank: &BankConfig) -> Result<PgPool, BankError> {
    let database = |message: String| BankError::Database {
        name: bank.name.clone(),
        message,
    };
    let pool = PgPoolOptions::new()
        .max_connections(bank.max_connections)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(&bank.database_url)
        .await
        .map_err(|e| database(e.to_string()))?;
    ledger::ensure_schema(&pool)
        .await
        .map_err(|e| database(e.to_string()))?;
    if bank.open_accounts > 0 {
        ledger::open_accounts(&pool, bank.open_accounts, bank.opening_balance)
            .await
            .map_err(|e| database(e.to_string()))?;
    }
    Ok(pool)
}

/// The participant service and its protocol endpoint for a started
/// resource.
fn participant_host<R: DurableResource>(
    resource: R,
    recovery: &Recovery,
    key: CorrelationKey,
    base: &str,
    base_path: &str,
) -> Result<ParticipantHost<R>, String> {
    let sink = HttpSink::new(Arc::new(key.clone()), Some(base))
        .map_err(|e| format!("HTTP client: {e}"))?;
    let service = ParticipantService::start(
        resource,
        recovery,
        Arc::new(SoapCoordinatorLink::new(sink)),
        participant::Config {
            resend_after: Duration::from_secs(1),
            max_resend_after: Duration::from_secs(5),
            ..participant::Config::default()
        },
    );
    Ok(ParticipantHost::new(
        service,
        key,
        base,
        &format!("{base_path}/wsat"),
    ))
}

/// What a request handler needs.
#[derive(Clone)]
struct Handler {
    backend: Backend,
}

fn soap_routes(
    name: &str,
    base_path: &str,
    backend: &Backend,
    config: &Config,
) -> Result<Router, String> {
    let contract = Contract::from_bytes(bank::WSDL_NAME, bank::WSDL).map_err(|e| e.to_string())?;
    let mut builder = SoapService::builder(contract)
        .service(bank::SERVICE)
        .base_path(base_path);
    if let Some(url) = &config.server.public_url {
        builder = builder.public_url(url);
    }
    for version in [WsTxVersion::Jun2006, WsTxVersion::Oct2004] {
        builder = builder.understands(QName::new(version.wscoor(), "CoordinationContext"));
    }
    let handler = Handler {
        backend: backend.clone(),
    };
    let (credit, debit, balance, total) =
        (handler.clone(), handler.clone(), handler.clone(), handler);
    let bank_name: Arc<str> = Arc::from(name);
    let (credit_bank, debit_bank) = (bank_name.clone(), bank_name);
    builder
        .operation(operation::CREDIT, move |request: SoapRequest| {
            let (handler, bank) = (credit.clone(), credit_bank.clone());
            async move { handler.movement(&bank, request, false).await }
        })
        .operation(operation::DEBIT, move |request: SoapRequest| {
            let (handler, bank) = (debit.clone(), debit_bank.clone());
            async move { handler.movement(&bank, request, true).await }
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

impl Handler {
    async fn movement(
        &self,
        bank: &str,
        request: SoapRequest,
        is_debit: bool,
    ) -> Result<Vec<u8>, SoapError> {
        let element = if is_debit {
            operation::DEBIT
        } else {
            operation::CREDIT
        };
        let movement = message::read_movement(request.body(), element)
            .map_err(|e| SoapError::sender(e.to_string()))?;
        let context = crate::wsat::context::read_context(&request)
            .map_err(|e| SoapError::sender(e.to_string()))?
            .ok_or_else(|| {
                SoapError::sender(format!(
                    "{element} runs only inside a WS-AtomicTransaction: send its wscoor:CoordinationContext header"
                ))
            })?;
        let result = match &self.backend {
            Backend::Postgres { host, .. } => {
                let mut branch = host
                    .enlist(&context)
                    .await
                    .map_err(|e| SoapError::receiver(format!("bank {bank}: {e}")))?;
                let tx = &context.identifier;
                let (account, amount) = (&movement.account, movement.amount);
                let result = if is_debit {
                    ledger::debit(branch.connection(), tx, account, amount).await
                } else {
                    ledger::credit(branch.connection(), tx, account, amount).await
                };
                // On failure the branch votes Aborted: the whole
                // transaction rolls back.
                if result.is_ok() {
                    host.service().work_done(branch);
                } else {
                    host.service().work_failed(branch);
                }
                result
            }
            Backend::Sqlite { ledger, host } => {
                let mut branch = host
                    .enlist(&context)
                    .await
                    .map_err(|e| SoapError::receiver(format!("bank {bank}: {e}")))?;
                let (account, amount) = (&movement.account, movement.amount);
                let result = if is_debit {
                    ledger.debit(&mut branch, account, amount).await
                } else {
                    ledger.credit(&mut branch, account, amount).await
                };
                if result.is_ok() {
                    host.service().work_done(branch);
                } else {
                    host.service().work_failed(branch);
                }
                result
            }
        };
        match result {
            Ok(balance) => {
                let response = if is_debit {
                    "DebitResponse"
                } else {
                    "CreditResponse"
                };
                Ok(message::balance_response(response, balance))
            }
            Err(error) => Err(match error {
                ledger::LedgerError::InsufficientFunds {
                    account,
                    balance,
                    requested,
                } => {
                    let detail = message::InsufficientFunds {
                        account,
                        balance,
                        requested,
                    };
                    SoapError::declared(
                        bank::INSUFFICIENT_FUNDS,
                        format!(
                            "insufficient funds in account {}: balance {}, requested {}",
                            detail.account, detail.balance, detail.requested
                        ),
                        message::insufficient_funds(&detail),
                    )
                }
                ledger::LedgerError::Database(e) => {
                    SoapError::receiver(format!("bank {bank}: database: {e}"))
                }
                ledger::LedgerError::Busy => SoapError::receiver(format!("bank {bank}: busy")),
                other => SoapError::sender(other.to_string()),
            }),
        }
    }

    async fn balance(&self, request: SoapRequest) -> Result<Vec<u8>, SoapError> {
        let account = message::read_balance_request(request.body())
            .map_err(|e| SoapError::sender(e.to_string()))?;
        let balance = match &self.backend {
            Backend::Postgres { pool, .. } => {
                let mut connection = connection(pool).await?;
                ledger::balance(&mut connection, &account).await
            }
            Backend::Sqlite { ledger, .. } => bank::sqlite::balance(ledger.pool(), &account).await,
        }
        .map_err(|e| SoapError::receiver(e.to_string()))?
        .ok_or_else(|| SoapError::sender(format!("no account {account}")))?;
        Ok(message::balance_response("BalanceResponse", balance))
    }

    async fn total(&self, request: SoapRequest) -> Result<Vec<u8>, SoapError> {
        message::read_total_request(request.body())
            .map_err(|e| SoapError::sender(e.to_string()))?;
        let (total, accounts) = match &self.backend {
            Backend::Postgres { pool, .. } => {
                let mut connection = connection(pool).await?;
                ledger::total(&mut connection).await
            }
            Backend::Sqlite { ledger, .. } => bank::sqlite::total(ledger.pool()).await,
        }
        .map_err(|e| SoapError::receiver(e.to_string()))?;
        Ok(message::total_response(total, accounts))
    }
}

async fn connection(
    pool: &PgPool,
) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, SoapError> {
    pool.acquire()
        .await
        .map_err(|e| SoapError::receiver(format!("database: {e}")))
}
