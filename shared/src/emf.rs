//! CloudWatch metrics in Embedded Metric Format (the `metrics_cloudwatch_embedded` crate): a
//! Lambda function installs the collector at start and writes one EMF document to its log after
//! each invocation; CloudWatch turns it into metrics in the `Tollgate` namespace, with no API
//! call and no agent. Elsewhere (the dev server, tests that do not install it) every recording is
//! a no-op.
//!
//! | metric | unit | dimensions |
//! |---|---|---|
//! | `requests` | count | `function`, `route`, `status` (2xx, 4xx, 5xx) |
//! | `request_latency` | milliseconds | `function`, `route` |
//! | `webhook_deliveries` | count | `function`, `class` (applied, ignored, waiting, duplicate, rejected, error) |
//! | `stripe_calls`, `stripe_latency` | count, milliseconds | `function`, `outcome` (ok, error) |
//! | `store_calls`, `store_errors` | count | `function` (`store_errors`: also `kind`: unavailable, invalid, corrupt) |
//! | `emails` | count | `function`, `outcome` (sent, failed) |

use std::sync::OnceLock;

use metrics_cloudwatch_embedded::Collector;

pub const NAMESPACE: &str = "Tollgate";

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Installs the collector for `function` (once per process; later calls change nothing).
pub fn install(function: &str) {
    if COLLECTOR.get().is_some() {
        return;
    }
    let built = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension("function", function.to_string())
        .init();
    match built {
        Ok(collector) => {
            let _ = COLLECTOR.set(collector);
            metrics::describe_histogram!("request_latency", metrics::Unit::Milliseconds, "time to answer a request");
            metrics::describe_histogram!("stripe_latency", metrics::Unit::Milliseconds, "time of one Stripe call");
        }
        Err(e) => tracing::warn!(error = %e, "CloudWatch metrics are off"),
    }
}

/// Writes what was recorded since the last flush (nothing when no collector is installed).
pub fn flush(writer: impl std::io::Write) {
    if let Some(collector) = COLLECTOR.get()
        && let Err(e) = collector.flush(writer)
    {
        tracing::warn!(error = %e, "CloudWatch metrics were not written");
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        500.. => "5xx",
        400..=499 => "4xx",
        _ => "2xx",
    }
}

pub fn request(route: &str, status: u16, latency_ms: u64) {
    let route = route.to_string();
    metrics::counter!("requests", "route" => route.clone(), "status" => status_class(status)).increment(1);
    metrics::histogram!("request_latency", "route" => route).record(latency_ms as f64);
}

pub fn webhook_delivery(class: &'static str) {
    metrics::counter!("webhook_deliveries", "class" => class).increment(1);
}

pub fn stripe_call(ok: bool, latency_ms: u64) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("stripe_calls", "outcome" => outcome).increment(1);
    metrics::histogram!("stripe_latency", "outcome" => outcome).record(latency_ms as f64);
}

pub fn store_call(error: Option<&'static str>) {
    metrics::counter!("store_calls").increment(1);
    if let Some(kind) = error {
        metrics::counter!("store_errors", "kind" => kind).increment(1);
    }
}

pub fn email(sent: bool) {
    metrics::counter!("emails", "outcome" => if sent { "sent" } else { "failed" }).increment(1);
}
