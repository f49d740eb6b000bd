//! Stripe's webhook events, each applied exactly once: the event record (written only if
//! absent) and all of the event's effects commit in one transaction, so a re-delivery, a
//! concurrent delivery or a crash half-way can neither apply an event twice nor apply half.

use crate::app::App;
use crate::error::Error;
use crate::store::records::{self, EventRecord, Holder};
use crate::store::{Condition, Update, Write};
use crate::stripe::{Charge, CheckoutSession, Event, Invoice, signature};

use super::credits::{self, Change, Floor, Outcome};
use super::purchases::{self, Purchase, REFUNDED_FIRST, Recorded, resolve_product};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// The event's effects were applied now.
    Applied { outcome: &'static str },
    /// This event id was applied before: nothing changed.
    Duplicate,
    /// Recorded, with nothing to do (a type Tollgate does not handle, or nothing left to change).
    Ignored { outcome: &'static str },
}

/// Verifies, parses and applies one delivery.
pub async fn receive(app: &App, body: &[u8], signature_header: Option<&str>) -> Result<Receipt, Error> {
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
    let event = Event::parse(body).map_err(|e| Error::bad_request("not_a_stripe_event", e.to_string()))?;
    if event.livemode != stripe.livemode() {
        return Err(Error::bad_request(
            "livemode_mismatch",
            "the event's livemode does not match the configured Stripe key",
        ));
    }
    apply(app, &event).await
}

fn bad_object(e: impl std::fmt::Display) -> Error {
    Error::bad_request("not_a_stripe_event", e.to_string())
}

pub async fn apply(app: &App, event: &Event) -> Result<Receipt, Error> {
    match event.event_type.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            checkout_paid(app, event, event.object().map_err(bad_object)?).await
        }
        "checkout.session.expired" => order_closed(app, event, event.object().map_err(bad_object)?, "expired").await,
        "checkout.session.async_payment_failed" => {
            order_closed(app, event, event.object().map_err(bad_object)?, "failed").await
        }
        "charge.refunded" => charge_refunded(app, event, event.object().map_err(bad_object)?).await,
        "invoice.paid" => invoice_paid(app, event, event.object().map_err(bad_object)?).await,
        _ => record_only(app, event, "ignored").await,
    }
}

fn record(event: &Event, outcome: &str, now: i64) -> EventRecord {
    EventRecord {
        id: event.id.clone(),
        event_type: event.event_type.clone(),
        outcome: outcome.to_string(),
        received_at: now,
    }
}

async fn record_only(app: &App, event: &Event, outcome: &'static str) -> Result<Receipt, Error> {
    match app.store.write(Write::put_new(record(event, outcome, app.now()).to_item())).await {
        Ok(()) => Ok(Receipt::Ignored { outcome }),
        Err(e) if e.is_condition() => Ok(Receipt::Duplicate),
        Err(e) => Err(e.into()),
    }
}

/// The exactly-once write: the event record and its effects, all or nothing. When only the
/// effects' own conditions fail (another path applied them first), the event is recorded alone.
pub async fn record_event_once(
    app: &App,
    event: &Event,
    outcome: &'static str,
    effects: Vec<Write>,
) -> Result<Receipt, Error> {
    let mut writes = vec![Write::put_new(record(event, outcome, app.now()).to_item())];
    writes.extend(effects);
    match app.store.transact(writes).await {
        Ok(()) => Ok(Receipt::Applied { outcome }),
        Err(e) if e.failed_at(0) => Ok(Receipt::Duplicate),
        Err(e) if e.is_condition() => record_only(app, event, "already_applied").await,
        Err(e) => Err(e.into()),
    }
}

async fn checkout_paid(app: &App, event: &Event, session: CheckoutSession) -> Result<Receipt, Error> {
    if session.mode != "payment" {
        return record_only(app, event, "unsupported_mode").await;
    }
    if !session.is_paid() {
        // Delayed payment methods: checkout.session.async_payment_succeeded will follow.
        return record_only(app, event, "awaiting_payment").await;
    }
    let Some((order_id, product)) = resolve_product(app, &session).await? else {
        tracing::warn!(event_id = %event.id, "a paid session bought nothing in the catalog");
        return record_only(app, event, "unknown_product").await;
    };
    let purchase = Purchase::from_session(&session, order_id, product, None);
    let now = app.now();
    let event_record = |outcome: &str| Write::put_new(record(event, outcome, now).to_item());
    Ok(match purchases::record(app, &purchase, Some(&event_record)).await? {
        Recorded::Paid => Receipt::Applied { outcome: "purchase_recorded" },
        Recorded::Refunded => Receipt::Applied { outcome: "purchase_refunded" },
        Recorded::DuplicateEvent => Receipt::Duplicate,
        Recorded::AlreadyRecorded => return record_only(app, event, "already_applied").await,
    })
}

async fn order_closed(
    app: &App,
    event: &Event,
    session: CheckoutSession,
    status: &'static str,
) -> Result<Receipt, Error> {
    let Some(order_id) = session.order_id() else {
        return record_only(app, event, "no_order").await;
    };
    let close =
        Update::new(records::order(&order_id)).set("status", status).when(Condition::equals("status", "pending"));
    record_event_once(
        app,
        event,
        if status == "expired" { "order_expired" } else { "order_failed" },
        vec![Write::Update(close)],
    )
    .await
}

