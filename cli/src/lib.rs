//! The developer CLI's library: the dev server and its router, shared with the tests.
// The dev server nests every function's handler futures in one router future.
#![recursion_limit = "256"]

pub mod dev;

use tollgate::App;
use tollgate::http::{Request, Response};

/// Every route of every function, by path, as API Gateway and the function URL route them.
pub async fn route(app: &App, req: Request) -> Response {
    let path = req.uri().path();
    if path.starts_with("/api/auth/") || path == "/healthz" {
        tollgate_auth::handle(app, req).await
    } else if path.starts_with("/api/checkout/") || path.starts_with("/api/billing/") {
        tollgate_checkout::handle(app, req).await
    } else if path == "/api/stripe/webhook" {
        tollgate_webhook::handle(app, req).await
    } else if path.starts_with("/api/pro/") {
        tollgate_claim::handle(app, req).await
    } else if path == "/api/credits" || path.starts_with("/api/credits/") {
        tollgate_credits::handle(app, req).await
    } else if path.starts_with("/api/admin/") {
        tollgate_admin::handle(app, req).await
    } else if path == "/api/sessions"
        || path.starts_with("/api/sessions/")
        || path.starts_with("/api/usage/")
        || path == "/api/entitlements"
        || path == "/api/pace-to-bpm"
    {
        tollgate_sessions::handle(app, req).await
    } else {
        // Falls through to the not-found envelope.
        tollgate_auth::handle(app, req).await
    }
}

/// Every (method, path) the functions serve.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    [
        tollgate_auth::ROUTES,
        tollgate_checkout::ROUTES,
        tollgate_webhook::ROUTES,
        tollgate_claim::ROUTES,
        tollgate_credits::ROUTES,
        tollgate_admin::ROUTES,
        tollgate_sessions::ROUTES,
    ]
    .concat()
}
