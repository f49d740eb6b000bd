//! The webhook handler: signatures over raw bytes, exactly-once application, every handled
//! event, built from Stripe's fixture objects.

mod sales_and_failures;

use rstest::rstest;
use serde_json::{Value, json};
use tollgate::domain::entitlements::entitlement;
use tollgate::store::schema::{Grant, Holder, Order, OrderStatus, keys};
use tollgate::store::{Store, Write};
use tollgate_testkit::{
    self as testing, NOW, StoreKind, TestApp, event, event_with_id, paid_session, raw_request, refunded_charge,
    status_and_json, webhook_request,
};
use tollgate_webhook::handle;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn app() -> TestApp {
    testing::app(Store::memory(), None, &[])
}

async fn deliver(t: &TestApp, body: &[u8]) -> (u16, Value) {
    status_and_json(&handle(&t.app, webhook_request(body, t.app.now())).await)
}

async fn deliver_with(t: &TestApp, body: &[u8], signature: &str) -> (u16, Value) {
    let req = raw_request(
        "POST",
        "/api/stripe/webhook",
        &[("content-type", "application/json"), ("stripe-signature", signature)],
        body.to_vec(),
        "3.18.12.63",
    );
    status_and_json(&handle(&t.app, req).await)
}

async fn order(t: &TestApp, id: &str) -> Option<Order> {
    t.app.store.get(&keys::order(id)).await.unwrap().map(|i| Order::from_item(&i).unwrap())
}

async fn grant(t: &TestApp, holder: &Holder, order_id: &str) -> Option<Grant> {
    t.app.store.get(&keys::grant(holder, order_id)).await.unwrap().map(|i| Grant::from_item(&i).unwrap())
}

fn user(id: &str) -> Holder {
    Holder::User(id.to_string())
}

fn paid_event(session: &str, order: &str, user: Option<&str>) -> Vec<u8> {
    event("checkout.session.completed", paid_session(session, order, user, "ada@example.com"))
}

#[tokio::test]
async fn every_signature_failure_is_400_and_writes_nothing() {
    let t = app();
    let body = paid_event("cs_test_sig", "ord_sig", Some("usr_1"));
    let now = t.app.now();
    let good = testing::signed_header(&body, now);
    let sig = good.split("v1=").nth(1).unwrap().to_string();
    let other = tollgate::stripe::signature::signature(&body, "whsec_wrong", now);
    let mut changed = body.clone();
    let last = changed.len() - 2;
    changed[last] = b' ';
    let cases: Vec<(Vec<u8>, Option<String>, &str)> = vec![
        (body.clone(), None, "missing_signature"),
        (body.clone(), Some(String::new()), "missing_signature"),
        (body.clone(), Some("garbage".into()), "malformed_signature"),
        (body.clone(), Some(format!("v1={sig}")), "malformed_signature"),
        (body.clone(), Some(format!("t=soon,v1={sig}")), "malformed_signature"),
        (body.clone(), Some(format!("t={now}")), "malformed_signature"),
        (body.clone(), Some(format!("t={now},v1=")), "malformed_signature"),
        (body.clone(), Some(format!("t={now},v0={sig}")), "malformed_signature"),
        (body.clone(), Some(format!("t={now},v1={other}")), "invalid_signature"),
        (changed, Some(good.clone()), "invalid_signature"),
        (body.clone(), Some(testing::signed_header(&body, now - 301)), "signature_expired"),
        (body.clone(), Some(testing::signed_header(&body, now + 301)), "signature_expired"),
    ];
    let before = t.app.store.round_trips();
    for (payload, header, code) in cases {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(h) = &header {
            headers.push(("stripe-signature", h));
        }
        let (status, json) = status_and_json(
            &handle(&t.app, raw_request("POST", "/api/stripe/webhook", &headers, payload, "3.18.12.63")).await,
        );
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some(code)), "{header:?}");
    }
    assert_eq!(t.app.store.round_trips(), before, "no store call for a bad signature");
    assert!(order(&t, "ord_sig").await.is_none());
}

