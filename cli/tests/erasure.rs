//! The right to erasure: `DELETE /api/me` and the admin's `DELETE /api/admin/users/{user}`, on
//! both stores, through the real router; Stripe simulated, and a Stripe mock that fails first.

#[path = "support/mod.rs"]
mod support;

use rstest::rstest;
use serde_json::{Value, json};
use support::Harness;
use tollgate::store::schema::users;
use tollgate_testkit::{self as testing, StoreKind};

const ADMIN: &str = "admin@example.com";
const ADA: &str = "ada@example.com";

/// Everything one user did: a credit pack, a noted debit, a session with an entry, a monthly
/// subscription, and a Pro purchase made anonymously with the same email.
async fn a_full_account(h: &Harness, token: &str) -> String {
    let pack = h.checkout(Some(token), json!({ "pack": "credits_100" })).await;
    h.deliver_all(&h.pay(&pack)).await;
    let debit = json!({ "amount": 7, "reason": "a lesson with Ada Lovelace" });
    assert_eq!(h.call("POST", "/api/credits/debit", Some(debit), Some(token)).await.0, 200);
    let (status, session) =
        h.call("POST", "/api/sessions", Some(json!({ "data": { "bpm": 172, "by": "Ada" } })), Some(token)).await;
    assert_eq!(status, 201, "{session}");
    let entries = format!("/api/sessions/{}/entries", session["id"].as_str().unwrap());
    assert_eq!(h.call("POST", &entries, Some(json!({ "data": { "lap": 1 } })), Some(token)).await.0, 201);
    let sub = h.checkout(Some(token), json!({ "plan": "basic", "interval": "month" })).await;
    h.deliver_all(&h.pay(&sub)).await;
    let anonymous = h.checkout(None, json!({ "plan": "pro", "email": ADA })).await;
    h.deliver_all(&h.pay(&anonymous)).await;
    h.subscription_id(token).await
}

#[rstest]
#[tokio::test]
async fn an_erasure_ends_the_subscription_deletes_what_the_user_made_and_keeps_the_money_without_the_email(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[("ADMIN_EMAILS", ADMIN)]).await;
    let (admin, _) = h.sign_in(ADMIN).await;
    let (token, user_id) = h.sign_in(ADA).await;
    let sub = a_full_account(&h, &token).await;
    let balance = h.balance(&token).await;

    assert_eq!(h.call("DELETE", "/api/me", None, None).await.0, 401);
    let (status, erased) = h.call("DELETE", "/api/me", None, Some(&token)).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["user_id"], user_id.as_str());
    assert_eq!(erased["subscriptions_canceled"], json!([sub]), "the live subscription is ended at Stripe first");
    assert!(erased["records_deleted"].as_i64().unwrap() >= 3, "the session, its entry, its count: {erased}");
    assert!(erased["records_pseudonymised"].as_i64().unwrap() >= 3, "orders and the noted entry: {erased}");

    // What is kept: the money and access, under the random id, without the address or notes.
    let (status, kept) = h.call("GET", &format!("/api/admin/users/{user_id}/export"), None, Some(&admin)).await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["user"]["email"], "");
    assert_eq!(kept["credits"]["balance"], balance, "the balance is a financial record: kept");
    assert!(kept["ledger"].as_array().unwrap().iter().all(|e| e["note"].is_null()), "{kept}");
    assert_eq!(kept["sessions"], json!([]), "what the user made is gone");
    assert!(kept["subscriptions"].as_array().unwrap().iter().all(|s| s["status"] == "canceled"), "{kept}");
    assert!(
        kept["grants"].as_array().unwrap().iter().any(|g| g["plan"] == "pro"),
        "the anonymous purchase was claimed, not lost"
    );
    assert!(!kept.to_string().contains(ADA), "no trace of the address: {kept}");
    let store = &h.t.app.store;
    assert_eq!(users::id_for_email(store, ADA).await.unwrap(), None);
    if let Some(items) = store.memory_items() {
        let holding: Vec<_> = items.iter().filter(|i| format!("{i:?}").contains(ADA)).map(|i| i.key()).collect();
        assert!(holding.is_empty(), "items still holding the address: {holding:?}");
    }

    // The old token may not claim what the address buys next.
    let (status, body) = h.call("POST", "/api/pro/claim", Some(json!({})), Some(&token)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("account_erased")), "{body}");
    // The same email signs in as somebody new; the old token's erasure can be asked again.
    let (fresh, fresh_id) = h.sign_in(ADA).await;
    assert_ne!(fresh_id, user_id);
    assert_eq!((h.balance(&fresh).await, h.plan(&fresh).await.as_str()), (0, "free"));
    let (status, again) = h.call("DELETE", "/api/me", None, Some(&token)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!((again["subscriptions_canceled"].clone(), again["records_deleted"].as_i64()), (json!([]), Some(0)));
}

