//! The daily reconciliation (an EventBridge schedule): what Stripe holds that Tollgate missed,
//! applied through the webhook's exactly-once paths (`domain::reconcile`). The schedule's event
//! may say `{"since_days": N}` (default 3: each day is looked at by three runs).

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;
use tollgate::domain::reconcile;
use tollgate::{App, Error};

/// The secrets this function uses: Stripe's key (it lists what Stripe holds).
pub const SECRETS: &[&str] = &[tollgate::config::secrets::STRIPE_SECRET_KEY];

/// One run: the report, and each change in the log. A failure fails the invocation (Lambda
/// retries it; the next day's run covers the same days anyway).
pub fn handle(app: &App, event: Value) -> Pin<Box<dyn Future<Output = Result<Value, Error>> + Send + '_>> {
    Box::pin(async move {
        let days = event.get("since_days").and_then(Value::as_i64).filter(|d| (1..=400).contains(d));
        let since = app.now() - days.unwrap_or(reconcile::DEFAULT_DAYS) * 24 * 3600;
        let report = reconcile::run(app, since).await?;
        for change in &report.changes {
            tracing::info!(change = %change, "reconciled");
        }
        tracing::info!(changes = report.changes.len(), skipped = report.skipped.len(), "reconciliation done");
        serde_json::to_value(&report).map_err(|e| Error::internal(e.to_string()))
    })
}
