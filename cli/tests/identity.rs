//! Bring your own sign-in, proven with tokens the real third-party libraries make: NextAuth.js
//! session tokens from `next-auth`'s own `encode` (and an HS256 one), OpenID Connect tokens
//! signed by `jose` (RS256, ES256, EdDSA) against a JWKS served here; and Tollgate's entitlement
//! tokens verified by `jose` as a customer's backend would. The scripts are tests/js/*.mjs, their
//! packages installed by `make test` (`npm ci --prefix tests/js`).

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use rstest::rstest;
use serde_json::{Value, json};
use support::Harness;
use tollgate_testkit::StoreKind;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUDIENCE: &str = "tollgate-api";
const NEXTAUTH_SECRET: &str = "the-apps-nextauth-secret-0123456789";

/// Runs tests/js/`script` with `input` on stdin; its JSON answer.
fn node(script: &str, input: &Value) -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/js");
    assert!(
        std::path::Path::new(dir).join("node_modules/jose").exists(),
        "tests/js has no node_modules: `make test` installs them (npm ci --prefix tests/js)"
    );
    let mut child = Command::new("node")
        .arg(format!("{dir}/{script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{script} failed");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script}: {e}"))
}

fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

/// Tokens for `subject` from issuer `issuer` (and NextAuth's), made at `now`.
fn tokens(issuer: &str, subject: &str, email: &str, verified: Option<bool>, now: i64) -> Value {
    let mut input = json!({
        "issuer": issuer, "audience": AUDIENCE, "now": now, "subject": subject, "email": email,
        "nextauth_secret": NEXTAUTH_SECRET,
    });
    if let Some(verified) = verified {
        input["email_verified"] = verified.into();
    }
    node("tokens.mjs", &input)
}

async fn me(h: &Harness, token: &str) -> (u16, Value) {
    h.call("GET", "/api/me", None, Some(token)).await
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap()
}

/// A harness on real time (next-auth stamps tokens with the machine's clock).
async fn harness(kind: StoreKind, overrides: &[(&str, &str)]) -> Harness {
    let h = Harness::new(kind, overrides).await;
    h.t.clock.set(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64);
    h
}

#[rstest]
#[tokio::test]
async fn nextauth_tokens_made_by_next_auth_sign_users_in(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = harness(kind, &[("NEXTAUTH_SECRET", NEXTAUTH_SECRET)]).await;
    let email = format!("{}@example.com", unique("nextauth"));
    // Someone who already signed in with a code: a verified NextAuth email links to them.
    let (own, user) = h.sign_in(&email).await;
    let made = tokens("https://unused.example", &unique("na"), &email, Some(true), h.t.app.now());
    for form in ["jwe", "jws"] {
        let (status, body) = me(&h, text(&made["nextauth"][form])).await;
        assert_eq!((status, &body["user"]["id"], &body["user"]["email"]), (200, &json!(user), &json!(email)), "{form}");
        assert_eq!(body["token"]["issuer"], "nextauth");
    }
    let (status, body) = me(&h, text(&made["nextauth"]["other_secret"])).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_token")), "another app's secret");

    // Unverified: a user of its own, with no email (the address cannot reach the owner's account).
    let unverified = tokens("https://unused.example", &unique("na"), &email, None, h.t.app.now());
    let (status, body) = me(&h, text(&unverified["nextauth"]["jwe"])).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["user"]["id"], json!(user));
    assert_eq!(body["user"]["email"], "");
    // The same NextAuth user again is the same Tollgate user.
    assert_eq!(me(&h, text(&unverified["nextauth"]["jws"])).await.1["user"]["id"], body["user"]["id"]);
    // A user with no email buys too (Checkout asks for an address), and claims nothing by email.
    let no_email = text(&unverified["nextauth"]["jwe"]).to_string();
    let bought = h.checkout(Some(&no_email), json!({ "pack": "credits_100" })).await;
    h.deliver_all(&h.pay(&bought)).await;
    assert_eq!(h.balance(&no_email).await, 100);
    let (status, claimed) = h.call("POST", "/api/pro/claim", Some(json!({})), Some(&no_email)).await;
    assert_eq!((status, &claimed["pro"]), (200, &json!(false)), "{claimed}");
    // Erasure removes the link: the identity's next use starts a new account.
    let (status, _) = h.call("DELETE", "/api/me", None, Some(text(&unverified["nextauth"]["jwe"]))).await;
    assert_eq!(status, 200);
    h.t.clock.advance(1);
    let (status, again) = me(&h, text(&unverified["nextauth"]["jws"])).await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["user"]["id"], body["user"]["id"], "the erased account is not found again");

    // What a NextAuth user buys is theirs, through the same routes.
    let jwe = text(&made["nextauth"]["jwe"]).to_string();
    let bought = h.checkout(Some(&jwe), json!({ "pack": "credits_100" })).await;
    h.deliver_all(&h.pay(&bought)).await;
    assert_eq!(h.balance(&own).await, 100, "the purchase is the linked user's");
    assert_eq!(h.balance(&jwe).await, 100);
}

