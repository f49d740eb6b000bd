//! The credits handler: debits that never overdraw and never count twice, the ledger, and the
//! guarantees under concurrency, on the memory store and the DynamoDB server alike.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rstest::rstest;
use serde_json::{Value, json};
use tollgate::App;
use tollgate::domain::credits::{self, Change, Floor, Outcome};
use tollgate::store::Store;
use tollgate::store::schema::{Reason, RequestKey};
use tollgate_credits::handle;
use tollgate_testkit::{self as testing, StoreKind, TestApp, count_successes, raw_request, request, status_and_json};

const USER: &str = "usr_credits";

async fn seed(app: &App, user: &str, amount: i64) {
    let change = Change {
        user_id: user,
        delta: amount,
        floor: Floor::Refuse,
        reason: Reason::Admin,
        note: None,
        reference: None,
        key: None,
    };
    assert!(matches!(credits::apply(app, &change, &|_| Default::default()).await.unwrap(), Outcome::Applied(_)));
}

fn token(t: &TestApp) -> String {
    testing::token(&t.app, USER, "credits@example.com")
}

async fn debit(app: &App, token: &str, body: Value) -> (u16, Value) {
    status_and_json(&handle(app, request("POST", "/api/credits/debit", Some(&body), Some(token))).await)
}

async fn get(t: &TestApp, query: &str) -> (u16, Value) {
    status_and_json(&handle(&t.app, request("GET", &format!("/api/credits{query}"), None, Some(&token(t)))).await)
}

fn memory() -> TestApp {
    testing::app(Store::memory(), None, &[])
}

#[tokio::test]
async fn a_debit_takes_credits_and_the_ledger_shows_it() {
    let t = memory();
    seed(&t.app, USER, 10).await;
    let (status, body) = debit(&t.app, &token(&t), json!({ "amount": 3, "reason": "generation" })).await;
    assert_eq!((status, &body["balance"]), (200, &json!(7)), "{body}");
    let (status, page) = get(&t, "").await;
    assert_eq!((status, &page["balance"]), (200, &json!(7)));
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["id"], body["entry_id"], "newest first");
    assert_eq!(
        (&entries[0]["delta"], &entries[0]["balance_after"], &entries[0]["reason"], &entries[0]["note"]),
        (&json!(-3), &json!(7), &json!("debit"), &json!("generation"))
    );
    assert_eq!((&entries[1]["delta"], &entries[1]["balance_after"]), (&json!(10), &json!(10)));
    assert!(entries[0]["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn not_enough_credits_is_402_with_balance_and_required_and_writes_nothing() {
    let t = memory();
    seed(&t.app, USER, 5).await;
    let (status, body) = debit(&t.app, &token(&t), json!({ "amount": 6 })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some("insufficient_credits")));
    assert_eq!((&body["error"]["balance"], &body["error"]["required"]), (&json!(5), &json!(6)));
    assert_eq!(credits::ledger(&t.app, USER).await.unwrap().len(), 1);
    assert_eq!(credits::balance(&t.app, USER).await.unwrap(), 5);
}

#[tokio::test]
async fn a_stale_hint_never_refuses_a_debit_the_balance_covers() {
    let store = Store::memory();
    let a = testing::app(store.clone(), None, &[]);
    let b = testing::app(store, None, &[]);
    seed(&a.app, USER, 1).await;
    seed(&b.app, USER, 9).await;
    // Instance a last saw 1; the balance is 10.
    let (status, body) = debit(&a.app, &token(&a), json!({ "amount": 8 })).await;
    assert_eq!((status, &body["balance"]), (200, &json!(2)), "{body}");
}

#[tokio::test]
async fn bad_amounts_and_fields_are_400() {
    let t = testing::app(Store::memory(), None, &[("CREDITS_MAX_DEBIT", "1000")]);
    seed(&t.app, USER, 5000).await;
    for (body, code) in [
        (json!({ "amount": 0 }), "invalid_amount"),
        (json!({ "amount": -5 }), "invalid_amount"),
        (json!({ "amount": 1001 }), "invalid_amount"),
        (json!({ "amount": 1.5 }), "invalid_field"),
        (json!({ "amount": "3" }), "invalid_field"),
        (json!({}), "missing_field"),
        (json!({ "amount": 1, "reason": "" }), "invalid_field"),
        (json!({ "amount": 1, "idempotency_key": "x".repeat(256) }), "invalid_field"),
    ] {
        let (status, json) = debit(&t.app, &token(&t), body.clone()).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some(code)), "{body}");
    }
    assert_eq!(credits::balance(&t.app, USER).await.unwrap(), 5000);
}

