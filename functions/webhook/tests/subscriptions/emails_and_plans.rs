//! Billing emails, subscription checkout, plan ranking, unknown customers, round trips, pauses.

use super::*;

#[rstest]
#[tokio::test]
async fn concurrent_and_repeated_deliveries_apply_once_and_email_once(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let stripe = stripe().await;
    let t = app_on(kind, &stripe).await;
    add_user(&t, "dup").await;
    let (_, _, usr) = ids("dup");
    let body = lifecycle("dup").remove(6);
    let applied = testing::count_successes(20, |_| {
        let app = t.app.clone();
        let body = body.clone();
        async move {
            let (_, json) = status_and_json(&handle(&app, webhook_request(&body, app.now())).await);
            json["outcome"] == "subscription_applied"
        }
    })
    .await;
    assert_eq!(applied, 1, "one of twenty concurrent deliveries applies the event");
    assert_eq!(deliver(&t, &body).await.1["duplicate"], true);
    let sent = t.outbox.all().into_iter().filter(|m| m.to == "dup@example.com").count();
    assert_eq!(sent, 1, "the cancellation email is sent once");
    assert_eq!(billing::list(&t.app, &usr, 10, None).await.unwrap().0.len(), 1, "one audit record");
    assert_eq!(
        mail::outcomes(&t.app, "evt_dup_6").await.unwrap(),
        vec![("subscription_canceled".into(), "sent".into())]
    );
}

/// SES on the local AWS-compatible server refuses an unverified sender: the failure is logged,
/// and a re-delivery of the event tries again (and succeeds once the sender is verified).
#[tokio::test]
async fn a_refused_email_is_logged_and_retried_when_the_event_is_delivered_again() {
    let stripe = stripe().await;
    let mut t = app_on(StoreKind::Memory, &stripe).await;
    // A sender address no other test verifies.
    let from = format!("billing-{}@example.com", std::process::id());
    t.app.email = tollgate::email::EmailSender::ses(&from, Some(&testing::dynamodb_endpoint())).await;
    add_user(&t, "ses").await;
    let body = lifecycle("ses").remove(6);
    assert_eq!(deliver(&t, &body).await.1["outcome"], "subscription_applied", "the event applies though mail fails");
    assert_eq!(
        mail::outcomes(&t.app, "evt_ses_6").await.unwrap(),
        vec![("subscription_canceled".into(), "failed".into())]
    );
    let tollgate::email::EmailSender::Ses { client, .. } = &t.app.email else { unreachable!() };
    client.client().create_email_identity().email_identity(&from).send().await.unwrap();
    assert_eq!(deliver(&t, &body).await.1["duplicate"], true);
    assert_eq!(
        mail::outcomes(&t.app, "evt_ses_6").await.unwrap(),
        vec![("subscription_canceled".into(), "sent".into())]
    );
    deliver(&t, &body).await;
    assert_eq!(mail::outcomes(&t.app, "evt_ses_6").await.unwrap()[0].1, "sent", "never sent twice");
}

