//! One route table per function. A function lists its routes once (`Route`: method, path
//! template, handler); `router` makes the axum router Lambda serves (through lambda_http) and
//! the dev server merges; the table itself is what the template test and the dev server's route
//! list read. Unknown paths and wrong methods answer in the one error envelope.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

pub use axum::Router;
use axum::extract::State;
use axum::routing::{MethodFilter, MethodRouter, on};
use http_body_util::BodyExt;
use lambda_http::Body;

use super::{Reply, Request, Response, error_response, request_id, respond};
use crate::app::App;
use crate::error::Error;

/// A handler's future, borrowing the app, the request and the path's parameters.
pub type Handled<'a> = Pin<Box<dyn Future<Output = Result<Reply, Error>> + Send + 'a>>;
pub type Handler = for<'a> fn(&'a App, &'a Request, &'a Params) -> Handled<'a>;

/// One route: `path` is a template whose `{name}` segments are parameters.
#[derive(Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: Handler,
}

/// The values of a route's `{name}` segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters `template` finds in `path` (the router matched them already).
    pub fn of(template: &str, path: &str) -> Params {
        let values = path.trim_matches('/').split('/');
        let names = template.trim_matches('/').split('/');
        Params(
            names
                .zip(values)
                .filter_map(|(name, value)| {
                    let name = name.strip_prefix('{')?.strip_suffix('}')?;
                    let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
                    Some((name.to_string(), value.into_owned()))
                })
                .collect(),
        )
    }
    /// Whether a parameter is empty (`//` in the path).
    pub fn any_empty(&self) -> bool {
        self.0.iter().any(|(_, v)| v.is_empty())
    }
    /// A parameter the route's template names (empty if it names none such).
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
    }
}

pub fn method_filter(method: &str) -> MethodFilter {
    match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        other => unreachable!("a route table names a method axum routes, not {other}"),
    }
}

/// The request as the handlers read it (the body buffered; the API Gateway context kept).
pub async fn into_request(req: axum::extract::Request) -> Result<Request, Error> {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| Error::bad_request("unreadable_body", format!("the body could not be read: {e}")))?
        .to_bytes();
    let body = match String::from_utf8(bytes.to_vec()) {
        _ if bytes.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    Ok(Request::from_parts(parts, body))
}

/// The handlers' response as axum sends it.
pub fn into_axum(response: Response) -> axum::response::Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Who is calling, within the public routes' request limits, before any work: the address's
/// limit first (so no token costs a check past it), then the token (Tollgate's, or a configured
/// issuer's mapped to its user), then the user's limit. The verified claims ride on the request,
/// so the handler does not check the token again (`auth::caller`); a token that was not accepted
/// rides along as `Refused`, for a handler that needs a caller to report.
async fn admit(app: &App, req: &mut Request, route: &Route) -> Result<(), Error> {
    if super::limits::UNLIMITED.contains(&route.path) {
        return Ok(());
    }
    app.limits.check_address(&super::source_ip(req).unwrap_or_default())?;
    let Some(token) = super::bearer_token(req).map(str::to_string) else { return Ok(()) };
    match crate::auth::identify(app, &token).await {
        Ok(claims) => {
            app.limits.check_user(&claims.sub)?;
            req.extensions_mut().insert(claims);
        }
        Err(Error::Unauthorized { code, message }) => {
            req.extensions_mut().insert(crate::auth::identity::Refused { code, message });
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

async fn serve(app: App, req: axum::extract::Request, route: Route) -> axum::response::Response {
    let params = Params::of(route.path, req.uri().path());
    let response = match into_request(req).await {
        Ok(req) => {
            respond(req, route.path, |mut req| async move {
                admit(&app, &mut req, &route).await?;
                let presented = req.extensions().get::<crate::auth::Claims>().map(|c| c.presented());
                crate::auth::presented::scope(presented, (route.handler)(&app, &req, &params)).await
            })
            .await
        }
        Err(e) => error_response(&e, &crate::http::new_request_id()),
    };
    into_axum(response)
}

async fn refuse(req: axum::extract::Request, error: Error) -> axum::response::Response {
    let id = match into_request(req).await {
        Ok(req) => request_id(&req),
        Err(_) => crate::http::new_request_id(),
    };
    tracing::info!(code = error.code(), status = error.status(), "request");
    into_axum(error_response(&error, &id))
}

/// Endpoints grouped by path: each path's methods, with 405 (in the envelope) for another
/// method on a known path. The state is given later (`finish`).
pub fn by_path(endpoints: impl IntoIterator<Item = (&'static str, MethodRouter<App>)>) -> Router<App> {
    let mut paths: BTreeMap<&'static str, MethodRouter<App>> = BTreeMap::new();
    for (path, endpoint) in endpoints {
        let methods = paths.remove(path).unwrap_or_default();
        paths.insert(path, methods.merge(endpoint));
    }
    let mut router = Router::new();
    for (path, methods) in paths {
        router = router.route(path, methods.fallback(|req| refuse(req, Error::MethodNotAllowed)));
    }
    router
}

/// The routes of a table.
pub fn routes(routes: &[Route]) -> Router<App> {
    by_path(routes.iter().copied().map(|route| {
        let endpoint = on(method_filter(route.method), move |State(app): State<App>, req| serve(app, req, route));
        (route.path, endpoint)
    }))
}

/// A router ready to serve: unknown paths answer 404 in the envelope.
pub fn finish(router: Router<App>, app: App) -> Router {
    router.fallback(|req| refuse(req, Error::not_found("route_not_found", "no such route"))).with_state(app)
}

/// The router of one function's `routes`.
pub fn router(app: App, table: &[Route]) -> Router {
    finish(routes(table), app)
}

/// Serves `route` on every path (a function URL's path is whatever the endpoint was registered
/// with); another method is 405.
pub fn any_path(app: App, route: Route) -> Router {
    Router::new()
        .fallback(move |State(app): State<App>, req: axum::extract::Request| async move {
            if req.method().as_str() == route.method {
                serve(app, req, route).await
            } else {
                refuse(req, Error::MethodNotAllowed).await
            }
        })
        .with_state(app)
}

/// Runs one request through `router` (what Lambda does; the tests call handlers this way).
pub async fn call(router: Router, req: Request) -> Response {
    use tower::ServiceExt;
    let response = match router.oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Default::default(),
    };
    let body = if body.is_empty() { Body::Empty } else { Body::Text(String::from_utf8_lossy(&body).into_owned()) };
    Response::from_parts(parts, body)
}

/// (method, path) of each route.
pub fn listing(routes: &[Route]) -> Vec<(&'static str, &'static str)> {
    routes.iter().map(|r| (r.method, r.path)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_come_from_the_template() {
        let p = Params::of("/api/sessions/{id}/entries", "/api/sessions/ses_1/entries");
        assert_eq!(p.get("id"), "ses_1");
        assert_eq!(p.get("other"), "");
        assert_eq!(Params::of("/api/credits", "/api/credits"), Params::default());
        assert_eq!(Params::of("/u/{user}", "/u/ada%40example.com%20").get("user"), "ada@example.com ");
    }
}
