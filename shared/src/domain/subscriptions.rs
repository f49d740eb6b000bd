//! Subscriptions: Tollgate keeps the state Stripe holds, although Stripe delivers events late,
//! twice and out of order. A snapshot is applied only when it is newer than the stored one; on
//! a tie, or when it is older, the subscription is fetched from Stripe and that is stored. What
//! a subscription grants is written to the user's `PLANS` item (`until_<plan>`) in the same
//! transaction, so the effective plan stays one read.

use std::collections::BTreeMap;

use crate::app::App;
use crate::catalog::{Catalog, Interval};
use crate::error::Error;
use crate::store::records::{self, SUBSCRIPTION_PREFIX};
use crate::store::{Condition, Item, Query, StoreError, Update, Write};
use crate::stripe::Subscription;

/// Access that does not end until Stripe says so.
pub const OPEN_ENDED: i64 = i64::MAX;

const DAY: i64 = 24 * 3600;

/// One subscription as stored: Stripe's state, the access it grants, and the last change applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub id: String,
    pub user_id: String,
    pub customer: Option<String>,
    pub plan: String,
    pub interval: Option<Interval>,
    pub status: String,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub trial_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// Until when the plan is granted (`OPEN_ENDED`); None: not granted.
    pub access_until: Option<i64>,
    /// Stripe's time of the state stored: the event's `created`, or when it was fetched.
    pub as_of: i64,
    /// The last change applied: an event id, or `fetched:<event id>`.
    pub applied: String,
    /// Every write adds one; each write is conditional on the version it read.
    pub version: i64,
}

impl SubscriptionRecord {
    pub fn to_item(&self) -> Item {
        Item::new(&records::subscription(&self.user_id, &self.id))
            .with("subscription_id", self.id.as_str())
            .with("user_id", self.user_id.as_str())
            .with_opt("customer", self.customer.as_deref())
            .with("plan", self.plan.as_str())
            .with_opt("interval", self.interval.map(Interval::as_str))
            .with("status", self.status.as_str())
            .with_opt("current_period_start", self.current_period_start)
            .with_opt("current_period_end", self.current_period_end)
            .with_opt("trial_end", self.trial_end)
            .with("cancel_at_period_end", self.cancel_at_period_end)
            .with_opt("cancel_at", self.cancel_at)
            .with_opt("canceled_at", self.canceled_at)
            .with_opt("ended_at", self.ended_at)
            .with_opt("access_until", self.access_until)
            .with("as_of", self.as_of)
            .with("applied", self.applied.as_str())
            .with("version", self.version)
    }

    pub fn from_item(item: &Item) -> Option<Self> {
        Some(SubscriptionRecord {
            id: item.string("subscription_id")?,
            user_id: item.string("user_id")?,
            customer: item.string("customer"),
            plan: item.string("plan")?,
            interval: item.str("interval").and_then(Interval::parse),
            status: item.string("status")?,
            current_period_start: item.num("current_period_start"),
            current_period_end: item.num("current_period_end"),
            trial_end: item.num("trial_end"),
            cancel_at_period_end: item.flag("cancel_at_period_end"),
            cancel_at: item.num("cancel_at"),
            canceled_at: item.num("canceled_at"),
            ended_at: item.num("ended_at"),
            access_until: item.num("access_until"),
            as_of: item.num("as_of")?,
            applied: item.string("applied")?,
            version: item.num("version")?,
        })
    }

    /// Not over: a live subscription blocks a second checkout.
    pub fn is_live(&self) -> bool {
        !matches!(self.status.as_str(), "canceled" | "incomplete_expired" | "incomplete")
    }
}

/// Until when a subscription in this state grants its plan. `trialing` and `active` grant it
/// (until the period ends when it is set to cancel then); `past_due` keeps it for the grace
/// period from the start of the unpaid period; every other status removes it.
pub fn access_until(sub: &Subscription, grace_days: i64) -> Option<i64> {
    let scheduled_end = || {
        let at_period_end = sub.cancel_at_period_end.then(|| sub.current_period_end().or(sub.trial_end)).flatten();
        [at_period_end, sub.cancel_at].into_iter().flatten().min()
    };
    match sub.status.as_str() {
        "trialing" | "active" => Some(scheduled_end().unwrap_or(OPEN_ENDED)),
        "past_due" => {
            let grace_end = sub.current_period_start()?.saturating_add(grace_days.saturating_mul(DAY));
            Some(scheduled_end().map_or(grace_end, |end| end.min(grace_end)))
        }
        _ => None,
    }
}

