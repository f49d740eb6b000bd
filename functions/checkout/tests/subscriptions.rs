//! Subscription checkout, the customer portal and members' prices against a mock Stripe: the
//! exact forms sent (each field a real parameter in Stripe's spec), one customer per user, and
//! every refusal.

use serde_json::{Value, json};
use tollgate::domain::subscriptions::{OPEN_ENDED, SubscriptionRecord};
use tollgate::store::schema::{User, keys};
use tollgate::store::{Item, Store, Write};
use tollgate::stripe::Event;
use tollgate_checkout::handle;
use tollgate_testkit::{self as testing, NOW, TestApp, assert_real_form_fields, form_fields, request, status_and_json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USER: &str = "usr_sub";
const EMAIL: &str = "sub@example.com";
const PORTAL_URL: &str = "https://billing.stripe.com/p/session/test_portal";

/// Stripe answering customers, checkout sessions and portal sessions.
async fn stripe() -> MockServer {
    let server = MockServer::start().await;
    let answer = |p: &'static str, body: Value| {
        Mock::given(method("POST")).and(path(p)).respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    answer("/v1/customers", testing::fixture_with("customer", json!({ "id": "cus_test_new" }))).mount(&server).await;
    answer(
        "/v1/checkout/sessions",
        testing::fixture_with(
            "checkout.session",
            json!({ "id": "cs_test_sub", "url": "https://checkout.stripe.com/c/pay/cs_test_sub" }),
        ),
    )
    .mount(&server)
    .await;
    answer(
        "/v1/billing_portal/sessions",
        testing::fixture_with("billing_portal.session", json!({ "url": PORTAL_URL })),
    )
    .mount(&server)
    .await;
    server
}

async fn app(stripe: &MockServer) -> TestApp {
    let t = testing::app(
        Store::memory(),
        Some(&stripe.uri()),
        &[("BILLING_PORTAL_RETURN_URL", "https://app.example.com/account")],
    );
    let user = User { id: USER.into(), email: EMAIL.into(), created_at: 1, stripe_customer_id: None, erased_at: None };
    t.app.store.write(Write::put(user.to_item())).await.unwrap();
    t
}

fn bearer(t: &TestApp) -> String {
    testing::token(&t.app, USER, EMAIL)
}

async fn post(t: &TestApp, route: &str, body: Value, bearer: Option<&str>) -> (u16, Value) {
    status_and_json(&handle(&t.app, request("POST", route, Some(&body), bearer)).await)
}

/// The forms Stripe received at `endpoint`, with their idempotency keys.
async fn sent_to(server: &MockServer, endpoint: &str) -> Vec<(Vec<(String, String)>, Option<String>)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == endpoint)
        .map(|r| {
            let key = r.headers.get("idempotency-key").map(|v| v.to_str().unwrap().to_string());
            (form_fields(&r.body), key)
        })
        .collect()
}

fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn store_subscription(t: &TestApp, id: &str, status: &str, trial_end: Option<i64>) {
    let record = SubscriptionRecord {
        id: id.into(),
        user_id: USER.into(),
        customer: Some("cus_test_new".into()),
        plan: "pro".into(),
        interval: None,
        status: status.into(),
        current_period_start: Some(NOW),
        current_period_end: Some(NOW + 86_400),
        trial_end,
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        ended_at: None,
        access_until: (status == "active").then_some(OPEN_ENDED),
        as_of: NOW,
        applied: "evt_test".into(),
        version: 1,
        amount: Some(900),
        currency: Some("usd".into()),
        trial_start: None,
        scheduled: None,
        scheduled_as_of: None,
    };
    t.app.store.write(Write::put(record.to_item())).await.unwrap();
}

