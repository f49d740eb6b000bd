//! Who is calling: the verified claims of the request's Bearer token.

use crate::app::App;
use crate::auth::Claims;
use crate::error::Error;
use crate::http::{Request, bearer_token};
use crate::store::schema::plans::{self, Plans};

/// The caller's claims; 401 without a valid token. The router has verified the token already
/// when it checked the caller's request limit.
pub fn caller(app: &App, req: &Request) -> Result<Claims, Error> {
    if let Some(claims) = req.extensions().get::<Claims>() {
        crate::http::log::note_user(&claims.sub);
        return Ok(claims.clone());
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