#[tokio::test]
async fn signatures_within_tolerance_and_rotated_secrets_are_accepted() {
    let t = app();
    let body = event("customer.created", testing::fixture("customer"));
    assert_eq!(deliver_with(&t, &body, &testing::signed_header(&body, t.app.now() - 299)).await.0, 200);
    let body = event("customer.created", testing::fixture("customer"));
    let now = t.app.now();
    let old = tollgate::stripe::signature::signature(&body, "whsec_retired", now);
    let new = tollgate::stripe::signature::signature(&body, testing::WEBHOOK_SECRET, now);
    assert_eq!(deliver_with(&t, &body, &format!("t={now},v1={old},v1={new}")).await.0, 200, "any v1 may match");

    let rotating = testing::app(Store::memory(), None, &[("STRIPE_WEBHOOK_SECRET", "whsec_old,whsec_new")]);
    let body = event("customer.created", testing::fixture("customer"));
    let header = tollgate::stripe::signature::header(&body, "whsec_new", now);
    assert_eq!(deliver_with(&rotating, &body, &header).await.0, 200, "any configured secret may match");
}

#[tokio::test]
async fn a_base64_encoded_function_url_body_is_verified_on_its_decoded_bytes() {
    let t = app();
    let body = paid_event("cs_test_b64", "ord_b64", Some("usr_b64"));
    let header = testing::signed_header(&body, t.app.now());
    use base64::Engine;
    let function_url_event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": { "content-type": "application/json", "stripe-signature": header },
        "requestContext": { "http": { "method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "3.18.12.63", "userAgent": "Stripe/1.0" },
            "requestId": "r1", "routeKey": "$default", "stage": "$default", "timeEpoch": 0, "accountId": "anonymous", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws", "domainPrefix": "x" },
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
        "isBase64Encoded": true
    });
    let req = lambda_http::request::from_str(&function_url_event.to_string()).unwrap();
    let (status, json) = status_and_json(&handle(&t.app, req).await);
    assert_eq!(status, 200, "{json}");
    assert_eq!(order(&t, "ord_b64").await.unwrap().status, OrderStatus::Paid);
}

#[tokio::test]
async fn a_signed_body_that_is_not_a_stripe_event_is_400() {
    let t = app();
    for body in [&b"not json"[..], br#"{"hello":"world"}"#, br#"{"object":"event","id":"evt_1"}"#, br#"[]"#] {
        let (status, json) = deliver(&t, body).await;
        assert_eq!(
            (status, json["error"]["code"].as_str()),
            (400, Some("not_a_stripe_event")),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // A signed event of a handled type whose object cannot be read is retried, never a 4xx.
    let wrong_object = event("checkout.session.completed", json!({ "id": "cs_x", "object": "checkout.session" }));
    let (status, json) = deliver(&t, &wrong_object).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (503, Some("unreadable_event")),
        "a session missing its fields"
    );
}

#[tokio::test]
async fn livemode_must_match_the_key() {
    let t = app();
    let mut live: Value = serde_json::from_slice(&paid_event("cs_test_live", "ord_live", None)).unwrap();
    live["livemode"] = true.into();
    let (status, json) = deliver(&t, &serde_json::to_vec(&live).unwrap()).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("livemode_mismatch")), "signed: ignored, not a 4xx");
    assert!(order(&t, "ord_live").await.is_none());
}