#[tokio::test]
async fn a_subscription_checkout_sends_exactly_these_fields_on_the_users_one_customer() {
    let stripe = stripe().await;
    let t = app(&stripe).await;
    let (status, body) =
        post(&t, "/api/checkout/create", json!({ "plan": "pro", "interval": "month" }), Some(&bearer(&t))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["url"], "https://checkout.stripe.com/c/pay/cs_test_sub");
    let order = body["order_id"].as_str().unwrap();

    let customers = sent_to(&stripe, "/v1/customers").await;
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0].0, pairs(&[("email", EMAIL), ("metadata[user_id]", USER)]));
    assert_eq!(customers[0].1.as_deref(), Some("customer-usr_sub"), "one idempotency key per user");
    assert_real_form_fields("/v1/customers", &customers[0].0);

    let sessions = sent_to(&stripe, "/v1/checkout/sessions").await;
    let expected = pairs(&[
        ("mode", "subscription"),
        ("line_items[0][price]", testing::PRO_MONTHLY_PRICE),
        ("line_items[0][quantity]", "1"),
        ("client_reference_id", order),
        ("success_url", "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}"),
        ("cancel_url", "https://app.example.com/cancel"),
        ("metadata[order_id]", order),
        ("metadata[plan]", "pro"),
        ("metadata[interval]", "month"),
        ("metadata[user_id]", USER),
        ("customer", "cus_test_new"),
        ("subscription_data[metadata][order_id]", order),
        ("subscription_data[metadata][plan]", "pro"),
        ("subscription_data[metadata][interval]", "month"),
        ("subscription_data[metadata][user_id]", USER),
        ("subscription_data[trial_period_days]", "30"),
        ("allow_promotion_codes", "true"),
        ("billing_address_collection", "required"),
    ]);
    assert_eq!(sessions[0].0, expected);
    assert_real_form_fields("/v1/checkout/sessions", &sessions[0].0);

    let profile = t.app.store.get(&keys::user(USER)).await.unwrap().unwrap();
    assert_eq!(profile.str("stripe_customer_id"), Some("cus_test_new"), "the customer is kept on the profile");
    // The first session was never completed: a second checkout reuses the customer.
    let (status, _) =
        post(&t, "/api/checkout/create", json!({ "plan": "basic", "interval": "year" }), Some(&bearer(&t))).await;
    assert_eq!(status, 200);
    assert_eq!(sent_to(&stripe, "/v1/customers").await.len(), 1, "never a second customer");
    let basic = &sent_to(&stripe, "/v1/checkout/sessions").await[1].0;
    let get = |name: &str| basic.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(get("line_items[0][price]"), Some("price_test_basic_yearly"));
    assert_eq!(get("subscription_data[trial_period_days]"), Some("14"));
    assert_eq!(get("billing_address_collection"), Some("auto"));
}

#[tokio::test]
async fn concurrent_first_checkouts_store_one_customer() {
    let stripe = stripe().await;
    let t = app(&stripe).await;
    let token = bearer(&t);
    let ok = testing::count_successes(5, |_| {
        let app = t.app.clone();
        let token = token.clone();
        async move {
            let body = json!({ "plan": "pro", "interval": "year" });
            handle(&app, request("POST", "/api/checkout/create", Some(&body), Some(&token))).await.status() == 200
        }
    })
    .await;
    assert_eq!(ok, 5);
    let keys: Vec<_> = sent_to(&stripe, "/v1/customers").await.into_iter().map(|(_, k)| k).collect();
    assert!(keys.iter().all(|k| k.as_deref() == Some("customer-usr_sub")), "Stripe sees one key: {keys:?}");
    let customers: Vec<String> = sent_to(&stripe, "/v1/checkout/sessions")
        .await
        .into_iter()
        .filter_map(|(form, _)| form.into_iter().find(|(k, _)| k == "customer").map(|(_, v)| v))
        .collect();
    assert_eq!(customers, vec!["cus_test_new"; 5]);
}

#[tokio::test]
async fn a_live_subscription_is_409_with_a_portal_url_and_opens_no_session() {
    let stripe = stripe().await;
    let t = app(&stripe).await;
    let user = User {
        id: USER.into(),
        email: EMAIL.into(),
        created_at: 1,
        stripe_customer_id: Some("cus_test_new".into()),
        erased_at: None,
    };
    t.app.store.write(Write::put(user.to_item())).await.unwrap();
    store_subscription(&t, "sub_live", "past_due", None).await;
    let (status, body) =
        post(&t, "/api/checkout/create", json!({ "plan": "basic", "interval": "month" }), Some(&bearer(&t))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_subscribed")), "{body}");
    assert_eq!(body["error"]["portal_url"], PORTAL_URL);
    assert!(sent_to(&stripe, "/v1/checkout/sessions").await.is_empty());
}

#[tokio::test]
async fn a_user_who_had_a_trial_does_not_get_another() {
    let stripe = stripe().await;
    let t = app(&stripe).await;
    store_subscription(&t, "sub_old", "canceled", Some(NOW - 86_400)).await;
    let (status, _) =
        post(&t, "/api/checkout/create", json!({ "plan": "pro", "interval": "month" }), Some(&bearer(&t))).await;
    assert_eq!(status, 200, "a canceled subscription is not live");
    let form = &sent_to(&stripe, "/v1/checkout/sessions").await[0].0;
    assert!(form.iter().all(|(k, _)| k != "subscription_data[trial_period_days]"), "{form:?}");
}

#[tokio::test]
async fn unknown_plans_and_intervals_are_400_and_subscribing_needs_a_token() {
    let stripe = stripe().await;
    let t = app(&stripe).await;
    let token = bearer(&t);
    let cases = [
        (json!({ "plan": "gold", "interval": "month" }), "unknown_plan"),
        (json!({ "plan": "pro", "interval": "week" }), "unknown_interval"),
        (json!({ "plan": "free", "interval": "month" }), "unknown_interval"),
        (json!({ "pack": "credits_100", "interval": "month" }), "invalid_field"),
        (json!({ "plan": "pro", "interval": 12 }), "invalid_field"),
    ];
    for (body, code) in cases {
        let (status, json) = post(&t, "/api/checkout/create", body.clone(), Some(&token)).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some(code)), "{body}: {json}");
    }
    let (status, json) =
        post(&t, "/api/checkout/create", json!({ "plan": "pro", "interval": "month", "email": EMAIL }), None).await;
    assert_eq!((status, json["error"]["code"].as_str()), (401, Some("missing_token")));
    assert!(stripe.received_requests().await.unwrap().is_empty(), "nothing reached Stripe");
}

