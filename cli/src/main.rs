//! `tollgate`: the developer CLI.

use tollgate_cli::dev;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "tollgate", about = "Tollgate developer tools", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every route locally in one process (memory store and simulated Stripe by default).
    Dev {
        #[arg(long, default_value_t = 3000)]
        port: u16,
    },
    /// Print a valid Stripe-Signature header for a payload, signed now.
    Sign {
        file: PathBuf,
        #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
    },
    /// POST a payload, signed now, to a webhook URL.
    Send {
        file: PathBuf,
        #[arg(long, default_value = "http://127.0.0.1:3000/api/stripe/webhook")]
        url: String,
        #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
    },
    /// Print a file of events/ ready to invoke (`sam local invoke -e`, `cargo lambda invoke
    /// --data-file`): a token minted now for its Authorization header, its webhook body signed
    /// now, with the environment's secrets (JWT_SECRET, STRIPE_WEBHOOK_SECRET; development's
    /// unless set).
    Event {
        /// A file name in the events directory, with or without `.json` (`billing-portal`).
        name: String,
        /// The token's user.
        #[arg(long, default_value = "ada@example.com")]
        email: String,
        /// The token's user id (an existing user's, to act as them).
        #[arg(long, default_value = "usr_sample")]
        user: String,
        #[arg(long, default_value = "events")]
        dir: PathBuf,
    },
    /// Print the API's OpenAPI 3.1 document (what `openapi.json` commits and `/openapi.json` serves).
    Openapi,
    /// Manage the DynamoDB table.
    Table {
        #[command(subcommand)]
        action: TableAction,
    },
    /// Set up Stripe for this deployment (with STRIPE_SECRET_KEY).
    Stripe {
        #[command(subcommand)]
        action: StripeAction,
        #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
        key: String,
        #[arg(long, env = "STRIPE_API_BASE", default_value = "https://api.stripe.com")]
        api_base: String,
    },
    /// The Ed25519 key set entitlement tokens are signed with (the ENTITLEMENT_KEYS secret).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand)]
enum StripeAction {
    /// Make Stripe hold what the catalog sells: products, the prices named by amount (under
    /// their lookup keys; a changed amount is a new price, the old one archived), the members'
    /// coupons and the customer portal configuration. Prints the changes first.
    Push {
        /// Print what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The catalog (default: CATALOG_PATH, else the built-in one).
        #[arg(long, env = "CATALOG_PATH")]
        catalog: Option<PathBuf>,
        /// Where the customer portal returns to (BillingPortalReturnUrl).
        #[arg(long)]
        return_url: Option<String>,
    },
    /// Apply what Stripe holds that Tollgate missed (paid Checkout Sessions, subscriptions,
    /// refunds, disputes) and import its customers (matched to users by email, made when
    /// missing). Uses the functions' variables (STORE, TABLE_NAME, ...). Prints each change.
    Reconcile {
        /// Only objects Stripe made from this UTC day on (YYYY-MM-DD; subscriptions: all).
        /// Default: everything.
        #[arg(long)]
        since: Option<String>,
    },
    /// The webhook endpoint.
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
}

