//! Checkout: `POST /api/checkout/create` opens a Stripe Checkout Session for a catalog plan or
//! credit pack.

use serde::Deserialize;
use serde_json::json;
use tollgate::auth::{normalize_email, optional_caller};
use tollgate::domain::orders::{self, Buyer, Wanted};
use tollgate::http::{self, Reply, Request, Response};
use tollgate::{App, Error};

pub const ROUTES: &[(&str, &str)] = &[("POST", "/api/checkout/create")];

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(req, |req| async move {
        match (req.method().as_str(), req.uri().path()) {
            ("POST", "/api/checkout/create") => create(app, &req).await,
            (_, path) => Err(http::unrouted(ROUTES, path)),
        }
    })
    .await
}

#[derive(Deserialize)]
struct CreateRequest {
    plan: Option<String>,
    pack: Option<String>,
    email: Option<String>,
}

async fn create(app: &App, req: &Request) -> Result<Reply, Error> {
    let caller = optional_caller(app, req)?;
    let body: CreateRequest = http::json_body(req, app.config.max_body_bytes)?;
    let buyer = match (&caller, &body.email) {
        (Some(claims), _) => orders::buyer_for(app, &claims.sub, &claims.email).await?,
        (None, Some(raw)) => Buyer::Anonymous {
            email: normalize_email(raw)
                .ok_or_else(|| Error::bad_request("invalid_email", "email is not a valid address"))?,
        },
        (None, None) => {
            return Err(Error::bad_request("missing_field", "email is required without a Bearer token"));
        }
    };
    let wanted = match (&body.plan, &body.pack) {
        (Some(plan), None) => Wanted::Plan(plan),
        (None, Some(pack)) => Wanted::Pack(pack),
        (None, None) => return Err(Error::bad_request("missing_field", "give plan or pack")),
        (Some(_), Some(_)) => return Err(Error::bad_request("invalid_field", "give plan or pack, not both")),
    };
    let started = orders::start_checkout(app, buyer, wanted).await?;
    Ok(Reply::ok(json!({ "url": started.url, "session_id": started.session_id, "order_id": started.order_id })))
}
