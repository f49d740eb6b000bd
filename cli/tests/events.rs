//! Every file in events/ goes through lambda_http's event parsing into its handler, so the
//! samples for `sam local invoke` never rot. Tokens are minted and the webhook re-signed at
//! test time; a new file without an expected status here fails the test.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tollgate::domain::credits::{self, Change, Floor};
use tollgate::store::Store;
use tollgate::store::schema::Reason;
use tollgate_testkit::{self as testing, status_and_json};

const EXPECTED: &[(&str, u16)] = &[
    ("auth-request-code.json", 202),
    // No code was requested for this email in the fresh store: 401 code_expired.
    ("auth-verify-code.json", 401),
    ("health.json", 200),
    ("checkout-create.json", 200),
    ("pro-claim.json", 200),
    ("pro-verify.json", 200),
    ("webhook-function-url.json", 200),
    ("credits-balance.json", 200),
    ("credits-debit.json", 200),
    ("credits-use.json", 200),
    ("admin-credits-grant.json", 200),
    ("sessions-create.json", 201),
    ("sessions-list.json", 200),
    // The sample id names no session in the fresh store: routed, authorized, 404.
    ("sessions-get.json", 404),
    ("sessions-delete.json", 404),
    ("sessions-entry.json", 404),
    ("usage.json", 200),
    ("entitlements.json", 200),
    ("pace-to-bpm.json", 200),
    ("checkout-subscribe.json", 200),
    ("billing-portal.json", 200),
    // The sample user has no subscription: routed, authorized, 404 `no_subscription`.
    ("billing-change.json", 404),
    ("billing-change-cancel.json", 404),
    ("billing-change-preview.json", 404),
    ("admin-billing-events.json", 200),
    ("admin-recent-billing-events.json", 200),
    ("admin-metrics.json", 200),
    // The simulated Stripe of a fresh app holds nothing: 200, no changes.
    ("admin-reconcile.json", 200),
    ("admin-user-report.json", 200),
    ("admin-user-export.json", 200),
    // The sample names no user: routed, authorized, 404 (erasing the sample user would change
    // what the other files find).
    ("admin-user-erase.json", 404),
    ("diagnostics.json", 200),
    ("me-export.json", 200),
    // Sent with a token of a user the store does not hold, for the same reason: 404.
    ("me-erase.json", 404),
    ("me.json", 200),
    ("jwks.json", 200),
    ("catalog.json", 200),
    // Sent with a token of its own user, so the other files' token stays good.
    ("auth-sign-out-everywhere.json", 200),
    ("entitlements-token.json", 200),
    ("admin-make-admin.json", 200),
    // The sample names no user (removing the sample administrator would revoke the token the
    // other files send): routed, authorized, 404.
    ("admin-remove-admin.json", 404),
];

fn events_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

#[tokio::test]
async fn every_sample_event_reaches_its_handler_with_the_expected_status() {
    // The sample user is an administrator with credits to spend and an account for their email.
    let t = testing::app(Store::memory(), None, &[("ADMIN_EMAILS", "ada@example.com")]);
    tollgate::domain::users::find_or_create_user(&t.app.store, "ada@example.com", t.app.now()).await.unwrap();
    let seed = Change {
        user_id: "usr_sample",
        delta: 10,
        floor: Floor::Refuse,
        reason: Reason::Admin,
        note: None,
        reference: None,
        key: None,
    };
    credits::apply(&t.app, &seed, &|_| Default::default()).await.unwrap();
    // ... and a Stripe customer, so the portal opens whatever order the files are read in.
    let profile = tollgate::store::schema::User {
        id: "usr_sample".into(),
        email: "ada@example.com".into(),
        created_at: 1,
        stripe_customer_id: Some("cus_sample".into()),
        erased_at: None,
    };
    t.app.store.write(tollgate::store::Write::put(profile.to_item())).await.unwrap();
    let token = testing::token(&t.app, "usr_sample", "ada@example.com");
    let nobody = testing::token(&t.app, "usr_nobody", "nobody@example.com");
    let leaver = testing::token(&t.app, "usr_leaver", "leaver@example.com");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let file = entry.unwrap().path();
        if file.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let expected = EXPECTED
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("events/{name} has no expected status in this test"))
            .1;
        let mut event: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        if let Some(auth) = event["headers"].get_mut("authorization") {
            let token = match name.as_str() {
                "me-erase.json" => &nobody,
                "auth-sign-out-everywhere.json" => &leaver,
                _ => &token,
            };
            *auth = format!("Bearer {token}").into();
        }
        if event["headers"].get("stripe-signature").is_some() {
            let body = STANDARD.decode(event["body"].as_str().unwrap()).unwrap();
            event["headers"]["stripe-signature"] = testing::signed_header(&body, t.app.now()).into();
        }
        let request =
            lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("events/{name}: {e}"));
        let response = if name.starts_with("webhook-") {
            tollgate_webhook::handle(&t.app, request).await
        } else {
            tollgate_cli::route(&t.app, request).await
        };
        let (status, body) = status_and_json(&response);
        assert_eq!(status, expected, "events/{name}: {body}");
        seen.push(name);
    }
    assert_eq!(seen.len(), EXPECTED.len(), "every expected event file exists: saw {seen:?}");
}

