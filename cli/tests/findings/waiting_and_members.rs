//! Events waiting for their customer, members' prices, and the dev server's simulated reversals.

use super::*;

/// A Payment Link subscription: Stripe's events name only a customer no user is linked to.
fn payment_link_subscription(h: &Harness, sub: &str, customer: &str, status: &str) -> serde_json::Value {
    let mut object = testing::subscription_object(
        sub,
        customer,
        "",
        status,
        testing::PRO_MONTHLY_PRICE,
        (h.t.app.now(), h.t.app.now() + 86_400 * 30),
    );
    object["metadata"] = json!({});
    object
}

#[rstest]
#[tokio::test]
async fn an_event_for_an_unlinked_customer_applies_when_the_link_appears(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let stripe = wiremock::MockServer::start().await;
    let h = Harness { t: testing::app(kind.store().await, Some(&stripe.uri()), &[]) };
    let (sub, customer) = ("sub_link", "cus_link");
    let active = payment_link_subscription(&h, sub, customer, "active");
    let session = testing::fixture_with(
        "checkout.session",
        json!({ "id": "cs_test_link", "mode": "subscription", "status": "complete", "payment_status": "paid",
            "customer": customer, "subscription": sub, "metadata": {}, "client_reference_id": null,
            "customer_details": { "email": "linker@example.com" } }),
    );
    use wiremock::matchers::{method, path};
    wiremock::Mock::given(method("GET"))
        .and(path(format!("/v1/checkout/sessions/{}", "cs_test_link")))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(&session))
        .mount(&stripe)
        .await;
    let mut canceled = active.clone();
    canceled["status"] = json!("canceled");
    wiremock::Mock::given(method("GET"))
        .and(path(format!("/v1/subscriptions/{sub}")))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(&active))
        .mount(&stripe)
        .await;

    let (token, _) = h.sign_in("linker@example.com").await;
    let created = testing::event_at("evt_link_created", "customer.subscription.created", active.clone(), h.t.app.now());
    let (status, body) = h.deliver(&created).await;
    assert_eq!((status, &body["outcome"]), (200, &json!("waiting_for_customer")), "{body}");
    let body = json!({ "session_id": "cs_test_link" });
    let (status, answer) = h.call("POST", "/api/pro/claim", Some(body), Some(&token)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(h.plan(&token).await, "pro");

    // The deletion Stripe sends later finds the user through the linked customer.
    let deleted = testing::event_at("evt_link_deleted", "customer.subscription.deleted", canceled, h.t.app.now() + 60);
    let (status, body) = h.deliver(&deleted).await;
    assert_eq!((status, &body["outcome"]), (200, &json!("subscription_applied")), "{body}");
    assert_eq!(h.plan(&token).await, "free", "the deletion takes Pro away");
}

#[tokio::test]
async fn a_deletion_that_waited_is_applied_by_the_claim_that_links_its_customer() {
    let stripe = wiremock::MockServer::start().await;
    let h = Harness { t: testing::app(Store::memory(), Some(&stripe.uri()), &[]) };
    let (sub, customer) = ("sub_late", "cus_late");
    let active = payment_link_subscription(&h, sub, customer, "active");
    let mut canceled = active.clone();
    canceled["status"] = json!("canceled");
    let session = testing::fixture_with(
        "checkout.session",
        json!({ "id": "cs_test_late", "mode": "subscription", "status": "complete", "payment_status": "paid",
            "customer": customer, "subscription": sub, "metadata": {}, "client_reference_id": null,
            "customer_details": { "email": "late@example.com" } }),
    );
    use wiremock::matchers::{method, path};
    wiremock::Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_test_late"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(&session))
        .mount(&stripe)
        .await;
    wiremock::Mock::given(method("GET"))
        .and(path(format!("/v1/subscriptions/{sub}")))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(&active))
        .mount(&stripe)
        .await;
    let (token, _) = h.sign_in("late@example.com").await;
    let later = h.t.app.now() + 3600;
    let deleted = testing::event_at("evt_late_deleted", "customer.subscription.deleted", canceled, later);
    assert_eq!(h.deliver(&deleted).await.1["outcome"], "waiting_for_customer");
    let body = json!({ "session_id": "cs_test_late" });
    assert_eq!(h.call("POST", "/api/pro/claim", Some(body), Some(&token)).await.0, 200);
    assert_eq!(h.plan(&token).await, "free", "the deletion that waited applies after the claim's snapshot");
    assert_eq!(h.deliver(&deleted).await.1["duplicate"], true);
}

