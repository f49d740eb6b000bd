//! Reversals: a refund or a dispute takes back what a payment paid for (a plan's grant, a pack's
//! credits, a subscription period's credits); a dispute decided for the business gives it back.
//!
//! The payment's pointer (`PAYMENT#<id>`) is the one guard. The first reversal marks it
//! (`reversed_by`) in the same transaction as its effects, so a refund and a dispute of one
//! payment, or any number of deliveries, reverse it once. Every write that moves what the payment
//! bought (a claim moving an anonymous purchase to its buyer) is conditional on the pointer as it
//! was read, and so is every reversal: whichever lands first, the other sees it and re-reads,
//! and the reversal always wins.

use crate::app::App;
use crate::error::Error;
use crate::store::schema::{Holder, OrderStatus, PaymentPointer, Reason, RequestKey, grants, orders, payments};
use crate::store::{Label, StoreError, Tx};
use crate::stripe::Event;

use super::credits::{self, Change, Floor};
use super::stripe_events::{Delivery, Outcome, Receipt, event_record, record_event_once, record_only, settle};

/// What reverses a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    Refund,
    Dispute(String),
}

impl Cause {
    pub fn tag(&self) -> String {
        match self {
            Cause::Refund => "refund".to_string(),
            Cause::Dispute(id) => format!("dispute:{id}"),
        }
    }
    /// The cause a pointer's `reversed_by` names.
    pub fn from_tag(tag: &str) -> Cause {
        match tag.strip_prefix("dispute:") {
            Some(id) => Cause::Dispute(id.to_string()),
            None => Cause::Refund,
        }
    }
    fn reason(&self) -> Reason {
        match self {
            Cause::Refund => Reason::Refund,
            Cause::Dispute(_) => Reason::Dispute,
        }
    }
    fn order_status(&self) -> OrderStatus {
        match self {
            Cause::Refund => OrderStatus::Refunded,
            Cause::Dispute(_) => OrderStatus::Disputed,
        }
    }
}

/// A claim and a reversal may race; each re-reads when the other got there first.
const ATTEMPTS: usize = 8;

pub async fn pointer_of(app: &App, payment_id: &str) -> Result<Option<PaymentPointer>, Error> {
    Ok(payments::get(&app.store, payment_id).await?)
}

/// What a payment's reversal reads: the pointer it leads to (an invoice payment's leads to its
/// invoice's), the key of the pointer that guards it (where a reversal that finds nothing
/// recorded leaves its mark), and whether the payment's own and the guard's pointers exist.
struct Resolved {
    found: Option<PaymentPointer>,
    guard: String,
    payment_exists: bool,
    guard_exists: bool,
}

async fn resolve(app: &App, payment_id: &str) -> Result<Resolved, Error> {
    let own = pointer_of(app, payment_id).await?;
    let payment_exists = own.is_some();
    match own.as_ref().and_then(|p| p.invoice.clone().filter(|i| i != payment_id)) {
        Some(invoice) => {
            let found = pointer_of(app, &invoice).await?;
            Ok(Resolved { guard_exists: found.is_some(), found, guard: invoice, payment_exists })
        }
        None => {
            Ok(Resolved { found: own, guard: payment_id.to_string(), payment_exists, guard_exists: payment_exists })
        }
    }
}

