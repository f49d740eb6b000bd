//! Sign-in: `POST /api/auth/request-code`, `POST /api/auth/verify-code`, and `GET /healthz`;
//! the caller's data: `GET /api/me/export` and `DELETE /api/me` (erasure).

use tollgate::domain::{entitlements, health, sign_in};
use tollgate::http::api::{
    CodeRequest, CodeSent, ErasedView, ExportView, HealthStatus, Jwks, Me, SignedIn, SignedOut, TokenInfo, UserRef,
    VerifyRequest,
};
use tollgate::http::{self, Reply, Request, Response, Route};
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
    Route { method: "POST", path: "/api/auth/request-code", handler: |app, req, _| Box::pin(request_code(app, req)) },
    Route { method: "POST", path: "/api/auth/verify-code", handler: |app, req, _| Box::pin(verify_code(app, req)) },
    Route { method: "GET", path: "/healthz", handler: |app, _, _| Box::pin(healthz(app)) },
    Route { method: "GET", path: "/api/me/export", handler: |app, req, _| Box::pin(export(app, req)) },
    Route { method: "DELETE", path: "/api/me", handler: |app, req, _| Box::pin(erase(app, req)) },
    Route { method: "GET", path: "/api/me", handler: |app, req, _| Box::pin(me(app, req)) },
    Route { method: "GET", path: "/.well-known/jwks.json", handler: |app, _, _| Box::pin(jwks(app)) },
    Route {
        method: "POST",
        path: "/api/auth/sign-out-everywhere",
        handler: |app, req, _| Box::pin(sign_out_everywhere(app, req)),
    },
];

/// Who the caller is: their user, whether they administer, and their plan.
async fn me(app: &App, req: &Request) -> Result<Reply, Error> {
    let (claims, held) = tollgate::auth::signed_in(app, req).await?;
    let user = tollgate::domain::users::user_by_id(&app.store, &claims.sub)
        .await?
        .filter(|u| u.erased_at.is_none())
        .ok_or_else(|| Error::not_found("user_not_found", "there is no account for this token"))?;
    let plan = tollgate::domain::plans::entitlement_from(&app.catalog, &held, app.now());
    Ok(Reply::json(&Me {
        admin: tollgate::domain::users::is_admin(app, &user.email, &held),
        user: UserRef { id: user.id, email: user.email },
        plan: plan.plan.key,
        pro: plan.pro,
        token: TokenInfo { issuer: claims.iss, expires_at: claims.exp },
    }))
}

/// The public keys entitlement tokens are signed with: the current one, and a retired one until
/// the tokens it signed have expired.
async fn jwks(app: &App) -> Result<Reply, Error> {
    let keys = match &app.entitlement_keys {
        Some(keys) => keys.jwks(app.now(), app.config.tokens.entitlement_lifetime_secs),
        None => Jwks { keys: vec![] },
    };
    Ok(Reply::json(&keys).with_header("cache-control", "public, max-age=300"))
}

/// Revokes every token the caller holds, this one included.
async fn sign_out_everywhere(app: &App, req: &Request) -> Result<Reply, Error> {
    let (claims, _) = tollgate::auth::signed_in(app, req).await?;
    tollgate::domain::users::sign_out_everywhere(app, &claims.sub).await?;
    Ok(Reply::json(&SignedOut { signed_out: true }))
}

/// Erases the caller's personal data (ending a live subscription at Stripe first); the
/// financial records stay, pseudonymised. Asking again finishes an erasure that failed.
async fn erase(app: &App, req: &Request) -> Result<Reply, Error> {
    let (claims, _) = tollgate::auth::signed_in(app, req).await?;
    let erased = tollgate::domain::erasure::erase(app, &claims.sub)
        .await?
        .ok_or_else(|| Error::not_found("user_not_found", "there is no account for this token"))?;
    Ok(Reply::json(&ErasedView::from(&erased)))
}

/// Everything Tollgate holds about the caller, as JSON.
async fn export(app: &App, req: &Request) -> Result<Reply, Error> {
    let (claims, _) = tollgate::auth::signed_in(app, req).await?;
    let export = tollgate::domain::support::export(app, &claims.sub)
        .await?
        .ok_or_else(|| Error::not_found("user_not_found", "there is no account for this token"))?;
    Ok(Reply::json(&ExportView::new(&export, app.now())))
}

pub fn router(app: App) -> http::router::Router {
    http::router::router(app, ROUTES)
}

/// One request through the router (what Lambda does).
pub async fn handle(app: &App, req: Request) -> Response {
    http::router::call(router(app.clone()), req).await
}

async fn request_code(app: &App, req: &Request) -> Result<Reply, Error> {
    let body: CodeRequest = http::json_body(req, app.config.max_body_bytes)?;
    let sent = sign_in::request_code(app, &body.email, http::source_ip(req).as_deref()).await?;
    Ok(Reply::json_with_status(202, &CodeSent { status: "sent".into(), debug_code: sent.debug_code }))
}

/// Signs in: an access token and, where this function has a key set, an entitlement token
/// (whatever old token came along: a sign-in starts afresh).
async fn verify_code(app: &App, req: &Request) -> Result<Reply, Error> {
    let body: VerifyRequest = http::json_body(req, app.config.max_body_bytes)?;
    tollgate::auth::presented::ignoring(async {
        let user = sign_in::verify_code(app, &body.email, &body.code).await?;
        let (token, held) = entitlements::token_for(app, &user.id, &user.email).await?;
        let offline = entitlements::entitlement_token(app, &user.id).await?;
        Ok(Reply::json(&SignedIn {
            token,
            user: UserRef { id: user.id, email: user.email },
            pro: held.pro,
            plan: held.plan.key,
            entitlement_token: offline.map(|(token, _)| token),
        }))
    })
    .await
}

async fn healthz(app: &App) -> Result<Reply, Error> {
    health::check(app).await?;
    Ok(Reply::json(&HealthStatus { status: "ok".into() }))
}
