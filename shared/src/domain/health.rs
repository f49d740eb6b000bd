//! Health (the store answers) and diagnostics: whether each part Tollgate depends on is
//! configured and answering, never a secret's value.

use std::time::Instant;

use crate::app::App;
use crate::config::{EmailConfig, StoreConfig};
use crate::error::Error;
use crate::http::api::{CatalogView, Diagnostics, EmailSetup, StoreProbe, StripeProbe, TokenSetup, WebhookSetup};

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
pub async fn diagnose(app: &App) -> Diagnostics {
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
    let store = StoreProbe {
        kind: app.store.kind().to_string(),
        table: match &config.store {
            StoreConfig::DynamoDb { table, .. } => Some(table.clone()),
            StoreConfig::Memory => None,
        },
        ok: store_answer.is_ok(),
        error: store_answer.err(),
        latency_ms: store_ms,
    };
    let key = config.stripe.secret_key.as_ref().map(|k| k.expose());
    let mode = match key {
        None => "simulated",
        Some(k) if k.starts_with("sk_live_") || k.starts_with("rk_live_") => "live",
        Some(_) => "test",
    };
    let stripe = StripeProbe {
        mode: mode.into(),
        key_present: key.is_some(),
        reachable: stripe_answer.is_ok(),
        error: stripe_answer.err(),
        latency_ms: stripe_ms,
        api_version: crate::stripe::client::API_VERSION.into(),
        payment_link_fallback: config.stripe.payment_link_url.is_some(),
    };
    let webhook = WebhookSetup {
        secrets: config.stripe.webhook_secrets.len() as u64,
        tolerance_secs: config.stripe.webhook_tolerance_secs,
        unsigned_allowed: config.stripe.allow_unsigned_webhooks,
        livemode: config.stripe.livemode(),
    };
    let tokens = TokenSetup {
        issuer: config.tokens.issuer.clone(),
        audience: config.tokens.audience.clone(),
        lifetime_hours: config.tokens.lifetime_hours,
    };
    let email = match &config.email {
        EmailConfig::Console => EmailSetup { sender: "console".into(), from: None },
        EmailConfig::Ses { from } => EmailSetup { sender: "ses".into(), from: Some(from.clone()) },
    };
    Diagnostics {
        ok: store.ok && stripe.reachable,
        version: config.version.clone(),
        environment: if config.is_development() { "development" } else { "production" }.into(),
        store,
        stripe,
        webhook,
        tokens,
        email,
        admins: config.admin_emails.len() as u64,
        catalog: CatalogView::from(app.catalog.as_ref()),
    }
}
