//! Subscription events: a subscription's state changed (or its trial is about to end).

use serde_json::json;

use super::{Delivery, Outcome, Receipt, letter, record_only, settle, user_for, with_mail};
use crate::app::App;
use crate::domain::billing::{self, BillingEvent};
use crate::domain::mail::{self, MailKind};
use crate::domain::subscriptions::{self, Applied};
use crate::domain::waiting;
use crate::error::Error;
use crate::stripe::{Event, Subscription, SubscriptionChange};

/// The snapshot is applied if it is newer than the stored one (else Stripe's current state is),
/// with the audit record and the email the change sends.
pub(super) async fn changed(
    app: &App,
    event: &Event,
    change: SubscriptionChange,
    sub: Subscription,
) -> Result<Receipt, Error> {
    let Some(user_id) = user_for(app, &sub.metadata, sub.customer()).await? else {
        return waiting::wait_for_customer(app, event, sub.customer()).await;
    };
    let Some((plan, _)) = subscriptions::plan_of(&app.catalog, &sub) else {
        tracing::warn!(event_id = %event.id, "a subscription to a price not in the catalog");
        return record_only(app, event, Outcome::UnknownPlan).await;
    };
    let product = app.catalog.plan(plan).map(|p| p.name.clone()).unwrap_or_default();
    let (kind, when) = match change {
        SubscriptionChange::TrialWillEnd => (Some(MailKind::TrialEnding), sub.trial_end),
        SubscriptionChange::Deleted => (Some(MailKind::SubscriptionCanceled), sub.ended_at.or(sub.canceled_at)),
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
        ..billing::record_of(event, &user_id)
    };
    let now = app.now();
    let with = |_: &_| {
        let mut tx = super::event_record(event, Outcome::SubscriptionApplied, Delivery::Applied, now);
        tx.append(billing::write(&audit));
        if let Some(q) = &queued {
            tx.append(mail::queue(&event.id, &user_id, q, now));
        }
        tx
    };
    let receipt = match subscriptions::apply_snapshot(app, &user_id, sub, event.created, &event.id, &with).await? {
        Applied::Stored { fetched: false, .. } => Receipt::Applied(Outcome::SubscriptionApplied),
        Applied::Stored { fetched: true, .. } => Receipt::Applied(Outcome::SubscriptionRefreshed),
        Applied::Refused(refused) => settle(app, event, Outcome::SubscriptionApplied, Err(refused)).await?,
        Applied::UnknownToStripe => return record_only(app, event, Outcome::SubscriptionUnknown).await,
        Applied::UnknownPlan => return record_only(app, event, Outcome::UnknownPlan).await,
    };
    with_mail(app, event, receipt, &queued).await
}