/// A served JWKS for `tokens`' keys, and the `OIDC_ISSUERS` entry naming it.
async fn provider(made: &Value, issuer: &str) -> (MockServer, String) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(made["jwks"].clone()))
        .mount(&server)
        .await;
    let entry = json!({ "issuer": issuer, "audience": AUDIENCE, "jwks_url": format!("{}/jwks.json", server.uri()) });
    (server, entry.to_string())
}

#[rstest]
#[tokio::test]
async fn openid_tokens_signed_by_jose_verify_against_the_providers_jwks(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let issuer = format!("https://{}.auth.example/", unique("tenant"));
    let subject = unique("auth0|user");
    let email = format!("{}@example.com", unique("oidc"));
    let now = tollgate_testkit::NOW;
    let made = tokens(&issuer, &subject, &email, Some(true), now);
    let (server, entry) = provider(&made, &issuer).await;
    let h = Harness::new(kind, &[("OIDC_ISSUERS", &format!("[{entry}]"))]).await;

    let mut user = None;
    for alg in ["rs256", "es256", "eddsa"] {
        let (status, body) = me(&h, text(&made["oidc"][alg])).await;
        assert_eq!(status, 200, "{alg}: {body}");
        assert_eq!(body["user"]["email"], json!(email), "{alg}: a verified email links");
        assert_eq!(*user.get_or_insert(body["user"]["id"].clone()), body["user"]["id"], "one user per subject");
    }
    for (bad, code) in
        [("wrong_audience", "invalid_token"), ("wrong_issuer", "invalid_token"), ("expired", "token_expired")]
    {
        let (status, body) = me(&h, text(&made["oidc"][bad])).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some(code)), "{bad}");
    }
    // An HS256 token claiming the provider's issuer (signed with its public key as a secret,
    // the classic confusion) is refused: a provider's tokens are never HS256.
    let forged = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = json!({ "iss": issuer, "aud": AUDIENCE, "sub": subject, "exp": now + 600 });
        let head = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        format!("{head}.{}.{}", b64.encode(payload.to_string()), b64.encode(b"sig"))
    };
    assert_eq!(me(&h, &forged).await.0, 401);

    // The provider rotates: a token with the new key verifies once the JWKS is fetched again,
    // which a key id it lacks causes at most once a minute, however many such tokens come.
    let fetched = server.received_requests().await.unwrap().len();
    assert_eq!(fetched, 1, "the JWKS is fetched once and kept");
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(made["rotated_jwks"].clone()))
        .mount(&server)
        .await;
    let rotated = text(&made["oidc"]["rotated_key"]);
    assert_eq!(me(&h, rotated).await.0, 401, "within a minute of the last fetch, the kept set answers");
    assert!(server.received_requests().await.unwrap().is_empty());
    h.t.clock.advance(60);
    assert_eq!(me(&h, rotated).await.0, 200, "then an unknown key id fetches the set again");
    for _ in 0..20 {
        let (status, _) = me(&h, &with_kid(text(&made["oidc"]["rs256"]), &unique("made-up"))).await;
        assert_eq!(status, 401);
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1, "made-up key ids cost one fetch a minute");
    h.t.clock.advance(61);
    let _ = me(&h, &with_kid(text(&made["oidc"]["rs256"]), "another-made-up")).await;
    assert_eq!(server.received_requests().await.unwrap().len(), 2, "and a minute later, one more");
}

