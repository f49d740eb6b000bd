//! Sign-in through the auth handler: codes, tokens, rate limits and bad input.

use rstest::rstest;
use serde_json::{Value, json};
use tollgate::store::Store;
use tollgate_auth::handle;
use tollgate_testkit::{self as testing, StoreKind, TestApp, last_code, raw_request, request, status_and_json};

const EMAIL: &str = "ada@example.com";

fn app() -> TestApp {
    testing::app(Store::memory(), None, &[])
}

async fn call(t: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let response = handle(&t.app, request(method, path, body.as_ref(), None)).await;
    assert!(response.headers().contains_key("x-request-id"), "every response has a request id");
    status_and_json(&response)
}

async fn request_code(t: &TestApp, email: &str) -> (u16, Value) {
    call(t, "POST", "/api/auth/request-code", Some(json!({ "email": email }))).await
}

async fn verify(t: &TestApp, email: &str, code: &str) -> (u16, Value) {
    call(t, "POST", "/api/auth/verify-code", Some(json!({ "email": email, "code": code }))).await
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn a_code_signs_in_and_creates_the_user_once() {
    let t = app();
    assert_eq!(request_code(&t, EMAIL).await, (202, json!({ "status": "sent" })));
    let code = last_code(&t.outbox, EMAIL);
    let (status, body) = verify(&t, EMAIL, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], EMAIL);
    assert_eq!(body["pro"], false);
    let claims = t.app.tokens.verify(body["token"].as_str().unwrap(), t.app.now()).unwrap();
    assert_eq!(claims.sub, body["user"]["id"].as_str().unwrap());
    assert_eq!((claims.plan.as_str(), claims.pro, claims.iss.as_str()), ("free", false, "tollgate"));

    request_code(&t, "  ADA@example.com ").await;
    let (_, again) = verify(&t, EMAIL, &last_code(&t.outbox, EMAIL)).await;
    assert_eq!(again["user"]["id"], body["user"]["id"], "the same email is the same user");
}

#[tokio::test]
async fn a_code_works_once() {
    let t = app();
    request_code(&t, EMAIL).await;
    let code = last_code(&t.outbox, EMAIL);
    assert_eq!(verify(&t, EMAIL, &code).await.0, 200);
    let (status, body) = verify(&t, EMAIL, &code).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("code_expired")));
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes() {
    let t = app();
    request_code(&t, EMAIL).await;
    let code = last_code(&t.outbox, EMAIL);
    t.clock.advance(600);
    let (status, body) = verify(&t, EMAIL, &code).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("code_expired")));
}

#[tokio::test]
async fn a_code_is_good_just_before_expiry() {
    let t = app();
    request_code(&t, EMAIL).await;
    let code = last_code(&t.outbox, EMAIL);
    t.clock.advance(599);
    assert_eq!(verify(&t, EMAIL, &code).await.0, 200);
}

#[tokio::test]
async fn the_fifth_wrong_attempt_burns_the_code() {
    let t = app();
    request_code(&t, EMAIL).await;
    let code = last_code(&t.outbox, EMAIL);
    for attempt in 1..=5 {
        let (status, body) = verify(&t, EMAIL, &wrong(&code)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_code")), "attempt {attempt}");
    }
    let (status, body) = verify(&t, EMAIL, &code).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("code_expired")),
        "burned: even the right code fails"
    );
}

#[tokio::test]
async fn four_wrong_attempts_still_allow_the_right_code() {
    let t = app();
    request_code(&t, EMAIL).await;
    let code = last_code(&t.outbox, EMAIL);
    for _ in 0..4 {
        verify(&t, EMAIL, &wrong(&code)).await;
    }
    assert_eq!(verify(&t, EMAIL, &code).await.0, 200);
}

#[tokio::test]
async fn a_new_request_replaces_the_previous_code() {
    let t = app();
    request_code(&t, EMAIL).await;
    let first = last_code(&t.outbox, EMAIL);
    let mut second = first.clone();
    while second == first {
        request_code(&t, EMAIL).await;
        second = last_code(&t.outbox, EMAIL);
    }
    assert_eq!(verify(&t, EMAIL, &first).await.1["error"]["code"], "invalid_code");
    assert_eq!(verify(&t, EMAIL, &second).await.0, 200);
}

