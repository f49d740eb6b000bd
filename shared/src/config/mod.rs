//! Configuration from the environment in one typed struct, validated at start-up with an error
//! that names the variable. Development-only conveniences need `TOLLGATE_ENV=development`.

use std::collections::HashMap;
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("configuration error in {variable}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

pub mod issuers;
pub mod secrets;
mod tokens;

fn problem(variable: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable: variable.to_string(), problem: problem.into() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Production,
    Development,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Memory,
    DynamoDb { table: String, endpoint: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailConfig {
    /// Development: messages are printed to the terminal and kept in memory.
    Console,
    /// Production: Amazon SES v2 from the given address.
    Ses { from: String },
}

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// None: Stripe is simulated (development only).
    pub secret_key: Option<Secret>,
    pub api_base: String,
    /// The most one Stripe call may take, retries and their waits included.
    pub call_budget: std::time::Duration,
    pub webhook_secrets: Vec<Secret>,
    pub webhook_tolerance_secs: i64,
    pub allow_unsigned_webhooks: bool,
    pub success_url: String,
    pub cancel_url: String,
    pub payment_link_url: Option<String>,
    /// Where Stripe's customer portal sends the customer back to.
    pub portal_return_url: String,
}

impl StripeConfig {
    /// Events must carry the livemode of the configured key; a simulated Stripe is test mode.
    pub fn livemode(&self) -> bool {
        self.secret_key
            .as_ref()
            .is_some_and(|k| k.expose().starts_with("sk_live_") || k.expose().starts_with("rk_live_"))
    }
}

pub use tokens::{OidcIssuer, TokenConfig};

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub debug_codes: bool,
    pub email_limit: i64,
    pub ip_limit: i64,
    /// Verification attempts one email may make per day; past them, one per window.
    pub attempts_per_day: i64,
    /// Seconds before a code may be sent again to the same email.
    pub resend_cooldown_secs: i64,
    /// Checkouts one address, and one user, may open per window.
    pub checkout_limit: i64,
    /// Requests per minute to any public route from one address (IPv6: its /64), and from one
    /// signed-in user (kept per instance).
    pub requests_per_address: u32,
    pub requests_per_user: u32,
    pub window_secs: i64,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub store: StoreConfig,
    pub email: EmailConfig,
    pub stripe: StripeConfig,
    pub tokens: TokenConfig,
    pub auth: AuthConfig,
    pub catalog_path: Option<String>,
    pub max_body_bytes: usize,
    /// Emails allowed to use the admin routes (normalized).
    pub admin_emails: Vec<String>,
    /// The largest single debit accepted.
    pub max_debit: i64,
    /// The most entries one session keeps.
    pub max_session_entries: i64,
    /// Days a `past_due` subscription keeps its plan, from the start of the unpaid period.
    pub grace_days: i64,
    /// When a disputed payment loses what it paid for.
    pub disputes: DisputePolicy,
    /// What is deployed: `APP_VERSION`, else the build's git revision (`make build`/`make package`
    /// set `TOLLGATE_GIT_REV`), else the crate's version.
    pub version: String,
}

/// `DISPUTE_REVOKES`: when a dispute takes back what its payment paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputePolicy {
    /// `opened` (default): as soon as the dispute is opened; given back if it is won.
    WhenOpened,
    /// `lost`: only once the dispute is lost.
    WhenLost,
}

/// The variables read, so a source can be the process environment or a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned().filter(|v| !v.trim().is_empty())
    }
}

pub const DEV_WEBHOOK_SECRET: &str = "whsec_tollgate_development";

fn flag(src: &dyn Source, name: &str) -> Result<bool, ConfigError> {
    match src.get(name).as_deref() {
        None | Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(_) => Err(problem(name, "must be 1/true or 0/false")),
    }
}

fn number(src: &dyn Source, name: &str, default: i64, min: i64) -> Result<i64, ConfigError> {
    match src.get(name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(problem(name, format!("must be a whole number of at least {min}"))),
        },
    }
}

