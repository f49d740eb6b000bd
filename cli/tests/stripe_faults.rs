//! Stripe failing as networks do (finding 5): slow answers, 5xx, 429 with Retry-After. Every
//! call stays within its budget, only idempotent requests are retried, the caller gets a 502
//! (with the Payment Link fallback where one is set), and nothing stays pending for ever.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::Harness;
use tollgate::domain::members;
use tollgate::store::schema::{Order, OrderStatus, keys};
use tollgate_testkit::{self as testing, StoreKind};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FALLBACK: &str = "https://buy.stripe.com/test_fallback";

async fn harness(stripe: &MockServer, extra: &[(&str, &str)]) -> Harness {
    let mut vars = vec![("PAYMENT_LINK_URL", FALLBACK), ("STRIPE_TIMEOUT_MS", "600")];
    vars.extend_from_slice(extra);
    Harness { t: testing::app(StoreKind::Memory.store().await, Some(&stripe.uri()), &vars) }
}

fn customer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(testing::fixture_with("customer", json!({ "id": "cus_faults" })))
}

fn session() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(testing::fixture_with(
        "checkout.session",
        json!({ "id": "cs_test_faults", "url": "https://checkout.stripe.com/c/pay/cs_test_faults" }),
    ))
}

async fn orders_of(h: &Harness) -> Vec<Order> {
    let page = h.t.app.store.query_index(&keys::purchaser_index("slow@example.com"), 50).await.unwrap();
    page.iter().map(|i| Order::from_item(i).unwrap()).collect()
}

#[tokio::test]
async fn a_stripe_that_never_answers_gives_a_502_within_the_budget_and_the_order_is_closed() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v1/customers")).respond_with(customer()).mount(&stripe).await;
    let slow = session().set_delay(Duration::from_secs(30));
    Mock::given(method("POST")).and(path("/v1/checkout/sessions")).respond_with(slow).mount(&stripe).await;
    let h = harness(&stripe, &[]).await;
    let (token, _) = h.sign_in("slow@example.com").await;
    let started = Instant::now();
    let (status, body) = h.call("POST", "/api/checkout/create", Some(json!({ "plan": "pro" })), Some(&token)).await;
    assert!(started.elapsed() < Duration::from_secs(10), "bounded by the budget, not Stripe's 30 s");
    assert_eq!((status, body["error"]["code"].as_str()), (502, Some("stripe_error")), "{body}");
    assert_eq!(body["error"]["fallback_url"], FALLBACK);
    let orders = orders_of(&h).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].status, OrderStatus::Failed, "nothing left pending");
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_stripe_asks_for_under_the_same_key() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v1/customers")).respond_with(customer()).mount(&stripe).await;
    let throttled = ResponseTemplate::new(429)
        .insert_header("retry-after", "0")
        .set_body_json(json!({ "error": { "message": "Too many requests" } }));
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(throttled)
        .up_to_n_times(1)
        .mount(&stripe)
        .await;
    Mock::given(method("POST")).and(path("/v1/checkout/sessions")).respond_with(session()).mount(&stripe).await;
    let h = harness(&stripe, &[]).await;
    let (token, _) = h.sign_in("slow@example.com").await;
    let (status, body) = h.call("POST", "/api/checkout/create", Some(json!({ "plan": "pro" })), Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let tries: Vec<_> = stripe
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/checkout/sessions")
        .collect();
    assert_eq!(tries.len(), 2);
    let key = |i: usize| tries[i].headers.get("idempotency-key").unwrap().to_str().unwrap().to_string();
    assert_eq!(key(0), key(1), "the retry is the same request to Stripe");
}

#[tokio::test]
async fn a_retry_after_longer_than_the_budget_is_not_waited_for() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v1/customers")).respond_with(customer()).mount(&stripe).await;
    let throttled = ResponseTemplate::new(429).insert_header("retry-after", "30");
    Mock::given(method("POST")).and(path("/v1/checkout/sessions")).respond_with(throttled).mount(&stripe).await;
    let h = harness(&stripe, &[]).await;
    let (token, _) = h.sign_in("slow@example.com").await;
    let started = Instant::now();
    let (status, _) = h.call("POST", "/api/checkout/create", Some(json!({ "plan": "pro" })), Some(&token)).await;
    assert_eq!(status, 502);
    assert!(started.elapsed() < Duration::from_secs(10));
    let tries = stripe.received_requests().await.unwrap();
    assert_eq!(tries.iter().filter(|r| r.url.path() == "/v1/checkout/sessions").count(), 1, "gave up at once");
}

#[tokio::test]
async fn the_portal_is_retried_only_under_an_idempotency_key() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v1/customers")).respond_with(customer()).mount(&stripe).await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&stripe)
        .await;
    let portal = ResponseTemplate::new(200).set_body_json(
        json!({ "id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/1" }),
    );
    Mock::given(method("POST")).and(path("/v1/billing_portal/sessions")).respond_with(portal).mount(&stripe).await;
    let h = harness(&stripe, &[]).await;
    let (token, user) = h.sign_in("slow@example.com").await;
    let stored = tollgate::store::schema::User {
        id: user,
        email: "slow@example.com".into(),
        created_at: 1,
        stripe_customer_id: Some("cus_faults".into()),
        erased_at: None,
    };
    h.t.app.store.write(tollgate::store::Write::put(stored.to_item())).await.unwrap();
    let (status, body) = h.call("POST", "/api/billing/portal", Some(json!({})), Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let tries = stripe.received_requests().await.unwrap();
    let keys: Vec<_> = tries
        .iter()
        .filter(|r| r.url.path() == "/v1/billing_portal/sessions")
        .map(|r| r.headers.get("idempotency-key").map(|v| v.to_str().unwrap().to_string()))
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(keys[0].is_some() && keys[0] == keys[1], "retried under one key: {keys:?}");
}

