//! Setting Stripe up for a deployment from the command line.

use tollgate::stripe::StripeClient;
use tollgate::stripe::changes::WebhookEndpoint;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Stripe(#[from] tollgate::stripe::StripeError),
    #[error(
        "Stripe already has an endpoint for {url} ({id}); its signing secret was shown when it was made. \
         Roll or delete it in the Stripe dashboard, then run this again"
    )]
    Exists { id: String, url: String },
    #[error("Stripe answered without a signing secret")]
    NoSecret,
}

/// Registers `url`, unless Stripe has an endpoint for it already (its secret cannot be shown
/// again, and a second endpoint would deliver every event twice).
pub async fn create_webhook(client: &StripeClient, url: &str) -> Result<WebhookEndpoint, SetupError> {
    if let Some(existing) = client.webhook_endpoints().await?.into_iter().find(|e| e.url == url) {
        return Err(SetupError::Exists { id: existing.id, url: existing.url });
    }
    let created = client.create_webhook_endpoint(url).await?;
    if created.secret.is_none() {
        return Err(SetupError::NoSecret);
    }
    Ok(created)
}

/// The catalog as push reads it: prices named by an environment variable resolve if set (push
/// leaves them alone either way); prices named by amount are what push keeps.
pub fn catalog_for_push(
    text: &str,
    source: &str,
) -> Result<tollgate::catalog::Catalog, tollgate::catalog::CatalogError> {
    let resolver = tollgate::catalog::PriceResolver {
        lookup: &|name| Some(std::env::var(name).unwrap_or_else(|_| format!("unset:{name}"))),
        by_lookup_key: &|key| Some(format!("unresolved:{key}")),
        simulated: false,
    };
    tollgate::catalog::Catalog::parse(text, source, &resolver)
}

/// `tollgate stripe push`: prints what would change, then (unless `dry_run`) changes it.
/// Returns the lines to print.
pub async fn push(
    client: &StripeClient,
    catalog: &tollgate::catalog::Catalog,
    dry_run: bool,
    return_url: Option<&str>,
) -> Result<Vec<String>, SetupError> {
    use tollgate::stripe::push;
    let plan = push::plan(client, catalog, return_url).await?;
    let mut lines: Vec<String> = plan.steps.iter().map(ToString::to_string).collect();
    if lines.is_empty() {
        lines.push("Stripe already holds what the catalog sells: nothing to change".into());
        return Ok(lines);
    }
    if dry_run {
        lines.push(format!("dry run: {} change(s) not made", plan.steps.len()));
        return Ok(lines);
    }
    let done = push::apply(client, catalog, plan, return_url).await?;
    lines.push(format!("made {} change(s)", done.len()));
    Ok(lines)
}
