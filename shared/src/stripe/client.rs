//! The few Stripe REST calls Tollgate makes, form-encoded as Stripe expects, over Tollgate's
//! HTTPS client (`outbound`). The base URL is configurable so tests point it at a mock server.

use std::time::Duration;

pub use ::http::Method;
use aws_smithy_types::body::SdkBody;
use serde::de::DeserializeOwned;

use super::events::{CheckoutSession, LineItem, List, Subscription};
use crate::catalog::{AddressCollection, CheckoutMode};
use crate::config::Secret;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StripeError {
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
    #[error("Stripe answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("Stripe's answer could not be read: {0}")]
    BadResponse(String),
}

/// What Tollgate asks of a new Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub mode: CheckoutMode,
    pub price: String,
    pub client_reference_id: String,
    pub metadata: Vec<(String, String)>,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    /// Derived from the order id, so a retried create returns the same session.
    pub idempotency_key: String,
    /// Subscription mode: how the subscription starts.
    pub subscription: Option<SubscriptionTerms>,
    /// A coupon for a one-time purchase (members' prices).
    pub coupon: Option<String>,
    /// The currency to charge in (one of the price's `currency_options`); None: the price's own.
    pub currency: Option<String>,
    /// Stripe Tax and tax ids at this checkout.
    pub tax: crate::catalog::Tax,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionTerms {
    /// 0: no trial.
    pub trial_days: u32,
    /// Copied onto the subscription, so its events name the user and plan.
    pub metadata: Vec<(String, String)>,
    pub allow_promotion_codes: bool,
    pub billing_address: AddressCollection,
}

impl CheckoutRequest {
    /// The form fields of `POST /v1/checkout/sessions`.
    pub fn form(&self) -> Vec<(String, String)> {
        let mut form = vec![
            ("mode".to_string(), self.mode.as_str().to_string()),
            ("line_items[0][price]".to_string(), self.price.clone()),
            ("line_items[0][quantity]".to_string(), "1".to_string()),
            ("client_reference_id".to_string(), self.client_reference_id.clone()),
            ("success_url".to_string(), self.success_url.clone()),
            ("cancel_url".to_string(), self.cancel_url.clone()),
        ];
        for (k, v) in &self.metadata {
            form.push((format!("metadata[{k}]"), v.clone()));
        }
        match (&self.customer, &self.customer_email) {
            (Some(customer), _) => form.push(("customer".into(), customer.clone())),
            (None, Some(email)) => {
                form.push(("customer_email".into(), email.clone()));
                if self.mode == CheckoutMode::Payment {
                    // So the buyer gets a Customer that later purchases and the portal reuse.
                    form.push(("customer_creation".into(), "always".into()));
                }
            }
            (None, None) => {}
        }
        if let Some(terms) = &self.subscription {
            for (k, v) in &terms.metadata {
                form.push((format!("subscription_data[metadata][{k}]"), v.clone()));
            }
            if terms.trial_days > 0 {
                form.push(("subscription_data[trial_period_days]".into(), terms.trial_days.to_string()));
            }
            if terms.allow_promotion_codes {
                form.push(("allow_promotion_codes".into(), "true".into()));
            }
            form.push(("billing_address_collection".into(), terms.billing_address.as_str().into()));
        }
        if let Some(currency) = &self.currency {
            form.push(("currency".into(), currency.clone()));
        }
        if self.tax.automatic {
            form.push(("automatic_tax[enabled]".into(), "true".into()));
        }
        if self.tax.id_collection {
            form.push(("tax_id_collection[enabled]".into(), "true".into()));
        }
        if self.customer.is_some() && (self.tax.automatic || self.tax.id_collection) {
            // Stripe Tax needs the address, a tax id the name, of a customer Tollgate made:
            // Checkout keeps what the buyer enters.
            form.push(("customer_update[address]".into(), "auto".into()));
            form.push(("customer_update[name]".into(), "auto".into()));
        }
        if let Some(coupon) = &self.coupon {
            // Stripe refuses `discounts` together with `allow_promotion_codes`; one-time purchases
            // never set the latter.
            form.push(("discounts[0][coupon]".into(), coupon.clone()));
        }
        form
    }
}

