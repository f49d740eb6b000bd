//! Who is calling: the verified claims of the request's Bearer token.

use crate::app::App;
use crate::auth::Claims;
use crate::error::Error;
use crate::http::{Request, bearer_token};

/// The caller's claims; 401 without a valid token.
pub fn caller(app: &App, req: &Request) -> Result<Claims, Error> {
    match req.headers().get("authorization") {
        None => Err(Error::unauthorized("missing_token", "an Authorization: Bearer token is required")),
        Some(_) => {
            let token = bearer_token(req).ok_or_else(|| {
                Error::unauthorized("invalid_token", "the Authorization header is not a Bearer token")
            })?;
            app.tokens.verify(token, app.now())
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