#[derive(Subcommand)]
enum WebhookAction {
    /// Register URL (the stack's WebhookUrl) with exactly the events Tollgate handles and the API
    /// version it pins; prints the signing secret, which Stripe shows only this once.
    Create {
        #[arg(long)]
        url: String,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Print a new key set of one key.
    Generate {
        /// The key id tokens name (default: `key-<unix time>`).
        #[arg(long)]
        kid: Option<String>,
    },
    /// Print the set with a new signing key; the current one stays published (without its
    /// private part) until the tokens it signed have expired.
    Rotate {
        /// The current set (`-` for standard input).
        file: PathBuf,
        #[arg(long)]
        kid: Option<String>,
        /// The tokens' lifetime: retired keys older than this (plus a margin) are dropped.
        #[arg(long, default_value_t = 60)]
        token_minutes: i64,
    },
}

/// A key id that orders keys by when they were made.
fn default_kid() -> String {
    format!("key-{}", now())
}

#[derive(Subcommand)]
enum TableAction {
    /// Create the table (as template.yaml declares it) on a local endpoint.
    Create {
        #[arg(long, env = "TABLE_NAME", default_value = "tollgate")]
        table: String,
        #[arg(long, env = "DYNAMODB_ENDPOINT", default_value = "http://127.0.0.1:8000")]
        endpoint: String,
    },
}

fn first_secret(secret: &str) -> &str {
    secret.split(',').next().unwrap_or_default().trim()
}

/// The Stripe client the setup commands use: 20 s a call, retries included.
fn stripe_client(api_base: &str, key: String) -> tollgate::stripe::StripeClient {
    tollgate::stripe::StripeClient::new(
        api_base,
        tollgate::config::Secret::new(key),
        std::time::Duration::from_secs(20),
    )
}

fn now() -> i64 {
    tollgate::clock::Clock::now(&tollgate::clock::SystemClock)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::Dev { port } => dev::serve(port).await?,
        Command::Sign { file, secret } => {
            let payload = std::fs::read(&file)?;
            println!("{}", tollgate::stripe::signature::header(&payload, first_secret(&secret), now()));
        }
        Command::Send { file, url, secret } => {
            let payload = std::fs::read(&file)?;
            let header = tollgate::stripe::signature::header(&payload, first_secret(&secret), now());
            let response = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .header("stripe-signature", header)
                .body(payload)
                .send()
                .await?;
            let status = response.status();
            println!("{status}\n{}", response.text().await?);
            if !status.is_success() {
                std::process::exit(1);
            }
        }
        Command::Keys { action: KeysAction::Generate { kid } } => {
            println!("{}", tollgate::auth::offline::KeySet::generate(&kid.unwrap_or_else(default_kid)));
        }
        Command::Keys { action: KeysAction::Rotate { file, kid, token_minutes } } => {
            let current = match file.to_str() {
                Some("-") => std::io::read_to_string(std::io::stdin())?,
                _ => std::fs::read_to_string(&file)?,
            };
            let forget_before = now() - token_minutes * 60 - 3600;
            let kid = kid.unwrap_or_else(default_kid);
            let rotated = tollgate::auth::offline::KeySet::rotate(&current, &kid, now(), forget_before)?;
            println!("{rotated}");
        }
        Command::Stripe { action: StripeAction::Webhook { action: WebhookAction::Create { url } }, key, api_base } => {
            let client = stripe_client(&api_base, key);
            let created = match tollgate_cli::stripe_setup::create_webhook(&client, &url).await {
                Ok(created) => created,
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            };
            println!("created webhook endpoint {} for {}", created.id, created.url);
            println!("events: {}", tollgate::stripe::handled::TYPES.join(", "));
            println!("api version: {}", tollgate::stripe::client::API_VERSION);
            println!("signing secret (shown once; store it as the StripeWebhookSecretArn secret):");
            println!("{}", created.secret.unwrap_or_default());
        }
        Command::Stripe { action: StripeAction::Push { dry_run, catalog, return_url }, key, api_base } => {
            let client = stripe_client(&api_base, key);
            let (text, source) = match &catalog {
                Some(path) => (std::fs::read_to_string(path)?, path.display().to_string()),
                None => (tollgate::catalog::BUILT_IN.to_string(), "built-in catalog.toml".to_string()),
            };
            let outcome = match tollgate_cli::stripe_setup::catalog_for_push(&text, &source) {
                Ok(catalog) => tollgate_cli::stripe_setup::push(&client, &catalog, dry_run, return_url.as_deref())
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            }
        }
        Command::Stripe { action: StripeAction::Reconcile { since }, .. } => {
            let since = match since.as_deref().map(tollgate::clock::day_start) {
                None => 0,
                Some(Some(at)) => at,
                Some(None) => {
                    eprintln!("--since is a day, YYYY-MM-DD");
                    std::process::exit(2);
                }
            };
            let config =
                tollgate::config::Config::for_function(&[tollgate::config::secrets::STRIPE_SECRET_KEY]).await?;
            let app = tollgate::App::from_config(config, "").await?;
            let report = tollgate::domain::reconcile::run(&app, since).await?;
            report.changes.iter().for_each(|c| println!("{c}"));
            report.skipped.iter().for_each(|s| println!("skipped: {s}"));
            println!("{} change(s)", report.changes.len());
        }
        Command::Event { name, email, user, dir } => {
            let file = dir.join(if name.ends_with(".json") { name.clone() } else { format!("{name}.json") });
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let config = tollgate_cli::event::config()?;
            let caller = tollgate_cli::event::Caller { user_id: &user, email: &email };
            println!("{}", tollgate_cli::event::ready(&text, &config, &caller, now())?);
        }
        Command::Openapi => print!("{}", tollgate_cli::openapi::json()?),
        Command::Table { action: TableAction::Create { table, endpoint } } => {
            let store = tollgate::store::DynamoDbStore::connect(&table, Some(&endpoint)).await;
            store.create_table().await?;
            println!("created table {table} at {endpoint}");
        }
    }
    Ok(())
}
