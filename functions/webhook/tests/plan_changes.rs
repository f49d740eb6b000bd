//! Plan changes through the webhook: a downgrade scheduled for the period's end (a subscription
//! schedule), released, or carried out at the renewal, delivered in every order on both stores,
//! ends where in-order delivery ends: the plan Stripe bills and the change still to come.

use rstest::rstest;
use serde_json::{Value, json};
use tollgate::domain::{entitlements, subscriptions};
use tollgate::store::Write;
use tollgate::store::schema::User;
use tollgate_testkit::{
    self as testing, BASIC_MONTHLY_PRICE, NOW, PRO_MONTHLY_PRICE, StoreKind, TestApp, event_at, orderings,
    schedule_object, status_and_json, subscription_object, webhook_request,
};
use tollgate_webhook::handle;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DAY: i64 = 24 * 3600;
const SUB: &str = "sub_change";
const CUS: &str = "cus_change";
const USR: &str = "usr_change";
const SCHED: &str = "sub_sched_change";

/// A scenario: the deliveries in the order Stripe created them, and what Stripe holds now.
struct Scenario {
    deliveries: Vec<Vec<u8>>,
    subscription_now: Value,
    schedule_now: Value,
}

fn sub(price: &str, period: (i64, i64)) -> Value {
    subscription_object(SUB, CUS, USR, "active", price, period)
}

fn schedule(status: &str, phases: &[(i64, i64, &str)]) -> Value {
    schedule_object(SCHED, SUB, CUS, status, phases)
}

/// Pro monthly, scheduled down to Basic at the end of a period that is still running: the
/// schedule is made from the subscription (one phase) and given its second phase in the same
/// second.
fn pending(period: (i64, i64)) -> (Vec<Vec<u8>>, Value) {
    let one = schedule("active", &[(period.0, period.1, PRO_MONTHLY_PRICE)]);
    let two = schedule(
        "active",
        &[(period.0, period.1, PRO_MONTHLY_PRICE), (period.1, period.1 + 30 * DAY, BASIC_MONTHLY_PRICE)],
    );
    let t = period.0 + 3600;
    let deliveries = vec![
        event_at("evt_c0", "customer.subscription.created", sub(PRO_MONTHLY_PRICE, period), period.0),
        event_at("evt_c1", "subscription_schedule.created", one, t),
        event_at("evt_c2", "subscription_schedule.updated", two.clone(), t),
    ];
    (deliveries, two)
}

fn scheduled() -> Scenario {
    let period = (NOW - 10 * DAY, NOW + 20 * DAY);
    let (deliveries, two) = pending(period);
    Scenario { deliveries, subscription_now: sub(PRO_MONTHLY_PRICE, period), schedule_now: two }
}

fn released() -> Scenario {
    let period = (NOW - 10 * DAY, NOW + 20 * DAY);
    let (mut deliveries, two) = pending(period);
    let mut gone = two;
    gone["status"] = json!("released");
    gone["released_subscription"] = json!(SUB);
    gone["subscription"] = Value::Null;
    deliveries.push(event_at("evt_c3", "subscription_schedule.released", gone.clone(), period.0 + 7200));
    Scenario { deliveries, subscription_now: sub(PRO_MONTHLY_PRICE, period), schedule_now: gone }
}

fn carried_out() -> Scenario {
    let first = (NOW - 40 * DAY, NOW - 10 * DAY);
    let second = (first.1, first.1 + 30 * DAY);
    let (mut deliveries, two) = pending(first);
    let renewed = sub(BASIC_MONTHLY_PRICE, second);
    deliveries.push(event_at("evt_c3", "customer.subscription.updated", renewed.clone(), second.0));
    Scenario { deliveries, subscription_now: renewed, schedule_now: two }
}