async fn charge_refunded(app: &App, event: &Event, charge: Charge) -> Result<Receipt, Error> {
    // A partial refund leaves the purchase standing; only a full refund revokes it.
    if !charge.refunded {
        return record_only(app, event, "partial_refund").await;
    }
    let Some(pi) = charge.payment_intent() else {
        return record_only(app, event, "unknown_payment").await;
    };
    let now = app.now();
    let pointer = app.store.get(&records::payment(&pi)).await?;
    let known = pointer.as_ref().and_then(|p| Some((p.string("order_id")?, p.str("holder").and_then(Holder::parse)?)));
    let Some((order_id, holder)) = known else {
        // No purchase yet (or not one of Tollgate's): remember the refund, so a purchase
        // delivered later is recorded as refunded rather than granted.
        let marker = Update::new(records::payment(&pi)).set_if_absent(REFUNDED_FIRST, now);
        return record_event_once(app, event, "refund_before_purchase", vec![Write::Update(marker)]).await;
    };
    let refunded_order = Write::Update(
        Update::new(records::order(&order_id))
            .set("status", "refunded")
            .set_if_absent("refunded_at", now)
            .when(Condition::Exists),
    );
    if let (Some(credits), Holder::User(user_id)) = (pointer.as_ref().and_then(|p| p.num("credits")), &holder) {
        return take_back_credits(app, event, &order_id, user_id, credits, refunded_order).await;
    }
    // Revoked once: a second refund event for the same payment changes nothing.
    let revoked = Update::new(records::grant(&holder, &order_id))
        .set("revoked_at", now)
        .when(Condition::And(vec![Condition::Exists, Condition::absent("revoked_at")]));
    let mut effects = vec![refunded_order, Write::Update(revoked)];
    if let (Holder::User(user_id), Some(plan)) = (&holder, pointer.as_ref().and_then(|p| p.string("plan"))) {
        effects.push(super::entitlements::hold(user_id, &plan, -1));
    }
    record_event_once(app, event, "purchase_revoked", effects).await
}

/// A refunded pack takes back what is still unspent, never below zero; the ledger entry
/// records the shortfall.
async fn take_back_credits(
    app: &App,
    event: &Event,
    order_id: &str,
    user_id: &str,
    credits: i64,
    refunded_order: Write,
) -> Result<Receipt, Error> {
    let key = format!("refund:{order_id}");
    let change = Change {
        user_id,
        delta: -credits,
        floor: Floor::Clamp,
        reason: "refund",
        reference: Some(order_id),
        key: Some(&key),
    };
    let now = app.now();
    let with = |_: &_| vec![Write::put_new(record(event, "credits_taken_back", now).to_item()), refunded_order.clone()];
    credited(app, event, credits::apply(app, &change, &with).await?, "credits_taken_back").await
}

/// The receipt for a credit change made together with the event record (index 0).
async fn credited(app: &App, event: &Event, outcome: Outcome, applied: &'static str) -> Result<Receipt, Error> {
    match outcome {
        Outcome::Applied(_) => Ok(Receipt::Applied { outcome: applied }),
        Outcome::Refused(failed) if failed.contains(&0) => Ok(Receipt::Duplicate),
        // Done before under the same key (another event about the same invoice or refund).
        _ => record_only(app, event, "already_applied").await,
    }
}

/// A paid invoice of a plan that grants credits each period credits them once per invoice,
/// whichever event (and however many deliveries) reports it.
async fn invoice_paid(app: &App, event: &Event, invoice: Invoice) -> Result<Receipt, Error> {
    let metadata = invoice.subscription_metadata();
    let plan = metadata
        .get("plan")
        .and_then(|key| app.catalog.plan(key))
        .or_else(|| invoice.price_ids().iter().find_map(|price| app.catalog.plan_for_price(price)));
    let Some(credits) = plan.and_then(|p| p.credits_per_period) else {
        return record_only(app, event, "no_credits").await;
    };
    let user_id = match metadata.get("user_id") {
        Some(id) => Some(id.clone()),
        None => match invoice.customer() {
            Some(customer) => app
                .store
                .query_index(&records::customer_index(&customer), 1)
                .await?
                .first()
                .and_then(|i| i.string("user_id")),
            None => None,
        },
    };
    let Some(user_id) = user_id else {
        tracing::warn!(event_id = %event.id, "a paid invoice for a customer Tollgate does not know");
        return record_only(app, event, "unknown_customer").await;
    };
    let key = format!("invoice:{}", invoice.id);
    let change = Change {
        user_id: &user_id,
        delta: credits as i64,
        floor: Floor::Refuse,
        reason: "subscription",
        reference: Some(&invoice.id),
        key: Some(&key),
    };
    let now = app.now();
    let with = |_: &_| vec![Write::put_new(record(event, "credits_granted", now).to_item())];
    credited(app, event, credits::apply(app, &change, &with).await?, "credits_granted").await
}
