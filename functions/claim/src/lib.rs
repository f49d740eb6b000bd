//! Claiming and verifying Pro: `POST /api/pro/claim`, `GET /api/pro/verify`.

use tollgate::auth::{caller, signed_in};
use tollgate::domain::{claims, entitlements};
use tollgate::http::api::{ClaimRequest, Claimed, Held, Verified};
use tollgate::http::{self, Reply, Request, Response, Route};
use tollgate::store::schema::User;
use tollgate::{App, Error};

/// The secrets this function uses: the only ones its role may read (template.yaml).
pub const SECRETS: &[&str] = &[
    tollgate::config::secrets::JWT_SECRET,
    tollgate::config::secrets::STRIPE_SECRET_KEY,
    tollgate::config::secrets::ENTITLEMENT_KEYS,
    tollgate::config::secrets::NEXTAUTH_SECRET,
];

/// The function's routes: the one table its router, the dev server and the template test read.
pub const ROUTES: &[Route] = &[
    Route { method: "POST", path: "/api/pro/claim", handler: |app, req, _| Box::pin(claim(app, req)) },
    Route { method: "GET", path: "/api/pro/verify", handler: |app, req, _| Box::pin(verify(app, req)) },
];

pub fn router(app: App) -> http::router::Router {
    http::router::router(app, ROUTES)
}

/// One request through the router (what Lambda does).
pub async fn handle(app: &App, req: Request) -> Response {
    http::router::call(router(app.clone()), req).await
}

async fn claim(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = signed_in(app, req).await?.0;
    let body: ClaimRequest = http::optional_json_body(req, app.config.max_body_bytes)?;
    // A token of an erased account still names its old address: it may not claim what a new
    // owner of that address buys.
    if tollgate::domain::users::user_by_id(&app.store, &claims.sub).await?.is_some_and(|u| u.erased_at.is_some()) {
        return Err(Error::unauthorized("account_erased", "this account was erased; sign in again"));
    }
    let user = User {
        id: claims.sub.clone(),
        email: claims.email.clone(),
        created_at: 0,
        stripe_customer_id: None,
        erased_at: None,
    };
    match body.session_id.as_deref().map(str::trim) {
        Some("") => return Err(Error::bad_request("invalid_field", "session_id is empty")),
        Some(session_id) => claims::claim_session(app, &user, session_id).await?,
        None => {
            claims::claim_by_email(app, &user).await?;
        }
    }
    // Fresh tokens of what the user holds now, even if a refund revoked the one presented meanwhile.
    let (token, held) = entitlements::token_for(app, &user.id, &user.email).await?;
    let offline = tollgate::auth::presented::ignoring(entitlements::entitlement_token(app, &user.id)).await?;
    Ok(Reply::json(&Claimed {
        pro: held.pro,
        plan: held.plan.key,
        token,
        entitlement_token: offline.map(|(token, _)| token),
    }))
}

async fn verify(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = caller(app, req)?;
    let held = entitlements::entitlement(app, &claims.sub).await?;
    let held = Held::from(&held);
    // `expires_at` is the name earlier clients read; it is `plan_ends_at`.
    Ok(Reply::json(&Verified { expires_at: held.plan_ends_at.clone(), held }))
}
