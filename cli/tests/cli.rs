//! The `tollgate` binary itself: `sign`, `send`, `table create`, and `dev` serving the whole
//! journey over real HTTP on loopback (the child is killed when the test ends).

use std::process::Command;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod dev_server;

use dev_server::{BIN, free_port};
const SECRET: &str = "whsec_cli_test";

fn now() -> i64 {
    tollgate::clock::Clock::now(&tollgate::clock::SystemClock)
}

fn payload_file() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/payloads/checkout-session-completed.json")
}

#[test]
fn sign_prints_a_header_that_verifies_now() {
    let out = Command::new(BIN).args(["sign", payload_file().to_str().unwrap(), "--secret", SECRET]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let header = String::from_utf8(out.stdout).unwrap();
    let body = std::fs::read(payload_file()).unwrap();
    tollgate::stripe::signature::verify(&body, Some(header.trim()), &[SECRET], now(), 300).unwrap();
    assert!(tollgate::stripe::signature::verify(&body, Some(header.trim()), &["whsec_other"], now(), 300).is_err());
}

#[tokio::test]
async fn send_posts_the_payload_signed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "received": true })))
        .mount(&server)
        .await;
    let url = format!("{}/hook", server.uri());
    let out = tokio::process::Command::new(BIN)
        .args(["send", payload_file().to_str().unwrap(), "--url", &url, "--secret", SECRET])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let requests = server.received_requests().await.unwrap();
    let header = requests[0].headers["stripe-signature"].to_str().unwrap();
    tollgate::stripe::signature::verify(&requests[0].body, Some(header), &[SECRET], now(), 300).unwrap();
    assert_eq!(requests[0].body, std::fs::read(payload_file()).unwrap(), "the exact bytes are sent");
}

#[tokio::test]
async fn table_create_makes_a_table_the_store_can_use() {
    let table = format!("tollgate-cli-{}", std::process::id());
    let endpoint = tollgate_testkit::dynamodb_endpoint();
    let out = Command::new(BIN).args(["table", "create", "--table", &table, "--endpoint", &endpoint]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let store =
        tollgate::store::Store::dynamodb(tollgate::store::DynamoDbStore::connect(&table, Some(&endpoint)).await);
    store.ping().await.unwrap();
    store
        .write(tollgate::store::Write::put_new(tollgate::store::Item::new(&tollgate::store::Key::new("A", "B"))))
        .await
        .unwrap();
    assert_eq!(store.query_index("nothing", 1).await.unwrap().len(), 0, "the GSI exists");
}

#[tokio::test]
async fn the_dev_server_serves_the_journey_over_http() {
    let server = dev_server::start(&[]).await;
    let url = &server.url;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let post = |path: &str, body: Value, token: Option<&str>| {
        let mut r = http.post(format!("{url}{path}")).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let sent = post("/api/auth/request-code", json!({ "email": "dev@example.com" }), None).await.unwrap();
    assert_eq!(sent.status(), 202);
    assert!(sent.headers().contains_key("x-request-id"));
    let code = sent.json::<Value>().await.unwrap()["debug_code"].as_str().unwrap().to_string();
    let mailbox: Value = http.get(format!("{url}/dev/mailbox")).send().await.unwrap().json().await.unwrap();
    assert!(mailbox[0]["text"].as_str().unwrap().contains(&code), "the console mailer keeps the email");

    let signed_in: Value = post("/api/auth/verify-code", json!({ "email": "dev@example.com", "code": code }), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_in["token"].as_str().unwrap().to_string();
    let checkout: Value =
        post("/api/checkout/create", json!({ "plan": "pro" }), Some(&token)).await.unwrap().json().await.unwrap();
    let session = checkout["session_id"].as_str().unwrap().to_string();
    let page = http.get(checkout["url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Pay") && page.contains(&session));

    let paid = http.post(format!("{url}/dev/checkout/{session}/pay")).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    let success = paid.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(success, format!("{url}/success?session_id={session}"));
    let success_page = http.get(&success).send().await.unwrap().text().await.unwrap();
    assert!(success_page.contains("assets/app.js"), "the success page is the demo app, which claims: {success_page}");

    let claimed: Value =
        post("/api/pro/claim", json!({ "session_id": session }), Some(&token)).await.unwrap().json().await.unwrap();
    assert_eq!(claimed["pro"], true, "{claimed}");
    let verified: Value =
        http.get(format!("{url}/api/pro/verify")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(verified["plan"], "pro");

    let preflight = http.request(reqwest::Method::OPTIONS, format!("{url}/api/pro/verify")).send().await.unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    // The demo app and the dashboard, built into the binary.
    let text = |path: &'static str| {
        let http = http.clone();
        async move {
            let answer = http.get(format!("{url}{path}")).send().await.unwrap();
            let kind = answer.headers()["content-type"].to_str().unwrap().to_string();
            (answer.status().as_u16(), kind, answer.text().await.unwrap())
        }
    };
    let (status, kind, index) = text("/").await;
    assert!(status == 200 && kind.starts_with("text/html") && index.contains("assets/app.js"), "{index}");
    let (status, _, admin) = text("/admin").await;
    assert!(status == 200 && admin.contains("assets/admin.js"), "{admin}");
    let (status, kind, script) = text("/assets/app.js").await;
    assert_eq!((status, kind.as_str()), (200, "text/javascript; charset=utf-8"));
    assert!(script.len() > 10_000, "the bundled app");
    assert_eq!(text("/assets/missing.js").await.0, 404);
}

#[test]
fn the_dev_server_refuses_a_production_configuration_it_cannot_meet() {
    let out = Command::new(BIN)
        .args(["dev", "--port", &free_port().to_string()])
        .env("TOLLGATE_ENV", "production")
        .env_remove("TABLE_NAME")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TABLE_NAME"), "the error names the variable");
}

#[test]
fn keys_generate_and_rotate_print_sets_the_configuration_accepts() {
    let out = Command::new(BIN).args(["keys", "generate", "--kid", "first"]).output().unwrap();
    assert!(out.status.success());
    let first = String::from_utf8(out.stdout).unwrap();
    assert_eq!(tollgate::auth::offline::KeySet::parse(&first).unwrap().kid(), "first");
    let file = std::env::temp_dir().join(format!("tollgate-keys-{}.json", std::process::id()));
    std::fs::write(&file, &first).unwrap();
    let out = Command::new(BIN).args(["keys", "rotate", file.to_str().unwrap(), "--kid", "second"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rotated = tollgate::auth::offline::KeySet::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(rotated.kid(), "second");
    let published = serde_json::to_value(rotated.jwks(now(), 900)).unwrap();
    let kids: Vec<&str> = published["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["second", "first"], "the old key stays published");
    let refused =
        Command::new(BIN).args(["keys", "rotate", file.to_str().unwrap(), "--kid", "first"]).output().unwrap();
    assert!(!refused.status.success(), "a key id is never reused");
    std::fs::remove_file(file).ok();
}
