//! Stripe's webhook events, each applied exactly once: the event record (written only if
//! absent) and all of the event's effects commit in one transaction, so a re-delivery, a
//! concurrent delivery or a crash half-way can neither apply an event twice nor apply half.

use std::collections::HashMap;

use serde_json::json;

use crate::app::App;
use crate::error::Error;
use crate::store::records::{self, EventRecord, Holder, Reason, RequestKey};
use crate::store::{Condition, GSI1PK, GSI1SK, Update, Write};
use crate::stripe::{Charge, CheckoutSession, Event, Invoice, Subscription, signature};

use super::billing::BillingEvent;
use super::credits::{self, Change, Floor, Outcome};
use super::mail::{self, MailKind, Queued};
use super::purchases::{self, Product, Purchase, REFUNDED_FIRST, Recorded, resolve_product};
use super::subscriptions::{self, Applied};

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
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed"
        | "customer.subscription.trial_will_end" => {
            subscription_changed(app, event, event.object().map_err(bad_object)?).await
        }
        "invoice.paid" | "invoice.payment_failed" | "invoice.payment_action_required" => {
            invoice_event(app, event, event.object().map_err(bad_object)?).await
        }
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
    if session.mode == "subscription" {
        return subscription_checkout(app, event, session).await;
    }
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
    let product_name = match &purchase.product {
        Product::Plan(key) => app.catalog.plan(key).map(|p| p.name.clone()),
        Product::Pack { key, .. } => app.catalog.pack(key).map(|p| p.name.clone()),
    };
    let receipt_mail = match &purchase.email {
        Some(to) => {
            let context = json!({
                "product": product_name.unwrap_or_default(),
                "amount": mail::money(session.amount_total.unwrap_or(0), session.currency.as_deref()),
                "date": mail::date(event.created),
            });
            Some(Queued { kind: MailKind::Receipt, email: mail::render(MailKind::Receipt, to, &context)? })
        }
        None => None,
    };
    let audit = purchase.user_id.as_ref().map(|user_id| BillingEvent {
        amount: session.amount_total,
        currency: session.currency.clone(),
        status: Some(session.payment_status.clone()),
        email: receipt_mail.as_ref().map(|q| q.kind.as_str().to_string()),
        ..BillingEvent::of(event, user_id)
    });
    let recipient = purchase.user_id.clone().or_else(|| purchase.email.clone()).unwrap_or_default();
    // The receipt goes out only for a purchase that stands (not one whose refund came first).
    let event_writes = |outcome: &str| {
        let mut writes = vec![Write::put_new(record(event, outcome, now).to_item())];
        writes.extend(audit.as_ref().map(BillingEvent::write));
        if outcome == "purchase_recorded" {
            writes.extend(receipt_mail.as_ref().map(|q| mail::queue(&event.id, &recipient, q, now)));
        }
        writes
    };
    let receipt = match purchases::record(app, &purchase, Some(&event_writes)).await? {
        Recorded::Paid => Receipt::Applied { outcome: "purchase_recorded" },
        Recorded::Refunded => return Ok(Receipt::Applied { outcome: "purchase_refunded" }),
        Recorded::DuplicateEvent => Receipt::Duplicate,
        Recorded::AlreadyRecorded => return record_only(app, event, "already_applied").await,
    };
    with_mail(app, event, receipt, &receipt_mail).await
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
    let mut effects = vec![Write::Update(close)];
    // A members' price reserved by this checkout is given back (once: the order closes once).
    if let (Some(month), Some(user_id)) =
        (session.metadata.get(super::members::METADATA_KEY), session.metadata.get("user_id"))
    {
        effects.push(super::members::release(user_id, month));
    }
    record_event_once(app, event, if status == "expired" { "order_expired" } else { "order_failed" }, effects).await
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
        reason: Reason::Refund,
        note: None,
        reference: Some(order_id),
        key: Some(RequestKey::Own(&key)),
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

/// The user a Stripe object is about: Tollgate's metadata, else the customer's owner.
async fn user_for(
    app: &App,
    metadata: &HashMap<String, String>,
    customer: Option<String>,
) -> Result<Option<String>, Error> {
    if let Some(id) = metadata.get("user_id") {
        return Ok(Some(id.clone()));
    }
    let Some(customer) = customer else { return Ok(None) };
    let owners = app.store.query_index(&records::customer_index(&customer), 1).await?;
    Ok(owners.first().and_then(|i| i.string("user_id")))
}

