//! Checkout sessions: a paid one records its purchase (or, in subscription mode, starts the
//! subscription); an expired or failed one closes its order.

use serde_json::json;

use super::{Delivery, Outcome, Receipt, record_event_once, record_only, settle, user_for, with_mail};
use crate::app::App;
use crate::domain::billing::{self, BillingEvent};
use crate::domain::mail::{self, MailKind, Queued};
use crate::domain::purchases::{self, Product, Purchase, Recorded, resolve_product};
use crate::domain::subscriptions::{self, Applied};
use crate::domain::{members, waiting};
use crate::error::Error;
use crate::store::schema::{OrderStatus, orders};
use crate::stripe::{CheckoutSession, Event};

pub(super) async fn completed(app: &App, event: &Event, session: CheckoutSession) -> Result<Receipt, Error> {
    if session.mode == "subscription" {
        return subscription_started(app, event, session).await;
    }
    if session.mode != "payment" {
        return record_only(app, event, Outcome::UnsupportedMode).await;
    }
    if !session.is_paid() {
        // Delayed payment methods: checkout.session.async_payment_succeeded will follow.
        return record_only(app, event, Outcome::AwaitingPayment).await;
    }
    let Some((order_id, product)) = resolve_product(app, &session).await? else {
        tracing::warn!(event_id = %event.id, "a paid session bought nothing in the catalog");
        return record_only(app, event, Outcome::UnknownProduct).await;
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
                // A one-time purchase has no hosted invoice.
                "invoice_url": null,
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
        ..billing::record_of(event, user_id)
    });
    // An anonymous buyer has no user yet: the email's record names none (its address goes once
    // it is sent).
    let recipient = purchase.user_id.clone().unwrap_or_default();
    // The receipt goes out only for a purchase that stands (not one whose refund came first).
    let event_writes = |recorded: Recorded| {
        let outcome = if recorded == Recorded::Paid { Outcome::PurchaseRecorded } else { Outcome::PurchaseRefunded };
        let mut tx = super::event_record(event, outcome, Delivery::Applied, now);
        if let Some(audit) = &audit {
            tx.append(billing::write(audit));
        }
        if let (Recorded::Paid, Some(q)) = (recorded, &receipt_mail) {
            tx.append(mail::queue(&event.id, &recipient, q, now));
        }
        tx
    };
    let receipt = match purchases::record(app, &purchase, Some(&event_writes)).await? {
        Recorded::Paid => Receipt::Applied(Outcome::PurchaseRecorded),
        Recorded::Refunded => return Ok(Receipt::Applied(Outcome::PurchaseRefunded)),
        Recorded::DuplicateEvent => Receipt::Duplicate,
        Recorded::AlreadyRecorded => return record_only(app, event, Outcome::AlreadyApplied).await,
    };
    with_mail(app, event, receipt, &receipt_mail).await
}

/// An expired or failed session closes its pending order.
pub(super) async fn closed(
    app: &App,
    event: &Event,
    session: CheckoutSession,
    outcome: Outcome,
) -> Result<Receipt, Error> {
    let Some(order_id) = session.order_id() else {
        return record_only(app, event, Outcome::NoOrder).await;
    };
    let status = if outcome == Outcome::OrderExpired { OrderStatus::Expired } else { OrderStatus::Failed };
    let mut effects = orders::close(&order_id, status);
    // A members' price reserved by this checkout is given back (once: the order closes once).
    if let (Some(month), Some(user_id)) = (session.metadata.get(members::METADATA_KEY), session.metadata.get("user_id"))
    {
        effects.append(members::release(user_id, month, Some(&order_id)));
    }
    record_event_once(app, event, outcome, effects).await
}

/// A subscription-mode Checkout completed: the order is paid, the customer linked, and the
/// subscription's current state fetched and stored, so access starts whichever event comes first.
async fn subscription_started(app: &App, event: &Event, session: CheckoutSession) -> Result<Receipt, Error> {
    let Some(subscription_id) = session.subscription() else {
        return record_only(app, event, Outcome::NoSubscription).await;
    };
    let Some(user_id) = user_for(app, &session.metadata, session.customer()).await? else {
        return waiting::wait_for_customer(app, event, session.customer()).await;
    };
    let now = app.now();
    let mut effects = super::event_record(event, Outcome::SubscriptionStarted, Delivery::Applied, now);
    if let Some(order_id) = session.metadata.get("order_id") {
        effects.append(orders::subscription_paid(order_id, &session.id, &subscription_id, now));
    }
    if let Some(customer) = session.customer() {
        let email = session.purchase_email().unwrap_or_default();
        effects.append(crate::domain::users::link_customer(&user_id, &email, &customer));
    }
    let with = |_: &_| effects.clone();
    let outcome = Outcome::SubscriptionStarted;
    match subscriptions::sync(app, &user_id, &subscription_id, &event.id, &with).await? {
        Applied::Stored { .. } => settle(app, event, outcome, Ok(())).await,
        Applied::Refused(refused) => settle(app, event, outcome, Err(refused)).await,
        Applied::UnknownToStripe => record_only(app, event, Outcome::SubscriptionUnknown).await,
        Applied::UnknownPlan => record_only(app, event, Outcome::UnknownPlan).await,
    }
}
