//! What a user holds: the highest-ranked plan among their active grants and live
//! subscriptions, read from the store (never from a token), and the tokens that carry it.

use crate::app::App;
use crate::auth::tokens::Subject;
use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::{Catalog, Feature, Plan};
use crate::error::Error;
use crate::store::records::{self, GRANT_PREFIX, Grant, Holder};
use crate::store::{Condition, Item, Query, Update, Write};

use super::subscriptions::OPEN_ENDED;
use super::usage;

#[derive(Debug, Clone)]
pub struct Entitlement {
    pub plan: Plan,
    pub pro: bool,
    /// When access to the plan is scheduled to end (a subscription set to cancel, or in its
    /// grace period); None while it is not (one-time purchases never end).
    pub plan_ends_at: Option<i64>,
    pub subscription: Option<SubscriptionSummary>,
}

/// The user's principal subscription, as kept on the `PLANS` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSummary {
    pub id: String,
    pub status: String,
    pub plan: String,
    pub interval: Option<String>,
    pub current_period_end: Option<i64>,
    pub trial_end: Option<i64>,
    pub cancel_scheduled: bool,
}

impl SubscriptionSummary {
    pub fn from_plans_item(item: Option<&Item>) -> Option<Self> {
        let item = item?;
        Some(SubscriptionSummary {
            id: item.string("sub_id")?,
            status: item.string("sub_status")?,
            plan: item.string("sub_plan")?,
            interval: item.string("sub_interval"),
            current_period_end: item.num("sub_period_end"),
            trial_end: item.num("sub_trial_end"),
            cancel_scheduled: item.flag("sub_cancel"),
        })
    }
}

pub async fn grants(app: &App, holder: &Holder) -> Result<Vec<Grant>, Error> {
    let query = Query::prefix(holder.pk(), GRANT_PREFIX);
    Ok(app.store.query_all(&query).await?.iter().filter_map(Grant::from_item).collect())
}

/// Changes how many active grants of `plan` the user holds (inside a grant's transaction).
pub fn hold(user_id: &str, plan: &str, by: i64) -> Write {
    Write::Update(Update::new(records::plans_held(user_id)).add(&records::held_attribute(plan), by))
}

fn bought(held: Option<&Item>, plan: &Plan) -> bool {
    held.and_then(|i| i.num(&records::held_attribute(&plan.key))).unwrap_or(0) > 0
}

/// Until when a subscription grants `plan`, if it does at `now`.
pub fn subscribed_until(held: Option<&Item>, plan: &Plan, now: i64) -> Option<i64> {
    held.and_then(|i| i.num(&records::until_attribute(&plan.key))).filter(|until| *until > now)
}

/// The plan a `PLANS` item (None: never held anything) makes effective at `now`: bought
/// plans, and plans a subscription grants until a time still to come.
pub fn effective_plan<'a>(catalog: &'a Catalog, held: Option<&Item>, now: i64) -> &'a Plan {
    let holding = catalog
        .plans()
        .iter()
        .filter(|p| bought(held, p) || subscribed_until(held, p, now).is_some())
        .map(|p| p.key.as_str());
    catalog.best_of(holding)
}

/// When the effective `plan` is scheduled to end: None while it is bought outright or its
/// subscription is not set to end.
pub fn plan_ends_at(held: Option<&Item>, plan: &Plan, now: i64) -> Option<i64> {
    if plan.is_default || bought(held, plan) {
        return None;
    }
    subscribed_until(held, plan, now).filter(|until| *until != OPEN_ENDED)
}

/// A condition on the `PLANS` item that holds exactly while `plan` is the user's effective plan
/// at `now`: for a transaction that acts on the plan a token names, so a refund or an ended
/// subscription takes effect at once.
pub fn still_on(catalog: &Catalog, plan: &Plan, now: i64) -> Condition {
    let mut all: Vec<Condition> = Vec::new();
    for higher in catalog.plans().iter().filter(|p| p.rank > plan.rank && !p.is_default) {
        all.push(Condition::AbsentOrBelow(records::held_attribute(&higher.key), 1));
        if higher.subscription.is_some() {
            all.push(Condition::AbsentOrBelow(records::until_attribute(&higher.key), now + 1));
        }
    }
    if !plan.is_default {
        let mut holds = vec![Condition::AtLeast(records::held_attribute(&plan.key), 1)];
        if plan.subscription.is_some() {
            holds.push(Condition::AtLeast(records::until_attribute(&plan.key), now + 1));
        }
        all.push(if holds.len() == 1 { holds.remove(0) } else { Condition::Or(holds) });
    }
    Condition::And(all)
}

