//! Sign-in hardening: attempts taken before a code is compared, a day's cap that locks no owner
//! out past a window, and the resend cooldown.

use rstest::rstest;
use serde_json::{Value, json};
use tollgate::store::Store;
use tollgate_auth::handle;
use tollgate_testkit::{self as testing, StoreKind, TestApp, last_code, request, status_and_json};

const EMAIL: &str = "ada@example.com";

async fn request_code(t: &TestApp, email: &str) -> (u16, Value) {
    status_and_json(
        &handle(&t.app, request("POST", "/api/auth/request-code", Some(&json!({ "email": email })), None)).await,
    )
}

async fn verify(t: &TestApp, email: &str, code: &str) -> (u16, Value) {
    let body = json!({ "email": email, "code": code });
    status_and_json(&handle(&t.app, request("POST", "/api/auth/verify-code", Some(&body), None)).await)
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_get_no_more_than_the_codes_attempts(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let t = testing::app(kind.store().await, None, &[]);
    let email = format!("guess-{}@example.com", uuid::Uuid::new_v4().simple());
    request_code(&t, &email).await;
    let code = last_code(&t.outbox, &email);
    let tasks: Vec<_> = (0..40u32)
        .map(|i| {
            let app = t.app.clone();
            let guess = format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
            let email = email.clone();
            tokio::spawn(async move {
                let body = json!({ "email": email, "code": guess });
                status_and_json(&handle(&app, request("POST", "/api/auth/verify-code", Some(&body), None)).await)
            })
        })
        .collect();
    let mut compared = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if body["error"]["code"] == "invalid_code" {
            compared += 1;
        } else {
            assert_eq!((status, body["error"]["code"].as_str()), (401, Some("code_expired")), "{body}");
        }
    }
    assert_eq!(compared, 5, "exactly the code's five attempts were compared, however many raced");
    assert_eq!(verify(&t, &email, &code).await.1["error"]["code"], "code_expired", "the code is burnt");
}

#[tokio::test]
async fn a_resend_waits_for_the_cooldown() {
    let t = testing::app(Store::memory(), None, &[("SIGN_IN_RESEND_COOLDOWN_SECS", "60")]);
    assert_eq!(request_code(&t, EMAIL).await.0, 202);
    let first = last_code(&t.outbox, EMAIL);
    t.clock.advance(30);
    let response =
        handle(&t.app, request("POST", "/api/auth/request-code", Some(&json!({ "email": EMAIL })), None)).await;
    assert_eq!(response.headers()["retry-after"], "60");
    assert_eq!(status_and_json(&response).1["error"]["code"], "rate_limited");
    assert_eq!(t.outbox.all().len(), 1, "no second email inside the cooldown");
    assert_eq!(request_code(&t, "other@example.com").await.0, 202, "other emails are not held back");
    t.clock.advance(30);
    assert_eq!(request_code(&t, EMAIL).await.0, 202, "after the cooldown a new code goes out");
    let second = last_code(&t.outbox, EMAIL);
    if second != first {
        assert_eq!(verify(&t, EMAIL, &first).await.1["error"]["code"], "invalid_code");
    }
    assert_eq!(verify(&t, EMAIL, &second).await.0, 200);
}

/// Someone guessing at an email: past the day's attempts, one per window; the owner's right code
/// works again as soon as the guessing stops (at the next window at the latest).
#[rstest]
#[tokio::test]
async fn a_days_attempts_are_capped_without_locking_the_owner_out_past_a_window(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let t = testing::app(kind.store().await, None, &[("SIGN_IN_ATTEMPTS_PER_DAY", "12")]);
    // A day that starts with the test, so its windows do not cross midnight.
    let now = t.app.now();
    t.clock.advance(86_400 - now.rem_euclid(86_400) + 60);
    let email = format!("cap-{}@example.com", uuid::Uuid::new_v4().simple());
    let mut taken = 0;
    let mut refused = None;
    for _ in 0..4 {
        request_code(&t, &email).await;
        let code = last_code(&t.outbox, &email);
        for _ in 0..5 {
            let (status, body) = verify(&t, &email, &wrong(&code)).await;
            match status {
                401 => taken += 1,
                _ => refused = refused.or(Some((status, body["error"]["code"].clone()))),
            }
        }
    }
    assert_eq!(taken, 12, "the day's attempts, then none more in this window");
    assert_eq!(refused, Some((429, json!("rate_limited"))));
    // The owner, inside the same window, with the right code: refused too (a lock of one window).
    request_code(&t, &email).await;
    let code = last_code(&t.outbox, &email);
    assert_eq!(verify(&t, &email, &code).await.0, 429);
    // The next window: one attempt, and the owner's right code is it.
    t.clock.advance(900);
    request_code(&t, &email).await;
    let code = last_code(&t.outbox, &email);
    assert_eq!(verify(&t, &email, &code).await.0, 200, "the owner gets in at the next window");
    // And a guesser in a later window gets one attempt, not five.
    t.clock.advance(900);
    request_code(&t, &email).await;
    let code = last_code(&t.outbox, &email);
    assert_eq!(verify(&t, &email, &wrong(&code)).await.1["error"]["code"], "invalid_code");
    assert_eq!(verify(&t, &email, &wrong(&code)).await.0, 429);
    // A new day starts afresh.
    t.clock.advance(86_400);
    request_code(&t, &email).await;
    let code = last_code(&t.outbox, &email);
    for _ in 0..3 {
        assert_eq!(verify(&t, &email, &wrong(&code)).await.1["error"]["code"], "invalid_code");
    }
    assert_eq!(verify(&t, &email, &code).await.0, 200);
}
