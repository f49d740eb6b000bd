//! What a user holds: the highest-ranked plan among their active grants, read from the store
//! (never from a token), and the tokens that carry it.

use crate::app::App;
use crate::auth::tokens::Subject;
use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::{Catalog, Feature, Plan};
use crate::error::Error;
use crate::store::records::{self, GRANT_PREFIX, Grant, Holder};
use crate::store::{Condition, Item, Query, Update, Write};

use super::usage;

#[derive(Debug, Clone)]
pub struct Entitlement {
    pub plan: Plan,
    pub pro: bool,
    /// When access ends; None while it does not (one-time purchases do not expire).
    pub expires_at: Option<i64>,
}

pub async fn grants(app: &App, holder: &Holder) -> Result<Vec<Grant>, Error> {
    let mut query = Query::prefix(holder.pk(), GRANT_PREFIX);
    let mut all = Vec::new();
    loop {
        let page = app.store.query(&query).await?;
        all.extend(page.items.iter().filter_map(Grant::from_item));
        match page.last_sk {
            Some(sk) => query.after = Some(sk),
            None => return Ok(all),
        }
    }
}

/// Changes how many active grants of `plan` the user holds (inside a grant's transaction).
pub fn hold(user_id: &str, plan: &str, by: i64) -> Write {
    Write::Update(Update::new(records::plans_held(user_id)).add(&records::held_attribute(plan), by))
}

/// The plan a `PLANS` item (None: never held anything) makes effective.
pub fn effective_plan<'a>(catalog: &'a Catalog, held: Option<&Item>) -> &'a Plan {
    let holding = catalog
        .plans()
        .iter()
        .filter(|p| held.and_then(|i| i.num(&records::held_attribute(&p.key))).unwrap_or(0) > 0)
        .map(|p| p.key.as_str());
    catalog.best_of(holding)
}

/// A condition on the `PLANS` item that holds exactly while `plan` is the user's effective plan:
/// for a transaction that acts on the plan a token names, so a refund takes effect at once.
pub fn still_on(catalog: &Catalog, plan: &Plan) -> Condition {
    let mut all: Vec<Condition> = catalog
        .plans()
        .iter()
        .filter(|p| p.rank > plan.rank && !p.is_default)
        .map(|p| Condition::AbsentOrBelow(records::held_attribute(&p.key), 1))
        .collect();
    if !plan.is_default {
        all.push(Condition::AtLeast(records::held_attribute(&plan.key), 1));
    }
    Condition::And(all)
}

pub async fn entitlement(app: &App, user_id: &str) -> Result<Entitlement, Error> {
    let held = app.store.get(&records::plans_held(user_id)).await?;
    let plan = effective_plan(&app.catalog, held.as_ref()).clone();
    Ok(Entitlement { pro: plan.flag("pro"), plan, expires_at: None })
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

/// The user's plan and every catalog feature's allowance, in one read.
pub async fn allowances(app: &App, user_id: &str) -> Result<(Plan, BTreeMap<String, Allowance>), Error> {
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
    let plan = effective_plan(catalog, found[0].as_ref()).clone();
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
                limit: usage::limit(&plan, feature),
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
    Ok((plan, all))
}
