//! Credits from Stripe's events: pack purchases credit once, refunds take back what is unspent,
//! and paid invoices of plans that grant credits credit once per invoice.

use rstest::rstest;
use serde_json::{Value, json};
use tollgate::domain::claims;
use tollgate::domain::credits::{self, Change, Floor};
use tollgate::store::Store;
use tollgate::store::schema::Reason;
use tollgate::store::schema::User;
use tollgate_testkit::{
    self as testing, StoreKind, TestApp, event, event_with_id, refunded_charge, status_and_json, webhook_request,
};
use tollgate_webhook::handle;

async fn deliver(t: &TestApp, body: &[u8]) -> (u16, Value) {
    status_and_json(&handle(&t.app, webhook_request(body, t.app.now())).await)
}

fn pack_session(session: &str, order: &str, user: Option<&str>, email: &str) -> Value {
    let mut s = testing::paid_session(session, order, user, email);
    s["metadata"] = json!({ "order_id": order, "pack": "credits_100" });
    if let Some(u) = user {
        s["metadata"]["user_id"] = json!(u);
    }
    s
}

async fn spend(t: &TestApp, user: &str, amount: i64) {
    let change = Change {
        user_id: user,
        delta: -amount,
        floor: Floor::Refuse,
        reason: Reason::Debit,
        note: None,
        reference: None,
        key: None,
    };
    credits::apply(&t.app, &change, &|_| Default::default()).await.unwrap();
}