/// `POST /v1/customers`: one per user, keyed by the user so a retry returns the same customer.
/// A user with no email (another issuer's, whose email was not vouched for) sends none: Checkout
/// then asks the customer for one.
pub fn customer_form(email: &str, user_id: &str) -> Vec<(String, String)> {
    let mut form = vec![("metadata[user_id]".into(), user_id.to_string())];
    if !email.is_empty() {
        form.insert(0, ("email".into(), email.to_string()));
    }
    form
}

/// `POST /v1/billing_portal/sessions`; `configuration`: the one `tollgate stripe push` keeps,
/// where there is one (else Stripe's default).
pub fn portal_form(customer: &str, return_url: &str, configuration: Option<&str>) -> Vec<(String, String)> {
    let mut form = vec![("customer".into(), customer.to_string()), ("return_url".into(), return_url.to_string())];
    if let Some(id) = configuration {
        form.push(("configuration".into(), id.to_string()));
    }
    form
}

#[derive(serde::Deserialize)]
struct Created {
    id: String,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSession {
    pub id: String,
    pub url: String,
}

#[derive(Clone)]
pub struct StripeClient {
    http: crate::outbound::HttpClient,
    base: String,
    key: Secret,
    budget: Duration,
    /// The portal configuration `tollgate stripe push` keeps, looked up at the first portal
    /// session (None: there is none; Stripe's default serves).
    portal_configuration: std::sync::Arc<tokio::sync::OnceCell<Option<String>>>,
}

/// Tries per call, all within the call's time budget.
const ATTEMPTS: u32 = 3;

/// The Stripe API version Tollgate is written against, sent on every request (`Stripe-Version`),
/// so an account's default version never changes the shapes Tollgate reads. The webhook endpoint
/// should be created with the same version (README: Stripe setup); `stripe::events` also reads
/// the shapes older versions send, and only there.
pub const API_VERSION: &str = "2025-08-27.basil";

/// How long Stripe asks us to wait (`Retry-After`, in seconds), if it says.
fn retry_after(response: &::http::response::Parts) -> Option<Duration> {
    let secs: f64 = response.headers.get(::http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(60.0)))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 << attempt.min(4))
}

impl StripeClient {
    /// `budget` bounds each call, its retries and their waits together, so every request stays
    /// inside the function's own timeout.
    pub fn new(base: &str, key: Secret, budget: Duration) -> Self {
        let http = crate::outbound::HttpClient::new();
        let portal_configuration = Default::default();
        StripeClient { http, base: base.trim_end_matches('/').to_string(), key, budget, portal_configuration }
    }

