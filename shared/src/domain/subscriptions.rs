//! Subscriptions: Tollgate keeps the state Stripe holds, although Stripe delivers events late,
//! twice and out of order. A snapshot is applied only when it is newer than the stored one; on
//! a tie, or when it is older, the subscription is fetched from Stripe and that is stored. What
//! a subscription grants is written to the user's `PLANS` item (`until_<plan>`) in the same
//! transaction, so the effective plan stays one read.

use std::collections::BTreeMap;

use crate::app::App;
use crate::catalog::{Catalog, Interval};
use crate::clock::DAY;
use crate::error::Error;
use crate::store::schema::plans::{self as held, SubscriptionSummary};
use crate::store::schema::{events, subscriptions as stored};
use crate::store::{Label, StoreError, Tx};
use crate::stripe::{Subscription, SubscriptionSchedule};

pub use super::plans::OPEN_ENDED;
pub use crate::store::schema::SubscriptionRecord;
pub use crate::store::schema::subscriptions::ScheduledChange;

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
    Ok(stored::of(&app.store, user_id).await?)
}

/// The subscription that describes the user's billing: the one granting access with the
/// highest-ranked plan, else the live one, else the most recent.
pub fn principal<'a>(catalog: &Catalog, subs: &'a [SubscriptionRecord], now: i64) -> Option<&'a SubscriptionRecord> {
    let rank = |s: &SubscriptionRecord| catalog.plan(&s.plan).map_or(i64::MIN, |p| p.rank);
    subs.iter().max_by_key(|s| (s.access_until.is_some_and(|u| u > now), s.is_live(), rank(s), s.as_of))
}

/// What the user's subscriptions grant, recomputed from all of them, for the `PLANS` item.
fn access(app: &App, user_id: &str, subs: &[SubscriptionRecord]) -> Tx {
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
    let sold: Vec<&str> =
        app.catalog.plans().iter().filter(|p| p.subscription.is_some()).map(|p| p.key.as_str()).collect();
    let summary = principal(&app.catalog, subs, app.now()).map(|s| SubscriptionSummary {
        id: s.id.clone(),
        status: s.status.clone(),
        plan: s.plan.clone(),
        interval: s.interval.map(|i| i.as_str().to_string()),
        current_period_end: s.current_period_end,
        trial_end: s.trial_end,
        cancel_scheduled: s.cancel_at_period_end || s.cancel_at.is_some(),
        next: s.scheduled.as_ref().map(|c| (c.plan.clone(), c.interval.map(|i| i.as_str().to_string()), c.at)),
    });
    held::set_subscription_access(user_id, &sold, &until, &member, summary.as_ref())
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
    /// One of the caller's writes (`with`) did not hold: their labels (`Event` also when the
    /// event named by `applied` was applied before and Stripe was therefore not asked).
    Refused(Vec<Label>),
}

const ATTEMPTS: usize = 8;

/// The labels of a snapshot's own writes; the caller's (`with`) use others.
const OWN: [Label; 3] = [Label::Subscription, Label::OtherSubscription, Label::Plans];

/// Applies a snapshot of `sub` taken at `as_of` (Stripe's time) for `user_id`. `with` gives
/// writes that commit in the same transaction, first (the webhook's event record).
pub async fn apply_snapshot(
    app: &App,
    user_id: &str,
    sub: Subscription,
    as_of: i64,
    applied: &str,
    with: &(dyn Fn(&SubscriptionRecord) -> Tx + Sync),
) -> Result<Applied, Error> {
    store(app, user_id, (sub, as_of, applied.to_string(), false), with).await
}

/// Before asking Stripe: a re-delivered event (its record exists) needs no fetch.
pub(crate) async fn already_applied(app: &App, applied: &str) -> Result<bool, Error> {
    let event_id = applied.trim_start_matches("fetched:");
    Ok(event_id.starts_with("evt_") && events::get(&app.store, event_id).await?.is_some())
}

