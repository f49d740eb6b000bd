//! The billing audit (`USER#<id>`/`BILLING#<created>#<evt_id>`): every billing event Stripe
//! delivers about a user, kept without expiry, written in the event's own transaction; in the
//! index by the UTC month of the event (`BILLING#<YYYY-MM>`, sorted by time), for the recent
//! events of every user.

use serde::{Deserialize, Serialize};

use super::keys;
use crate::clock::{DAY, day_id, day_start};
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
        .with(GSI1PK, keys::billing_month_index(&month_of(event.created)))
        .with(GSI1SK, format!("{:010}#{}", event.created, event.event_id));
    Tx::new().with(Label::Audit, Write::put(item))
}

/// The UTC month (`2026-11`) of an epoch second.
fn month_of(epoch_secs: i64) -> String {
    day_id(epoch_secs)[..7].to_string()
}

/// Every user's billing events, newest first: up to `limit` from the `days` UTC days ending
/// with `now`'s. One index query per calendar month read (at most three for 30 days), from
/// this month back, stopping once `limit` are found or the range is covered.
pub async fn recent(store: &Store, now: i64, days: i64, limit: usize) -> Result<Vec<BillingEvent>, Error> {
    let since = day_start(&day_id(now - (days - 1) * DAY)).unwrap_or(now);
    let mut found = Vec::new();
    let mut at = now;
    while found.len() < limit {
        let month = month_of(at);
        let items = store.query_index_newest(&keys::billing_month_index(&month), limit - found.len()).await?;
        let events = crate::store::codec::decode_all::<BillingEvent>(&items)?;
        let covered = events.last().is_some_and(|e| e.created < since);
        found.extend(events.into_iter().filter(|e| e.created >= since));
        let start = day_start(&format!("{month}-01")).unwrap_or(since);
        if covered || start <= since {
            break;
        }
        at = start - 1;
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