#[tokio::test]
async fn unknown_and_known_emails_get_the_same_answer() {
    let t = app();
    request_code(&t, EMAIL).await;
    verify(&t, EMAIL, &last_code(&t.outbox, EMAIL)).await;
    let known = request_code(&t, EMAIL).await;
    let unknown = request_code(&t, "nobody@example.com").await;
    assert_eq!(known, unknown);
    assert_eq!(known, (202, json!({ "status": "sent" })));
}

#[tokio::test]
async fn verifying_without_a_code_says_expired() {
    let t = app();
    let (status, body) = verify(&t, "nobody@example.com", "123456").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("code_expired")));
}

#[tokio::test]
async fn the_debug_code_appears_only_when_enabled() {
    let t = testing::app(Store::memory(), None, &[("DEBUG_AUTH_CODES", "1")]);
    let (_, body) = request_code(&t, EMAIL).await;
    assert_eq!(body["debug_code"].as_str().unwrap(), last_code(&t.outbox, EMAIL));
    let (_, plain) = request_code(&app(), EMAIL).await;
    assert!(plain.get("debug_code").is_none());
}

#[tokio::test]
async fn five_requests_per_email_then_429_with_retry_after() {
    let t = app();
    for _ in 0..5 {
        assert_eq!(request_code(&t, EMAIL).await.0, 202);
    }
    let response =
        handle(&t.app, request("POST", "/api/auth/request-code", Some(&json!({ "email": EMAIL })), None)).await;
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let (status, body) = status_and_json(&response);
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")));
    assert!(retry_after > 0 && retry_after <= 900, "{retry_after}");
    assert_eq!(request_code(&t, "other@example.com").await.0, 202, "other emails are not limited");
    t.clock.advance(retry_after as i64);
    assert_eq!(request_code(&t, EMAIL).await.0, 202, "a new window starts afresh");
}

#[tokio::test]
async fn thirty_requests_per_address_then_429() {
    let t = app();
    for i in 0..30 {
        assert_eq!(request_code(&t, &format!("user{i}@example.com")).await.0, 202);
    }
    assert_eq!(request_code(&t, "user31@example.com").await.0, 429);
    let elsewhere = raw_request(
        "POST",
        "/api/auth/request-code",
        &[("content-type", "application/json")],
        br#"{"email":"user32@example.com"}"#.to_vec(),
        "192.0.2.99",
    );
    assert_eq!(handle(&t.app, elsewhere).await.status(), 202, "another address is not limited");
}

#[tokio::test]
async fn forwarded_for_headers_do_not_change_the_address() {
    let t = testing::app(Store::memory(), None, &[("RATE_LIMIT_IP", "1")]);
    assert_eq!(request_code(&t, "a@example.com").await.0, 202);
    let spoofed = raw_request(
        "POST",
        "/api/auth/request-code",
        &[("content-type", "application/json"), ("x-forwarded-for", "192.0.2.1")],
        br#"{"email":"b@example.com"}"#.to_vec(),
        testing::CALLER_IP,
    );
    assert_eq!(handle(&t.app, spoofed).await.status(), 429);
}

#[tokio::test]
async fn an_ipv6_64_is_one_address_for_the_sign_in_limit() {
    let t = testing::app(Store::memory(), None, &[("RATE_LIMIT_IP", "1")]);
    let from = |ip: &'static str, email: &str| {
        let body = serde_json::to_vec(&json!({ "email": email })).unwrap();
        raw_request("POST", "/api/auth/request-code", &[("content-type", "application/json")], body, ip)
    };
    assert_eq!(handle(&t.app, from("2001:db8:7:8::1", "a@example.com")).await.status(), 202);
    assert_eq!(handle(&t.app, from("2001:db8:7:8:9::2", "b@example.com")).await.status(), 429, "the same /64");
    assert_eq!(handle(&t.app, from("2001:db8:7:9::1", "c@example.com")).await.status(), 202, "another /64");
}

#[tokio::test]
async fn codes_are_stored_only_as_hashes() {
    let t = app();
    request_code(&t, EMAIL).await;
    let code = last_code(&t.outbox, EMAIL);
    let stored = t.app.store.get(&tollgate::store::schema::keys::login_code(EMAIL)).await.unwrap().unwrap();
    assert!(stored.0.values().all(|v| v.as_str() != Some(code.as_str())));
}