/// A count per minute: at least 1, at most a million.
fn per_minute(src: &dyn Source, name: &str, default: u32) -> Result<u32, ConfigError> {
    let n = number(src, name, i64::from(default), 1)?;
    u32::try_from(n).ok().filter(|n| *n <= 1_000_000).ok_or_else(|| problem(name, "must be at most 1000000"))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    /// A function's configuration: its secrets (`secrets::ALL` or some) read from Secrets Manager
    /// where the environment gives their ARNs; the secrets it does not use are not required.
    pub async fn for_function(uses: &[&str]) -> Result<Self, ConfigError> {
        let secrets = secrets::resolve(&ProcessEnv, None).await?;
        Self::from_source_using(&secrets::WithSecrets { env: &ProcessEnv, secrets }, uses)
    }

    /// As `for_function`, reading the secrets with the process's AWS configuration.
    pub async fn for_function_using(uses: &[&str], aws: &aws_types::SdkConfig) -> Result<Self, ConfigError> {
        let secrets = secrets::resolve_using(&ProcessEnv, aws).await?;
        Self::from_source_using(&secrets::WithSecrets { env: &ProcessEnv, secrets }, uses)
    }

    /// Every secret required (in production).
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        Self::from_source_using(src, secrets::ALL)
    }

    pub fn from_source_using(src: &dyn Source, uses: &[&str]) -> Result<Self, ConfigError> {
        let needed = |name: &str| uses.contains(&name);
        let environment = match src.get("TOLLGATE_ENV").as_deref() {
            None | Some("production") => Environment::Production,
            Some("development") => Environment::Development,
            Some(_) => return Err(problem("TOLLGATE_ENV", "must be production or development")),
        };
        let dev = environment == Environment::Development;
        let dev_only = |name: &str, on: bool| -> Result<bool, ConfigError> {
            if on && !dev { Err(problem(name, "is only allowed with TOLLGATE_ENV=development")) } else { Ok(on) }
        };

        let store = match src.get("STORE").as_deref() {
            Some("memory") => StoreConfig::Memory,
            Some("dynamodb") => dynamodb_store(src)?,
            None if dev && src.get("TABLE_NAME").is_none() => StoreConfig::Memory,
            None => dynamodb_store(src)?,
            Some(_) => return Err(problem("STORE", "must be dynamodb or memory")),
        };
        if store == StoreConfig::Memory && !dev {
            return Err(problem("STORE", "the memory store is only allowed with TOLLGATE_ENV=development"));
        }

        let email = match (src.get("EMAIL_SENDER").as_deref(), dev) {
            (Some("ses"), _) | (None, false) => EmailConfig::Ses {
                from: src
                    .get("EMAIL_FROM")
                    .ok_or_else(|| problem("EMAIL_FROM", "is required to send email with SES"))?,
            },
            (Some("console"), true) | (None, true) => EmailConfig::Console,
            (Some("console"), false) => {
                return Err(problem("EMAIL_SENDER", "console is only allowed with TOLLGATE_ENV=development"));
            }
            (Some(_), _) => return Err(problem("EMAIL_SENDER", "must be ses or console")),
        };

        let secret_key = src.get("STRIPE_SECRET_KEY").map(Secret::new);
        if let Some(key) = &secret_key {
            if !(key.expose().starts_with("sk_") || key.expose().starts_with("rk_")) {
                return Err(problem("STRIPE_SECRET_KEY", "must be a Stripe secret or restricted key (sk_… or rk_…)"));
            }
        } else if !dev && needed(secrets::STRIPE_SECRET_KEY) {
            return Err(problem("STRIPE_SECRET_KEY", "is required in production"));
        }
        let webhook_secrets: Vec<Secret> = match src.get("STRIPE_WEBHOOK_SECRET") {
            Some(v) => v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Secret::new).collect(),
            None if dev => vec![Secret::new(DEV_WEBHOOK_SECRET)],
            // A function that receives no webhook verifies nothing: every signature fails.
            None if !needed(secrets::STRIPE_WEBHOOK_SECRET) => vec![],
            None => {
                return Err(problem("STRIPE_WEBHOOK_SECRET", "is required in production"));
            }
        };
        let stripe = StripeConfig {
            secret_key,
            api_base: src
                .get("STRIPE_API_BASE")
                .unwrap_or_else(|| "https://api.stripe.com".into())
                .trim_end_matches('/')
                .to_string(),
            call_budget: match number(src, "STRIPE_TIMEOUT_MS", 4000, 100)? {
                ms if ms <= 10_000 => std::time::Duration::from_millis(ms as u64),
                _ => {
                    return Err(problem(
                        "STRIPE_TIMEOUT_MS",
                        "must be at most 10000 (three calls fit a 15 s function)",
                    ));
                }
            },
            webhook_secrets,
            webhook_tolerance_secs: number(src, "WEBHOOK_TOLERANCE_SECS", 300, 1)?,
            allow_unsigned_webhooks: dev_only("ALLOW_UNSIGNED_WEBHOOKS", flag(src, "ALLOW_UNSIGNED_WEBHOOKS")?)?,
            success_url: src
                .get("CHECKOUT_SUCCESS_URL")
                .unwrap_or_else(|| "http://localhost:3000/success?session_id={CHECKOUT_SESSION_ID}".into()),
            cancel_url: src.get("CHECKOUT_CANCEL_URL").unwrap_or_else(|| "http://localhost:3000/cancel".into()),
            payment_link_url: src.get("PAYMENT_LINK_URL"),
            portal_return_url: src
                .get("BILLING_PORTAL_RETURN_URL")
                .unwrap_or_else(|| "http://localhost:3000/account".into()),
        };
        if !dev && src.get("CHECKOUT_SUCCESS_URL").is_none() {
            return Err(problem("CHECKOUT_SUCCESS_URL", "is required in production"));
        }
        if !stripe.success_url.contains("{CHECKOUT_SESSION_ID}") {
            return Err(problem(
                "CHECKOUT_SUCCESS_URL",
                "must contain {CHECKOUT_SESSION_ID} so the app can claim the purchase",
            ));
        }
        if !dev && src.get("CHECKOUT_CANCEL_URL").is_none() {
            return Err(problem("CHECKOUT_CANCEL_URL", "is required in production"));
        }

        let tokens = tokens::from_source(src, dev, &needed)?;
        let auth = AuthConfig {
            debug_codes: dev_only("DEBUG_AUTH_CODES", flag(src, "DEBUG_AUTH_CODES")?)?,
            email_limit: number(src, "RATE_LIMIT_EMAIL", 5, 1)?,
            ip_limit: number(src, "RATE_LIMIT_IP", 30, 1)?,
            // Development signs in again and again from scripts and test suites.
            attempts_per_day: number(src, "SIGN_IN_ATTEMPTS_PER_DAY", if dev { 1000 } else { 20 }, 1)?,
            resend_cooldown_secs: number(src, "SIGN_IN_RESEND_COOLDOWN_SECS", if dev { 0 } else { 60 }, 0)?,
            // Development runs many checkouts from one address (the dev server, test suites).
            checkout_limit: number(src, "RATE_LIMIT_CHECKOUT", if dev { 1000 } else { 20 }, 1)?,
            window_secs: number(src, "RATE_LIMIT_WINDOW_SECS", 900, 1)?,
            requests_per_address: per_minute(src, "RATE_LIMIT_REQUESTS_IP", if dev { 10_000 } else { 600 })?,
            requests_per_user: per_minute(src, "RATE_LIMIT_REQUESTS_USER", if dev { 10_000 } else { 300 })?,
        };
        Ok(Config {
            environment,
            store,
            email,
            stripe,
            tokens,
            auth,
            catalog_path: src.get("CATALOG_PATH"),
            max_body_bytes: number(src, "MAX_BODY_BYTES", 64 * 1024, 1024)? as usize,
            admin_emails: admin_emails(src)?,
            max_debit: number(src, "CREDITS_MAX_DEBIT", 1_000_000, 1)?,
            max_session_entries: number(src, "SESSION_MAX_ENTRIES", 500, 1)?,
            grace_days: match number(src, "PAST_DUE_GRACE_DAYS", 7, 0)? {
                n if n <= 60 => n,
                _ => return Err(problem("PAST_DUE_GRACE_DAYS", "must be at most 60")),
            },
            disputes: match src.get("DISPUTE_REVOKES").as_deref() {
                None | Some("opened") => DisputePolicy::WhenOpened,
                Some("lost") => DisputePolicy::WhenLost,
                Some(_) => return Err(problem("DISPUTE_REVOKES", "must be opened or lost")),
            },
            version: src.get("APP_VERSION").filter(|v| !v.trim().is_empty()).unwrap_or_else(build_version),
        })
    }

    pub fn is_development(&self) -> bool {
        self.environment == Environment::Development
    }
}

fn admin_emails(src: &dyn Source) -> Result<Vec<String>, ConfigError> {
    let Some(list) = src.get("ADMIN_EMAILS") else { return Ok(vec![]) };
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            crate::auth::normalize_email(e)
                .ok_or_else(|| problem("ADMIN_EMAILS", format!("{e:?} is not an email address")))
        })
        .collect()
}

fn dynamodb_store(src: &dyn Source) -> Result<StoreConfig, ConfigError> {
    Ok(StoreConfig::DynamoDb {
        table: src.get("TABLE_NAME").ok_or_else(|| problem("TABLE_NAME", "is required for the DynamoDB store"))?,
        endpoint: src.get("DYNAMODB_ENDPOINT"),
    })
}

#[cfg(test)]
mod tests;

/// The crate's version and, when the build was given one, its git revision.
fn build_version() -> String {
    match option_env!("TOLLGATE_GIT_REV") {
        Some(rev) if !rev.is_empty() => format!("{}+{rev}", env!("CARGO_PKG_VERSION")),
        _ => concat!(env!("CARGO_PKG_VERSION"), " (no APP_VERSION)").to_string(),
    }
}
