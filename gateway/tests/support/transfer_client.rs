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
