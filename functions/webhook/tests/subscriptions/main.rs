//! Subscriptions through the webhook: Stripe's lifecycle delivered in every order ends in the
//! in-order state on both stores; ties and older events take Stripe's current state; access
//! follows status (trial, active, past_due grace, cancel at period end); billing events are
//! audited and their emails sent once.

mod emails_and_plans;

use rstest::rstest;
use serde_json::{Value, json};
use tollgate::domain::{billing, credits, entitlements, mail, subscriptions};
use tollgate::store::Write;
use tollgate::store::schema::User;
use tollgate_testkit::{
    self as testing, NOW, PRO_MONTHLY_PRICE, StoreKind, TestApp, event_at, older_shape, orderings, status_and_json,
    subscription_invoice, subscription_object, webhook_request,
};
use tollgate_webhook::handle;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const DAY: i64 = 24 * 3600;
/// The lifecycle happened at Stripe before it is delivered (at `NOW`).
const START: i64 = NOW - 40 * DAY;

fn ids(tag: &str) -> (String, String, String) {
    (format!("sub_{tag}"), format!("cus_{tag}"), format!("usr_{tag}"))
}

/// The subscription at step `step` of the lifecycle (0 created in trial, 1 active, 5 set to
/// cancel at period end, 6 deleted).
fn snapshot(tag: &str, step: usize) -> Value {
    let (sub, cus, usr) = ids(tag);
    let trial = (START, START + 30 * DAY);
    let paid = (START + 100, START + 100 + 30 * DAY);
    match step {
        0 => {
            let mut s = subscription_object(&sub, &cus, &usr, "trialing", PRO_MONTHLY_PRICE, trial);
            s["trial_end"] = json!(trial.1);
            s
        }
        1 => subscription_object(&sub, &cus, &usr, "active", PRO_MONTHLY_PRICE, paid),
        5 => {
            let mut s = subscription_object(&sub, &cus, &usr, "active", PRO_MONTHLY_PRICE, paid);
            s["cancel_at_period_end"] = json!(true);
            s["canceled_at"] = json!(START + 500);
            s
        }
        _ => {
            let mut s = subscription_object(&sub, &cus, &usr, "canceled", PRO_MONTHLY_PRICE, paid);
            s["cancel_at_period_end"] = json!(true);
            s["canceled_at"] = json!(START + 500);
            s["ended_at"] = json!(START + 600);
            s
        }
    }
}

/// The seven deliveries of the lifecycle, in the order Stripe created them: created, updated to
/// active, invoice.paid, invoice.payment_failed then invoice.paid again (the retry of the second
/// invoice), updated to cancel at period end, deleted.
fn lifecycle(tag: &str) -> Vec<Vec<u8>> {
    let (sub, cus, usr) = ids(tag);
    let evt = |i: usize| format!("evt_{tag}_{i}");
    let at = |i: usize| START + 100 * i as i64;
    vec![
        event_at(&evt(0), "customer.subscription.created", snapshot(tag, 0), at(0)),
        event_at(&evt(1), "customer.subscription.updated", snapshot(tag, 1), at(1)),
        event_at(
            &evt(2),
            "invoice.paid",
            subscription_invoice(&format!("in_{tag}_a"), &sub, &cus, &usr, "paid", 900),
            at(2),
        ),
        event_at(
            &evt(3),
            "invoice.payment_failed",
            subscription_invoice(&format!("in_{tag}_b"), &sub, &cus, &usr, "open", 900),
            at(3),
        ),
        event_at(
            &evt(4),
            "invoice.paid",
            subscription_invoice(&format!("in_{tag}_b"), &sub, &cus, &usr, "paid", 900),
            at(4),
        ),
        event_at(&evt(5), "customer.subscription.updated", snapshot(tag, 5), at(5)),
        event_at(&evt(6), "customer.subscription.deleted", snapshot(tag, 6), at(6)),
    ]
}

/// Stripe's `GET /v1/subscriptions/{id}`: every lifecycle has ended, so Stripe holds the deleted state.
struct StripeNow;

impl Respond for StripeNow {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let tag = request.url.path().trim_start_matches("/v1/subscriptions/sub_").to_string();
        ResponseTemplate::new(200).set_body_json(snapshot(&tag, 6))
    }
}

async fn stripe() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/v1/subscriptions/sub_[A-Za-z0-9_]+$"))
        .respond_with(StripeNow)
        .mount(&server)
        .await;
    server
}

async fn app_on(kind: StoreKind, stripe: &MockServer) -> TestApp {
    testing::app(kind.store().await, Some(&stripe.uri()), &[("PAST_DUE_GRACE_DAYS", "7")])
}

