//! Plan changes (`/api/billing/change`) against a Stripe mock that keeps state: an upgrade
//! switches the price now with the proration invoiced; a downgrade becomes a subscription
//! schedule and shows as `scheduled_change` until canceled; the preview is Stripe's invoice
//! preview. Every request is checked against Stripe's spec; every refusal has its code. And the
//! whole path on the simulated Stripe: subscribe, upgrade, downgrade, renew, caps kept.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tollgate::domain::{entitlements, subscriptions};
use tollgate::store::schema::User;
use tollgate::store::{Store, Tx, Write};
use tollgate_checkout::handle;
use tollgate_testkit::{
    self as testing, BASIC_MONTHLY_PRICE, NOW, PRO_MONTHLY_PRICE, TestApp, assert_real_form_fields,
    assert_real_operation, assert_real_preview_fields, form_fields, request, status_and_json, subscription_object,
};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod simulated;

const USER: &str = "usr_plan";
const CUS: &str = "cus_plan";
const SUB: &str = "sub_plan";
const DAY: i64 = 24 * 3600;
const PERIOD: (i64, i64) = (NOW - 5 * DAY, NOW + 25 * DAY);
const PRO_YEARLY_PRICE: &str = "price_test_pro_yearly";

/// Stripe holding one subscription and (once made) its schedule; every request checked against
/// Stripe's spec and kept.
#[derive(Clone)]
struct Stripe {
    state: Arc<Mutex<State>>,
}

/// (method, path, form) of one request.
type Received = (String, String, Vec<(String, String)>);

struct State {
    sub: Value,
    schedule: Option<Value>,
    received: Vec<Received>,
    /// Answer the next price change with a declined card.
    decline: bool,
}

fn phase(start: i64, end: i64, price: &str) -> Value {
    json!({ "start_date": start, "end_date": end, "items": [{ "price": price, "quantity": 1 }] })
}

impl Respond for Stripe {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        let method = request.method.to_string();
        let path = request.url.path().to_string();
        let form = if method == "POST" { form_fields(&request.body) } else { vec![] };
        assert_eq!(request.headers.get("stripe-version").unwrap(), tollgate::stripe::client::API_VERSION);
        if method == "POST" {
            assert!(request.headers.get("idempotency-key").is_some(), "POST {path} has no idempotency key");
        }
        state.received.push((method.clone(), path.clone(), form.clone()));
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
        match (method.as_str(), path.as_str()) {
            ("GET", p) if p == format!("/v1/subscriptions/{SUB}") => ok(state.sub.clone()),
            ("POST", p) if p == format!("/v1/subscriptions/{SUB}") => {
                assert_real_form_fields("/v1/subscriptions/{subscription_exposed_id}", &form);
                if std::mem::take(&mut state.decline) {
                    return ResponseTemplate::new(402).set_body_json(
                        json!({ "error": { "type": "card_error", "message": "Your card was declined." } }),
                    );
                }
                let price = field("items[0][price]").unwrap();
                state.sub["items"]["data"][0]["price"]["id"] = json!(price);
                ok(state.sub.clone())
            }
            ("POST", "/v1/subscription_schedules") => {
                assert_real_form_fields("/v1/subscription_schedules", &form);
                assert_eq!(field("from_subscription").as_deref(), Some(SUB));
                let price = state.sub["items"]["data"][0]["price"]["id"].clone();
                let schedule = testing::fixture_with(
                    "subscription_schedule",
                    json!({ "id": "sub_sched_plan", "subscription": SUB, "customer": CUS, "status": "active" }),
                );
                let mut schedule = schedule;
                schedule["phases"] = json!([phase(PERIOD.0, PERIOD.1, price.as_str().unwrap())]);
                state.sub["schedule"] = json!("sub_sched_plan");
                state.schedule = Some(schedule.clone());
                ok(schedule)
            }
            ("POST", "/v1/subscription_schedules/sub_sched_plan") => {
                assert_real_form_fields("/v1/subscription_schedules/{schedule}", &form);
                let num = |name: &str| field(name).and_then(|v| v.parse::<i64>().ok()).unwrap();
                let first = phase(
                    num("phases[0][start_date]"),
                    num("phases[0][end_date]"),
                    &field("phases[0][items][0][price]").unwrap(),
                );
                let second_price = field("phases[1][items][0][price]").unwrap();
                let end = num("phases[0][end_date]");
                let schedule = state.schedule.as_mut().expect("made first");
                schedule["phases"] = json!([first, phase(end, end + 30 * DAY, &second_price)]);
                ok(schedule.clone())
            }
            ("GET", "/v1/subscription_schedules/sub_sched_plan") => ok(state.schedule.clone().unwrap()),
            ("POST", "/v1/subscription_schedules/sub_sched_plan/release") => {
                assert_real_form_fields("/v1/subscription_schedules/{schedule}/release", &form);
                let schedule = state.schedule.as_mut().expect("made first");
                schedule["status"] = json!("released");
                schedule["released_subscription"] = json!(SUB);
                schedule["subscription"] = Value::Null;
                let answer = schedule.clone();
                state.sub["schedule"] = Value::Null;
                ok(answer)
            }
            ("POST", "/v1/invoices/create_preview") => {
                assert_real_preview_fields(&form);
                ok(testing::fixture_with(
                    "invoice",
                    json!({ "amount_due": 1234, "currency": "usd", "lines": { "data": [
                    { "amount": 1234, "description": "Remaining time on Pro after 28 Nov 2026" }
                ] } }),
                ))
            }
            _ => panic!("unexpected {method} {path}"),
        }
    }
}

