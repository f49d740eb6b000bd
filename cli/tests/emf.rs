//! CloudWatch metrics in Embedded Metric Format: after a journey through the real router, the
//! documents a function writes to its log name each request's route and status class, each
//! webhook delivery's class, Stripe calls, store calls and emails. (Its own test binary: the
//! collector is process-wide.)

#[path = "support/mod.rs"]
mod support;

use serde_json::{Value, json};
use support::Harness;
use tollgate_testkit::{self as testing, StoreKind, raw_request, status_and_json};

/// The metric `name`'s value in the documents whose dimensions include `dims`.
fn value(docs: &[Value], name: &str, dims: &[(&str, &str)]) -> f64 {
    docs.iter()
        .filter(|d| d.get(name).is_some() && dims.iter().all(|(k, v)| d[*k] == *v))
        .map(|d| match &d[name] {
            Value::Array(values) => values.iter().filter_map(Value::as_f64).sum(),
            other => other.as_f64().unwrap_or(0.0),
        })
        .sum()
}

#[tokio::test]
async fn a_journey_is_counted_in_embedded_metric_format() {
    tollgate::emf::install("tollgate-test-fn");
    let stripe = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/v1/balance"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({ "object": "balance" })))
        .mount(&stripe)
        .await;
    let h = Harness { t: testing::app(StoreKind::Memory.store().await, Some(&stripe.uri()), &[]) };
    let (token, user_id) = h.sign_in("ada@example.com").await;
    assert_eq!(h.call("GET", "/api/credits", None, Some(&token)).await.0, 200);
    assert_eq!(h.call("GET", "/api/credits", None, None).await.0, 401);
    assert_eq!(h.call("GET", "/api/diagnostics", None, None).await.0, 200);
    let paid = testing::paid_session("cs_emf", "ord_emf", Some(&user_id), "ada@example.com");
    let body = testing::event_with_id("evt_emf", "checkout.session.completed", paid);
    h.deliver(&body).await;
    h.deliver(&body).await;
    let forged = raw_request("POST", "/api/stripe/webhook", &[("stripe-signature", "t=1,v1=0")], body, "203.0.113.1");
    assert_eq!(status_and_json(&tollgate_cli::route(&h.t.app, forged).await).0, 400);

    let mut out = Vec::new();
    tollgate::emf::flush(&mut out);
    let docs: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!docs.is_empty(), "documents written");
    for doc in &docs {
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Tollgate", "{doc}");
        assert!(doc["_aws"]["Timestamp"].is_u64(), "{doc}");
        assert_eq!(doc["function"], "tollgate-test-fn");
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(doc.get(metric["Name"].as_str().unwrap()).is_some(), "each named metric has its value: {doc}");
        }
    }
    assert_eq!(value(&docs, "requests", &[("route", "/api/credits"), ("status", "2xx")]), 1.0);
    assert_eq!(value(&docs, "requests", &[("route", "/api/credits"), ("status", "4xx")]), 1.0);
    assert_eq!(value(&docs, "requests", &[("route", "/api/auth/verify-code"), ("status", "2xx")]), 1.0);
    assert_eq!(value(&docs, "webhook_deliveries", &[("class", "applied")]), 1.0);
    assert_eq!(value(&docs, "webhook_deliveries", &[("class", "duplicate")]), 1.0);
    assert_eq!(value(&docs, "webhook_deliveries", &[("class", "rejected")]), 1.0);
    assert_eq!(value(&docs, "stripe_calls", &[("outcome", "ok")]), 1.0, "the diagnostics' ping");
    assert!(value(&docs, "store_calls", &[]) >= 5.0);
    assert_eq!(value(&docs, "emails", &[("outcome", "sent")]), 2.0, "the code and the receipt");
    assert!(docs.iter().any(|d| d.get("request_latency").is_some()));

    let mut again = Vec::new();
    tollgate::emf::flush(&mut again);
    let again = String::from_utf8(again).unwrap();
    assert!(!again.contains("webhook_deliveries"), "a flush writes what was recorded since the last: {again}");
}
