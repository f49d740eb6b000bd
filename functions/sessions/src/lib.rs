//! What a plan lets a user keep and do: `/api/sessions` (capped records with entries),
//! `POST /api/usage/{feature}` (metered quotas), `GET /api/entitlements` and its offline token `GET /api/entitlements/token`; and the metronome's
//! `GET /api/pace-to-bpm`.

use tollgate::auth::{caller, signed_in};
use tollgate::clock::rfc3339;
use tollgate::domain::entitlements;
use tollgate::domain::pace;
use tollgate::domain::sessions;
use tollgate::domain::usage::{self, Use};
use tollgate::http::api::{
    Cadence, EntitlementToken, Entitlements, EntryRequest, EntryView, Held, SessionDeleted, SessionPage,
    SessionRequest, SessionView, SessionWithEntries, UsageCounted, UsageRequest,
};
use tollgate::http::{self, Reply, Request, Response, Route};
use tollgate::{App, Error};

/// The secrets this function uses: the only ones its role may read (template.yaml).
pub const SECRETS: &[&str] = &[
    tollgate::config::secrets::JWT_SECRET,
    tollgate::config::secrets::ENTITLEMENT_KEYS,
    tollgate::config::secrets::NEXTAUTH_SECRET,
];

/// The function's routes: the one table its router, the dev server and the template test read.
pub const ROUTES: &[Route] = &[
    Route { method: "POST", path: "/api/sessions", handler: |app, req, _| Box::pin(create(app, req)) },
    Route { method: "GET", path: "/api/sessions", handler: |app, req, _| Box::pin(list(app, req)) },
    Route { method: "GET", path: "/api/sessions/{id}", handler: |app, req, p| Box::pin(show(app, req, p.get("id"))) },
    Route {
        method: "DELETE",
        path: "/api/sessions/{id}",
        handler: |app, req, p| Box::pin(delete(app, req, p.get("id"))),
    },
    Route {
        method: "POST",
        path: "/api/sessions/{id}/entries",
        handler: |app, req, p| Box::pin(append(app, req, p.get("id"))),
    },
    Route {
        method: "POST",
        path: "/api/usage/{feature}",
        handler: |app, req, p| Box::pin(record_use(app, req, p.get("feature"))),
    },
    Route { method: "GET", path: "/api/entitlements", handler: |app, req, _| Box::pin(allowances(app, req)) },
    Route {
        method: "GET",
        path: "/api/entitlements/token",
        handler: |app, req, _| Box::pin(entitlement_token(app, req)),
    },
    Route { method: "GET", path: "/api/pace-to-bpm", handler: |_, req, _| Box::pin(async move { pace_to_bpm(req) }) },
];

pub fn router(app: App) -> http::router::Router {
    http::router::router(app, ROUTES)
}

/// One request through the router (what Lambda does).
pub async fn handle(app: &App, req: Request) -> Response {
    http::router::call(router(app.clone()), req).await
}

const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;

async fn create(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = caller(app, req)?;
    let body: SessionRequest = http::json_body(req, app.config.max_body_bytes)?;
    let session = sessions::create(app, &claims.sub, &claims.plan, body.kind.as_deref(), &body.data).await?;
    Ok(Reply::json_with_status(201, &SessionView::from(&session)))
}

