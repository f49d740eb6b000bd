//! The checkout handler against a mock Stripe: the exact form it sends (each field a real
//! parameter in Stripe's spec), the pending order, and every refusal.

use serde_json::{Value, json};
use tollgate::store::schema::{Order, OrderStatus, User, keys};
use tollgate::store::{Store, Write};
use tollgate_checkout::handle;
use tollgate_testkit::{self as testing, TestApp, assert_real_form_fields, form_fields, request, status_and_json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

async fn stripe_answering(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "cus_test_made", "object": "customer" })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

fn created_session() -> Value {
    testing::fixture_with(
        "checkout.session",
        json!({ "id": "cs_test_created", "url": "https://checkout.stripe.com/c/pay/cs_test_created" }),
    )
}

async fn create(t: &TestApp, body: Value, bearer: Option<&str>) -> (u16, Value) {
    status_and_json(&handle(&t.app, request("POST", "/api/checkout/create", Some(&body), bearer)).await)
}

/// The one Checkout Session create Stripe received (every request pinned to Tollgate's version).
fn sent(server_requests: &[Request]) -> Vec<(String, String)> {
    for r in server_requests {
        let version = r.headers.get("stripe-version").and_then(|v| v.to_str().ok());
        assert_eq!(version, Some(tollgate::stripe::client::API_VERSION), "{} {}", r.method, r.url.path());
    }
    let sessions: Vec<_> = server_requests.iter().filter(|r| r.url.path() == "/v1/checkout/sessions").collect();
    assert_eq!(sessions.len(), 1, "one Checkout Session");
    form_fields(&sessions[0].body)
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_signed_in_checkout_sends_exactly_these_fields() {
    let stripe = stripe_answering(200, created_session()).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let bearer = testing::token(&t.app, "usr_buyer", "ada@example.com");
    let (status, body) = create(&t, json!({ "plan": "pro" }), Some(&bearer)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["session_id"], "cs_test_created");
    assert_eq!(body["url"], "https://checkout.stripe.com/c/pay/cs_test_created");
    let order_id = body["order_id"].as_str().unwrap().to_string();

    let requests = stripe.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2, "the buyer's customer, then the session");
    assert_eq!(requests[0].url.path(), "/v1/customers");
    assert_eq!(requests[0].headers["idempotency-key"], "customer-usr_buyer");
    assert_real_form_fields("/v1/customers", &form_fields(&requests[0].body));
    assert_eq!(requests[1].headers["authorization"], format!("Bearer {}", testing::STRIPE_KEY));
    assert_eq!(requests[1].headers["idempotency-key"], format!("checkout-{order_id}"));
    assert!(requests[1].headers["content-type"].to_str().unwrap().starts_with("application/x-www-form-urlencoded"));
    let form = sent(&requests);
    let mut expected = vec![
        ("mode", "payment".to_string()),
        ("line_items[0][price]", testing::PRO_PRICE.to_string()),
        ("line_items[0][quantity]", "1".to_string()),
        ("client_reference_id", order_id.clone()),
        ("success_url", "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}".to_string()),
        ("cancel_url", "https://app.example.com/cancel".to_string()),
        ("metadata[order_id]", order_id.clone()),
        ("metadata[plan]", "pro".to_string()),
        ("metadata[user_id]", "usr_buyer".to_string()),
        ("customer", "cus_test_made".to_string()),
    ];
    let mut got: Vec<(&str, String)> = form.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    assert_real_form_fields("/v1/checkout/sessions", &form);

    let order = Order::from_item(&t.app.store.get(&keys::order(&order_id)).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        (order.status, order.user_id.as_deref(), order.checkout_session_id.as_deref()),
        (OrderStatus::Pending, Some("usr_buyer"), Some("cs_test_created"))
    );
}

#[tokio::test]
async fn a_returning_customer_is_reused() {
    let stripe = stripe_answering(200, created_session()).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let user = User {
        id: "usr_back".into(),
        email: "ada@example.com".into(),
        created_at: 1,
        stripe_customer_id: Some("cus_existing".into()),
        erased_at: None,
    };
    t.app.store.write(Write::put(user.to_item())).await.unwrap();
    create(&t, json!({ "plan": "pro" }), Some(&testing::token(&t.app, "usr_back", "ada@example.com"))).await;
    let requests = stripe.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| r.url.path() != "/v1/customers"), "no new customer");
    let form = sent(&requests);
    assert_eq!(field(&form, "customer"), Some("cus_existing"));
    assert_eq!(field(&form, "customer_email"), None);
    assert_eq!(field(&form, "customer_creation"), None);
    assert_real_form_fields("/v1/checkout/sessions", &form);
}