/// The email a billing event sends, rendered for the user (None: they have no address on file).
async fn letter(
    app: &App,
    user_id: &str,
    kind: Option<MailKind>,
    context: serde_json::Value,
) -> Result<Option<Queued>, Error> {
    let Some(kind) = kind else { return Ok(None) };
    let Some(user) = super::users::user_by_id(&app.store, user_id).await? else {
        tracing::warn!(user_id, kind = kind.as_str(), "no email address for a billing email");
        return Ok(None);
    };
    Ok(Some(Queued { kind, email: mail::render(kind, &user.email, &context)? }))
}

/// The receipt of an event whose effects may have queued emails: sends them once applied, and
/// on a re-delivery sends what an earlier delivery left unsent.
async fn with_mail(app: &App, event: &Event, receipt: Receipt, queued: &Option<Queued>) -> Result<Receipt, Error> {
    match (&receipt, queued) {
        (Receipt::Applied { .. }, Some(q)) => mail::send_queued(app, &event.id, std::slice::from_ref(q)).await,
        // Only an event that queues an email can have one left unsent.
        (Receipt::Duplicate, Some(_)) => mail::send_unsent(app, &event.id).await?,
        _ => {}
    }
    Ok(receipt)
}

/// A subscription's state changed (or a trial is about to end): its snapshot is applied if it is
/// newer than the stored one (else Stripe's current state is), with the audit record and email.
async fn subscription_changed(app: &App, event: &Event, sub: Subscription) -> Result<Receipt, Error> {
    let Some(user_id) = user_for(app, &sub.metadata, sub.customer()).await? else {
        tracing::warn!(event_id = %event.id, "a subscription of a customer Tollgate does not know");
        return record_only(app, event, "unknown_customer").await;
    };
    let Some((plan, _)) = subscriptions::plan_of(&app.catalog, &sub) else {
        tracing::warn!(event_id = %event.id, "a subscription to a price not in the catalog");
        return record_only(app, event, "unknown_plan").await;
    };
    let product = app.catalog.plan(plan).map(|p| p.name.clone()).unwrap_or_default();
    let (kind, when) = match event.event_type.as_str() {
        "customer.subscription.trial_will_end" => (Some(MailKind::TrialEnding), sub.trial_end),
        "customer.subscription.deleted" => (Some(MailKind::SubscriptionCanceled), sub.ended_at.or(sub.canceled_at)),
        _ => (None, None),
    };
    let context = json!({
        "product": product,
        "date": mail::date(when.unwrap_or(event.created)),
        "cancel_scheduled": sub.cancel_at_period_end || sub.cancel_at.is_some(),
    });
    let queued = letter(app, &user_id, kind, context).await?;
    let audit = BillingEvent {
        amount: sub.amount(),
        currency: sub.currency.clone(),
        status: Some(sub.status.clone()),
        subscription: Some(sub.id.clone()),
        email: queued.as_ref().map(|q| q.kind.as_str().to_string()),
        ..BillingEvent::of(event, &user_id)
    };
    let now = app.now();
    let with = |_: &_| {
        let mut writes = vec![Write::put_new(record(event, "subscription_applied", now).to_item()), audit.write()];
        writes.extend(queued.as_ref().map(|q| mail::queue(&event.id, &user_id, q, now)));
        writes
    };
    let receipt = match subscriptions::apply_snapshot(app, &user_id, sub, event.created, &event.id, &with).await? {
        Applied::Stored { fetched: false, .. } => Receipt::Applied { outcome: "subscription_applied" },
        Applied::Stored { fetched: true, .. } => Receipt::Applied { outcome: "subscription_refreshed" },
        Applied::Refused(failed) if failed.contains(&0) => Receipt::Duplicate,
        Applied::Refused(_) => return record_only(app, event, "already_applied").await,
        Applied::UnknownToStripe => return record_only(app, event, "subscription_unknown").await,
    };
    with_mail(app, event, receipt, &queued).await
}