async fn list(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = caller(app, req)?;
    let kind = http::query_param(req, "kind").filter(|k| !k.is_empty());
    let cursor = http::query_param(req, "cursor").filter(|c| !c.is_empty());
    let limit = http::page_limit(req, DEFAULT_PAGE, MAX_PAGE)?;
    // The token's version is read alongside the page: no wait of its own.
    let (_, page) = tokio::try_join!(
        signed_in(app, req),
        sessions::list(app, &claims.sub, kind.as_deref(), limit, cursor.as_deref())
    )?;
    Ok(Reply::json(&SessionPage {
        sessions: page.sessions.iter().map(SessionView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn show(app: &App, req: &Request, id: &str) -> Result<Reply, Error> {
    let claims = caller(app, req)?;
    let (_, (session, entries)) = tokio::try_join!(signed_in(app, req), sessions::get(app, &claims.sub, id))?;
    Ok(Reply::json(&SessionWithEntries {
        session: SessionView::from(&session),
        entries: entries.iter().map(EntryView::from).collect(),
    }))
}

async fn delete(app: &App, req: &Request, id: &str) -> Result<Reply, Error> {
    let claims = signed_in(app, req).await?.0;
    sessions::delete(app, &claims.sub, id).await?;
    Ok(Reply::json(&SessionDeleted { deleted: true, id: id.to_string() }))
}

async fn append(app: &App, req: &Request, id: &str) -> Result<Reply, Error> {
    let claims = signed_in(app, req).await?.0;
    let body: EntryRequest = http::json_body(req, app.config.max_body_bytes)?;
    let entry = sessions::append(app, &claims.sub, id, &body.data, app.config.max_session_entries).await?;
    Ok(Reply::json_with_status(201, &EntryView::from(&entry)))
}

/// The most units one call may count.
const MAX_UNITS: i64 = 10_000;

async fn record_use(app: &App, req: &Request, feature: &str) -> Result<Reply, Error> {
    let claims = caller(app, req)?;
    let body: UsageRequest = http::optional_json_body(req, app.config.max_body_bytes)?;
    let amount = body.amount.unwrap_or(1);
    if !(1..=MAX_UNITS).contains(&amount) {
        return Err(Error::bad_request(
            "invalid_amount",
            format!("amount must be a whole number from 1 to {MAX_UNITS}"),
        ));
    }
    let key = body.idempotency_key.or_else(|| http::header_value(req, "idempotency-key").map(str::to_string));
    if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 255 || k.chars().any(char::is_control)) {
        return Err(Error::bad_request("invalid_field", "idempotency key must be 1 to 255 printable characters"));
    }
    let counted = usage::record_use(
        app,
        &Use { user_id: &claims.sub, token_plan: &claims.plan, feature, amount, key: key.as_deref() },
    )
    .await?;
    Ok(Reply::json(&UsageCounted {
        remaining: counted.remaining(),
        feature: counted.feature,
        used: counted.used,
        limit: counted.limit,
        resets_at: rfc3339(counted.resets_at),
    }))
}

async fn allowances(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = caller(app, req)?;
    let (ent, all) = entitlements::allowances(app, &claims.sub).await?;
    Ok(Reply::json(&Entitlements {
        held: Held::from(&ent),
        features: all.into_iter().map(|(feature, allowance)| (feature, allowance.into())).collect(),
    }))
}

/// A short-lived EdDSA token of what the caller may do, for a backend to verify offline against
/// `/.well-known/jwks.json`.
async fn entitlement_token(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = caller(app, req)?;
    let (token, expires_at) = entitlements::entitlement_token(app, &claims.sub)
        .await?
        .ok_or_else(|| Error::internal("entitlement tokens have no key set in this function"))?;
    let kid = app.entitlement_keys.as_ref().map(|k| k.kid().to_string());
    Ok(Reply::json(&EntitlementToken { token, expires_at: rfc3339(expires_at), kid }))
}

/// The running cadence for a pace; no token needed.
fn pace_to_bpm(req: &Request) -> Result<Reply, Error> {
    let pace = http::query_param(req, "pace")
        .ok_or_else(|| Error::bad_request("missing_field", "pace is required, like 5:30"))?;
    let unit = match http::query_param(req, "unit").as_deref() {
        None | Some("km") => pace::Unit::Km,
        Some("mi") => pace::Unit::Mile,
        Some(_) => return Err(Error::bad_request("invalid_unit", "unit is km or mi")),
    };
    let height = match http::query_param(req, "height_cm") {
        None => None,
        Some(raw) => {
            Some(raw.parse::<f64>().map_err(|_| Error::bad_request("invalid_height", "height_cm must be a number"))?)
        }
    };
    let cadence = pace::cadence(pace::parse_pace(&pace)?, unit, height)?;
    Ok(Reply::json(&Cadence {
        pace_seconds_per_km: cadence.pace_seconds_per_km,
        speed_kmh: cadence.speed_kmh,
        bpm: cadence.bpm,
    }))
}
