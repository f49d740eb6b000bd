//! `tollgate dev`: every route on 127.0.0.1 in one process, through the same handlers Lambda
//! runs, plus the simulated Stripe Checkout page when no Stripe key is configured.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, RequestExt};
use tollgate::App;
use tollgate::config::{Config, ProcessEnv, Source};
use tollgate::http::{Request, Response, gateway_request as lambda_request};

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

const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

pub async fn serve(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    tollgate::runtime::init_dev_logging();
    let public_url = format!("http://127.0.0.1:{port}");
    let config = Config::from_source(&DevEnv { public_url: public_url.clone() })?;
    let app = App::from_config(config, &public_url).await?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    print_welcome(&app, &public_url);
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
    loop {
        let (stream, peer) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(serve_one(&app, peer, req).await) }
            });
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
}

async fn serve_one(app: &App, peer: SocketAddr, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    // Boxed: the handlers' futures nest deeply enough to overflow the compiler's layout query.
    let mut response = Box::pin(route_one(app, peer, req)).await;
    // A local frontend runs on another port; in production API Gateway's CORS settings apply.
    let headers = response.headers_mut();
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("authorization, content-type, idempotency-key"),
    );
    headers.insert("access-control-allow-methods", HeaderValue::from_static("GET, POST, DELETE, OPTIONS"));
    headers.insert("access-control-expose-headers", HeaderValue::from_static("x-request-id, retry-after"));
    response
}

async fn route_one(app: &App, peer: SocketAddr, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    if req.method() == hyper::Method::OPTIONS {
        return plain(204, "text/plain", String::new());
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return plain(413, "text/plain", "request body too large".into()),
    };
    let request = lambda_request(parts, bytes.to_vec(), &peer.ip().to_string());
    dispatch(app, request).await
}

/// The dev server's own pages and actions, else every function's routes. Paths are split, never
/// sliced by position, so no path (however odd) can panic here. Boxed: the handlers' futures
/// nest deeply enough to overflow the compiler's layout query wherever they are awaited.
pub fn dispatch(
    app: &App,
    request: Request,
) -> Pin<Box<dyn Future<Output = hyper::Response<Full<Bytes>>> + Send + '_>> {
    Box::pin(dispatch_inner(app, request))
}

async fn dispatch_inner(app: &App, request: Request) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    let dev = |prefix: &str| path.strip_prefix(prefix).filter(|rest| !rest.is_empty());
    let response = match (request.method().as_str(), path.as_str()) {
        ("GET", "/") => return plain(200, "text/plain; charset=utf-8", welcome_text(app)),
        ("GET", "/success") => {
            return plain(200, "text/html; charset=utf-8", success_page(&request));
        }
        ("GET", "/dev/mailbox") => return mailbox(app),
        ("GET", _) if dev("/dev/checkout/").is_some() => {
            return checkout_page(app, dev("/dev/checkout/").unwrap_or_default());
        }
        ("POST", _) if dev("/dev/checkout/").is_some() => {
            let parts: Vec<&str> = dev("/dev/checkout/").unwrap_or_default().split('/').collect();
            return match parts.as_slice() {
                [session, "pay"] if !session.is_empty() => pay(app, session).await,
                [session, action @ ("refund" | "dispute")] if !session.is_empty() => {
                    reverse(app, session, action, None).await
                }
                [session, "dispute", outcome @ ("won" | "lost")] if !session.is_empty() => {
                    reverse(app, session, "dispute", Some(*outcome == "won")).await
                }
                _ => plain(404, "text/plain", "no such checkout action".into()),
            };
        }
        ("POST", _) if dev("/dev/subscriptions/").is_some() => {
            let parts: Vec<&str> = dev("/dev/subscriptions/").unwrap_or_default().split('/').collect();
            return match parts.as_slice() {
                [sub, "renew"] if !sub.is_empty() => renew(app, sub).await,
                _ => plain(404, "text/plain", "no such subscription action".into()),
            };
        }
        ("GET", _) if dev("/dev/portal/").is_some() => {
            return portal_page(app, dev("/dev/portal/").unwrap_or_default());
        }
        ("POST", _) if dev("/dev/portal/").is_some() => {
            let parts: Vec<&str> = dev("/dev/portal/").unwrap_or_default().split('/').collect();
            return match parts.as_slice() {
                [c, s, h @ ("cancel" | "cancel-at-period-end")] if !c.is_empty() && !s.is_empty() => {
                    portal_cancel(app, c, s, *h == "cancel-at-period-end").await
                }
                _ => plain(404, "text/plain", "no such portal action".into()),
            };
        }
        _ => Box::pin(crate::route(app, request)).await,
    };
    to_hyper(response)
}