async fn add_user(t: &TestApp, tag: &str) {
    let (_, cus, usr) = ids(tag);
    let user = User {
        id: usr,
        email: format!("{tag}@example.com"),
        created_at: 1,
        stripe_customer_id: Some(cus),
        erased_at: None,
    };
    t.app.store.write(Write::put(user.to_item())).await.unwrap();
}

async fn deliver(t: &TestApp, body: &[u8]) -> (u16, Value) {
    status_and_json(&handle(&t.app, webhook_request(body, t.app.now())).await)
}

/// Everything the lifecycle leaves behind that a user or an administrator can see, with the
/// lifecycle's own ids taken out so different lifecycles compare.
async fn state(t: &TestApp, tag: &str) -> Value {
    let (sub_id, _, usr) = ids(tag);
    let subs = subscriptions::subscriptions_of(&t.app, &usr).await.unwrap();
    let sub = subs.iter().find(|s| s.id == sub_id).expect("the subscription is stored");
    let ent = entitlements::entitlement(&t.app, &usr).await.unwrap();
    let (audit, _) = billing::list(&t.app, &usr, 100, None).await.unwrap();
    let mut mails = Vec::new();
    for i in 0..7 {
        for (kind, status) in mail::outcomes(&t.app, &format!("evt_{tag}_{i}")).await.unwrap() {
            mails.push(json!([i, kind, status]));
        }
    }
    json!({
        "subscription": {
            "plan": sub.plan, "interval": sub.interval.map(|i| i.as_str()), "status": sub.status,
            "current_period_start": sub.current_period_start, "current_period_end": sub.current_period_end,
            "trial_end": sub.trial_end, "cancel_at_period_end": sub.cancel_at_period_end,
            "canceled_at": sub.canceled_at, "ended_at": sub.ended_at, "access_until": sub.access_until,
        },
        "plan": ent.plan.key,
        "plan_ends_at": ent.plan_ends_at,
        "summary_status": ent.subscription.map(|s| s.status),
        "credits": credits::balance(&t.app, &usr).await.unwrap(),
        "audit": audit.iter().map(|e| json!([e.event_type, e.amount, e.status, e.invoice.as_ref().map(|i| i.replace(tag, ""))])).collect::<Vec<_>>(),
        "mails": mails,
    })
}

/// Delivers `units` (groups of lifecycle events, each group in its own order) in every ordering
/// and checks each ends equal to the in-order result.
async fn every_order_ends_in_the_in_order_state(kind: StoreKind, units: &[&[usize]]) -> usize {
    let stripe = stripe().await;
    let t = app_on(kind, &stripe).await;
    add_user(&t, "inorder").await;
    for body in lifecycle("inorder") {
        assert_eq!(deliver(&t, &body).await.0, 200);
    }
    let expected = state(&t, "inorder").await;
    assert_eq!(expected["subscription"]["status"], "canceled");
    assert_eq!(expected["plan"], "free", "a deleted subscription grants nothing");
    assert_eq!(expected["credits"], 400, "two paid invoices of 200 credits each");
    assert_eq!(expected["audit"].as_array().unwrap().len(), 7, "every event is audited");
    assert_eq!(
        expected["mails"],
        json!([
            [2, "receipt", "sent"],
            [3, "payment_failed", "sent"],
            [4, "receipt", "sent"],
            [6, "subscription_canceled", "sent"]
        ])
    );
    let orders = orderings(units.len());
    for (n, order) in orders.iter().enumerate() {
        // A table of its own for each ordering: the DynamoDB test server copies a whole table
        // for every transaction, so one growing table would make this quadratic.
        let t = app_on(kind, &stripe).await;
        let tag = format!("p{n}");
        add_user(&t, &tag).await;
        let bodies = lifecycle(&tag);
        for unit in order {
            for i in units[*unit] {
                let (status, json) = deliver(&t, &bodies[*i]).await;
                assert_eq!(status, 200, "{json}");
            }
        }
        let got = state(&t, &tag).await;
        assert_eq!(got, expected, "delivery order {order:?} (units {units:?})");
    }
    orders.len()
}

#[tokio::test]
async fn every_order_of_the_seven_deliveries_ends_in_the_in_order_state_in_memory() {
    let units: Vec<&[usize]> = vec![&[0], &[1], &[2], &[3], &[4], &[5], &[6]];
    assert_eq!(every_order_ends_in_the_in_order_state(StoreKind::Memory, &units).await, 5040);
}

/// The six steps (the failed payment and its paid retry kept together), every ordering,
/// on DynamoDB (the server handles one call at a time; all 5,040 run in memory above).
#[tokio::test]
async fn every_order_of_the_six_step_lifecycle_ends_in_the_in_order_state_on_dynamodb() {
    let units: Vec<&[usize]> = vec![&[0], &[1], &[2], &[3, 4], &[5], &[6]];
    assert_eq!(every_order_ends_in_the_in_order_state(StoreKind::DynamoDb, &units).await, 720);
}

