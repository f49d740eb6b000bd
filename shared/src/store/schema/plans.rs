//! What a user holds (`USER#<id>`/`PLANS`): per plan, how many active grants (`held_<plan>`),
//! until when a subscription grants it (`until_<plan>`), until when its subscriber is a member
//! (`member_<plan>`), and the principal subscription's summary (`sub_*`). Kept in the same
//! transactions that grant, move, revoke and store subscriptions, so the plan is one read.

use std::collections::BTreeMap;

use super::keys;
use crate::auth::presented::Presented;
use crate::catalog::{Catalog, Plan};
use crate::store::{Condition, Item, Label, Store, StoreError, Tx, Update, Value, Write};

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
    /// A plan change at the period's end: (plan, interval, when).
    pub next: Option<(String, Option<String>, i64)>,
}

/// The `PLANS` item as read (empty when the user never held anything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plans {
    held: BTreeMap<String, i64>,
    until: BTreeMap<String, i64>,
    member: BTreeMap<String, i64>,
    pub subscription: Option<SubscriptionSummary>,
    /// The user's token version: a token naming an older one is revoked.
    pub token_version: i64,
    /// When the version last changed: a token without a version (another issuer's) issued
    /// before then is revoked.
    pub revoked_at: Option<i64>,
    /// An administrator by grant (`ADMIN_EMAILS` are administrators by configuration).
    pub admin: bool,
}

pub fn held_attribute(plan: &str) -> String {
    format!("held_{plan}")
}
pub fn until_attribute(plan: &str) -> String {
    format!("until_{plan}")
}
pub fn member_attribute(plan: &str) -> String {
    format!("member_{plan}")
}

const TOKEN_VERSION: &str = "tv";
const REVOKED_AT: &str = "tv_at";
const ADMIN: &str = "admin";

const SUMMARY: [&str; 10] = [
    "sub_id",
    "sub_status",
    "sub_plan",
    "sub_interval",
    "sub_period_end",
    "sub_trial_end",
    "sub_cancel",
    "sub_next_plan",
    "sub_next_interval",
    "sub_next_at",
];

impl Plans {
    pub(crate) fn from_item(item: Option<&Item>) -> Result<Plans, StoreError> {
        let Some(item) = item else { return Ok(Plans::default()) };
        let mut plans = Plans::default();
        for (name, value) in &item.0 {
            let map = if let Some(plan) = name.strip_prefix("held_") {
                Some((&mut plans.held, plan))
            } else if let Some(plan) = name.strip_prefix("until_") {
                Some((&mut plans.until, plan))
            } else {
                name.strip_prefix("member_").map(|plan| (&mut plans.member, plan))
            };
            if let Some((map, plan)) = map {
                let Value::N(n) = value else {
                    return Err(StoreError::Corrupt { key: item.key(), reason: format!("{name} is not a number") });
                };
                map.insert(plan.to_string(), *n);
            }
        }
        plans.subscription = match (item.string("sub_id"), item.string("sub_status"), item.string("sub_plan")) {
            (Some(id), Some(status), Some(plan)) => Some(SubscriptionSummary {
                id,
                status,
                plan,
                interval: item.string("sub_interval"),
                current_period_end: item.num("sub_period_end"),
                trial_end: item.num("sub_trial_end"),
                cancel_scheduled: item.flag("sub_cancel"),
                next: item
                    .string("sub_next_plan")
                    .zip(item.num("sub_next_at"))
                    .map(|(plan, at)| (plan, item.string("sub_next_interval"), at)),
            }),
            _ => None,
        };
        plans.token_version = item.num(TOKEN_VERSION).unwrap_or(0);
        plans.revoked_at = item.num(REVOKED_AT);
        plans.admin = item.flag(ADMIN);
        Ok(plans)
    }
    /// Bought outright (an active grant).
    pub fn bought(&self, plan: &str) -> bool {
        self.held.get(plan).copied().unwrap_or(0) > 0
    }
    /// Until when a subscription grants `plan` (`i64::MAX` while open-ended), if it does.
    pub fn subscribed_until(&self, plan: &str) -> Option<i64> {
        self.until.get(plan).copied()
    }
    /// Until when the user is a member (a paid, not trialing, subscriber) of `plan`.
    pub fn member_until(&self, plan: &str) -> Option<i64> {
        self.member.get(plan).copied()
    }
}

pub async fn get(store: &Store, user_id: &str) -> Result<Plans, StoreError> {
    Plans::from_item(store.get(&keys::plans_held(user_id)).await?.as_ref())
}

/// One more active grant of `plan`.
pub fn hold(user_id: &str, plan: &str) -> Tx {
    let update = Update::new(keys::plans_held(user_id)).add(&held_attribute(plan), 1);
    Tx::new().with(Label::Plans, Write::Update(update))
}

