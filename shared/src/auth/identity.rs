//! Who is calling: the verified claims of the request's Bearer token.

use crate::app::App;
use crate::auth::Claims;
use crate::error::Error;
use crate::http::{Request, bearer_token};

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

/// The caller's claims if they are an administrator: a token with role `admin`, or an email
/// listed in `ADMIN_EMAILS`. 401 without a valid token, 403 for anyone else.
pub fn admin(app: &App, req: &Request) -> Result<Claims, Error> {
    let claims = caller(app, req)?;
    if claims.role.as_deref() == Some("admin") || app.config.admin_emails.contains(&claims.email) {
        Ok(claims)
    } else {
        Err(Error::forbidden("not_an_admin", "this route is for administrators"))
    }
}
