//! Everything a handler needs, built once per process (per Lambda instance) and borrowed by
//! every request: configuration, catalog, store, Stripe, email, tokens and the clock.

use std::sync::Arc;

use crate::auth::{Tokens, codes};
use crate::catalog::{BUILT_IN, Catalog, PriceResolver};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, EmailConfig, StoreConfig};
use crate::email::EmailSender;
use crate::store::{DynamoDbStore, Store};
use crate::stripe::{Simulator, Stripe};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error("cannot read the catalog at {path}: {message}")]
    CatalogFile { path: String, message: String },
    #[error("{0}")]
    Prices(String),
}

#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub catalog: Arc<Catalog>,
    pub store: Store,
    pub stripe: Stripe,
    pub email: EmailSender,
    /// Shared, not copied: an app is cloned into every request, and the keys and validation
    /// rules are a dozen allocations.
    pub tokens: Arc<Tokens>,
    /// The key set entitlement tokens are signed with (None: this function makes none).
    pub entitlement_keys: Option<Arc<crate::auth::offline::KeySet>>,
    /// Other issuers whose tokens are accepted (NextAuth, OpenID providers) and their keys.
    pub issuers: Arc<crate::auth::external::Issuers>,
    pub clock: Arc<dyn Clock>,
    /// The last credit balance this instance saw per user (a hint; writes stay conditional).
    pub credit_hints: crate::hints::Hints<crate::store::schema::credits::State>,
    /// The last count this instance saw per user, feature and period (a hint).
    pub usage_hints: crate::hints::Hints<i64>,
    /// Requests per address and per user on the public routes (this instance's counts).
    pub limits: crate::http::limits::Limits,
    code_key: Arc<Vec<u8>>,
}

impl App {
    /// Assembles an app from parts (tests and the dev server choose their own store and clock).
    pub fn new(
        config: Config,
        catalog: Catalog,
        store: Store,
        stripe: Stripe,
        email: EmailSender,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let tokens = Arc::new(Tokens::new(&config.tokens));
        let issuers = Arc::new(crate::auth::external::Issuers::new(&config.tokens));
        let entitlement_keys = match &config.tokens.entitlement_keys {
            Some(text) => {
                Some(crate::auth::offline::KeySet::parse(text.expose()).expect("checked by the configuration"))
            }
            // Development without a set: a key of this process's own.
            None if config.is_development() => {
                crate::auth::offline::KeySet::parse(&crate::auth::offline::KeySet::generate(&format!(
                    "dev-{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                )))
                .ok()
            }
            None => None,
        }
        .map(Arc::new);
        let code_key = Arc::new(codes::hashing_key(config.tokens.secret.expose()));
        let limits = crate::http::limits::Limits::new(config.auth.requests_per_address, config.auth.requests_per_user);
        App {
            config: Arc::new(config),
            catalog: Arc::new(catalog),
            store,
            stripe,
            email,
            tokens,
            entitlement_keys,
            issuers,
            clock,
            credit_hints: Default::default(),
            usage_hints: Default::default(),
            limits,
            code_key,
        }
    }

    /// The text of `CATALOG_PATH`'s catalog or the built-in one, and its name.
    fn catalog_text(config: &Config) -> Result<(String, String), StartupError> {
        match &config.catalog_path {
            Some(path) => std::fs::read_to_string(path)
                .map(|text| (text, path.clone()))
                .map_err(|e| StartupError::CatalogFile { path: path.clone(), message: e.to_string() }),
            None => Ok((BUILT_IN.to_string(), "built-in catalog.toml".to_string())),
        }
    }

    /// The catalog, prices resolved: `price_env` from the environment, prices named by amount
    /// by `pushed` (their lookup keys' ids), or simulated when Stripe is.
    fn build_catalog(
        config: &Config,
        written: &crate::catalog::Written,
        pushed: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Catalog, StartupError> {
        let resolver = PriceResolver {
            lookup: &|name| std::env::var(name).ok().filter(|v| !v.is_empty()),
            by_lookup_key: pushed,
            // Without Stripe's key (development, or a function that never calls Stripe) prices
            // are `price_sim_<name>`: such a function sells nothing.
            simulated: config.stripe.secret_key.is_none(),
        };
        Ok(Catalog::build(written.clone(), &resolver)?)
    }

    /// The catalog as a function with `stripe` sees it: prices named by amount found in Stripe by
    /// their lookup keys (one list call for up to ten), refusing to start when one is missing or
    /// charges something else. The file is read and parsed once.
    async fn catalog_for(config: &Config, stripe: &Stripe) -> Result<Catalog, StartupError> {
        let (text, source) = Self::catalog_text(config)?;
        let written = Catalog::read(&text, &source)?;
        let Stripe::Live(client) = stripe else { return Self::build_catalog(config, &written, &|_| None) };
        let outline = Self::build_catalog(config, &written, &|key| Some(format!("unresolved:{key}")))?;
        let ids = crate::stripe::prices::resolve(client, outline.prices()).await.map_err(StartupError::Prices)?;
        Self::build_catalog(config, &written, &|key| ids.get(key).cloned())
    }

    /// Builds every client once from a validated configuration. `public_url` is where the dev
    /// server serves the simulated checkout page when Stripe is simulated.
    pub async fn from_config(config: Config, public_url: &str) -> Result<Self, StartupError> {
        Self::assemble(config, public_url, None).await
    }

    /// As `from_config`, the AWS clients made from `aws` when given (one configuration for the
    /// process: one credentials provider, one HTTP client).
    async fn assemble(
        config: Config,
        public_url: &str,
        aws: Option<&aws_types::SdkConfig>,
    ) -> Result<Self, StartupError> {
        let stripe = match Stripe::live(&config.stripe) {
            Some(live) => live,
            None if config.is_development() => Stripe::Simulated(Simulator::new(public_url)),
            // Production without a key: a function that never calls Stripe (its role cannot read
            // the key); a call would fail, never be simulated.
            None => Stripe::Absent,
        };
        let catalog = Self::catalog_for(&config, &stripe).await?;
        let stripe = match stripe {
            Stripe::Simulated(sim) => Stripe::Simulated(sim.with_amounts(catalog.amounts())),
            other => other,
        };
        let store = match &config.store {
            StoreConfig::Memory => Store::memory(),
            StoreConfig::DynamoDb { table, endpoint } => Store::dynamodb(match aws {
                Some(aws) => DynamoDbStore::with_config(aws, table, endpoint.as_deref()),
                None => DynamoDbStore::connect(table, endpoint.as_deref()).await,
            }),
        };
        let email = match (&config.email, aws) {
            (EmailConfig::Console, _) => EmailSender::console(true),
            (EmailConfig::Ses { from }, Some(aws)) => EmailSender::ses_with(aws, from),
            (EmailConfig::Ses { from }, None) => EmailSender::ses(from, None).await,
        };
        Ok(Self::new(config, catalog, store, stripe, email, Arc::new(SystemClock)))
    }

    /// For Lambda: configuration from the environment and the secrets the function `uses` (read
    /// from Secrets Manager where given as ARNs), refusing to start on any error.
    pub async fn from_env(uses: &[&str]) -> Result<Self, StartupError> {
        let aws = crate::outbound::HttpClient::new().aws_config(None).await;
        let config = Config::for_function_using(uses, &aws).await?;
        Self::assemble(config, "", Some(&aws)).await
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn code_key(&self) -> &[u8] {
        &self.code_key
    }
}
