//! A Stripe account that keeps products, prices (lookup keys and their transfer), coupons and
//! portal configurations, answering as Stripe does (idempotency keys replayed), and every request
//! it received.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tollgate_testkit::{
    self as testing, assert_real_form_fields, assert_real_operation, assert_real_query, form_fields,
};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A request the account received: (method, path, query or form fields).
pub type Received = (String, String, Vec<(String, String)>);

#[derive(Default)]
pub struct Account {
    pub products: HashMap<String, Value>,
    pub prices: Vec<Value>,
    pub coupons: HashMap<String, Value>,
    pub configurations: Vec<Value>,
    /// Answers by idempotency key (Stripe replays them).
    pub replays: HashMap<String, Value>,
    /// (method, path, query or form fields)
    pub requests: Vec<Received>,
}

#[derive(Clone, Default)]
pub struct FakeStripe(pub Arc<Mutex<Account>>);

fn list(data: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "object": "list", "data": data, "has_more": false }))
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404)
        .set_body_json(json!({ "error": { "type": "invalid_request_error", "message": "No such object" } }))
}

pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `a[b][c]=v` fields as nested metadata-like maps: the values of fields starting `prefix[`.
fn nested(form: &[(String, String)], prefix: &str) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for (k, v) in form {
        if let Some(rest) = k.strip_prefix(&format!("{prefix}[")) {
            let inner = rest.split(']').next().unwrap_or_default();
            out.insert(inner.to_string(), json!(v));
        }
    }
    out
}

impl Respond for FakeStripe {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut account = self.0.lock().unwrap();
        let path = request.url.path().to_string();
        let method = request.method.as_str().to_string();
        let fields = if method == "GET" {
            request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
        } else {
            form_fields(&request.body)
        };
        account.requests.push((method.clone(), path.clone(), fields.clone()));
        let key = request.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
        if let Some(answer) = key.as_ref().and_then(|k| account.replays.get(k)) {
            return ResponseTemplate::new(200).set_body_json(answer.clone());
        }
        let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
        let answer = match (method.as_str(), segments.as_slice()) {
            ("GET", ["products"]) => {
                let ids: Vec<&str> =
                    fields.iter().filter(|(k, _)| k.starts_with("ids[")).map(|(_, v)| v.as_str()).collect();
                return list(
                    account.products.values().filter(|p| ids.contains(&p["id"].as_str().unwrap())).cloned().collect(),
                );
            }
            ("POST", ["products"]) => {
                let id = field(&fields, "id").unwrap().to_string();
                if account.products.contains_key(&id) {
                    return ResponseTemplate::new(400)
                        .set_body_json(json!({ "error": { "code": "resource_already_exists" } }));
                }
                let product = testing::fixture_with(
                    "product",
                    json!({ "id": id, "name": field(&fields, "name"), "active": true }),
                );
                account.products.insert(id, product.clone());
                product
            }
            ("POST", ["products", id]) => {
                let product = account.products.get_mut(*id).unwrap();
                product["name"] = json!(field(&fields, "name"));
                product["active"] = json!(field(&fields, "active") == Some("true"));
                product.clone()
            }
            ("GET", ["prices"]) => {
                let keys: Vec<&str> =
                    fields.iter().filter(|(k, _)| k.starts_with("lookup_keys[")).map(|(_, v)| v.as_str()).collect();
                assert!(keys.len() <= 10, "Stripe takes at most ten lookup keys");
                let found = account
                    .prices
                    .iter()
                    .filter(|p| p["active"] == true && keys.contains(&p["lookup_key"].as_str().unwrap_or("")));
                return list(found.cloned().collect());
            }
            ("POST", ["prices"]) => {
                let lookup = field(&fields, "lookup_key").unwrap().to_string();
                if field(&fields, "transfer_lookup_key") == Some("true") {
                    for p in account.prices.iter_mut().filter(|p| p["lookup_key"] == json!(lookup)) {
                        p["lookup_key"] = Value::Null;
                    }
                }
                let currency = field(&fields, "currency").unwrap();
                let amount: i64 = field(&fields, "unit_amount").unwrap().parse().unwrap();
                let mut options = json!({ currency: { "unit_amount": amount } });
                for c in nested(&fields, "currency_options").keys() {
                    let amount = field(&fields, &format!("currency_options[{c}][unit_amount]")).unwrap();
                    options[c] = json!({ "unit_amount": amount.parse::<i64>().unwrap() });
                }
                let recurring = field(&fields, "recurring[interval]")
                    .map(|i| json!({ "interval": i, "interval_count": 1, "usage_type": "licensed" }));
                let price = testing::fixture_with(
                    "price",
                    json!({
                        "id": format!("price_{}", account.prices.len() + 1), "product": field(&fields, "product"),
                        "currency": currency, "unit_amount": amount, "lookup_key": lookup, "active": true,
                        "tax_behavior": field(&fields, "tax_behavior").unwrap_or("unspecified"),
                        "currency_options": options,
                    }),
                );
                let mut price = price;
                price["recurring"] = recurring.unwrap_or(Value::Null);
                account.prices.push(price.clone());
                price
            }
            ("POST", ["prices", id]) => {
                assert!(
                    fields.iter().all(|(k, _)| k == "active"),
                    "a price is never edited, only archived: {fields:?}"
                );
                let price = account.prices.iter_mut().find(|p| p["id"] == *id).unwrap();
                price["active"] = json!(field(&fields, "active") == Some("true"));
                price.clone()
            }
            ("GET", ["coupons", id]) => match account.coupons.get(*id) {
                Some(c) => c.clone(),
                None => return not_found(),
            },
            ("POST", ["coupons"]) => {
                let id = field(&fields, "id").unwrap().to_string();
                let coupon = testing::fixture_with(
                    "coupon",
                    json!({ "id": id, "percent_off": field(&fields, "percent_off").unwrap().parse::<f64>().unwrap() }),
                );
                account.coupons.insert(id, coupon.clone());
                coupon
            }
            ("GET", ["billing_portal", "configurations"]) => return list(account.configurations.clone()),
            ("POST", ["billing_portal", "configurations", rest @ ..]) => {
                let metadata = Value::Object(nested(&fields, "metadata"));
                let config = match rest {
                    [] => {
                        let id = format!("bpc_{}", account.configurations.len() + 1);
                        let config = testing::fixture_with(
                            "billing_portal.configuration",
                            json!({ "id": id, "is_default": false }),
                        );
                        account.configurations.push(config);
                        account.configurations.last_mut().unwrap()
                    }
                    [id] => account.configurations.iter_mut().find(|c| c["id"] == *id).unwrap(),
                    _ => return not_found(),
                };
                config["metadata"] = metadata;
                config["form"] = json!(fields);
                config.clone()
            }
            // An account with no sales: what reconciliation walks is empty.
            ("GET", ["customers"] | ["checkout", "sessions"] | ["subscriptions"] | ["refunds"] | ["disputes"]) => {
                return list(Vec::new());
            }
            ("POST", ["billing_portal", "sessions"]) => {
                json!({ "id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/session/test" })
            }
            _ => return not_found(),
        };
        if let Some(k) = key {
            account.replays.insert(k, answer.clone());
        }
        ResponseTemplate::new(200).set_body_json(answer)
    }
}

