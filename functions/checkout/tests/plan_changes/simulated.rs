//! Plan changes on the simulated Stripe that `make dev` runs.

use serde_json::json;
use tollgate::domain::{sessions, stripe_events, subscriptions};
use tollgate::stripe::Event;
use tollgate_checkout::handle;
use tollgate_testkit::{self as testing, NOW, TestApp, request, status_and_json};

use super::{DAY, USER, call, seen, simulated_app};

async fn apply(t: &TestApp, events: Vec<Vec<u8>>) {
    for body in events {
        stripe_events::apply(&t.app, &Event::parse(&body).unwrap()).await.unwrap();
    }
}

/// The simulated Stripe (what `make dev` runs): subscribe to Pro, downgrade to Basic, and at the
/// renewal the plan, its caps and its price switch; sessions over the new cap are kept and new
/// ones refused.
#[tokio::test]
async fn on_the_simulated_stripe_a_downgrade_happens_at_the_renewal_and_keeps_data() {
    let t = simulated_app().await;
    let token = testing::token(&t.app, USER, "plan@example.com");
    let (status, started) = status_and_json(
        &handle(
            &t.app,
            request("POST", "/api/checkout/create", Some(&json!({ "plan": "pro", "interval": "month" })), Some(&token)),
        )
        .await,
    );
    assert_eq!(status, 200, "{started}");
    let sim = t.app.stripe.simulator().unwrap().clone();
    apply(&t, sim.pay(started["session_id"].as_str().unwrap(), NOW).unwrap()).await;
    let sub_id = subscriptions::subscriptions_of(&t.app, USER).await.unwrap()[0].id.clone();
    apply(&t, sim.renew(&sub_id, NOW).unwrap()).await; // out of the trial
    assert_eq!(seen(&t).await.0, "pro");
    for i in 0..25 {
        sessions::create(&t.app, USER, "pro", None, &json!({ "n": i })).await.unwrap();
    }
    let (status, body) =
        call(&t, "POST", "/api/billing/change", Some(json!({ "plan": "basic", "interval": "month" }))).await;
    assert_eq!((status, body["effective"].as_str()), (200, Some("period_end")), "{body}");
    let (plan, next) = seen(&t).await;
    assert_eq!((plan.as_str(), next.map(|n| n.0)), ("pro", Some("basic".to_string())));
    t.clock.advance(31 * DAY);
    apply(&t, sim.renew(&sub_id, t.app.now()).unwrap()).await;
    assert_eq!(seen(&t).await, ("basic".to_string(), None), "the renewal carried the change out");
    let stored = subscriptions::subscriptions_of(&t.app, USER).await.unwrap();
    assert_eq!(stored[0].amount, Some(500), "billed at Basic's price from the catalog");
    let refused = sessions::create(&t.app, USER, "basic", None, &json!({})).await.unwrap_err();
    assert_eq!(refused.code(), "session_limit_reached", "25 sessions kept, over Basic's 20: no new one");
    assert_eq!(sessions::list(&t.app, USER, None, 100, None).await.unwrap().sessions.len(), 25, "none lost");
    // And back up: now, prorated.
    let (status, preview) = call(&t, "GET", "/api/billing/change/preview?plan=pro&interval=month", None).await;
    assert_eq!((status, preview["effective"].as_str()), (200, Some("now")), "{preview}");
    assert!(preview["amount_due_now"].as_i64().unwrap() > 0);
    let (status, body) =
        call(&t, "POST", "/api/billing/change", Some(json!({ "plan": "pro", "interval": "month" }))).await;
    assert_eq!((status, body["effective"].as_str()), (200, Some("now")), "{body}");
    assert_eq!(seen(&t).await.0, "pro");
}
