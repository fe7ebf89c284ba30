//! Rust code generated from WSDL by `ithaca_wsdl::codegen` (see
//! `build.rs`), and the services of the "Hosting a SOAP service" guide
//! (`docs/hosting-a-soap-service.md`).
//!
//! - [`echo`]: the types, server trait and client of `contracts/echo.wsdl`.
//! - [`orders`]: the same for `contracts/orders.wsdl`, a contract with
//!   nested types, a choice, arrays, an enumeration, optional and nillable
//!   elements, attributes, extension, recursion and a declared fault.
//! - [`calculator`]: the same for `contracts/calculator.wsdl`, an
//!   rpc/literal contract with a one-way operation.
//! - [`session`]: the same for `contracts/session.wsdl`, whose operations
//!   bind SOAP header parts (an input header, an output header, both).
//! - [`notes`]: the same for `contracts/notes.wsdl`, whose mixed content
//!   and `xs:anyType` elements map to `ithaca_wsdl::typed::AnyXml`.
//! - [`legacy`]: the server side of `contracts/legacy.wsdl`, an
//!   rpc/encoded contract (SOAP 1.1 section 5).
//! - [`EchoImpl`], [`OrdersImpl`], [`CalculatorImpl`], [`SessionImpl`],
//!   [`NotesImpl`] and [`LegacyImpl`]:
//!   implementations of the generated traits, which the binary
//!   `soap_codegen_server` and the tests host.

use std::sync::{Arc, Mutex};

use ithaca_gateway::router::Router;
use ithaca_gateway::soap::{Contract, SetupError, SoapService};
use ithaca_wsdl::typed::HeaderFault;

/// The code generated from `contracts/echo.wsdl`.
pub mod echo {
    include!(concat!(env!("OUT_DIR"), "/echo.rs"));
}

/// The code generated from `contracts/orders.wsdl`.
pub mod orders {
    include!(concat!(env!("OUT_DIR"), "/orders.rs"));
}

/// The code generated from `contracts/calculator.wsdl` (rpc/literal).
pub mod calculator {
    include!(concat!(env!("OUT_DIR"), "/calculator.rs"));
}

/// The code generated from `contracts/session.wsdl` (SOAP header parts).
pub mod session {
    include!(concat!(env!("OUT_DIR"), "/session.rs"));
}

/// The code generated from `contracts/notes.wsdl` (content kept as XML).
pub mod notes {
    include!(concat!(env!("OUT_DIR"), "/notes.rs"));
}

/// The code generated from `contracts/legacy.wsdl` (rpc/encoded).
pub mod legacy {
    include!(concat!(env!("OUT_DIR"), "/legacy.rs"));
}

/// The echo contract's text.
pub const ECHO_WSDL: &str = include_str!("../contracts/echo.wsdl");
/// The orders contract's text.
pub const ORDERS_WSDL: &str = include_str!("../contracts/orders.wsdl");
/// The calculator contract's text.
pub const CALCULATOR_WSDL: &str = include_str!("../contracts/calculator.wsdl");
/// The session contract's text.
pub const SESSION_WSDL: &str = include_str!("../contracts/session.wsdl");
/// The notes contract's text.
pub const NOTES_WSDL: &str = include_str!("../contracts/notes.wsdl");
/// The legacy (rpc/encoded) contract's text.
pub const LEGACY_WSDL: &str = include_str!("../contracts/legacy.wsdl");

/// Answers `echo` with the text repeated `times` times (once by default).
#[derive(Debug, Default)]
pub struct EchoImpl;

impl echo::EchoPort for EchoImpl {
    async fn echo(&self, input: echo::Echo) -> Result<echo::EchoResponse, echo::EchoFault> {
        let times = usize::try_from(input.times.unwrap_or(1))
            .unwrap_or(0)
            .min(16);
        Ok(echo::EchoResponse {
            text: input.text.repeat(times),
        })
    }
}

/// Takes orders: totals their lines, and rejects an order holding a line
/// of SKU `gone` with the declared fault `OrderRejected`.
#[derive(Debug, Default)]
pub struct OrdersImpl;