/// One fewer active grant of `plan` (a refund or a dispute took it), which also revokes the
/// user's tokens: they named the plan.
pub fn release(user_id: &str, plan: &str, now: i64) -> Tx {
    let update = Update::new(keys::plans_held(user_id)).add(&held_attribute(plan), -1);
    Tx::new().with(Label::Plans, Write::Update(revoking(update, now)))
}

fn revoking(update: Update, now: i64) -> Update {
    update.add(TOKEN_VERSION, 1).set(REVOKED_AT, now)
}

/// Revokes every token the user holds (they sign in again).
pub fn revoke_tokens(user_id: &str, now: i64) -> Tx {
    Tx::new().with(Label::Plans, Write::Update(revoking(Update::new(keys::plans_held(user_id)), now)))
}

/// Makes the user an administrator, or no longer one (which revokes their tokens).
pub fn set_admin(user_id: &str, admin: bool, now: i64) -> Tx {
    let update = Update::new(keys::plans_held(user_id));
    let update = if admin { update.set(ADMIN, true) } else { revoking(update.remove(ADMIN), now) };
    Tx::new().with(Label::Plans, Write::Update(update))
}

/// A check, refused (`Plans`), unless `plan` is still the user's effective plan at `now`: for a
/// transaction that acts on the plan a token names, so a refund or an ended subscription takes
/// effect at once.
pub fn still_on(user_id: &str, catalog: &Catalog, plan: &Plan, now: i64, token: Option<&Presented>) -> Tx {
    let mut all: Vec<Condition> = token.map(not_revoked_condition).into_iter().collect();
    for higher in catalog.plans().iter().filter(|p| p.rank > plan.rank && !p.is_default) {
        all.push(Condition::AbsentOrBelow(held_attribute(&higher.key), 1));
        if higher.subscription.is_some() {
            all.push(Condition::AbsentOrBelow(until_attribute(&higher.key), now + 1));
        }
    }
    if !plan.is_default {
        let mut holds = vec![Condition::AtLeast(held_attribute(&plan.key), 1)];
        if plan.subscription.is_some() {
            holds.push(Condition::AtLeast(until_attribute(&plan.key), now + 1));
        }
        all.push(if holds.len() == 1 { holds.remove(0) } else { Condition::Or(holds) });
    }
    let check = Write::Check { key: keys::plans_held(user_id), condition: Condition::And(all) };
    Tx::new().with(Label::Plans, check)
}

fn not_revoked_condition(token: &Presented) -> Condition {
    match token.version {
        Some(version) => Condition::AbsentOrBelow(TOKEN_VERSION.into(), version + 1),
        None => Condition::AbsentOrBelow(REVOKED_AT.into(), token.issued_at),
    }
}

/// A check, refused (`Plans`), if the user's tokens were revoked after `token` was made: for a
/// change made with that token that reads nothing of the plans (a debit), so revocation needs no
/// read of its own.
pub fn not_revoked(user_id: &str, token: &Presented) -> Tx {
    let check = Write::Check { key: keys::plans_held(user_id), condition: not_revoked_condition(token) };
    Tx::new().with(Label::Plans, check)
}

/// What the user's subscriptions grant, recomputed from all of them: for each plan sold by
/// subscription, until when it is granted and until when its subscriber is a member; and the
/// principal subscription's summary.
pub fn set_subscription_access(
    user_id: &str,
    subscription_plans: &[&str],
    until: &BTreeMap<&str, i64>,
    member: &BTreeMap<&str, i64>,
    principal: Option<&SubscriptionSummary>,
) -> Tx {
    let mut update = Update::new(keys::plans_held(user_id));
    for plan in subscription_plans {
        for (name, ends) in [(until_attribute(plan), until), (member_attribute(plan), member)] {
            update = match ends.get(plan) {
                Some(end) => update.set(&name, *end),
                None => update.remove(&name),
            };
        }
    }
    update = match principal {
        Some(s) => match &s.next {
            Some((plan, interval, at)) => {
                let update = update.set("sub_next_plan", plan.as_str()).set("sub_next_at", *at);
                match interval {
                    Some(i) => update.set("sub_next_interval", i.as_str()),
                    None => update.remove("sub_next_interval"),
                }
            }
            None => update.remove("sub_next_plan").remove("sub_next_at").remove("sub_next_interval"),
        },
        None => update,
    };
    update = match principal {
        Some(s) => update
            .set("sub_id", s.id.as_str())
            .set("sub_status", s.status.as_str())
            .set("sub_plan", s.plan.as_str())
            .set("sub_cancel", s.cancel_scheduled)
            .set_opt("sub_interval", s.interval.as_deref())
            .set_opt("sub_period_end", s.current_period_end)
            .set_opt("sub_trial_end", s.trial_end),
        None => SUMMARY.iter().fold(update, |u, name| u.remove(name)),
    };
    Tx::new().with(Label::Plans, Write::Update(update))
}
