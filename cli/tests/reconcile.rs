//! Reconciliation: Stripe's paid sessions, subscriptions, refunds and disputes whose webhooks
//! were missed are applied once, through the webhook's paths, whether the events come before,
//! after or never; a second run changes nothing; the changes are counted in the admin metrics;
//! and an existing Stripe account's customers and subscriptions are imported (a Stripe mock,
//! every list call checked against Stripe's spec, pages followed).

mod support;

use rstest::rstest;
use serde_json::{Value, json};
use support::Harness;
use tollgate_testkit::{self as testing, StoreKind};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ADMIN: &str = "boss@example.com";

/// When a missed webhook finally arrives: before the reconciliation, after it, or never.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Late {
    Before,
    After,
    Never,
}

const LATE: [Late; 3] = [Late::Before, Late::After, Late::Never];

fn unique(name: &str) -> String {
    format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Four users, each with one Stripe happening whose events are held back: a Pro purchase, a
/// Basic subscription, a refund of a delivered purchase, a dispute of one.
struct World {
    emails: [String; 4],
    held: [Vec<Vec<u8>>; 4],
}

async fn world(h: &Harness) -> World {
    let emails = ["bought", "subscribed", "refunded", "disputed"].map(unique);
    let mut held: [Vec<Vec<u8>>; 4] = Default::default();
    let mut tokens = Vec::new();
    for email in &emails {
        tokens.push(h.sign_in(email).await.0);
    }
    let bought = h.checkout(Some(&tokens[0]), json!({ "plan": "pro" })).await;
    held[0] = h.pay(&bought);
    let subscribed = h.checkout(Some(&tokens[1]), json!({ "plan": "basic", "interval": "month" })).await;
    held[1] = h.pay(&subscribed);
    let refunded = h.checkout(Some(&tokens[2]), json!({ "plan": "pro" })).await;
    h.deliver_all(&h.pay(&refunded)).await;
    held[2] = vec![h.sim().refund(&refunded.session_id, h.t.app.now()).unwrap()];
    let disputed = h.checkout(Some(&tokens[3]), json!({ "plan": "pro" })).await;
    h.deliver_all(&h.pay(&disputed)).await;
    let pi = h.sim().payment_intent(&disputed.session_id).unwrap();
    held[3] = vec![h.sim().dispute(&format!("dp_{}", uuid::Uuid::new_v4().simple()), &pi, None, h.t.app.now())];
    World { emails, held }
}

/// Each user's plan and credits, signing in afresh (a refund revokes the old tokens).
async fn state(h: &Harness, w: &World) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for email in &w.emails {
        let (token, _) = h.sign_in(email).await;
        out.push((h.plan(&token).await, h.balance(&token).await));
    }
    out
}

async fn reconcile(h: &Harness) -> Value {
    let (admin, _) = h.sign_in(ADMIN).await;
    let (status, report) = h.call("POST", "/api/admin/reconcile", Some(json!({})), Some(&admin)).await;
    assert_eq!(status, 200, "{report}");
    report
}

/// Every way the four users' events can come late (3^4 on the memory store, a spread of them on
/// DynamoDB) ends where delivering them all on time ends, and a second run changes nothing.
#[rstest]
#[tokio::test]
async fn missed_events_are_applied_once_whenever_the_webhook_comes(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let on_time = {
        let h = Harness::new(kind, &[("ADMIN_EMAILS", ADMIN)]).await;
        let w = world(&h).await;
        for held in &w.held {
            h.deliver_all(held).await;
        }
        state(&h, &w).await
    };
    let plans: Vec<&str> = on_time.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(plans, ["pro", "basic", "free", "free"], "{on_time:?}");

    let cases: Vec<[Late; 4]> = (0..81)
        .map(|n| [0, 1, 2, 3].map(|i| LATE[(n / 3usize.pow(i)) % 3]))
        .enumerate()
        .filter(|(i, _)| matches!(kind, StoreKind::Memory) || i % 7 == 0)
        .map(|(_, c)| c)
        .collect();
    for case in cases {
        let h = Harness::new(kind, &[("ADMIN_EMAILS", ADMIN)]).await;
        let w = world(&h).await;
        for (held, late) in w.held.iter().zip(case) {
            if late == Late::Before {
                h.deliver_all(held).await;
            }
        }
        let first = reconcile(&h).await;
        let missed = case.iter().filter(|l| **l != Late::Before).count();
        assert_eq!(first["changes"].as_array().unwrap().len(), missed, "{case:?}: {first}");
        assert!(first["skipped"].as_array().unwrap().is_empty(), "{case:?}: {first}");
        for (held, late) in w.held.iter().zip(case) {
            if late == Late::After {
                for body in held {
                    assert_eq!(h.deliver(body).await.0, 200, "a late event is still answered 2xx");
                }
            }
        }
        assert_eq!(state(&h, &w).await, on_time, "{case:?}");
        let second = reconcile(&h).await;
        assert_eq!(second["changes"], json!([]), "{case:?}: a second run changes nothing");
    }
}

