//! Administration: `POST /api/admin/credits/grant`, an administrator's grant or correction.

use serde::Deserialize;
use serde_json::json;
use tollgate::auth::{admin, normalize_email};
use tollgate::domain::credits::{self, Change, Floor, Outcome};
use tollgate::domain::users;
use tollgate::http::{self, Reply, Request, Response};
use tollgate::{App, Error};

pub const ROUTES: &[(&str, &str)] = &[("POST", "/api/admin/credits/grant")];

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(req, |req| async move {
        match (req.method().as_str(), req.uri().path()) {
            ("POST", "/api/admin/credits/grant") => grant_credits(app, &req).await,
            (_, path) => Err(http::unrouted(ROUTES, path)),
        }
    })
    .await
}

#[derive(Deserialize)]
struct GrantRequest {
    user_id: Option<String>,
    email: Option<String>,
    amount: i64,
    reason: String,
    idempotency_key: Option<String>,
}

/// Adds credits, or with a negative amount takes them back (never below zero: the ledger
/// entry records what could not be taken).
async fn grant_credits(app: &App, req: &Request) -> Result<Reply, Error> {
    let by = admin(app, req)?;
    let body: GrantRequest = http::json_body(req, app.config.max_body_bytes)?;
    let user_id = match (body.user_id, body.email) {
        (Some(id), None) => users::user_by_id(&app.store, &id).await?.map(|u| u.id),
        (None, Some(raw)) => {
            let email = normalize_email(&raw)
                .ok_or_else(|| Error::bad_request("invalid_email", "email is not a valid address"))?;
            users::user_id_for_email(&app.store, &email).await?
        }
        _ => return Err(Error::bad_request("invalid_field", "give exactly one of user_id and email")),
    }
    .ok_or_else(|| Error::not_found("user_not_found", "no such user"))?;
    if body.amount == 0 || body.amount.abs() > app.config.max_debit {
        return Err(Error::bad_request(
            "invalid_amount",
            format!("amount must be non-zero and at most {} either way", app.config.max_debit),
        ));
    }
    if body.reason.trim().is_empty() || body.reason.len() > 200 {
        return Err(Error::bad_request("invalid_field", "reason must be 1 to 200 characters"));
    }
    let reason = format!("admin: {}", body.reason.trim());
    let change = Change {
        user_id: &user_id,
        delta: body.amount,
        floor: Floor::Clamp,
        reason: &reason,
        reference: Some(&by.email),
        key: body.idempotency_key.as_deref(),
    };
    match credits::apply(app, &change, &|_| vec![]).await? {
        Outcome::Applied(entry) => {
            tracing::info!(admin = %by.sub, user_id = %user_id, delta = entry.delta, "credits granted by an administrator");
            Ok(Reply::ok(json!({
                "user_id": user_id,
                "balance": entry.balance_after,
                "entry_id": entry.id,
                "delta": entry.delta,
                "shortfall": entry.shortfall,
            })))
        }
        Outcome::Replayed { entry_id, balance_after } => {
            Ok(Reply::ok(json!({ "user_id": user_id, "balance": balance_after, "entry_id": entry_id })))
        }
        Outcome::KeyReused => {
            Err(Error::conflict("idempotency_key_reused", "this idempotency key was used for a different amount"))
        }
        Outcome::Insufficient { .. } | Outcome::Refused(_) => Err(Error::internal("a clamped grant cannot be refused")),
    }
}
