//! Stripe's webhook events, each applied exactly once: the event record (written only if
//! absent) and all of the event's effects commit in one transaction, so a re-delivery, a
//! concurrent delivery or a crash half-way can neither apply an event twice nor apply half.

use std::collections::HashMap;

use serde_json::json;

use crate::app::App;
use crate::config::DisputePolicy;
use crate::error::Error;
use crate::store::records::pointer;
use crate::store::records::{self, EventRecord, Reason, RequestKey};
use crate::store::{Condition, Update, Write};
use crate::stripe::{Charge, CheckoutSession, Dispute, Event, Invoice, Subscription, signature};

use super::billing::BillingEvent;
use super::credits::{self, Change, Floor, Outcome};
use super::mail::{self, MailKind, Queued};
use super::purchases::{self, Product, Purchase, Recorded, resolve_product};
use super::reversals::{self, Cause};
use super::subscriptions::{self, Applied};
use super::waiting;

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
    // From here the body is a validly signed Stripe event: 2xx (applied, duplicate or deliberately
    // ignored) or 5xx (retry me), never 4xx.
    if event.livemode != stripe.livemode() {
        tracing::warn!(event_id = %event.id, "an event of the other mode (test/live) than the Stripe key: ignored");
        return Ok(Receipt::Ignored { outcome: "livemode_mismatch" });
    }
    // Customers Tollgate creates are linked before Stripe knows them; a customer Checkout or a
    // Payment Link made is linked by a claim, which applies what waited for it.
    let receipt = apply(app, &event).await.map_err(|e| match e.status() {
        400..=499 => Error::Retry { code: e.code(), message: e.to_string() },
        _ => e,
    })?;
    Ok(receipt)
}

/// A handled event whose object Tollgate cannot read: retried (after a fix it applies), never
/// dropped, never a 4xx.
fn bad_object(e: impl std::fmt::Display) -> Error {
    Error::Retry { code: "unreadable_event", message: e.to_string() }
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
        "charge.dispute.created" | "charge.dispute.closed" => {
            dispute_event(app, event, event.object().map_err(bad_object)?).await
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed"
        | "customer.subscription.trial_will_end" => {
            subscription_changed(app, event, event.object().map_err(bad_object)?).await
        }
        "invoice_payment.paid" => invoice_payment(app, event, event.object().map_err(bad_object)?).await,
        "invoice.paid" | "invoice.payment_failed" | "invoice.payment_action_required" => {
            invoice_event(app, event, event.object().map_err(bad_object)?).await
        }
        _ => record_only(app, event, "ignored").await,
    }
}

pub(crate) fn event_record(event: &Event, outcome: &str, now: i64) -> EventRecord {
    EventRecord {
        id: event.id.clone(),
        event_type: event.event_type.clone(),
        outcome: outcome.to_string(),
        received_at: now,
    }
}

pub(crate) async fn record_only(app: &App, event: &Event, outcome: &'static str) -> Result<Receipt, Error> {
    match app.store.write(Write::put_new(event_record(event, outcome, app.now()).to_item())).await {
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
    let mut writes = vec![Write::put_new(event_record(event, outcome, app.now()).to_item())];
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
        let mut writes = vec![Write::put_new(event_record(event, outcome, now).to_item())];
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
        effects.push(super::members::release(user_id, month, Some(&order_id)));
    }
    record_event_once(app, event, if status == "expired" { "order_expired" } else { "order_failed" }, effects).await
}

async fn charge_refunded(app: &App, event: &Event, charge: Charge) -> Result<Receipt, Error> {
    // A partial refund leaves the purchase standing; only a full refund revokes it.
    if !charge.refunded {
        return record_only(app, event, "partial_refund").await;
    }
    reversals::reverse(app, event, &charge.payment_id(), Cause::Refund).await
}