/// What a `PLANS` item grants at `now`.
pub fn entitlement_from(catalog: &Catalog, held: Option<&Item>, now: i64) -> Entitlement {
    let plan = effective_plan(catalog, held, now).clone();
    Entitlement {
        pro: plan.flag("pro"),
        plan_ends_at: plan_ends_at(held, &plan, now),
        subscription: SubscriptionSummary::from_plans_item(held),
        plan,
    }
}

pub async fn entitlement(app: &App, user_id: &str) -> Result<Entitlement, Error> {
    let held = app.store.get(&records::plans_held(user_id)).await?;
    Ok(entitlement_from(&app.catalog, held.as_ref(), app.now()))
}

/// A fresh token reflecting what the user holds now.
pub async fn token_for(app: &App, user_id: &str, email: &str) -> Result<(String, Entitlement), Error> {
    let ent = entitlement(app, user_id).await?;
    let admin = app.config.admin_emails.iter().any(|a| a == email);
    let (token, _) =
        app.tokens.mint(&Subject { user_id, email, plan: &ent.plan.key, pro: ent.pro, admin }, app.now())?;
    Ok((token, ent))
}

/// What a user may do with one catalog feature right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowance {
    Flag(bool),
    /// Records kept against a cap (None: unlimited).
    Kept {
        used: i64,
        limit: Option<i64>,
    },
    /// Uses counted per period (None: unlimited).
    Metered {
        used: i64,
        limit: Option<i64>,
        resets_at: i64,
    },
}

/// The user's entitlement and every catalog feature's allowance, in one read.
pub async fn allowances(app: &App, user_id: &str) -> Result<(Entitlement, BTreeMap<String, Allowance>), Error> {
    let catalog = &app.catalog;
    let now = app.now();
    let features: BTreeSet<&String> = catalog.plans().iter().flat_map(|p| p.features.keys()).collect();
    let mut keys = vec![records::plans_held(user_id)];
    enum Kind {
        Flag,
        Kept,
        Metered { resets_at: i64 },
    }
    let mut kinds = Vec::new();
    for feature in &features {
        if let Some(per) = usage::metered(catalog, feature) {
            let window = usage::window(per, now);
            keys.push(records::usage(user_id, feature, &window.id));
            kinds.push(Kind::Metered { resets_at: window.resets_at });
        } else if catalog.plans().iter().any(|p| matches!(p.features.get(*feature), Some(Feature::Cap(_)))) {
            keys.push(records::kept(user_id, feature));
            kinds.push(Kind::Kept);
        } else {
            kinds.push(Kind::Flag);
        }
    }
    let found = app.store.get_many(&keys).await?;
    let ent = entitlement_from(catalog, found[0].as_ref(), now);
    let plan = &ent.plan;
    let mut all = BTreeMap::new();
    let mut counters = found[1..].iter();
    for (feature, kind) in features.into_iter().zip(kinds) {
        let item = match kind {
            Kind::Flag => None,
            _ => counters.next().and_then(Option::as_ref),
        };
        let allowance = match kind {
            Kind::Flag => Allowance::Flag(plan.flag(feature)),
            Kind::Metered { resets_at } => Allowance::Metered {
                used: item.and_then(|i| i.num("used")).unwrap_or(0),
                limit: usage::limit(plan, feature),
                resets_at,
            },
            Kind::Kept => Allowance::Kept {
                used: item.and_then(|i| i.num("count")).unwrap_or(0),
                limit: match plan.features.get(feature) {
                    Some(Feature::Cap(n)) => Some(*n as i64),
                    Some(Feature::Unlimited(_)) => None,
                    _ => Some(0),
                },
            },
        };
        all.insert(feature.clone(), allowance);
    }
    Ok((ent, all))
}
