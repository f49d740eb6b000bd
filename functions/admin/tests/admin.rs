//! The administrator's credit grant: who may call it, and grants and take-backs.

use serde_json::{Value, json};
use tollgate::auth::tokens::Subject;
use tollgate::domain::{credits, users};
use tollgate::store::Store;
use tollgate_admin::handle;
use tollgate_testkit::{self as testing, StoreKind, TestApp, request, status_and_json};

const ADMIN: &str = "boss@example.com";

fn app() -> TestApp {
    testing::app(Store::memory(), None, &[("ADMIN_EMAILS", ADMIN)])
}

async fn grant(t: &TestApp, token: &str, body: Value) -> (u16, Value) {
    status_and_json(&handle(&t.app, request("POST", "/api/admin/credits/grant", Some(&body), Some(token))).await)
}

async fn customer(t: &TestApp) -> String {
    users::find_or_create_user(&t.app.store, "customer@example.com", 1).await.unwrap().id
}

#[tokio::test]
async fn only_administrators_may_grant() {
    let t = app();
    let user = customer(&t).await;
    let body = json!({ "user_id": user, "amount": 10, "reason": "goodwill" });
    let someone = testing::token(&t.app, "usr_someone", "someone@example.com");
    let (status, json) = grant(&t, &someone, body.clone()).await;
    assert_eq!((status, json["error"]["code"].as_str()), (403, Some("not_an_admin")));
    let anonymous =
        status_and_json(&handle(&t.app, request("POST", "/api/admin/credits/grant", Some(&body), None)).await);
    assert_eq!(anonymous.0, 401);

    let listed = testing::token(&t.app, "usr_boss", ADMIN);
    assert_eq!(grant(&t, &listed, body.clone()).await.0, 200, "an email in ADMIN_EMAILS");
    let role = t
        .app
        .tokens
        .mint(
            &Subject {
                user_id: "usr_ops",
                email: "ops@example.com",
                plan: "free",
                pro: false,
                admin: true,
                token_version: 0,
            },
            t.app.now(),
        )
        .unwrap()
        .0;
    let (status, refused) = grant(&t, &role, body).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("not_an_admin")),
        "a token's role is not believed"
    );
    assert_eq!(credits::balance(&t.app, &user).await.unwrap(), 10);
}

#[tokio::test]
async fn an_administrators_sign_in_token_carries_the_admin_role() {
    let t = app();
    let (token, _) = tollgate::domain::entitlements::token_for(&t.app, "usr_boss", ADMIN).await.unwrap();
    assert_eq!(t.app.tokens.verify(&token, t.app.now()).unwrap().role.as_deref(), Some("admin"));
    let (token, _) = tollgate::domain::entitlements::token_for(&t.app, "usr_x", "x@example.com").await.unwrap();
    assert_eq!(t.app.tokens.verify(&token, t.app.now()).unwrap().role, None);
}

#[tokio::test]
async fn a_negative_grant_takes_back_but_never_below_zero() {
    let t = app();
    let user = customer(&t).await;
    let boss = testing::token(&t.app, "usr_boss", ADMIN);
    let (status, body) =
        grant(&t, &boss, json!({ "email": "Customer@Example.com", "amount": 15, "reason": "apology" })).await;
    assert_eq!((status, &body["balance"], &body["user_id"]), (200, &json!(15), &json!(user)), "{body}");
    let (status, body) = grant(&t, &boss, json!({ "user_id": user, "amount": -40, "reason": "correction" })).await;
    assert_eq!(
        (status, &body["balance"], &body["delta"], &body["shortfall"]),
        (200, &json!(0), &json!(-15), &json!(25))
    );
    let ledger = credits::ledger(&t.app, &user).await.unwrap();
    assert_eq!(ledger.last().unwrap().reason, tollgate::store::schema::Reason::Admin);
    assert_eq!(ledger.last().unwrap().note.as_deref(), Some("correction"));
    assert_eq!(ledger.last().unwrap().reference.as_deref(), Some(ADMIN));
}

#[tokio::test]
async fn bad_grants_are_refused() {
    let t = app();
    let user = customer(&t).await;
    let boss = testing::token(&t.app, "usr_boss", ADMIN);
    for (body, status, code) in [
        (json!({ "user_id": "usr_nobody", "amount": 5, "reason": "x" }), 404, "user_not_found"),
        (json!({ "email": "nobody@example.com", "amount": 5, "reason": "x" }), 404, "user_not_found"),
        (json!({ "user_id": user, "email": "customer@example.com", "amount": 5, "reason": "x" }), 400, "invalid_field"),
        (json!({ "amount": 5, "reason": "x" }), 400, "invalid_field"),
        (json!({ "user_id": user, "amount": 0, "reason": "x" }), 400, "invalid_amount"),
        (json!({ "user_id": user, "amount": 5, "reason": " " }), 400, "invalid_field"),
        (json!({ "user_id": user, "amount": 5 }), 400, "missing_field"),
    ] {
        let (got, json) = grant(&t, &boss, body.clone()).await;
        assert_eq!((got, json["error"]["code"].as_str()), (status, Some(code)), "{body}");
    }
    assert_eq!(credits::balance(&t.app, &user).await.unwrap(), 0);
}

