//! Test support shared by the workspace's tests (feature `testing`): fresh DynamoDB tables on
//! the local server `make test` starts, apps wired for tests, and Stripe's real fixtures and
//! API spec (the form bodies Tollgate sends), vendored in `shared/testdata/stripe` by
//! `scripts/vendor-stripe.py`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};

use crate::app::App;
use crate::catalog::{BUILT_IN, Catalog, PriceResolver};
use crate::clock::FixedClock;
use crate::config::Config;
use crate::email::{EmailSender, Outbox};
use crate::store::{DynamoDbStore, Store};
use crate::stripe::{Simulator, Stripe, StripeClient};

pub const WEBHOOK_SECRET: &str = "whsec_test_tollgate";
pub const STRIPE_KEY: &str = "sk_test_tollgate";
pub const PRO_PRICE: &str = "price_test_pro";
pub const CREDITS_100_PRICE: &str = "price_test_credits_100";
/// A fixed "now" for tests: 2026-01-15T12:00:00Z.
pub const NOW: i64 = 1_768_478_400;

/// The DynamoDB-compatible server's URL. Tests that need it fail (never skip) without it.
pub fn dynamodb_endpoint() -> String {
    std::env::var("TOLLGATE_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("TOLLGATE_TEST_DYNAMODB_ENDPOINT is not set: run the tests with `make test`, which starts the DynamoDB server")
    })
}

