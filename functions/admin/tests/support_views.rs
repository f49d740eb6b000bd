//! Support's views: a user's access and money by id or email, and the diagnostics, which say
//! what is configured and answering without ever showing a secret.

use rstest::rstest;
use serde_json::{Value, json};
use tollgate::config::Environment;
use tollgate::domain::users;
use tollgate_admin::handle;
use tollgate_testkit::{self as testing, StoreKind, TestApp, request, status_and_json, webhook_request};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ADMIN: &str = "boss@example.com";
const BUYER: &str = "buyer@example.com";

async fn get(t: &TestApp, uri: &str, token: Option<&str>) -> (u16, Value) {
    status_and_json(&handle(&t.app, request("GET", uri, None, token)).await)
}

#[rstest]
#[tokio::test]
async fn a_users_report_shows_plan_grants_credits_and_billing(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let t = testing::app(kind.store().await, None, &[("ADMIN_EMAILS", ADMIN)]);
    let user = users::find_or_create_user(&t.app.store, BUYER, testing::NOW).await.unwrap();
    // A Pro purchase through the webhook, as Stripe delivers it.
    let body = testing::event(
        "checkout.session.completed",
        testing::paid_session("cs_test_rep", "ord_rep", Some(&user.id), BUYER),
    );
    let delivered = tollgate_webhook::handle(&t.app, webhook_request(&body, t.app.now())).await;
    assert_eq!(delivered.status(), 200);
    let boss = testing::token(&t.app, "usr_boss", ADMIN);

    for key in [user.id.as_str(), BUYER, "  BUYER@example.com "] {
        let (status, report) = get(&t, &format!("/api/admin/users/{}", key.replace(' ', "%20")), Some(&boss)).await;
        assert_eq!(status, 200, "{key}: {report}");
        assert_eq!(report["user"]["id"], user.id.as_str());
        assert_eq!((report["plan"].as_str(), report["pro"].as_bool()), (Some("pro"), Some(true)), "{report}");
        assert_eq!(report["grants"].as_array().unwrap().len(), 1);
        assert_eq!(report["grants"][0]["order_id"], "ord_rep");
        assert_eq!(report["credits"]["balance"], 0);
        assert_eq!(report["billing_events"][0]["type"], "checkout.session.completed");
        assert_eq!(report["emails"][0]["kind"], "receipt");
    }
    let (status, body) = get(&t, "/api/admin/users/usr_nobody", Some(&boss)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("user_not_found")));
    let someone = testing::token(&t.app, &user.id, BUYER);
    assert_eq!(get(&t, &format!("/api/admin/users/{}", user.id), Some(&someone)).await.0, 403);
    assert_eq!(get(&t, &format!("/api/admin/users/{}", user.id), None).await.0, 401);
}

fn assert_no_secret(text: &str) {
    for secret in [testing::WEBHOOK_SECRET, testing::STRIPE_KEY, "test-secret-test-secret-test-secret-0123"] {
        assert!(!text.contains(secret), "diagnostics show a secret: {text}");
    }
}

#[tokio::test]
async fn diagnostics_in_development_are_open_and_show_no_secret() {
    let t = testing::app(tollgate::store::Store::memory(), None, &[]);
    let (status, body) = get(&t, "/api/diagnostics", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["store"]["kind"].as_str(), body["store"]["ok"].as_bool()), (Some("memory"), Some(true)));
    assert_eq!(
        (body["stripe"]["mode"].as_str(), body["stripe"]["reachable"].as_bool()),
        (Some("simulated"), Some(true))
    );
    assert_eq!(body["stripe"]["api_version"], tollgate::stripe::client::API_VERSION);
    assert_eq!(body["webhook"]["secrets"], 1);
    assert_eq!(body["tokens"]["issuer"], "tollgate");
    assert_eq!(body["email"]["sender"], "console");
    assert!(body["version"].as_str().is_some_and(|v| !v.is_empty()));
    let pro = body["catalog"]["plans"].as_array().unwrap().iter().find(|p| p["key"] == "pro").unwrap().clone();
    assert_eq!(pro["once"]["price"], testing::PRO_PRICE, "prices as resolved at start");
    assert_eq!(body["ok"], true);
    assert_no_secret(&body.to_string());
}

#[tokio::test]
async fn diagnostics_say_when_stripe_refuses_the_key() {
    let stripe = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({ "error": { "message": "Invalid API Key provided" } })),
        )
        .mount(&stripe)
        .await;
    let t = testing::app(tollgate::store::Store::memory(), Some(&stripe.uri()), &[("APP_VERSION", "v1.2.3")]);
    let (status, body) = get(&t, "/api/diagnostics", None).await;
    assert_eq!(status, 200);
    assert_eq!((body["stripe"]["mode"].as_str(), body["stripe"]["reachable"].as_bool()), (Some("test"), Some(false)));
    assert!(body["stripe"]["error"].as_str().unwrap().contains("401"), "{body}");
    assert_eq!((body["ok"].as_bool(), body["version"].as_str()), (Some(false), Some("v1.2.3")));
    assert_no_secret(&body.to_string());
}

#[tokio::test]
async fn diagnostics_in_production_are_for_administrators() {
    let mut config = testing::config(&[("ADMIN_EMAILS", ADMIN)]);
    config.environment = Environment::Production;
    let t = testing::app_with_config(tollgate::store::Store::memory(), config, testing::catalog());
    assert_eq!(get(&t, "/api/diagnostics", None).await.0, 401);
    let someone = testing::token(&t.app, "usr_x", "x@example.com");
    assert_eq!(get(&t, "/api/diagnostics", Some(&someone)).await.0, 403);
    let boss = testing::token(&t.app, "usr_boss", ADMIN);
    assert_eq!(get(&t, "/api/diagnostics", Some(&boss)).await.0, 200);
}
