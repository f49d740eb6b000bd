//! Issue 9's findings, each reproduced as an attacker or a failing network would, through the
//! real router on both stores. Each of these failed before its fix.

#[path = "../support/mod.rs"]
mod support;
mod waiting_and_members;

use rstest::rstest;
use serde_json::json;
use support::Harness;
use tollgate::domain::credits;
use tollgate::store::Store;
use tollgate::store::schema::Reason;
use tollgate_testkit::{self as testing, StoreKind};

#[rstest]
#[tokio::test]
async fn a_callers_key_cannot_pre_empt_a_refunds_take_back(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
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

#[rstest]
#[tokio::test]
async fn period_credits_come_only_with_paid_periods_of_the_billed_plan(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[]).await;
    let (token, _) = h.sign_in("subscriber@example.com").await;
    let bought = h.checkout(Some(&token), json!({ "plan": "pro", "interval": "month" })).await;
    h.deliver_all(&h.pay(&bought)).await;
    assert_eq!(h.plan(&token).await, "pro");
    assert_eq!(h.balance(&token).await, 0, "the $0 invoice that opens a trial pays for no period");

    let sub = h.subscription_id(&token).await;
    let now = h.t.app.now();
    let first_paid = h.sim().renew(&sub, now).unwrap();
    h.deliver_all(&first_paid).await;
    assert_eq!(h.balance(&token).await, 200, "the first paid period");

    // A proration invoice (a mid-period change) pays for no period.
    let (_, user) = h.sign_in("subscriber@example.com").await;
    let mut proration = testing::subscription_invoice("in_proration", &sub, "cus_x", &user, "paid", 700);
    proration["billing_reason"] = json!("subscription_update");
    h.deliver_all(&[testing::event("invoice.paid", proration)]).await;
    assert_eq!(h.balance(&token).await, 200, "prorations grant nothing");

    // Switched to Basic in the portal: its renewals bill Basic's price, whatever the metadata says.
    h.deliver_all(&[h.sim().switch_price(&sub, testing::BASIC_MONTHLY_PRICE, now).unwrap()]).await;
    h.deliver_all(&h.sim().renew(&sub, now).unwrap()).await;
    assert_eq!(h.balance(&token).await, 200, "Basic grants no credits (metadata still says pro)");

    // The first paid period refunded: its 200 credits come back out, what is unspent of them.
    let spend = json!({ "amount": 50, "idempotency_key": "spend-1" });
    assert_eq!(h.call("POST", "/api/credits/debit", Some(spend), Some(&token)).await.0, 200);
    let payment = first_paid.iter().find_map(|b| support::paid_invoice_payment(b)).expect("the period's payment");
    let (status, body) = h.deliver(&h.sim().refund_payment(&payment, now)).await;
    assert_eq!((status, &body["outcome"]), (200, &json!("credits_taken_back")), "{body}");
    assert_eq!(h.balance(&token).await, 0, "150 left, all taken back");
    let (status, body) = h.deliver(&h.sim().refund_payment(&payment, now)).await;
    assert_eq!((status, &body["outcome"]), (200, &json!("already_applied")), "a second refund event: once");
}

#[tokio::test]
async fn trial_credits_are_granted_only_when_the_catalog_says_so() {
    let text = tollgate::catalog::BUILT_IN.replace("trial_days = 30\n", "trial_days = 30\ntrial_credits = 20\n");
    let h = Harness { t: testing::app_with_catalog(Store::memory(), None, &[], testing::catalog_from(&text)) };
    let (token, _) = h.sign_in("trial@example.com").await;
    let bought = h.checkout(Some(&token), json!({ "plan": "pro", "interval": "month" })).await;
    let events = h.pay(&bought);
    h.deliver_all(&events).await;
    h.deliver_all(&events).await;
    assert_eq!(h.balance(&token).await, 20, "the trial's own credits, once");
}

/// An anonymous Pro purchase, paid; the buyer has signed in but not claimed it yet.
async fn anonymous_pro(h: &Harness, email: &str) -> (String, support::Bought, String) {
    let bought = h.checkout(None, json!({ "plan": "pro", "email": email })).await;
    h.deliver_all(&h.pay(&bought)).await;
    let (token, _) = h.sign_in(email).await;
    let pi = h.sim().payment_intent(&bought.session_id).unwrap();
    (token, bought, pi)
}

async fn claim(h: &Harness, token: &str, bought: &support::Bought) -> u16 {
    let body = json!({ "session_id": bought.session_id });
    h.call("POST", "/api/pro/claim", Some(body), Some(token)).await.0
}

#[rstest]
#[tokio::test]
async fn a_refund_wins_over_a_claim_in_any_order(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    // Refund first, then the claim.
    let h = Harness::new(kind, &[]).await;
    let (token, bought, pi) = anonymous_pro(&h, "first@example.com").await;
    h.deliver_all(&[h.sim().refund_payment(&pi, h.t.app.now())]).await;
    assert_eq!(claim(&h, &token, &bought).await, 409);
    assert_eq!(h.plan(&token).await, "free");

    // The claim first, then the refund.
    let (token, bought, pi) = anonymous_pro(&h, "second@example.com").await;
    assert_eq!(claim(&h, &token, &bought).await, 200);
    assert_eq!(h.plan(&token).await, "pro");
    h.deliver_all(&[h.sim().refund_payment(&pi, h.t.app.now())]).await;
    assert_eq!(h.plan(&token).await, "free");
}

