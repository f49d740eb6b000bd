//! Events that cannot be matched yet: a subscription or invoice event about a Stripe customer no
//! user is linked to (a Payment Link subscription claimed later, a customer linked a moment after
//! the event). Dropping them would lose, say, the `customer.subscription.deleted` that must take
//! access away; so each waits under its customer (answered 200: Stripe would otherwise retry
//! for days and disable the endpoint) and is applied, in Stripe's order, when the link appears.

use crate::app::App;
use crate::error::Error;
use crate::store::schema::customers;
use crate::stripe::Event;

use super::stripe_events::{self, Outcome, Receipt, record_only};

/// DynamoDB items hold 400 KB; an event larger than this is left to Stripe's retries instead.
const MAX_WAITING_BYTES: usize = 350 * 1024;

/// Keeps `event` until `customer` is linked to a user (or applies it now, if the link appeared
/// meanwhile). Without a customer there is nothing to wait for: it is recorded as unmatched.
pub async fn wait_for_customer(app: &App, event: &Event, customer: Option<String>) -> Result<Receipt, Error> {
    let Some(customer) = customer else {
        tracing::warn!(event_id = %event.id, "an event names no customer and no user");
        return record_only(app, event, Outcome::UnknownCustomer).await;
    };
    let body = serde_json::to_string(event).map_err(|e| Error::internal(e.to_string()))?;
    if body.len() > MAX_WAITING_BYTES {
        return Err(Error::Retry {
            code: "event_too_large_to_keep",
            message: "retry when the customer is linked".into(),
        });
    }
    let mut wait = customers::wait(&customer, event.created, &event.id, body, app.now());
    wait.append(stripe_events::count_delivery(&event.id, stripe_events::Delivery::Waiting, app.now()));
    app.store.commit(wait).await?;
    tracing::warn!(event_id = %event.id, event_type = %event.event_type, "event waits for its customer to be linked");
    // The link may have committed between the lookup and this write: then apply it now.
    if super::users::owner_of_customer(&app.store, &customer).await?.is_some() {
        replay(app, &customer).await?;
    }
    Ok(Receipt::Applied(Outcome::WaitingForCustomer))
}

/// Applies, oldest first, the events that waited for `customer`; returns how many it applied.
pub async fn replay(app: &App, customer: &str) -> Result<usize, Error> {
    let mut applied = 0;
    for waiting in customers::waiting(&app.store, customer).await? {
        let event: Event = serde_json::from_str(&waiting.body)
            .map_err(|e| Error::internal(format!("unreadable waiting event {}: {e}", waiting.event_id)))?;
        let receipt = Box::pin(stripe_events::apply(app, &event)).await?;
        if receipt != Receipt::Applied(Outcome::WaitingForCustomer) {
            app.store.commit(customers::applied(&waiting)).await?;
            applied += 1;
        }
    }
    Ok(applied)
}