async fn stripe_holding(scenario: &Scenario) -> MockServer {
    let server = MockServer::start().await;
    let answer = |p: String, body: Value| {
        Mock::given(method("GET")).and(path(p)).respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    answer(format!("/v1/subscriptions/{SUB}"), scenario.subscription_now.clone()).mount(&server).await;
    answer(format!("/v1/subscription_schedules/{SCHED}"), scenario.schedule_now.clone()).mount(&server).await;
    server
}

async fn app_on(kind: StoreKind, stripe: &MockServer) -> TestApp {
    let t = testing::app(kind.store().await, Some(&stripe.uri()), &[]);
    let user = User {
        id: USR.into(),
        email: "change@example.com".into(),
        created_at: 1,
        stripe_customer_id: Some(CUS.into()),
        erased_at: None,
    };
    t.app.store.write(Write::put(user.to_item())).await.unwrap();
    t
}

/// What a user or an administrator sees of the change.
async fn state(t: &TestApp) -> Value {
    let subs = subscriptions::subscriptions_of(&t.app, USR).await.unwrap();
    let sub = subs.iter().find(|s| s.id == SUB).expect("the subscription is stored");
    let ent = entitlements::entitlement(&t.app, USR).await.unwrap();
    json!({
        "plan": ent.plan.key,
        "billed": [sub.plan, sub.current_period_start],
        "scheduled": sub.scheduled.as_ref().map(|c| json!([c.plan, c.interval.map(|i| i.as_str()), c.at])),
        "summary_next": ent.subscription.and_then(|s| s.next).map(|(p, i, at)| json!([p, i, at])),
    })
}

async fn every_order(kind: StoreKind, scenario: Scenario, expected: Value) {
    let stripe = stripe_holding(&scenario).await;
    for order in orderings(scenario.deliveries.len()) {
        let t = app_on(kind, &stripe).await;
        for i in &order {
            let (status, body) = status_and_json(&handle(&t.app, webhook_request(&scenario.deliveries[*i], NOW)).await);
            assert_eq!(status, 200, "order {order:?}, delivery {i}: {body}");
        }
        assert_eq!(state(&t).await, expected, "delivery order {order:?}");
        // Every delivery again: nothing changes.
        for body in &scenario.deliveries {
            let (status, answer) = status_and_json(&handle(&t.app, webhook_request(body, NOW)).await);
            assert_eq!((status, answer["duplicate"].clone()), (200, json!(true)), "{answer}");
        }
        assert_eq!(state(&t).await, expected, "after re-deliveries, order {order:?}");
    }
}

#[rstest]
#[case::memory(StoreKind::Memory)]
#[case::dynamodb(StoreKind::DynamoDb)]
#[tokio::test]
async fn a_scheduled_downgrade_shows_until_the_period_ends_in_every_order(#[case] kind: StoreKind) {
    let end = NOW + 20 * DAY;
    let expected = json!({
        "plan": "pro",
        "billed": ["pro", NOW - 10 * DAY],
        "scheduled": ["basic", "month", end],
        "summary_next": ["basic", "month", end],
    });
    every_order(kind, scheduled(), expected).await;
}

#[rstest]
#[case::memory(StoreKind::Memory)]
#[case::dynamodb(StoreKind::DynamoDb)]
#[tokio::test]
async fn a_released_schedule_leaves_no_change_in_every_order(#[case] kind: StoreKind) {
    let expected = json!({ "plan": "pro", "billed": ["pro", NOW - 10 * DAY], "scheduled": null, "summary_next": null });
    every_order(kind, released(), expected).await;
}

#[rstest]
#[case::memory(StoreKind::Memory)]
#[case::dynamodb(StoreKind::DynamoDb)]
#[tokio::test]
async fn a_downgrade_carried_out_at_the_renewal_switches_the_plan_in_every_order(#[case] kind: StoreKind) {
    let expected =
        json!({ "plan": "basic", "billed": ["basic", NOW - 10 * DAY], "scheduled": null, "summary_next": null });
    every_order(kind, carried_out(), expected).await;
}