/// The refund lands between every pair of the claim's store calls (and the claim between every
/// pair of the refund's): whichever interleaving, the refund wins and nothing is counted twice.
#[rstest]
#[tokio::test]
async fn a_refund_landing_inside_a_claim_still_wins(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (h, faults) = Harness::faulty(kind, &[]).await;
    let h = std::sync::Arc::new(h);
    // The refund lands before each of the claim's store calls in turn, until the claim is done
    // before the refund's turn comes.
    let mut covered = 0;
    for nth in 1..=20u64 {
        let email = format!("inside{nth}@example.com");
        let (token, bought, pi) = anonymous_pro(&h, &email).await;
        let refund = h.sim().refund_payment(&pi, h.t.app.now());
        let (other, ran) = (h.clone(), std::sync::Arc::new(AtomicBool::new(false)));
        let flag = ran.clone();
        faults.before_call(nth, async move {
            let (status, body) = other.deliver(&refund).await;
            assert_eq!(status, 200, "{body}");
            flag.store(true, Ordering::SeqCst);
        });
        let status = claim(&h, &token, &bought).await;
        faults.reset();
        if !ran.load(Ordering::SeqCst) {
            break;
        }
        covered += 1;
        assert!(status == 200 || status == 409, "claim answered {status}");
        assert_eq!(h.plan(&token).await, "free", "refund before the claim's call {nth}");
        let user = h.sign_in(&email).await.1;
        let held = h.t.app.store.get(&tollgate::store::schema::keys::plans_held(&user)).await.unwrap();
        assert_eq!(held.and_then(|i| i.num("held_pro")).unwrap_or(0), 0, "no grant counted (call {nth})");
    }
    assert!(covered >= 4, "the claim made only {covered} store calls");
    // And the claim lands inside the refund.
    for nth in 1..=20u64 {
        let email = format!("claiminside{nth}@example.com");
        let (token, bought, pi) = anonymous_pro(&h, &email).await;
        let refund = h.sim().refund_payment(&pi, h.t.app.now());
        let (other, ran) = (h.clone(), std::sync::Arc::new(AtomicBool::new(false)));
        let (flag, token2, session) = (ran.clone(), token.clone(), bought.session_id.clone());
        faults.before_call(nth, async move {
            let _ = other.call("POST", "/api/pro/claim", Some(json!({ "session_id": session })), Some(&token2)).await;
            flag.store(true, Ordering::SeqCst);
        });
        let (status, body) = h.deliver(&refund).await;
        faults.reset();
        if !ran.load(Ordering::SeqCst) {
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert_eq!(h.plan(&token).await, "free", "claim before the refund's call {nth}");
    }
}

#[rstest]
#[tokio::test]
async fn disputes_take_back_and_a_won_dispute_gives_back(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[]).await;
    let (token, _) = h.sign_in("disputed@example.com").await;
    let pro = h.checkout(Some(&token), json!({ "plan": "pro" })).await;
    h.deliver_all(&h.pay(&pro)).await;
    let pack = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    h.deliver_all(&h.pay(&pack)).await;
    let spend = json!({ "amount": 30, "idempotency_key": "before-dispute" });
    assert_eq!(h.call("POST", "/api/credits/debit", Some(spend), Some(&token)).await.0, 200);
    let now = h.t.app.now();
    let (pro_pi, pack_pi) =
        (h.sim().payment_intent(&pro.session_id).unwrap(), h.sim().payment_intent(&pack.session_id).unwrap());

    let opened = h.sim().dispute("dp_pro", &pro_pi, None, now);
    assert_eq!(h.deliver(&opened).await.1["outcome"], "purchase_disputed");
    assert_eq!(h.plan(&token).await, "free", "taken back when the dispute opens");
    h.deliver_all(&[h.sim().dispute("dp_pack", &pack_pi, None, now)]).await;
    assert_eq!(h.balance(&token).await, 0, "the pack's unspent 70 taken back");

    let won = h.sim().dispute("dp_pro", &pro_pi, Some(true), now);
    assert_eq!(h.deliver(&won).await.1["outcome"], "dispute_won");
    assert_eq!(h.deliver(&won).await.1["duplicate"], true);
    assert_eq!(h.plan(&token).await, "pro", "given back when won");
    h.deliver_all(&[h.sim().dispute("dp_pack", &pack_pi, Some(true), now)]).await;
    assert_eq!(h.balance(&token).await, 70, "what the dispute took comes back");

    // A refund after the won dispute still takes the plan back.
    h.deliver_all(&[h.sim().refund_payment(&pro_pi, now)]).await;
    assert_eq!(h.plan(&token).await, "free");
}

#[tokio::test]
async fn with_disputes_revoking_when_lost_an_open_dispute_changes_nothing() {
    let h = Harness::new(StoreKind::Memory, &[("DISPUTE_REVOKES", "lost")]).await;
    let (token, _) = h.sign_in("patient@example.com").await;
    let pro = h.checkout(Some(&token), json!({ "plan": "pro" })).await;
    h.deliver_all(&h.pay(&pro)).await;
    let (pi, now) = (h.sim().payment_intent(&pro.session_id).unwrap(), h.t.app.now());
    assert_eq!(h.deliver(&h.sim().dispute("dp_1", &pi, None, now)).await.1["outcome"], "dispute_noted");
    assert_eq!(h.plan(&token).await, "pro");
    assert_eq!(h.deliver(&h.sim().dispute("dp_1", &pi, Some(false), now)).await.1["outcome"], "purchase_disputed");
    assert_eq!(h.plan(&token).await, "free", "lost: taken back");
}
