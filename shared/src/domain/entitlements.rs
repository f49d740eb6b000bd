//! What a user holds: the highest-ranked plan among their active grants, read from the store
//! (never from a token), and the tokens that carry it.

use crate::app::App;
use crate::auth::tokens::Subject;
use crate::catalog::{Catalog, Plan};
use crate::error::Error;
use crate::store::records::{self, GRANT_PREFIX, Grant, Holder};
use crate::store::{Condition, Item, Query, Update, Write};

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