#[tokio::test]
async fn administrators_export_and_erase_a_user_by_email() {
    let h = Harness::new(StoreKind::Memory, &[("ADMIN_EMAILS", ADMIN)]).await;
    let (admin, _) = h.sign_in(ADMIN).await;
    let (bob, bob_id) = h.sign_in("bob@example.com").await;
    let path = "/api/admin/users/bob@example.com";
    for (method, path) in [("DELETE", path.to_string()), ("GET", format!("{path}/export"))] {
        let (status, body) = h.call(method, &path, None, Some(&bob)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_an_admin")), "{method} {path}");
    }
    let (status, export) = h.call("GET", &format!("{path}/export"), None, Some(&admin)).await;
    assert_eq!((status, export["user"]["id"].as_str()), (200, Some(bob_id.as_str())), "{export}");
    let (status, erased) = h.call("DELETE", path, None, Some(&admin)).await;
    assert_eq!((status, erased["user_id"].as_str()), (200, Some(bob_id.as_str())), "{erased}");
    let (status, body) = h.call("DELETE", path, None, Some(&admin)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("user_not_found")), "the email names nobody now");
    let (status, _) = h.call("DELETE", "/api/admin/users/usr_nobody", None, Some(&admin)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn when_stripe_cannot_end_the_subscription_nothing_is_erased_and_asking_again_finishes() {
    use wiremock::matchers::{method, path};
    let stripe = wiremock::MockServer::start().await;
    let h = Harness { t: testing::app(StoreKind::Memory.store().await, Some(&stripe.uri()), &[]) };
    let (token, user_id) = h.sign_in(ADA).await;
    let live = testing::subscription_object(
        "sub_erase",
        "cus_erase",
        &user_id,
        "active",
        testing::PRO_MONTHLY_PRICE,
        (h.t.app.now(), h.t.app.now() + 30 * 86_400),
    );
    let created = testing::event_at("evt_erase_created", "customer.subscription.created", live, h.t.app.now());
    assert_eq!(h.deliver(&created).await.0, 200);
    assert_eq!(h.call("POST", "/api/sessions", Some(json!({ "data": {} })), Some(&token)).await.0, 201);

    let failing = wiremock::Mock::given(method("DELETE"))
        .and(path("/v1/subscriptions/sub_erase"))
        .respond_with(wiremock::ResponseTemplate::new(500).set_body_json(json!({ "error": { "message": "down" } })))
        .expect(1..)
        .mount_as_scoped(&stripe)
        .await;
    let (status, body) = h.call("DELETE", "/api/me", None, Some(&token)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (502, Some("stripe_error")), "{body}");
    drop(failing);
    assert_eq!(users::id_for_email(&h.t.app.store, ADA).await.unwrap(), Some(user_id.clone()), "nothing erased");
    let (_, sessions) = h.call("GET", "/api/sessions", None, Some(&token)).await;
    assert_eq!(sessions["sessions"].as_array().map(Vec::len), Some(1), "{sessions}");

    wiremock::Mock::given(method("DELETE"))
        .and(path("/v1/subscriptions/sub_erase"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(json!({ "id": "sub_erase", "status": "canceled" })),
        )
        .mount(&stripe)
        .await;
    let (status, erased) = h.call("DELETE", "/api/me", None, Some(&token)).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["subscriptions_canceled"], json!(["sub_erase"]));
    let requests = stripe.received_requests().await.unwrap();
    let cancels: Vec<_> = requests.iter().filter(|r| r.method.as_str() == "DELETE").collect();
    assert!(cancels.len() >= 2);
    for request in cancels {
        testing::assert_real_operation(request.method.as_str(), request.url.path());
        assert_eq!(request.headers.get("idempotency-key").map(|v| v.to_str().unwrap()), Some("cancel-sub_erase"));
        assert_eq!(
            request.headers.get("stripe-version").map(|v| v.to_str().unwrap()),
            Some(tollgate::stripe::client::API_VERSION)
        );
    }
    assert_eq!(users::id_for_email(&h.t.app.store, ADA).await.unwrap(), None);
    let _: Value = erased;
}
