//! `tollgate stripe push` against a Stripe mock that keeps an account's products, prices (with
//! lookup keys and their transfer), coupons and portal configurations, every request checked
//! against Stripe's spec: an empty account gets the catalog, a second push changes nothing, a
//! dry run writes nothing, a changed amount makes a new price and archives the old (never an
//! edit), and the functions find the prices by lookup key at start (one list call), refusing to
//! start when Stripe's price charges something else than the catalog says.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tollgate::catalog::Catalog;
use tollgate::stripe::StripeClient;
use tollgate_testkit::{
    self as testing, assert_real_form_fields, assert_real_operation, assert_real_query, form_fields,
};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Default)]
struct Account {
    products: HashMap<String, Value>,
    prices: Vec<Value>,
    coupons: HashMap<String, Value>,
    configurations: Vec<Value>,
    /// Answers by idempotency key (Stripe replays them).
    replays: HashMap<String, Value>,
    /// (method, path, query or form fields)
    requests: Vec<(String, String, Vec<(String, String)>)>,
}

#[derive(Clone, Default)]
struct FakeStripe(Arc<Mutex<Account>>);

fn list(data: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "object": "list", "data": data, "has_more": false }))
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404)
        .set_body_json(json!({ "error": { "type": "invalid_request_error", "message": "No such object" } }))
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
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
                for (c, a) in nested(&fields, "currency_options") {
                    let amount: i64 =
                        field(&fields, &format!("currency_options[{c}][unit_amount]")).unwrap().parse().unwrap();
                    let _ = a;
                    options[c] = json!({ "unit_amount": amount });
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
    async fn serve(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any()).respond_with(self.clone()).mount(&server).await;
        server
    }

    fn requests(&self) -> Vec<(String, String, Vec<(String, String)>)> {
        self.0.lock().unwrap().requests.clone()
    }

    fn forget_requests(&self) {
        self.0.lock().unwrap().requests.clear();
    }

    fn writes(&self) -> Vec<(String, String, Vec<(String, String)>)> {
        self.requests().into_iter().filter(|(m, _, _)| m != "GET").collect()
    }

    /// Every request was a real operation of Stripe's, with real parameters.
    fn assert_all_real(&self) {
        for (method, path, fields) in self.requests() {
            assert_real_operation(&method, &path);
            if method == "GET" {
                let template = if path.starts_with("/v1/coupons/") { "/v1/coupons/{coupon}" } else { path.as_str() };
                if !template.contains('{') || template == "/v1/coupons/{coupon}" {
                    if !fields.is_empty() {
                        assert_real_query(template, &fields);
                    }
                }
            } else {
                let template = spec_template(&path);
                assert_real_form_fields(&template, &fields);
            }
        }
    }

    fn price(&self, lookup_key: &str) -> Option<Value> {
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

fn client(server: &MockServer) -> StripeClient {
    StripeClient::new(&server.uri(), tollgate::config::Secret::new("sk_test_push"), std::time::Duration::from_secs(10))
}

fn catalog(text: &str) -> Catalog {
    tollgate_cli::stripe_setup::catalog_for_push(text, "test").expect("the catalog parses")
}

async fn push(server: &MockServer, text: &str, dry_run: bool) -> Vec<String> {
    tollgate_cli::stripe_setup::push(&client(server), &catalog(text), dry_run, Some("https://app.example.com/account"))
        .await
        .expect("push succeeds")
}

const BUILT_IN: &str = tollgate::catalog::BUILT_IN;

#[tokio::test]
async fn an_empty_account_gets_the_catalog_and_a_second_push_changes_nothing() {
    let stripe = FakeStripe::default();
    let server = stripe.serve().await;

    let planned = push(&server, BUILT_IN, true).await;
    assert!(stripe.writes().is_empty(), "a dry run writes nothing: {:?}", stripe.writes());
    assert!(
        planned.iter().any(|l| l.starts_with("+ price tollgate:pro:month: 900 usd every month (also 900 eur)")),
        "{planned:#?}"
    );
    assert!(planned.last().unwrap().contains("not made"));

    let made = push(&server, BUILT_IN, false).await;
    let changes: Vec<&String> = made.iter().filter(|l| l.starts_with('+') || l.starts_with('~')).collect();
    // 3 products (basic, pro, credits_100), 6 prices, the members' coupon, the portal.
    assert_eq!(changes.len(), 3 + 6 + 1 + 1, "{made:#?}");
    assert_eq!(planned[..planned.len() - 1], made[..made.len() - 1], "the dry run showed what push then did");
    let pro_month = stripe.price("tollgate:pro:month").expect("Pro monthly exists");
    assert_eq!(
        (pro_month["unit_amount"].as_i64(), pro_month["recurring"]["interval"].as_str()),
        (Some(900), Some("month"))
    );
    assert_eq!(pro_month["currency_options"]["eur"]["unit_amount"], 900);
    assert_eq!(pro_month["product"], "tollgate_pro");
    let once = stripe.price("tollgate:pro:once").unwrap();
    assert!(once["recurring"].is_null(), "Pro for life is a one-time price");
    assert!(stripe.0.lock().unwrap().coupons.contains_key("tollgate-members-pro-20pct"));
    let portal = stripe.0.lock().unwrap().configurations[0].clone();
    let form: Vec<(String, String)> = serde_json::from_value(portal["form"].clone()).unwrap();
    let offered: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k.contains("[products]") && k.ends_with("[product]"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(offered, ["tollgate_basic", "tollgate_pro"], "the portal switches between the subscription plans");
    assert_eq!(field(&form, "features[subscription_update][products][1][prices][0]"), pro_month["id"].as_str());
    assert_eq!(field(&form, "default_return_url"), Some("https://app.example.com/account"));
    stripe.assert_all_real();

    stripe.forget_requests();
    let again = push(&server, BUILT_IN, false).await;
    assert_eq!(again, ["Stripe already holds what the catalog sells: nothing to change"]);
    assert!(stripe.writes().is_empty(), "a second push writes nothing: {:?}", stripe.writes());
}

#[tokio::test]
async fn a_changed_amount_is_a_new_price_that_takes_the_lookup_key_and_the_old_is_archived() {
    let stripe = FakeStripe::default();
    let server = stripe.serve().await;
    push(&server, BUILT_IN, false).await;
    let old = stripe.price("tollgate:pro:month").unwrap();

    let dearer = BUILT_IN.replace(
        "month = { amount = 900, currency_options = { eur = 900 } }",
        "month = { amount = 1200, currency_options = { eur = 1100 } }",
    );
    assert_ne!(dearer, BUILT_IN);
    stripe.forget_requests();
    let lines = push(&server, &dearer, false).await;
    let new = stripe.price("tollgate:pro:month").unwrap();
    assert_ne!(new["id"], old["id"]);
    assert_eq!(
        (new["unit_amount"].as_i64(), new["currency_options"]["eur"]["unit_amount"].as_i64()),
        (Some(1200), Some(1100))
    );
    let archived = stripe.0.lock().unwrap().prices.iter().find(|p| p["id"] == old["id"]).cloned().unwrap();
    assert_eq!(
        (archived["active"].as_bool(), archived["unit_amount"].as_i64()),
        (Some(false), Some(900)),
        "archived, not edited"
    );
    assert!(lines.iter().any(|l| l.contains(&format!("replaces {}", old["id"].as_str().unwrap()))), "{lines:#?}");
    let writes: Vec<String> = stripe.writes().iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    assert_eq!(
        writes,
        [
            "POST /v1/prices".to_string(),
            format!("POST /v1/prices/{}", old["id"].as_str().unwrap()),
            "POST /v1/billing_portal/configurations/bpc_1".to_string()
        ],
        "one new price, the old archived, the portal offering the new one"
    );
    stripe.assert_all_real();
    assert_eq!(push(&server, &dearer, false).await.len(), 1, "then nothing to change");
}

fn config_for(server: &MockServer, catalog_path: Option<&std::path::Path>) -> tollgate::config::Config {
    let mut vars = vec![
        ("TOLLGATE_ENV", "development".to_string()),
        ("STRIPE_SECRET_KEY", "sk_test_push".to_string()),
        ("STRIPE_API_BASE", server.uri()),
        ("STRIPE_WEBHOOK_SECRET", testing::WEBHOOK_SECRET.to_string()),
    ];
    if let Some(p) = catalog_path {
        vars.push(("CATALOG_PATH", p.display().to_string()));
    }
    let vars: HashMap<String, String> = vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    tollgate::config::Config::from_source(&vars).expect("a valid configuration")
}

#[tokio::test]
async fn functions_find_pushed_prices_by_lookup_key_at_start_and_refuse_a_price_that_differs() {
    let stripe = FakeStripe::default();
    let server = stripe.serve().await;
    push(&server, BUILT_IN, false).await;
    stripe.forget_requests();

    let app = tollgate::App::from_config(config_for(&server, None), "").await.expect("the app starts");
    let starts: Vec<_> = stripe.requests();
    assert_eq!(starts.len(), 1, "one list call at start: {starts:?}");
    assert_eq!((starts[0].0.as_str(), starts[0].1.as_str()), ("GET", "/v1/prices"));
    stripe.assert_all_real();
    let pro = app.catalog.plan("pro").unwrap();
    assert_eq!(
        Some(pro.offer.as_ref().unwrap().price.as_str()),
        stripe.price("tollgate:pro:once").unwrap()["id"].as_str()
    );
    let year = &pro.subscription.as_ref().unwrap().prices[&tollgate::catalog::Interval::Year];
    assert_eq!(Some(year.as_str()), stripe.price("tollgate:pro:year").unwrap()["id"].as_str());
    let pack = app.catalog.pack("credits_100").unwrap();
    assert_eq!(Some(pack.price.as_str()), stripe.price("tollgate:credits_100:once").unwrap()["id"].as_str());

    // The portal session uses the configuration push keeps.
    stripe.forget_requests();
    app.stripe.create_portal_session("cus_1", "https://app.example.com/account").await.unwrap();
    let session = stripe.requests().into_iter().find(|(_, p, _)| p == "/v1/billing_portal/sessions").unwrap();
    assert_eq!(field(&session.2, "configuration"), Some("bpc_1"));

    // A catalog whose amount Stripe's price does not charge: the function refuses to start.
    let path = std::env::temp_dir().join(format!("tollgate-push-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, BUILT_IN.replace("amount = 4900", "amount = 5900")).unwrap();
    let refused = tollgate::App::from_config(config_for(&server, Some(&path)), "").await.err().expect("refused");
    let message = refused.to_string();
    assert!(
        message.contains("tollgate:pro:once")
            && message.contains("4900 usd (catalog: 5900 usd)")
            && message.contains("tollgate stripe push"),
        "{message}"
    );

    // Nothing pushed for an item: refused, naming the lookup key.
    std::fs::write(
        &path,
        format!("{BUILT_IN}\n[packs.credits_500]\nname = \"500 credits\"\ncredits = 500\namount = 2000\n"),
    )
    .unwrap();
    let missing =
        tollgate::App::from_config(config_for(&server, Some(&path)), "").await.err().expect("refused").to_string();
    assert!(missing.contains("tollgate:credits_500:once") && missing.contains("tollgate stripe push"), "{missing}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn newer_parameters_are_fields_of_current_objects() {
    // What the 2026 fixtures show of the parameters the 2022 spec lacks.
    assert!(testing::fixture("checkout.session").get("currency").is_some());
    let update = &testing::fixture("billing_portal.configuration")["features"]["subscription_update"];
    assert!(update["schedule_at_period_end"]["conditions"].is_array());
    for (path, parameter, why) in testing::NEWER_PARAMETERS {
        assert!(path.starts_with("/v1/") && !parameter.is_empty() && !why.is_empty());
    }
}

#[test]
fn the_binary_pushes_from_the_command_line() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stripe = FakeStripe::default();
    let server = runtime.block_on(stripe.serve());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["stripe", "push"])
            .args(args)
            .env("STRIPE_SECRET_KEY", "sk_test_push")
            .env("STRIPE_API_BASE", server.uri())
            .env_remove("CATALOG_PATH")
            .output()
            .expect("the binary runs")
    };
    let dry = run(&["--dry-run"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert!(String::from_utf8_lossy(&dry.stdout).contains("+ product tollgate_pro \"Pro\""));
    assert!(stripe.writes().is_empty());
    let real = run(&[]);
    assert!(real.status.success(), "{}", String::from_utf8_lossy(&real.stderr));
    assert!(String::from_utf8_lossy(&real.stdout).contains("made 11 change(s)"));
    let again = run(&[]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to change"));
    assert!(!String::from_utf8_lossy(&real.stdout).contains("sk_test_push"), "the key is never printed");
}