/// A dispute opened (`created`) or decided (`closed`): what the payment bought is taken back
/// when it opens or only when it is lost (`DISPUTE_REVOKES`), and given back when it is won.
async fn dispute_event(app: &App, event: &Event, dispute: Dispute) -> Result<Receipt, Error> {
    let Some(payment) = dispute.payment_id() else {
        return record_only(app, event, "unknown_payment").await;
    };
    let cause = Cause::Dispute(dispute.id.clone());
    let policy = app.config.disputes;
    match (event.event_type.as_str(), dispute.status.as_str(), policy) {
        ("charge.dispute.created", _, DisputePolicy::WhenOpened) => {
            reversals::reverse(app, event, &payment, cause).await
        }
        ("charge.dispute.closed", "lost", _) => reversals::reverse(app, event, &payment, cause).await,
        ("charge.dispute.closed", "won" | "warning_closed", _) => {
            reversals::restore(app, event, &payment, &dispute.id).await
        }
        _ => record_only(app, event, "dispute_noted").await,
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
        return waiting::wait_for_customer(app, event, sub.customer()).await;
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
        let mut writes =
            vec![Write::put_new(event_record(event, "subscription_applied", now).to_item()), audit.write()];
        writes.extend(queued.as_ref().map(|q| mail::queue(&event.id, &user_id, q, now)));
        writes
    };
    let receipt = match subscriptions::apply_snapshot(app, &user_id, sub, event.created, &event.id, &with).await? {
        Applied::Stored { fetched: false, .. } => Receipt::Applied { outcome: "subscription_applied" },
        Applied::Stored { fetched: true, .. } => Receipt::Applied { outcome: "subscription_refreshed" },
        Applied::Refused(failed) if failed.contains(&0) => Receipt::Duplicate,
        Applied::Refused(_) => return record_only(app, event, "already_applied").await,
        Applied::UnknownToStripe => return record_only(app, event, "subscription_unknown").await,
        Applied::UnknownPlan => return record_only(app, event, "unknown_plan").await,
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
        return waiting::wait_for_customer(app, event, session.customer()).await;
    };
    let now = app.now();
    let mut effects = vec![Write::put_new(event_record(event, "subscription_started", now).to_item())];
    if let Some(order_id) = session.metadata.get("order_id") {
        effects.push(Write::Update(
            Update::new(records::order(order_id))
                .set("status", "paid")
                .set_if_absent("paid_at", now)
                .set("checkout_session_id", session.id.as_str())
                .set("subscription_id", subscription_id.as_str())
                .remove(crate::store::TTL)
                .when(Condition::Exists),
        ));
    }
    if let Some(customer) = session.customer() {
        let email = session.purchase_email().unwrap_or_default();
        effects.extend(super::users::link_customer(&user_id, &email, &customer));
    }
    let with = |_: &_| effects.clone();
    Ok(match subscriptions::sync(app, &user_id, &subscription_id, &event.id, &with).await? {
        Applied::Stored { .. } => Receipt::Applied { outcome: "subscription_started" },
        Applied::Refused(failed) if failed.contains(&0) => Receipt::Duplicate,
        Applied::Refused(_) => return record_only(app, event, "already_applied").await,
        Applied::UnknownToStripe => return record_only(app, event, "subscription_unknown").await,
        Applied::UnknownPlan => return record_only(app, event, "unknown_plan").await,
    })
}

/// Invoices: every one is audited; a paid one sends a receipt and, for a plan that grants credits
/// each period, credits them once per invoice (whichever event, however many deliveries); a
/// failed one (or one that needs the customer to confirm) emails the hosted invoice link.
async fn invoice_event(app: &App, event: &Event, invoice: Invoice) -> Result<Receipt, Error> {
    let metadata = invoice.subscription_metadata();
    let Some(user_id) = user_for(app, &metadata, invoice.customer()).await? else {
        return waiting::wait_for_customer(app, event, invoice.customer()).await;
    };
    // The plan of the price actually billed (after a plan switch, the metadata still names the
    // plan the subscription started on).
    let billed = invoice.price_ids().iter().find_map(|price| app.catalog.plan_for_subscription_price(price));
    let plan = billed.map(|(p, _)| p).or_else(|| metadata.get("plan").and_then(|key| app.catalog.plan(key)));
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
    let Some(credits) = period_credits(&invoice, billed.map(|(p, _)| p), paid) else {
        let effects: Vec<Write> = std::iter::once(audit.write()).chain(mail_write).collect();
        let receipt = record_event_once(app, event, "invoice_recorded", effects).await?;
        return with_mail(app, event, receipt, &queued).await;
    };
    let key = format!("invoice:{}", invoice.id);
    let change = Change {
        user_id: &user_id,
        delta: credits,
        floor: Floor::Refuse,
        reason: Reason::Subscription,
        note: None,
        reference: Some(&invoice.id),
        key: Some(RequestKey::Own(&key)),
    };
    let pointers = invoice_pointers(&invoice, &user_id, credits);
    let with = |_: &_| {
        let mut writes = vec![Write::put_new(event_record(event, "credits_granted", now).to_item()), audit.write()];
        writes.extend(mail_write.clone());
        writes.extend(pointers.iter().cloned());
        writes
    };
    let pointer_at = 2 + usize::from(mail_write.is_some());
    let receipt = match credits::apply(app, &change, &with).await? {
        Outcome::Applied(_) => Receipt::Applied { outcome: "credits_granted" },
        Outcome::Refused(failed) if failed.contains(&0) => Receipt::Duplicate,
        Outcome::Refused(failed) if failed.contains(&pointer_at) => {
            let effects: Vec<Write> = std::iter::once(audit.write()).chain(mail_write.clone()).collect();
            let receipt = record_event_once(app, event, "invoice_reversed_first", effects).await?;
            return with_mail(app, event, receipt, &queued).await;
        }
        // Credited before under the invoice's key (another event about the same invoice).
        _ => return record_event_once(app, event, "already_applied", vec![audit.write()]).await,
    };
    with_mail(app, event, receipt, &queued).await
}

