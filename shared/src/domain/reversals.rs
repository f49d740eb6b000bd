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
use crate::store::records::{self, Holder, OrderStatus, PaymentPointer, Reason, RequestKey, pointer};
use crate::store::{Condition, StoreError, Update, Write};
use crate::stripe::Event;

use super::credits::{self, Change, Floor, Outcome};
use super::stripe_events::{Receipt, event_record, record_event_once, record_only};

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
    let item = app.store.get(&records::payment(payment_id)).await?;
    match item {
        None => Ok(None),
        Some(item) => PaymentPointer::from_item(&item)
            .map(Some)
            .ok_or_else(|| Error::internal(format!("unreadable payment pointer PAYMENT#{payment_id}"))),
    }
}

/// The condition that the pointer is still as `read`: same holder, not reversed.
fn unchanged(read: &PaymentPointer) -> Condition {
    let holder = match &read.holder {
        Some(h) => Condition::equals(pointer::HOLDER, h.pk()),
        None => Condition::absent(pointer::HOLDER),
    };
    Condition::And(vec![Condition::Exists, holder, Condition::absent(pointer::REVERSED_BY)])
}

/// The pointer a payment leads to (an invoice payment's leads to its invoice's), and the key of
/// the pointer that guards it (where a reversal that finds nothing recorded leaves its mark).
async fn resolve(app: &App, payment_id: &str) -> Result<(Option<PaymentPointer>, String), Error> {
    let found = pointer_of(app, payment_id).await?;
    match found.as_ref().and_then(|p| p.invoice.clone().filter(|i| i != payment_id)) {
        Some(invoice) => Ok((pointer_of(app, &invoice).await?, invoice)),
        None => Ok((found, payment_id.to_string())),
    }
}

