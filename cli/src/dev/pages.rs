//! The dev server's own pages and actions: the demo app and dashboard (`demo`), the simulated
//! Stripe Checkout page (`checkout`), payments, refunds, disputes, renewals, the simulated
//! customer portal, the mailbox and the API reference. Each is a route of `DEV_ROUTES` (beside
//! the functions' own tables).

use http_body_util::Full;
use hyper::body::Bytes;
use lambda_http::RequestExt;
use tollgate::App;
use tollgate::http::{Params, Request, gateway_request as lambda_request};

use super::{DevRoute, Page};

/// The dev server's own routes.
pub const DEV_ROUTES: &[DevRoute] = &[
    DevRoute { method: "GET", path: "/", handler: |_, _, _| Box::pin(async { super::demo::file("index.html") }) },
    DevRoute {
        method: "GET",
        path: "/success",
        handler: |_, _, _| Box::pin(async { super::demo::file("index.html") }),
    },
    DevRoute { method: "GET", path: "/admin", handler: |_, _, _| Box::pin(async { super::demo::file("admin.html") }) },
    DevRoute {
        method: "GET",
        path: "/assets/{file}",
        handler: |_, _, p| Box::pin(async move { super::demo::file(&format!("assets/{}", p.get("file"))) }),
    },
    DevRoute {
        method: "GET",
        path: "/openapi.json",
        handler: |_, _, _| Box::pin(async { super::reference::document() }),
    },
    DevRoute { method: "GET", path: "/docs", handler: |_, _, _| Box::pin(async { super::reference::page() }) },
    DevRoute { method: "GET", path: "/dev/mailbox", handler: |app, _, _| Box::pin(async move { mailbox(app) }) },
    DevRoute {
        method: "GET",
        path: "/dev/checkout/{session}",
        handler: |app, _, p| Box::pin(super::checkout::page(app, p.get("session"))),
    },
    DevRoute {
        method: "POST",
        path: "/dev/checkout/{session}/pay",
        handler: |app, req, p| Box::pin(pay(app, req, p.get("session"))),
    },
    DevRoute {
        method: "POST",
        path: "/dev/checkout/{session}/refund",
        handler: |app, _, p| Box::pin(reverse(app, p.get("session"), "refund", None)),
    },
    DevRoute {
        method: "POST",
        path: "/dev/checkout/{session}/dispute",
        handler: |app, _, p| Box::pin(reverse(app, p.get("session"), "dispute", None)),
    },
    DevRoute {
        method: "POST",
        path: "/dev/checkout/{session}/dispute/{outcome}",
        handler: |app, _, p| Box::pin(decided(app, p.get("session"), p.get("outcome"))),
    },
    DevRoute {
        method: "POST",
        path: "/dev/subscriptions/{subscription}/renew",
        handler: |app, _, p| Box::pin(renew(app, p.get("subscription"))),
    },
    DevRoute {
        method: "GET",
        path: "/dev/portal/{customer}",
        handler: |app, _, p| Box::pin(async move { portal_page(app, p.get("customer")) }),
    },
    DevRoute {
        method: "POST",
        path: "/dev/portal/{customer}/{subscription}/{action}",
        handler: |app, _, p| Box::pin(portal_action(app, p)),
    },
];

async fn decided(app: &App, session: &str, outcome: &str) -> Page {
    match outcome {
        "won" | "lost" => reverse(app, session, "dispute", Some(outcome == "won")).await,
        _ => plain(404, "text/plain", "no such checkout action".into()),
    }
}

async fn portal_action(app: &App, p: &Params) -> Page {
    match p.get("action") {
        action @ ("cancel" | "cancel-at-period-end") => {
            portal_cancel(app, p.get("customer"), p.get("subscription"), action == "cancel-at-period-end").await
        }
        action if action.starts_with("switch-") => portal_switch(app, p.get("customer"), action).await,
        _ => plain(404, "text/plain", "no such portal action".into()),
    }
}