/// A store on a fresh, uniquely named table of the test DynamoDB server.
pub async fn dynamodb_store() -> Store {
    let table = format!("tollgate-test-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoDbStore::connect(&table, Some(&dynamodb_endpoint())).await;
    store.create_table().await.expect("create a test table on the DynamoDB server");
    Store::dynamodb(store)
}

/// Which store a test runs on; suites run once per kind.
#[derive(Debug, Clone, Copy)]
pub enum StoreKind {
    Memory,
    DynamoDb,
}

impl StoreKind {
    pub async fn store(self) -> Store {
        match self {
            StoreKind::Memory => Store::memory(),
            StoreKind::DynamoDb => dynamodb_store().await,
        }
    }
}

/// A development configuration with test secrets, plus any overrides.
pub fn config(overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("TOLLGATE_ENV", "development"),
        ("STORE", "memory"),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("JWT_SECRET", "test-secret-test-secret-test-secret-0123"),
        ("CHECKOUT_SUCCESS_URL", "https://app.example.com/success?session_id={CHECKOUT_SESSION_ID}"),
        ("CHECKOUT_CANCEL_URL", "https://app.example.com/cancel"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_source(&vars).expect("a valid test configuration")
}

pub fn catalog() -> Catalog {
    catalog_from(BUILT_IN)
}

/// A catalog from TOML text, with the test prices for `STRIPE_PRICE_*` variables.
pub fn catalog_from(text: &str) -> Catalog {
    let lookup = |name: &str| match name {
        "STRIPE_PRICE_PRO" => Some(PRO_PRICE.to_string()),
        "STRIPE_PRICE_CREDITS_100" => Some(CREDITS_100_PRICE.to_string()),
        other => other.strip_prefix("STRIPE_PRICE_").map(|rest| format!("price_test_{}", rest.to_lowercase())).or_else(
            || other.strip_prefix("STRIPE_COUPON_").map(|rest| format!("coupon_test_{}", rest.to_lowercase())),
        ),
    };
    let resolver = PriceResolver { lookup: &lookup, simulated: false };
    Catalog::parse(text, "test catalog", &resolver).expect("the test catalog parses")
}

/// An app for tests: the given store, Stripe at `stripe_base` (a mock server) or simulated,
/// console email kept in an outbox, and a clock that stands still at `NOW`.
pub struct TestApp {
    pub app: App,
    pub clock: FixedClock,
    pub outbox: Outbox,
}

pub fn app(store: Store, stripe_base: Option<&str>, overrides: &[(&str, &str)]) -> TestApp {
    app_with_catalog(store, stripe_base, overrides, catalog())
}

pub fn app_with_catalog(
    store: Store,
    stripe_base: Option<&str>,
    overrides: &[(&str, &str)],
    catalog: Catalog,
) -> TestApp {
    let mut vars: Vec<(&str, &str)> = overrides.to_vec();
    if let Some(base) = stripe_base {
        vars.push(("STRIPE_SECRET_KEY", STRIPE_KEY));
        vars.push(("STRIPE_API_BASE", base));
    }
    let config = config(&vars);
    let stripe = match &config.stripe.secret_key {
        Some(key) => Stripe::Live(StripeClient::new(&config.stripe.api_base, key.clone(), config.stripe.call_budget)),
        None => Stripe::Simulated(Simulator::new("http://127.0.0.1:3000")),
    };
    let clock = FixedClock::at(NOW);
    let email = EmailSender::console(false);
    let outbox = email.outbox().expect("console sender has an outbox").clone();
    let app = App::new(config, catalog, store, stripe, email, Arc::new(clock.clone()));
    TestApp { app, clock, outbox }
}

fn stripe_dir() -> PathBuf {
    std::env::var_os("TOLLGATE_STRIPE_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/stripe"))
}

fn load(name: &str) -> Value {
    let path = stripe_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("Stripe reference data is JSON")
}

/// One of Stripe's example objects (`checkout.session`, `charge`, `event`, ...).
pub fn fixture(resource: &str) -> Value {
    static FIXTURES: OnceLock<Value> = OnceLock::new();
    FIXTURES.get_or_init(|| load("fixtures3.json"))["resources"][resource].clone()
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

/// Stripe's fixture object with fields replaced (objects are merged, other values replaced).
pub fn fixture_with(resource: &str, patch: Value) -> Value {
    let mut object = fixture(resource);
    merge(&mut object, patch);
    object
}

/// A webhook event body in Stripe's event envelope (from its fixture) around `object`.
pub fn event(event_type: &str, object: Value) -> Vec<u8> {
    let id = format!("evt_test{}", uuid::Uuid::new_v4().simple());
    event_with_id(&id, event_type, object)
}

pub fn event_with_id(id: &str, event_type: &str, object: Value) -> Vec<u8> {
    event_at(id, event_type, object, NOW)
}

/// An event Stripe created at `created` (events about one object are ordered by it).
pub fn event_at(id: &str, event_type: &str, object: Value, created: i64) -> Vec<u8> {
    let envelope =
        fixture_with("event", json!({ "id": id, "type": event_type, "created": created, "livemode": false }));
    let mut envelope = envelope;
    envelope["data"] = json!({ "object": object });
    serde_json::to_vec(&envelope).expect("JSON serializes")
}

/// A paid Checkout Session as Stripe sends it, for an order Tollgate's checkout created.
pub fn paid_session(session_id: &str, order_id: &str, user_id: Option<&str>, email: &str) -> Value {
    let mut metadata = json!({ "order_id": order_id, "plan": "pro" });
    if let Some(u) = user_id {
        metadata["user_id"] = json!(u);
    }
    fixture_with(
        "checkout.session",
        json!({
            "id": session_id,
            "mode": "payment",
            "status": "complete",
            "payment_status": "paid",
            "client_reference_id": order_id,
            "metadata": metadata,
            "customer": format!("cus_{}", &session_id[session_id.len().saturating_sub(8)..]),
            "customer_details": { "email": email },
            "payment_intent": format!("pi_{}", &session_id[session_id.len().saturating_sub(12)..]),
            "amount_total": 2900,
            "currency": "usd",
        }),
    )
}

/// A fully refunded charge for a payment intent.
pub fn refunded_charge(payment_intent: &str) -> Value {
    fixture_with("charge", json!({ "payment_intent": payment_intent, "refunded": true, "amount_refunded": 100 }))
}

pub fn signed_header(body: &[u8], at: i64) -> String {
    crate::stripe::signature::header(body, WEBHOOK_SECRET, at)
}

/// Stripe's API spec (2022-03-18), parsed once.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| load("spec3-2022-03-18.forms.json"))
}

/// Panics unless every form field (`a[b][0][c]`) is a parameter of `POST path` in Stripe's spec.
pub fn assert_real_form_fields(path: &str, fields: &[(String, String)]) {
    let schema =
        &spec()["paths"][path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
    assert!(schema.is_object(), "Stripe's spec has no form body for POST {path}");
    for (name, _) in fields {
        let segments: Vec<&str> = name.split(['[', ']']).filter(|s| !s.is_empty()).collect();
        assert!(schema_accepts(schema, &segments), "{name} is not a parameter of POST {path} in Stripe's spec");
    }
}

fn schema_accepts(schema: &Value, segments: &[&str]) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return true;
    };
    if let Some(any) = schema["anyOf"].as_array() {
        return any.iter().any(|s| schema_accepts(s, segments));
    }
    if let Some(next) = schema["properties"].get(*first) {
        return schema_accepts(next, rest);
    }
    if schema["type"] == "array" && first.parse::<usize>().is_ok() {
        return schema_accepts(&schema["items"], rest);
    }
    match &schema["additionalProperties"] {
        Value::Object(_) => schema_accepts(&schema["additionalProperties"], rest),
        Value::Bool(true) => rest.is_empty(),
        _ => false,
    }
}

/// Decodes a form-encoded body into its fields, in order.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).expect("a form-encoded body")
}

/// A valid access token for a user (plan `free`), minted at the app's time.
pub fn token(app: &App, user_id: &str, email: &str) -> String {
    let subject = crate::auth::tokens::Subject { user_id, email, plan: "free", pro: false, admin: false };
    app.tokens.mint(&subject, app.now()).expect("a token").0
}

/// Starts `attempts` copies of `attempt(i)` at once and counts those that succeed.
pub async fn count_successes<F, Fut>(attempts: usize, attempt: F) -> usize
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..attempts).map(|i| tokio::spawn(attempt(i))).collect();
    let mut successes = 0;
    for task in tasks {
        successes += usize::from(task.await.expect("the attempt does not panic"));
    }
    successes
}

