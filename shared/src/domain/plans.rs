//! Which plan a user holds: the highest-ranked plan among what they bought (active grants) and
//! what their subscriptions grant now, read from the store (never from a token).

use crate::app::App;
use crate::catalog::{Catalog, Plan};
use crate::error::Error;
use crate::store::Tx;
use crate::store::schema::plans::{self, Plans};

pub use crate::store::schema::SubscriptionSummary;

/// Access that does not end until Stripe says so.
pub const OPEN_ENDED: i64 = i64::MAX;

#[derive(Debug, Clone)]
pub struct Entitlement {
    pub plan: Plan,
    pub pro: bool,
    /// When access to the plan is scheduled to end (a subscription set to cancel, or in its
    /// grace period); None while it is not (one-time purchases never end).
    pub plan_ends_at: Option<i64>,
    pub subscription: Option<SubscriptionSummary>,
}

/// Until when a subscription grants `plan`, if it does at `now`.
pub fn subscribed_until(held: &Plans, plan: &Plan, now: i64) -> Option<i64> {
    held.subscribed_until(&plan.key).filter(|until| *until > now)
}

/// The plan `held` makes effective at `now`: bought plans, and plans a subscription grants until
/// a time still to come.
pub fn effective_plan<'a>(catalog: &'a Catalog, held: &Plans, now: i64) -> &'a Plan {
    let holding = catalog
        .plans()
        .iter()
        .filter(|p| held.bought(&p.key) || subscribed_until(held, p, now).is_some())
        .map(|p| p.key.as_str());
    catalog.best_of(holding)
}

/// When the effective `plan` is scheduled to end: None while it is bought outright or its
/// subscription is not set to end.
pub fn plan_ends_at(held: &Plans, plan: &Plan, now: i64) -> Option<i64> {
    if plan.is_default || held.bought(&plan.key) {
        return None;
    }
    subscribed_until(held, plan, now).filter(|until| *until != OPEN_ENDED)
}

/// A check that holds exactly while `plan` is the user's effective plan at `now`.
pub fn still_on(app: &App, user_id: &str, plan: &Plan) -> Tx {
    plans::still_on(user_id, &app.catalog, plan, app.now())
}

/// What `held` grants at `now`.
pub fn entitlement_from(catalog: &Catalog, held: &Plans, now: i64) -> Entitlement {
    let plan = effective_plan(catalog, held, now).clone();
    Entitlement {
        pro: plan.flag("pro"),
        plan_ends_at: plan_ends_at(held, &plan, now),
        subscription: held.subscription.clone(),
        plan,
    }
}

pub async fn held(app: &App, user_id: &str) -> Result<Plans, Error> {
    Ok(plans::get(&app.store, user_id).await?)
}

pub async fn entitlement(app: &App, user_id: &str) -> Result<Entitlement, Error> {
    Ok(entitlement_from(&app.catalog, &held(app, user_id).await?, app.now()))
}

/// One more (or one fewer) active grant of `plan` (inside a grant's transaction).
pub fn hold(user_id: &str, plan: &str, by: i64) -> Tx {
    plans::hold(user_id, plan, by)
}