/// A subscription-mode Checkout completed: the order is paid, the customer linked, and the
/// subscription's current state fetched and stored, so access starts whichever event comes first.
async fn subscription_checkout(app: &App, event: &Event, session: CheckoutSession) -> Result<Receipt, Error> {
    let Some(subscription_id) = session.subscription() else {
        return record_only(app, event, "no_subscription").await;
    };
    let Some(user_id) = user_for(app, &session.metadata, session.customer()).await? else {
        tracing::warn!(event_id = %event.id, "a subscription checkout by a customer Tollgate does not know");
        return record_only(app, event, "unknown_customer").await;
    };
    let now = app.now();
    let mut effects = vec![Write::put_new(record(event, "subscription_started", now).to_item())];
    if let Some(order_id) = session.metadata.get("order_id") {
        effects.push(Write::Update(
            Update::new(records::order(order_id))
                .set("status", "paid")
                .set_if_absent("paid_at", now)
                .set("checkout_session_id", session.id.as_str())
                .set("subscription_id", subscription_id.as_str())
                .when(Condition::Exists),
        ));
    }
    if let Some(customer) = session.customer() {
        effects.push(Write::Update(
            Update::new(records::user(&user_id))
                .set_if_absent("stripe_customer_id", customer.as_str())
                .set_if_absent(GSI1PK, records::customer_index(&customer))
                .set_if_absent(GSI1SK, "USER"),
        ));
    }
    let with = |_: &_| effects.clone();
    Ok(match subscriptions::sync(app, &user_id, &subscription_id, &event.id, &with).await? {
        Applied::Stored { .. } => Receipt::Applied { outcome: "subscription_started" },
        Applied::Refused(failed) if failed.contains(&0) => Receipt::Duplicate,
        Applied::Refused(_) => return record_only(app, event, "already_applied").await,
        Applied::UnknownToStripe => return record_only(app, event, "subscription_unknown").await,
    })
}

/// Invoices: every one is audited; a paid one sends a receipt and, for a plan that grants credits
/// each period, credits them once per invoice (whichever event, however many deliveries); a
/// failed one (or one that needs the customer to confirm) emails the hosted invoice link.
async fn invoice_event(app: &App, event: &Event, invoice: Invoice) -> Result<Receipt, Error> {
    let metadata = invoice.subscription_metadata();
    let Some(user_id) = user_for(app, &metadata, invoice.customer()).await? else {
        tracing::warn!(event_id = %event.id, "an invoice for a customer Tollgate does not know");
        return record_only(app, event, "unknown_customer").await;
    };
    let plan = metadata.get("plan").and_then(|key| app.catalog.plan(key)).or_else(|| {
        invoice.price_ids().iter().find_map(|price| app.catalog.plan_for_subscription_price(price).map(|(p, _)| p))
    });
    let paid = event.event_type == "invoice.paid";
    let amount = if paid { invoice.amount_paid } else { invoice.amount_due };
    let kind = match event.event_type.as_str() {
        "invoice.paid" if invoice.amount_paid > 0 => Some(MailKind::Receipt),
        "invoice.payment_failed" => Some(MailKind::PaymentFailed),
        "invoice.payment_action_required" => Some(MailKind::PaymentActionRequired),
        _ => None,
    };
    let context = json!({
        "product": plan.map_or_else(|| "your subscription".to_string(), |p| p.name.clone()),
        "amount": mail::money(amount, invoice.currency.as_deref()),
        "date": mail::date(event.created),
        "invoice_url": invoice.hosted_invoice_url,
        "grace_days": app.config.grace_days,
        "action_required": kind == Some(MailKind::PaymentActionRequired),
    });
    let queued = letter(app, &user_id, kind, context).await?;
    let audit = BillingEvent {
        amount: Some(amount),
        currency: invoice.currency.clone(),
        status: invoice.status.clone(),
        subscription: invoice.subscription_id(),
        invoice: Some(invoice.id.clone()),
        email: queued.as_ref().map(|q| q.kind.as_str().to_string()),
        ..BillingEvent::of(event, &user_id)
    };
    let now = app.now();
    let mail_write = queued.as_ref().map(|q| mail::queue(&event.id, &user_id, q, now));
    let Some(credits) = plan.and_then(|p| p.credits_per_period).filter(|_| paid) else {
        let effects: Vec<Write> = std::iter::once(audit.write()).chain(mail_write).collect();
        let receipt = record_event_once(app, event, "invoice_recorded", effects).await?;
        return with_mail(app, event, receipt, &queued).await;
    };
    let key = format!("invoice:{}", invoice.id);
    let change = Change {
        user_id: &user_id,
        delta: credits as i64,
        floor: Floor::Refuse,
        reason: Reason::Subscription,
        note: None,
        reference: Some(&invoice.id),
        key: Some(RequestKey::Own(&key)),
    };
    let with = |_: &_| {
        let mut writes = vec![Write::put_new(record(event, "credits_granted", now).to_item()), audit.write()];
        writes.extend(mail_write.clone());
        writes
    };
    let receipt = match credits::apply(app, &change, &with).await? {
        Outcome::Applied(_) => Receipt::Applied { outcome: "credits_granted" },
        Outcome::Refused(failed) if failed.contains(&0) => Receipt::Duplicate,
        // Credited before under the invoice's key (another event about the same invoice).
        _ => return record_event_once(app, event, "already_applied", vec![audit.write()]).await,
    };
    with_mail(app, event, receipt, &queued).await
}