#[tokio::test]
async fn the_portal_opens_for_the_users_customer_and_404s_without_one() {
    let stripe = stripe().await;
    let t = app(&stripe).await;
    let (status, body) = post(&t, "/api/billing/portal", json!({}), Some(&bearer(&t))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("no_customer")));
    let (status, _) = post(&t, "/api/billing/portal", json!({}), None).await;
    assert_eq!(status, 401);
    let user = User {
        id: USER.into(),
        email: EMAIL.into(),
        created_at: 1,
        stripe_customer_id: Some("cus_test_new".into()),
        erased_at: None,
    };
    t.app.store.write(Write::put(user.to_item())).await.unwrap();
    let (status, body) = post(&t, "/api/billing/portal", json!({}), Some(&bearer(&t))).await;
    assert_eq!((status, body), (200, json!({ "url": PORTAL_URL })));
    let form = &sent_to(&stripe, "/v1/billing_portal/sessions").await[0].0;
    assert_eq!(form, &pairs(&[("customer", "cus_test_new"), ("return_url", "https://app.example.com/account")]));
    assert_real_form_fields("/v1/billing_portal/sessions", form);
}

async fn buy_pack(t: &TestApp) {
    let (status, body) = post(t, "/api/checkout/create", json!({ "pack": "credits_100" }), Some(&bearer(t))).await;
    assert_eq!(status, 200, "{body}");
}

fn coupon_of(form: &[(String, String)]) -> Option<String> {
    form.iter().find(|(k, _)| k == "discounts[0][coupon]").map(|(_, v)| v.clone())
}

#[tokio::test]
async fn members_get_their_coupon_three_times_a_month_and_an_expired_checkout_gives_one_back() {
    let stripe = stripe().await;
    let t = app(&stripe).await;
    // A Pro member (the store's PLANS item, as the webhook leaves it for an active subscription).
    let plans = Item::new(&keys::plans_held(USER))
        .with(&tollgate::store::schema::plans::until_attribute("pro"), OPEN_ENDED)
        .with(&tollgate::store::schema::plans::member_attribute("pro"), OPEN_ENDED);
    t.app.store.write(Write::put(plans)).await.unwrap();
    for _ in 0..4 {
        buy_pack(&t).await;
    }
    let forms: Vec<_> = sent_to(&stripe, "/v1/checkout/sessions").await.into_iter().map(|(f, _)| f).collect();
    let coupons: Vec<_> = forms.iter().map(|f| coupon_of(f)).collect();
    let members = Some("tollgate-members-pro-20pct".to_string());
    assert_eq!(
        coupons,
        vec![members.clone(), members.clone(), members.clone(), None],
        "three a month, then full price"
    );
    assert_real_form_fields("/v1/checkout/sessions", &forms[0]);
    let month = forms[0].iter().find(|(k, _)| k == "metadata[member_month]").map(|(_, v)| v.clone());
    assert_eq!(month.as_deref(), Some("2026-01"));

    // One of them expires unpaid: its use comes back, once.
    let order = forms[0].iter().find(|(k, _)| k == "metadata[order_id]").unwrap().1.clone();
    let mut session = testing::fixture_with(
        "checkout.session",
        json!({ "id": "cs_test_sub", "mode": "payment", "status": "expired", "payment_status": "unpaid", "client_reference_id": order }),
    );
    session["metadata"] =
        json!({ "order_id": order, "pack": "credits_100", "user_id": USER, "member_month": "2026-01" });
    for _ in 0..2 {
        let event = Event::parse(&testing::event("checkout.session.expired", session.clone())).unwrap();
        tollgate::domain::stripe_events::apply(&t.app, &event).await.unwrap();
    }
    assert_eq!(tollgate::domain::members::used_this_month(&t.app, USER).await.unwrap(), 2);
    buy_pack(&t).await;
    buy_pack(&t).await;
    let coupons: Vec<_> =
        sent_to(&stripe, "/v1/checkout/sessions").await.into_iter().map(|(f, _)| coupon_of(&f)).skip(4).collect();
    assert_eq!(coupons, vec![members.clone(), None]);

    t.clock.advance(31 * 86_400);
    buy_pack(&t).await;
    let last = sent_to(&stripe, "/v1/checkout/sessions").await.pop().unwrap().0;
    assert_eq!(coupon_of(&last), members, "a new month, a new allowance");
}

#[tokio::test]
async fn one_time_buyers_and_free_users_pay_full_price() {
    let stripe = stripe().await;
    let t = app(&stripe).await;
    let plans = Item::new(&keys::plans_held(USER)).with(&tollgate::store::schema::plans::held_attribute("pro"), 1);
    t.app.store.write(Write::put(plans)).await.unwrap();
    buy_pack(&t).await;
    let form = sent_to(&stripe, "/v1/checkout/sessions").await.remove(0).0;
    assert_eq!(coupon_of(&form), None, "lifetime Pro is not a subscription");
}