/// A function that died after reserving a members' price and before Stripe answered: the
/// member's next checkout releases the reservation (and closes the abandoned order).
#[tokio::test]
async fn a_reservation_whose_order_never_got_a_session_is_released() {
    let h = Harness::new(StoreKind::Memory, &[]).await;
    let (token, user) = h.sign_in("member@example.com").await;
    let bought = h.checkout(Some(&token), json!({ "plan": "pro", "interval": "month" })).await;
    h.deliver_all(&h.pay(&bought)).await;
    let sub = h.subscription_id(&token).await;
    h.deliver_all(&h.sim().renew(&sub, h.t.app.now()).unwrap()).await;
    for n in 0..3 {
        let reserved = members::reserve(&h.t.app, &user, "credits_100", &format!("ord_abandoned{n}")).await.unwrap();
        assert!(reserved.is_some(), "reservation {n}");
    }
    let full = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    assert_eq!(h.sim().coupon(&full.session_id), None, "the allowance is held by the dead checkouts");

    h.t.clock.advance(members::HOLD_WITHOUT_SESSION_SECS + 1);
    let after = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    assert_eq!(h.sim().coupon(&after.session_id).as_deref(), Some("tollgate-members-pro-20pct"), "released");
    assert_eq!(members::used_this_month(&h.t.app, &user).await.unwrap(), 1, "three released, one taken");
    let abandoned = h.t.app.store.get(&keys::order("ord_abandoned0")).await.unwrap().unwrap();
    assert_eq!(abandoned.str("status"), Some("expired"));

    // A reservation whose order got its session is kept until the session is surely over.
    h.t.clock.advance(members::HOLD_WITHOUT_SESSION_SECS + 1);
    h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    assert_eq!(members::used_this_month(&h.t.app, &user).await.unwrap(), 2, "an open session keeps its use");
}

#[tokio::test]
async fn pending_orders_expire_and_paid_ones_do_not() {
    let h = Harness::new(StoreKind::Memory, &[]).await;
    let (token, _) = h.sign_in("ttl@example.com").await;
    let pending = h.checkout(Some(&token), json!({ "plan": "pro" })).await;
    let paid = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    h.deliver_all(&h.pay(&paid)).await;
    let ttl = |order: &str| {
        let h = &h;
        let key = keys::order(order);
        async move { h.t.app.store.get(&key).await.unwrap().unwrap().num(tollgate::store::TTL) }
    };
    assert!(ttl(&pending.order_id).await.is_some_and(|t| t > h.t.app.now()));
    assert_eq!(ttl(&paid.order_id).await, None, "a paid order is kept");
}

#[tokio::test]
async fn a_stripe_answering_500_every_time_gives_a_502_and_a_closed_order() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v1/customers")).respond_with(customer()).mount(&stripe).await;
    let broken = ResponseTemplate::new(500).set_body_json(json!({ "error": { "message": "boom" } }));
    Mock::given(method("POST")).and(path("/v1/checkout/sessions")).respond_with(broken).mount(&stripe).await;
    let h = harness(&stripe, &[]).await;
    let (token, _) = h.sign_in("slow@example.com").await;
    let (status, body) = h.call("POST", "/api/checkout/create", Some(json!({ "plan": "pro" })), Some(&token)).await;
    assert_eq!((status, body["error"]["fallback_url"].as_str()), (502, Some(FALLBACK)), "{body}");
    assert!(!body.to_string().contains("boom"), "Stripe's own message stays in the logs");
    let tries = stripe.received_requests().await.unwrap();
    let sessions = tries.iter().filter(|r| r.url.path() == "/v1/checkout/sessions").count();
    assert!((2..=3).contains(&sessions), "retried within the budget, then gave up: {sessions}");
    assert_eq!(orders_of(&h).await[0].status, OrderStatus::Failed);
}

#[tokio::test]
async fn a_connection_reset_by_stripe_gives_a_502_and_a_closed_order() {
    // A server that accepts each connection and drops it at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let resets = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = resets.clone();
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(socket);
        }
    });
    let h = Harness {
        t: testing::app(
            StoreKind::Memory.store().await,
            Some(&base),
            &[("PAYMENT_LINK_URL", FALLBACK), ("STRIPE_TIMEOUT_MS", "2000")],
        ),
    };
    let (status, body) =
        h.call("POST", "/api/checkout/create", Some(json!({ "plan": "pro", "email": "slow@example.com" })), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (502, Some("stripe_error")), "{body}");
    assert_eq!(body["error"]["fallback_url"], FALLBACK);
    assert!(resets.load(std::sync::atomic::Ordering::SeqCst) >= 2, "a keyed request is retried after a reset");
    assert_eq!(orders_of(&h).await[0].status, OrderStatus::Failed, "nothing left pending");
    server.abort();
}
