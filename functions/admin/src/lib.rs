//! Administration: `POST /api/admin/credits/grant`, an administrator's grant or correction;
//! `GET /api/admin/billing-events?user_id=`, a user's billing audit, and `.../recent`, every
//! user's; `GET /api/admin/users/{user}`,
//! everything about one user's access and money; `GET /api/admin/metrics`, webhook deliveries,
//! sign-ins, credits and subscriptions (MRR); `POST /api/admin/reconcile`, what Stripe holds that
//! Tollgate missed, applied; `PUT`/`DELETE /api/admin/users/{user}/admin`, who
//! else administers; `GET /api/diagnostics`, whether each part is
//! configured and answering (open in development).

mod report;

use tollgate::auth::{admin, normalize_email};
use tollgate::domain::billing;
use tollgate::domain::credits::{self, Change, Floor, Outcome};
use tollgate::domain::users;
use tollgate::http::api::{AdminSet, BillingEventPage, BillingEventView, GrantRequest, Granted, RecentBillingEvents};
use tollgate::http::{self, Reply, Request, Response, Route};
use tollgate::store::schema::{Reason, RequestKey};
use tollgate::{App, Error};

/// The secrets this function uses: the only ones its role may read (template.yaml). The
/// webhook's, for diagnostics to count them.
pub const SECRETS: &[&str] = &[
    tollgate::config::secrets::JWT_SECRET,
    tollgate::config::secrets::STRIPE_SECRET_KEY,
    tollgate::config::secrets::STRIPE_WEBHOOK_SECRET,
    tollgate::config::secrets::NEXTAUTH_SECRET,
];

/// The function's routes: the one table its router, the dev server and the template test read.
pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/api/admin/credits/grant",
        handler: |app, req, _| Box::pin(grant_credits(app, req)),
    },
    Route {
        method: "GET",
        path: "/api/admin/billing-events",
        handler: |app, req, _| Box::pin(billing_events(app, req)),
    },
    Route {
        method: "GET",
        path: "/api/admin/billing-events/recent",
        handler: |app, req, _| Box::pin(recent_billing_events(app, req)),
    },
    Route {
        method: "GET",
        path: "/api/admin/users/{user}",
        handler: |app, req, p| Box::pin(report::user(app, req, p.get("user"))),
    },
    Route {
        method: "GET",
        path: "/api/admin/users/{user}/export",
        handler: |app, req, p| Box::pin(report::export(app, req, p.get("user"))),
    },
    Route {
        method: "DELETE",
        path: "/api/admin/users/{user}",
        handler: |app, req, p| Box::pin(report::erase(app, req, p.get("user"))),
    },
    Route {
        method: "PUT",
        path: "/api/admin/users/{user}/admin",
        handler: |app, req, p| Box::pin(set_admin(app, req, p.get("user"), true)),
    },
    Route {
        method: "DELETE",
        path: "/api/admin/users/{user}/admin",
        handler: |app, req, p| Box::pin(set_admin(app, req, p.get("user"), false)),
    },
    Route { method: "GET", path: "/api/admin/metrics", handler: |app, req, _| Box::pin(report::metrics(app, req)) },
    Route {
        method: "POST",
        path: "/api/admin/reconcile",
        handler: |app, req, _| Box::pin(report::reconcile(app, req)),
    },
    Route { method: "GET", path: "/api/diagnostics", handler: |app, req, _| Box::pin(report::diagnostics(app, req)) },
];

pub fn router(app: App) -> http::router::Router {
    http::router::router(app, ROUTES)
}

/// One request through the router (what Lambda does).
pub async fn handle(app: &App, req: Request) -> Response {
    http::router::call(router(app.clone()), req).await
}

/// Makes a user an administrator, or no longer one: their tokens are then revoked, so they sign
/// in again. Administrators named by `ADMIN_EMAILS` stay administrators whatever the store says.
async fn set_admin(app: &App, req: &Request, user: &str, admin_now: bool) -> Result<Reply, Error> {
    let by = admin(app, req).await?;
    users::set_admin(app, user, admin_now)
        .await?
        .ok_or_else(|| Error::not_found("user_not_found", "there is no such user"))?;
    tracing::info!(by = %by.sub, user, admin = admin_now, "administrator changed");
    Ok(Reply::json(&AdminSet { user_id: user.to_string(), admin: admin_now }))
}

/// Adds credits, or with a negative amount takes them back (never below zero: the ledger
/// entry records what could not be taken).
async fn grant_credits(app: &App, req: &Request) -> Result<Reply, Error> {
    let by = admin(app, req).await?;
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
    if body.amount == 0 || body.amount.unsigned_abs() > app.config.max_debit.unsigned_abs() {
        return Err(Error::bad_request(
            "invalid_amount",
            format!("amount must be non-zero and at most {} either way", app.config.max_debit),
        ));
    }
    if body.reason.trim().is_empty() || body.reason.len() > 200 {
        return Err(Error::bad_request("invalid_field", "reason must be 1 to 200 characters"));
    }
    if let Some(k) = &body.idempotency_key
        && (k.is_empty() || k.len() > 255 || k.chars().any(char::is_control))
    {
        return Err(Error::bad_request("invalid_field", "idempotency key must be 1 to 255 printable characters"));
    }
    let change = Change {
        user_id: &user_id,
        delta: body.amount,
        floor: Floor::Clamp,
        reason: Reason::Admin,
        note: Some(body.reason.trim()),
        reference: Some(&by.email),
        key: body.idempotency_key.as_deref().map(RequestKey::Caller),
    };
    match credits::apply(app, &change, &|_| Default::default()).await? {
        Outcome::Applied(entry) => {
            tracing::info!(admin = %by.sub, user_id = %user_id, delta = entry.delta, "credits granted by an administrator");
            Ok(Reply::json(&Granted {
                balance: entry.balance_after,
                delta: Some(entry.delta),
                shortfall: entry.shortfall,
                entry_id: entry.id,
                user_id,
            }))
        }
        Outcome::Replayed { entry_id, balance_after } => {
            Ok(Reply::json(&Granted { user_id, balance: balance_after, entry_id, delta: None, shortfall: None }))
        }
        Outcome::KeyReused => {
            Err(Error::conflict("idempotency_key_reused", "this idempotency key was used for a different amount"))
        }
        Outcome::OutOfRange => Err(Error::bad_request("invalid_amount", "the balance would be out of range")),
        Outcome::Insufficient { .. } | Outcome::Refused(_) => Err(Error::internal("a clamped grant cannot be refused")),
    }
}

/// A user's billing events, newest first, a page at a time.
async fn billing_events(app: &App, req: &Request) -> Result<Reply, Error> {
    admin(app, req).await?;
    let user_id = http::query_param(req, "user_id")
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| Error::bad_request("missing_field", "user_id is required"))?;
    let limit = http::page_limit(req, 50, 200)?;
    let cursor = http::query_param(req, "cursor");
    let (events, next_cursor) = billing::list(app, &user_id, limit, cursor.as_deref()).await?;
    let events = events.iter().map(BillingEventView::from).collect();
    Ok(Reply::json(&BillingEventPage { user_id, events, next_cursor }))
}

/// Every user's billing events of the last days, newest first.
async fn recent_billing_events(app: &App, req: &Request) -> Result<Reply, Error> {
    admin(app, req).await?;
    let limit = http::page_limit(req, 50, 200)?;
    let events = billing::recent(app, limit).await?;
    let events = events.iter().map(BillingEventView::from).collect();
    Ok(Reply::json(&RecentBillingEvents { days: billing::RECENT_DAYS, events }))
}
