//! The billing audit: every billing event Stripe delivers about a user, kept (without expiry)
//! as one record written in the event's own transaction, listed for administrators.

use crate::app::App;
use crate::error::Error;
use crate::store::Tx;
use crate::store::schema::audit;

pub use crate::store::schema::BillingEvent;

/// The record of `event` for `user_id`, its billing details still to fill in.
pub fn record_of(event: &crate::stripe::Event, user_id: &str) -> BillingEvent {
    BillingEvent {
        user_id: user_id.to_string(),
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        created: event.created,
        amount: None,
        currency: None,
        status: None,
        subscription: None,
        invoice: None,
        email: None,
    }
}

/// The audit write; writing it twice changes nothing.
pub fn write(event: &BillingEvent) -> Tx {
    audit::write(event)
}

/// One page of a user's billing events, newest first, and the opaque cursor to continue after.
pub async fn list(
    app: &App,
    user_id: &str,
    limit: usize,
    cursor: Option<&str>,
) -> Result<(Vec<BillingEvent>, Option<String>), Error> {
    audit::page(&app.store, user_id, limit, cursor).await
}

/// How far back the recent billing events reach.
pub const RECENT_DAYS: i64 = 30;

/// Every user's billing events of the last `RECENT_DAYS` UTC days, newest first, up to `limit`.
pub async fn recent(app: &App, limit: usize) -> Result<Vec<BillingEvent>, Error> {
    audit::recent(&app.store, app.now(), RECENT_DAYS, limit).await
}

/// A Stripe customer portal session for the user's customer, returning to the configured URL.
pub async fn portal_url(app: &App, user_id: &str) -> Result<String, Error> {
    let customer = super::users::user_by_id(&app.store, user_id)
        .await?
        .and_then(|u| u.stripe_customer_id)
        .ok_or_else(|| Error::not_found("no_customer", "there is no billing account yet: buy or subscribe first"))?;
    app.stripe
        .create_portal_session(&customer, &app.config.stripe.portal_return_url)
        .await
        .map_err(|e| Error::Stripe { message: e.to_string(), fallback_url: None })
}