/// The address tests call from unless they say otherwise.
pub const CALLER_IP: &str = "198.51.100.7";

/// A request as API Gateway delivers it: JSON body (if any), Bearer token (if any).
pub fn request(method: &str, path: &str, body: Option<&Value>, token: Option<&str>) -> crate::http::Request {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    if let Some(t) = token {
        builder = builder.header("authorization", format!("Bearer {t}"));
    }
    let (parts, ()) = builder.body(()).expect("a valid request").into_parts();
    let bytes = body.map(|b| serde_json::to_vec(b).expect("JSON serializes")).unwrap_or_default();
    crate::http::gateway_request(parts, bytes, CALLER_IP)
}

/// A request with raw bytes and headers, from an address.
pub fn raw_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    source_ip: &str,
) -> crate::http::Request {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let (parts, ()) = builder.body(()).expect("a valid request").into_parts();
    crate::http::gateway_request(parts, body, source_ip)
}

/// A signed webhook delivery of `body`, signed at the test clock's time.
pub fn webhook_request(body: &[u8], at: i64) -> crate::http::Request {
    let header = signed_header(body, at);
    raw_request(
        "POST",
        "/api/stripe/webhook",
        &[("content-type", "application/json"), ("stripe-signature", &header)],
        body.to_vec(),
        "3.18.12.63",
    )
}

/// A response's status and JSON body.
pub fn status_and_json(response: &crate::http::Response) -> (u16, Value) {
    let body: &[u8] = response.body().as_ref();
    let json = if body.is_empty() { Value::Null } else { serde_json::from_slice(body).expect("a JSON body") };
    (response.status().as_u16(), json)
}

/// The last sign-in code emailed to `email` (read from the console sender's outbox).
pub fn last_code(outbox: &Outbox, email: &str) -> String {
    let mail = outbox.last_to(email).unwrap_or_else(|| panic!("no email to {email}"));
    mail.text
        .split_whitespace()
        .find(|w| w.len() == 7 && w.ends_with('.') && w[..6].chars().all(|c| c.is_ascii_digit()))
        .map(|w| w[..6].to_string())
        .expect("a six-digit code in the email")
}

/// The built-in catalog's Pro monthly subscription price in tests.
pub const PRO_MONTHLY_PRICE: &str = "price_test_pro_monthly";
pub const BASIC_MONTHLY_PRICE: &str = "price_test_basic_monthly";

/// A subscription as Stripe sends it in the current API shape (period on the item), from
/// Stripe's fixture, for `user_id` on `customer` with Tollgate's metadata.
pub fn subscription_object(
    id: &str,
    customer: &str,
    user_id: &str,
    status: &str,
    price: &str,
    period: (i64, i64),
) -> Value {
    let mut sub = fixture_with(
        "subscription",
        json!({
            "id": id,
            "customer": customer,
            "status": status,
            "metadata": { "user_id": user_id, "plan": "pro", "interval": "month" },
            "cancel_at_period_end": false,
            "cancel_at": null,
            "canceled_at": null,
            "ended_at": null,
            "trial_start": null,
            "trial_end": null,
        }),
    );
    let item = &mut sub["items"]["data"][0];
    item["subscription"] = json!(id);
    item["price"]["id"] = json!(price);
    item["price"]["unit_amount"] = json!(900);
    item["current_period_start"] = json!(period.0);
    item["current_period_end"] = json!(period.1);
    sub
}

/// The same subscription in an older API shape: the billing period on the subscription itself.
pub fn older_shape(mut sub: Value) -> Value {
    let item = sub["items"]["data"][0].as_object_mut().expect("an item");
    let start = item.remove("current_period_start").unwrap_or(Value::Null);
    let end = item.remove("current_period_end").unwrap_or(Value::Null);
    sub["current_period_start"] = start;
    sub["current_period_end"] = end;
    sub
}

/// An invoice of a subscription in the current API shape (subscription under `parent`).
pub fn subscription_invoice(
    id: &str,
    subscription: &str,
    customer: &str,
    user_id: &str,
    status: &str,
    amount: i64,
) -> Value {
    let mut invoice = fixture_with(
        "invoice",
        json!({
            "id": id,
            "customer": customer,
            "status": status,
            "amount_due": amount,
            "amount_paid": if status == "paid" { amount } else { 0 },
            "currency": "usd",
            "billing_reason": "subscription_cycle",
            "hosted_invoice_url": format!("https://invoice.stripe.com/i/{id}"),
            "parent": { "type": "subscription_details", "quote_details": null,
                "subscription_details": { "subscription": subscription,
                    "metadata": { "user_id": user_id, "plan": "pro", "interval": "month" } } },
        }),
    );
    invoice["lines"]["data"][0]["pricing"] =
        json!({ "type": "price_details", "price_details": { "price": PRO_MONTHLY_PRICE, "product": "prod_1" } });
    invoice
}
