//! Which Stripe a deployment talks to: the real API, the local simulation, or none.

use super::Simulator;
use super::changes::{InvoicePreview, PlanChange};
use super::client::{CheckoutRequest, CreatedSession, StripeClient, StripeError};
use super::events::{CheckoutSession, Subscription, SubscriptionSchedule};

/// Real Stripe, or the local simulation used by `tollgate dev` when no key is configured.
#[derive(Clone)]
pub enum Stripe {
    /// Shared, not copied, by the app every request clones.
    Live(std::sync::Arc<StripeClient>),
    Simulated(Simulator),
    /// No key: a production function that does not use Stripe.
    Absent,
}

fn absent() -> StripeError {
    StripeError::Unreachable("this function has no Stripe key".into())
}

fn unknown_subscription() -> StripeError {
    StripeError::Api { status: 404, message: "No such subscription".into() }
}

impl Stripe {
    /// The real API, with the configuration's key; None when it has none.
    pub fn live(config: &crate::config::StripeConfig) -> Option<Self> {
        let key = config.secret_key.clone()?;
        Some(Stripe::Live(std::sync::Arc::new(StripeClient::new(&config.api_base, key, config.call_budget))))
    }

    pub async fn create_checkout_session(&self, request: &CheckoutRequest) -> Result<CreatedSession, StripeError> {
        match self {
            Stripe::Live(c) => c.create_checkout_session(request).await,
            Stripe::Simulated(s) => Ok(s.create_checkout_session(request)),
            Stripe::Absent => Err(absent()),
        }
    }
    pub async fn create_customer(&self, email: &str, user_id: &str) -> Result<String, StripeError> {
        match self {
            Stripe::Live(c) => c.create_customer(email, user_id).await,
            Stripe::Simulated(s) => Ok(s.create_customer(user_id)),
            Stripe::Absent => Err(absent()),
        }
    }
    pub async fn create_portal_session(&self, customer: &str, return_url: &str) -> Result<String, StripeError> {
        match self {
            Stripe::Live(c) => c.create_portal_session(customer, return_url).await,
            Stripe::Simulated(s) => Ok(s.portal_url(customer)),
            Stripe::Absent => Err(absent()),
        }
    }
    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StripeError> {
        match self {
            Stripe::Live(c) => c.subscription(id).await,
            Stripe::Simulated(s) => Ok(s.subscription(id)),
            Stripe::Absent => Err(absent()),
        }
    }
    /// What Stripe holds from `since` on, for reconciliation.
    pub async fn walk(&self, since: i64) -> Result<super::listing::Walk, StripeError> {
        match self {
            Stripe::Live(c) => c.walk(since).await,
            Stripe::Simulated(s) => Ok(s.walk(since)),
            Stripe::Absent => Err(absent()),
        }
    }
    pub async fn checkout_session(&self, id: &str) -> Result<Option<CheckoutSession>, StripeError> {
        match self {
            Stripe::Live(c) => c.checkout_session(id).await,
            Stripe::Simulated(s) => Ok(s.checkout_session(id)),
            Stripe::Absent => Err(absent()),
        }
    }
    /// Ends a subscription now. Real Stripe tells the webhook (None); the simulation answers
    /// with the `customer.subscription.deleted` event it would send, for the caller to apply.
    pub async fn cancel_subscription(&self, id: &str, now: i64) -> Result<Option<Vec<u8>>, StripeError> {
        match self {
            Stripe::Live(c) => c.cancel_subscription(id).await.map(|()| None),
            Stripe::Simulated(s) => Ok(s.cancel(id, false, now)),
            Stripe::Absent => Err(absent()),
        }
    }
    /// Whether Stripe answers with this key (a read of the account's balance); a simulated
    /// Stripe always does.
    pub async fn ping(&self) -> Result<(), StripeError> {
        match self {
            Stripe::Live(c) => c.ping().await,
            Stripe::Simulated(_) => Ok(()),
            Stripe::Absent => Err(absent()),
        }
    }
    pub async fn line_item_prices(&self, session_id: &str) -> Result<Vec<String>, StripeError> {
        match self {
            Stripe::Live(c) => c.line_item_prices(session_id).await,
            Stripe::Simulated(s) => Ok(s.line_item_prices(session_id)),
            Stripe::Absent => Err(absent()),
        }
    }
    /// Switches the price now. Real Stripe answers the subscription (and tells the webhook); the
    /// simulation also answers the events it would send, for the caller to apply.
    pub async fn change_price_now(
        &self,
        change: &PlanChange,
        key: &str,
        now: i64,
    ) -> Result<(Subscription, Vec<Vec<u8>>), StripeError> {
        match self {
            Stripe::Live(c) => Ok((c.change_price_now(change, key).await?, vec![])),
            Stripe::Simulated(s) => s.change_now(change, now).ok_or_else(unknown_subscription),
            Stripe::Absent => Err(absent()),
        }
    }
    /// Sets the subscription's schedule to make `change` at the period's end.
    pub async fn schedule_change(
        &self,
        sub: &Subscription,
        change: &PlanChange,
        current_price: &str,
        user_id: &str,
        (key, now): (&str, i64),
    ) -> Result<(SubscriptionSchedule, Vec<Vec<u8>>), StripeError> {
        match self {
            Stripe::Live(c) => Ok((c.schedule_change(sub, change, current_price, user_id, (key, now)).await?, vec![])),
            Stripe::Simulated(s) => s.schedule_change(change, user_id, now).ok_or_else(unknown_subscription),
            Stripe::Absent => Err(absent()),
        }
    }
    pub async fn release_schedule(&self, id: &str, key: &str, now: i64) -> Result<Vec<Vec<u8>>, StripeError> {
        match self {
            Stripe::Live(c) => c.release_schedule(id, key).await.map(|()| vec![]),
            Stripe::Simulated(s) => Ok(s.release_schedule(id, now).unwrap_or_default()),
            Stripe::Absent => Err(absent()),
        }
    }
    pub async fn subscription_schedule(&self, id: &str) -> Result<Option<SubscriptionSchedule>, StripeError> {
        match self {
            Stripe::Live(c) => c.subscription_schedule(id).await,
            Stripe::Simulated(s) => Ok(s.subscription_schedule(id)),
            Stripe::Absent => Err(absent()),
        }
    }
    pub async fn preview_change(
        &self,
        customer: &str,
        change: &PlanChange,
        now: i64,
    ) -> Result<InvoicePreview, StripeError> {
        match self {
            Stripe::Live(c) => c.preview_change(customer, change).await,
            Stripe::Simulated(s) => s.preview_change(change, now).ok_or_else(unknown_subscription),
            Stripe::Absent => Err(absent()),
        }
    }
    pub fn simulator(&self) -> Option<&Simulator> {
        match self {
            Stripe::Simulated(s) => Some(s),
            Stripe::Live(_) | Stripe::Absent => None,
        }
    }
}