/// The token with its header's key id changed (its signature then fails, but the id is looked up).
fn with_kid(token: &str, kid: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut header: Value = serde_json::from_slice(&b64.decode(&parts[0]).unwrap()).unwrap();
    header["kid"] = kid.into();
    parts[0] = b64.encode(header.to_string());
    parts.join(".")
}

#[tokio::test]
async fn several_issuers_at_once_keep_their_users_apart() {
    let now = tollgate_testkit::NOW;
    let subject = unique("same-subject");
    let (a, b) = ("https://a.example/", "https://b.example/");
    let made_a = tokens(a, &subject, "shared@example.com", None, now);
    let made_b = tokens(b, &subject, "shared@example.com", None, now);
    let (_server_a, entry_a) = provider(&made_a, a).await;
    // The second provider's keys from a file.
    let file = std::env::temp_dir().join(format!("{}.json", unique("jwks")));
    std::fs::write(&file, made_b["jwks"].to_string()).unwrap();
    let entry_b = json!({ "issuer": b, "audience": [AUDIENCE, "other"], "jwks_file": file }).to_string();
    let issuers = format!("[{entry_a},{entry_b}]");
    let h = Harness::new(StoreKind::Memory, &[("OIDC_ISSUERS", &issuers), ("NEXTAUTH_SECRET", NEXTAUTH_SECRET)]).await;
    let (sa, user_a) = me(&h, text(&made_a["oidc"]["rs256"])).await;
    let (sb, user_b) = me(&h, text(&made_b["oidc"]["eddsa"])).await;
    assert_eq!((sa, sb), (200, 200), "{user_a} {user_b}");
    assert_ne!(user_a["user"]["id"], user_b["user"]["id"], "one subject at two issuers is two users");
    assert_eq!(user_b["token"]["issuer"], b);
    // A's token is not B's: B's keys do not verify it even if its issuer is rewritten.
    let (own, _) = h.sign_in("code-user@example.com").await;
    assert_eq!(me(&h, &own).await.0, 200, "Tollgate's own tokens still work alongside");
    std::fs::remove_file(file).ok();
}

#[rstest]
#[tokio::test]
async fn signing_out_everywhere_revokes_another_issuers_tokens_issued_before(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let issuer = format!("https://{}.example/", unique("idp"));
    let now = tollgate_testkit::NOW;
    let made = tokens(&issuer, &unique("sub"), &format!("{}@example.com", unique("out")), Some(true), now);
    let (_server, entry) = provider(&made, &issuer).await;
    let h = Harness::new(kind, &[("OIDC_ISSUERS", &format!("[{entry}]"))]).await;
    let token = text(&made["oidc"]["rs256"]);
    assert_eq!(me(&h, token).await.0, 200);
    h.t.clock.advance(60);
    let (status, _) = h.call("POST", "/api/auth/sign-out-everywhere", None, Some(token)).await;
    assert_eq!(status, 200);
    let (status, body) = me(&h, token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("token_revoked")));
    // A token the provider issues after the sign-out works.
    h.t.clock.advance(120);
    assert_eq!(me(&h, text(&made["oidc"]["later"])).await.0, 200);
}

