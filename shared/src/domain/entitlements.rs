//! What a user may do: the tokens that carry their plan, and every feature's allowance.

use std::collections::{BTreeMap, BTreeSet};

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
