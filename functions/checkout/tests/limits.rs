//! Checkouts are rate limited per address (an IPv6 address counts as its /64) and per user, in
//! the same write as the order: past the limit, 429 with Retry-After and nothing written.

use serde_json::{Value, json};
use tollgate::store::Store;
use tollgate_checkout::handle;
use tollgate_testkit::{self as testing, TestApp, raw_request, status_and_json};

fn app() -> TestApp {
    testing::app(Store::memory(), None, &[("RATE_LIMIT_CHECKOUT", "2")])
}

async fn anonymous_checkout(t: &TestApp, ip: &str) -> (u16, Value, Option<String>) {
    let body = serde_json::to_vec(&json!({ "plan": "pro", "email": "buyer@example.com" })).unwrap();
    let response =
        handle(&t.app, raw_request("POST", "/api/checkout/create", &[("content-type", "application/json")], body, ip))
            .await;
    let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let (status, json) = status_and_json(&response);
    (status, json, retry)
}

fn orders(t: &TestApp) -> usize {
    t.app.store.memory_items().unwrap().iter().filter(|i| i.key().pk.starts_with("ORDER#")).count()
}

#[tokio::test]
async fn one_address_opens_at_most_the_limit_of_checkouts_per_window() {
    let t = app();
    for _ in 0..2 {
        assert_eq!(anonymous_checkout(&t, "198.51.100.7").await.0, 200);
    }
    let (status, body, retry) = anonymous_checkout(&t, "198.51.100.7").await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")), "{body}");
    assert!(retry.is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    assert_eq!(orders(&t), 2, "the refused checkout wrote no order");
    assert_eq!(anonymous_checkout(&t, "203.0.113.9").await.0, 200, "another address has its own count");
    t.clock.advance(900);
    assert_eq!(anonymous_checkout(&t, "198.51.100.7").await.0, 200, "a new window");
}

#[tokio::test]
async fn an_ipv6_64_is_one_address() {
    let t = app();
    assert_eq!(anonymous_checkout(&t, "2001:db8:1:2::1").await.0, 200);
    assert_eq!(anonymous_checkout(&t, "2001:db8:1:2:ffff::9").await.0, 200);
    assert_eq!(anonymous_checkout(&t, "2001:db8:1:2:abcd::5").await.0, 429, "the same /64");
    assert_eq!(anonymous_checkout(&t, "2001:db8:1:3::1").await.0, 200, "another /64");
}

#[tokio::test]
async fn one_user_opens_at_most_the_limit_from_any_address() {
    let t = app();
    let token = testing::token(&t.app, "usr_busy", "busy@example.com");
    let auth = format!("Bearer {token}");
    let mut statuses = Vec::new();
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let body = serde_json::to_vec(&json!({ "plan": "pro" })).unwrap();
        let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
        let response = handle(&t.app, raw_request("POST", "/api/checkout/create", &headers, body, ip)).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
}
