//! Health (the store answers) and diagnostics: whether each part Tollgate depends on is
//! configured and answering, never a secret's value.

use std::time::Instant;

use serde_json::{Value, json};

use crate::app::App;
use crate::config::{EmailConfig, StoreConfig};
use crate::error::Error;

pub async fn check(app: &App) -> Result<(), Error> {
    app.store.ping().await.map_err(|e| {
        tracing::error!(error = %e, "health check: the store does not answer");
        Error::Unhealthy { code: "store_unavailable", message: "the store does not answer".into() }
    })
}

/// Milliseconds since `start`, for a probe's latency.
fn millis(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// Every part, probed: the store, Stripe, the webhook's secrets, tokens, email, the catalog.
pub async fn diagnose(app: &App) -> Value {
    let config = &app.config;
    // Both probes at once: diagnostics take the slower one's time, not their sum.
    let store_probe = async {
        let started = Instant::now();
        (app.store.ping().await.map_err(|e| e.to_string()), millis(started))
    };
    let stripe_probe = async {
        let started = Instant::now();
        (app.stripe.ping().await.map_err(|e| e.to_string()), millis(started))
    };
    let ((store_answer, store_ms), (stripe_answer, stripe_ms)) = tokio::join!(store_probe, stripe_probe);
    let store_ok = store_answer.is_ok();
    let store = json!({
        "kind": app.store.kind(),
        "table": match &config.store { StoreConfig::DynamoDb { table, .. } => Some(table.as_str()), StoreConfig::Memory => None },
        "ok": store_ok,
        "error": store_answer.err(),
        "latency_ms": store_ms,
    });
    let key = config.stripe.secret_key.as_ref().map(|k| k.expose());
    let mode = match key {
        None => "simulated",
        Some(k) if k.starts_with("sk_live_") || k.starts_with("rk_live_") => "live",
        Some(_) => "test",
    };
    let stripe_ok = stripe_answer.is_ok();
    let stripe = json!({
        "mode": mode,
        "key_present": key.is_some(),
        "reachable": stripe_ok,
        "error": stripe_answer.err(),
        "latency_ms": stripe_ms,
        "api_version": crate::stripe::client::API_VERSION,
        "payment_link_fallback": config.stripe.payment_link_url.is_some(),
    });
    let webhook = json!({
        "secrets": config.stripe.webhook_secrets.len(),
        "tolerance_secs": config.stripe.webhook_tolerance_secs,
        "unsigned_allowed": config.stripe.allow_unsigned_webhooks,
        "livemode": config.stripe.livemode(),
    });
    let tokens = json!({
        "issuer": config.tokens.issuer,
        "audience": config.tokens.audience,
        "lifetime_hours": config.tokens.lifetime_hours,
    });
    let email = match &config.email {
        EmailConfig::Console => json!({ "sender": "console", "from": null }),
        EmailConfig::Ses { from } => json!({ "sender": "ses", "from": from }),
    };
    json!({
        "ok": store_ok && stripe_ok,
        "version": config.version,
        "environment": if config.is_development() { "development" } else { "production" },
        "store": store,
        "stripe": stripe,
        "webhook": webhook,
        "tokens": tokens,
        "email": email,
        "admins": config.admin_emails.len(),
        "catalog": catalog(app),
    })
}

/// The catalog with every price as resolved at start.
fn catalog(app: &App) -> Value {
    let plans: Vec<Value> = app
        .catalog
        .plans()
        .iter()
        .map(|p| {
            let subscription = p.subscription.as_ref().map(|s| {
                let prices: serde_json::Map<String, Value> =
                    s.prices.iter().map(|(i, price)| (i.as_str().to_string(), json!(price))).collect();
                json!({ "prices": prices, "trial_days": s.trial_days })
            });
            json!({
                "key": p.key,
                "name": p.name,
                "rank": p.rank,
                "default": p.is_default,
                "price": p.offer.as_ref().map(|o| o.price.clone()),
                "subscription": subscription,
                "credits_per_period": p.credits_per_period,
            })
        })
        .collect();
    let packs: Vec<Value> = app
        .catalog
        .packs()
        .iter()
        .map(|p| json!({ "key": p.key, "name": p.name, "price": p.price, "credits": p.credits }))
        .collect();
    json!({ "plans": plans, "packs": packs })
}
