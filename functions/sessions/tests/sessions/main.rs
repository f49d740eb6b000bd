//! Sessions, usage and entitlements through the sessions handler, on both stores where it
//! matters: plan caps, downgrades, quotas that reset by themselves, and the concurrency cases.

mod usage;

use rstest::rstest;
use serde_json::{Value, json};
use tollgate::App;
use tollgate::auth::tokens::Subject;
use tollgate::domain::stripe_events;
use tollgate::store::Store;
use tollgate_sessions::handle;
use tollgate_testkit::{
    self as testing, StoreKind, TestApp, count_successes, event, paid_session, refunded_charge, request,
    status_and_json,
};

const USER: &str = "usr_sessions";
const EMAIL: &str = "s@example.com";

fn token_on(app: &App, plan: &str) -> String {
    let subject = Subject { user_id: USER, email: EMAIL, plan, pro: plan == "pro", admin: false, token_version: 0 };
    app.tokens.mint(&subject, app.now()).unwrap().0
}

async fn call(app: &App, method: &str, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    status_and_json(&handle(app, request(method, path, body.as_ref(), Some(token))).await)
}

async fn create(app: &App, token: &str, body: Value) -> (u16, Value) {
    call(app, "POST", "/api/sessions", Some(body), token).await
}

/// A real Pro purchase for USER through the webhook's entry point; returns its payment intent.
async fn buy_pro(t: &TestApp, n: u32) -> String {
    let session = paid_session(&format!("cs_test_pro{n}"), &format!("ord_pro{n}"), Some(USER), EMAIL);
    let body = event("checkout.session.completed", session.clone());
    let header = testing::signed_header(&body, t.app.now());
    stripe_events::receive(&t.app, &body, Some(&header)).await.unwrap();
    session["payment_intent"].as_str().unwrap().to_string()
}

async fn refund(t: &TestApp, payment_intent: &str) {
    let body = event("charge.refunded", refunded_charge(payment_intent));
    let header = testing::signed_header(&body, t.app.now());
    stripe_events::receive(&t.app, &body, Some(&header)).await.unwrap();
}

fn memory() -> TestApp {
    testing::app(Store::memory(), None, &[])
}

#[tokio::test]
async fn a_session_is_created_read_listed_and_deleted() {
    let t = memory();
    let token = token_on(&t.app, "free");
    let (status, made) = create(&t.app, &token, json!({ "data": { "bpm": 172 } })).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!((&made["kind"], &made["data"]["bpm"]), (&json!("metronome"), &json!(172)));
    let id = made["id"].as_str().unwrap().to_string();
    let (status, chat) = create(&t.app, &token, json!({ "kind": "chat", "data": {} })).await;
    assert_eq!(status, 201);

    let (_, got) = call(&t.app, "GET", &format!("/api/sessions/{id}"), None, &token).await;
    assert_eq!((&got["id"], &got["entries"]), (&json!(id), &json!([])));
    let (_, all) = call(&t.app, "GET", "/api/sessions", None, &token).await;
    let ids: Vec<&str> = all["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [chat["id"].as_str().unwrap(), id.as_str()], "newest first");
    let (_, chats) = call(&t.app, "GET", "/api/sessions?kind=chat", None, &token).await;
    assert_eq!(chats["sessions"].as_array().unwrap().len(), 1);

    assert_eq!(call(&t.app, "DELETE", &format!("/api/sessions/{id}"), None, &token).await.0, 200);
    assert_eq!(call(&t.app, "GET", &format!("/api/sessions/{id}"), None, &token).await.0, 404);
    assert_eq!(call(&t.app, "DELETE", &format!("/api/sessions/{id}"), None, &token).await.0, 404);
}

#[tokio::test]
async fn another_users_session_is_404_never_403() {
    let t = memory();
    let (_, made) = create(&t.app, &token_on(&t.app, "free"), json!({ "data": {} })).await;
    let id = made["id"].as_str().unwrap();
    let other = testing::token(&t.app, "usr_other", "o@example.com");
    assert_eq!(call(&t.app, "GET", &format!("/api/sessions/{id}"), None, &other).await.0, 404);
    assert_eq!(call(&t.app, "DELETE", &format!("/api/sessions/{id}"), None, &other).await.0, 404);
    assert_eq!(
        call(&t.app, "POST", &format!("/api/sessions/{id}/entries"), Some(json!({ "data": {} })), &other).await.0,
        404
    );
}

#[tokio::test]
async fn the_free_cap_is_five_and_pro_is_fifty() {
    let t = memory();
    let free = token_on(&t.app, "free");
    for _ in 0..5 {
        assert_eq!(create(&t.app, &free, json!({ "data": {} })).await.0, 201);
    }
    let (status, body) = create(&t.app, &free, json!({ "data": {} })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some("session_limit_reached")));
    assert_eq!((&body["error"]["limit"], &body["error"]["plan"]), (&json!(5), &json!("free")));

    buy_pro(&t, 1).await;
    let pro = token_on(&t.app, "pro");
    for _ in 5..50 {
        assert_eq!(create(&t.app, &pro, json!({ "data": {} })).await.0, 201);
    }
    assert_eq!(create(&t.app, &pro, json!({ "data": {} })).await.1["error"]["limit"], 50);
}

