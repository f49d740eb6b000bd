//! Payment Link sales, ignored types, unsigned deliveries, store failures, methods, plan counts.

use super::*;

#[tokio::test]
async fn other_event_types_are_recorded_and_ignored() {
    let t = app();
    let body = event("customer.created", testing::fixture("customer"));
    assert_eq!(deliver(&t, &body).await, (200, json!({ "received": true, "ignored": true })));
    assert_eq!(deliver(&t, &body).await, (200, json!({ "received": true, "duplicate": true })));
}

#[tokio::test]
async fn a_payment_link_sale_is_resolved_from_metadata_plan() {
    let t = app();
    let session = testing::fixture_with(
        "checkout.session",
        json!({ "id": "cs_test_plink", "mode": "payment", "payment_status": "paid", "status": "complete", "client_reference_id": null, "metadata": { "plan": "pro" }, "customer_details": { "email": "Buyer@Example.com" } }),
    );
    assert_eq!(deliver(&t, &event("checkout.session.completed", session)).await.1["outcome"], "purchase_recorded");
    let sold = order(&t, "ord_cs_test_plink").await.unwrap();
    assert_eq!((sold.plan.as_str(), sold.email.as_deref()), ("pro", Some("buyer@example.com")));
    assert!(grant(&t, &Holder::Email("buyer@example.com".into()), "ord_cs_test_plink").await.is_some());
}

#[tokio::test]
async fn a_payment_link_sale_is_resolved_from_its_line_items_price() {
    let stripe = MockServer::start().await;
    let mut line_items = testing::fixture("item");
    line_items["price"]["id"] = testing::PRO_PRICE.into();
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_test_items/line_items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": "list", "data": [line_items], "has_more": false, "url": "/v1/checkout/sessions/cs_test_items/line_items" })))
        .expect(1)
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_test_other/line_items"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "object": "list", "data": [testing::fixture("item")], "has_more": false })),
        )
        .mount(&stripe)
        .await;
    let t = testing::app(Store::memory(), Some(&stripe.uri()), &[]);
    let sale = |id: &str| {
        testing::fixture_with(
            "checkout.session",
            json!({ "id": id, "mode": "payment", "payment_status": "paid", "client_reference_id": null, "metadata": {}, "customer_details": { "email": "buyer@example.com" } }),
        )
    };
    assert_eq!(
        deliver(&t, &event("checkout.session.completed", sale("cs_test_items"))).await.1["outcome"],
        "purchase_recorded"
    );
    assert_eq!(order(&t, "ord_cs_test_items").await.unwrap().plan, "pro");
    let (status, json) = deliver(&t, &event("checkout.session.completed", sale("cs_test_other"))).await;
    assert_eq!(
        (status, json["outcome"].as_str()),
        (200, Some("unknown_product")),
        "a price outside the catalog grants nothing"
    );
}

#[tokio::test]
async fn unsigned_deliveries_need_the_development_switch() {
    let body = event("customer.created", testing::fixture("customer"));
    let unsigned = || raw_request("POST", "/", &[("content-type", "application/json")], body.clone(), "127.0.0.1");
    assert_eq!(handle(&app().app, unsigned()).await.status(), 400);
    let open = testing::app(Store::memory(), None, &[("ALLOW_UNSIGNED_WEBHOOKS", "1")]);
    assert_eq!(handle(&open.app, unsigned()).await.status(), 200);
}

#[tokio::test]
async fn a_store_failure_is_500_so_stripe_retries() {
    let dead = tollgate::store::DynamoDbStore::connect("tollgate-missing", Some("http://127.0.0.1:9")).await;
    let t = testing::app(Store::dynamodb(dead), None, &[]);
    let (status, json) = deliver(&t, &paid_event("cs_test_dead", "ord_dead", None)).await;
    assert_eq!((status, json["error"]["code"].as_str()), (500, Some("store_unavailable")), "{json}");
    assert!(!json.to_string().contains("127.0.0.1"), "no internals in the error body");
}

#[tokio::test]
async fn only_post_is_accepted() {
    let t = app();
    let req = raw_request("GET", "/api/stripe/webhook", &[], vec![], "127.0.0.1");
    assert_eq!(handle(&t.app, req).await.status(), 405);
}

#[tokio::test]
async fn plans_held_count_each_purchase_and_each_refund_once() {
    let t = app();
    deliver(&t, &paid_event("cs_test_two_a", "ord_two_a", Some("usr_two"))).await;
    deliver(&t, &paid_event("cs_test_two_b", "ord_two_b", Some("usr_two"))).await;
    let pi = order(&t, "ord_two_a").await.unwrap().payment_intent.unwrap();
    assert_eq!(deliver(&t, &event("charge.refunded", refunded_charge(&pi))).await.1["outcome"], "purchase_revoked");
    let (_, again) = deliver(&t, &event("charge.refunded", refunded_charge(&pi))).await;
    assert_eq!(again["outcome"], "already_applied", "another event about the same refund");
    assert!(entitlement(&t.app, "usr_two").await.unwrap().pro, "the other purchase still grants Pro");
    let held = t.app.store.get(&keys::plans_held("usr_two")).await.unwrap().unwrap();
    assert_eq!(held.num("held_pro"), Some(1));
}