#[rstest]
#[tokio::test]
async fn reconciled_changes_are_counted_in_the_admin_metrics(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let h = Harness::new(kind, &[("ADMIN_EMAILS", ADMIN)]).await;
    let _w = world(&h).await;
    let report = reconcile(&h).await;
    assert_eq!(
        report["counts"],
        json!({ "purchases": 2, "refunds": 1, "disputes": 1 }),
        "two sessions (Pro, Basic), one refund, one dispute: {report}"
    );
    let (admin, _) = h.sign_in(ADMIN).await;
    let (status, metrics) = h.call("GET", "/api/admin/metrics", None, Some(&admin)).await;
    assert_eq!(status, 200);
    let totals = &metrics["reconciled"]["totals"];
    assert_eq!(
        (totals["purchases"].as_i64(), totals["refunds"].as_i64(), totals["disputes"].as_i64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(totals["users_imported"], 0);
    let (status, refused) =
        h.call("POST", "/api/admin/reconcile", Some(json!({ "since": "yesterday" })), Some(&admin)).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (400, Some("invalid_field")));
    let (user, _) = h.sign_in(&unique("nobody")).await;
    assert_eq!(h.call("POST", "/api/admin/reconcile", None, Some(&user)).await.0, 403);
}

fn page(data: Vec<Value>, has_more: bool) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "object": "list", "data": data, "has_more": has_more }))
}

/// An existing Stripe account moves onto a fresh Tollgate: its customers become users (matched by
/// email: one is already a user), its subscriptions give them their plans, and a customer with no
/// email is left alone. The customers come in two pages.
#[rstest]
#[tokio::test]
async fn an_existing_account_is_imported_users_matched_by_email(
    #[values(StoreKind::Memory, StoreKind::DynamoDb)] kind: StoreKind,
) {
    let server = MockServer::start().await;
    let (known, new) = (unique("known"), unique("new"));
    let customer = |id: &str, email: Option<&str>| {
        testing::fixture_with("customer", json!({ "id": id, "email": email, "metadata": {}, "livemode": false }))
    };
    Mock::given(method("GET"))
        .and(path("/v1/customers"))
        .and(query_param("starting_after", "cus_known"))
        .respond_with(page(vec![customer("cus_new", Some(&new)), customer("cus_anon", None)], false))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/customers"))
        .respond_with(page(vec![customer("cus_known", Some(&known.to_uppercase()))], true))
        .mount(&server)
        .await;
    let now = testing::NOW;
    let mut sub = testing::subscription_object(
        "sub_moved",
        "cus_new",
        "",
        "active",
        testing::PRO_MONTHLY_PRICE,
        (now - 86400, now + 29 * 86400),
    );
    sub["metadata"] = json!({});
    Mock::given(method("GET")).and(path("/v1/subscriptions")).respond_with(page(vec![sub], false)).mount(&server).await;
    for empty in ["/v1/checkout/sessions", "/v1/refunds", "/v1/disputes"] {
        Mock::given(method("GET")).and(path(empty)).respond_with(page(vec![], false)).mount(&server).await;
    }
    let t = testing::app(kind.store().await, Some(&server.uri()), &[]);
    let existing = tollgate::domain::users::find_or_create_user(&t.app.store, &known, now).await.unwrap();

    let report = tollgate::domain::reconcile::run(&t.app, 0).await.unwrap();
    assert_eq!(
        serde_json::to_value(&report.counts).unwrap(),
        json!({ "customers_linked": 2, "users_imported": 1, "subscriptions": 1 }),
        "{report:#?}"
    );
    assert_eq!(report.skipped, ["customer cus_anon: no email to match a user by"]);
    let owner = |c: &'static str| tollgate::domain::users::owner_of_customer(&t.app.store, c);
    assert_eq!(owner("cus_known").await.unwrap(), Some(existing.id.clone()), "matched by email, any case");
    let imported = tollgate::domain::users::user_id_for_email(&t.app.store, &new).await.unwrap().expect("made");
    assert_eq!(owner("cus_new").await.unwrap(), Some(imported.clone()));
    let token = testing::token(&t.app, &imported, &new);
    let (status, ent) = testing::status_and_json(
        &tollgate_cli::route(&t.app, testing::request("GET", "/api/entitlements", None, Some(&token))).await,
    );
    assert_eq!((status, ent["plan"].as_str()), (200, Some("pro")), "{ent}");

    let again = tollgate::domain::reconcile::run(&t.app, 0).await.unwrap();
    assert!(again.changes.is_empty(), "{again:#?}");
    for request in server.received_requests().await.unwrap() {
        let fields: Vec<(String, String)> =
            request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        testing::assert_real_operation("GET", request.url.path());
        testing::assert_real_query(request.url.path(), &fields);
    }
}