#[rstest]
#[tokio::test]
async fn paid_checkout_grants_pro_once_in_one_transaction(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let t = testing::app(kind.store().await, None, &[]);
    let body = paid_event("cs_test_once", "ord_once", Some("usr_once"));
    let before = t.app.store.round_trips();
    assert_eq!(deliver(&t, &body).await, (200, json!({ "received": true, "outcome": "purchase_recorded" })));
    assert_eq!(t.app.store.round_trips() - before, 2, "one TransactWriteItems, and the receipt's logged outcome");
    let receipt = t.outbox.last_to("ada@example.com").expect("a purchase receipt");
    assert!(receipt.subject.contains("29.00 USD for Pro"), "{}", receipt.subject);

    let paid = order(&t, "ord_once").await.unwrap();
    assert_eq!(
        (paid.status, paid.plan.as_str(), paid.user_id.as_deref()),
        (OrderStatus::Paid, "pro", Some("usr_once"))
    );
    assert_eq!(paid.email.as_deref(), Some("ada@example.com"));
    assert_eq!(paid.amount_total, Some(2900));
    assert!(grant(&t, &user("usr_once"), "ord_once").await.unwrap().is_active());
    assert!(entitlement(&t.app, "usr_once").await.unwrap().pro);

    let id = serde_json::from_slice::<Value>(&body).unwrap()["id"].as_str().unwrap().to_string();
    let record = t.app.store.get(&keys::event(&id)).await.unwrap().unwrap();
    assert!(record.num("ttl").unwrap() >= t.app.now() + 30 * 24 * 3600, "event records live at least 30 days");

    let before = t.app.store.round_trips();
    assert_eq!(deliver(&t, &body).await, (200, json!({ "received": true, "duplicate": true })));
    assert_eq!(
        t.app.store.round_trips() - before,
        3,
        "a duplicate: the refused write, a look at its email, and its metrics counter (it wrote nothing to fold it into)"
    );
    assert_eq!(t.outbox.all().len(), 1, "the receipt is sent once");
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_deliveries_apply_once(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let t = testing::app(kind.store().await, None, &[]);
    let body = event_with_id(
        "evt_test_concurrent",
        "checkout.session.completed",
        paid_session("cs_test_conc", "ord_conc", None, "bo@example.com"),
    );
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = t.app.clone();
            let body = body.clone();
            tokio::spawn(async move { status_and_json(&handle(&app, webhook_request(&body, app.now())).await) })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        let (status, json) = task.await.unwrap();
        assert_eq!(status, 200, "{json}");
        if json.get("duplicate").is_none() {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    let email = Holder::Email("bo@example.com".into());
    let grants = tollgate::domain::entitlements::grants(&t.app, &email).await.unwrap();
    assert_eq!(grants.len(), 1, "one grant");
    assert_eq!(order(&t, "ord_conc").await.unwrap().status, OrderStatus::Paid);
}

#[tokio::test]
async fn an_anonymous_purchase_is_held_by_its_email() {
    let t = app();
    deliver(&t, &paid_event("cs_test_anon", "ord_anon", None)).await;
    let held = grant(&t, &Holder::Email("ada@example.com".into()), "ord_anon").await.unwrap();
    assert_eq!(held.plan, "pro");
    assert_eq!(order(&t, "ord_anon").await.unwrap().user_id, None);
}

#[tokio::test]
async fn delayed_payment_waits_for_async_success_or_failure() {
    let t = app();
    let mut unpaid = paid_session("cs_test_async", "ord_async", Some("usr_a"), "ada@example.com");
    unpaid["payment_status"] = "unpaid".into();
    assert_eq!(
        deliver(&t, &event("checkout.session.completed", unpaid.clone())).await.1["outcome"],
        "awaiting_payment"
    );
    assert!(order(&t, "ord_async").await.is_none());
    assert!(!entitlement(&t.app, "usr_a").await.unwrap().pro);

    let paid = paid_session("cs_test_async", "ord_async", Some("usr_a"), "ada@example.com");
    assert_eq!(
        deliver(&t, &event("checkout.session.async_payment_succeeded", paid)).await.1["outcome"],
        "purchase_recorded"
    );
    assert!(entitlement(&t.app, "usr_a").await.unwrap().pro);

    let pending = Order::pending("ord_fail", "pro", None, None, NOW);
    t.app.store.write(Write::put(pending.to_item())).await.unwrap();
    let mut failed = paid_session("cs_test_fail", "ord_fail", None, "ada@example.com");
    failed["payment_status"] = "unpaid".into();
    assert_eq!(deliver(&t, &event("checkout.session.async_payment_failed", failed)).await.1["outcome"], "order_failed");
    assert_eq!(order(&t, "ord_fail").await.unwrap().status, OrderStatus::Failed);
}

#[tokio::test]
async fn an_expired_session_expires_its_pending_order_only() {
    let t = app();
    let pending = Order {
        checkout_session_id: Some("cs_test_exp".into()),
        ..Order::pending("ord_exp", "pro", Some("ada@example.com"), None, NOW)
    };
    t.app.store.write(Write::put(pending.to_item())).await.unwrap();
    let session = testing::fixture_with(
        "checkout.session",
        json!({ "id": "cs_test_exp", "status": "expired", "payment_status": "unpaid", "client_reference_id": "ord_exp", "metadata": { "order_id": "ord_exp", "plan": "pro" } }),
    );
    assert_eq!(deliver(&t, &event("checkout.session.expired", session)).await.1["outcome"], "order_expired");
    assert_eq!(order(&t, "ord_exp").await.unwrap().status, OrderStatus::Expired);

    deliver(&t, &paid_event("cs_test_paid", "ord_paid", Some("usr_p"))).await;
    let late = testing::fixture_with(
        "checkout.session",
        json!({ "id": "cs_test_paid", "status": "expired", "payment_status": "unpaid", "metadata": { "order_id": "ord_paid" } }),
    );
    let (status, json) = deliver(&t, &event("checkout.session.expired", late)).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("already_applied")), "a paid order does not expire");
    assert_eq!(order(&t, "ord_paid").await.unwrap().status, OrderStatus::Paid);
}

