//! The admin metrics, on both stores, through the real router: every counter moved by the change
//! it counts, in the same write, and read back per UTC day.

#[path = "support/mod.rs"]
mod support;

use rstest::rstest;
use serde_json::{Value, json};
use support::Harness;
use tollgate_testkit::{StoreKind, raw_request, status_and_json};

const ADMIN: &str = "admin@example.com";

fn day_row<'a>(daily: &'a Value, day: &str) -> &'a Value {
    daily["days"].as_array().unwrap().iter().find(|d| d["day"] == day).unwrap_or_else(|| panic!("{day} in {daily}"))
}

#[rstest]
#[tokio::test]
async fn the_metrics_count_deliveries_sign_ins_credits_and_subscriptions(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[("ADMIN_EMAILS", ADMIN), ("APP_VERSION", "v1.2.3")]).await;
    let (admin, _) = h.sign_in(ADMIN).await;
    let (ada, _) = h.sign_in("ada@example.com").await;
    let (bob, _) = h.sign_in("bob@example.com").await;
    let today = tollgate::clock::day_id(h.t.app.now());

    // Ada: a credit pack (three events, one delivered twice), then spends 7.
    let pack = h.checkout(Some(&ada), json!({ "pack": "credits_100" })).await;
    let events = h.pay(&pack);
    h.deliver_all(&events).await;
    let (status, again) = h.deliver(&events[0]).await;
    assert_eq!((status, &again["duplicate"]), (200, &json!(true)), "{again}");
    let (status, _) =
        h.call("POST", "/api/credits/debit", Some(json!({ "amount": 7, "reason": "lesson" })), Some(&ada)).await;
    assert_eq!(status, 200);
    // Bob: a monthly subscription with a trial, its first paid period, then a cancellation.
    let sub = h.checkout(Some(&bob), json!({ "plan": "pro", "interval": "month" })).await;
    h.deliver_all(&h.pay(&sub)).await;
    let sub_id = h.subscription_id(&bob).await;
    let (status, m) = h.call("GET", "/api/admin/metrics", None, Some(&admin)).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["subscriptions"]["by_plan"], json!({ "pro": { "trialing": 1 } }), "{m}");
    assert_eq!(
        (m["subscriptions"]["paying"].as_i64(), m["subscriptions"]["mrr"].clone()),
        (Some(0), json!({})),
        "trials bring nothing in"
    );
    h.deliver_all(&h.sim().renew(&sub_id, h.t.app.now()).unwrap()).await;
    let (_, m) = h.call("GET", "/api/admin/metrics", None, Some(&admin)).await;
    let subs = &m["subscriptions"];
    assert_eq!(subs["by_plan"], json!({ "pro": { "active": 1 } }), "{m}");
    assert_eq!(subs["paying"], 1);
    let monthly = subs["mrr"]["usd"].as_i64().unwrap_or_else(|| panic!("MRR in usd: {m}"));
    assert!(monthly > 0);
    assert_eq!(subs["arr"]["usd"], monthly * 12);
    assert_eq!((subs["trial_starts"].as_i64(), subs["conversions"].as_i64()), (Some(1), Some(1)), "{m}");
    h.deliver(&h.sim().cancel(&sub_id, false, h.t.app.now()).unwrap()).await;

    // A forged delivery costs no write, so the store does not count it; a signed body that is
    // not an event is rejected, and counted.
    let forged = raw_request(
        "POST",
        "/api/stripe/webhook",
        &[("stripe-signature", "t=1,v1=00")],
        br#"{"id":"evt_forged"}"#.to_vec(),
        "203.0.113.9",
    );
    assert_eq!(status_and_json(&tollgate_cli::route(&h.t.app, forged).await).0, 400);
    let (status, _) = h.deliver(br#"{"hello":"signed, but not an event"}"#).await;
    assert_eq!(status, 400);

    let (status, m) = h.call("GET", "/api/admin/metrics", None, Some(&admin)).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["version"], "v1.2.3");
    assert_eq!(m["to"], today.as_str());
    assert_eq!(m["webhooks"]["days"].as_array().unwrap().len(), 30, "a row for every day of the default range");
    let webhooks = day_row(&m["webhooks"], &today);
    let delivered = events.len() as i64 + 1 + 3 + 3 + 1 + 1; // the pack, again, subscription, renewal, cancel, not an event
    assert_eq!(webhooks["received"], delivered, "{webhooks}");
    assert_eq!(
        (webhooks["duplicate"].as_i64(), webhooks["rejected"].as_i64(), webhooks["error"].as_i64()),
        (Some(1), Some(1), Some(0)),
        "{webhooks}"
    );
    assert_eq!(
        webhooks["applied"].as_i64().unwrap() + webhooks["ignored"].as_i64().unwrap(),
        delivered - 2,
        "{webhooks}"
    );
    let mut totals = webhooks.clone();
    totals.as_object_mut().unwrap().remove("day");
    assert_eq!(m["webhooks"]["totals"], totals, "one day in range: the totals are that day's");
    assert_eq!(day_row(&m["sign_ins"], &today)["sign_ins"], 3);
    let credits = &m["credits"];
    let granted = credits["granted"].as_i64().unwrap();
    assert!(granted >= 100, "the pack, and the subscription's credits: {credits}");
    assert_eq!(credits["spent"], 7);
    assert_eq!(credits["outstanding"], h.balance(&ada).await + h.balance(&bob).await, "{credits}");
    assert_eq!(credits["in_range"]["spent"], 7);
    let subs = &m["subscriptions"];
    assert_eq!(subs["by_plan"], json!({ "pro": { "canceled": 1 } }), "{m}");
    assert_eq!(
        (subs["paying"].as_i64(), subs["mrr"].clone(), subs["churned_30d"].as_i64()),
        (Some(0), json!({}), Some(1))
    );

    // Another range: nothing counted there.
    let (status, past) = h.call("GET", "/api/admin/metrics?from=2025-01-01&to=2025-01-31", None, Some(&admin)).await;
    assert_eq!(status, 200, "{past}");
    assert_eq!(past["webhooks"]["totals"]["received"], 0);
    assert_eq!(past["sign_ins"]["days"].as_array().unwrap().len(), 31);
    assert_eq!(past["credits"]["outstanding"], credits["outstanding"], "outstanding is all-time");
}

#[tokio::test]
async fn the_metrics_are_for_administrators_and_refuse_a_bad_range() {
    let h = Harness::new(StoreKind::Memory, &[("ADMIN_EMAILS", ADMIN)]).await;
    let (admin, _) = h.sign_in(ADMIN).await;
    let (user, _) = h.sign_in("ada@example.com").await;
    assert_eq!(h.call("GET", "/api/admin/metrics", None, None).await.0, 401);
    let (status, body) = h.call("GET", "/api/admin/metrics", None, Some(&user)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_an_admin")), "{body}");
    for (query, code) in [
        ("from=2026-02-01&to=2026-01-01", "invalid_range"),
        ("from=2020-01-01&to=2026-01-01", "invalid_range"),
        ("from=yesterday", "invalid_field"),
        ("to=2026-02-30", "invalid_field"),
    ] {
        let (status, body) = h.call("GET", &format!("/api/admin/metrics?{query}"), None, Some(&admin)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{query}: {body}");
    }
}
