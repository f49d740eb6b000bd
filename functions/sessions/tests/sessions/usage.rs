//! Metered use, entitlements and the pace converter.

use super::*;

async fn use_feature(app: &App, token: &str, feature: &str, body: Value) -> (u16, Value) {
    call(app, "POST", &format!("/api/usage/{feature}"), Some(body), token).await
}

#[rstest]
#[tokio::test]
async fn a_monthly_quota_resets(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let t = testing::app(kind.store().await, None, &[]);
    let token = token_on(&t.app, "free");
    let (status, first) = use_feature(&t.app, &token, "quizzes", json!({})).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        first,
        json!({ "feature": "quizzes", "used": 1, "limit": 2, "remaining": 1, "resets_at": "2026-02-01T00:00:00Z" })
    );
    assert_eq!(use_feature(&t.app, &token, "quizzes", json!({})).await.1["remaining"], 0);
    let (status, body) = use_feature(&t.app, &token, "quizzes", json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some("quota_exceeded")));
    assert_eq!(
        (&body["error"]["used"], &body["error"]["limit"], &body["error"]["resets_at"]),
        (&json!(2), &json!(2), &json!("2026-02-01T00:00:00Z"))
    );

    t.clock.set(1_769_904_000); // 2026-02-01T00:00:00Z
    let (status, fresh) = use_feature(&t.app, &token, "quizzes", json!({})).await;
    assert_eq!(
        (status, &fresh["used"], &fresh["resets_at"]),
        (200, &json!(1), &json!("2026-03-01T00:00:00Z")),
        "a new month starts at zero"
    );
}

#[tokio::test]
async fn a_daily_limit_is_429_with_retry_after() {
    let t = memory();
    let token = token_on(&t.app, "free");
    assert_eq!(use_feature(&t.app, &token, "ai_chat", json!({ "amount": 5 })).await.0, 200);
    let response = handle(&t.app, request("POST", "/api/usage/ai_chat", Some(&json!({})), Some(&token))).await;
    let retry_after: i64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let (status, body) = status_and_json(&response);
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")));
    assert_eq!(retry_after, 12 * 3600, "until midnight UTC");
    assert_eq!(body["error"]["resets_at"], "2026-01-16T00:00:00Z");
    t.clock.advance(retry_after);
    assert_eq!(use_feature(&t.app, &token, "ai_chat", json!({})).await.0, 200);
}

#[tokio::test]
async fn unlimited_features_still_count() {
    let t = memory();
    buy_pro(&t, 5).await;
    let token = token_on(&t.app, "pro");
    for _ in 0..10 {
        assert_eq!(use_feature(&t.app, &token, "ai_chat", json!({})).await.0, 200);
    }
    let (_, last) = use_feature(&t.app, &token, "ai_chat", json!({})).await;
    assert_eq!((&last["used"], &last["limit"], &last["remaining"]), (&json!(11), &Value::Null, &Value::Null));
}

#[tokio::test]
async fn usage_refuses_unknown_features_and_bad_amounts() {
    let t = memory();
    let token = token_on(&t.app, "free");
    for feature in ["nothing", "sessions", "pro"] {
        let (status, body) = use_feature(&t.app, &token, feature, json!({})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_feature")), "{feature}");
    }
    for (body, code) in [
        (json!({ "amount": 0 }), "invalid_amount"),
        (json!({ "amount": -1 }), "invalid_amount"),
        (json!({ "amount": 10_001 }), "invalid_amount"),
        (json!({ "amount": "1" }), "invalid_field"),
        (json!({ "idempotency_key": "" }), "invalid_field"),
    ] {
        let (status, json) = use_feature(&t.app, &token, "quizzes", body.clone()).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some(code)), "{body}");
    }
    let (_, now) = call(&t.app, "GET", "/api/entitlements", None, &token).await;
    assert_eq!(now["features"]["quizzes"]["used"], 0, "nothing counted");
}

#[tokio::test]
async fn a_repeated_key_counts_once() {
    let t = memory();
    let token = token_on(&t.app, "free");
    let first = use_feature(&t.app, &token, "quizzes", json!({ "idempotency_key": "quiz-1" })).await;
    assert_eq!(use_feature(&t.app, &token, "quizzes", json!({ "idempotency_key": "quiz-1" })).await, first);
    let (status, body) =
        use_feature(&t.app, &token, "quizzes", json!({ "amount": 2, "idempotency_key": "quiz-1" })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("idempotency_key_reused")));
    assert_eq!(use_feature(&t.app, &token, "quizzes", json!({})).await.1["used"], 2);
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_uses_with_one_unit_left_make_one(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let t = testing::app(kind.store().await, None, &[]);
    let token = token_on(&t.app, "free");
    assert_eq!(use_feature(&t.app, &token, "ai_chat", json!({ "amount": 4 })).await.0, 200);
    let wins = count_successes(30, |_| {
        let app = t.app.clone();
        let token = token.clone();
        async move { use_feature(&app, &token, "ai_chat", json!({})).await.0 == 200 }
    })
    .await;
    assert_eq!(wins, 1);
    let (_, now) = call(&t.app, "GET", "/api/entitlements", None, &token).await;
    assert_eq!(now["features"]["ai_chat"]["used"], 5);
}