/// Reverses what `payment_id` paid for, once, whichever event (refund or dispute) comes first.
pub async fn reverse(app: &App, event: &Event, payment_id: &str, cause: Cause) -> Result<Receipt, Error> {
    let now = app.now();
    for _ in 0..ATTEMPTS {
        let (found, guard) = resolve(app, payment_id).await?;
        if let Cause::Dispute(id) = &cause
            && found.as_ref().is_some_and(|p| p.won_disputes.contains(id))
        {
            // Stripe delivered the decision first: the dispute is over, won.
            return record_only(app, event, "dispute_already_won").await;
        }
        let Some(read) = found.filter(|p| p.holder.is_some()) else {
            // Nothing recorded yet: remember, so a purchase (or an invoice's credits) delivered
            // later is recorded reversed.
            let marker = |key: &str| {
                Write::Update(
                    Update::new(records::payment(key))
                        .set_if_absent(pointer::REVERSED_FIRST, now)
                        .set_if_absent(pointer::REVERSED_BY, cause.tag()),
                )
            };
            let mut marks = vec![marker(payment_id)];
            if guard != payment_id {
                marks.push(marker(&guard));
            }
            let outcome = if cause == Cause::Refund { "refund_before_purchase" } else { "dispute_before_purchase" };
            return record_event_once(app, event, outcome, marks).await;
        };
        if read.reversed_by.is_some() {
            return record_only(app, event, "already_applied").await;
        }
        let mark = Update::new(records::payment(&read.payment_id))
            .set(pointer::REVERSED_BY, cause.tag())
            .set(pointer::REVERSED_AT, now)
            .when(unchanged(&read));
        let order = read.order_id.as_ref().map(|id| {
            Write::Update(
                Update::new(records::order(id))
                    .set("status", cause.order_status().as_str())
                    .set_if_absent("refunded_at", now)
                    .when(Condition::Exists),
            )
        });
        let attempt = match (&read.holder, read.credits) {
            (Some(Holder::User(user_id)), Some(credits)) if credits > 0 => {
                take_back(app, event, &read, user_id, credits, &cause, mark, order).await?
            }
            (Some(holder), _) => revoke_grant(app, event, &read, holder, &cause, mark, order).await?,
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
#[allow(clippy::too_many_arguments)]
async fn take_back(
    app: &App,
    event: &Event,
    read: &PaymentPointer,
    user_id: &str,
    credits: i64,
    cause: &Cause,
    mark: Update,
    order: Option<Write>,
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
    let with = |entry: &records::LedgerEntry| {
        let mut writes = vec![
            Write::put_new(event_record(event, "credits_taken_back", now).to_item()),
            Write::Update(mark.clone().set(pointer::TAKEN_BACK, -entry.delta)),
        ];
        writes.extend(order.clone());
        writes
    };
    Ok(match credits::apply(app, &change, &with).await? {
        Outcome::Applied(_) => Some(Receipt::Applied { outcome: "credits_taken_back" }),
        Outcome::Refused(failed) if failed.contains(&0) => Some(Receipt::Duplicate),
        // The pointer changed (a claim, or another reversal): read it again.
        Outcome::Refused(failed) if failed.contains(&1) => None,
        Outcome::Refused(_) => Some(record_only(app, event, "already_applied").await?),
        // Taken back before under this payment's key.
        _ => Some(record_only(app, event, "already_applied").await?),
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
    mark: Update,
    order: Option<Write>,
) -> Result<Option<Receipt>, Error> {
    let now = app.now();
    let outcome = if matches!(cause, Cause::Refund) { "purchase_revoked" } else { "purchase_disputed" };
    let mut writes = vec![Write::put_new(event_record(event, outcome, now).to_item()), Write::Update(mark)];
    writes.extend(order);
    if let Some(order_id) = &read.order_id {
        let revoked = Update::new(records::grant(holder, order_id))
            .set("revoked_at", now)
            .when(Condition::And(vec![Condition::Exists, Condition::absent("revoked_at")]));
        writes.push(Write::Update(revoked));
        if let (Holder::User(user_id), Some(plan)) = (holder, read.plan.as_deref().filter(|p| !p.is_empty())) {
            writes.push(super::entitlements::hold(user_id, plan, -1));
        }
    }
    match app.store.transact(writes).await {
        Ok(()) => Ok(Some(Receipt::Applied { outcome })),
        Err(StoreError::Cancelled { failed }) if failed.contains(&0) => Ok(Some(Receipt::Duplicate)),
        Err(StoreError::Cancelled { failed }) if failed.contains(&1) => Ok(None),
        Err(StoreError::Cancelled { .. }) => Ok(Some(record_only(app, event, "already_applied").await?)),
        Err(e) => Err(e.into()),
    }
}

/// A dispute decided for the business: gives back what that dispute took (nothing, when a refund
/// or another dispute reversed the payment, or the dispute never took anything).
pub async fn restore(app: &App, event: &Event, payment_id: &str, dispute_id: &str) -> Result<Receipt, Error> {
    let tag = Cause::Dispute(dispute_id.to_string()).tag();
    let now = app.now();
    let (found, guard) = resolve(app, payment_id).await?;
    let Some(read) = found.filter(|p| p.reversed_by.as_deref() == Some(tag.as_str())) else {
        // Nothing this dispute took: remember it was won, so its "opened" event, if Stripe
        // delivers it late, takes nothing.
        let won = Update::new(records::payment(&guard)).set(&format!("{}{dispute_id}", pointer::WON_PREFIX), now);
        return record_event_once(app, event, "dispute_won", vec![Write::Update(won)]).await;
    };
    let holder_is = match &read.holder {
        Some(h) => Condition::equals(pointer::HOLDER, h.pk()),
        None => Condition::absent(pointer::HOLDER),
    };
    let unmark = Update::new(records::payment(&read.payment_id))
        .remove(pointer::REVERSED_BY)
        .remove(pointer::REVERSED_AT)
        .remove(pointer::TAKEN_BACK)
        .remove(pointer::REVERSED_FIRST)
        .when(Condition::And(vec![Condition::equals(pointer::REVERSED_BY, tag.as_str()), holder_is]));
    let mut writes = vec![Write::put_new(event_record(event, "dispute_won", now).to_item()), Write::Update(unmark)];
    if let Some(order_id) = &read.order_id {
        writes.push(Write::Update(
            Update::new(records::order(order_id))
                .set("status", OrderStatus::Paid.as_str())
                .remove("refunded_at")
                .when(Condition::Exists),
        ));
    }
    match (&read.holder, read.taken_back) {
        (Some(Holder::User(user_id)), Some(taken)) if read.credits.is_some() => {
            if taken <= 0 {
                return record_event_once(app, event, "dispute_won", writes.split_off(1)).await;
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
            return Ok(match credits::apply(app, &change, &|_| writes.clone()).await? {
                Outcome::Applied(_) => Receipt::Applied { outcome: "dispute_won" },
                Outcome::Refused(failed) if failed.contains(&0) => Receipt::Duplicate,
                _ => record_only(app, event, "already_applied").await?,
            });
        }
        (Some(holder), _) => {
            if let Some(order_id) = &read.order_id {
                writes.push(Write::Update(
                    Update::new(records::grant(holder, order_id)).remove("revoked_at").when(Condition::Exists),
                ));
                if let (Holder::User(user_id), Some(plan)) = (holder, read.plan.as_deref().filter(|p| !p.is_empty())) {
                    writes.push(super::entitlements::hold(user_id, plan, 1));
                }
            }
        }
        (None, _) => {}
    }
    match app.store.transact(writes).await {
        Ok(()) => Ok(Receipt::Applied { outcome: "dispute_won" }),
        Err(StoreError::Cancelled { failed }) if failed.contains(&0) => Ok(Receipt::Duplicate),
        Err(StoreError::Cancelled { .. }) => record_only(app, event, "already_applied").await,
        Err(e) => Err(e.into()),
    }
}