#[rstest]
#[tokio::test]
async fn a_pack_purchase_credits_once_and_its_refund_takes_back_the_unspent(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let t = testing::app(kind.store().await, None, &[]);
    let session = pack_session("cs_test_pack", "ord_pack", Some("usr_pack"), "pack@example.com");
    let body = event("checkout.session.completed", session.clone());
    assert_eq!(deliver(&t, &body).await.1["outcome"], "purchase_recorded");
    assert_eq!(deliver(&t, &body).await.1["duplicate"], true);
    let again = event("checkout.session.completed", session.clone());
    assert_eq!(deliver(&t, &again).await.1["outcome"], "already_applied", "another event about the same purchase");
    assert_eq!(credits::balance(&t.app, "usr_pack").await.unwrap(), 100);

    spend(&t, "usr_pack", 70).await;
    let pi = session["payment_intent"].as_str().unwrap();
    let refund = event("charge.refunded", refunded_charge(pi));
    assert_eq!(deliver(&t, &refund).await.1["outcome"], "credits_taken_back");
    assert_eq!(credits::balance(&t.app, "usr_pack").await.unwrap(), 0, "never below zero");
    let ledger = credits::ledger(&t.app, "usr_pack").await.unwrap();
    let taken = ledger.last().unwrap();
    assert_eq!((taken.delta, taken.shortfall, taken.reason), (-30, Some(70), Reason::Refund));
    assert_eq!(deliver(&t, &refund).await.1["duplicate"], true);
    assert_eq!(credits::ledger(&t.app, "usr_pack").await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_anonymous_pack_waits_for_its_buyer_and_is_credited_once() {
    let t = testing::app(Store::memory(), None, &[]);
    let mut sale = pack_session("cs_test_anonpack", "ord_anonpack", None, "later@example.com");
    sale["metadata"] = json!({ "pack": "credits_100" });
    sale["client_reference_id"] = Value::Null;
    assert_eq!(deliver(&t, &event("checkout.session.completed", sale)).await.1["outcome"], "purchase_recorded");
    let user = User {
        id: "usr_later".into(),
        email: "later@example.com".into(),
        created_at: 0,
        stripe_customer_id: None,
        erased_at: None,
    };
    assert_eq!(credits::balance(&t.app, &user.id).await.unwrap(), 0);
    claims::claim_by_email(&t.app, &user).await.unwrap();
    claims::claim_by_email(&t.app, &user).await.unwrap();
    assert_eq!(credits::balance(&t.app, &user.id).await.unwrap(), 100, "claimed once");

    spend(&t, &user.id, 30).await;
    let order = tollgate::store::schema::Order::from_item(
        &t.app.store.get(&tollgate::store::schema::keys::order("ord_cs_test_anonpack")).await.unwrap().unwrap(),
    )
    .unwrap();
    let refund = event("charge.refunded", refunded_charge(&order.payment_intent.unwrap()));
    assert_eq!(deliver(&t, &refund).await.1["outcome"], "credits_taken_back", "the refund finds the claimed credits");
    assert_eq!(credits::balance(&t.app, &user.id).await.unwrap(), 0);
}

const SUBSCRIPTION_CATALOG: &str = r#"
[plans.free]
name = "Free"
rank = 0
default = true

[plans.studio]
name = "Studio"
rank = 20
credits = 500

[plans.studio.subscription]
month = { price_env = "STRIPE_PRICE_STUDIO" }
"#;

fn subscription_app(store: Store) -> TestApp {
    testing::app_with_catalog(store, None, &[], testing::catalog_from(SUBSCRIPTION_CATALOG))
}

/// A paid invoice in the current API shape (subscription under `parent`, price under `pricing`).
fn current_invoice(id: &str, user: Option<&str>) -> Value {
    let mut metadata = json!({ "plan": "studio" });
    if let Some(u) = user {
        metadata["user_id"] = json!(u);
    }
    let mut invoice = testing::fixture_with(
        "invoice",
        json!({ "id": id, "status": "paid", "billing_reason": "subscription_cycle", "customer": "cus_studio",
            "amount_paid": 2000, "amount_due": 2000,
            "parent": { "type": "subscription_details", "subscription_details": { "subscription": "sub_1", "metadata": metadata } } }),
    );
    invoice["lines"]["data"][0]["pricing"] =
        json!({ "type": "price_details", "price_details": { "price": "price_test_studio", "product": "prod_1" } });
    invoice
}

/// The same in an older API shape (`subscription_details` at the top, `price` on each line).
fn older_invoice(id: &str) -> Value {
    let mut invoice = testing::fixture_with(
        "invoice",
        json!({ "id": id, "status": "paid", "customer": "cus_studio", "subscription": "sub_1",
            "billing_reason": "subscription_cycle", "amount_paid": 2000 }),
    );
    let object = invoice.as_object_mut().unwrap();
    object.remove("parent");
    object.insert("subscription_details".into(), json!({ "metadata": { "user_id": "usr_studio" } }));
    invoice["lines"]["data"][0]["pricing"] = Value::Null;
    invoice["lines"]["data"][0]["price"] = json!({ "id": "price_test_studio", "object": "price" });
    invoice
}

#[rstest]
#[tokio::test]
async fn a_paid_invoice_credits_once_per_invoice(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let t = subscription_app(kind.store().await);
    let first = event_with_id("evt_test_inv_a", "invoice.paid", current_invoice("in_1", Some("usr_studio")));
    let before = t.app.store.round_trips();
    assert_eq!(deliver(&t, &first).await.1["outcome"], "credits_granted");
    assert!(t.app.store.round_trips() - before <= 3, "the receipt's addressee, the balance, one transaction");
    assert_eq!(deliver(&t, &first).await.1["duplicate"], true);
    let other_event = event_with_id("evt_test_inv_b", "invoice.paid", current_invoice("in_1", Some("usr_studio")));
    assert_eq!(
        deliver(&t, &other_event).await.1["outcome"],
        "already_applied",
        "a different event about the same invoice"
    );
    assert_eq!(credits::balance(&t.app, "usr_studio").await.unwrap(), 500);

    assert_eq!(deliver(&t, &event("invoice.paid", older_invoice("in_2"))).await.1["outcome"], "credits_granted");
    assert_eq!(
        credits::balance(&t.app, "usr_studio").await.unwrap(),
        1000,
        "the next period's invoice, older API shape"
    );
}

#[tokio::test]
async fn invoices_without_credits_or_a_known_customer_are_recorded_only() {
    let t = subscription_app(Store::memory());
    let (status, json) = deliver(&t, &event("invoice.paid", current_invoice("in_anon", None))).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("waiting_for_customer")), "kept until linked");
    let plain = testing::app(Store::memory(), None, &[]);
    let mut nobodys = testing::fixture("invoice");
    nobodys["customer"] = Value::Null;
    let (status, json) = deliver(&plain, &event("invoice.paid", nobodys)).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("unknown_customer")), "no customer to wait for");
    let known = current_invoice("in_no_credits", Some("usr_studio"));
    let (status, json) = deliver(&plain, &event("invoice.paid", known)).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("invoice_recorded")), "audited, nothing to credit");
}

#[tokio::test]
async fn a_customer_is_found_through_the_index_when_metadata_has_no_user() {
    let t = subscription_app(Store::memory());
    let user = User {
        id: "usr_indexed".into(),
        email: "i@example.com".into(),
        created_at: 1,
        stripe_customer_id: Some("cus_studio".into()),
        erased_at: None,
    };
    t.app.store.write(tollgate::store::Write::put(user.to_item())).await.unwrap();
    assert_eq!(
        deliver(&t, &event("invoice.paid", current_invoice("in_idx", None))).await.1["outcome"],
        "credits_granted"
    );
    assert_eq!(credits::balance(&t.app, "usr_indexed").await.unwrap(), 500);
}
