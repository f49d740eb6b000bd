//! Support's views: one user's access and money, and the deployment's diagnostics.

use tollgate::auth::admin;
use tollgate::domain::{health, support};
use tollgate::http::{Reply, Request, views};
use tollgate::{App, Error};

/// `GET /api/admin/users/{user}`: by id (`usr_...`) or email.
pub async fn user(app: &App, req: &Request, key: &str) -> Result<Reply, Error> {
    admin(app, req)?;
    let key = key.trim();
    if key.is_empty() || key.len() > 320 {
        return Err(Error::bad_request("invalid_field", "give a user id or an email"));
    }
    let report = support::report(app, key).await?.ok_or_else(|| Error::not_found("user_not_found", "no such user"))?;
    Ok(Reply::ok(views::user_report(&report)))
}

/// `GET /api/diagnostics`: administrators only in production; open in development.
pub async fn diagnostics(app: &App, req: &Request) -> Result<Reply, Error> {
    if !app.config.is_development() {
        admin(app, req)?;
    }
    Ok(Reply::ok(health::diagnose(app).await))
}