#[rstest]
#[tokio::test]
async fn entitlement_tokens_verify_offline_with_jose(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[]).await;
    let email = format!("{}@example.com", unique("offline"));
    let (status, signed_in) = {
        h.call("POST", "/api/auth/request-code", Some(json!({ "email": email })), None).await;
        let code = tollgate_testkit::last_code(&h.t.outbox, &email);
        h.call("POST", "/api/auth/verify-code", Some(json!({ "email": email, "code": code })), None).await
    };
    assert_eq!(status, 200, "{signed_in}");
    let token = text(&signed_in["token"]).to_string();
    let bought = h.checkout(Some(&token), json!({ "pack": "credits_100" })).await;
    h.deliver_all(&h.pay(&bought)).await;

    let (status, issued) = h.call("GET", "/api/entitlements/token", None, Some(&token)).await;
    assert_eq!(status, 200, "{issued}");
    let (_, jwks) = h.call("GET", "/.well-known/jwks.json", None, None).await;
    let verify = |token: &str, jwks: &Value, now: i64| {
        node(
            "verify.mjs",
            &json!({ "jwks": jwks, "token": token, "issuer": "tollgate", "audience": "tollgate-app", "now": now }),
        )
    };
    let checked = verify(text(&issued["token"]), &jwks, h.t.app.now());
    let payload = &checked["payload"];
    assert_eq!(payload["sub"], signed_in["user"]["id"], "{checked}");
    assert_eq!(payload["plan"], "free");
    assert_eq!(payload["credits"], 100, "a credit snapshot");
    assert_eq!(payload["features"]["sessions"], json!({ "used": 0, "limit": 5 }), "{payload}");
    assert!(payload["features"]["ai_chat"]["resets_at"].is_i64(), "a quota snapshot: {payload}");
    assert_eq!(payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(), 900, "15 minutes");
    assert_eq!(checked["header"]["alg"], "EdDSA");
    assert_eq!(checked["header"]["kid"], issued["kid"]);
    // The sign-in's own entitlement token verifies too; after its 15 minutes, it does not.
    let at_sign_in = text(&signed_in["entitlement_token"]);
    assert!(verify(at_sign_in, &jwks, h.t.app.now()).get("payload").is_some());
    assert_eq!(verify(at_sign_in, &jwks, h.t.app.now() + 901)["error"], "ERR_JWT_EXPIRED");
    // Not an access token: Tollgate refuses it in place of one.
    assert_eq!(h.call("GET", "/api/credits", None, Some(text(&issued["token"]))).await.0, 401);
}

#[test]
fn rotation_keeps_old_entitlement_tokens_verifiable_with_jose_until_they_expire() {
    use tollgate::auth::offline::KeySet;
    let first = KeySet::generate("2026-01");
    let old = KeySet::parse(&first).unwrap();
    let now = tollgate_testkit::NOW;
    let claims = json!({ "sub": "usr_1", "iss": "tollgate", "aud": "tollgate-app", "iat": now, "exp": now + 900 });
    let token = old.sign(&claims).unwrap();
    let rotated = KeySet::parse(&KeySet::rotate(&first, "2026-02", now + 60, 0).unwrap()).unwrap();
    let input = |jwks: Value, at: i64| json!({ "jwks": jwks, "token": token, "issuer": "tollgate", "audience": "tollgate-app", "now": at });
    let published = serde_json::to_value(rotated.jwks(now + 60, 900)).unwrap();
    assert_eq!(published["keys"].as_array().unwrap().len(), 2, "old and new keys published");
    assert!(node("verify.mjs", &input(published, now + 120)).get("payload").is_some(), "still verifies");
    let later = serde_json::to_value(rotated.jwks(now + 60 + 906, 900)).unwrap();
    assert_eq!(later["keys"].as_array().unwrap().len(), 1, "the old key is gone once its tokens expired");
    assert_eq!(node("verify.mjs", &input(later, now + 120))["error"], "ERR_JWKS_NO_MATCHING_KEY");
    let fresh = rotated.sign(&claims).unwrap();
    let answer = node(
        "verify.mjs",
        &json!({ "jwks": rotated.jwks(now + 60, 900), "token": fresh, "issuer": "tollgate", "audience": "tollgate-app", "now": now + 120 }),
    );
    assert_eq!(answer["header"]["kid"], "2026-02", "{answer}");
}