#[tokio::test]
async fn a_subscription_checkout_grants_the_plan_from_stripes_current_state() {
    let server = MockServer::start().await;
    let (sub, cus, usr) = ids("co");
    let mut trialing = subscription_object(&sub, &cus, &usr, "trialing", PRO_MONTHLY_PRICE, (NOW, NOW + 30 * DAY));
    trialing["trial_end"] = json!(NOW + 30 * DAY);
    Mock::given(method("GET"))
        .and(path_regex("^/v1/subscriptions/sub_co$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(trialing))
        .expect(1)
        .mount(&server)
        .await;
    let t = app_on(StoreKind::Memory, &server).await;
    add_user(&t, "co").await;
    let order = tollgate::store::schema::Order::pending("ord_co", "pro", Some("co@example.com"), Some(&usr), NOW);
    t.app.store.write(Write::put(order.to_item())).await.unwrap();
    let session = testing::fixture_with(
        "checkout.session",
        json!({ "id": "cs_test_co", "mode": "subscription", "status": "complete", "payment_status": "no_payment_required",
            "subscription": sub, "customer": cus, "payment_intent": null, "client_reference_id": "ord_co",
            "metadata": { "order_id": "ord_co", "plan": "pro", "interval": "month", "user_id": usr } }),
    );
    let body = event_at("evt_co", "checkout.session.completed", session, NOW);
    assert_eq!(deliver(&t, &body).await.1["outcome"], "subscription_started");
    assert_eq!(deliver(&t, &body).await.1["duplicate"], true);
    let ent = entitlements::entitlement(&t.app, &usr).await.unwrap();
    assert_eq!((ent.plan.key.as_str(), ent.subscription.unwrap().status.as_str()), ("pro", "trialing"));
    let order = t.app.store.get(&tollgate::store::schema::keys::order("ord_co")).await.unwrap().unwrap();
    assert_eq!((order.str("status"), order.str("subscription_id")), (Some("paid"), Some(sub.as_str())));
}

#[tokio::test]
async fn the_highest_ranked_plan_wins_across_purchases_and_subscriptions() {
    let stripe = stripe().await;
    let t = app_on(StoreKind::Memory, &stripe).await;
    add_user(&t, "mix").await;
    let (sub, cus, usr) = ids("mix");
    let basic = subscription_object(&sub, &cus, &usr, "active", testing::BASIC_MONTHLY_PRICE, (NOW, NOW + 30 * DAY));
    deliver(&t, &event_at("evt_mix1", "customer.subscription.created", basic, NOW)).await;
    assert_eq!(entitlements::entitlement(&t.app, &usr).await.unwrap().plan.key, "basic", "the price names the plan");
    let paid = testing::paid_session("cs_test_mix", "ord_mix", Some(&usr), "mix@example.com");
    deliver(&t, &testing::event("checkout.session.completed", paid.clone())).await;
    let ent = entitlements::entitlement(&t.app, &usr).await.unwrap();
    assert_eq!((ent.plan.key.as_str(), ent.plan_ends_at), ("pro", None), "lifetime Pro outranks Basic");
    let refund = testing::refunded_charge(paid["payment_intent"].as_str().unwrap());
    deliver(&t, &testing::event("charge.refunded", refund)).await;
    assert_eq!(entitlements::entitlement(&t.app, &usr).await.unwrap().plan.key, "basic", "back to the subscription");
}

#[tokio::test]
async fn a_subscription_of_an_unknown_customer_or_price_is_recorded_only() {
    let stripe = stripe().await;
    let t = app_on(StoreKind::Memory, &stripe).await;
    let stranger = testing::fixture("subscription");
    assert_eq!(
        deliver(&t, &testing::event("customer.subscription.updated", stranger)).await.1["outcome"],
        "waiting_for_customer"
    );
    add_user(&t, "odd").await;
    let (sub, cus, usr) = ids("odd");
    let mut odd = subscription_object(&sub, &cus, &usr, "active", "price_not_in_catalog", (NOW, NOW + DAY));
    odd["metadata"] = json!({ "user_id": usr });
    assert_eq!(deliver(&t, &testing::event("customer.subscription.updated", odd)).await.1["outcome"], "unknown_plan");
    assert_eq!(entitlements::entitlement(&t.app, &usr).await.unwrap().plan.key, "free");
}

#[tokio::test]
async fn dynamodb_calls_per_subscription_event() {
    let stripe = stripe().await;
    let t = app_on(StoreKind::Memory, &stripe).await;
    add_user(&t, "calls").await;
    let bodies = lifecycle("calls");
    let calls = |before: u64| t.app.store.round_trips() - before;
    let before = t.app.store.round_trips();
    deliver(&t, &bodies[1]).await;
    assert_eq!(calls(before), 2, "a newer snapshot: read the user's subscriptions, one transaction");
    let before = t.app.store.round_trips();
    deliver(&t, &bodies[1]).await;
    assert_eq!(
        calls(before),
        3,
        "a duplicate: the read, then its event record is found (a tie) before asking Stripe; it wrote nothing, so \
         its metrics counter is a write of its own"
    );
    let before = t.app.store.round_trips();
    deliver(&t, &bodies[0]).await;
    assert_eq!(calls(before), 3, "an older snapshot: and one read of its event record before asking Stripe");
    let before = t.app.store.round_trips();
    deliver(&t, &bodies[3]).await;
    assert_eq!(calls(before), 3, "a failed payment: the user's address, one transaction, the email's outcome");
    let before = t.app.store.round_trips();
    deliver(&t, &bodies[2]).await;
    assert!(calls(before) <= 4, "a paid invoice with credits: address, balance (cold), transaction, receipt outcome");
}

#[tokio::test]
async fn a_paused_subscription_removes_the_plan_and_resuming_restores_it() {
    let stripe = stripe().await;
    let t = app_on(StoreKind::Memory, &stripe).await;
    add_user(&t, "pause").await;
    let (sub, cus, usr) = ids("pause");
    let period = (NOW - DAY, NOW + 29 * DAY);
    let plan = || async { entitlements::entitlement(&t.app, &usr).await.unwrap().plan.key };
    let paused = subscription_object(&sub, &cus, &usr, "paused", PRO_MONTHLY_PRICE, period);
    let (_, receipt) = deliver(&t, &event_at("evt_p1", "customer.subscription.paused", paused, NOW - 10)).await;
    assert_eq!(receipt["outcome"], "subscription_applied");
    assert_eq!(plan().await, "free");
    let resumed = subscription_object(&sub, &cus, &usr, "active", PRO_MONTHLY_PRICE, period);
    deliver(&t, &event_at("evt_p2", "customer.subscription.resumed", resumed, NOW)).await;
    assert_eq!(plan().await, "pro");
}