/// (snapshot, Stripe's time of it, what applied it, whether it was fetched just now)
type Snapshot = (Subscription, i64, String, bool);

async fn store(
    app: &App,
    user_id: &str,
    mut snapshot: Snapshot,
    with: &(dyn Fn(&SubscriptionRecord) -> Tx + Sync),
) -> Result<Applied, Error> {
    for _ in 0..ATTEMPTS {
        let mut subs = subscriptions_of(app, user_id).await?;
        let stored_at = subs.iter().position(|s| s.id == snapshot.0.id);
        if let Some(i) = stored_at {
            if snapshot.3 {
                snapshot.1 = snapshot.1.max(subs[i].as_of);
            } else if subs[i].as_of >= snapshot.1 {
                // Not newer than what is stored: Stripe's current state decides.
                if already_applied(app, &snapshot.2).await? {
                    return Ok(Applied::Refused(vec![Label::Event]));
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
        let mut record = SubscriptionRecord {
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
            version: stored_at.map_or(1, |i| subs[i].version + 1),
            amount: sub.amount(),
            currency: sub.currency.clone(),
            trial_start: sub.trial_start,
            scheduled: None,
            scheduled_as_of: stored_at.and_then(|i| subs[i].scheduled_as_of),
        };
        // The schedule's news is kept apart; a snapshot only shows whether it came true.
        record.scheduled = stored_at.and_then(|i| subs[i].scheduled.clone()).filter(|c| still_ahead(c, &record));
        let mut tx = with(&record);
        tx.append(stored::count_change(stored_at.map(|i| &subs[i]), &record, app.now()));
        let read_version = stored_at.map(|i| subs[i].version);
        match commit(app, user_id, &mut subs, &record, read_version, tx).await? {
            Commit::Done => return Ok(Applied::Stored { record: Box::new(record), fetched: *fetched }),
            Commit::Refused(labels) => return Ok(Applied::Refused(labels)),
            // Another delivery changed the user's subscriptions first: read again.
            Commit::Changed => continue,
        }
    }
    Err(Error::internal("the subscription kept changing while it was applied"))
}

/// How committing a subscription's new state went.
enum Commit {
    Done,
    /// One of the caller's writes did not hold: their labels.
    Refused(Vec<Label>),
    /// The user's subscriptions changed since they were read.
    Changed,
}

/// Commits `tx` (the caller's writes) with `record` put at the version read, the user's other
/// subscriptions checked unchanged, and what they all grant written to the `PLANS` item.
async fn commit(
    app: &App,
    user_id: &str,
    subs: &mut Vec<SubscriptionRecord>,
    record: &SubscriptionRecord,
    read_version: Option<i64>,
    mut tx: Tx,
) -> Result<Commit, Error> {
    tx.append(stored::put(record, read_version));
    for other in subs.iter().filter(|s| s.id != record.id) {
        tx.append(stored::unchanged(other));
    }
    match subs.iter().position(|s| s.id == record.id) {
        Some(i) => subs[i] = record.clone(),
        None => subs.push(record.clone()),
    }
    tx.append(access(app, user_id, subs));
    match app.store.transact(tx).await {
        Ok(()) => Ok(Commit::Done),
        Err(StoreError::Cancelled { failed }) if failed.iter().any(|l| !OWN.contains(l)) => {
            Ok(Commit::Refused(failed.into_iter().filter(|l| !OWN.contains(l)).collect()))
        }
        Err(StoreError::Cancelled { .. }) => Ok(Commit::Changed),
        Err(e) => Err(e.into()),
    }
}

/// A scheduled change still to come: the subscription is live and not yet on the new plan and
/// interval in a period starting at the change.
fn still_ahead(change: &ScheduledChange, record: &SubscriptionRecord) -> bool {
    let happened = record.plan == change.plan
        && record.interval == change.interval
        && record.current_period_start.is_some_and(|start| start >= change.at);
    record.is_live() && !happened && record.ended_at.is_none()
}

/// How applying a schedule's state went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduled {
    /// Stored on the subscription (None: no change pending).
    Stored(Option<ScheduledChange>),
    /// Not newer than the schedule state stored: nothing written.
    Stale,
    /// The subscription is not stored (nor known to Stripe): nothing written.
    UnknownSubscription,
    /// One of the caller's writes (`with`) did not hold.
    Refused(Vec<Label>),
}

/// Keeps the change `change` (None: none pending) that a subscription schedule, in its state at
/// `as_of`, makes to the subscription `sub_id` of `user_id`, unless a schedule state as new is
/// stored (`Stale`: the caller asks Stripe for the current one, which is stored `fetched`,
/// whatever is stored). `with` gives writes that commit in the same transaction.
pub async fn set_scheduled(
    app: &App,
    user_id: &str,
    sub_id: &str,
    (change, as_of, fetched): (Option<ScheduledChange>, i64, bool),
    with: &(dyn Fn() -> Tx + Sync),
) -> Result<Scheduled, Error> {
    for _ in 0..ATTEMPTS {
        let mut subs = subscriptions_of(app, user_id).await?;
        let Some(i) = subs.iter().position(|s| s.id == sub_id) else {
            return Ok(Scheduled::UnknownSubscription);
        };
        let stored_as_of = subs[i].scheduled_as_of;
        if !fetched && stored_as_of.is_some_and(|stored| stored >= as_of) {
            return Ok(Scheduled::Stale);
        }
        let before = subs[i].clone();
        let record = SubscriptionRecord {
            scheduled: change.clone().filter(|c| still_ahead(c, &before)),
            scheduled_as_of: Some(stored_as_of.map_or(as_of, |s| s.max(as_of))),
            version: before.version + 1,
            ..before.clone()
        };
        match commit(app, user_id, &mut subs, &record, Some(before.version), with()).await? {
            Commit::Done => return Ok(Scheduled::Stored(record.scheduled)),
            Commit::Refused(labels) => return Ok(Scheduled::Refused(labels)),
            Commit::Changed => continue,
        }
    }
    Err(Error::internal("the subscription kept changing while its schedule was applied"))
}

/// Stores a snapshot Stripe just answered with (a plan change Tollgate asked for), as a fetch:
/// the webhook's later events about it are then checked against Stripe again.
pub async fn apply_answer(app: &App, user_id: &str, sub: Subscription, applied: &str) -> Result<Applied, Error> {
    store(app, user_id, (sub, app.now(), format!("fetched:{applied}"), true), &|_| Tx::new()).await
}

fn stripe_failed(e: crate::stripe::StripeError) -> Error {
    Error::Stripe { message: e.to_string(), fallback_url: None }
}

async fn fetch(app: &App, id: &str) -> Result<Option<Subscription>, Error> {
    app.stripe.subscription(id).await.map_err(stripe_failed)
}

/// Stripe's current state of a subscription schedule (None: Stripe does not know it).
pub(crate) async fn fetch_schedule(app: &App, id: &str) -> Result<Option<SubscriptionSchedule>, Error> {
    app.stripe.subscription_schedule(id).await.map_err(stripe_failed)
}

/// Stripe's current state of a subscription, stored for `user_id` (checkout completion, claims).
pub async fn sync(
    app: &App,
    user_id: &str,
    subscription_id: &str,
    applied: &str,
    with: &(dyn Fn(&SubscriptionRecord) -> Tx + Sync),
) -> Result<Applied, Error> {
    if already_applied(app, applied).await? {
        return Ok(Applied::Refused(vec![Label::Event]));
    }
    let Some(current) = fetch(app, subscription_id).await? else {
        return Ok(Applied::UnknownToStripe);
    };
    store(app, user_id, (current, app.now(), format!("fetched:{applied}"), true), with).await
}