impl orders::Orders for OrdersImpl {
    async fn place_order(
        &self,
        order: orders::PlaceOrder,
    ) -> Result<orders::PlaceOrderResponse, orders::PlaceOrderFault> {
        let gone: Vec<String> = order
            .line
            .iter()
            .filter(|line| line.sku == "gone")
            .map(|line| line.sku.clone())
            .collect();
        if !gone.is_empty() {
            return Err(orders::PlaceOrderFault::OrderRejected(
                ithaca_wsdl::typed::DeclaredFault::new(
                    "out of stock",
                    orders::OrderRejected {
                        code: 409,
                        sku: gone,
                    },
                ),
            ));
        }
        let cents: i64 = order
            .line
            .iter()
            .map(|line| i64::from(line.quantity) * price_in_cents(&line.unit_price.0))
            .sum();
        let payment = match &order.choice {
            orders::PlaceOrderChoice::Card(card) => format!("card of {}", card.holder),
            orders::PlaceOrderChoice::Iban(iban) => format!("iban {iban}"),
            orders::PlaceOrderChoice::Voucher(voucher) => {
                format!("voucher of {} bytes", voucher.0.len())
            }
        };
        let mut category = Vec::new();
        let mut next = order.category.as_ref();
        while let Some(c) = next {
            category.push(c.name.clone());
            next = c.parent.as_deref();
        }
        let summary = format!(
            "{} for {} ({}) in {}; {payment}; notes {:?}; express {:?}; category {}; tags {}",
            order.customer.name,
            order.customer.address.city,
            order.customer.id,
            order.customer.address.postal_code.as_deref().unwrap_or("-"),
            order
                .line
                .iter()
                .map(|l| l.note.as_deref().unwrap_or("nil"))
                .collect::<Vec<_>>(),
            order.express,
            category.join("<"),
            order.tag.join(","),
        );
        Ok(orders::PlaceOrderResponse {
            order_id: order.order_id,
            status: if order.express == Some(true) {
                orders::Status::Shipped
            } else {
                order.status
            },
            total: ithaca_wsdl::typed::Decimal(format!("{}.{:02}", cents / 100, cents % 100)),
            lines: u32::try_from(order.line.len()).unwrap_or(u32::MAX),
            summary,
        })
    }
}

/// The rpc/literal calculator: adds, measures points, and keeps the last
/// note the one-way `record` sent.
#[derive(Debug, Default)]
pub struct CalculatorImpl {
    last_note: Mutex<String>,
}

impl calculator::Calculator for CalculatorImpl {
    async fn add(
        &self,
        input: calculator::AddRequest,
    ) -> Result<calculator::AddResponse, calculator::AddFault> {
        let sum = input.a.checked_add(input.b).ok_or_else(|| {
            calculator::AddFault::Soap(ithaca_wsdl::Fault::new(
                ithaca_wsdl::FaultCode::Sender,
                "the sum overflows xs:int",
            ))
        })?;
        Ok(calculator::AddResponse { sum })
    }

    async fn norm(
        &self,
        input: calculator::NormRequest,
    ) -> Result<calculator::NormResponse, calculator::NormFault> {
        let point = input.point;
        Ok(calculator::NormResponse {
            manhattan: i64::from(point.x).abs() + i64::from(point.y).abs(),
        })
    }

    async fn record(
        &self,
        input: calculator::RecordRequest,
    ) -> Result<(), calculator::RecordFault> {
        if let Ok(mut last) = self.last_note.lock() {
            *last = input.note;
        }
        Ok(())
    }

    async fn last_note(
        &self,
        _input: calculator::LastNoteRequest,
    ) -> Result<calculator::LastNoteResponse, calculator::LastNoteFault> {
        let note = self.last_note.lock().map(|n| n.clone()).unwrap_or_default();
        Ok(calculator::LastNoteResponse { note })
    }
}

/// Greets the user the `auth` header names, and numbers every answer in
/// the output header `audit`; a request without `auth`, or with a token
/// other than `secret-USER`, is refused with a Sender fault.
#[derive(Debug, Default)]
pub struct SessionImpl {
    requests: std::sync::atomic::AtomicI64,
}

