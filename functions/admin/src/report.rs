//! Support's views: one user's access and money, the deployment's metrics and diagnostics.

use tollgate::auth::admin;
use tollgate::domain::{erasure, health, metrics, support};
use tollgate::http::api::{ErasedView, ExportView, ReconcileRequest, UserReportView};
use tollgate::http::{self, Reply, Request};
use tollgate::{App, Error};

fn no_such_user() -> Error {
    Error::not_found("user_not_found", "no such user")
}

/// The user an administrator names by id (`usr_...`) or email.
async fn named(app: &App, req: &Request, key: &str) -> Result<tollgate::store::schema::User, Error> {
    admin(app, req).await?;
    let key = key.trim();
    if key.is_empty() || key.len() > 320 {
        return Err(Error::bad_request("invalid_field", "give a user id or an email"));
    }
    support::find(app, key).await?.ok_or_else(no_such_user)
}

/// `GET /api/admin/users/{user}`: by id (`usr_...`) or email.
pub async fn user(app: &App, req: &Request, key: &str) -> Result<Reply, Error> {
    let user = named(app, req, key).await?;
    let report = support::report(app, &user.id).await?.ok_or_else(no_such_user)?;
    Ok(Reply::json(&UserReportView::from(&report)))
}

/// `GET /api/admin/users/{user}/export`: what `GET /api/me/export` gives the user.
pub async fn export(app: &App, req: &Request, key: &str) -> Result<Reply, Error> {
    let user = named(app, req, key).await?;
    let export = support::export(app, &user.id).await?.ok_or_else(no_such_user)?;
    Ok(Reply::json(&ExportView::new(&export, app.now())))
}

/// `DELETE /api/admin/users/{user}`: what `DELETE /api/me` does, for the user.
pub async fn erase(app: &App, req: &Request, key: &str) -> Result<Reply, Error> {
    let user = named(app, req, key).await?;
    let erased = erasure::erase(app, &user.id).await?.ok_or_else(no_such_user)?;
    Ok(Reply::json(&ErasedView::from(&erased)))
}

/// `GET /api/diagnostics`: administrators only in production; open in development.
pub async fn diagnostics(app: &App, req: &Request) -> Result<Reply, Error> {
    if !app.config.is_development() {
        admin(app, req).await?;
    }
    Ok(Reply::json(&health::diagnose(app).await))
}

/// `GET /api/admin/metrics?from=YYYY-MM-DD&to=YYYY-MM-DD` (default: the 30 days to today, UTC).
pub async fn metrics(app: &App, req: &Request) -> Result<Reply, Error> {
    admin(app, req).await?;
    let (from, to) =
        metrics::range(app.now(), http::query_param(req, "from").as_deref(), http::query_param(req, "to").as_deref())?;
    let report = metrics::report(app, &from, &to).await?;
    Ok(Reply::json(&report))
}

/// Reconciles with Stripe now (what the daily schedule does): 200 with what changed.
pub async fn reconcile(app: &App, req: &Request) -> Result<Reply, Error> {
    admin(app, req).await?;
    let body: ReconcileRequest = http::optional_json_body(req, app.config.max_body_bytes)?;
    let since = match body.since.as_deref() {
        None => app.now() - tollgate::domain::reconcile::DEFAULT_DAYS * 24 * 3600,
        Some(day) => tollgate::clock::day_start(day)
            .ok_or_else(|| Error::bad_request("invalid_field", "since is a day, YYYY-MM-DD"))?,
    };
    let report = tollgate::domain::reconcile::run(app, since).await?;
    Ok(Reply::json(&report))
}
