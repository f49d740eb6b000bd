//! What a user holds: the highest-ranked plan among their active grants, read from the store
//! (never from a token), and the tokens that carry it.

use crate::app::App;
use crate::auth::tokens::Subject;
use crate::catalog::Plan;
use crate::error::Error;
use crate::store::Query;
use crate::store::records::{GRANT_PREFIX, Grant, Holder};

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

pub async fn entitlement(app: &App, user_id: &str) -> Result<Entitlement, Error> {
    let held = grants(app, &Holder::User(user_id.to_string())).await?;
    let plan = app.catalog.best_of(held.iter().filter(|g| g.is_active()).map(|g| g.plan.as_str())).clone();
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
