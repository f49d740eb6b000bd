//! `tollgate stripe webhook create`: the real binary against a Stripe mock registers the URL
//! with exactly the events Tollgate handles and the API version it pins (the form checked with
//! Stripe's spec), prints the signing secret once, and refuses a URL Stripe already has.

use serde_json::json;
use tollgate::stripe::client::API_VERSION;
use tollgate::stripe::handled::TYPES;
use tollgate_testkit::{self as testing, assert_real_form_fields, assert_real_query, form_fields};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const URL: &str = "https://abc123.lambda-url.us-east-1.on.aws/";
const SECRET: &str = "whsec_test_created_once";

async fn stripe(existing: &[&str]) -> MockServer {
    let server = MockServer::start().await;
    let endpoints: Vec<_> = existing
        .iter()
        .enumerate()
        .map(|(i, url)| {
            testing::fixture_with("webhook_endpoint", json!({ "id": format!("we_{i}"), "url": url, "secret": null }))
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/v1/webhook_endpoints"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "object": "list", "data": endpoints, "has_more": false })),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/webhook_endpoints"))
        .respond_with(ResponseTemplate::new(200).set_body_json(testing::fixture_with(
            "webhook_endpoint",
            json!({ "id": "we_new", "url": URL, "secret": SECRET }),
        )))
        .mount(&server)
        .await;
    server
}

fn run(server: &MockServer) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["stripe", "webhook", "create", "--url", URL])
        .env("STRIPE_SECRET_KEY", "sk_test_setup")
        .env("STRIPE_API_BASE", server.uri())
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn webhook_create_registers_every_handled_event_at_the_pinned_version_and_prints_the_secret() {
    let server = stripe(&["https://other.example.com/hook"]).await;
    let out = run(&server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches(SECRET).count(), 1, "the secret is printed once: {stdout}");
    assert!(stdout.contains("we_new"));
    let requests = server.received_requests().await.unwrap();
    let gets: Vec<_> = requests.iter().filter(|r| r.method.as_str() == "GET").collect();
    assert_eq!(gets.len(), 1);
    let query: Vec<(String, String)> =
        gets[0].url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_real_query("/v1/webhook_endpoints", &query);
    let posts: Vec<_> = requests.iter().filter(|r| r.method.as_str() == "POST").collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].headers.get("stripe-version").unwrap(), API_VERSION);
    assert!(posts[0].headers.get("idempotency-key").is_some());
    let form = form_fields(&posts[0].body);
    assert_real_form_fields("/v1/webhook_endpoints", &form);
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(field("url"), Some(URL));
    assert_eq!(field("api_version"), Some(API_VERSION));
    let events: Vec<&str> =
        form.iter().filter(|(k, _)| k.starts_with("enabled_events[")).map(|(_, v)| v.as_str()).collect();
    assert_eq!(events, TYPES, "exactly the handled events, in order");
}

#[tokio::test]
async fn webhook_create_refuses_a_url_stripe_already_has() {
    let server = stripe(&[URL]).await;
    let out = run(&server);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already has an endpoint") && stderr.contains("we_0"), "{stderr}");
    let posts = server.received_requests().await.unwrap().into_iter().filter(|r| r.method.as_str() == "POST").count();
    assert_eq!(posts, 0, "no second endpoint");
}