/// The catalog plan (and interval) a subscription bills: its price, else Tollgate's metadata.
pub fn plan_of<'a>(catalog: &'a Catalog, sub: &Subscription) -> Option<(&'a str, Option<Interval>)> {
    if let Some((plan, interval)) = sub.price_ids().iter().find_map(|p| catalog.plan_for_subscription_price(p)) {
        return Some((&plan.key, Some(interval)));
    }
    let plan = catalog.plan(sub.metadata.get("plan")?)?;
    Some((&plan.key, sub.metadata.get("interval").and_then(|i| Interval::parse(i))))
}

/// All of a user's subscriptions (strongly consistent).
pub async fn subscriptions_of(app: &App, user_id: &str) -> Result<Vec<SubscriptionRecord>, Error> {
    let query = Query::prefix(format!("USER#{user_id}"), SUBSCRIPTION_PREFIX);
    Ok(app.store.query_all(&query).await?.iter().filter_map(SubscriptionRecord::from_item).collect())
}

/// The subscription that describes the user's billing: the one granting access with the
/// highest-ranked plan, else the live one, else the most recent.
pub fn principal<'a>(catalog: &Catalog, subs: &'a [SubscriptionRecord], now: i64) -> Option<&'a SubscriptionRecord> {
    let rank = |s: &SubscriptionRecord| catalog.plan(&s.plan).map_or(i64::MIN, |p| p.rank);
    subs.iter().max_by_key(|s| (s.access_until.is_some_and(|u| u > now), s.is_live(), rank(s), s.as_of))
}

/// The `PLANS` item's subscription part, recomputed from all of the user's subscriptions.
fn plans_update(app: &App, user_id: &str, subs: &[SubscriptionRecord]) -> Update {
    let mut until: BTreeMap<&str, i64> = BTreeMap::new();
    let mut member: BTreeMap<&str, i64> = BTreeMap::new();
    for sub in subs {
        if let Some(end) = sub.access_until {
            let e = until.entry(sub.plan.as_str()).or_insert(end);
            *e = (*e).max(end);
            // Members are subscribers whose current period is paid: not trialing, not past due.
            if sub.status == "active" {
                let m = member.entry(sub.plan.as_str()).or_insert(end);
                *m = (*m).max(end);
            }
        }
    }
    let mut update = Update::new(records::plans_held(user_id));
    for plan in app.catalog.plans().iter().filter(|p| p.subscription.is_some()) {
        for (name, ends) in
            [(records::until_attribute(&plan.key), &until), (records::member_attribute(&plan.key), &member)]
        {
            update = match ends.get(plan.key.as_str()) {
                Some(end) => update.set(&name, *end),
                None => update.remove(&name),
            };
        }
    }
    let summary = ["sub_id", "sub_status", "sub_plan", "sub_interval", "sub_period_end", "sub_trial_end", "sub_cancel"];
    match principal(&app.catalog, subs, app.now()) {
        Some(s) => update
            .set("sub_id", s.id.as_str())
            .set("sub_status", s.status.as_str())
            .set("sub_plan", s.plan.as_str())
            .set("sub_cancel", s.cancel_at_period_end || s.cancel_at.is_some())
            .set_opt("sub_interval", s.interval.map(Interval::as_str))
            .set_opt("sub_period_end", s.current_period_end)
            .set_opt("sub_trial_end", s.trial_end),
        None => summary.iter().fold(update, |u, name| u.remove(name)),
    }
}

/// How applying a snapshot went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Stored (the given snapshot, or Stripe's current one when the given one was not newer).
    Stored { record: Box<SubscriptionRecord>, fetched: bool },
    /// Stripe no longer knows the subscription: nothing stored.
    UnknownToStripe,
    /// Its price is not in the catalog (nor does its metadata name a plan): nothing stored.
    UnknownPlan,
    /// One of the caller's writes (`with`) did not hold: the indices that failed (0 also when the
    /// event named by `applied` was applied before and Stripe was therefore not asked).
    Refused(Vec<usize>),
}

const ATTEMPTS: usize = 8;

/// Applies a snapshot of `sub` taken at `as_of` (Stripe's time) for `user_id`. `with` gives
/// writes that commit in the same transaction, first (the webhook's event record).
pub async fn apply_snapshot(
    app: &App,
    user_id: &str,
    sub: Subscription,
    as_of: i64,
    applied: &str,
    with: &(dyn Fn(&SubscriptionRecord) -> Vec<Write> + Sync),
) -> Result<Applied, Error> {
    store(app, user_id, (sub, as_of, applied.to_string(), false), with).await
}