#[tokio::test]
async fn a_token_is_required() {
    let t = memory();
    let (status, _) = status_and_json(&handle(&t.app, request("GET", "/api/credits", None, None)).await);
    assert_eq!(status, 401);
    let body = json!({ "amount": 1 });
    assert_eq!(status_and_json(&handle(&t.app, request("POST", "/api/credits/debit", Some(&body), None)).await).0, 401);
}

#[tokio::test]
async fn a_retried_key_returns_the_first_result_and_debits_once() {
    let t = memory();
    seed(&t.app, USER, 10).await;
    let first = debit(&t.app, &token(&t), json!({ "amount": 4, "idempotency_key": "req-1" })).await;
    seed(&t.app, USER, 100).await;
    let again = debit(&t.app, &token(&t), json!({ "amount": 4, "idempotency_key": "req-1" })).await;
    assert_eq!(first, again, "the first result, even after the balance moved");
    assert_eq!(credits::balance(&t.app, USER).await.unwrap(), 106);

    let header = raw_request(
        "POST",
        "/api/credits/debit",
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {}", token(&t))),
            ("idempotency-key", "req-1"),
        ],
        br#"{"amount":4}"#.to_vec(),
        testing::CALLER_IP,
    );
    assert_eq!(status_and_json(&handle(&t.app, header).await), first, "the key may come as a header");

    let (status, body) = debit(&t.app, &token(&t), json!({ "amount": 5, "idempotency_key": "req-1" })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("idempotency_key_reused")));

    let mismatch = raw_request(
        "POST",
        "/api/credits/debit",
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {}", token(&t))),
            ("idempotency-key", "a"),
        ],
        br#"{"amount":4,"idempotency_key":"b"}"#.to_vec(),
        testing::CALLER_IP,
    );
    assert_eq!(status_and_json(&handle(&t.app, mismatch).await).1["error"]["code"], "conflicting_idempotency_keys");
    assert_eq!(credits::balance(&t.app, USER).await.unwrap(), 106);
}

#[tokio::test]
async fn a_retry_after_the_balance_ran_out_still_replays() {
    let t = memory();
    seed(&t.app, USER, 4).await;
    let first = debit(&t.app, &token(&t), json!({ "amount": 4, "idempotency_key": "all-of-it" })).await;
    assert_eq!(first.0, 200);
    assert_eq!(debit(&t.app, &token(&t), json!({ "amount": 4, "idempotency_key": "all-of-it" })).await, first);
}

#[tokio::test]
async fn use_is_a_debit_keyed_by_ref() {
    let t = memory();
    seed(&t.app, USER, 10).await;
    let call = |body: Value| {
        let app = t.app.clone();
        let token = token(&t);
        async move { status_and_json(&handle(&app, request("POST", "/api/credits/use", Some(&body), Some(&token))).await) }
    };
    let first = call(json!({ "units": 2, "ref": "chat-msg-1" })).await;
    assert_eq!((first.0, &first.1["balance"]), (200, &json!(8)));
    assert_eq!(call(json!({ "units": 2, "ref": "chat-msg-1" })).await, first);
    assert_eq!(call(json!({ "units": 2 })).await.1["error"]["code"], "missing_field");
    assert_eq!(call(json!({ "units": 20, "ref": "big" })).await.0, 402);
    let entries = credits::ledger(&t.app, USER).await.unwrap();
    assert_eq!((entries[1].reason, entries[1].reference.as_deref()), (Reason::Use, Some("chat-msg-1")));
}

