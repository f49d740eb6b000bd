//! `tollgate dev`: every function's routes on 127.0.0.1 in one router (their tables merged, as
//! Lambda serves each), plus the dev server's own pages (`pages::DEV_ROUTES`: the simulated
//! Stripe Checkout and portal when no Stripe key is configured), with tower-http's CORS and body
//! limit in front.

mod checkout;
mod demo;
mod pages;
mod reference;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::extract::State;
use axum::routing::on;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tollgate::App;
use tollgate::config::{Config, ProcessEnv, Source};
use tollgate::http::router::{self, Router, method_filter};
use tollgate::http::{Params, Request, gateway_request as lambda_request};
use tower::ServiceExt;
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

pub use pages::{DEV_ROUTES, deliver, welcome_text};

/// A dev page's answer (HTML, text, a redirect).
pub type Page = hyper::Response<Full<Bytes>>;

/// A dev page's handler: the app, the request and the path's parameters.
pub type PageHandler = for<'a> fn(&'a App, &'a Request, &'a Params) -> Pin<Box<dyn Future<Output = Page> + Send + 'a>>;

/// One of the dev server's own routes.
#[derive(Clone, Copy)]
pub struct DevRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: PageHandler,
}

/// The process environment, in development unless told otherwise, with checkout returning to
/// this server's own pages.
struct DevEnv {
    public_url: String,
}

impl Source for DevEnv {
    fn get(&self, name: &str) -> Option<String> {
        ProcessEnv.get(name).or_else(|| match name {
            "TOLLGATE_ENV" => Some("development".to_string()),
            "CHECKOUT_SUCCESS_URL" => Some(format!("{}/success?session_id={{CHECKOUT_SESSION_ID}}", self.public_url)),
            "CHECKOUT_CANCEL_URL" => Some(format!("{}/", self.public_url)),
            _ => None,
        })
    }
}

/// The largest request body the dev server reads (the functions' own limits apply within).
const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// Every route the dev server answers: the functions' and its own.
pub fn all_routes() -> Vec<(&'static str, &'static str)> {
    let mut all = crate::routes();
    all.extend(DEV_ROUTES.iter().map(|r| (r.method, r.path)));
    all
}

fn dev_routes() -> axum::Router<App> {
    router::by_path(DEV_ROUTES.iter().copied().map(|route| {
        let endpoint =
            on(method_filter(route.method), move |State(app): State<App>, req: axum::extract::Request| async move {
                let params = Params::of(route.path, req.uri().path());
                if params.any_empty() {
                    return pages::plain(404, "text/plain", "no such page".into()).map(axum::body::Body::new);
                }
                match router::into_request(req).await {
                    Ok(req) => (route.handler)(&app, &req, &params).await.map(axum::body::Body::new),
                    Err(e) => router::into_axum(tollgate::http::error_response(&e, &tollgate::http::new_request_id())),
                }
            });
        (route.path, endpoint)
    }))
}

/// The dev server's router: the functions' routes and its own, CORS for a local frontend on
/// another port (in production API Gateway's CORS settings apply), and a body limit.
pub fn dev_router(app: App) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([hyper::Method::GET, hyper::Method::POST, hyper::Method::DELETE])
        .allow_headers([
            hyper::header::AUTHORIZATION,
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([hyper::header::HeaderName::from_static("x-request-id"), hyper::header::RETRY_AFTER]);
    router::finish(router::routes(&crate::api_routes()).merge(dev_routes()), app)
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BYTES))
        .layer(cors)
}

pub async fn serve(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    tollgate::runtime::init_dev_logging();
    let public_url = format!("http://127.0.0.1:{port}");
    let config = Config::from_source(&DevEnv { public_url: public_url.clone() })?;
    let app = App::from_config(config, &public_url).await?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    pages::print_welcome(&app, &public_url);
    // The outbox sender, in process: what a delivery could not send is retried here.
    let mailer = app.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            if let Err(e) = Box::pin(tollgate::domain::mail::drain(&mailer)).await {
                tracing::warn!(error = %e, "the outbox could not be drained");
            }
        }
    });
    let router = dev_router(app);
    loop {
        let (stream, peer) = listener.accept().await?;
        let router = router.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let router = router.clone();
                async move { Ok::<_, Infallible>(serve_one(router, peer, req).await) }
            });
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
}

/// One connection's request, as API Gateway would present it (the caller's address, the query
/// parsed), through the router.
async fn serve_one(router: Router, peer: SocketAddr, req: hyper::Request<Incoming>) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return pages::plain(413, "text/plain", "request body too large".into()).map(axum::body::Body::new),
    };
    run(router, lambda_request(parts, bytes.to_vec(), &peer.ip().to_string())).await
}

async fn run(router: Router, request: Request) -> axum::response::Response {
    let preflight = request.method() == hyper::Method::OPTIONS;
    let mut response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if preflight && response.status().is_success() {
        *response.status_mut() = hyper::StatusCode::NO_CONTENT;
    }
    response
}

/// One request through the dev server's router (the tests' way in). Boxed: the handlers'
/// futures nest deeply enough to overflow the compiler's layout query wherever they are awaited.
pub fn dispatch(app: &App, request: Request) -> Pin<Box<dyn Future<Output = axum::response::Response> + Send + '_>> {
    Box::pin(run(dev_router(app.clone()), request))
}
