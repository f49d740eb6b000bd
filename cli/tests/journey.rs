//! The whole Pro journey through the real handlers, on the DynamoDB server and the memory
//! store: request code -> verify -> checkout -> signed webhook -> claim -> verify -> refund ->
//! verify says no.

use rstest::rstest;
use serde_json::{Value, json};
use tollgate_cli::route;
use tollgate_testkit::{
    self as testing, StoreKind, TestApp, assert_real_form_fields, form_fields, last_code, request, status_and_json,
    webhook_request,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn call(t: &TestApp, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> (u16, Value) {
    status_and_json(&route(&t.app, request(method, path, body.as_ref(), token)).await)
}

async fn sign_in(t: &TestApp, email: &str) -> String {
    assert_eq!(call(t, "POST", "/api/auth/request-code", Some(json!({ "email": email })), None).await.0, 202);
    let code = last_code(&t.outbox, email);
    let (status, body) =
        call(t, "POST", "/api/auth/verify-code", Some(json!({ "email": email, "code": code })), None).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

#[rstest]
#[tokio::test]
async fn the_pro_journey(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(testing::fixture_with("customer", json!({ "id": "cus_journey" }))),
        )
        .expect(1)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(testing::fixture_with(
            "checkout.session",
            json!({ "id": "cs_test_journey", "url": "https://checkout.stripe.com/c/pay/cs_test_journey" }),
        )))
        .expect(1)
        .mount(&stripe)
        .await;
    let t = testing::app(kind.store().await, Some(&stripe.uri()), &[]);

    let token = sign_in(&t, "ada@example.com").await;
    assert_eq!(call(&t, "GET", "/api/pro/verify", None, Some(&token)).await.1["pro"], false);

    let (status, checkout) =
        call(&t, "POST", "/api/checkout/create", Some(json!({ "plan": "pro" })), Some(&token)).await;
    assert_eq!(status, 200, "{checkout}");
    let requests = stripe.received_requests().await.unwrap();
    let session = requests.iter().find(|r| r.url.path() == "/v1/checkout/sessions").expect("a session");
    let form = form_fields(&session.body);
    assert_real_form_fields("/v1/checkout/sessions", &form);
    let sent = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());

    // Stripe's event for that session, carrying what checkout sent it.
    let mut session = testing::paid_session(
        "cs_test_journey",
        checkout["order_id"].as_str().unwrap(),
        sent("metadata[user_id]").as_deref(),
        "ada@example.com",
    );
    session["metadata"]["plan"] = json!(sent("metadata[plan]"));
    session["customer"] = json!(sent("customer"));
    let body = testing::event("checkout.session.completed", session);
    let before = t.app.store.round_trips();
    let (status, receipt) = status_and_json(&route(&t.app, webhook_request(&body, t.app.now())).await);
    assert_eq!((status, &receipt["outcome"]), (200, &json!("purchase_recorded")), "{receipt}");
    assert_eq!(
        t.app.store.round_trips() - before,
        2,
        "a paid checkout with its metadata: one transaction, one receipt log"
    );

    let (status, claimed) =
        call(&t, "POST", "/api/pro/claim", Some(json!({ "session_id": "cs_test_journey" })), Some(&token)).await;
    assert_eq!((status, &claimed["pro"]), (200, &json!(true)), "{claimed}");
    let pro_token = claimed["token"].as_str().unwrap().to_string();
    assert_eq!(
        call(&t, "GET", "/api/pro/verify", None, Some(&pro_token)).await.1,
        json!({ "pro": true, "plan": "pro", "expires_at": null, "plan_ends_at": null, "subscription": null })
    );

    let order = tollgate::store::schema::Order::from_item(
        &t.app
            .store
            .get(&tollgate::store::schema::keys::order(checkout["order_id"].as_str().unwrap()))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let refund = testing::event("charge.refunded", testing::refunded_charge(&order.payment_intent.unwrap()));
    let before = t.app.store.round_trips();
    assert_eq!(
        status_and_json(&route(&t.app, webhook_request(&refund, t.app.now())).await).1["outcome"],
        "purchase_revoked"
    );
    assert!(t.app.store.round_trips() - before <= 2);
    assert_eq!(
        call(&t, "GET", "/api/pro/verify", None, Some(&pro_token)).await.1["error"]["code"],
        "token_revoked",
        "verify says no after the refund: the refund revoked the token that named Pro"
    );
    let fresh = sign_in(&t, "ada@example.com").await;
    assert_eq!(call(&t, "GET", "/api/pro/verify", None, Some(&fresh)).await.1["pro"], false);
}

#[tokio::test]
async fn the_dev_servers_simulated_checkout_pays_through_the_signed_webhook() {
    let t = testing::app(tollgate::store::Store::memory(), None, &[]);
    let token = sign_in(&t, "dev@example.com").await;
    let (status, checkout) =
        call(&t, "POST", "/api/checkout/create", Some(json!({ "plan": "pro" })), Some(&token)).await;
    assert_eq!(status, 200, "{checkout}");
    let session_id = checkout["session_id"].as_str().unwrap();
    assert!(checkout["url"].as_str().unwrap().ends_with(&format!("/dev/checkout/{session_id}")));

    let (status, early) =
        call(&t, "POST", "/api/pro/claim", Some(json!({ "session_id": session_id })), Some(&token)).await;
    assert_eq!(
        (status, early["error"]["code"].as_str()),
        (409, Some("not_paid")),
        "the simulation answers the session fetch"
    );

    let events = t.app.stripe.simulator().unwrap().pay(session_id, t.app.now()).unwrap();
    assert_eq!(events.len(), 1, "a one-time purchase is one event");
    for event in events {
        assert_eq!(tollgate_cli::dev::deliver(&t.app, event).await, 200);
    }
    assert!(t.app.stripe.simulator().unwrap().pay(session_id, t.app.now()).is_none(), "a session is paid once");
    let (status, claimed) =
        call(&t, "POST", "/api/pro/claim", Some(json!({ "session_id": session_id })), Some(&token)).await;
    assert_eq!((status, &claimed["pro"]), (200, &json!(true)), "{claimed}");

    let refund = t.app.stripe.simulator().unwrap().refund(session_id, t.app.now()).unwrap();
    assert_eq!(tollgate_cli::dev::deliver(&t.app, refund).await, 200);
    assert_eq!(call(&t, "GET", "/api/pro/verify", None, Some(&token)).await.1["error"]["code"], "token_revoked");
    let fresh = sign_in(&t, "dev@example.com").await;
    assert_eq!(call(&t, "GET", "/api/pro/verify", None, Some(&fresh)).await.1["pro"], false);
}

/// `make dev`'s subscription journey: subscribe with a trial, pay on the simulated page (three
/// signed events), see the plan and its trial, open the portal, cancel, see the plan gone and the
/// cancellation email.
#[tokio::test]
async fn the_dev_servers_simulated_subscription_starts_a_trial_and_the_portal_cancels_it() {
    let t = testing::app(tollgate::store::Store::memory(), None, &[]);
    let token = sign_in(&t, "sam@example.com").await;
    let (status, started) =
        call(&t, "POST", "/api/checkout/create", Some(json!({ "plan": "pro", "interval": "month" })), Some(&token))
            .await;
    assert_eq!(status, 200, "{started}");
    let session_id = started["session_id"].as_str().unwrap();
    let sim = t.app.stripe.simulator().unwrap();
    let events = sim.pay(session_id, t.app.now()).unwrap();
    assert_eq!(events.len(), 3, "completed, subscription created, first invoice paid");
    for event in events {
        assert_eq!(tollgate_cli::dev::deliver(&t.app, event).await, 200);
    }
    let (_, ent) = call(&t, "GET", "/api/entitlements", None, Some(&token)).await;
    assert_eq!((&ent["plan"], &ent["subscription"]["status"]), (&json!("pro"), &json!("trialing")), "{ent}");
    assert_eq!(ent["subscription"]["trial_end"], "2026-02-14T12:00:00Z", "the catalog's 30 days");

    let (status, portal) = call(&t, "POST", "/api/billing/portal", Some(json!({})), Some(&token)).await;
    assert_eq!(status, 200);
    let customer = portal["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let (sub, ..) = sim.subscriptions_of(&customer).remove(0);
    let cancel = sim.cancel(&sub, false, t.app.now()).unwrap();
    assert_eq!(tollgate_cli::dev::deliver(&t.app, cancel).await, 200);
    let (_, ent) = call(&t, "GET", "/api/entitlements", None, Some(&token)).await;
    assert_eq!((&ent["plan"], &ent["subscription"]["status"]), (&json!("free"), &json!("canceled")));
    let mail = t.outbox.last_to("sam@example.com").unwrap();
    assert!(mail.subject.contains("Pro subscription has ended"), "{}", mail.subject);
}