#[tokio::test]
async fn history_pages_newest_first_by_opaque_cursor() {
    let t = memory();
    for i in 1..=25 {
        seed(&t.app, USER, i).await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = get(&t, &format!("?limit=10{cursor}")).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["entries"].as_array().unwrap().iter().map(|e| e["delta"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, (1..=25).rev().collect::<Vec<_>>());
    for query in ["?limit=0", "?limit=101", "?limit=ten", "?cursor=not-ours"] {
        assert_eq!(get(&t, query).await.0, 400, "{query}");
    }
}

#[rstest]
#[tokio::test]
async fn calls_per_debit(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let store = kind.store().await;
    let warm = testing::app(store.clone(), None, &[]);
    seed(&warm.app, USER, 100).await;
    let before = warm.app.store.round_trips();
    assert_eq!(debit(&warm.app, &token(&warm), json!({ "amount": 1 })).await.0, 200);
    assert_eq!(warm.app.store.round_trips() - before, 1, "a debit this instance can compute is one TransactWriteItems");

    let cold = testing::app(store, None, &[]);
    let before = cold.app.store.round_trips();
    assert_eq!(debit(&cold.app, &token(&cold), json!({ "amount": 1 })).await.0, 200);
    assert_eq!(cold.app.store.round_trips() - before, 2, "a first debit on an instance reads the balance first");
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_debits_against_fifty(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let t = testing::app(kind.store().await, None, &[]);
    seed(&t.app, USER, 50).await;
    let token = token(&t);
    let outcomes: Vec<_> = (0..100)
        .map(|_| {
            let app = t.app.clone();
            let token = token.clone();
            tokio::spawn(async move { debit(&app, &token, json!({ "amount": 1 })).await.0 })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for outcome in outcomes {
        match outcome.await.unwrap() {
            200 => ok += 1,
            402 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, refused), (50, 50));
    assert_eq!(credits::balance(&t.app, USER).await.unwrap(), 0);
    assert_ledger_consistent(&t.app, USER).await;
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_racing_retries_of_one_key_debit_once(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let t = testing::app(kind.store().await, None, &[]);
    seed(&t.app, USER, 100).await;
    let token = token(&t);
    let successes = count_successes(20, |_| {
        let app = t.app.clone();
        let token = token.clone();
        async move { debit(&app, &token, json!({ "amount": 7, "idempotency_key": "same" })).await.0 == 200 }
    })
    .await;
    assert_eq!(successes, 20, "every retry gets the first result");
    assert_eq!(credits::balance(&t.app, USER).await.unwrap(), 93, "one debit");
    assert_eq!(credits::ledger(&t.app, USER).await.unwrap().len(), 2);
}

/// The balance equals the sum of the ledger, and every entry's balance_after is the running sum.
async fn assert_ledger_consistent(app: &App, user: &str) {
    let entries = credits::ledger(app, user).await.unwrap();
    let mut running = 0;
    for entry in &entries {
        running += entry.delta;
        assert_eq!(entry.balance_after, running, "entry {} after {running}", entry.id);
        assert!(entry.balance_after >= 0);
    }
    assert_eq!(credits::balance(app, user).await.unwrap(), running);
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ledger_replays_to_the_balance_after_a_random_workload(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let store = kind.store().await;
    // Two instances, so hints go stale as they would across Lambda instances.
    let instances = [testing::app(store.clone(), None, &[]), testing::app(store, None, &[])];
    let seed = testing::seed("the_ledger_replays_to_the_balance_after_a_random_workload");
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let app = instances[i % 2].app.clone();
            tokio::spawn(async move {
                let (delta, floor) = {
                    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64));
                    match rng.random_range(0..3) {
                        0 => (rng.random_range(1..20), Floor::Refuse),
                        1 => (-rng.random_range(1..15), Floor::Refuse),
                        _ => (-rng.random_range(1..30), Floor::Clamp),
                    }
                };
                let key = format!("op-{}", i % 45);
                let change = Change {
                    user_id: USER,
                    delta,
                    floor,
                    reason: Reason::Debit,
                    note: None,
                    reference: None,
                    key: Some(RequestKey::Caller(&key)),
                };
                credits::apply(&app, &change, &|_| Default::default()).await.unwrap()
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_ledger_consistent(&instances[0].app, USER).await;
}