pub(super) fn plain(status: u16, content_type: &str, body: String) -> Page {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Pays a simulated session and delivers its events; with `?deliver=0` the webhook never hears
/// of it (a missed delivery, for `POST /api/admin/reconcile` to find).
async fn pay(app: &App, req: &Request, session_id: &str) -> Page {
    let Some(sim) = app.stripe.simulator() else {
        return plain(404, "text/plain", "Stripe is not simulated".into());
    };
    let Some(events) = sim.pay(session_id, app.now()) else {
        return plain(409, "text/plain", "unknown or already paid session".into());
    };
    let missed = req.query_string_parameters_ref().and_then(|q| q.first("deliver")) == Some("0");
    for event in events.into_iter().filter(|_| !missed) {
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
async fn reverse(app: &App, session_id: &str, action: &str, closed: Option<bool>) -> Page {
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
async fn renew(app: &App, subscription: &str) -> Page {
    let Some(sim) = app.stripe.simulator() else {
        return plain(404, "text/plain", "Stripe is not simulated".into());
    };
    match sim.renew(subscription, app.now()) {
        Some(events) => delivered(app, events).await,
        None => plain(409, "text/plain", "unknown or canceled subscription".into()),
    }
}

/// Delivers events and answers what the webhook answered to each.
async fn delivered(app: &App, events: Vec<Vec<u8>>) -> Page {
    let mut statuses = Vec::new();
    for event in events {
        statuses.push(deliver(app, event).await);
    }
    let ok = statuses.iter().all(|s| *s == 200);
    plain(if ok { 200 } else { 500 }, "application/json", serde_json::json!({ "delivered": statuses }).to_string())
}

/// The simulated customer portal: the customer's subscriptions, each with cancel buttons.
fn portal_page(app: &App, customer: &str) -> Page {
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
                let switches: String = switches(app)
                    .map(|(key, name, interval)| {
                        format!(
                            "<form method=\"post\" action=\"/dev/portal/{c}/{id}/switch-{key}-{interval}\">\
                             <button>Switch to {} ({interval}ly)</button></form>",
                            escape(&name)
                        )
                    })
                    .collect();
                format!(
                    "{switches}<form method=\"post\" action=\"/dev/portal/{c}/{id}/cancel-at-period-end\"><button>Cancel at period end</button></form>\
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

/// Every (plan, name, interval) sold by subscription: what the portal offers to switch to.
fn switches(app: &App) -> impl Iterator<Item = (String, String, &'static str)> + '_ {
    app.catalog.plans().iter().flat_map(|plan| {
        let intervals = plan.subscription.iter().flat_map(|s| s.prices.keys().map(|i| i.as_str()));
        intervals.map(|i| (plan.key.clone(), plan.name.clone(), i)).collect::<Vec<_>>()
    })
}

/// The portal's plan switch (`switch-<plan>-<interval>`): what Stripe's portal does, the same path
/// as `POST /api/billing/change` (an upgrade now, a downgrade at the period's end).
async fn portal_switch(app: &App, customer: &str, action: &str) -> Page {
    let Some((plan, interval)) = action.trim_start_matches("switch-").rsplit_once('-') else {
        return plain(404, "text/plain", "no such portal action".into());
    };
    let owner = match tollgate::domain::users::owner_of_customer(&app.store, customer).await {
        Ok(Some(user)) => user,
        Ok(None) => return plain(404, "text/plain", "no user has this customer".into()),
        Err(e) => return plain(500, "text/plain", e.to_string()),
    };
    match tollgate::domain::plan_changes::change(app, &owner, plan, interval).await {
        Ok(_) => hyper::Response::builder()
            .status(303)
            .header("location", format!("/dev/portal/{customer}"))
            .body(Full::new(Bytes::new()))
            .expect("a valid response"),
        Err(e) => plain(e.status(), "text/plain", format!("{}: {e}", e.code())),
    }
}

async fn portal_cancel(app: &App, customer: &str, sub: &str, at_period_end: bool) -> Page {
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

fn mailbox(app: &App) -> Page {
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

/// What the terminal shows at start: every route, and what the store, Stripe and email are.
pub fn welcome_text(app: &App) -> String {
    let mut text = String::from("Tollgate dev server\n\nRoutes:\n");
    for (method, path) in super::all_routes() {
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

pub(super) fn print_welcome(app: &App, url: &str) {
    println!("{}", welcome_text(app));
    println!(
        "Listening on {url}\n\nIn a browser: {url}/ (the demo app), {url}/admin (the dashboard), {url}/docs (the API)\n\nWith curl:\n\
         1. curl -s {url}/api/auth/request-code -H 'content-type: application/json' -d '{{\"email\":\"you@example.com\"}}'\n\
         2. curl -s {url}/api/auth/verify-code -H 'content-type: application/json' -d '{{\"email\":\"you@example.com\",\"code\":\"CODE\"}}'\n\
         3. curl -s {url}/api/checkout/create -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"plan\":\"pro\"}}'\n\
         4. open the url it returns and press Pay (or: curl -X POST {url}/dev/checkout/SESSION_ID/pay)\n\
         5. curl -s -X POST {url}/api/pro/claim -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"session_id\":\"SESSION_ID\"}}'\n\
         6. curl -s {url}/api/pro/verify -H \"authorization: Bearer $TOKEN\"\n"
    );
}