    /// One call, retried only when a retry cannot apply it twice (a GET, or a POST under its
    /// idempotency key), on a network error, a 5xx, a 429 or Stripe's "key in use" 409, waiting as
    /// `Retry-After` says; never past the budget.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(String, String)]>,
        idempotency_key: Option<&str>,
    ) -> Result<Option<T>, StripeError> {
        let started = std::time::Instant::now();
        let answer = self.call_within_budget(method, path, form, idempotency_key).await;
        crate::emf::stripe_call(answer.is_ok(), started.elapsed().as_millis() as u64);
        answer
    }

    async fn call_within_budget<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(String, String)]>,
        idempotency_key: Option<&str>,
    ) -> Result<Option<T>, StripeError> {
        let url = format!("{}{path}", self.base);
        let deadline = tokio::time::Instant::now() + self.budget;
        let retriable = method == Method::GET || idempotency_key.is_some();
        let form = form.map(|f| serde_urlencoded::to_string(f).expect("string pairs encode"));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let mut request = ::http::Request::builder()
                .method(method.clone())
                .uri(&url)
                .header(::http::header::AUTHORIZATION, format!("Bearer {}", self.key.expose()))
                .header("Stripe-Version", API_VERSION);
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            let body = match &form {
                Some(form) => {
                    request = request.header(::http::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                    SdkBody::from(form.as_str())
                }
                None => SdkBody::empty(),
            };
            let request = request.body(body).map_err(|e| StripeError::Unreachable(e.to_string()))?;
            let (failure, wait) = match self.http.send(request, remaining).await {
                Err(e) => (StripeError::Unreachable(e.to_string()), backoff(attempt)),
                Ok((response, body)) => {
                    let status = response.status.as_u16();
                    if status == 404 && method == Method::GET {
                        return Ok(None);
                    }
                    let wait = retry_after(&response).unwrap_or_else(|| backoff(attempt));
                    if (200..300).contains(&status) {
                        return serde_json::from_slice(&body)
                            .map(Some)
                            .map_err(|e| StripeError::BadResponse(e.to_string()));
                    }
                    let failure = StripeError::Api { status, message: error_message(&body) };
                    let transient = status >= 500 || status == 429 || status == 409;
                    if !transient {
                        return Err(failure);
                    }
                    (failure, wait)
                }
            };
            let time_left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !retriable || attempt >= ATTEMPTS || wait >= time_left {
                return Err(failure);
            }
            tracing::warn!(error = %failure, attempt, "retrying Stripe call");
            tokio::time::sleep(wait).await;
        }
    }

    pub async fn create_checkout_session(&self, request: &CheckoutRequest) -> Result<CreatedSession, StripeError> {
        let session: CheckoutSession = self
            .call(Method::POST, "/v1/checkout/sessions", Some(&request.form()), Some(&request.idempotency_key))
            .await?
            .ok_or_else(|| StripeError::BadResponse("empty answer".into()))?;
        let url = session.url.ok_or_else(|| StripeError::BadResponse("the session has no url".into()))?;
        Ok(CreatedSession { id: session.id, url })
    }

    pub async fn create_customer(&self, email: &str, user_id: &str) -> Result<String, StripeError> {
        let key = format!("customer-{user_id}");
        let created: Created = self
            .call(Method::POST, "/v1/customers", Some(&customer_form(email, user_id)), Some(&key))
            .await?
            .ok_or_else(|| StripeError::BadResponse("empty answer".into()))?;
        Ok(created.id)
    }

    pub async fn create_portal_session(&self, customer: &str, return_url: &str) -> Result<String, StripeError> {
        // Not known now (Stripe did not answer): the default serves, and the next session asks again.
        let configuration =
            self.portal_configuration.get_or_try_init(|| super::push::kept_configuration(self)).await.ok().cloned();
        let form = portal_form(customer, return_url, configuration.flatten().as_deref());
        // A key per request: its retries open one session.
        let key = format!("portal-{}", uuid::Uuid::new_v4().simple());
        let created: Created = self
            .call(Method::POST, "/v1/billing_portal/sessions", Some(&form), Some(&key))
            .await?
            .ok_or_else(|| StripeError::BadResponse("empty answer".into()))?;
        created.url.ok_or_else(|| StripeError::BadResponse("the portal session has no url".into()))
    }

    /// `DELETE /v1/subscriptions/{id}`: ends it now. Under an idempotency key per subscription,
    /// so a retry cancels once; a subscription Stripe no longer knows counts as ended.
    pub async fn cancel_subscription(&self, id: &str) -> Result<(), StripeError> {
        if !valid_id(id) {
            return Ok(());
        }
        let path = format!("/v1/subscriptions/{id}");
        let key = format!("cancel-{id}");
        match self.call::<serde_json::Value>(Method::DELETE, &path, None, Some(&key)).await {
            Ok(_) | Err(StripeError::Api { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/balance`: the cheapest call that proves the key works.
    pub async fn ping(&self) -> Result<(), StripeError> {
        self.call::<serde_json::Value>(Method::GET, "/v1/balance", None, None)
            .await?
            .map(|_| ())
            .ok_or_else(|| StripeError::BadResponse("no balance".into()))
    }
    /// The subscription as Stripe holds it now (None: Stripe does not know it).
    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StripeError> {
        if !valid_id(id) {
            return Ok(None);
        }
        self.call(Method::GET, &format!("/v1/subscriptions/{id}"), None, None).await
    }

    pub async fn checkout_session(&self, id: &str) -> Result<Option<CheckoutSession>, StripeError> {
        if !valid_id(id) {
            return Ok(None);
        }
        self.call(Method::GET, &format!("/v1/checkout/sessions/{id}"), None, None).await
    }

    pub async fn line_item_prices(&self, session_id: &str) -> Result<Vec<String>, StripeError> {
        if !valid_id(session_id) {
            return Ok(vec![]);
        }
        let list: Option<List<LineItem>> =
            self.call(Method::GET, &format!("/v1/checkout/sessions/{session_id}/line_items"), None, None).await?;
        Ok(list.map(|l| l.data.into_iter().filter_map(|li| li.price.map(|p| p.id)).collect()).unwrap_or_default())
    }
}

/// Stripe ids are letters, digits and underscores; anything else never reaches a URL path.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| "no error message".into())
}
