//! Request limits on every public route: per address (an IPv6 /64 is one address) and per
//! signed-in user, 429 with `Retry-After`; Stripe's webhook is not limited. Through the real
//! router, as the dev server and Lambda serve it.

#[path = "support/mod.rs"]
mod support;

use serde_json::json;
use support::Harness;
use tollgate_cli::route;
use tollgate_testkit::{StoreKind, raw_request, status_and_json, webhook_request};

async fn get_from(h: &Harness, path: &str, ip: &str, token: Option<&str>) -> (u16, Option<String>, serde_json::Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", b.as_str())).collect();
    let response = route(&h.t.app, raw_request("GET", path, &headers, vec![], ip)).await;
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let (status, body) = status_and_json(&response);
    (status, retry_after, body)
}

#[tokio::test]
async fn an_address_past_its_limit_is_told_to_retry_later_and_others_are_not() {
    let h = Harness::new(StoreKind::Memory, &[("RATE_LIMIT_REQUESTS_IP", "3")]).await;
    let pace = "/api/pace-to-bpm?pace=5:30&unit=km";
    for _ in 0..3 {
        assert_eq!(get_from(&h, pace, "198.51.100.20", None).await.0, 200);
    }
    let (status, retry_after, body) = get_from(&h, pace, "198.51.100.20", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")), "{body}");
    let wait: u64 = retry_after.expect("a Retry-After header").parse().unwrap();
    assert!((1..=20).contains(&wait), "one request in three per minute comes back within 20 s: {wait}");
    // Every public route, a signed-in caller's too, counts against the address.
    let (status, _, _) = get_from(&h, "/api/credits", "198.51.100.20", None).await;
    assert_eq!(status, 429);
    assert_eq!(get_from(&h, pace, "198.51.100.21", None).await.0, 200, "another address");
    // An IPv6 /64 is one address.
    for host in ["2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:5:6:ffff::9"] {
        assert_eq!(get_from(&h, pace, host, None).await.0, 200);
    }
    assert_eq!(get_from(&h, pace, "2001:db8:5:6:1234::1", None).await.0, 429);
    assert_eq!(get_from(&h, pace, "2001:db8:5:7::1", None).await.0, 200);
    // Stripe's webhook is not limited (its deliveries come from Stripe's few addresses).
    for i in 0..6 {
        let body =
            tollgate_testkit::event_with_id(&format!("evt_limit_{i}"), "customer.created", json!({ "id": "cus_1" }));
        let (status, answer) = status_and_json(&route(&h.t.app, webhook_request(&body, h.t.app.now())).await);
        assert_eq!(status, 200, "{answer}");
    }
}

#[tokio::test]
async fn a_user_past_their_limit_is_refused_from_any_address() {
    let h = Harness::new(StoreKind::Memory, &[("RATE_LIMIT_REQUESTS_USER", "2")]).await;
    let (token, _) = h.sign_in("ada@example.com").await;
    let (other, _) = h.sign_in("bob@example.com").await;
    assert_eq!(get_from(&h, "/api/credits", "203.0.113.1", Some(&token)).await.0, 200);
    assert_eq!(get_from(&h, "/api/entitlements", "203.0.113.2", Some(&token)).await.0, 200);
    let (status, retry_after, _) = get_from(&h, "/api/credits", "203.0.113.3", Some(&token)).await;
    assert_eq!(status, 429);
    assert!(retry_after.is_some());
    assert_eq!(get_from(&h, "/api/credits", "203.0.113.3", Some(&other)).await.0, 200, "another user");
    assert_eq!(get_from(&h, "/api/credits", "203.0.113.3", None).await.0, 401, "no token: the address alone");
}