#[tokio::test]
async fn an_anonymous_checkout_needs_an_email_and_carries_no_user() {
    let stripe = stripe_answering(200, created_session()).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let (status, body) = create(&t, json!({ "plan": "pro" }), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("missing_field")));
    let (status, body) = create(&t, json!({ "plan": "pro", "email": "nope" }), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_email")));
    assert!(stripe.received_requests().await.unwrap().is_empty());

    let (status, _) = create(&t, json!({ "plan": "pro", "email": "Anon@Example.com" }), None).await;
    assert_eq!(status, 200);
    let form = sent(&stripe.received_requests().await.unwrap());
    assert_eq!(field(&form, "customer_email"), Some("anon@example.com"));
    assert_eq!(field(&form, "metadata[user_id]"), None);
}

#[tokio::test]
async fn unknown_or_free_plans_are_400_and_nothing_is_written() {
    let stripe = stripe_answering(200, created_session()).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let before = t.app.store.round_trips();
    for plan in ["platinum", "free"] {
        let (status, body) = create(&t, json!({ "plan": plan, "email": "a@example.com" }), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("unknown_plan")), "{plan}");
    }
    let (status, body) = create(&t, json!({ "plan": 7, "email": "a@example.com" }), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")));
    assert_eq!(t.app.store.round_trips(), before);
    assert!(stripe.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_invalid_token_is_401_not_anonymous() {
    let stripe = stripe_answering(200, created_session()).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let (status, body) = create(&t, json!({ "plan": "pro", "email": "a@example.com" }), Some("not-a-token")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_token")));
}

#[tokio::test]
async fn stripe_failing_is_502_with_the_fallback_link_and_the_order_marked_failed() {
    let stripe = stripe_answering(
        400,
        json!({ "error": { "type": "invalid_request_error", "message": "No such price: 'price_test_pro'" } }),
    )
    .await;
    let t =
        testing::app(Store::memory(), Some(&stripe.uri()), &[("PAYMENT_LINK_URL", "https://buy.stripe.com/test_pro")]);
    let (status, body) = create(&t, json!({ "plan": "pro", "email": "a@example.com" }), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (502, Some("stripe_error")));
    assert_eq!(body["error"]["fallback_url"], "https://buy.stripe.com/test_pro");
    assert!(!body.to_string().contains(testing::STRIPE_KEY));
    let orders = t.app.store.query_index("PURCHASER#a@example.com", 10).await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(Order::from_item(&orders[0]).unwrap().status, OrderStatus::Failed);
}

#[tokio::test]
async fn stripe_unreachable_is_502_without_a_fallback_when_none_is_configured() {
    let t = testing::app(Store::memory(), Some("http://127.0.0.1:9"), &[]);
    let (status, body) = create(&t, json!({ "plan": "pro", "email": "a@example.com" }), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (502, Some("stripe_error")));
    assert!(body["error"].get("fallback_url").is_none());
}

#[tokio::test]
async fn a_stripe_server_error_is_retried_once_under_the_same_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(created_session()))
        .mount(&server)
        .await;
    let t = testing::app(Store::memory(), Some(&server.uri()), &[]);
    let (status, _) = create(&t, json!({ "plan": "pro", "email": "a@example.com" }), None).await;
    assert_eq!(status, 200);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].headers["idempotency-key"], requests[1].headers["idempotency-key"]);
}

#[tokio::test]
async fn a_credit_pack_is_bought_signed_in_with_its_price_and_metadata() {
    let stripe = stripe_answering(200, created_session()).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let (status, body) = create(&t, json!({ "pack": "credits_100", "email": "a@example.com" }), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("missing_token")), "credits need an account");
    let (status, body) =
        create(&t, json!({ "pack": "credits_9000" }), Some(&testing::token(&t.app, "usr_p", "p@example.com"))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("unknown_pack")));
    let (status, body) = create(
        &t,
        json!({ "pack": "credits_100", "plan": "pro" }),
        Some(&testing::token(&t.app, "usr_p", "p@example.com")),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")));
    assert!(stripe.received_requests().await.unwrap().is_empty());

    let (status, body) =
        create(&t, json!({ "pack": "credits_100" }), Some(&testing::token(&t.app, "usr_p", "p@example.com"))).await;
    assert_eq!(status, 200, "{body}");
    let form = sent(&stripe.received_requests().await.unwrap());
    assert_real_form_fields("/v1/checkout/sessions", &form);
    assert_eq!(field(&form, "line_items[0][price]"), Some(testing::CREDITS_100_PRICE));
    assert_eq!(field(&form, "mode"), Some("payment"));
    assert_eq!(field(&form, "metadata[pack]"), Some("credits_100"));
    assert_eq!(field(&form, "metadata[plan]"), None);
    assert_eq!(field(&form, "metadata[user_id]"), Some("usr_p"));
    let order =
        Order::from_item(&t.app.store.get(&keys::order(body["order_id"].as_str().unwrap())).await.unwrap().unwrap())
            .unwrap();
    assert_eq!(order.pack.as_deref(), Some("credits_100"));
}
