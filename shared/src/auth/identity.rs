//! Who is calling: the verified claims of the request's Bearer token.

use crate::app::App;
use crate::auth::Claims;
use crate::error::Error;
use crate::http::{Request, bearer_token};
use crate::store::schema::plans::{self, Plans};

/// Who a bearer token names: a Tollgate token, else a configured issuer's (NextAuth, an OpenID
/// provider) mapped to its Tollgate user (one read). 401 for a token no one configured made;
/// 503 when the identity cannot be looked up now.
pub async fn identify(app: &App, token: &str) -> Result<Claims, Error> {
    let now = app.now();
    let refused = match app.tokens.verify(token, now) {
        Ok(claims) => return Ok(claims),
        Err(refused) if !app.issuers.any() => return Err(refused),
        Err(refused) => refused,
    };
    let Some(external) = app.issuers.verify(token, now).await? else { return Err(refused) };
    let link = crate::domain::identities::user_for(app, &external).await?;
    Ok(Claims {
        sub: link.user_id,
        email: link.email,
        pro: false,
        plan: String::new(),
        iss: external.issuer,
        aud: String::new(),
        iat: external.issued_at,
        exp: external.expires_at,
        role: None,
        tv: 0,
        external: true,
    })
}

/// A token the router could not accept, kept for the handler that needs a caller to report.
#[derive(Debug, Clone)]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
}

/// The caller's claims; 401 without a valid token. The router has verified the token already
/// when it checked the caller's request limit.
pub fn caller(app: &App, req: &Request) -> Result<Claims, Error> {
    if let Some(claims) = req.extensions().get::<Claims>() {
        crate::http::log::note_user(&claims.sub);
        return Ok(claims.clone());
    }
    if let Some(refused) = req.extensions().get::<Refused>() {
        return Err(Error::unauthorized(refused.code, refused.message.clone()));
    }
    match req.headers().get("authorization") {
        None => Err(Error::unauthorized("missing_token", "an Authorization: Bearer token is required")),
        Some(_) => {
            let token = bearer_token(req).ok_or_else(|| {
                Error::unauthorized("invalid_token", "the Authorization header is not a Bearer token")
            })?;
            let claims = app.tokens.verify(token, app.now())?;
            crate::http::log::note_user(&claims.sub);
            Ok(claims)
        }
    }
}

/// The caller's claims when a token is sent (and valid); None when none is sent.
pub fn optional_caller(app: &App, req: &Request) -> Result<Option<Claims>, Error> {
    match req.headers().get("authorization") {
        None => Ok(None),
        Some(_) => caller(app, req).map(Some),
    }
}

/// The caller's claims, checked against the user's token version (one read of their plans):
/// for a route that reads nothing else of the plans. 401 `token_revoked` for a revoked token.
pub async fn signed_in(app: &App, req: &Request) -> Result<(Claims, Plans), Error> {
    let claims = caller(app, req)?;
    let held = plans::get(&app.store, &claims.sub).await?;
    super::presented::check(&claims.sub, &held)?;
    Ok((claims, held))
}

/// The caller's claims if they are an administrator now: their email is in `ADMIN_EMAILS`, or
/// the store says they were made one; never because a token says so. 401 without a valid (or
/// with a revoked) token, 403 for anyone else.
pub async fn admin(app: &App, req: &Request) -> Result<Claims, Error> {
    let (claims, held) = signed_in(app, req).await?;
    if crate::domain::users::is_admin(app, &claims.email, &held) {
        Ok(claims)
    } else {
        Err(Error::forbidden("not_an_admin", "this route is for administrators"))
    }
}