/// Reverses what `payment_id` paid for, once, whichever event (refund or dispute) comes first.
pub async fn reverse(app: &App, event: &Event, payment_id: &str, cause: Cause) -> Result<Receipt, Error> {
    let now = app.now();
    for _ in 0..ATTEMPTS {
        let Resolved { found, guard, payment_exists, guard_exists } = resolve(app, payment_id).await?;
        if let Cause::Dispute(id) = &cause
            && found.as_ref().is_some_and(|p| p.won_disputes.contains(id))
        {
            // Stripe delivered the decision first: the dispute is over, won.
            return record_only(app, event, Outcome::DisputeAlreadyWon).await;
        }
        let Some(read) = found.filter(|p| p.holder.is_some()) else {
            // Nothing recorded yet: remember, so a purchase (or an invoice's credits) delivered
            // later is recorded reversed.
            let mut marks = payments::reversed_first(payment_id, &cause.tag(), now, payment_exists);
            if guard != payment_id {
                marks.append(payments::reversed_first(&guard, &cause.tag(), now, guard_exists));
            }
            let outcome =
                if cause == Cause::Refund { Outcome::RefundBeforePurchase } else { Outcome::DisputeBeforePurchase };
            let mut tx = event_record(event, outcome, Delivery::Applied, now);
            tx.append(marks);
            match app.store.transact(tx).await {
                Ok(()) => return Ok(Receipt::Applied(outcome)),
                // Something was recorded for the payment meanwhile: read again and reverse it.
                Err(StoreError::Cancelled { failed })
                    if failed.contains(&Label::Marker) && !failed.contains(&Label::Event) =>
                {
                    continue;
                }
                Err(StoreError::Cancelled { failed }) => return settle(app, event, outcome, Err(failed)).await,
                Err(e) => return Err(e.into()),
            }
        };
        if read.reversed_by.is_some() {
            return record_only(app, event, Outcome::AlreadyApplied).await;
        }
        let order = read.order_id.as_ref().map(|id| orders::reversed(id, cause.order_status(), now));
        let attempt = match (&read.holder, read.credits) {
            (Some(Holder::User(user_id)), Some(credits)) if credits > 0 => {
                take_back(app, event, &read, user_id, credits, &cause, order).await?
            }
            (Some(holder), _) => revoke_grant(app, event, &read, holder, &cause, order).await?,
            (None, _) => unreachable!("filtered above"),
        };
        if let Some(receipt) = attempt {
            return Ok(receipt);
        }
    }
    Err(Error::internal("the payment kept changing while it was reversed"))
}

/// Takes back what is still unspent of the credits the payment bought, never below zero; the
/// ledger entry records the shortfall, and the pointer what was taken. None: re-read and retry.
async fn take_back(
    app: &App,
    event: &Event,
    read: &PaymentPointer,
    user_id: &str,
    credits: i64,
    cause: &Cause,
    order: Option<Tx>,
) -> Result<Option<Receipt>, Error> {
    // Per cause: after a won dispute gave the credits back, a refund takes them again.
    let key = format!("reversal:{}:{}", read.payment_id, cause.tag());
    let change = Change {
        user_id,
        delta: -credits,
        floor: Floor::Clamp,
        reason: cause.reason(),
        note: None,
        reference: Some(read.order_id.as_deref().or(read.invoice.as_deref()).unwrap_or(&read.payment_id)),
        key: Some(RequestKey::Own(&key)),
    };
    let now = app.now();
    let with = |entry: &crate::store::schema::LedgerEntry| {
        let mut tx = event_record(event, Outcome::CreditsTakenBack, Delivery::Applied, now);
        tx.append(payments::mark_reversed(read, &cause.tag(), Some(-entry.delta), now));
        if let Some(order) = &order {
            tx.append(order.clone());
        }
        tx
    };
    Ok(match credits::apply(app, &change, &with).await? {
        credits::Outcome::Applied(_) => Some(Receipt::Applied(Outcome::CreditsTakenBack)),
        // The pointer changed (a claim, or another reversal): read it again.
        credits::Outcome::Refused(refused) if !refused.contains(&Label::Event) && refused.contains(&Label::Pointer) => {
            None
        }
        credits::Outcome::Refused(refused) => Some(settle(app, event, Outcome::CreditsTakenBack, Err(refused)).await?),
        // Taken back before under this payment's key.
        _ => Some(record_only(app, event, Outcome::AlreadyApplied).await?),
    })
}

