//! Subscriptions (`USER#<id>`/`SUB#<sub_id>`): Stripe's state of each, the access it grants, and
//! the last change applied, versioned: every write is conditional on the version it read.

use serde::{Deserialize, Serialize};

use super::keys;
use super::metrics::{Counts, Family, count_all, count_day};
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
    /// What one period costs (the items' prices times quantities, before discounts), in the
    /// currency's smallest unit; None for records stored before it was kept.
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    /// When its trial started (Stripe's `trial_start`).
    #[serde(default)]
    pub trial_start: Option<i64>,
    /// A plan change waiting for the period's end (a subscription schedule's next phase), kept
    /// flat as `next_*` attributes.
    #[serde(flatten)]
    pub scheduled: Option<ScheduledChange>,
    /// Stripe's time of the schedule state kept in `scheduled` (schedule events are ordered by
    /// it, apart from the subscription's own).
    #[serde(default)]
    pub scheduled_as_of: Option<i64>,
}

/// A change Stripe will make at `at`: the subscription moves to `plan` billed by `interval`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledChange {
    #[serde(rename = "next_schedule")]
    pub schedule: String,
    #[serde(rename = "next_plan")]
    pub plan: String,
    #[serde(rename = "next_interval")]
    pub interval: Option<Interval>,
    #[serde(rename = "next_at")]
    pub at: i64,
}

impl SubscriptionRecord {
    /// Not over: a live subscription blocks a second checkout.
    pub fn to_item(&self) -> crate::store::Item {
        encode(&keys::subscription(&self.user_id, &self.id), self)
    }
    pub fn is_live(&self) -> bool {
        !matches!(self.status.as_str(), "canceled" | "incomplete_expired" | "incomplete")
    }
    /// Paying now: active or past due, at a price above zero (trials are not).
    pub fn is_paying(&self) -> bool {
        matches!(self.status.as_str(), "active" | "past_due") && self.amount.unwrap_or(0) > 0
    }
    /// What it brings in a month, yearly prices divided by 12 (rounded down).
    pub fn monthly_amount(&self) -> i64 {
        let amount = self.amount.unwrap_or(0);
        match self.interval {
            Some(Interval::Year) => amount / 12,
            _ => amount,
        }
    }

    /// What this subscription adds to the running counters: one in its plan and status and,
    /// while paying, its monthly amount in its currency.
    fn counted(&self) -> Counts {
        let mut counts = Counts::from([(format!("n|{}|{}", self.plan, self.status), 1)]);
        if self.is_paying() {
            counts.insert("paying".into(), 1);
            counts.insert(format!("mrr|{}", self.currency.as_deref().unwrap_or("unknown")), self.monthly_amount());
        }
        counts
    }
}

/// The counters of a subscription going from `before` (None: new) to `after`: the running
/// counters move by the difference, and the day `now` counts a trial started, a trial converted
/// to a paid period, or a live subscription ended.
pub fn count_change(before: Option<&SubscriptionRecord>, after: &SubscriptionRecord, now: i64) -> Tx {
    let mut running = after.counted();
    for (name, n) in before.map(SubscriptionRecord::counted).unwrap_or_default() {
        *running.entry(name).or_default() -= n;
    }
    let was = |status: &str| before.is_some_and(|b| b.status == status);
    let mut day = Counts::new();
    if after.status == "trialing" && !was("trialing") {
        day.insert("trial_started".into(), 1);
    }
    if was("trialing") && after.is_paying() {
        day.insert("converted".into(), 1);
    }
    if before.is_some_and(SubscriptionRecord::is_live) && !after.is_live() {
        day.insert("churned".into(), 1);
    }
    let mut tx = count_all(Family::Subscriptions, &after.id, &running);
    tx.append(count_day(Family::Subscriptions, &after.id, now, &day));
    tx
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
    Tx::new().with(Label::Subscription, Write::put_if(item, Some(condition)))
}

/// A check, refused (`OtherSubscription`), unless another of the user's subscriptions is still
/// as read.
pub fn unchanged(other: &SubscriptionRecord) -> Tx {
    let check =
        Write::Check { key: keys::subscription(&other.user_id, &other.id), condition: version_is(other.version) };
    Tx::new().with(Label::OtherSubscription, check)
}
