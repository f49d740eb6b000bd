//! Events waiting for their customer (`CUSTOMER#<cus>`/`WAITING#<created>#<evt_id>`): an event
//! about a Stripe customer no user is linked to yet, kept (30 days) until the link appears.

use serde::{Deserialize, Serialize};

use super::keys;
use crate::store::codec::{decode, encode};
use crate::store::{Key, Label, Query, Store, StoreError, TTL, Tx, Write};

#[derive(Debug, Serialize, Deserialize)]
struct Body {
    event_id: String,
    body: String,
    received_at: i64,
}

/// An event kept for its customer: the event as Stripe sent it (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    key: Key,
    pub event_id: String,
    pub body: String,
}

/// Keeps the event (JSON `body`) until `customer` is linked, in the order Stripe created them.
pub fn wait(customer: &str, created: i64, event_id: &str, body: String, now: i64) -> Tx {
    let record = Body { event_id: event_id.to_string(), body, received_at: now };
    let item = encode(&keys::waiting_event(customer, created, event_id), &record)
        .with(TTL, now + super::events::EVENT_RETENTION_SECS);
    Tx::new().with(Label::Waiting, Write::put(item))
}

/// What waits for `customer`, oldest first.
pub async fn waiting(store: &Store, customer: &str) -> Result<Vec<Waiting>, StoreError> {
    let query = Query::prefix(keys::customer_pk(customer), keys::WAITING_SK);
    store
        .query_all(&query)
        .await?
        .iter()
        .map(|item| {
            let body: Body = decode(item)?;
            Ok(Waiting { key: item.key(), event_id: body.event_id, body: body.body })
        })
        .collect()
}

/// The event was applied: it waits no more.
pub fn applied(waiting: &Waiting) -> Tx {
    Tx::new().with(Label::Waiting, Write::Delete { key: waiting.key.clone(), condition: None })
}
