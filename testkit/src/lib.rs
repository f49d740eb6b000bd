//! Test support for the workspace's tests (a dev-dependency only): fresh DynamoDB tables on the
//! local server `make test` starts, apps wired for tests, Stripe's real fixtures and API spec
//! (the form bodies Tollgate sends; vendored in `testkit/testdata/stripe` by
//! `scripts/vendor-stripe.py`), Stripe object builders, and requests as API Gateway sends them.

mod requests;
mod stripe;

pub use requests::*;
pub use stripe::*;

use std::collections::HashMap;
use std::sync::Arc;

use tollgate::App;
use tollgate::catalog::{BUILT_IN, Catalog, PriceResolver};
use tollgate::clock::FixedClock;
use tollgate::config::Config;
use tollgate::email::{EmailSender, Outbox};
use tollgate::store::{DynamoDbStore, Store};
use tollgate::stripe::{Simulator, Stripe};

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
    // Prices named by amount: `tollgate:pro:once` is `price_test_pro`, `tollgate:pro:month`
    // `price_test_pro_monthly` (as `STRIPE_PRICE_PRO_MONTHLY` names it).
    let by_lookup_key = |key: &str| {
        let mut parts = key.strip_prefix("tollgate:")?.split(':');
        let (item, interval) = (parts.next()?, parts.next()?);
        Some(match interval {
            "once" => format!("price_test_{item}"),
            "month" => format!("price_test_{item}_monthly"),
            "year" => format!("price_test_{item}_yearly"),
            _ => return None,
        })
    };
    let resolver = PriceResolver { lookup: &lookup, by_lookup_key: &by_lookup_key, simulated: false };
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
    app_with_config(store, config(&vars), catalog)
}

/// An app for tests from a configuration the test shaped itself (say, marked production).
pub fn app_with_config(store: Store, config: Config, catalog: Catalog) -> TestApp {
    let stripe = Stripe::live(&config.stripe)
        .unwrap_or_else(|| Stripe::Simulated(Simulator::new("http://127.0.0.1:3000").with_amounts(catalog.amounts())));
    let clock = FixedClock::at(NOW);
    let email = EmailSender::console(false);
    let outbox = email.outbox().expect("console sender has an outbox").clone();
    let app = App::new(config, catalog, store, stripe, email, Arc::new(clock.clone()));
    TestApp { app, clock, outbox }
}

/// A valid access token for a user (plan `free`), minted at the app's time.
pub fn token(app: &App, user_id: &str, email: &str) -> String {
    let subject =
        tollgate::auth::tokens::Subject { user_id, email, plan: "free", pro: false, admin: false, token_version: 0 };
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

/// The seed of a test's randomness: `TOLLGATE_TEST_SEED` when set (to replay a run), else a
/// fresh one; printed either way, so any failure can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("TOLLGATE_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("{test}: seed {seed} (replay: TOLLGATE_TEST_SEED={seed})");
    seed
}

/// Every ordering of `n` items (n! of them), for delivering events in every order.
pub fn orderings(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for rest in orderings(n - 1) {
        for at in 0..=rest.len() {
            let mut o = rest.clone();
            o.insert(at, n - 1);
            all.push(o);
        }
    }
    all
}