/// Before asking Stripe: a re-delivered event (its record exists) needs no fetch.
async fn already_applied(app: &App, applied: &str) -> Result<bool, Error> {
    let event_id = applied.trim_start_matches("fetched:");
    Ok(event_id.starts_with("evt_") && app.store.get(&records::event(event_id)).await?.is_some())
}

/// (snapshot, Stripe's time of it, what applied it, whether it was fetched just now)
type Snapshot = (Subscription, i64, String, bool);

async fn store(
    app: &App,
    user_id: &str,
    mut snapshot: Snapshot,
    with: &(dyn Fn(&SubscriptionRecord) -> Vec<Write> + Sync),
) -> Result<Applied, Error> {
    for _ in 0..ATTEMPTS {
        let mut subs = subscriptions_of(app, user_id).await?;
        let stored = subs.iter().position(|s| s.id == snapshot.0.id);
        if let Some(i) = stored {
            if snapshot.3 {
                snapshot.1 = snapshot.1.max(subs[i].as_of);
            } else if subs[i].as_of >= snapshot.1 {
                // Not newer than what is stored: Stripe's current state decides.
                if already_applied(app, &snapshot.2).await? {
                    return Ok(Applied::Refused(vec![0]));
                }
                let Some(current) = fetch(app, &snapshot.0.id).await? else {
                    return Ok(Applied::UnknownToStripe);
                };
                snapshot = (current, app.now().max(subs[i].as_of), format!("fetched:{}", snapshot.2), true);
            }
        }
        let (sub, as_of, applied_by, fetched) = &snapshot;
        let Some((plan, interval)) = plan_of(&app.catalog, sub) else {
            tracing::warn!(subscription = %sub.id, "a subscription to a price not in the catalog");
            return Ok(Applied::UnknownPlan);
        };
        let record = SubscriptionRecord {
            id: sub.id.clone(),
            user_id: user_id.to_string(),
            customer: sub.customer(),
            plan: plan.to_string(),
            interval,
            status: sub.status.clone(),
            current_period_start: sub.current_period_start(),
            current_period_end: sub.current_period_end(),
            trial_end: sub.trial_end,
            cancel_at_period_end: sub.cancel_at_period_end,
            cancel_at: sub.cancel_at,
            canceled_at: sub.canceled_at,
            ended_at: sub.ended_at,
            access_until: access_until(sub, app.config.grace_days),
            as_of: *as_of,
            applied: applied_by.clone(),
            version: stored.map_or(1, |i| subs[i].version + 1),
        };
        let mut writes = with(&record);
        let own = writes.len();
        let expected = |s: &SubscriptionRecord| Condition::equals("version", s.version);
        writes.push(Write::Put {
            item: record.to_item(),
            condition: Some(stored.map_or(Condition::NotExists, |i| expected(&subs[i]))),
        });
        for other in subs.iter().filter(|s| s.id != record.id) {
            writes.push(Write::Check { key: records::subscription(user_id, &other.id), condition: expected(other) });
        }
        match stored {
            Some(i) => subs[i] = record.clone(),
            None => subs.push(record.clone()),
        }
        writes.push(Write::Update(plans_update(app, user_id, &subs)));
        match app.store.transact(writes).await {
            Ok(()) => return Ok(Applied::Stored { record: Box::new(record), fetched: *fetched }),
            Err(StoreError::Cancelled { failed }) if failed.iter().any(|i| *i < own) => {
                return Ok(Applied::Refused(failed));
            }
            // Another delivery changed the user's subscriptions first: read again.
            Err(StoreError::Cancelled { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::internal("the subscription kept changing while it was applied"))
}

async fn fetch(app: &App, id: &str) -> Result<Option<Subscription>, Error> {
    app.stripe.subscription(id).await.map_err(|e| Error::Stripe { message: e.to_string(), fallback_url: None })
}

/// Stripe's current state of a subscription, stored for `user_id` (checkout completion, claims).
pub async fn sync(
    app: &App,
    user_id: &str,
    subscription_id: &str,
    applied: &str,
    with: &(dyn Fn(&SubscriptionRecord) -> Vec<Write> + Sync),
) -> Result<Applied, Error> {
    if already_applied(app, applied).await? {
        return Ok(Applied::Refused(vec![0]));
    }
    let Some(current) = fetch(app, subscription_id).await? else {
        return Ok(Applied::UnknownToStripe);
    };
    store(app, user_id, (current, app.now(), format!("fetched:{applied}"), true), with).await
}
