//! Events that cannot be matched yet: a subscription or invoice event about a Stripe customer no
//! user is linked to (a Payment Link subscription claimed later, a customer linked a moment after
//! the event). Dropping them would lose, say, the `customer.subscription.deleted` that must take
//! access away; so each waits under its customer (answered 200: Stripe would otherwise retry
//! for days and disable the endpoint) and is applied, in Stripe's order, when the link appears.

use crate::app::App;
use crate::error::Error;
use crate::store::records::{self, EVENT_RETENTION_SECS, WAITING_PREFIX};
use crate::store::{Item, Query, TTL, Write};
use crate::stripe::Event;

use super::stripe_events::{self, Receipt, record_only};

pub const WAITING: &str = "waiting_for_customer";

/// DynamoDB items hold 400 KB; an event larger than this is left to Stripe's retries instead.
const MAX_WAITING_BYTES: usize = 350 * 1024;

/// Keeps `event` until `customer` is linked to a user (or applies it now, if the link appeared
/// meanwhile). Without a customer there is nothing to wait for: it is recorded as unmatched.
pub async fn wait_for_customer(app: &App, event: &Event, customer: Option<String>) -> Result<Receipt, Error> {
    let Some(customer) = customer else {
        tracing::warn!(event_id = %event.id, "an event names no customer and no user");
        return record_only(app, event, "unknown_customer").await;
    };
    let body = serde_json::to_string(event).map_err(|e| Error::internal(e.to_string()))?;
    if body.len() > MAX_WAITING_BYTES {
        return Err(Error::Retry {
            code: "event_too_large_to_keep",
            message: "retry when the customer is linked".into(),
        });
    }
    let item = Item::new(&records::waiting_event(&customer, event.created, &event.id))
        .with("event_id", event.id.as_str())
        .with("body", body)
        .with("received_at", app.now())
        .with(TTL, app.now() + EVENT_RETENTION_SECS);
    app.store.write(Write::put(item)).await?;
    tracing::warn!(event_id = %event.id, event_type = %event.event_type, "event waits for its customer to be linked");
    // The link may have committed between the lookup and this write: then apply it now.
    if super::users::owner_of_customer(&app.store, &customer).await?.is_some() {
        replay(app, &customer).await?;
    }
    Ok(Receipt::Applied { outcome: WAITING })
}

/// Applies, oldest first, the events that waited for `customer`; returns how many it applied.
pub async fn replay(app: &App, customer: &str) -> Result<usize, Error> {
    let query = Query::prefix(records::customer_owner(customer).pk, WAITING_PREFIX);
    let mut applied = 0;
    for item in app.store.query_all(&query).await? {
        let event: Event = item
            .str("body")
            .and_then(|b| serde_json::from_str(b).ok())
            .ok_or_else(|| Error::internal(format!("unreadable waiting event {:?}", item.key())))?;
        let receipt = Box::pin(stripe_events::apply(app, &event)).await?;
        if receipt != (Receipt::Applied { outcome: WAITING }) {
            app.store.write(Write::Delete { key: item.key(), condition: None }).await?;
            applied += 1;
        }
    }
    Ok(applied)
}
