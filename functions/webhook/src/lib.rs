//! Stripe's webhook (a Lambda function URL in production; `POST /api/stripe/webhook` locally):
//! every delivery is verified against the raw bytes and applied exactly once.

use serde_json::json;
use tollgate::domain::stripe_events::{self, Outcome, Receipt};
use tollgate::http::{self, Reply, Request, Response};
use tollgate::{App, Error};

pub const ROUTES: &[(&str, &str)] = &[("POST", "/api/stripe/webhook")];

/// Stripe's events stay well under this; anything larger is not Stripe.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Any path: behind a function URL the path is whatever the endpoint was registered with.
pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(req, |req| async move {
        if req.method() != "POST" {
            return Err(Error::MethodNotAllowed);
        }
        receive(app, &req).await
    })
    .await
}

async fn receive(app: &App, req: &Request) -> Result<Reply, Error> {
    // lambda_http has already base64-decoded a body the event flagged as encoded.
    let body = http::body_bytes(req);
    if body.len() > MAX_EVENT_BYTES {
        return Err(Error::PayloadTooLarge { limit: MAX_EVENT_BYTES });
    }
    let receipt = stripe_events::receive(app, body, http::header_value(req, "stripe-signature")).await?;
    Ok(Reply::ok(match receipt {
        Receipt::Applied(outcome) => json!({ "received": true, "outcome": outcome.as_str() }),
        Receipt::Duplicate => json!({ "received": true, "duplicate": true }),
        Receipt::Ignored(Outcome::Ignored) => json!({ "received": true, "ignored": true }),
        Receipt::Ignored(outcome) => json!({ "received": true, "outcome": outcome.as_str() }),
    }))
}