impl Stripe {
    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
    fn posts_to(&self, path: &str) -> Vec<Vec<(String, String)>> {
        self.received().into_iter().filter(|(m, p, _)| m == "POST" && p == path).map(|(_, _, f)| f).collect()
    }
}

async fn setup(price: &str) -> (TestApp, Stripe, MockServer) {
    let mut sub = subscription_object(SUB, CUS, USER, "active", price, PERIOD);
    sub["items"]["data"][0]["id"] = json!("si_plan");
    sub["schedule"] = Value::Null;
    let stripe =
        Stripe { state: Arc::new(Mutex::new(State { sub, schedule: None, received: vec![], decline: false })) };
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(stripe.clone()).mount(&server).await;
    let t = testing::app(Store::memory(), Some(&server.uri()), &[]);
    let user = User {
        id: USER.into(),
        email: "plan@example.com".into(),
        created_at: 1,
        stripe_customer_id: Some(CUS.into()),
        erased_at: None,
    };
    t.app.store.write(Write::put(user.to_item())).await.unwrap();
    subscriptions::sync(&t.app, USER, SUB, "evt_start", &|_| Tx::new()).await.unwrap();
    for (_, path, _) in stripe.received() {
        assert_real_operation("GET", &path);
    }
    (t, stripe, server)
}

async fn call(t: &TestApp, method: &str, route: &str, body: Option<Value>) -> (u16, Value) {
    let token = testing::token(&t.app, USER, "plan@example.com");
    status_and_json(&handle(&t.app, request(method, route, body.as_ref(), Some(&token))).await)
}

async fn seen(t: &TestApp) -> (String, Option<(String, Option<String>, i64)>) {
    let ent = entitlements::entitlement(&t.app, USER).await.unwrap();
    (ent.plan.key.clone(), ent.subscription.and_then(|s| s.next))
}

fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn an_upgrade_switches_the_price_now_with_the_proration_invoiced() {
    let (t, stripe, _server) = setup(BASIC_MONTHLY_PRICE).await;
    assert_eq!(seen(&t).await.0, "basic");
    let (status, body) =
        call(&t, "POST", "/api/billing/change", Some(json!({ "plan": "pro", "interval": "month" }))).await;
    assert_eq!((status, body["effective"].as_str()), (200, Some("now")), "{body}");
    assert_eq!(body["at"], Value::Null);
    assert_eq!(
        stripe.posts_to(&format!("/v1/subscriptions/{SUB}")),
        vec![pairs(&[
            ("items[0][id]", "si_plan"),
            ("items[0][price]", PRO_MONTHLY_PRICE),
            ("proration_behavior", "always_invoice"),
            ("payment_behavior", "error_if_incomplete"),
            ("metadata[plan]", "pro"),
            ("metadata[interval]", "month"),
        ])]
    );
    assert_eq!(seen(&t).await, ("pro".to_string(), None), "Stripe's answer is applied at once");
    let (status, body) =
        call(&t, "POST", "/api/billing/change", Some(json!({ "plan": "pro", "interval": "month" }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_on_plan")), "{body}");
}

#[tokio::test]
async fn a_declined_upgrade_is_402_and_changes_nothing() {
    let (t, stripe, _server) = setup(BASIC_MONTHLY_PRICE).await;
    stripe.state.lock().unwrap().decline = true;
    let (status, body) =
        call(&t, "POST", "/api/billing/change", Some(json!({ "plan": "pro", "interval": "month" }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some("payment_failed")), "{body}");
    assert_eq!(seen(&t).await, ("basic".to_string(), None));
}

#[tokio::test]
async fn a_downgrade_waits_for_the_period_end_and_can_be_canceled() {
    let (t, stripe, _server) = setup(PRO_MONTHLY_PRICE).await;
    let (status, body) =
        call(&t, "POST", "/api/billing/change", Some(json!({ "plan": "basic", "interval": "month" }))).await;
    assert_eq!((status, body["effective"].as_str()), (200, Some("period_end")), "{body}");
    assert_eq!(body["at"], tollgate::clock::rfc3339(PERIOD.1));
    assert_eq!(stripe.posts_to("/v1/subscription_schedules"), vec![pairs(&[("from_subscription", SUB)])]);
    let update = stripe.posts_to("/v1/subscription_schedules/sub_sched_plan");
    let (start, end) = (PERIOD.0.to_string(), PERIOD.1.to_string());
    assert_eq!(
        update,
        vec![pairs(&[
            ("end_behavior", "release"),
            ("proration_behavior", "none"),
            ("phases[0][items][0][price]", PRO_MONTHLY_PRICE),
            ("phases[0][items][0][quantity]", "1"),
            ("phases[0][start_date]", &start),
            ("phases[0][end_date]", &end),
            ("phases[1][items][0][price]", BASIC_MONTHLY_PRICE),
            ("phases[1][items][0][quantity]", "1"),
            ("phases[1][iterations]", "1"),
            ("metadata[user_id]", USER),
            ("metadata[plan]", "basic"),
            ("metadata[interval]", "month"),
        ])]
    );
    assert_eq!(seen(&t).await, ("pro".to_string(), Some(("basic".into(), Some("month".into()), PERIOD.1))));
    let (status, ent) = status_and_json(
        &tollgate_checkout::handle(
            &t.app,
            request(
                "GET",
                "/api/billing/change/preview?plan=basic&interval=month",
                None,
                Some(&testing::token(&t.app, USER, "plan@example.com")),
            ),
        )
        .await,
    );
    assert_eq!(
        (status, ent["amount_due_now"].as_i64(), ent["effective"].as_str()),
        (200, Some(0), Some("period_end")),
        "{ent}"
    );
    assert!(
        stripe.posts_to("/v1/invoices/create_preview").is_empty(),
        "a change at the period's end costs nothing now"
    );

    let (status, body) = call(&t, "DELETE", "/api/billing/change", None).await;
    assert_eq!((status, &body), (200, &json!({ "canceled": true })));
    assert_eq!(stripe.posts_to("/v1/subscription_schedules/sub_sched_plan/release").len(), 1);
    assert_eq!(seen(&t).await, ("pro".to_string(), None));
    let (status, body) = call(&t, "DELETE", "/api/billing/change", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("no_scheduled_change")), "{body}");
}

#[tokio::test]
async fn an_upgrade_replaces_a_scheduled_downgrade() {
    let (t, stripe, _server) = setup(PRO_MONTHLY_PRICE).await;
    let (status, _) =
        call(&t, "POST", "/api/billing/change", Some(json!({ "plan": "basic", "interval": "month" }))).await;
    assert_eq!(status, 200);
    let (status, body) =
        call(&t, "POST", "/api/billing/change", Some(json!({ "plan": "pro", "interval": "year" }))).await;
    assert_eq!((status, body["effective"].as_str()), (200, Some("now")), "{body}");
    let order: Vec<String> = stripe.received().into_iter().filter(|(m, _, _)| m == "POST").map(|(_, p, _)| p).collect();
    assert_eq!(
        order[order.len() - 2..],
        ["/v1/subscription_schedules/sub_sched_plan/release".to_string(), format!("/v1/subscriptions/{SUB}")]
    );
    let (plan, next) = seen(&t).await;
    assert_eq!((plan.as_str(), next), ("pro", None));
    let stored = subscriptions::subscriptions_of(&t.app, USER).await.unwrap();
    assert_eq!(stored[0].interval.map(|i| i.as_str()), Some("year"));
    assert_eq!(stripe.state.lock().unwrap().sub["items"]["data"][0]["price"]["id"], PRO_YEARLY_PRICE);
}

#[tokio::test]
async fn the_preview_of_an_upgrade_is_stripes_invoice_preview() {
    let (t, stripe, _server) = setup(BASIC_MONTHLY_PRICE).await;
    let (status, body) = call(&t, "GET", "/api/billing/change/preview?plan=pro&interval=month", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["effective"], "now");
    assert_eq!((body["amount_due_now"].as_i64(), body["currency"].as_str()), (Some(1234), Some("usd")));
    assert_eq!(body["lines"][0]["amount"], 1234);
    assert_eq!(
        stripe.posts_to("/v1/invoices/create_preview"),
        vec![pairs(&[
            ("customer", CUS),
            ("subscription", SUB),
            ("subscription_details[items][0][id]", "si_plan"),
            ("subscription_details[items][0][price]", PRO_MONTHLY_PRICE),
            ("subscription_details[proration_behavior]", "always_invoice"),
        ])]
    );
    assert_eq!(seen(&t).await.0, "basic", "a preview changes nothing");
}

#[tokio::test]
async fn every_refusal_has_its_code() {
    let (t, stripe, _server) = setup(BASIC_MONTHLY_PRICE).await;
    let cases = [
        (json!({ "plan": "pro" }), 400, "missing_field"),
        (json!({ "interval": "month" }), 400, "missing_field"),
        (json!({ "plan": "platinum", "interval": "month" }), 400, "unknown_plan"),
        (json!({ "plan": "free", "interval": "month" }), 400, "unknown_plan"),
        (json!({ "plan": "pro", "interval": "week" }), 400, "invalid_field"),
        (json!({ "plan": "basic", "interval": "month" }), 409, "already_on_plan"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = call(&t, "POST", "/api/billing/change", Some(body.clone())).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body}: {answer}");
    }
    let (status, body) = call(&t, "GET", "/api/billing/change/preview?plan=pro", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("missing_field")));
    let (status, _) = status_and_json(
        &handle(
            &t.app,
            request("POST", "/api/billing/change", Some(&json!({ "plan": "pro", "interval": "month" })), None),
        )
        .await,
    );
    assert_eq!(status, 401);
    // Set to end: renew first.
    stripe.state.lock().unwrap().sub["cancel_at_period_end"] = json!(true);
    let (status, body) =
        call(&t, "POST", "/api/billing/change", Some(json!({ "plan": "pro", "interval": "month" }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("subscription_ending")), "{body}");
    assert!(stripe.posts_to(&format!("/v1/subscriptions/{SUB}")).is_empty(), "nothing was changed at Stripe");
}

#[tokio::test]
async fn without_a_subscription_there_is_nothing_to_change() {
    let t = simulated_app().await;
    for (method, route, body) in [
        ("POST", "/api/billing/change", Some(json!({ "plan": "pro", "interval": "month" }))),
        ("DELETE", "/api/billing/change", None),
        ("GET", "/api/billing/change/preview?plan=pro&interval=month", None),
    ] {
        let (status, answer) = call(&t, method, route, body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (404, Some("no_subscription")),
            "{method} {route}: {answer}"
        );
    }
}

/// An app on the simulated Stripe with the user, who has no Stripe customer yet.
async fn simulated_app() -> TestApp {
    let t = testing::app(Store::memory(), None, &[]);
    let user = User {
        id: USER.into(),
        email: "plan@example.com".into(),
        created_at: 1,
        stripe_customer_id: None,
        erased_at: None,
    };
    t.app.store.write(Write::put(user.to_item())).await.unwrap();
    t
}