impl FakeStripe {
    pub async fn serve(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any()).respond_with(self.clone()).mount(&server).await;
        server
    }

    pub fn requests(&self) -> Vec<Received> {
        self.0.lock().unwrap().requests.clone()
    }

    pub fn forget_requests(&self) {
        self.0.lock().unwrap().requests.clear();
    }

    pub fn writes(&self) -> Vec<Received> {
        self.requests().into_iter().filter(|(m, _, _)| m != "GET").collect()
    }

    /// Every request was a real operation of Stripe's, with real parameters.
    pub fn assert_all_real(&self) {
        for (method, path, fields) in self.requests() {
            assert_real_operation(&method, &path);
            if method == "GET" {
                let template = if path.starts_with("/v1/coupons/") { "/v1/coupons/{coupon}" } else { path.as_str() };
                if (!template.contains('{') || template == "/v1/coupons/{coupon}") && !fields.is_empty() {
                    assert_real_query(template, &fields);
                }
            } else {
                let template = spec_template(&path);
                assert_real_form_fields(&template, &fields);
            }
        }
    }

    pub fn price(&self, lookup_key: &str) -> Option<Value> {
        self.0.lock().unwrap().prices.iter().find(|p| p["lookup_key"] == lookup_key && p["active"] == true).cloned()
    }
}

fn spec_template(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "v1", "products", _] => "/v1/products/{id}".into(),
        ["", "v1", "prices", _] => "/v1/prices/{price}".into(),
        ["", "v1", "billing_portal", "configurations", _] => "/v1/billing_portal/configurations/{configuration}".into(),
        _ => path.to_string(),
    }
}
