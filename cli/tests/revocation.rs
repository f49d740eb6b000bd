//! Revocation: a refund, a dispute, losing administration or signing out everywhere makes every
//! token the user holds fail at its next server-side check, on both stores; administrators are
//! read at request time, never from a token.

mod support;

use rstest::rstest;
use serde_json::json;
use support::Harness;
use tollgate::auth::tokens::Subject;
use tollgate_testkit::{self as testing, StoreKind};

const ADMIN: &str = "boss@example.com";

fn unique(name: &str) -> String {
    format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple())
}

#[rstest]
#[tokio::test]
async fn a_refunded_users_tokens_stop_at_their_next_check(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[]).await;
    let (before, _) = h.sign_in(&unique("refunded")).await;
    let bought = h.checkout(Some(&before), json!({ "plan": "pro" })).await;
    h.deliver_all(&h.pay(&bought)).await;
    let (status, claimed) =
        h.call("POST", "/api/pro/claim", Some(json!({ "session_id": bought.session_id })), Some(&before)).await;
    assert_eq!(status, 200, "{claimed}");
    let pro = claimed["token"].as_str().unwrap().to_string();
    assert_eq!(h.plan(&pro).await, "pro");
    let (status, ent) = h.call("GET", "/api/entitlements", None, Some(&before)).await;
    assert_eq!((status, &ent["plan"]), (200, &json!("pro")), "buying revokes nothing");

    let refund = h.sim().refund(&bought.session_id, h.t.app.now()).unwrap();
    assert_eq!(h.deliver(&refund).await.1["outcome"], "purchase_revoked");
    for token in [&before, &pro] {
        for (method, path, body) in [
            ("GET", "/api/entitlements", None),
            ("GET", "/api/pro/verify", None),
            ("POST", "/api/sessions", Some(json!({ "data": {} }))),
            ("POST", "/api/usage/ai_chat", None),
            ("GET", "/api/credits", None),
        ] {
            let (status, answer) = h.call(method, path, body, Some(token)).await;
            assert_eq!((status, answer["error"]["code"].as_str()), (401, Some("token_revoked")), "{method} {path}");
        }
    }
    let (token, _) = h.sign_in(&claimed_email(&h, &pro)).await;
    assert_eq!(h.plan(&token).await, "free", "a new sign-in works, on the plan the user holds now");
}

fn claimed_email(h: &Harness, token: &str) -> String {
    h.t.app.tokens.verify(token, h.t.app.now()).unwrap().email
}

#[rstest]
#[tokio::test]
async fn signing_out_everywhere_revokes_every_token_on_every_signed_in_route(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[]).await;
    let email = unique("everywhere");
    let (laptop, user) = h.sign_in(&email).await;
    let (phone, _) = h.sign_in(&email).await;
    let (status, body) = h.call("POST", "/api/auth/sign-out-everywhere", None, Some(&laptop)).await;
    assert_eq!((status, body), (200, json!({ "signed_out": true })));

    // A body every route accepts, so each answers for its token rather than its input.
    let body = json!({
        "data": {}, "units": 1, "ref": "r1", "amount": 1, "reason": "test", "plan": "pro", "user_id": user,
        "session_id": "cs_test_1",
    });
    let mut checked = Vec::new();
    for route in tollgate_cli::api_routes() {
        let path = route.path.replace("{user}", &user).replace("{id}", "ses_1").replace("{feature}", "ai_chat");
        let anonymous = h.call(route.method, &path, Some(json!({})), None).await;
        if anonymous.0 != 401 {
            continue;
        }
        for token in [&laptop, &phone] {
            let (status, answer) = h.call(route.method, &path, Some(body.clone()), Some(token)).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (401, Some("token_revoked")),
                "{} {path}",
                route.method
            );
        }
        checked.push(format!("{} {}", route.method, route.path));
    }
    assert!(checked.len() >= 20, "every signed-in route was tried: {checked:?}");
    let (fresh, _) = h.sign_in(&email).await;
    let (status, me) = h.call("GET", "/api/me", None, Some(&fresh)).await;
    assert_eq!((status, &me["user"]["id"], &me["admin"]), (200, &json!(user), &json!(false)), "{me}");
}

#[rstest]
#[tokio::test]
async fn administrators_are_read_at_request_time(#[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind) {
    let h = Harness::new(kind, &[("ADMIN_EMAILS", ADMIN)]).await;
    let (boss, _) = h.sign_in(ADMIN).await;
    let email = unique("deputy");
    let (deputy, deputy_id) = h.sign_in(&email).await;
    assert_eq!(h.call("GET", "/api/admin/metrics", None, Some(&deputy)).await.0, 403);

    // A token that says admin is not believed.
    let claims_admin = h
        .t
        .app
        .tokens
        .mint(
            &Subject { user_id: &deputy_id, email: &email, plan: "free", pro: false, admin: true, token_version: 0 },
            h.t.app.now(),
        )
        .unwrap()
        .0;
    assert_eq!(h.call("GET", "/api/admin/metrics", None, Some(&claims_admin)).await.1["error"]["code"], "not_an_admin");

    let path = format!("/api/admin/users/{deputy_id}/admin");
    assert_eq!(h.call("PUT", &path, None, Some(&deputy)).await.0, 403, "no one makes themselves an administrator");
    assert_eq!(h.call("PUT", &path, None, Some(&boss)).await, (200, json!({ "user_id": deputy_id, "admin": true })));
    assert_eq!(h.call("GET", "/api/admin/metrics", None, Some(&deputy)).await.0, 200, "at once, same token");
    let (_, me) = h.call("GET", "/api/me", None, Some(&deputy)).await;
    assert_eq!(me["admin"], true);

    assert_eq!(h.call("DELETE", &path, None, Some(&boss)).await.0, 200);
    let (status, answer) = h.call("GET", "/api/admin/metrics", None, Some(&deputy)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (401, Some("token_revoked")), "losing admin revokes");
    let (again, _) = h.sign_in(&email).await;
    assert_eq!(h.call("GET", "/api/admin/metrics", None, Some(&again)).await.0, 403);
    assert_eq!(h.call("PUT", "/api/admin/users/usr_nobody/admin", None, Some(&boss)).await.0, 404);

    // An administrator by configuration stops being one when the configuration says so.
    let later = testing::app_with_config(
        h.t.app.store.clone(),
        testing::config(&[("ADMIN_EMAILS", "someone-else@example.com")]),
        testing::catalog(),
    );
    let response =
        tollgate_cli::route(&later.app, testing::request("GET", "/api/admin/metrics", None, Some(&boss))).await;
    assert_eq!(testing::status_and_json(&response).0, 403);
}
