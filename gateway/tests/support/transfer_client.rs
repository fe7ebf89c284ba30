//! The transfer client of the WS-AT crash suites: begin, `Debit` at one
//! bank, `Credit` at the other with the context header, commit; what the
//! client saw is kept for the audit.

use ithaca_gateway::soap::client::{ClientError, SoapClient};
use ithaca_gateway::wsat::client::{BeginOptions, Outcome, WsatClient};
use ithaca_services::bank::{self, message};

/// What the client saw of one transfer.
#[derive(Debug)]
pub struct Seen {
    /// The transaction's identifier, once it began.
    pub tx: Option<String>,
    /// The outcome the coordinator gave, or what failed.
    pub outcome: Result<Outcome, String>,
}

/// The transfer client (shared by concurrent transfers).
pub struct TransferClient {
    /// The WS-AT client (its initiator endpoint must be served).
    pub wsat: WsatClient,
    /// The coordinator's Activation service.
    pub activation: String,
    /// The debited bank.
    pub from: SoapClient,
    /// The credited bank.
    pub to: SoapClient,
    /// Each transaction's options.
    pub options: BeginOptions,
}

impl TransferClient {
    /// Moves `amount` from bank-a's `from` to bank-b's `to`.
    pub async fn transfer(&self, from: u32, to: u32, amount: i64) -> Seen {
        let transaction = match self.wsat.begin(&self.activation, self.options).await {
            Ok(transaction) => transaction,
            Err(error) => {
                return Seen {
                    tx: None,
                    outcome: Err(format!("begin: {error}")),
                };
            }
        };
        let tx = Some(transaction.context().identifier.clone());
        let debit = message::debit_request(&from.to_string(), amount);
        let action = bank::soap_action(bank::operation::DEBIT);
        if let Err(error) = transaction
            .call(&self.from, Some(&action), &[], &debit)
            .await
        {
            let insufficient = matches!(&error, ClientError::Fault { message, .. }
                if message::read_insufficient_funds(message).is_some());
            let rolled_back = transaction.rollback().await;
            let outcome = match rolled_back {
                Ok(outcome) if insufficient => Ok(outcome),
                Ok(_) => Err(format!("debit: {error} (rolled back)")),
                Err(e) => Err(format!("debit: {error}; rollback: {e}")),
            };
            return Seen { tx, outcome };
        }
        let credit = message::credit_request(&to.to_string(), amount);
        let action = bank::soap_action(bank::operation::CREDIT);
        if let Err(error) = transaction
            .call(&self.to, Some(&action), &[], &credit)
            .await
        {
            let _ = transaction.rollback().await;
            return Seen {
                tx,
                outcome: Err(format!("credit: {error}")),
            };
        }
        let outcome = transaction
            .commit()
            .await
            .map_err(|e| format!("commit: {e}"));
        Seen { tx, outcome }
    }
}

/// A Completion initiator for tests that drive `ithaca serve` processes:
/// its route mounted on an in-process gateway at a free port, and the WS-AT
/// client that begins transactions answered there.
pub struct Initiator {
    /// The client beginning transactions (its initiator route is served by
    /// [`Self::gateway`]).
    pub wsat: WsatClient,
    /// The gateway serving the initiator route; dropping it stops it.
    pub gateway: super::TestGateway,
}

impl Initiator {
    /// Starts the initiator with a correlation key of 32 times `key`.
    pub async fn start(key: u8) -> Self {
        let port = ithaca_testkit::free_port().unwrap();
        let initiator = ithaca_gateway::wsat::client::CompletionInitiatorRoute::new(
            ithaca_txn::wire::CorrelationKey::from_bytes([key; 32]),
            &format!("http://127.0.0.1:{port}"),
            "/initiator",
        );
        let wsat = WsatClient::new(initiator.clone()).unwrap();
        let gateway = super::TestGateway::start(initiator.routes(), |config| {
            config.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
            config.membership.enabled = false;
        })
        .await;
        Self { wsat, gateway }
    }
}

/// A SOAP 1.1 client of the service `name` hosted by `node`, each call
/// bounded by `timeout`.
pub fn service_client(
    node: &super::serve_node::ServeNode,
    name: &str,
    timeout: std::time::Duration,
) -> SoapClient {
    SoapClient::new(
        &format!("{}/services/{name}", node.base()),
        ithaca_wsdl::SoapVersion::Soap11,
    )
    .unwrap()
    .with_timeout(timeout)
}

/// How long a crash suite's transfers may take.
#[derive(Clone, Copy)]
pub struct TransferTimeouts {
    /// Each SOAP request to a bank and to the coordinator.
    pub request: std::time::Duration,
    /// Waiting for the coordinator's outcome after Commit.
    pub outcome: std::time::Duration,
    /// Each transaction's Expires.
    pub expires: std::time::Duration,
}

impl TransferClient {
    /// A client moving money from `bank_a`'s service `bank-a` to `bank_b`'s
    /// `bank-b` in transactions of `coordinator`, with its initiator
    /// (correlation key of 32 times `key`) served by the returned gateway,
    /// which must be kept alive.
    pub async fn between(
        key: u8,
        coordinator: &super::serve_node::ServeNode,
        bank_a: &super::serve_node::ServeNode,
        bank_b: &super::serve_node::ServeNode,
        timeouts: TransferTimeouts,
    ) -> (std::sync::Arc<Self>, super::TestGateway) {
        let Initiator { wsat, gateway } = Initiator::start(key).await;
        let client = Self {
            wsat,
            activation: format!("{}/wsat/activation", coordinator.base()),
            from: service_client(bank_a, "bank-a", timeouts.request),
            to: service_client(bank_b, "bank-b", timeouts.request),
            options: BeginOptions {
                expires: Some(timeouts.expires),
                request_timeout: timeouts.request,
                outcome_timeout: timeouts.outcome,
                ..BeginOptions::default()
            },
        };
        (std::sync::Arc::new(client), gateway)
    }
}

/// What a bank's auditor checks of the two journals (transaction → net
/// movement): every transaction is debited in bank-a and credited the same
/// amount in bank-b, or in neither; one the client was told Committed is
/// in both, one told Aborted in neither.
#[track_caller]
pub fn assert_atomic(
    a: &std::collections::HashMap<String, i64>,
    b: &std::collections::HashMap<String, i64>,
    seen: &[Seen],
) {
    for (tx, debit) in a {
        assert!(*debit < 0, "{tx}: bank-a's journal holds {debit}");
        assert_eq!(
            b.get(tx),
            Some(&-debit),
            "{tx} is half-applied: bank-a {debit}, bank-b {:?}",
            b.get(tx)
        );
    }
    for (tx, credit) in b {
        assert!(
            a.contains_key(tx),
            "{tx} is half-applied: only bank-b has {credit}"
        );
    }
    for s in seen {
        match (&s.tx, &s.outcome) {
            (Some(tx), Ok(Outcome::Committed)) => {
                assert!(
                    a.contains_key(tx),
                    "{tx} was reported committed but is in no bank"
                );
            }
            (Some(tx), Ok(Outcome::Aborted)) => {
                assert!(
                    !a.contains_key(tx),
                    "{tx} was reported aborted but committed"
                );
            }
            _ => {}
        }
    }
}