#[rstest]
#[tokio::test]
async fn a_downgrade_keeps_every_session(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let t = testing::app(kind.store().await, None, &[]);
    let pi = buy_pro(&t, 2).await;
    let pro = token_on(&t.app, "pro");
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(create(&t.app, &pro, json!({ "data": {} })).await.1["id"].as_str().unwrap().to_string());
    }
    refund(&t, &pi).await;
    let (status, body) = create(&t.app, &pro, json!({ "data": {} })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("token_revoked")),
        "the refund counts at once: the Pro token is revoked"
    );
    let pro = tollgate::domain::entitlements::token_for(&t.app, USER, EMAIL).await.unwrap().0;
    let (status, body) = create(&t.app, &pro, json!({ "data": {} })).await;
    assert_eq!((status, &body["error"]["plan"]), (402, &json!("free")), "a new token is on the plan held now");
    let (_, all) = call(&t.app, "GET", "/api/sessions?limit=100", None, &pro).await;
    assert_eq!(all["sessions"].as_array().unwrap().len(), 7, "nothing deleted");
    for id in &ids[..3] {
        assert_eq!(call(&t.app, "DELETE", &format!("/api/sessions/{id}"), None, &pro).await.0, 200);
    }
    assert_eq!(create(&t.app, &pro, json!({ "data": {} })).await.0, 201, "back under the free cap of 5");
}

#[tokio::test]
async fn a_free_token_of_a_user_who_just_bought_pro_gets_pro_caps() {
    let t = memory();
    let stale = token_on(&t.app, "free");
    buy_pro(&t, 3).await;
    for _ in 0..6 {
        assert_eq!(create(&t.app, &stale, json!({ "data": {} })).await.0, 201);
    }
}

#[tokio::test]
async fn bad_sessions_are_400_or_413_and_write_nothing() {
    let t = memory();
    let token = token_on(&t.app, "free");
    for (body, status, code) in [
        (json!({}), 400, "missing_field"),
        (json!({ "data": [1, 2] }), 400, "invalid_field"),
        (json!({ "data": "text" }), 400, "invalid_field"),
        (json!({ "kind": "Bad Kind", "data": {} }), 400, "invalid_kind"),
        (json!({ "kind": 7, "data": {} }), 400, "invalid_field"),
        (json!({ "data": { "blob": "x".repeat(17 * 1024) } }), 413, "payload_too_large"),
    ] {
        let (got, json) = create(&t.app, &token, body.clone()).await;
        assert_eq!((got, json["error"]["code"].as_str()), (status, Some(code)));
    }
    let (_, all) = call(&t.app, "GET", "/api/sessions", None, &token).await;
    assert_eq!(all["sessions"], json!([]));
    for query in ["?limit=0", "?limit=101", "?cursor=nope", "?kind=BAD"] {
        assert_eq!(call(&t.app, "GET", &format!("/api/sessions{query}"), None, &token).await.0, 400, "{query}");
    }
    assert_eq!(status_and_json(&handle(&t.app, request("GET", "/api/sessions", None, None)).await).0, 401);
}

#[tokio::test]
async fn sessions_page_by_opaque_cursor() {
    let t = memory();
    buy_pro(&t, 4).await;
    let token = token_on(&t.app, "pro");
    for i in 0..12 {
        create(&t.app, &token, json!({ "kind": if i % 3 == 0 { "chat" } else { "metronome" }, "data": { "n": i } }))
            .await;
    }
    for (kind, expected) in [("", (0..12).rev().collect::<Vec<i64>>()), ("&kind=chat", vec![9, 6, 3, 0])] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let (status, page) =
                call(&t.app, "GET", &format!("/api/sessions?limit=3{kind}{cursor}"), None, &token).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(page["sessions"].as_array().unwrap().iter().map(|s| s["data"]["n"].as_i64().unwrap()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{kind}");
    }
}

#[tokio::test]
async fn entries_are_kept_in_order_up_to_the_configured_number() {
    let t = testing::app(Store::memory(), None, &[("SESSION_MAX_ENTRIES", "3")]);
    let token = token_on(&t.app, "free");
    let (_, made) = create(&t.app, &token, json!({ "kind": "chat", "data": {} })).await;
    let id = made["id"].as_str().unwrap();
    for i in 0..3 {
        let (status, entry) = call(
            &t.app,
            "POST",
            &format!("/api/sessions/{id}/entries"),
            Some(json!({ "data": { "text": i } })),
            &token,
        )
        .await;
        assert_eq!(status, 201, "{entry}");
    }
    let (status, body) =
        call(&t.app, "POST", &format!("/api/sessions/{id}/entries"), Some(json!({ "data": { "text": 3 } })), &token)
            .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("entry_limit_reached")));
    let (_, got) = call(&t.app, "GET", &format!("/api/sessions/{id}"), None, &token).await;
    let texts: Vec<i64> =
        got["entries"].as_array().unwrap().iter().map(|e| e["data"]["text"].as_i64().unwrap()).collect();
    assert_eq!(texts, [0, 1, 2]);
    assert_eq!(call(&t.app, "DELETE", &format!("/api/sessions/{id}"), None, &token).await.0, 200);
    let left = t.app.store.query(&tollgate::store::Query::prefix(format!("USER#{USER}"), "SESENTRY#")).await.unwrap();
    assert!(left.items.is_empty(), "a deleted session's entries go with it");
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_creates_one_below_the_cap_make_one(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let t = testing::app(kind.store().await, None, &[]);
    let token = token_on(&t.app, "free");
    for _ in 0..4 {
        create(&t.app, &token, json!({ "data": {} })).await;
    }
    let before = t.app.store.round_trips();
    let wins = count_successes(30, |_| {
        let app = t.app.clone();
        let token = token.clone();
        async move { create(&app, &token, json!({ "data": {} })).await.0 == 201 }
    })
    .await;
    assert_eq!(wins, 1);
    assert_eq!(t.app.store.round_trips() - before, 30, "one transaction per create, refused or not");
    let (_, all) = call(&t.app, "GET", "/api/sessions", None, &token).await;
    assert_eq!(all["sessions"].as_array().unwrap().len(), 5);
}
