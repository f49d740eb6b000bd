//! The developer CLI's library: the dev server and its router, shared with the tests.
// The dev server nests every function's handler futures in one router future.
#![recursion_limit = "256"]

pub mod dev;
pub mod event;
pub mod openapi;
pub mod stripe_setup;

use tollgate::App;
use tollgate::http::router::{self, Router};
use tollgate::http::{Request, Response, Route};

/// Every function's route table, by the template.yaml function that serves it.
pub const FUNCTIONS: [(&str, &[Route]); 7] = [
    ("AuthFunction", tollgate_auth::ROUTES),
    ("CheckoutFunction", tollgate_checkout::ROUTES),
    ("WebhookFunction", tollgate_webhook::ROUTES),
    ("ClaimFunction", tollgate_claim::ROUTES),
    ("CreditsFunction", tollgate_credits::ROUTES),
    ("AdminFunction", tollgate_admin::ROUTES),
    ("SessionsFunction", tollgate_sessions::ROUTES),
];

/// Every route of every function.
pub fn api_routes() -> Vec<Route> {
    FUNCTIONS.iter().flat_map(|(_, routes)| routes.iter().copied()).collect()
}

/// Every (method, path) the functions serve.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    router::listing(&api_routes())
}

/// Every function's routes in one router, as API Gateway and the function URL route them.
pub fn api_router(app: App) -> Router {
    router::router(app, &api_routes())
}

/// One request through every function's routes.
pub async fn route(app: &App, req: Request) -> Response {
    router::call(api_router(app.clone()), req).await
}