impl SessionImpl {
    fn audit(&self, level: &str) -> session::Audit {
        session::Audit {
            request_id: self
                .requests
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1,
            served_by: "ithaca-soap-codegen-example".into(),
            level: Some(level.into()),
        }
    }
}

/// The user a valid `auth` header names, or why there is none.
fn authenticated(auth: Option<&session::Auth>) -> Result<&str, &'static str> {
    let auth = auth.ok_or("the auth header is missing")?;
    if auth.token != format!("secret-{}", auth.user) {
        return Err("the auth token is wrong");
    }
    Ok(&auth.user)
}

impl session::Session for SessionImpl {
    async fn greet(
        &self,
        input: session::Greet,
        headers: session::GreetInputHeaders,
    ) -> Result<(session::GreetResponse, session::GreetOutputHeaders), session::GreetFault> {
        // A wrong token is the declared header fault `authRefused` (its
        // block goes in the fault's Header); a missing header a plain fault.
        if let Some(auth) = &headers.auth
            && let Err(reason) = authenticated(Some(auth))
        {
            return Err(session::GreetFault::AuthRefused(HeaderFault::new(
                reason,
                session::AuthRefused {
                    user: auth.user.clone(),
                    reason: reason.into(),
                },
            )));
        }
        let user = authenticated(headers.auth.as_ref())
            .map_err(|reason| ithaca_wsdl::Fault::new(ithaca_wsdl::FaultCode::Sender, reason))?;
        let response = session::GreetResponse {
            greeting: format!("hello {}, from {user}", input.name),
        };
        let headers = session::GreetOutputHeaders {
            audit: Some(self.audit("info")),
        };
        Ok((response, headers))
    }

    async fn whoami(
        &self,
        _input: session::Whoami,
        headers: session::WhoamiInputHeaders,
    ) -> Result<session::WhoamiResponse, session::WhoamiFault> {
        Ok(session::WhoamiResponse {
            user: headers.auth.map(|auth| auth.user),
        })
    }

    async fn stamp(
        &self,
        input: session::Stamp,
    ) -> Result<(session::StampResponse, session::StampOutputHeaders), session::StampFault> {
        Ok((
            session::StampResponse {
                note: input.note,
                // The list sorted, the union as received.
                codes: input.codes.map(|mut codes| {
                    codes.sort_unstable();
                    codes
                }),
                size: input.size,
                extras: input.extras,
            },
            session::StampOutputHeaders {
                audit: Some(self.audit("debug")),
            },
        ))
    }
}

/// Answers `annotate` with the note, the `extra` and `untyped` elements as
/// received (raw XML) and the number of words in the note's text.
#[derive(Debug, Default)]
pub struct NotesImpl;

impl notes::Notes for NotesImpl {
    async fn annotate(
        &self,
        input: notes::Annotate,
    ) -> Result<notes::AnnotateResponse, notes::AnnotateFault> {
        let words = words_outside_tags(&input.note.content);
        Ok(notes::AnnotateResponse {
            note: input.note,
            extra: input.extra,
            untyped: input.untyped,
            words: i32::try_from(words).unwrap_or(i32::MAX),
        })
    }
}

/// Answers the rpc/encoded `add`, `describe`, `stats`, `roster` and
/// `lineup` (the last three over SOAP-encoded arrays).
#[derive(Debug, Default)]
pub struct LegacyImpl;

impl legacy::Legacy for LegacyImpl {
    async fn add(
        &self,
        input: legacy::AddRequest,
    ) -> Result<legacy::AddResponse, legacy::AddFault> {
        Ok(legacy::AddResponse {
            sum: input.a.wrapping_add(input.b),
        })
    }

    async fn describe(
        &self,
        input: legacy::DescribeRequest,
    ) -> Result<legacy::DescribeResponse, legacy::DescribeFault> {
        let person = input.person;
        let email = person.email.as_deref().unwrap_or("no email");
        Ok(legacy::DescribeResponse {
            summary: format!("{} ({}), {email}", person.name, person.age),
        })
    }

