//! Sign-in: `POST /api/auth/request-code`, `POST /api/auth/verify-code`, and `GET /healthz`.

use serde::Deserialize;
use serde_json::json;
use tollgate::domain::{entitlements, health, sign_in};
use tollgate::http::{self, Reply, Request, Response};
use tollgate::{App, Error};

pub const ROUTES: &[(&str, &str)] =
    &[("POST", "/api/auth/request-code"), ("POST", "/api/auth/verify-code"), ("GET", "/healthz")];

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(req, |req| async move {
        match (req.method().as_str(), req.uri().path()) {
            ("POST", "/api/auth/request-code") => request_code(app, &req).await,
            ("POST", "/api/auth/verify-code") => verify_code(app, &req).await,
            ("GET", "/healthz") => healthz(app).await,
            (_, path) => Err(http::unrouted(ROUTES, path)),
        }
    })
    .await
}

#[derive(Deserialize)]
struct CodeRequest {
    email: String,
}

async fn request_code(app: &App, req: &Request) -> Result<Reply, Error> {
    let body: CodeRequest = http::json_body(req, app.config.max_body_bytes)?;
    let sent = sign_in::request_code(app, &body.email, http::source_ip(req).as_deref()).await?;
    let mut reply = json!({ "status": "sent" });
    if let Some(code) = sent.debug_code {
        reply["debug_code"] = code.into();
    }
    Ok(Reply::with_status(202, reply))
}

#[derive(Deserialize)]
struct VerifyRequest {
    email: String,
    code: String,
}

async fn verify_code(app: &App, req: &Request) -> Result<Reply, Error> {
    let body: VerifyRequest = http::json_body(req, app.config.max_body_bytes)?;
    let user = sign_in::verify_code(app, &body.email, &body.code).await?;
    let (token, held) = entitlements::token_for(app, &user.id, &user.email).await?;
    Ok(Reply::ok(json!({
        "token": token,
        "user": { "id": user.id, "email": user.email },
        "pro": held.pro,
        "plan": held.plan.key,
    })))
}

async fn healthz(app: &App) -> Result<Reply, Error> {
    health::check(app).await?;
    Ok(Reply::ok(json!({ "status": "ok" })))
}
