//! Plan changes at Stripe: an upgrade switches the subscription's price now with the proration
//! invoiced at once; a downgrade is a subscription schedule (the current phase to the period's
//! end, then the new price), released once it has run; a preview is Stripe's invoice preview.

use serde::Deserialize;

use super::client::{StripeClient, StripeError, valid_id};
use super::events::{List, Subscription, SubscriptionSchedule};

/// The subscription, its one item and the price it moves to (with the plan and interval
/// Tollgate's metadata names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanChange {
    pub subscription: String,
    pub item: String,
    pub price: String,
    pub plan: String,
    pub interval: String,
}

/// `POST /v1/subscriptions/{id}`: the new price now, the proration invoiced and paid at once
/// (an upgrade that cannot be paid fails rather than granting the plan unpaid).
pub fn change_now_form(change: &PlanChange) -> Vec<(String, String)> {
    [
        ("items[0][id]", change.item.as_str()),
        ("items[0][price]", &change.price),
        ("proration_behavior", "always_invoice"),
        ("payment_behavior", "error_if_incomplete"),
        ("metadata[plan]", &change.plan),
        ("metadata[interval]", &change.interval),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `POST /v1/subscription_schedules/{id}`: the current phase runs to `period_end` on
/// `current_price`, then one period of the new price; then the schedule lets go of the
/// subscription, which goes on at the new price.
pub fn schedule_form(
    current_price: &str,
    phase_start: i64,
    period_end: i64,
    change: &PlanChange,
    user_id: &str,
) -> Vec<(String, String)> {
    [
        ("end_behavior", "release".to_string()),
        ("proration_behavior", "none".to_string()),
        ("phases[0][items][0][price]", current_price.to_string()),
        ("phases[0][items][0][quantity]", "1".to_string()),
        ("phases[0][start_date]", phase_start.to_string()),
        ("phases[0][end_date]", period_end.to_string()),
        ("phases[1][items][0][price]", change.price.clone()),
        ("phases[1][items][0][quantity]", "1".to_string()),
        ("phases[1][iterations]", "1".to_string()),
        ("metadata[user_id]", user_id.to_string()),
        ("metadata[plan]", change.plan.clone()),
        ("metadata[interval]", change.interval.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `POST /v1/invoices/create_preview`: what the customer would pay now for the change.
pub fn preview_form(customer: &str, change: &PlanChange) -> Vec<(String, String)> {
    [
        ("customer", customer),
        ("subscription", &change.subscription),
        ("subscription_details[items][0][id]", &change.item),
        ("subscription_details[items][0][price]", &change.price),
        ("subscription_details[proration_behavior]", "always_invoice"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Stripe's preview of an invoice: what is due and its lines.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InvoicePreview {
    pub amount_due: i64,
    pub currency: String,
    #[serde(default)]
    pub lines: Option<List<PreviewLine>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PreviewLine {
    pub amount: i64,
    #[serde(default)]
    pub description: Option<String>,
}

fn empty() -> StripeError {
    StripeError::BadResponse("empty answer".into())
}

impl StripeClient {
    pub async fn change_price_now(&self, change: &PlanChange, key: &str) -> Result<Subscription, StripeError> {
        if !valid_id(&change.subscription) {
            return Err(StripeError::Api { status: 404, message: "no such subscription".into() });
        }
        let path = format!("/v1/subscriptions/{}", change.subscription);
        self.call(super::client::Method::POST, &path, Some(&change_now_form(change)), Some(key))
            .await?
            .ok_or_else(empty)
    }

    /// The subscription's schedule (made from it when it has none), set to change at the
    /// period's end.
    pub async fn schedule_change(
        &self,
        sub: &Subscription,
        change: &PlanChange,
        current_price: &str,
        user_id: &str,
        (key, now): (&str, i64),
    ) -> Result<SubscriptionSchedule, StripeError> {
        let schedule = match sub.schedule() {
            Some(id) => self.subscription_schedule(&id).await?.ok_or_else(empty)?,
            None => {
                let form = vec![("from_subscription".to_string(), sub.id.clone())];
                let key = format!("{key}-from");
                self.call(super::client::Method::POST, "/v1/subscription_schedules", Some(&form), Some(&key))
                    .await?
                    .ok_or_else(empty)?
            }
        };
        // The phase running now keeps its start (Stripe refuses to move it); a new schedule's
        // one phase is the current period.
        let start = schedule.current_phase(now).map_or(now, |p| p.start_date);
        let end = sub
            .current_period_end()
            .ok_or_else(|| StripeError::BadResponse("the subscription has no period".into()))?;
        let form = schedule_form(current_price, start, end, change, user_id);
        let path = format!("/v1/subscription_schedules/{}", schedule.id);
        self.call(super::client::Method::POST, &path, Some(&form), Some(key)).await?.ok_or_else(empty)
    }

    /// Lets the subscription go on as it is now: no change at the period's end.
    pub async fn release_schedule(&self, id: &str, key: &str) -> Result<(), StripeError> {
        if !valid_id(id) {
            return Ok(());
        }
        let path = format!("/v1/subscription_schedules/{id}/release");
        self.call::<serde_json::Value>(super::client::Method::POST, &path, Some(&[]), Some(key)).await.map(|_| ())
    }

    pub async fn subscription_schedule(&self, id: &str) -> Result<Option<SubscriptionSchedule>, StripeError> {
        if !valid_id(id) {
            return Ok(None);
        }
        self.call(super::client::Method::GET, &format!("/v1/subscription_schedules/{id}"), None, None).await
    }

    pub async fn preview_change(&self, customer: &str, change: &PlanChange) -> Result<InvoicePreview, StripeError> {
        let form = preview_form(customer, change);
        let key = format!("preview-{}", uuid::Uuid::new_v4().simple());
        self.call(super::client::Method::POST, "/v1/invoices/create_preview", Some(&form), Some(&key))
            .await?
            .ok_or_else(empty)
    }
}

/// `POST /v1/webhook_endpoints`: `url` subscribed to exactly the events Tollgate handles, at the
/// API version it pins.
pub fn webhook_endpoint_form(url: &str) -> Vec<(String, String)> {
    let mut form = vec![
        ("url".to_string(), url.to_string()),
        ("api_version".to_string(), super::client::API_VERSION.to_string()),
        ("description".to_string(), "Tollgate".to_string()),
    ];
    for (i, event) in super::handled::TYPES.iter().enumerate() {
        form.push((format!("enabled_events[{i}]"), event.to_string()));
    }
    form
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// Only in the answer that created it.
    #[serde(default)]
    pub secret: Option<String>,
}

impl StripeClient {
    /// The account's webhook endpoints (the first hundred).
    pub async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StripeError> {
        let list: Option<List<WebhookEndpoint>> =
            self.call(super::client::Method::GET, "/v1/webhook_endpoints?limit=100", None, None).await?;
        Ok(list.map(|l| l.data).unwrap_or_default())
    }

    pub async fn create_webhook_endpoint(&self, url: &str) -> Result<WebhookEndpoint, StripeError> {
        let key = format!("webhook-{}", uuid::Uuid::new_v4().simple());
        let form = webhook_endpoint_form(url);
        self.call(super::client::Method::POST, "/v1/webhook_endpoints", Some(&form), Some(&key))
            .await?
            .ok_or_else(empty)
    }
}
