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