#[rstest]
#[tokio::test]
async fn members_prices_go_only_to_subscribers_whose_period_is_paid(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[]).await;
    let (token, _) = h.sign_in("member@example.com").await;
    let bought = h.checkout(Some(&token), json!({ "plan": "pro", "interval": "month" })).await;
    h.deliver_all(&h.pay(&bought)).await;
    let trialing = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    assert_eq!(h.sim().coupon(&trialing.session_id), None, "a trialing subscriber pays full price");

    let sub = h.subscription_id(&token).await;
    h.deliver_all(&h.sim().renew(&sub, h.t.app.now()).unwrap()).await;
    let paid = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    assert_eq!(
        h.sim().coupon(&paid.session_id).as_deref(),
        Some("tollgate-members-pro-20pct"),
        "a paid period: member"
    );
    // The simulated Checkout page shows the members' total, as Stripe's would.
    let page = tollgate_cli::dev::dispatch(
        &h.t.app,
        testing::raw_request("GET", &format!("/dev/checkout/{}", paid.session_id), &[], vec![], testing::CALLER_IP),
    )
    .await;
    let page = String::from_utf8(axum::body::to_bytes(page.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    assert!(page.contains("100 credits (credit pack)") && page.contains("4.00 USD"), "{page}");
    assert!(page.contains("(20% off): -1.00 USD"), "{page}");

    // Past due: still Pro during the grace period, but not a member.
    let (_, user) = h.sign_in("member@example.com").await;
    let now = h.t.app.now();
    let mut late = testing::subscription_object(
        &sub,
        "cus_x",
        &user,
        "past_due",
        testing::PRO_MONTHLY_PRICE,
        (now, now + 30 * 86_400),
    );
    late["metadata"]["user_id"] = json!(user);
    h.deliver_all(&[testing::event_at("evt_member_late", "customer.subscription.updated", late, now + 10)]).await;
    assert_eq!(h.plan(&token).await, "pro", "within the grace period");
    let overdue = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    assert_eq!(h.sim().coupon(&overdue.session_id), None, "a past-due subscriber pays full price");
}

/// What the findings were reproduced with: the dev server's simulated refunds, disputes and
/// renewals, delivered through the webhook like Stripe's.
#[tokio::test]
async fn the_dev_server_refunds_disputes_and_renews_simulated_payments() {
    use tollgate_cli::dev::dispatch;
    let h = Harness::new(StoreKind::Memory, &[]).await;
    let post = |path: String| {
        let app = h.t.app.clone();
        async move {
            let response = dispatch(&app, testing::raw_request("POST", &path, &[], vec![], testing::CALLER_IP)).await;
            response.status().as_u16()
        }
    };
    let (token, _) = h.sign_in("dev@example.com").await;
    let pack = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    assert_eq!(post(format!("/dev/checkout/{}/pay", pack.session_id)).await, 303);
    assert_eq!(h.balance(&token).await, 100);
    assert_eq!(post(format!("/dev/checkout/{}/refund", pack.session_id)).await, 200);
    assert_eq!(h.balance(&token).await, 0);

    let pro = h.checkout(Some(&token), json!({ "plan": "pro" })).await;
    assert_eq!(post(format!("/dev/checkout/{}/pay", pro.session_id)).await, 303);
    assert_eq!(post(format!("/dev/checkout/{}/dispute", pro.session_id)).await, 200);
    assert_eq!(h.plan(&token).await, "free");
    assert_eq!(post(format!("/dev/checkout/{}/dispute/won", pro.session_id)).await, 200);
    assert_eq!(h.plan(&token).await, "pro");
    assert_eq!(post("/dev/checkout/cs_unknown/refund".to_string()).await, 409);

    let (other, _) = h.sign_in("renew@example.com").await;
    let sub = h.checkout(Some(&other), json!({ "plan": "pro", "interval": "month" })).await;
    assert_eq!(post(format!("/dev/checkout/{}/pay", sub.session_id)).await, 303);
    assert_eq!(h.balance(&other).await, 0, "a trial");
    let id = h.subscription_id(&other).await;
    assert_eq!(post(format!("/dev/subscriptions/{id}/renew")).await, 200);
    assert_eq!(h.balance(&other).await, 200, "a paid period");
}
