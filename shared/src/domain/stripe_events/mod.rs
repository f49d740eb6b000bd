//! Stripe's webhook events, each applied exactly once: the event record (written only if
//! absent) and all of the event's effects commit in one transaction, so a re-delivery, a
//! concurrent delivery or a crash half-way can neither apply an event twice nor apply half.
//!
//! The event is decoded once (`Handled`); each family has its module: `checkout`,
//! `reversal_events` (refunds and disputes), `subscription_events`, `invoices`.

mod checkout;
mod invoices;
mod outcome;
mod reversal_events;
mod schedule_events;
mod subscription_events;

use std::collections::HashMap;

pub use outcome::Outcome;

use crate::app::App;
use crate::error::Error;
use crate::store::schema::metrics::{self, Family};
use crate::store::schema::{EventRecord, events};
use crate::store::{Label, StoreError, Tx};
use crate::stripe::{Event, Handled, signature};

use super::mail::{self, MailKind, Queued};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// The event's effects were applied now.
    Applied(Outcome),
    /// This event id was applied before: nothing changed.
    Duplicate,
    /// Recorded, with nothing to do (a type Tollgate does not handle, or nothing left to change).
    Ignored(Outcome),
}

tokio::task_local! {
    /// The id of the event being delivered: only its own record counts as a delivery (an
    /// event a claim applies, or one that waited, was counted when it was delivered).
    static DELIVERED: String;
}

/// A delivery's class in the admin metrics' webhook counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Applied,
    Ignored,
    Waiting,
    Duplicate,
    Rejected,
    Error,
}

impl Delivery {
    pub const ALL: [Delivery; 6] = [
        Delivery::Applied,
        Delivery::Ignored,
        Delivery::Waiting,
        Delivery::Duplicate,
        Delivery::Rejected,
        Delivery::Error,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Applied => "applied",
            Delivery::Ignored => "ignored",
            Delivery::Waiting => "waiting",
            Delivery::Duplicate => "duplicate",
            Delivery::Rejected => "rejected",
            Delivery::Error => "error",
        }
    }
}

/// The delivery's counter, when `event` is the event being delivered: folded into the write that
/// records it, so the count commits exactly when the record does.
pub(crate) fn count_delivery(event_id: &str, class: Delivery, now: i64) -> Tx {
    if DELIVERED.try_with(|id| id == event_id).unwrap_or(false) {
        metrics::count_day(Family::Webhook, event_id, now, &metrics::Counts::from([(class.as_str().to_string(), 1)]))
    } else {
        Tx::new()
    }
}

/// Verifies, parses and applies one delivery, and counts it: an applied, ignored or waiting
/// delivery in the transaction that recorded it; a signed one that recorded nothing (a
/// duplicate, an unreadable event, an error) with a write of its own, which may fail without
/// changing the answer.
pub async fn receive(app: &App, body: &[u8], signature_header: Option<&str>) -> Result<Receipt, Error> {
    let (mut delivered, mut signed) = (None, false);
    let result = verify_and_apply(app, body, signature_header, &mut delivered, &mut signed).await;
    let class = match &result {
        Ok(Receipt::Applied(Outcome::WaitingForCustomer)) => Delivery::Waiting,
        Ok(Receipt::Applied(_)) => Delivery::Applied,
        Ok(Receipt::Ignored(_)) => Delivery::Ignored,
        Ok(Receipt::Duplicate) => Delivery::Duplicate,
        Err(e) if e.status() < 500 => Delivery::Rejected,
        Err(_) => Delivery::Error,
    };
    crate::emf::webhook_delivery(class.as_str());
    // Applied, ignored and waiting deliveries were counted in the write that recorded them; a
    // delivery of the other mode recorded nothing.
    let recorded = matches!(class, Delivery::Applied | Delivery::Ignored | Delivery::Waiting)
        && !matches!(result, Ok(Receipt::Ignored(Outcome::LivemodeMismatch)));
    // A body whose signature failed is never counted in the store: anyone can send one, and none
    // may cost a write (CloudWatch counts it, in the EMF document above).
    let subject = delivered.or(signed.then(|| app.now().to_string()));
    if let (false, Some(subject)) = (recorded, subject) {
        let counts = metrics::Counts::from([(class.as_str().to_string(), 1)]);
        if let Err(e) = app.store.commit(metrics::count_day(Family::Webhook, &subject, app.now(), &counts)).await {
            tracing::warn!(error = %e, "a webhook delivery's counter was not written");
        }
    }
    result
}

async fn verify_and_apply(
    app: &App,
    body: &[u8],
    signature_header: Option<&str>,
    delivered: &mut Option<String>,
    signed: &mut bool,
) -> Result<Receipt, Error> {
    let stripe = &app.config.stripe;
    if !(stripe.allow_unsigned_webhooks && signature_header.is_none()) {
        signature::verify(
            body,
            signature_header,
            &stripe.webhook_secrets.iter().map(|s| s.expose()).collect::<Vec<_>>(),
            app.now(),
            stripe.webhook_tolerance_secs,
        )
        .map_err(|e| Error::bad_request(e.code(), e.to_string()))?;
    }
    *signed = true;
    let event = Event::parse(body).map_err(|e| Error::bad_request("not_a_stripe_event", e.to_string()))?;
    crate::http::log::note_event(&event.id, &event.event_type);
    *delivered = Some(event.id.clone());
    // From here the body is a validly signed Stripe event: 2xx (applied, duplicate or deliberately
    // ignored) or 5xx (retry me), never 4xx.
    if event.livemode != stripe.livemode() {
        tracing::warn!(event_id = %event.id, "an event of the other mode (test/live) than the Stripe key: ignored");
        return Ok(Receipt::Ignored(Outcome::LivemodeMismatch));
    }
    // Customers Tollgate creates are linked before Stripe knows them; a customer Checkout or a
    // Payment Link made is linked by a claim, which applies what waited for it.
    DELIVERED.scope(event.id.clone(), apply(app, &event)).await.map_err(|e| match e.status() {
        400..=499 => Error::Retry { code: e.code(), message: e.to_string() },
        _ => e,
    })
}

