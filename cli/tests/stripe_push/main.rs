//! `tollgate stripe push` against a Stripe mock that keeps an account's products, prices (with
//! lookup keys and their transfer), coupons and portal configurations, every request checked
//! against Stripe's spec: an empty account gets the catalog, a second push changes nothing, a
//! dry run writes nothing, a changed amount makes a new price and archives the old (never an
//! edit), and the functions find the prices by lookup key at start (one list call), refusing to
//! start when Stripe's price charges something else than the catalog says.

mod fake;

use std::collections::HashMap;

use fake::{FakeStripe, field};
use tollgate::catalog::Catalog;
use tollgate::stripe::StripeClient;
use tollgate_testkit as testing;
use wiremock::MockServer;

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

/// The operator's reconciliation, as the binary runs it with the functions' variables: it starts
/// only on a pushed catalog (one lookup), reads what Stripe holds, and finds nothing to change in
/// an account with no sales.
#[tokio::test]
async fn the_binary_reconciles_with_the_functions_variables() {
    let stripe = FakeStripe::default();
    let server = stripe.serve().await;
    push(&server, BUILT_IN, false).await;
    let table = format!("tollgate-test-{}", uuid::Uuid::new_v4().simple());
    let endpoint = testing::dynamodb_endpoint();
    tollgate::store::DynamoDbStore::connect(&table, Some(&endpoint)).await.create_table().await.unwrap();
    stripe.forget_requests();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["stripe", "reconcile", "--since", "2026-01-01"])
        .env("TOLLGATE_ENV", "development")
        .env("STORE", "dynamodb")
        .env("TABLE_NAME", &table)
        .env("DYNAMODB_ENDPOINT", &endpoint)
        .env("STRIPE_SECRET_KEY", "sk_test_push")
        .env("STRIPE_API_BASE", server.uri())
        .env_remove("CATALOG_PATH")
        .output()
        .await
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.trim(), "0 change(s)");
    let paths: Vec<String> = stripe.requests().into_iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    assert_eq!(paths[0], "GET /v1/prices", "the catalog first: {paths:?}");
    for listed in ["/v1/customers", "/v1/checkout/sessions", "/v1/subscriptions", "/v1/refunds", "/v1/disputes"] {
        assert!(paths.contains(&format!("GET {listed}")), "{listed} walked: {paths:?}");
    }
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["stripe", "reconcile", "--since", "last week"])
        .env("STRIPE_SECRET_KEY", "sk_test_push")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "a --since that is not a day is refused");
}