#[tokio::test]
async fn administrators_list_a_users_billing_events_newest_first_a_page_at_a_time() {
    use tollgate::domain::billing::BillingEvent;
    let t = app();
    for (i, kind) in ["customer.subscription.created", "invoice.paid", "invoice.payment_failed"].iter().enumerate() {
        let record = BillingEvent {
            user_id: "usr_billed".into(),
            event_id: format!("evt_{i}"),
            event_type: kind.to_string(),
            created: 1_768_478_400 + i as i64,
            amount: Some(900),
            currency: Some("usd".into()),
            status: Some("paid".into()),
            subscription: Some("sub_1".into()),
            invoice: (i > 0).then(|| format!("in_{i}")),
            email: None,
        };
        t.app.store.commit(tollgate::domain::billing::write(&record)).await.unwrap();
    }
    let list = |token: String, query: &'static str| {
        let app = t.app.clone();
        async move {
            status_and_json(
                &handle(&app, request("GET", &format!("/api/admin/billing-events{query}"), None, Some(&token))).await,
            )
        }
    };
    let someone = testing::token(&t.app, "usr_someone", "someone@example.com");
    assert_eq!(list(someone, "?user_id=usr_billed").await.0, 403);
    let boss = testing::token(&t.app, "usr_boss", ADMIN);
    let (status, page) = list(boss.clone(), "?user_id=usr_billed&limit=2").await;
    assert_eq!(status, 200, "{page}");
    let types: Vec<&str> = page["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["invoice.payment_failed", "invoice.paid"]);
    assert_eq!(page["events"][0]["created"], "2026-01-15T12:00:02Z");
    assert_eq!(page["events"][0]["amount"], 900);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let rest = handle(
        &t.app,
        request("GET", &format!("/api/admin/billing-events?user_id=usr_billed&cursor={cursor}"), None, Some(&boss)),
    )
    .await;
    let (_, rest) = status_and_json(&rest);
    assert_eq!(rest["events"][0]["type"], "customer.subscription.created");
    assert_eq!(rest["next_cursor"], Value::Null);
    assert_eq!(list(boss.clone(), "").await.1["error"]["code"], "missing_field");
    assert_eq!(list(boss, "?user_id=usr_billed&cursor=bogus").await.1["error"]["code"], "invalid_cursor");
}

#[rstest::rstest]
#[tokio::test]
async fn administrators_see_every_users_recent_billing_events_newest_first(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    use tollgate::domain::billing::BillingEvent;
    let t = testing::app(kind.store().await, None, &[("ADMIN_EMAILS", ADMIN)]);
    let now = t.app.now();
    let day = 24 * 3600;
    // (user, event, seconds ago): across users and days, one older than the 30 days shown.
    let written = [
        ("usr_a", "evt_a_today", 60),
        ("usr_b", "evt_b_today", 10),
        ("usr_a", "evt_a_yesterday", day + 5),
        ("usr_b", "evt_b_last_week", 7 * day),
        ("usr_a", "evt_a_old", 40 * day),
    ];
    for (user, event, ago) in written {
        let record = BillingEvent {
            user_id: user.into(),
            event_id: event.into(),
            event_type: "invoice.paid".into(),
            created: now - ago,
            amount: Some(900),
            currency: Some("usd".into()),
            status: Some("paid".into()),
            subscription: None,
            invoice: None,
            email: None,
        };
        t.app.store.commit(tollgate::domain::billing::write(&record)).await.unwrap();
    }
    let recent = |token: String, query: &'static str| {
        let app = t.app.clone();
        async move {
            let path = format!("/api/admin/billing-events/recent{query}");
            status_and_json(&handle(&app, request("GET", &path, None, Some(&token))).await)
        }
    };
    let ids = |page: &Value| -> Vec<String> {
        let id = |e: &Value, field: &str| e[field].as_str().unwrap().to_string();
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{}/{}", id(e, "user_id"), id(e, "event_id")))
            .collect()
    };
    let boss = testing::token(&t.app, "usr_boss", ADMIN);
    let (status, page) = recent(boss.clone(), "").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["days"], 30);
    assert_eq!(
        ids(&page),
        ["usr_b/evt_b_today", "usr_a/evt_a_today", "usr_a/evt_a_yesterday", "usr_b/evt_b_last_week"]
    );
    let (_, first_two) = recent(boss.clone(), "?limit=2").await;
    assert_eq!(ids(&first_two), ["usr_b/evt_b_today", "usr_a/evt_a_today"]);
    assert_eq!(recent(boss, "?limit=0").await.1["error"]["code"], "invalid_limit");
    let someone = testing::token(&t.app, "usr_someone", "someone@example.com");
    assert_eq!(recent(someone, "").await.0, 403);
}
