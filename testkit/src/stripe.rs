//! Stripe's own data for tests: its fixture objects (merged with what a test needs), event
//! envelopes, signatures, its API spec's form bodies, and subscription and invoice builders.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::{NOW, WEBHOOK_SECRET};

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
    tollgate::stripe::signature::header(body, WEBHOOK_SECRET, at)
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
        let newer = NEWER_PARAMETERS.iter().any(|(p, field, _)| {
            let template: Vec<&str> = p.split('/').collect();
            let concrete: Vec<&str> = path.split('/').collect();
            let same_path = template.len() == concrete.len()
                && template.iter().zip(&concrete).all(|(t, c)| t == c || t.starts_with('{'));
            same_path && (name == field || name.starts_with(&format!("{field}[")))
        });
        assert!(
            newer || schema_accepts(schema, &segments),
            "{name} is not a parameter of POST {path} in Stripe's spec"
        );
    }
}

/// Parameters Stripe added after the vendored spec (2022-03-18) that Tollgate sends at the API
/// version it pins: (path, parameter, where Stripe documents it). Checked by name prefix; the
/// current fixtures (`fixtures3.json`, 2026) carry the matching object fields, which
/// `newer_parameters_are_fields_of_current_objects` asserts where an object shows them.
pub const NEWER_PARAMETERS: &[(&str, &str, &str)] = &[
    ("/v1/prices", "currency_options", "Multi-currency prices (API 2022-08-01): price.currency_options"),
    ("/v1/checkout/sessions", "currency", "Checkout with multi-currency prices: checkout.session.currency"),
    (
        "/v1/billing_portal/configurations",
        "features[subscription_update][schedule_at_period_end]",
        "Portal downgrades at the period's end (2024): configuration.features.subscription_update.schedule_at_period_end",
    ),
    (
        "/v1/billing_portal/configurations/{configuration}",
        "features[subscription_update][schedule_at_period_end]",
        "as above, on update",
    ),
];

/// Panics unless `method path` (a concrete path, `/v1/subscriptions/sub_1`) is an operation of
/// Stripe's spec: its path template matched segment by segment, `{...}` matching one segment.
pub fn assert_real_operation(method: &str, path: &str) {
    let method = method.to_ascii_lowercase();
    let concrete: Vec<&str> = path.split('/').collect();
    let matches = spec()["paths"].as_object().expect("paths").iter().any(|(template, operations)| {
        let template: Vec<&str> = template.split('/').collect();
        template.len() == concrete.len()
            && template.iter().zip(&concrete).all(|(t, c)| t == c || (t.starts_with('{') && !c.is_empty()))
            && operations.get(&method).is_some()
    });
    assert!(matches, "{} {path} is not an operation in Stripe's spec", method.to_uppercase());
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

/// A subscription schedule as Stripe sends it (from its fixture): `status`, and one phase per
/// (start, end, price), for `subscription` of `customer`.
pub fn schedule_object(
    id: &str,
    subscription: &str,
    customer: &str,
    status: &str,
    phases: &[(i64, i64, &str)],
) -> Value {
    let mut schedule = fixture_with(
        "subscription_schedule",
        json!({ "id": id, "subscription": subscription, "customer": customer, "status": status }),
    );
    let template = schedule["phases"][0].clone();
    schedule["phases"] = phases
        .iter()
        .map(|(start, end, price)| {
            let mut phase = template.clone();
            phase["start_date"] = json!(start);
            phase["end_date"] = json!(end);
            phase["items"][0]["price"] = json!(price);
            phase
        })
        .collect();
    if status == "released" {
        schedule["released_subscription"] = json!(subscription);
        schedule["subscription"] = Value::Null;
    }
    schedule
}

/// Panics unless every query parameter (`a[b][0]`) is a parameter of `GET path` in Stripe's spec.
pub fn assert_real_query(path: &str, fields: &[(String, String)]) {
    let parameters = spec()["paths"][path]["get"]["parameters"].as_array().cloned().unwrap_or_default();
    assert!(!parameters.is_empty(), "Stripe's spec has no GET {path}");
    for (name, _) in fields {
        let segments: Vec<&str> = name.split(['[', ']']).filter(|s| !s.is_empty()).collect();
        let Some((first, rest)) = segments.split_first() else { panic!("an empty parameter name") };
        let parameter = parameters.iter().find(|p| p["name"] == *first);
        let accepted = parameter.is_some_and(|p| schema_accepts(&p["schema"], rest));
        assert!(accepted, "{name} is not a parameter of GET {path} in Stripe's spec");
    }
}

/// Panics unless every field of a `POST /v1/invoices/create_preview` form is a parameter of
/// Stripe's invoice preview. The vendored spec (2022) has it as `GET /v1/invoices/upcoming`,
/// whose `subscription_<x>` parameters API version 2025-03-31.basil moved, unchanged, under
/// `subscription_details[<x>]` of `create_preview` when it removed the upcoming-invoice API.
pub fn assert_real_preview_fields(fields: &[(String, String)]) {
    let renamed: Vec<(String, String)> = fields
        .iter()
        .map(|(name, value)| {
            let name = match name.strip_prefix("subscription_details[") {
                Some(rest) => {
                    let (field, tail) = rest.split_once(']').expect("a closing bracket");
                    format!("subscription_{field}{tail}")
                }
                None => name.clone(),
            };
            (name, value.clone())
        })
        .collect();
    assert_real_query("/v1/invoices/upcoming", &renamed);
}