#[tokio::test]
async fn the_sample_webhook_payload_applies_through_the_signed_path() {
    let t = testing::app(Store::memory(), None, &[]);
    let body = std::fs::read(events_dir().join("payloads/checkout-session-completed.json")).unwrap();
    let (status, receipt) =
        status_and_json(&tollgate_webhook::handle(&t.app, testing::webhook_request(&body, t.app.now())).await);
    assert_eq!((status, receipt["outcome"].as_str()), (200, Some("purchase_recorded")), "{receipt}");
}

/// `tollgate event NAME` makes a file ready to invoke: the binary's output, with the secrets the
/// function is configured with, is answered as a real request (the file itself is refused).
#[tokio::test]
async fn the_event_command_mints_a_token_and_signs_the_webhook() {
    let t = testing::app(Store::memory(), None, &[]);
    let grace = tollgate::store::schema::User {
        id: "usr_grace".into(),
        email: "grace@example.com".into(),
        created_at: 1,
        stripe_customer_id: None,
        erased_at: None,
    };
    t.app.store.write(tollgate::store::Write::put(grace.to_item())).await.unwrap();
    let run = |name: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["event", name, "--email", "grace@example.com", "--user", "usr_grace", "--dir"])
            .arg(events_dir())
            .env("JWT_SECRET", "test-secret-test-secret-test-secret-0123")
            .env("STRIPE_WEBHOOK_SECRET", testing::WEBHOOK_SECRET)
            .env_remove("TOLLGATE_ENV")
            .output()
            .expect("the binary runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let as_is = std::fs::read_to_string(events_dir().join("entitlements.json")).unwrap();
    let refused = tollgate_cli::route(&t.app, lambda_http::request::from_str(&as_is).unwrap()).await;
    assert_eq!(status_and_json(&refused).0, 401, "the file's placeholder token is refused");
    let ready = run("entitlements");
    let (status, body) =
        status_and_json(&tollgate_cli::route(&t.app, lambda_http::request::from_str(&ready).unwrap()).await);
    assert_eq!((status, body["plan"].as_str()), (200, Some("free")), "{body}");
    let (status, me) =
        status_and_json(&tollgate_cli::route(&t.app, lambda_http::request::from_str(&run("me.json")).unwrap()).await);
    assert_eq!(
        (status, me["email"].as_str().or(me["user"]["email"].as_str())),
        (200, Some("grace@example.com")),
        "{me}"
    );
    // Signed at the real time: a function on the real clock takes it.
    let live = tollgate::App::new(
        testing::config(&[]),
        testing::catalog(),
        Store::memory(),
        tollgate::stripe::Stripe::Simulated(tollgate::stripe::Simulator::new("")),
        tollgate::email::EmailSender::console(false),
        std::sync::Arc::new(tollgate::clock::SystemClock),
    );
    let hook = run("webhook-function-url");
    let (status, receipt) =
        status_and_json(&tollgate_webhook::handle(&live, lambda_http::request::from_str(&hook).unwrap()).await);
    assert_eq!(status, 200, "a fresh signature: {receipt}");
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["event", "no-such-event", "--dir"])
        .arg(events_dir())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-event.json"));
}
