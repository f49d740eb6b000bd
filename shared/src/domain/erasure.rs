//! The right to erasure (`DELETE /api/me` and its admin equivalent): a live subscription is
//! ended at Stripe first (nothing keeps charging a person who is gone); purchases waiting under
//! the address are claimed, so they are kept with the user rather than under the address; what
//! the person made is deleted; the financial records are kept, pseudonymised; the address goes
//! last. Each step can be repeated, so an erasure that failed half-way (5xx) is finished by
//! asking again.

use crate::app::App;
use crate::error::Error;
use crate::store::schema::{erasure, users::User};
use crate::store::{StoreError, Tx};
use crate::stripe::Event;

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    pub user_id: String,
    /// Subscriptions ended at Stripe.
    pub canceled: Vec<String>,
    /// Personal records deleted.
    pub deleted: usize,
    /// Financial records kept without personal data.
    pub pseudonymised: usize,
}

/// Commits each change on its own: an item that went meanwhile (a condition on its existence)
/// needs nothing.
async fn each(app: &App, changes: Vec<Tx>) -> Result<usize, Error> {
    let mut done = 0;
    for tx in changes.into_iter().filter(|t| !t.is_empty()) {
        match app.store.commit(tx).await {
            Ok(()) => done += 1,
            Err(StoreError::Cancelled { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

pub async fn erase(app: &App, user_id: &str) -> Result<Option<Erased>, Error> {
    let Some(user) = super::users::user_by_id(&app.store, user_id).await? else { return Ok(None) };
    let canceled = end_subscriptions(app, &user).await?;
    if !user.email.is_empty() {
        super::claims::claim_by_email(app, &user).await?;
    }

    let personal = erasure::personal_records(&app.store, user_id, &user.email).await?;
    let deleted = each(app, personal.into_iter().map(erasure::delete).collect()).await?;

    let mut kept = Vec::new();
    let mut orders: Vec<String> =
        super::entitlements::grants(app, &crate::store::schema::Holder::User(user.id.clone()))
            .await?
            .into_iter()
            .map(|g| g.order_id)
            .collect();
    if !user.email.is_empty() {
        let bought = crate::store::schema::orders::of_purchaser(&app.store, &user.email).await?;
        orders.extend(bought.into_iter().map(|o| o.id));
    }
    orders.sort();
    orders.dedup();
    kept.extend(orders.iter().map(|o| erasure::pseudonymise_order(o)));
    for entry in super::credits::ledger(app, user_id).await?.iter().filter(|e| e.note.is_some()) {
        kept.push(erasure::pseudonymise_ledger_entry(user_id, entry.seq));
    }
    for event in super::support::all_billing_events(app, user_id).await? {
        if event.email.is_some() {
            kept.push(erasure::pseudonymise_billing_event(user_id, event.created, &event.event_id));
            kept.push(erasure::pseudonymise_mail(&app.store, user_id, &event.event_id).await?);
        }
    }
    let pseudonymised = each(app, kept).await?;

    app.store.commit(erasure::forget_email(user_id, &user.email, app.now())).await?;
    tracing::info!(user_id, canceled = canceled.len(), deleted, pseudonymised, "personal data erased");
    Ok(Some(Erased { user_id: user_id.to_string(), canceled, deleted, pseudonymised }))
}

/// Ends every live subscription at Stripe now. With real Stripe the webhook then records the
/// end; the simulation's event is applied here, through the same exactly-once path.
async fn end_subscriptions(app: &App, user: &User) -> Result<Vec<String>, Error> {
    let mut canceled = Vec::new();
    for sub in super::subscriptions::subscriptions_of(app, &user.id).await?.into_iter().filter(|s| s.is_live()) {
        let event = app.stripe.cancel_subscription(&sub.id, app.now()).await.map_err(|e| {
            tracing::error!(subscription = %sub.id, error = %e, "erasure: Stripe did not cancel the subscription");
            Error::Stripe { message: e.to_string(), fallback_url: None }
        })?;
        if let Some(body) = event {
            let event = Event::parse(&body).map_err(|e| Error::internal(e.to_string()))?;
            super::stripe_events::apply(app, &event).await?;
        }
        canceled.push(sub.id);
    }
    Ok(canceled)
}