async fn stripe_calls(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

#[rstest]
#[tokio::test]
async fn a_tie_or_an_older_event_stores_stripes_current_state(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let stripe = stripe().await;
    let t = app_on(kind, &stripe).await;
    add_user(&t, "tie").await;
    let (sub, _, usr) = ids("tie");
    let active = event_at("evt_tie_a", "customer.subscription.updated", snapshot("tie", 1), START + 100);
    assert_eq!(deliver(&t, &active).await.1["outcome"], "subscription_applied");
    assert_eq!(stripe_calls(&stripe).await, 0, "a newer snapshot is applied without asking Stripe");
    let same_second = event_at("evt_tie_b", "customer.subscription.updated", snapshot("tie", 5), START + 100);
    assert_eq!(deliver(&t, &same_second).await.1["outcome"], "subscription_refreshed");
    assert_eq!(stripe_calls(&stripe).await, 1, "a tie is settled by Stripe");
    let stored = subscriptions::subscriptions_of(&t.app, &usr).await.unwrap();
    assert_eq!((stored[0].id.as_str(), stored[0].status.as_str()), (sub.as_str(), "canceled"), "Stripe's state now");
    assert_eq!(stored[0].applied, "fetched:evt_tie_b");
    let older = event_at("evt_tie_c", "customer.subscription.created", snapshot("tie", 0), START);
    assert_eq!(deliver(&t, &older).await.1["outcome"], "subscription_refreshed");
    assert_eq!(stripe_calls(&stripe).await, 2, "an older snapshot is not applied: Stripe is asked");
    assert_eq!(subscriptions::subscriptions_of(&t.app, &usr).await.unwrap()[0].status, "canceled");
}

#[rstest]
#[tokio::test]
async fn trial_then_active_then_past_due_keeps_access_for_the_grace_period(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let stripe = stripe().await;
    let t = app_on(kind, &stripe).await;
    add_user(&t, "grace").await;
    let (sub, cus, usr) = ids("grace");
    let plan = |t: &TestApp| {
        let app = t.app.clone();
        let usr = usr.clone();
        async move { entitlements::entitlement(&app, &usr).await.unwrap() }
    };
    let trial_end = NOW + 30 * DAY;
    let mut trial = subscription_object(&sub, &cus, &usr, "trialing", PRO_MONTHLY_PRICE, (NOW, trial_end));
    trial["trial_end"] = json!(trial_end);
    deliver(&t, &event_at("evt_g1", "customer.subscription.created", trial.clone(), NOW)).await;
    let ent = plan(&t).await;
    assert_eq!((ent.plan.key.as_str(), ent.plan_ends_at), ("pro", None), "a trial grants the plan, not set to end");
    assert_eq!(ent.subscription.as_ref().unwrap().status, "trialing");
    let (_, mail) =
        deliver(&t, &event_at("evt_g2", "customer.subscription.trial_will_end", trial, NOW + 27 * DAY)).await;
    assert_eq!(mail["outcome"], "subscription_applied");
    let trial_mail = t.outbox.last_to("grace@example.com").expect("the trial ending email");
    assert!(trial_mail.subject.contains("trial ends on 2026-02-14"), "{}", trial_mail.subject);

    t.clock.set(trial_end + 60);
    let active = subscription_object(&sub, &cus, &usr, "active", PRO_MONTHLY_PRICE, (trial_end, trial_end + 30 * DAY));
    deliver(&t, &event_at("evt_g3", "customer.subscription.updated", active, trial_end)).await;
    assert_eq!(plan(&t).await.plan.key, "pro");

    let renewal = trial_end + 30 * DAY;
    t.clock.set(renewal + 3600);
    let past_due = subscription_object(&sub, &cus, &usr, "past_due", PRO_MONTHLY_PRICE, (renewal, renewal + 30 * DAY));
    deliver(&t, &event_at("evt_g4", "customer.subscription.updated", past_due, renewal + 60)).await;
    let ent = plan(&t).await;
    assert_eq!(ent.plan.key, "pro", "past_due keeps the plan during the grace period");
    assert_eq!(ent.plan_ends_at, Some(renewal + 7 * DAY), "and says when it ends");
    t.clock.set(renewal + 7 * DAY - 1);
    assert_eq!(plan(&t).await.plan.key, "pro");
    t.clock.set(renewal + 7 * DAY);
    let ent = plan(&t).await;
    assert_eq!((ent.plan.key.as_str(), ent.plan_ends_at), ("free", None), "the grace period is over");
    assert_eq!(ent.subscription.unwrap().status, "past_due");

    let unpaid = subscription_object(&sub, &cus, &usr, "unpaid", PRO_MONTHLY_PRICE, (renewal, renewal + 30 * DAY));
    deliver(&t, &event_at("evt_g5", "customer.subscription.updated", unpaid, renewal + 8 * DAY)).await;
    t.clock.set(renewal + 3600);
    assert_eq!(plan(&t).await.plan.key, "free", "unpaid removes the plan whatever the time");
}

#[tokio::test]
async fn cancel_at_period_end_keeps_the_plan_until_the_period_ends() {
    let stripe = stripe().await;
    let t = app_on(StoreKind::Memory, &stripe).await;
    add_user(&t, "cape").await;
    let (sub, cus, usr) = ids("cape");
    let end = NOW + 10 * DAY;
    let mut cancelling = subscription_object(&sub, &cus, &usr, "active", PRO_MONTHLY_PRICE, (NOW - 20 * DAY, end));
    cancelling["cancel_at_period_end"] = json!(true);
    deliver(&t, &event_at("evt_c1", "customer.subscription.updated", cancelling, NOW)).await;
    let ent = entitlements::entitlement(&t.app, &usr).await.unwrap();
    assert_eq!((ent.plan.key.as_str(), ent.plan_ends_at), ("pro", Some(end)));
    assert!(ent.subscription.unwrap().cancel_scheduled);
    let token = testing::token(&t.app, &usr, "cape@example.com");
    let verify = tollgate_claim_verify(&t, &token).await;
    assert_eq!((verify["plan"].as_str(), verify["plan_ends_at"].as_str()), (Some("pro"), Some("2026-01-25T12:00:00Z")));
    t.clock.set(end);
    assert_eq!(entitlements::entitlement(&t.app, &usr).await.unwrap().plan.key, "free", "the period is over");
    let (token, ent) = entitlements::token_for(&t.app, &usr, "cape@example.com").await.unwrap();
    assert_eq!(ent.plan.key, "free");
    assert_eq!(t.app.tokens.verify(&token, t.app.now()).unwrap().plan, "free", "a new token says so too");
}

/// `GET /api/pro/verify` is served by the claim function; the webhook crate reads the same store.
async fn tollgate_claim_verify(t: &TestApp, token: &str) -> Value {
    let ent = entitlements::entitlement(&t.app, &t.app.tokens.verify(token, t.app.now()).unwrap().sub).await.unwrap();
    serde_json::to_value(tollgate::http::api::Held::from(&ent)).unwrap()
}

#[tokio::test]
async fn the_older_api_shape_stores_the_same_subscription() {
    let stripe = stripe().await;
    let t = app_on(StoreKind::Memory, &stripe).await;
    for (tag, shape) in [("nowshape", false), ("oldshape", true)] {
        add_user(&t, tag).await;
        let mut s = snapshot(tag, 5);
        if shape {
            s = older_shape(s);
            assert!(s["items"]["data"][0].get("current_period_end").is_none() && s["current_period_end"].is_number());
        }
        deliver(&t, &event_at(&format!("evt_{tag}"), "customer.subscription.updated", s, START + 500)).await;
    }
    let now = subscriptions::subscriptions_of(&t.app, "usr_nowshape").await.unwrap().remove(0);
    let old = subscriptions::subscriptions_of(&t.app, "usr_oldshape").await.unwrap().remove(0);
    assert_eq!(now.current_period_end, Some(START + 100 + 30 * DAY));
    assert_eq!(
        (old.current_period_start, old.current_period_end, old.access_until, old.plan, old.status),
        (now.current_period_start, now.current_period_end, now.access_until, now.plan, now.status)
    );
}

#[tokio::test]
async fn an_older_invoice_shape_is_audited_with_its_subscription() {
    let stripe = stripe().await;
    let t = app_on(StoreKind::Memory, &stripe).await;
    add_user(&t, "oldinv").await;
    let (sub, cus, usr) = ids("oldinv");
    let mut invoice = subscription_invoice("in_old", &sub, &cus, &usr, "open", 900);
    let object = invoice.as_object_mut().unwrap();
    object.remove("parent");
    object.insert("subscription".into(), json!(sub));
    deliver(&t, &event_at("evt_oldinv", "invoice.payment_failed", invoice, NOW)).await;
    let (audit, _) = billing::list(&t.app, &usr, 10, None).await.unwrap();
    assert_eq!(audit[0].subscription.as_deref(), Some(sub.as_str()), "found through the customer");
    let failed = t.outbox.last_to("oldinv@example.com").expect("the payment failed email");
    assert!(failed.text.contains("https://invoice.stripe.com/i/in_old"), "{}", failed.text);
    let html = failed.html.unwrap();
    assert!(
        html.contains("href=\"https:&#x2f;&#x2f;invoice.stripe.com&#x2f;i&#x2f;in_old\""),
        "escaped in HTML: {html}"
    );
}
