//! Claiming and verifying: a session id is not a credential, a purchase the webhook has not
//! recorded yet is fetched from Stripe and recorded through the same exactly-once write, and
//! verification reads the store, not the token.

use serde_json::{Value, json};
use tollgate::auth::tokens::Subject;
use tollgate::store::Store;
use tollgate::store::schema::{Grant, Holder, Order, OrderStatus, keys};
use tollgate_claim::handle;
use tollgate_testkit::{self as testing, TestApp, event, paid_session, refunded_charge, request, status_and_json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn claim(t: &TestApp, bearer: Option<&str>, body: Option<Value>) -> (u16, Value) {
    status_and_json(&handle(&t.app, request("POST", "/api/pro/claim", body.as_ref(), bearer)).await)
}

async fn verify(t: &TestApp, bearer: &str) -> (u16, Value) {
    status_and_json(&handle(&t.app, request("GET", "/api/pro/verify", None, Some(bearer))).await)
}

/// A signed delivery through the entry point the webhook function calls.
async fn webhook(t: &TestApp, body: Vec<u8>) {
    let header = testing::signed_header(&body, t.app.now());
    tollgate::domain::stripe_events::receive(&t.app, &body, Some(&header)).await.expect("the event is applied");
}

async fn stripe_with_session(session: Value) -> MockServer {
    let server = MockServer::start().await;
    let id = session["id"].as_str().unwrap().to_string();
    Mock::given(method("GET"))
        .and(path(format!("/v1/checkout/sessions/{id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(session))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_test_unknown"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({ "error": { "type": "invalid_request_error", "message": "No such checkout.session" } }),
        ))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn claim_and_verify_need_a_valid_token() {
    let t = testing::app(Store::memory(), None, &[]);
    assert_eq!(claim(&t, None, None).await.1["error"]["code"], "missing_token");
    assert_eq!(claim(&t, None, None).await.0, 401);
    for bad in ["garbage", "a.b.c"] {
        assert_eq!(claim(&t, Some(bad), None).await.0, 401);
        assert_eq!(verify(&t, bad).await.0, 401);
    }
    let expired = t
        .app
        .tokens
        .mint(
            &Subject { user_id: "usr_1", email: "a@b.co", plan: "pro", pro: true, admin: false, token_version: 0 },
            t.app.now() - 721 * 3600,
        )
        .unwrap()
        .0;
    assert_eq!(verify(&t, &expired).await.1["error"]["code"], "token_expired");
    let unauthenticated = request("GET", "/api/pro/verify", None, None);
    assert_eq!(status_and_json(&handle(&t.app, unauthenticated).await).0, 401);
}

#[tokio::test]
async fn a_recorded_purchase_is_claimed_and_verified_from_the_store() {
    let t = testing::app(Store::memory(), None, &[]);
    webhook(
        &t,
        event("checkout.session.completed", paid_session("cs_test_rec", "ord_rec", Some("usr_ada"), "ada@example.com")),
    )
    .await;
    let bearer = testing::token(&t.app, "usr_ada", "ada@example.com");
    let (status, body) = claim(&t, Some(&bearer), Some(json!({ "session_id": "cs_test_rec" }))).await;
    assert_eq!((status, &body["pro"], &body["plan"]), (200, &json!(true), &json!("pro")), "{body}");
    let fresh = t.app.tokens.verify(body["token"].as_str().unwrap(), t.app.now()).unwrap();
    assert!(fresh.pro);
    assert_eq!(
        verify(&t, &bearer).await,
        (200, json!({ "pro": true, "plan": "pro", "expires_at": null, "plan_ends_at": null, "subscription": null }))
    );

    let pi = Order::from_item(&t.app.store.get(&keys::order("ord_rec")).await.unwrap().unwrap())
        .unwrap()
        .payment_intent
        .unwrap();
    webhook(&t, event("charge.refunded", refunded_charge(&pi))).await;
    let (status, after) = verify(&t, body["token"].as_str().unwrap()).await;
    assert_eq!(
        (status, after["error"]["code"].as_str()),
        (401, Some("token_revoked")),
        "a refund revokes the token that named Pro while it is still unexpired"
    );
    let (token, _) = tollgate::domain::entitlements::token_for(&t.app, "usr_ada", "ada@example.com").await.unwrap();
    assert_eq!(verify(&t, &token).await.1["pro"], false, "a new token says what the user holds now");
}

#[tokio::test]
async fn someone_elses_session_is_403_whether_recorded_or_not() {
    let session = paid_session("cs_test_theirs", "ord_theirs", Some("usr_owner"), "owner@example.com");
    let stripe = stripe_with_session(session.clone()).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let thief = testing::token(&t.app, "usr_thief", "thief@example.com");
    let (status, body) = claim(&t, Some(&thief), Some(json!({ "session_id": "cs_test_theirs" }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_your_purchase")), "not recorded yet");
    assert!(
        t.app.store.get(&keys::order("ord_theirs")).await.unwrap().is_none(),
        "nothing recorded for the wrong caller"
    );

    webhook(&t, event("checkout.session.completed", session)).await;
    let (status, body) = claim(&t, Some(&thief), Some(json!({ "session_id": "cs_test_theirs" }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_your_purchase")), "recorded");
}

#[tokio::test]
async fn buying_under_someone_elses_email_never_yields_their_account() {
    // Mallory, signed in, buys with Ada's email: the purchase is Mallory's, not Ada's.
    let session = paid_session("cs_test_mal", "ord_mal", Some("usr_mallory"), "ada@example.com");
    let t = testing::app(Store::memory(), None, &[]);
    webhook(&t, event("checkout.session.completed", session)).await;
    let ada = testing::token(&t.app, "usr_ada", "ada@example.com");
    assert_eq!(claim(&t, Some(&ada), Some(json!({ "session_id": "cs_test_mal" }))).await.0, 403);
    assert_eq!(claim(&t, Some(&ada), None).await.1["pro"], false);
}

#[tokio::test]
async fn a_purchase_the_webhook_has_not_recorded_is_fetched_and_recorded_once() {
    let session = paid_session("cs_test_early", "ord_early", Some("usr_early"), "early@example.com");
    let stripe = stripe_with_session(session.clone()).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let bearer = testing::token(&t.app, "usr_early", "early@example.com");
    let (status, body) = claim(&t, Some(&bearer), Some(json!({ "session_id": "cs_test_early" }))).await;
    assert_eq!((status, &body["pro"]), (200, &json!(true)), "{body}");
    let order = Order::from_item(&t.app.store.get(&keys::order("ord_early")).await.unwrap().unwrap()).unwrap();
    assert_eq!(order.status, OrderStatus::Paid);

    // The webhook arrives afterwards: the event is recorded, the purchase is not applied again.
    let outcome =
        tollgate::domain::stripe_events::receive(&t.app, &event("checkout.session.completed", session.clone()), None)
            .await;
    assert!(outcome.is_err(), "unsigned deliveries are refused");
    let body = event("checkout.session.completed", session);
    let header = testing::signed_header(&body, t.app.now());
    let receipt = tollgate::domain::stripe_events::receive(&t.app, &body, Some(&header)).await.unwrap();
    assert_eq!(
        receipt,
        tollgate::domain::stripe_events::Receipt::Ignored(tollgate::domain::stripe_events::Outcome::AlreadyApplied)
    );
    let grants = tollgate::domain::entitlements::grants(&t.app, &Holder::User("usr_early".into())).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        claim(&t, Some(&bearer), Some(json!({ "session_id": "cs_test_early" }))).await.0,
        200,
        "claiming again is harmless"
    );
}

#[tokio::test]
async fn an_unpaid_session_is_409_and_an_unknown_one_404() {
    let mut unpaid = paid_session("cs_test_unpaid", "ord_unpaid", Some("usr_u"), "u@example.com");
    unpaid["payment_status"] = "unpaid".into();
    let stripe = stripe_with_session(unpaid).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let bearer = testing::token(&t.app, "usr_u", "u@example.com");
    let (status, body) = claim(&t, Some(&bearer), Some(json!({ "session_id": "cs_test_unpaid" }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("not_paid")));
    let (status, body) = claim(&t, Some(&bearer), Some(json!({ "session_id": "cs_test_unknown" }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, _) = claim(&t, Some(&bearer), Some(json!({ "session_id": "../../v1/charges" }))).await;
    assert_eq!(status, 404, "ids that are not Stripe ids never reach a URL");
    let (status, body) = claim(&t, Some(&bearer), Some(json!({ "session_id": 5 }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")));
}

#[tokio::test]
async fn claiming_without_a_session_attaches_every_anonymous_purchase_of_the_email() {
    let t = testing::app(Store::memory(), None, &[]);
    for (cs, order) in [("cs_test_anon1", "ord_anon1"), ("cs_test_anon2", "ord_anon2")] {
        webhook(&t, event("checkout.session.completed", paid_session(cs, order, None, "Anon@Example.com"))).await;
    }
    webhook(
        &t,
        event("checkout.session.completed", paid_session("cs_test_other", "ord_other", None, "other@example.com")),
    )
    .await;
    let bearer = testing::token(&t.app, "usr_anon", "anon@example.com");
    assert_eq!(verify(&t, &bearer).await.1["pro"], false, "not yet claimed");
    let (status, body) = claim(&t, Some(&bearer), None).await;
    assert_eq!((status, &body["pro"]), (200, &json!(true)));
    let mine = tollgate::domain::entitlements::grants(&t.app, &Holder::User("usr_anon".into())).await.unwrap();
    assert_eq!(mine.iter().map(|g: &Grant| g.order_id.as_str()).collect::<Vec<_>>(), ["ord_anon1", "ord_anon2"]);
    let left = tollgate::domain::entitlements::grants(&t.app, &Holder::Email("anon@example.com".into())).await.unwrap();
    assert!(left.is_empty());
    let order = Order::from_item(&t.app.store.get(&keys::order("ord_anon1")).await.unwrap().unwrap()).unwrap();
    assert_eq!(order.user_id.as_deref(), Some("usr_anon"));
    let profile = t.app.store.get(&keys::user("usr_anon")).await.unwrap().unwrap();
    assert_eq!(
        profile.str("stripe_customer_id"),
        Some("cus_st_anon1"),
        "the first claimed purchase's Stripe customer becomes the account's, so later checkouts reuse it"
    );

    // A refund after the claim still finds and revokes the moved grant.
    for id in ["ord_anon1", "ord_anon2"] {
        let pi = Order::from_item(&t.app.store.get(&keys::order(id)).await.unwrap().unwrap())
            .unwrap()
            .payment_intent
            .unwrap();
        webhook(&t, event("charge.refunded", refunded_charge(&pi))).await;
    }
    assert_eq!(verify(&t, &bearer).await.1["error"]["code"], "token_revoked");
}

#[tokio::test]
async fn an_anonymous_purchase_is_claimed_by_session_with_the_matching_email() {
    let t = testing::app(Store::memory(), None, &[]);
    webhook(
        &t,
        event("checkout.session.completed", paid_session("cs_test_anon", "ord_anon", None, "anon@example.com")),
    )
    .await;
    let other = testing::token(&t.app, "usr_other", "other@example.com");
    assert_eq!(claim(&t, Some(&other), Some(json!({ "session_id": "cs_test_anon" }))).await.0, 403);
    let owner = testing::token(&t.app, "usr_owner", "anon@example.com");
    assert_eq!(claim(&t, Some(&owner), Some(json!({ "session_id": "cs_test_anon" }))).await.1["pro"], true);
    assert_eq!(claim(&t, Some(&other), Some(json!({ "session_id": "cs_test_anon" }))).await.0, 403, "still not theirs");
}

#[tokio::test]
async fn a_session_refunded_before_anything_was_recorded_is_409_on_claim() {
    let session = paid_session("cs_test_refclaim", "ord_refclaim", Some("usr_rc"), "rc@example.com");
    let pi = session["payment_intent"].as_str().unwrap().to_string();
    let stripe = stripe_with_session(session).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    webhook(&t, event("charge.refunded", refunded_charge(&pi))).await;
    let bearer = testing::token(&t.app, "usr_rc", "rc@example.com");
    let (status, body) = claim(&t, Some(&bearer), Some(json!({ "session_id": "cs_test_refclaim" }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("purchase_refunded")));
    assert_eq!(verify(&t, &bearer).await.1["pro"], false);
}

#[tokio::test]
async fn a_pack_claimed_before_its_webhook_is_credited_once() {
    let mut session = paid_session("cs_test_packclaim", "ord_packclaim", Some("usr_pc"), "pc@example.com");
    session["metadata"] = json!({ "order_id": "ord_packclaim", "pack": "credits_100", "user_id": "usr_pc" });
    let stripe = stripe_with_session(session.clone()).await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let bearer = testing::token(&t.app, "usr_pc", "pc@example.com");
    assert_eq!(claim(&t, Some(&bearer), Some(json!({ "session_id": "cs_test_packclaim" }))).await.0, 200);
    webhook(&t, event("checkout.session.completed", session)).await;
    assert_eq!(claim(&t, Some(&bearer), Some(json!({ "session_id": "cs_test_packclaim" }))).await.0, 200);
    assert_eq!(tollgate::domain::credits::balance(&t.app, "usr_pc").await.unwrap(), 100);
    assert_eq!(tollgate::domain::credits::ledger(&t.app, "usr_pc").await.unwrap().len(), 1);
}

/// A subscription session claimed before its events arrive stores the subscription Stripe holds:
/// the plan lasts as long as the subscription, never as a lifetime grant.
#[tokio::test]
async fn claiming_a_subscription_session_stores_the_subscription_not_a_lifetime_grant() {
    let mut session = paid_session("cs_test_subclaim", "ord_subclaim", Some("usr_subclaim"), "s@example.com");
    session["mode"] = json!("subscription");
    session["payment_status"] = json!("no_payment_required");
    session["subscription"] = json!("sub_claimed");
    let stripe = stripe_with_session(session).await;
    let active = testing::subscription_object(
        "sub_claimed",
        "cus_subclaim",
        "usr_subclaim",
        "active",
        testing::PRO_MONTHLY_PRICE,
        (testing::NOW, testing::NOW + 30 * 86_400),
    );
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_claimed"))
        .respond_with(ResponseTemplate::new(200).set_body_json(active))
        .mount(&stripe)
        .await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let bearer = testing::token(&t.app, "usr_subclaim", "s@example.com");
    let (status, body) = claim(&t, Some(&bearer), Some(json!({ "session_id": "cs_test_subclaim" }))).await;
    assert_eq!((status, &body["plan"]), (200, &json!("pro")), "{body}");
    let grants = tollgate::domain::entitlements::grants(&t.app, &Holder::User("usr_subclaim".into())).await.unwrap();
    assert!(grants.is_empty(), "no lifetime grant: {grants:?}");
    let (_, verified) = verify(&t, &bearer).await;
    assert_eq!(verified["subscription"]["status"], "active");
    let other = testing::token(&t.app, "usr_other", "o@example.com");
    let (status, _) = claim(&t, Some(&other), Some(json!({ "session_id": "cs_test_subclaim" }))).await;
    assert_eq!(status, 403, "someone else's subscription session");
}