/// Applies one event (a delivery, or one that waited for its customer).
pub async fn apply(app: &App, event: &Event) -> Result<Receipt, Error> {
    // A handled event whose object Tollgate cannot read: retried (after a fix it applies), never
    // dropped, never a 4xx.
    let handled =
        Handled::decode(event).map_err(|e| Error::Retry { code: "unreadable_event", message: e.to_string() })?;
    match handled {
        Handled::CheckoutCompleted(session) => checkout::completed(app, event, session).await,
        Handled::CheckoutExpired(session) => checkout::closed(app, event, session, Outcome::OrderExpired).await,
        Handled::CheckoutFailed(session) => checkout::closed(app, event, session, Outcome::OrderFailed).await,
        Handled::ChargeRefunded(charge) => reversal_events::refunded(app, event, charge).await,
        Handled::DisputeOpened(dispute) => reversal_events::dispute(app, event, dispute, false).await,
        Handled::DisputeClosed(dispute) => reversal_events::dispute(app, event, dispute, true).await,
        Handled::Subscription(change, sub) => subscription_events::changed(app, event, change, sub).await,
        Handled::InvoicePaymentPaid(payment) => invoices::payment_paid(app, event, payment).await,
        Handled::Invoice(change, invoice) => invoices::changed(app, event, change, invoice).await,
        Handled::Schedule(schedule) => schedule_events::changed(app, event, schedule).await,
        Handled::Other => record_only(app, event, Outcome::Ignored).await,
    }
}

/// The event's exactly-once record, refused (`Event`) when it was applied before, with the
/// delivery's counter.
pub(crate) fn event_record(event: &Event, outcome: Outcome, class: Delivery, now: i64) -> Tx {
    let mut tx = events::record(&EventRecord {
        id: event.id.clone(),
        event_type: event.event_type.clone(),
        outcome: outcome.as_str().to_string(),
        received_at: now,
    });
    tx.append(count_delivery(&event.id, class, now));
    tx
}

/// Records the event with nothing to change.
pub(crate) async fn record_only(app: &App, event: &Event, outcome: Outcome) -> Result<Receipt, Error> {
    match app.store.commit(event_record(event, outcome, Delivery::Ignored, app.now())).await {
        Ok(()) => Ok(Receipt::Ignored(outcome)),
        Err(e) if e.refused(Label::Event) => Ok(Receipt::Duplicate),
        Err(e) => Err(e.into()),
    }
}

/// The one exactly-once rule, given how the transaction that carried the event's record went
/// (`Err`: the labels refused): applied; a duplicate when the record was refused; and when only
/// the effects' own conditions failed (another path applied them first), the event is recorded
/// alone.
pub(crate) async fn settle(
    app: &App,
    event: &Event,
    outcome: Outcome,
    result: Result<(), Vec<Label>>,
) -> Result<Receipt, Error> {
    match result {
        Ok(()) => Ok(Receipt::Applied(outcome)),
        Err(refused) if refused.contains(&Label::Event) => Ok(Receipt::Duplicate),
        Err(_) => record_only(app, event, Outcome::AlreadyApplied).await,
    }
}

/// The event's record and its effects, all or nothing (see `settle`).
pub(crate) async fn record_event_once(
    app: &App,
    event: &Event,
    outcome: Outcome,
    effects: Tx,
) -> Result<Receipt, Error> {
    let mut tx = event_record(event, outcome, Delivery::Applied, app.now());
    tx.append(effects);
    let result = match app.store.transact(tx).await {
        Ok(()) => Ok(()),
        Err(StoreError::Cancelled { failed }) => Err(failed),
        Err(e) => return Err(e.into()),
    };
    settle(app, event, outcome, result).await
}

/// The user a Stripe object is about: Tollgate's metadata, else the customer's owner.
pub(crate) async fn user_for(
    app: &App,
    metadata: &HashMap<String, String>,
    customer: Option<String>,
) -> Result<Option<String>, Error> {
    if let Some(id) = metadata.get("user_id") {
        return Ok(Some(id.clone()));
    }
    let Some(customer) = customer else { return Ok(None) };
    super::users::owner_of_customer(&app.store, &customer).await
}

/// The email a billing event sends, rendered for the user (None: they have no address on file).
async fn letter(
    app: &App,
    user_id: &str,
    kind: Option<MailKind>,
    context: serde_json::Value,
) -> Result<Option<Queued>, Error> {
    let Some(kind) = kind else { return Ok(None) };
    let Some(user) = super::users::user_by_id(&app.store, user_id).await?.filter(|u| !u.email.is_empty()) else {
        tracing::warn!(user_id, kind = kind.as_str(), "no email address for a billing email");
        return Ok(None);
    };
    Ok(Some(Queued { kind, email: mail::render(kind, &user.email, &context)? }))
}

/// The receipt of an event whose effects may have queued emails: sends them once applied, and
/// on a re-delivery sends what an earlier delivery left unsent.
async fn with_mail(app: &App, event: &Event, receipt: Receipt, queued: &Option<Queued>) -> Result<Receipt, Error> {
    match (&receipt, queued) {
        (Receipt::Applied(_), Some(q)) => mail::send_queued(app, &event.id, std::slice::from_ref(q)).await,
        // Only an event that queues an email can have one left unsent.
        (Receipt::Duplicate, Some(_)) => mail::send_unsent(app, &event.id).await?,
        _ => {}
    }
    Ok(receipt)
}