fn to_hyper(response: Response) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

fn plain(status: u16, content_type: &str, body: String) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn checkout_page(app: &App, session_id: &str) -> hyper::Response<Full<Bytes>> {
    let Some(sim) = app.stripe.simulator() else {
        return plain(404, "text/plain", "Stripe is not simulated".into());
    };
    let Some((plan, email, paid)) = sim.describe(session_id) else {
        return plain(404, "text/plain", "no such session".into());
    };
    let id = escape(session_id);
    let body = if paid {
        "<p>This session is already paid.</p>".to_string()
    } else {
        format!("<form method=\"post\" action=\"/dev/checkout/{id}/pay\"><button type=\"submit\">Pay</button></form>")
    };
    plain(
        200,
        "text/html; charset=utf-8",
        format!(
            "<!doctype html><title>Tollgate simulated checkout</title><h1>Simulated Stripe Checkout</h1>\
             <p>Buying: <b>{}</b><br>Email: {}<br>Session: <code>{id}</code></p>{body}\
             <p><small>No money moves: paying delivers a signed checkout.session.completed to the local webhook.</small></p>",
            escape(&plan),
            escape(email.as_deref().unwrap_or("-")),
        ),
    )
}

/// Pays a simulated session and delivers Stripe's event, signed, through the webhook handler.
async fn pay(app: &App, session_id: &str) -> hyper::Response<Full<Bytes>> {
    let Some(sim) = app.stripe.simulator() else {
        return plain(404, "text/plain", "Stripe is not simulated".into());
    };
    let Some(events) = sim.pay(session_id, app.now()) else {
        return plain(409, "text/plain", "unknown or already paid session".into());
    };
    for event in events {
        let status = deliver(app, event).await;
        if status != 200 {
            return plain(500, "text/plain", format!("the webhook answered {status}"));
        }
    }
    let success = app.config.stripe.success_url.replace("{CHECKOUT_SESSION_ID}", session_id);
    hyper::Response::builder()
        .status(303)
        .header("location", success)
        .body(Full::new(Bytes::new()))
        .expect("a valid response")
}

/// Refunds or disputes a paid simulated session (`closed`: the dispute's outcome, won or lost),
/// delivering Stripe's signed event through the webhook handler.
async fn reverse(app: &App, session_id: &str, action: &str, closed: Option<bool>) -> hyper::Response<Full<Bytes>> {
    let Some(sim) = app.stripe.simulator() else {
        return plain(404, "text/plain", "Stripe is not simulated".into());
    };
    let Some(payment_intent) = sim.payment_intent(session_id) else {
        return plain(409, "text/plain", "unknown or unpaid session".into());
    };
    let event = match action {
        "refund" => sim.refund_payment(&payment_intent, app.now()),
        _ => sim.dispute(&format!("dp_sim_{session_id}"), &payment_intent, closed, app.now()),
    };
    delivered(app, vec![event]).await
}

/// The next billing period of a simulated subscription, paid: its events delivered.
async fn renew(app: &App, subscription: &str) -> hyper::Response<Full<Bytes>> {
    let Some(sim) = app.stripe.simulator() else {
        return plain(404, "text/plain", "Stripe is not simulated".into());
    };
    match sim.renew(subscription, app.now()) {
        Some(events) => delivered(app, events).await,
        None => plain(409, "text/plain", "unknown or canceled subscription".into()),
    }
}

/// Delivers events and answers what the webhook answered to each.
async fn delivered(app: &App, events: Vec<Vec<u8>>) -> hyper::Response<Full<Bytes>> {
    let mut statuses = Vec::new();
    for event in events {
        statuses.push(deliver(app, event).await);
    }
    let ok = statuses.iter().all(|s| *s == 200);
    plain(if ok { 200 } else { 500 }, "application/json", serde_json::json!({ "delivered": statuses }).to_string())
}

/// The simulated customer portal: the customer's subscriptions, each with cancel buttons.
fn portal_page(app: &App, customer: &str) -> hyper::Response<Full<Bytes>> {
    let Some(sim) = app.stripe.simulator() else {
        return plain(404, "text/plain", "Stripe is not simulated".into());
    };
    let c = escape(customer);
    let rows: String = sim
        .subscriptions_of(customer)
        .into_iter()
        .map(|(id, status, plan, cancelling)| {
            let id = escape(&id);
            let actions = if status == "canceled" {
                String::new()
            } else {
                format!(
                    "<form method=\"post\" action=\"/dev/portal/{c}/{id}/cancel-at-period-end\"><button>Cancel at period end</button></form>\
                     <form method=\"post\" action=\"/dev/portal/{c}/{id}/cancel\"><button>Cancel now</button></form>"
                )
            };
            format!(
                "<li><code>{id}</code> {} ({}){}{actions}</li>",
                escape(&plan),
                escape(&status),
                if cancelling { ", ends at period end" } else { "" }
            )
        })
        .collect();
    plain(
        200,
        "text/html; charset=utf-8",
        format!(
            "<!doctype html><title>Tollgate simulated portal</title><h1>Simulated customer portal</h1>\
             <p>Customer <code>{c}</code></p><ul>{rows}</ul>\
             <p><small>Each button delivers the signed event Stripe's portal would cause to the local webhook.</small></p>"
        ),
    )
}

