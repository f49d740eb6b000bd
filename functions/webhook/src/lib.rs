//! Stripe's webhook (a Lambda function URL in production; `POST /api/stripe/webhook` locally):
//! every delivery is verified against the raw bytes and applied exactly once.

use tollgate::domain::stripe_events::{self, Outcome, Receipt};
use tollgate::http::api::WebhookReceipt;
use tollgate::http::{self, Reply, Request, Response, Route};
use tollgate::{App, Error};

/// The secrets this function uses: the only ones its role may read (template.yaml).
pub const SECRETS: &[&str] =
    &[tollgate::config::secrets::STRIPE_SECRET_KEY, tollgate::config::secrets::STRIPE_WEBHOOK_SECRET];

/// The function's one route (locally; behind its function URL, any path).
pub const ROUTES: &[Route] =
    &[Route { method: "POST", path: "/api/stripe/webhook", handler: |app, req, _| Box::pin(receive(app, req)) }];

/// Stripe's events stay well under this; anything larger is not Stripe.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Any path: behind a function URL the path is whatever the endpoint was registered with.
pub fn router(app: App) -> http::router::Router {
    http::router::any_path(app, ROUTES[0])
}

/// One request through the router (what Lambda does).
pub async fn handle(app: &App, req: Request) -> Response {
    http::router::call(router(app.clone()), req).await
}

async fn receive(app: &App, req: &Request) -> Result<Reply, Error> {
    // lambda_http has already base64-decoded a body the event flagged as encoded.
    let body = http::body_bytes(req);
    if body.len() > MAX_EVENT_BYTES {
        return Err(Error::PayloadTooLarge { limit: MAX_EVENT_BYTES });
    }
    let receipt = stripe_events::receive(app, body, http::header_value(req, "stripe-signature")).await?;
    http::log::note_outcome(match receipt {
        Receipt::Applied(outcome) | Receipt::Ignored(outcome) => outcome.as_str(),
        Receipt::Duplicate => "duplicate",
    });
    let mut answer = WebhookReceipt { received: true, outcome: None, duplicate: None, ignored: None };
    match receipt {
        Receipt::Duplicate => answer.duplicate = Some(true),
        Receipt::Ignored(Outcome::Ignored) => answer.ignored = Some(true),
        Receipt::Applied(outcome) | Receipt::Ignored(outcome) => answer.outcome = Some(outcome.as_str().into()),
    }
    Ok(Reply::json(&answer))
}