    async fn stats(
        &self,
        input: legacy::StatsRequest,
    ) -> Result<legacy::StatsResponse, legacy::StatsFault> {
        Ok(legacy::StatsResponse {
            total: input
                .numbers
                .iter()
                .fold(0i32, |sum, n| sum.wrapping_add(*n)),
            labelled: input
                .labels
                .iter()
                .zip(&input.numbers)
                .map(|(label, n)| format!("{label}={n}"))
                .collect(),
        })
    }

    async fn roster(
        &self,
        input: legacy::RosterRequest,
    ) -> Result<legacy::RosterResponse, legacy::RosterFault> {
        let adults: Vec<legacy::Person> = input
            .people
            .iter()
            .filter(|p| p.age >= 18)
            .cloned()
            .collect();
        let oldest = adults
            .iter()
            .max_by_key(|p| p.age)
            .cloned()
            .unwrap_or(legacy::Person {
                name: String::new(),
                age: 0,
                email: None,
            });
        Ok(legacy::RosterResponse {
            names: input.people.into_iter().map(|p| p.name).collect(),
            adults,
            oldest,
        })
    }

    async fn lineup(
        &self,
        input: legacy::LineupRequest,
    ) -> Result<legacy::LineupResponse, legacy::LineupFault> {
        let mut team = input.team;
        team.name.push_str(" (by age)");
        team.members.sort_by_key(|p| p.age);
        if let Some(scores) = &mut team.scores {
            scores.reverse();
        }
        Ok(legacy::LineupResponse { lineup: team })
    }
}

/// The whitespace-separated words of XML content, tags taken as spaces.
fn words_outside_tags(xml: &str) -> usize {
    let mut text = String::with_capacity(xml.len());
    let mut in_tag = false;
    for c in xml.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().count()
}

/// A decimal price such as `2.50` in cents (at most two decimals read).
fn price_in_cents(price: &str) -> i64 {
    let (units, fraction) = price.split_once('.').unwrap_or((price, ""));
    let units: i64 = units.parse().unwrap_or(0);
    let fraction: String = fraction.chars().chain("00".chars()).take(2).collect();
    units * 100 + fraction.parse::<i64>().unwrap_or(0)
}

/// The routes of both services: the echo contract at
/// `/services/EchoService` (SOAP 1.1) and `/services/EchoService/soap12`,
/// the orders contract at `/services/OrderService`, the calculator at
/// `/services/CalculatorService`, the session contract at
/// `/services/SessionService` and `/services/SessionService/soap12`, the
/// notes contract at `/services/NotesService`, the legacy (rpc/encoded)
/// contract at `/services/LegacyService`.
pub fn routes() -> Result<Router, SetupError> {
    let echo = echo::serve_echo_port(
        SoapService::builder(Contract::from_bytes("echo.wsdl", ECHO_WSDL)?),
        Arc::new(EchoImpl),
    )
    .build()?;
    let orders = orders::serve_orders(
        SoapService::builder(Contract::from_bytes("orders.wsdl", ORDERS_WSDL)?),
        Arc::new(OrdersImpl),
    )
    .build()?;
    let calculator = calculator::serve_calculator(
        SoapService::builder(Contract::from_bytes("calculator.wsdl", CALCULATOR_WSDL)?),
        Arc::new(CalculatorImpl::default()),
    )
    .build()?;
    let session = session::serve_session(
        SoapService::builder(Contract::from_bytes("session.wsdl", SESSION_WSDL)?),
        Arc::new(SessionImpl::default()),
    )
    .build()?;
    let notes = notes::serve_notes(
        SoapService::builder(Contract::from_bytes("notes.wsdl", NOTES_WSDL)?),
        Arc::new(NotesImpl),
    )
    .build()?;
    let legacy = legacy::serve_legacy(
        SoapService::builder(Contract::from_bytes("legacy.wsdl", LEGACY_WSDL)?),
        Arc::new(LegacyImpl),
    )
    .build()?;
    Ok(echo
        .merge(&orders)
        .merge(&calculator)
        .merge(&session)
        .merge(&notes)
        .merge(&legacy))
}