/// The credits a paid invoice grants: a paid period's (the first invoice or a renewal, with an
/// amount) of the plan actually billed; the trial's own credits for the $0 invoice that opens a
/// trial. Prorations, manual invoices and unpaid ones grant nothing.
fn period_credits(invoice: &Invoice, billed: Option<&crate::catalog::Plan>, paid: bool) -> Option<i64> {
    let plan = billed.filter(|_| paid)?;
    let credits = match (invoice.amount_paid, invoice.billing_reason.as_deref()) {
        (1.., _) if invoice.is_for_a_period() => plan.credits_per_period?,
        (0, Some("subscription_create")) => plan.subscription.as_ref()?.trial_credits,
        _ => return None,
    };
    i64::try_from(credits).ok().filter(|c| *c > 0)
}

/// What a refund or dispute of a credited invoice needs to find its credits: the invoice's own
/// pointer (who was credited, how much), and its payments' pointers leading to it.
fn invoice_pointers(invoice: &Invoice, user_id: &str, credits: i64) -> Vec<Write> {
    let holder = records::Holder::User(user_id.to_string());
    // A refund or dispute of the invoice's payment that came first: no credits at all.
    let mut writes = vec![Write::Update(
        Update::new(records::payment(&invoice.id))
            .set(pointer::INVOICE, invoice.id.as_str())
            .set(pointer::HOLDER, holder.pk())
            .set(pointer::CREDITS, credits)
            .when(Condition::absent(pointer::REVERSED_FIRST)),
    )];
    for payment in invoice.payment_ids().iter().filter(|p| **p != invoice.id) {
        writes.push(Write::Update(Update::new(records::payment(payment)).set(pointer::INVOICE, invoice.id.as_str())));
    }
    writes
}

/// Current API versions name an invoice's payment only in `invoice_payment.paid`: its pointer
/// leads a later refund or dispute of that payment to the invoice.
async fn invoice_payment(
    app: &App,
    event: &Event,
    payment: crate::stripe::events::InvoicePayment,
) -> Result<Receipt, Error> {
    let Some(invoice) = payment.invoice_id() else {
        return record_only(app, event, "no_invoice").await;
    };
    let links: Vec<Write> = payment
        .payment_ids()
        .iter()
        .map(|id| Write::Update(Update::new(records::payment(id)).set(pointer::INVOICE, invoice.as_str())))
        .collect();
    // A refund or dispute of the payment that came before this link: now it reaches the invoice.
    let mut reversed_first = None;
    for id in payment.payment_ids() {
        if let Some(by) = reversals::pointer_of(app, &id).await?.and_then(|p| p.reversed_by) {
            reversed_first = Some((id, Cause::from_tag(&by)));
        }
    }
    match reversed_first {
        None => record_event_once(app, event, "payment_linked", links).await,
        Some((id, cause)) => {
            // The links are idempotent; the reversal carries the event's exactly-once record.
            app.store.transact(links).await?;
            reversals::reverse(app, event, &id, cause).await
        }
    }
}
