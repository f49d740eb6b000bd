//! Currencies and tax at checkout: the buyer picks one of the price's currencies (or keeps the
//! one their subscription is billed in), a currency the catalog does not sell is refused, the
//! catalog's tax settings reach Stripe's form, and amounts keep their currency in the audit, the
//! receipt's amount and the metrics.

mod support;

use rstest::rstest;
use serde_json::json;
use support::Harness;
use tollgate::domain::orders::{Buyer, Wanted};
use tollgate_testkit::{self as testing, StoreKind};

const ADMIN: &str = "boss@example.com";

fn unique(name: &str) -> String {
    format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple())
}

#[rstest]
#[tokio::test]
async fn a_buyer_pays_in_a_currency_the_price_is_sold_in_and_amounts_keep_it(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[("ADMIN_EMAILS", ADMIN)]).await;
    let email = unique("euro");
    let (token, user_id) = h.sign_in(&email).await;
    for (asked, code) in [("gbp", "unsupported_currency"), ("euro", "unsupported_currency")] {
        let (status, body) = h
            .call("POST", "/api/checkout/create", Some(json!({ "plan": "pro", "currency": asked })), Some(&token))
            .await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{asked}: {body}");
    }

    // A subscription in euros (the request says it, in any case).
    let sub = h.checkout(Some(&token), json!({ "plan": "basic", "interval": "month", "currency": "EUR" })).await;
    let session = h.sim().checkout_session(&sub.session_id).unwrap();
    assert_eq!(session.currency.as_deref(), Some("eur"));
    h.deliver_all(&h.pay(&sub)).await;

    // A pack, currency unsaid: the customer's subscription's.
    let pack = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    let session = h.sim().checkout_session(&pack.session_id).unwrap();
    assert_eq!((session.currency.as_deref(), session.amount_total), (Some("eur"), Some(500)));
    h.deliver_all(&h.pay(&pack)).await;

    let (admin, _) = h.sign_in(ADMIN).await;
    let (status, audit) =
        h.call("GET", &format!("/api/admin/billing-events?user_id={user_id}"), None, Some(&admin)).await;
    assert_eq!(status, 200, "{audit}");
    let currencies: Vec<&str> =
        audit["events"].as_array().unwrap().iter().filter_map(|e| e["currency"].as_str()).collect();
    assert!(!currencies.is_empty() && currencies.iter().all(|c| *c == "eur"), "{audit}");
    // The receipt shows the session's amount in the session's currency.
    assert_eq!(tollgate::domain::mail::money(session.amount_total.unwrap(), session.currency.as_deref()), "5.00 EUR");
    // Past the trial, the subscription pays in euros: MRR in euros.
    let sub_id = h.subscription_id(&token).await;
    h.deliver_all(&h.sim().renew(&sub_id, h.t.app.now()).unwrap()).await;
    let (_, metrics) = h.call("GET", "/api/admin/metrics", None, Some(&admin)).await;
    assert_eq!(
        metrics["subscriptions"]["mrr"],
        json!({ "eur": 500 }),
        "MRR kept per currency: {}",
        metrics["subscriptions"]
    );

    // An anonymous Pro purchase with no currency named: the price's own (the form says none).
    let (status, body) =
        h.call("POST", "/api/checkout/create", Some(json!({ "plan": "pro", "email": unique("anon") })), None).await;
    assert_eq!(status, 200, "{body}");
    let session = h.sim().checkout_session(body["session_id"].as_str().unwrap()).unwrap();
    assert_eq!((session.currency.as_deref(), session.amount_total), (Some("usd"), Some(4900)));
}

/// The catalog's tax settings and the chosen currency reach Stripe's Checkout form (checked
/// against Stripe's spec), for a plan and for a pack.
#[tokio::test]
async fn tax_settings_and_the_currency_reach_stripes_form() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/checkout/sessions"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(testing::fixture_with(
            "checkout.session",
            json!({ "id": "cs_test_taxed", "url": "https://checkout.stripe.com/c/pay/cs_test_taxed" }),
        )))
        .mount(&server)
        .await;
    let text = tollgate::catalog::BUILT_IN.replace(
        "name = \"Pro\"\nrank = 10",
        "name = \"Pro\"\nrank = 10\nautomatic_tax = true\ntax_id_collection = true",
    );
    assert_ne!(text, tollgate::catalog::BUILT_IN);
    let t = testing::app_with_catalog(
        tollgate::store::Store::memory(),
        Some(&server.uri()),
        &[],
        testing::catalog_from(&text),
    );
    let buyer = Buyer::Anonymous { email: unique("taxed") };
    tollgate::domain::orders::start_checkout(&t.app, buyer, Wanted::Plan("pro"), Some("eur"), None).await.unwrap();
    let buyer = Buyer::Anonymous { email: unique("untaxed") };
    let refused = tollgate::domain::orders::start_checkout(&t.app, buyer, Wanted::Plan("pro"), Some("jpy"), None).await;
    assert_eq!(refused.unwrap_err().code(), "unsupported_currency");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "a refused currency never reaches Stripe");
    let form = testing::form_fields(&requests[0].body);
    testing::assert_real_form_fields("/v1/checkout/sessions", &form);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("currency"), Some("eur"));
    assert_eq!(get("automatic_tax[enabled]"), Some("true"));
    assert_eq!(get("tax_id_collection[enabled]"), Some("true"));
    assert_eq!(get("line_items[0][price]"), Some("price_test_pro"));
}
