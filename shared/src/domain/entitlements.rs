//! What a user may do: the tokens that carry their plan, and every feature's allowance.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::app::App;
use crate::auth::tokens::Subject;
use crate::catalog::Feature;
use crate::error::Error;
use crate::store::schema::usage::{self as counters, Counter};
use crate::store::schema::{Grant, Holder, grants};

pub use super::plans::{Entitlement, SubscriptionSummary, entitlement, entitlement_from};
use super::usage;

pub async fn grants(app: &App, holder: &Holder) -> Result<Vec<Grant>, Error> {
    Ok(grants::of(&app.store, holder).await?)
}

/// A fresh token reflecting what the user holds now, at their current token version.
pub async fn token_for(app: &App, user_id: &str, email: &str) -> Result<(String, Entitlement), Error> {
    let held = super::plans::read(app, user_id).await?;
    let ent = entitlement_from(&app.catalog, &held, app.now());
    let admin = super::users::is_admin(app, email, &held);
    let subject =
        Subject { user_id, email, plan: &ent.plan.key, pro: ent.pro, admin, token_version: held.token_version };
    let (token, _) = app.tokens.mint(&subject, app.now())?;
    Ok((token, ent))
}

/// The claims of an entitlement token: a snapshot of what the user may do, for a backend to
/// check without calling Tollgate (stale by at most its lifetime).
#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// Tells it apart from an access token (which is HS256 and never accepted in its place).
    pub token_use: &'static str,
    pub plan: String,
    pub pro: bool,
    pub plan_ends_at: Option<i64>,
    pub features: BTreeMap<String, Allowance>,
    pub credits: i64,
}

/// A signed snapshot of what the user may do now, and when it expires; None when this function
/// has no key set. Answers `token_revoked` for a revoked presented token.
pub async fn entitlement_token(app: &App, user_id: &str) -> Result<Option<(String, i64)>, Error> {
    let Some(keys) = &app.entitlement_keys else { return Ok(None) };
    let ((ent, features), credits) = tokio::try_join!(allowances(app, user_id), super::credits::balance(app, user_id))?;
    let now = app.now();
    let exp = now + app.config.tokens.entitlement_lifetime_secs;
    let snapshot = Snapshot {
        iss: app.config.tokens.issuer.clone(),
        aud: app.config.tokens.audience.clone(),
        sub: user_id.to_string(),
        iat: now,
        exp,
        token_use: "entitlements",
        plan: ent.plan.key.clone(),
        pro: ent.pro,
        plan_ends_at: ent.plan_ends_at,
        features,
        credits,
    };
    Ok(Some((keys.sign(&snapshot)?, exp)))
}

/// What a user may do with one catalog feature right now (in a snapshot: a flag is `true` or
/// `false`, a count `{used, limit}`, a quota `{used, limit, resets_at}`; no limit is `null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
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
    enum Kind {
        Flag,
        Kept,
        Metered { resets_at: i64 },
    }
    let mut kinds = Vec::new();
    let mut windows = Vec::new();
    for feature in &features {
        if let Some(per) = usage::metered(catalog, feature) {
            let window = usage::window(per, now);
            kinds.push(Kind::Metered { resets_at: window.resets_at });
            windows.push(Some(window.id));
        } else if catalog.plans().iter().any(|p| matches!(p.features.get(*feature), Some(Feature::Cap(_)))) {
            kinds.push(Kind::Kept);
            windows.push(None);
        } else {
            kinds.push(Kind::Flag);
            windows.push(None);
        }
    }
    let wanted: Vec<Counter> = features
        .iter()
        .zip(&kinds)
        .zip(&windows)
        .filter_map(|((feature, kind), window)| match (kind, window) {
            (Kind::Metered { .. }, Some(period)) => Some(Counter::Used { feature, period }),
            (Kind::Kept, _) => Some(Counter::Kept { feature }),
            _ => None,
        })
        .collect();
    let (held, values) = counters::counts(&app.store, user_id, &wanted).await?;
    crate::auth::presented::check(user_id, &held)?;
    let ent = entitlement_from(catalog, &held, now);
    let plan = &ent.plan;
    let mut all = BTreeMap::new();
    let mut values = values.into_iter();
    for (feature, kind) in features.into_iter().zip(kinds) {
        let allowance = match kind {
            Kind::Flag => Allowance::Flag(plan.flag(feature)),
            Kind::Metered { resets_at } => {
                Allowance::Metered { used: values.next().unwrap_or(0), limit: usage::limit(plan, feature), resets_at }
            }
            Kind::Kept => Allowance::Kept {
                used: values.next().unwrap_or(0),
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
