//! One JSON log line per request, with what operations need (request id, function, route,
//! status, latency, user id; a webhook's event id, type and outcome), and never a secret: the
//! whole journey runs with the functions' own log format captured, and no line holds a sign-in
//! code, a token, a signing secret, a signature or the buyer's email.

#[path = "support/mod.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use support::Harness;
use tollgate_testkit::{StoreKind, WEBHOOK_SECRET, last_code, signed_header};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const EMAIL: &str = "ada.lovelace@example.com";

#[tokio::test]
async fn the_journey_logs_one_line_per_request_and_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(tollgate::runtime::json_logs(move || writer.clone())).unwrap();

    let h = Harness::new(StoreKind::Memory, &[]).await;
    let (status, _) = h.call("POST", "/api/auth/request-code", Some(json!({ "email": EMAIL })), None).await;
    assert_eq!(status, 202);
    let code = last_code(&h.t.outbox, EMAIL);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, _) =
        h.call("POST", "/api/auth/verify-code", Some(json!({ "email": EMAIL, "code": wrong })), None).await;
    assert_eq!(status, 401);
    let (status, body) =
        h.call("POST", "/api/auth/verify-code", Some(json!({ "email": EMAIL, "code": code })), None).await;
    assert_eq!(status, 200);
    let token = body["token"].as_str().unwrap().to_string();
    let user_id = body["user"]["id"].as_str().unwrap().to_string();
    let bought = h.checkout(Some(&token), json!({ "plan": "pro" })).await;
    let events = h.sim().pay(&bought.session_id, h.t.app.now()).unwrap();
    let signatures: Vec<String> = events.iter().map(|e| signed_header(e, h.t.app.now())).collect();
    h.deliver_all(&events).await;
    let (status, body) =
        h.call("POST", "/api/pro/claim", Some(json!({ "session_id": bought.session_id })), Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let fresh = body["token"].as_str().unwrap().to_string();
    assert_eq!(h.call("GET", "/api/pro/verify", None, Some(&fresh)).await.0, 200);
    assert_eq!(h.call("POST", "/api/credits/debit", Some(json!({ "amount": 5 })), Some(&fresh)).await.0, 402);
    assert_eq!(h.call("GET", "/api/pro/verify", None, Some("not-a-token")).await.0, 401);
    // The user's data rights: the export, then the erasure.
    assert_eq!(h.call("GET", "/api/me/export", None, Some(&fresh)).await.0, 200);
    assert_eq!(h.call("DELETE", "/api/me", None, Some(&fresh)).await.0, 200);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["fields"]["route"].is_string()).collect();
    assert_eq!(requests.len(), 10 + events.len(), "one line per request:\n{text}");
    for line in &requests {
        let f = &line["fields"];
        assert!(f["request_id"].is_string() && f["status"].is_u64() && f["latency_ms"].is_u64(), "{line}");
        assert_eq!(f["function"], "local");
    }
    let verify = requests.iter().find(|l| l["fields"]["route"] == "/api/pro/verify").unwrap();
    assert_eq!(verify["fields"]["user_id"], user_id.as_str(), "an authenticated request names its user");
    let webhook: Vec<_> = requests.iter().filter(|l| l["fields"]["route"] == "/api/stripe/webhook").collect();
    assert!(!webhook.is_empty());
    for line in webhook {
        let f = &line["fields"];
        assert!(f["event_id"].as_str().is_some_and(|id| id.starts_with("evt_")), "{line}");
        assert!(f["event_type"].is_string() && f["outcome"].is_string(), "{line}");
    }
    let refused = requests.iter().find(|l| l["fields"]["status"] == 402).unwrap();
    assert_eq!(refused["fields"]["code"], "insufficient_credits");

    let jwt_secret = "test-secret-test-secret-test-secret-0123";
    let mut secrets = vec![code.as_str(), token.as_str(), fresh.as_str(), WEBHOOK_SECRET, jwt_secret, EMAIL];
    secrets.extend(signatures.iter().map(String::as_str));
    for line in text.lines() {
        for secret in &secrets {
            assert!(!line.contains(secret), "a log line holds a secret or an email ({secret}): {line}");
        }
    }
}