#[rstest]
#[tokio::test]
async fn a_full_refund_revokes_in_two_round_trips(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let t = testing::app(kind.store().await, None, &[]);
    deliver(&t, &paid_event("cs_test_refund12", "ord_refund", Some("usr_r"))).await;
    let pi = order(&t, "ord_refund").await.unwrap().payment_intent.unwrap();

    let mut partial = refunded_charge(&pi);
    partial["refunded"] = false.into();
    assert_eq!(deliver(&t, &event("charge.refunded", partial)).await.1["outcome"], "partial_refund");
    assert!(entitlement(&t.app, "usr_r").await.unwrap().pro, "a partial refund keeps the purchase");

    let before = t.app.store.round_trips();
    let refund = event("charge.refunded", refunded_charge(&pi));
    assert_eq!(deliver(&t, &refund).await.1["outcome"], "purchase_revoked");
    assert!(t.app.store.round_trips() - before <= 2);
    assert_eq!(order(&t, "ord_refund").await.unwrap().status, OrderStatus::Refunded);
    assert!(!grant(&t, &user("usr_r"), "ord_refund").await.unwrap().is_active());
    assert!(!entitlement(&t.app, "usr_r").await.unwrap().pro);
    assert_eq!(deliver(&t, &refund).await.1["duplicate"], true);
}

#[rstest]
#[tokio::test]
async fn a_refund_delivered_before_its_purchase_wins(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let t = testing::app(kind.store().await, None, &[]);
    let session = paid_session("cs_test_early_refund", "ord_early_refund", Some("usr_er"), "ada@example.com");
    let pi = session["payment_intent"].as_str().unwrap().to_string();
    let (status, json) = deliver(&t, &event("charge.refunded", refunded_charge(&pi))).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("refund_before_purchase")));
    // The marker expires unless a purchase completes it (a refund of a payment Tollgate never sold).
    let marker = t.app.store.get(&keys::payment(&pi)).await.unwrap().expect("the refund's marker");
    assert_eq!(marker.num("ttl"), Some(t.app.now() + tollgate::store::schema::payments::MARKER_RETENTION_SECS));

    let before = t.app.store.round_trips();
    let (status, json) = deliver(&t, &event("checkout.session.completed", session)).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("purchase_refunded")), "{json}");
    assert!(t.app.store.round_trips() - before <= 2);
    let pointer = t.app.store.get(&keys::payment(&pi)).await.unwrap().expect("the purchase's pointer");
    assert_eq!(pointer.num("ttl"), None, "completed, the pointer is the reversal's lasting guard");
    assert_eq!(order(&t, "ord_early_refund").await.unwrap().status, OrderStatus::Refunded);
    assert!(!grant(&t, &user("usr_er"), "ord_early_refund").await.unwrap().is_active());
    assert!(!entitlement(&t.app, "usr_er").await.unwrap().pro, "a refunded purchase never grants");
}