async fn portal_cancel(app: &App, customer: &str, sub: &str, at_period_end: bool) -> hyper::Response<Full<Bytes>> {
    let Some(sim) = app.stripe.simulator() else {
        return plain(404, "text/plain", "Stripe is not simulated".into());
    };
    let Some(event) = sim.cancel(sub, at_period_end, app.now()) else {
        return plain(409, "text/plain", "unknown or already canceled subscription".into());
    };
    let status = deliver(app, event).await;
    if status != 200 {
        return plain(500, "text/plain", format!("the webhook answered {status}"));
    }
    hyper::Response::builder()
        .status(303)
        .header("location", format!("/dev/portal/{customer}"))
        .body(Full::new(Bytes::new()))
        .expect("a valid response")
}

/// Signs an event body with the configured webhook secret and hands it to the webhook handler.
pub async fn deliver(app: &App, event: Vec<u8>) -> u16 {
    let secret = app.config.stripe.webhook_secrets.first().map(|s| s.expose().to_string()).unwrap_or_default();
    let header = tollgate::stripe::signature::header(&event, &secret, app.now());
    let request = hyper::Request::builder()
        .method("POST")
        .uri("/api/stripe/webhook")
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(())
        .expect("a valid request");
    let (parts, ()) = request.into_parts();
    tollgate_webhook::handle(app, lambda_request(parts, event, "127.0.0.1")).await.status().as_u16()
}

fn mailbox(app: &App) -> hyper::Response<Full<Bytes>> {
    let mails: Vec<serde_json::Value> = app
        .email
        .outbox()
        .map(|o| o.all())
        .unwrap_or_default()
        .into_iter()
        .map(|m| serde_json::json!({ "to": m.to, "subject": m.subject, "text": m.text }))
        .collect();
    plain(200, "application/json", serde_json::Value::from(mails).to_string())
}

fn success_page(req: &Request) -> String {
    let session = req.query_string_parameters_ref().and_then(|q| q.first("session_id")).unwrap_or("").to_string();
    format!(
        "<!doctype html><title>Paid</title><h1>Payment complete</h1><p>Session <code>{0}</code></p>\
         <p>Claim it: <code>curl -X POST localhost:3000/api/pro/claim -H \"authorization: Bearer $TOKEN\" \
         -H 'content-type: application/json' -d '{{\"session_id\":\"{0}\"}}'</code></p>",
        escape(&session)
    )
}

fn welcome_text(app: &App) -> String {
    let mut text = String::from("Tollgate dev server\n\nRoutes:\n");
    for (method, path) in crate::routes() {
        text.push_str(&format!("  {method:<5} {path}\n"));
    }
    text.push_str(&format!(
        "\nStore: {}   Stripe: {}   Email: {}\n",
        app.store.kind(),
        if app.stripe.simulator().is_some() { "simulated" } else { "live API" },
        if app.email.outbox().is_some() { "console (GET /dev/mailbox)" } else { "SES" },
    ));
    text
}

fn print_welcome(app: &App, url: &str) {
    println!("{}", welcome_text(app));
    println!(
        "Listening on {url}\n\nWalkthrough:\n\
         1. curl -s {url}/api/auth/request-code -H 'content-type: application/json' -d '{{\"email\":\"you@example.com\"}}'\n\
         2. curl -s {url}/api/auth/verify-code -H 'content-type: application/json' -d '{{\"email\":\"you@example.com\",\"code\":\"CODE\"}}'\n\
         3. curl -s {url}/api/checkout/create -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"plan\":\"pro\"}}'\n\
         4. open the url it returns and press Pay (or: curl -X POST {url}/dev/checkout/SESSION_ID/pay)\n\
         5. curl -s -X POST {url}/api/pro/claim -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"session_id\":\"SESSION_ID\"}}'\n\
         6. curl -s {url}/api/pro/verify -H \"authorization: Bearer $TOKEN\"\n"
    );
}
