//! Which plan a user holds: the highest-ranked plan among what they bought (active grants) and
//! what their subscriptions grant now, read from the store (never from a token).

use crate::app::App;
use crate::auth::presented;
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

/// A check that holds exactly while `plan` is the user's effective plan at `now` (and the token
/// the request presented is not revoked: a refusal makes the caller read the plans again, and
/// that read says so).
pub fn still_on(app: &App, user_id: &str, plan: &Plan) -> Tx {
    plans::still_on(user_id, &app.catalog, plan, app.now(), presented::of(user_id).as_ref())
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

/// What the user holds, whatever token the request presented: for making a new one.
pub async fn read(app: &App, user_id: &str) -> Result<Plans, Error> {
    Ok(plans::get(&app.store, user_id).await?)
}

/// What the user holds; 401 `token_revoked` when the request presented a token of theirs that
/// was revoked since it was made.
pub async fn held(app: &App, user_id: &str) -> Result<Plans, Error> {
    let held = plans::get(&app.store, user_id).await?;
    presented::check(user_id, &held)?;
    Ok(held)
}

pub async fn entitlement(app: &App, user_id: &str) -> Result<Entitlement, Error> {
    Ok(entitlement_from(&app.catalog, &held(app, user_id).await?, app.now()))
}

/// One more active grant of `plan` (inside a grant's transaction).
pub fn hold(user_id: &str, plan: &str) -> Tx {
    plans::hold(user_id, plan)
}

/// One fewer active grant of `plan` (inside a reversal's transaction); revokes the user's tokens.
pub fn release(user_id: &str, plan: &str, now: i64) -> Tx {
    plans::release(user_id, plan, now)
}
