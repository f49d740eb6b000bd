//! Checkout: `POST /api/checkout/create` opens a Stripe Checkout Session for a catalog plan (once,
//! or by subscription with an interval) or credit pack; `POST /api/billing/portal` opens Stripe's
//! customer portal; `/api/billing/change` changes a live subscription's plan (now, or at the
//! period's end), cancels a scheduled change, and previews what a change costs now; `GET
//! /api/catalog` is what the deployment sells, for a pricing page or paywall.

use tollgate::auth::{normalize_email, optional_caller, signed_in};
use tollgate::domain::orders::{self, Buyer, Wanted};
use tollgate::domain::plan_changes;
use tollgate::http::api::{
    CatalogView, ChangeCanceled, ChangeRequest, CheckoutRequest, CheckoutStarted, PortalSession,
};
use tollgate::http::{self, Reply, Request, Response, Route};
use tollgate::{App, Error};

/// The secrets this function uses: the only ones its role may read (template.yaml).
pub const SECRETS: &[&str] = &[
    tollgate::config::secrets::JWT_SECRET,
    tollgate::config::secrets::STRIPE_SECRET_KEY,
    tollgate::config::secrets::NEXTAUTH_SECRET,
];

/// The function's routes: the one table its router, the dev server and the template test read.
pub const ROUTES: &[Route] = &[
    Route { method: "POST", path: "/api/checkout/create", handler: |app, req, _| Box::pin(create(app, req)) },
    Route { method: "POST", path: "/api/billing/portal", handler: |app, req, _| Box::pin(portal(app, req)) },
    Route { method: "POST", path: "/api/billing/change", handler: |app, req, _| Box::pin(change(app, req)) },
    Route { method: "DELETE", path: "/api/billing/change", handler: |app, req, _| Box::pin(cancel_change(app, req)) },
    Route { method: "GET", path: "/api/billing/change/preview", handler: |app, req, _| Box::pin(preview(app, req)) },
    Route { method: "GET", path: "/api/catalog", handler: |app, _, _| Box::pin(catalog(app)) },
];

pub fn router(app: App) -> http::router::Router {
    http::router::router(app, ROUTES)
}

/// One request through the router (what Lambda does).
pub async fn handle(app: &App, req: Request) -> Response {
    http::router::call(router(app.clone()), req).await
}

async fn create(app: &App, req: &Request) -> Result<Reply, Error> {
    let caller = match optional_caller(app, req)? {
        Some(_) => Some(signed_in(app, req).await?.0),
        None => None,
    };
    let body: CheckoutRequest = http::json_body(req, app.config.max_body_bytes)?;
    let buyer = match (&caller, &body.email) {
        (Some(claims), _) => orders::buyer_for(app, &claims.sub, &claims.email).await?,
        (None, Some(raw)) => Buyer::Anonymous {
            email: normalize_email(raw)
                .ok_or_else(|| Error::bad_request("invalid_email", "email is not a valid address"))?,
        },
        (None, None) => {
            return Err(Error::bad_request("missing_field", "email is required without a Bearer token"));
        }
    };
    let wanted = match (&body.plan, &body.pack, &body.interval) {
        (Some(plan), None, Some(interval)) => Wanted::Subscription { plan, interval },
        (Some(plan), None, None) => Wanted::Plan(plan),
        (None, Some(pack), None) => Wanted::Pack(pack),
        (None, Some(_), Some(_)) => {
            return Err(Error::bad_request("invalid_field", "interval is for subscription plans, not packs"));
        }
        (None, None, _) => return Err(Error::bad_request("missing_field", "give plan or pack")),
        (Some(_), Some(_), _) => return Err(Error::bad_request("invalid_field", "give plan or pack, not both")),
    };
    let started =
        orders::start_checkout(app, buyer, wanted, body.currency.as_deref(), http::source_ip(req).as_deref()).await?;
    Ok(Reply::json(&CheckoutStarted { url: started.url, session_id: started.session_id, order_id: started.order_id }))
}

/// A Stripe customer portal session (change card, switch plan, cancel) for the caller.
async fn portal(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = signed_in(app, req).await?.0;
    let url = tollgate::domain::billing::portal_url(app, &claims.sub).await?;
    Ok(Reply::json(&PortalSession { url }))
}

fn plan_and_interval(plan: Option<String>, interval: Option<String>) -> Result<(String, String), Error> {
    match (plan, interval) {
        (Some(plan), Some(interval)) => Ok((plan, interval)),
        (None, _) => Err(Error::bad_request("missing_field", "plan is required")),
        (_, None) => Err(Error::bad_request("missing_field", "interval is required (`month` or `year`)")),
    }
}

/// Changes the caller's subscription to another plan or interval: upgrades now, downgrades at
/// the period's end.
async fn change(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = signed_in(app, req).await?.0;
    let body: ChangeRequest = http::json_body(req, app.config.max_body_bytes)?;
    let (plan, interval) = plan_and_interval(body.plan, body.interval)?;
    let changed = plan_changes::change(app, &claims.sub, &plan, &interval).await?;
    Ok(Reply::json(&changed.view()))
}

/// Cancels a change scheduled for the period's end.
async fn cancel_change(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = signed_in(app, req).await?.0;
    plan_changes::cancel_scheduled(app, &claims.sub).await?;
    Ok(Reply::json(&ChangeCanceled { canceled: true }))
}

/// What a change would cost now: `?plan=&interval=`.
async fn preview(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = signed_in(app, req).await?.0;
    let (plan, interval) = plan_and_interval(http::query_param(req, "plan"), http::query_param(req, "interval"))?;
    Ok(Reply::json(&plan_changes::preview(app, &claims.sub, &plan, &interval).await?))
}

/// What the deployment sells (plans in rank order, packs), with each price's amounts: public,
/// for a pricing page; cacheable for a minute.
async fn catalog(app: &App) -> Result<Reply, Error> {
    Ok(Reply::json(&CatalogView::from(app.catalog.as_ref())).with_header("cache-control", "public, max-age=60"))
}
