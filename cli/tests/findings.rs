//! Issue 9's findings, each reproduced as an attacker or a failing network would, through the
//! real router on both stores. Each of these failed before its fix.

mod support;

use serde_json::json;
use support::Harness;
use tollgate::domain::credits;
use tollgate::store::records::Reason;
use tollgate::testing::StoreKind;

async fn a_callers_key_cannot_pre_empt_a_refunds_take_back(kind: StoreKind) {
    let h = Harness::new(kind, &[]).await;
    let (token, user) = h.sign_in("buyer@example.com").await;
    let bought = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    h.deliver_all(&h.pay(&bought)).await;
    assert_eq!(h.balance(&token).await, 100);

    // The buyer debits 1 under the key Tollgate's refund of this order would use.
    let hostile = json!({ "amount": 1, "idempotency_key": format!("refund:{}", bought.order_id), "reason": "refund" });
    let (status, body) = h.call("POST", "/api/credits/debit", Some(hostile), Some(&token)).await;
    assert_eq!((status, &body["balance"]), (200, &json!(99)), "{body}");
    let (_, page) = h.call("GET", "/api/credits", None, Some(&token)).await;
    assert_eq!((&page["entries"][0]["reason"], &page["entries"][0]["note"]), (&json!("debit"), &json!("refund")));

    let refund = h.sim().refund(&bought.session_id, h.t.app.now()).unwrap();
    let (status, body) = h.deliver(&refund).await;
    assert_eq!((status, &body["outcome"]), (200, &json!("credits_taken_back")), "{body}");
    assert_eq!(h.balance(&token).await, 0, "the refund takes back all 99 unspent credits");
    let ledger = credits::ledger(&h.t.app, &user).await.unwrap();
    let taken = ledger.last().unwrap();
    assert_eq!((taken.reason, taken.delta, taken.shortfall), (Reason::Refund, -99, Some(1)));
    let tollgates = ledger.iter().filter(|e| e.reason == Reason::Refund).count();
    assert_eq!(tollgates, 1, "only Tollgate's own take-back carries the refund reason");
}

#[tokio::test]
async fn a_callers_key_cannot_pre_empt_a_refunds_take_back_in_memory() {
    a_callers_key_cannot_pre_empt_a_refunds_take_back(StoreKind::Memory).await;
}

#[tokio::test]
async fn a_callers_key_cannot_pre_empt_a_refunds_take_back_on_dynamodb() {
    a_callers_key_cannot_pre_empt_a_refunds_take_back(StoreKind::DynamoDb).await;
}

#[tokio::test]
async fn no_reason_a_caller_writes_reads_as_one_of_tollgates() {
    let h = Harness::new(StoreKind::Memory, &[]).await;
    let (token, user) = h.sign_in("mimic@example.com").await;
    let bought = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    h.deliver_all(&h.pay(&bought)).await;
    for reason in Reason::ALL {
        let body = json!({ "amount": 1, "reason": reason.as_str() });
        let (status, answer) = h.call("POST", "/api/credits/debit", Some(body), Some(&token)).await;
        assert_eq!(status, 200, "{answer}");
    }
    let ledger = credits::ledger(&h.t.app, &user).await.unwrap();
    assert_eq!(ledger.len(), 1 + Reason::ALL.len());
    assert!(ledger[1..].iter().all(|e| e.reason == Reason::Debit), "{ledger:?}");
}

#[tokio::test]
async fn out_of_range_amounts_are_refused_and_write_nothing() {
    let h = Harness::new(StoreKind::Memory, &[("ADMIN_EMAILS", "boss@example.com")]).await;
    let (boss, _) = h.sign_in("boss@example.com").await;
    let (token, user) = h.sign_in("target@example.com").await;
    for amount in [json!(i64::MIN), json!(i64::MAX), json!(-9_223_372_036_854_775_807i64), json!(1e300)] {
        let body = json!({ "user_id": user, "amount": amount, "reason": "edge" });
        let (status, answer) = h.call("POST", "/api/admin/credits/grant", Some(body), Some(&boss)).await;
        assert_eq!(status, 400, "{amount}: {answer}");
        let body = json!({ "amount": amount });
        let (status, answer) = h.call("POST", "/api/credits/debit", Some(body), Some(&token)).await;
        assert_eq!(status, 400, "{amount}: {answer}");
    }
    assert!(credits::ledger(&h.t.app, &user).await.unwrap().is_empty(), "nothing was written");
}
