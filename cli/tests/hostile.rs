//! Hostile input at every parser: arbitrary paths, methods, query strings, headers and bodies
//! through the dev server's dispatcher (its own pages, then every function's routes). No input
//! may panic; every refusal is a 4xx, and every API refusal is the JSON error envelope.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use serde_json::Value;
use tollgate_cli::dev::dispatch;
use tollgate_testkit::{self as testing, raw_request};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Every path the servers know, as seeds a mutation starts from.
fn known_paths() -> Vec<String> {
    let mut paths: Vec<String> = tollgate_cli::routes().into_iter().map(|(_, p)| p.to_string()).collect();
    paths.extend(
        [
            "/",
            "/success",
            "/dev/mailbox",
            "/dev/checkout/",
            "/dev/checkout/pay",
            "/dev/checkout//pay",
            "/dev/checkout/x/dispute/",
            "/dev/portal/",
            "/dev/subscriptions/",
        ]
        .map(String::from),
    );
    paths
}

fn path_strategy() -> impl Strategy<Value = String> {
    let known = known_paths();
    prop_oneof![
        (proptest::sample::select(known.clone()), "[a-z0-9_/.%-]{0,12}").prop_map(|(p, tail)| format!("{p}{tail}")),
        (proptest::sample::select(known), 0usize..40).prop_map(|(p, cut)| {
            let cut = cut.min(p.len());
            p[..cut].to_string()
        }),
        "/[a-zA-Z0-9_/.%{}-]{0,40}",
    ]
}

fn method_strategy() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec!["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD"])
}