#[tokio::test]
async fn bad_input_gets_400_with_a_named_code_and_writes_nothing() {
    let t = app();
    let cases: Vec<(&str, Vec<u8>, Option<&str>, &str)> = vec![
        ("/api/auth/request-code", b"{".to_vec(), Some("application/json"), "invalid_json"),
        ("/api/auth/request-code", b"[1]".to_vec(), Some("application/json"), "invalid_json"),
        ("/api/auth/request-code", br#"{"email":"a@b.co"}"#.to_vec(), Some("text/plain"), "unsupported_content_type"),
        ("/api/auth/request-code", br#"{"email":"a@b.co"}"#.to_vec(), None, "unsupported_content_type"),
        ("/api/auth/request-code", b"".to_vec(), Some("application/json"), "missing_body"),
        ("/api/auth/request-code", b"{}".to_vec(), Some("application/json"), "missing_field"),
        ("/api/auth/request-code", br#"{"email":42}"#.to_vec(), Some("application/json"), "invalid_field"),
        ("/api/auth/request-code", br#"{"email":"not-an-email"}"#.to_vec(), Some("application/json"), "invalid_email"),
        ("/api/auth/verify-code", br#"{"email":"a@b.co"}"#.to_vec(), Some("application/json"), "missing_field"),
        (
            "/api/auth/verify-code",
            br#"{"email":"a@b.co","code":123456}"#.to_vec(),
            Some("application/json"),
            "invalid_field",
        ),
        (
            "/api/auth/verify-code",
            br#"{"email":"a@b.co","code":"12ab56"}"#.to_vec(),
            Some("application/json"),
            "invalid_field",
        ),
    ];
    for (path, body, content_type, code) in cases {
        let headers: Vec<(&str, &str)> = content_type.map(|c| ("content-type", c)).into_iter().collect();
        let response = handle(&t.app, raw_request("POST", path, &headers, body.clone(), testing::CALLER_IP)).await;
        let (status, json) = status_and_json(&response);
        assert_eq!(
            (status, json["error"]["code"].as_str()),
            (400, Some(code)),
            "{path} {:?}",
            String::from_utf8_lossy(&body)
        );
        assert!(json["error"]["message"].is_string());
    }
    assert!(t.outbox.all().is_empty(), "no email was sent");
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let t = app();
    let big = format!(r#"{{"email":"a@b.co","pad":"{}"}}"#, "x".repeat(70 * 1024));
    let response = handle(
        &t.app,
        raw_request(
            "POST",
            "/api/auth/request-code",
            &[("content-type", "application/json")],
            big.into_bytes(),
            testing::CALLER_IP,
        ),
    )
    .await;
    assert_eq!(status_and_json(&response).1["error"]["code"], "payload_too_large");
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_refused() {
    let t = app();
    assert_eq!(call(&t, "GET", "/api/auth/request-code", None).await.0, 405);
    assert_eq!(call(&t, "GET", "/api/nothing", None).await.1["error"]["code"], "route_not_found");
}

#[tokio::test]
async fn health_reports_ok_when_the_store_answers() {
    assert_eq!(call(&app(), "GET", "/healthz", None).await, (200, json!({ "status": "ok" })));
}

#[tokio::test]
async fn health_reports_503_when_the_store_does_not_answer() {
    let dead = tollgate::store::DynamoDbStore::connect("tollgate-missing", Some("http://127.0.0.1:9")).await;
    let t = testing::app(Store::dynamodb(dead), None, &[]);
    let (status, body) = call(&t, "GET", "/healthz", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("store_unavailable")));
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_verifications_create_one_user(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let t = testing::app(kind.store().await, None, &[]);
    let mut codes = Vec::new();
    // Two sign-ins of one email, each with its own live code, verified at once.
    request_code(&t, EMAIL).await;
    codes.push(last_code(&t.outbox, EMAIL));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let app = t.app.clone();
            let code = codes[0].clone();
            tokio::spawn(async move {
                let body = json!({ "email": EMAIL, "code": code });
                status_and_json(&handle(&app, request("POST", "/api/auth/verify-code", Some(&body), None)).await)
            })
        })
        .collect();
    let mut ok = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status == 200 {
            ok.push(body["user"]["id"].clone());
        }
    }
    assert_eq!(ok.len(), 1, "a code is spent once even when two verifications race");
    let users: Vec<_> = (0..10)
        .map(|_| {
            let store = t.app.store.clone();
            tokio::spawn(async move {
                tollgate::domain::users::find_or_create_user(&store, "race@example.com", 1).await.unwrap().id
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for u in users {
        ids.insert(u.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "one user per email even when creations race");
}
