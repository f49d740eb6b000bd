//! The data-rights export: everything Tollgate holds about the caller, on both stores, through
//! the real router, and nothing of anyone else's.

#[path = "support/mod.rs"]
mod support;

use rstest::rstest;
use serde_json::json;
use support::Harness;
use tollgate_testkit::StoreKind;

#[rstest]
#[tokio::test]
async fn the_export_holds_everything_about_the_caller_and_nothing_else(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[]).await;
    let (token, user_id) = h.sign_in("ada@example.com").await;
    let (other, _) = h.sign_in("bob@example.com").await;
    let pack = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    h.deliver_all(&h.pay(&pack)).await;
    let (status, _) =
        h.call("POST", "/api/credits/debit", Some(json!({ "amount": 7, "reason": "lesson" })), Some(&token)).await;
    assert_eq!(status, 200);
    let (status, session) = h
        .call("POST", "/api/sessions", Some(json!({ "kind": "metronome", "data": { "bpm": 172 } })), Some(&token))
        .await;
    assert_eq!(status, 201);
    let entry = format!("/api/sessions/{}/entries", session["id"].as_str().unwrap());
    assert_eq!(h.call("POST", &entry, Some(json!({ "data": { "lap": 1 } })), Some(&token)).await.0, 201);
    assert_eq!(h.call("POST", "/api/sessions", Some(json!({ "data": { "theirs": true } })), Some(&other)).await.0, 201);

    let (status, export) = h.call("GET", "/api/me/export", None, Some(&token)).await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["user"]["id"], user_id.as_str());
    assert_eq!(export["user"]["email"], "ada@example.com");
    assert_eq!(export["credits"]["balance"], 93);
    let ledger = export["ledger"].as_array().unwrap();
    assert_eq!(ledger.len(), 2, "the whole ledger, oldest first");
    assert_eq!((ledger[0]["reason"].as_str(), ledger[1]["note"].as_str()), (Some("purchase"), Some("lesson")));
    let sessions = export["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "only the caller's sessions");
    assert_eq!(sessions[0]["entries"][0]["data"]["lap"], 1);
    let orders = export["orders"].as_array().unwrap();
    assert!(orders.iter().any(|o| o["id"] == pack.order_id.as_str() && o["status"] == "paid"), "{export}");
    assert_eq!(export["billing_events"][0]["type"], "checkout.session.completed");
    assert!(export["exported_at"].is_string());
    assert!(!export.to_string().contains("bob@example.com"), "nothing of another user's");

    assert_eq!(h.call("GET", "/api/me/export", None, None).await.0, 401);
}
