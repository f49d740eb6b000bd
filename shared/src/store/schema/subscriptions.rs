//! Subscriptions (`USER#<id>`/`SUB#<sub_id>`): Stripe's state of each, the access it grants, and
//! the last change applied, versioned: every write is conditional on the version it read.

use serde::{Deserialize, Serialize};

use super::keys;
use crate::catalog::Interval;
use crate::store::codec::{decode_all, encode};
use crate::store::{Condition, Label, Query, Store, StoreError, Tx, Write};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    #[serde(rename = "subscription_id")]
    pub id: String,
    pub user_id: String,
    pub customer: Option<String>,
    pub plan: String,
    pub interval: Option<Interval>,
    pub status: String,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub trial_end: Option<i64>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// Until when the plan is granted (`i64::MAX` while open-ended); None: not granted.
    pub access_until: Option<i64>,
    /// Stripe's time of the state stored: the event's `created`, or when it was fetched.
    pub as_of: i64,
    /// The last change applied: an event id, or `fetched:<event id>`.
    pub applied: String,
    /// Every write adds one; each write is conditional on the version it read.
    pub version: i64,
}

impl SubscriptionRecord {
    /// Not over: a live subscription blocks a second checkout.
    pub fn to_item(&self) -> crate::store::Item {
        encode(&keys::subscription(&self.user_id, &self.id), self)
    }
    pub fn is_live(&self) -> bool {
        !matches!(self.status.as_str(), "canceled" | "incomplete_expired" | "incomplete")
    }
}

/// All of a user's subscriptions (strongly consistent).
pub async fn of(store: &Store, user_id: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
    let query = Query::prefix(keys::user_pk(user_id), keys::SUBSCRIPTION_SK);
    decode_all(&store.query_all(&query).await?)
}

fn version_is(version: i64) -> Condition {
    Condition::equals("version", version)
}

/// Stores `record`, refused (`Subscription`) unless the stored one is still at `read_version`
/// (None: none is stored).
pub fn put(record: &SubscriptionRecord, read_version: Option<i64>) -> Tx {
    let item = record.to_item();
    let condition = read_version.map_or(Condition::NotExists, version_is);
    Tx::new().with(Label::Subscription, Write::Put { item, condition: Some(condition) })
}

/// A check, refused (`OtherSubscription`), unless another of the user's subscriptions is still
/// as read.
pub fn unchanged(other: &SubscriptionRecord) -> Tx {
    let check =
        Write::Check { key: keys::subscription(&other.user_id, &other.id), condition: version_is(other.version) };
    Tx::new().with(Label::OtherSubscription, check)
}