fn assert_well_formed(status: u16, content_type: &str, body: &[u8], what: &str) {
    assert!(status < 500, "{what}: a server error {status}: {}", String::from_utf8_lossy(body));
    if status >= 400 && content_type.starts_with("application/json") {
        let json: Value = serde_json::from_slice(body).unwrap_or_else(|_| panic!("{what}: not JSON"));
        assert!(json["error"]["code"].is_string() && json["error"]["message"].is_string(), "{what}: {json}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, rng_seed: RngSeed::Fixed(testing::seed("hostile")), ..ProptestConfig::default() })]

    #[test]
    fn no_path_or_method_crashes_the_dev_server(method in method_strategy(), path in path_strategy(), query in "[a-z=&%0-9]{0,20}") {
        let rt = runtime();
        let t = testing::app(tollgate::store::Store::memory(), None, &[]);
        let uri = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let Ok(uri) = uri.parse::<lambda_http::http::Uri>() else { return Ok(()) };
        let request = raw_request(method, &uri.to_string(), &[], vec![], testing::CALLER_IP);
        let response = rt.block_on(dispatch(&t.app, request));
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = rt.block_on(http_body_util::BodyExt::collect(response.into_body())).unwrap().to_bytes();
        if method == "HEAD" {
            // A HEAD answer has headers only.
            prop_assert!(status < 500 && body.is_empty(), "HEAD {}: {} with a body", uri, status);
        } else {
            assert_well_formed(status, &content_type, &body, &format!("{method} {uri}"));
        }
    }
}

#[tokio::test]
async fn the_paths_that_once_aborted_the_dev_server_are_refused() {
    let t = testing::app(tollgate::store::Store::memory(), None, &[]);
    // `/dev/checkout/pay` is the page of a session called "pay": POST to it is 405; the others
    // match no route.
    for (path, status) in [
        ("/dev/checkout/pay", 405),
        ("/dev/checkout//pay", 404),
        ("/dev/checkout/x/y/pay", 404),
        ("/dev/portal//x/cancel", 404),
    ] {
        let response = dispatch(&t.app, raw_request("POST", path, &[], vec![], testing::CALLER_IP)).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
    }
}

/// A JSON value made of the fields the API reads, with values of every type and edge.
fn hostile_json() -> impl Strategy<Value = Value> {
    let names = proptest::sample::select(vec![
        "amount",
        "units",
        "ref",
        "reason",
        "idempotency_key",
        "plan",
        "pack",
        "interval",
        "email",
        "code",
        "session_id",
        "user_id",
        "kind",
        "data",
        "bpm",
        "pace",
        "height_cm",
        "feature",
        "limit",
        "cursor",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), Just(-1i64), Just(1i64)].prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        "\\PC{0,40}".prop_map(Value::from),
        "[a-z_]{0,10}(@example\\.com)?".prop_map(Value::from),
        "[\\x00-\\x1f]{1,4}".prop_map(Value::from),
        Just(Value::from("pro")),
        Just(Value::from("credits_100")),
        Just(Value::from("month")),
        Just(Value::from("a".repeat(5000))),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(names.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// Every route with a JSON body, with `{id}`-style segments filled in.
fn body_routes() -> Vec<(&'static str, String)> {
    tollgate_cli::routes()
        .into_iter()
        .filter(|(m, p)| *m != "GET" && *p != "/api/stripe/webhook")
        .map(|(m, p)| (m, p.replace("{id}", "ses_missing").replace("{feature}", "quizzes")))
        .collect()
}

/// What a refused request may touch: its own rate-limit windows and sign-in code attempts.
fn money_and_access(items: Vec<tollgate::store::Item>) -> Vec<tollgate::store::Item> {
    items.into_iter().filter(|i| !i.key().pk.starts_with("RATE#") && i.key().sk != "CODE").collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, rng_seed: RngSeed::Fixed(testing::seed("hostile")), ..ProptestConfig::default() })]

    #[test]
    fn no_json_body_crashes_a_route_and_a_refusal_writes_nothing(
        route in proptest::sample::select(body_routes()),
        body in prop_oneof![3 => hostile_json(), 1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| Value::from(String::from_utf8_lossy(&b).to_string()))],
        raw in any::<bool>(),
        signed_in in any::<bool>(),
    ) {
        let rt = runtime();
        let t = testing::app(tollgate::store::Store::memory(), None, &[("ADMIN_EMAILS", "ada@example.com")]);
        let token = testing::token(&t.app, "usr_hostile", "ada@example.com");
        let before = money_and_access(t.app.store.memory_items().unwrap());
        let bytes = if raw { body.as_str().map(|s| s.as_bytes().to_vec()).unwrap_or_else(|| body.to_string().into_bytes()) } else { body.to_string().into_bytes() };
        let auth = format!("Bearer {token}");
        let mut headers = vec![("content-type", "application/json")];
        if signed_in {
            headers.push(("authorization", auth.as_str()));
        }
        let (method, path) = route;
        let request = raw_request(method, &path, &headers, bytes, testing::CALLER_IP);
        let response = rt.block_on(dispatch(&t.app, request));
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = rt.block_on(http_body_util::BodyExt::collect(response.into_body())).unwrap().to_bytes();
        assert_well_formed(status, &content_type, &body, &format!("{method} {path}"));
        if status >= 400 {
            prop_assert_eq!(money_and_access(t.app.store.memory_items().unwrap()), before, "{} {} answered {} and wrote", method, path, status);
        }
    }

    #[test]
    fn no_query_string_crashes_a_list(
        path in proptest::sample::select(vec!["/api/credits", "/api/sessions", "/api/admin/billing-events", "/api/pace-to-bpm", "/api/entitlements", "/api/pro/verify"]),
        limit in prop_oneof![Just(String::new()), "-?[0-9]{0,25}", "\\PC{0,6}"],
        cursor in prop_oneof![Just(String::new()), "[A-Za-z0-9_-]{0,40}", "\\PC{0,20}"],
        extra in "[a-z_]{0,8}=[a-zA-Z0-9%.-]{0,12}",
    ) {
        let rt = runtime();
        let t = testing::app(tollgate::store::Store::memory(), None, &[("ADMIN_EMAILS", "ada@example.com")]);
        let token = testing::token(&t.app, "usr_hostile", "ada@example.com");
        let encode = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
        let uri = format!("{path}?limit={}&cursor={}&user_id=usr_hostile&{extra}", encode(&limit), encode(&cursor));
        let auth = format!("Bearer {token}");
        let request = raw_request("GET", &uri, &[("authorization", auth.as_str())], vec![], testing::CALLER_IP);
        let response = rt.block_on(dispatch(&t.app, request));
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = rt.block_on(http_body_util::BodyExt::collect(response.into_body())).unwrap().to_bytes();
        assert_well_formed(status, &content_type, &body, &uri);
    }

    #[test]
    fn no_signed_body_gets_a_4xx_past_its_signature(
        object in hostile_json(),
        kind in proptest::sample::select(vec![
            "checkout.session.completed", "checkout.session.expired", "checkout.session.async_payment_failed",
            "charge.refunded", "charge.dispute.created", "charge.dispute.closed", "customer.subscription.updated",
            "customer.subscription.deleted", "invoice.paid", "invoice.payment_failed", "invoice_payment.paid", "ping",
        ]),
    ) {
        let rt = runtime();
        let t = testing::app(tollgate::store::Store::memory(), None, &[]);
        let object = if object.is_object() { object } else { serde_json::json!({ "id": "x", "value": object }) };
        let body = testing::event(kind, object);
        let response = rt.block_on(dispatch(&t.app, testing::webhook_request(&body, t.app.now())));
        let status = response.status().as_u16();
        prop_assert!(status == 200 || status >= 500, "{} answered {}", kind, status);
    }
}
