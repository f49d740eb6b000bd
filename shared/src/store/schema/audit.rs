//! The billing audit (`USER#<id>`/`BILLING#<created>#<evt_id>`): every billing event Stripe
//! delivers about a user, kept without expiry, written in the event's own transaction; in the
//! index by the UTC day of the event (`BILLING#<YYYY-MM-DD>`, sorted by time), for the recent
//! events of every user.

use serde::{Deserialize, Serialize};

use super::keys;
use crate::clock::{DAY, day_id};
use crate::error::Error;
use crate::store::codec::encode;
use crate::store::{GSI1PK, GSI1SK, Label, Store, Tx, Write};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingEvent {
    pub user_id: String,
    pub event_id: String,
    pub event_type: String,
    /// Stripe's time of the event.
    pub created: i64,
    /// In the currency's smallest unit: an invoice's amount paid (or due), a subscription's price.
    pub amount: Option<i64>,
    pub currency: Option<String>,
    /// The invoice's or subscription's status in the event.
    pub status: Option<String>,
    pub subscription: Option<String>,
    pub invoice: Option<String>,
    /// The email the event queued, if any.
    pub email: Option<String>,
}

/// The audit record; writing it twice changes nothing.
pub fn write(event: &BillingEvent) -> Tx {
    let item = encode(&keys::billing_event(&event.user_id, event.created, &event.event_id), event)
        .with(GSI1PK, keys::billing_day_index(&day_id(event.created)))
        .with(GSI1SK, format!("{:010}#{}", event.created, event.event_id));
    Tx::new().with(Label::Audit, Write::put(item))
}

/// Every user's billing events, newest first: up to `limit` from the `days` UTC days ending
/// with `now`'s (one index query per day read, stopping once `limit` are found).
pub async fn recent(store: &Store, now: i64, days: i64, limit: usize) -> Result<Vec<BillingEvent>, Error> {
    let mut found = Vec::new();
    for back in 0..days {
        let wanted = limit - found.len();
        if wanted == 0 {
            break;
        }
        let day = keys::billing_day_index(&day_id(now - back * DAY));
        found.extend(crate::store::codec::decode_all::<BillingEvent>(&store.query_index_newest(&day, wanted).await?)?);
    }
    Ok(found)
}

/// One page of a user's billing events, newest first, and the opaque cursor to continue after.
pub async fn page(
    store: &Store,
    user_id: &str,
    limit: usize,
    cursor: Option<&str>,
) -> Result<(Vec<BillingEvent>, Option<String>), Error> {
    super::newest_first(store, keys::user_pk(user_id), keys::BILLING_SK, limit, cursor).await
}