#[rstest]
#[tokio::test]
async fn round_trips_per_call(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let store = kind.store().await;
    let warm = testing::app(store.clone(), None, &[]);
    let token = token_on(&warm.app, "free");
    let before = warm.app.store.round_trips();
    assert_eq!(create(&warm.app, &token, json!({ "data": {} })).await.0, 201);
    assert_eq!(warm.app.store.round_trips() - before, 1, "one per session create");

    assert_eq!(use_feature(&warm.app, &token, "quizzes", json!({})).await.0, 200);
    let before = warm.app.store.round_trips();
    assert_eq!(use_feature(&warm.app, &token, "quizzes", json!({})).await.0, 200);
    assert_eq!(warm.app.store.round_trips() - before, 1, "one per use on an instance that knows the count");

    let cold = testing::app(store, None, &[]);
    let before = cold.app.store.round_trips();
    assert_eq!(use_feature(&cold.app, &token, "ai_chat", json!({})).await.0, 200);
    assert_eq!(cold.app.store.round_trips() - before, 2, "read, then write, on an instance that does not");
}

#[tokio::test]
async fn entitlements_describe_every_feature_for_the_current_plan() {
    let t = memory();
    let token = token_on(&t.app, "free");
    create(&t.app, &token, json!({ "data": {} })).await;
    use_feature(&t.app, &token, "quizzes", json!({})).await;
    let (status, free) = call(&t.app, "GET", "/api/entitlements", None, &token).await;
    assert_eq!(status, 200);
    assert_eq!(
        free,
        json!({ "plan": "free", "pro": false, "plan_ends_at": null, "subscription": null, "features": {
            "ai_chat": { "used": 0, "limit": 5, "resets_at": "2026-01-16T00:00:00Z" },
            "pro": false,
            "quizzes": { "used": 1, "limit": 2, "resets_at": "2026-02-01T00:00:00Z" },
            "sessions": { "used": 1, "limit": 5 },
        } })
    );
    buy_pro(&t, 6).await;
    let (_, pro) = call(&t.app, "GET", "/api/entitlements", None, &token).await;
    assert_eq!((&pro["plan"], &pro["features"]["pro"]), (&json!("pro"), &json!(true)));
    assert_eq!(pro["features"]["sessions"], json!({ "used": 1, "limit": 50 }));
    assert_eq!(pro["features"]["quizzes"]["limit"], Value::Null);
    let before = t.app.store.round_trips();
    call(&t.app, "GET", "/api/entitlements", None, &token).await;
    assert_eq!(t.app.store.round_trips() - before, 1, "one read");
}

async fn pace(t: &TestApp, query: &str) -> (u16, Value) {
    status_and_json(&handle(&t.app, request("GET", &format!("/api/pace-to-bpm{query}"), None, None)).await)
}

#[tokio::test]
async fn pace_to_bpm_needs_no_token_and_names_every_problem() {
    let t = memory();
    assert_eq!(
        pace(&t, "?pace=5:30&unit=km").await,
        (200, json!({ "pace_seconds_per_km": 330.0, "speed_kmh": 10.9, "bpm": 162 }))
    );
    assert_eq!(pace(&t, "?pace=5:30").await.1["bpm"], 162, "km by default");
    assert_eq!(pace(&t, "?pace=8:51&unit=mi").await.1["bpm"], 162);
    assert!(pace(&t, "?pace=5:30&height_cm=190").await.1["bpm"].as_u64().unwrap() < 162);
    for (query, code) in [
        ("", "missing_field"),
        ("?pace=abc", "invalid_pace"),
        ("?pace=99:99", "invalid_pace"),
        ("?pace=-5:30", "invalid_pace"),
        ("?pace=0:00", "pace_out_of_range"),
        ("?pace=61:00", "pace_out_of_range"),
        ("?pace=5:30&unit=furlong", "invalid_unit"),
        ("?pace=5:30&height_cm=tall", "invalid_height"),
        ("?pace=5:30&height_cm=20", "invalid_height"),
    ] {
        let (status, body) = pace(&t, query).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{query}");
    }
}