/// Revokes the plan (or the credits still waiting for an anonymous buyer) the payment bought.
/// None: re-read and retry.
async fn revoke_grant(
    app: &App,
    event: &Event,
    read: &PaymentPointer,
    holder: &Holder,
    cause: &Cause,
    order: Option<Tx>,
) -> Result<Option<Receipt>, Error> {
    let now = app.now();
    let outcome = if matches!(cause, Cause::Refund) { Outcome::PurchaseRevoked } else { Outcome::PurchaseDisputed };
    let mut tx = event_record(event, outcome, Delivery::Applied, now);
    tx.append(payments::mark_reversed(read, &cause.tag(), None, now));
    if let Some(order) = order {
        tx.append(order);
    }
    if let Some(order_id) = &read.order_id {
        tx.append(grants::revoke(holder, order_id, now));
        if let (Holder::User(user_id), Some(plan)) = (holder, read.plan.as_deref().filter(|p| !p.is_empty())) {
            tx.append(super::plans::release(user_id, plan, now));
        }
    }
    match app.store.transact(tx).await {
        Ok(()) => Ok(Some(Receipt::Applied(outcome))),
        Err(e) if e.refused(Label::Event) => Ok(Some(Receipt::Duplicate)),
        Err(e) if e.refused(Label::Pointer) => Ok(None),
        Err(StoreError::Cancelled { failed }) => Ok(Some(settle(app, event, outcome, Err(failed)).await?)),
        Err(e) => Err(e.into()),
    }
}

/// A dispute decided for the business: gives back what that dispute took (nothing, when a refund
/// or another dispute reversed the payment, or the dispute never took anything).
pub async fn restore(app: &App, event: &Event, payment_id: &str, dispute_id: &str) -> Result<Receipt, Error> {
    let tag = Cause::Dispute(dispute_id.to_string()).tag();
    let now = app.now();
    let Resolved { found, guard, .. } = resolve(app, payment_id).await?;
    let Some(read) = found.filter(|p| p.reversed_by.as_deref() == Some(tag.as_str())) else {
        // Nothing this dispute took: remember it was won, so its "opened" event, if Stripe
        // delivers it late, takes nothing.
        return record_event_once(app, event, Outcome::DisputeWon, payments::dispute_won(&guard, dispute_id, now))
            .await;
    };
    let mut effects = payments::unmark(&read, &tag);
    if let Some(order_id) = &read.order_id {
        effects.append(orders::restored(order_id));
    }
    match (&read.holder, read.taken_back) {
        (Some(Holder::User(user_id)), Some(taken)) if read.credits.is_some() => {
            if taken <= 0 {
                return record_event_once(app, event, Outcome::DisputeWon, effects).await;
            }
            let key = format!("restore:{}:{dispute_id}", read.payment_id);
            let change = Change {
                user_id,
                delta: taken,
                floor: Floor::Refuse,
                reason: Reason::DisputeWon,
                note: None,
                reference: Some(read.order_id.as_deref().or(read.invoice.as_deref()).unwrap_or(&read.payment_id)),
                key: Some(RequestKey::Own(&key)),
            };
            let with = |_: &_| {
                let mut tx = event_record(event, Outcome::DisputeWon, Delivery::Applied, now);
                tx.append(effects.clone());
                tx
            };
            return match credits::apply(app, &change, &with).await? {
                credits::Outcome::Applied(_) => Ok(Receipt::Applied(Outcome::DisputeWon)),
                credits::Outcome::Refused(refused) => settle(app, event, Outcome::DisputeWon, Err(refused)).await,
                _ => record_only(app, event, Outcome::AlreadyApplied).await,
            };
        }
        (Some(holder), _) => {
            if let Some(order_id) = &read.order_id {
                effects.append(grants::restore(holder, order_id));
                if let (Holder::User(user_id), Some(plan)) = (holder, read.plan.as_deref().filter(|p| !p.is_empty())) {
                    effects.append(super::plans::hold(user_id, plan));
                }
            }
        }
        (None, _) => {}
    }
    record_event_once(app, event, Outcome::DisputeWon, effects).await
}
