//! The billing audit: every billing event Stripe delivers about a user, kept (without expiry)
//! as one record written in the event's own transaction, listed for administrators.

use crate::app::App;
use crate::error::Error;
use crate::store::records::{self, BILLING_PREFIX};
use crate::store::{Item, Query, Write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingEvent {
    pub user_id: String,
    pub event_id: String,
    pub event_type: String,
    /// Stripe's time of the event.
    pub created: i64,
    /// In the currency's smallest unit: an invoice's amount paid (or due), a subscription's price.
    pub amount: Option<i64>,
    pub currency: Option<String>,
    /// The invoice's or subscription's status in the event.
    pub status: Option<String>,
    pub subscription: Option<String>,
    pub invoice: Option<String>,
    /// The email the event queued, if any.
    pub email: Option<String>,
}

impl BillingEvent {
    /// The record of `event` for `user_id`, its billing details still to fill in.
    pub fn of(event: &crate::stripe::Event, user_id: &str) -> Self {
        BillingEvent {
            user_id: user_id.to_string(),
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            created: event.created,
            amount: None,
            currency: None,
            status: None,
            subscription: None,
            invoice: None,
            email: None,
        }
    }
    pub fn to_item(&self) -> Item {
        Item::new(&records::billing_event(&self.user_id, self.created, &self.event_id))
            .with("user_id", self.user_id.as_str())
            .with("event_id", self.event_id.as_str())
            .with("event_type", self.event_type.as_str())
            .with("created", self.created)
            .with_opt("amount", self.amount)
            .with_opt("currency", self.currency.as_deref())
            .with_opt("status", self.status.as_deref())
            .with_opt("subscription", self.subscription.as_deref())
            .with_opt("invoice", self.invoice.as_deref())
            .with_opt("email", self.email.as_deref())
    }
    pub fn from_item(item: &Item) -> Option<Self> {
        Some(BillingEvent {
            user_id: item.string("user_id")?,
            event_id: item.string("event_id")?,
            event_type: item.string("event_type")?,
            created: item.num("created")?,
            amount: item.num("amount"),
            currency: item.string("currency"),
            status: item.string("status"),
            subscription: item.string("subscription"),
            invoice: item.string("invoice"),
            email: item.string("email"),
        })
    }
    /// The audit write; writing it twice changes nothing.
    pub fn write(&self) -> Write {
        Write::put(self.to_item())
    }
}

/// One page of a user's billing events, newest first, and the sort key to continue after.
pub async fn list(
    app: &App,
    user_id: &str,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<BillingEvent>, Option<String>), Error> {
    let query = Query {
        pk: format!("USER#{user_id}"),
        sk_prefix: BILLING_PREFIX.to_string(),
        newest_first: true,
        limit,
        after,
    };
    let page = app.store.query(&query).await?;
    Ok((page.items.iter().filter_map(BillingEvent::from_item).collect(), page.last_sk))
}

/// A Stripe customer portal session for the user's customer, returning to the configured URL.
pub async fn portal_url(app: &App, user_id: &str) -> Result<String, Error> {
    let customer = super::users::user_by_id(&app.store, user_id)
        .await?
        .and_then(|u| u.stripe_customer_id)
        .ok_or_else(|| Error::not_found("no_customer", "there is no billing account yet: buy or subscribe first"))?;
    app.stripe
        .create_portal_session(&customer, &app.config.stripe.portal_return_url)
        .await
        .map_err(|e| Error::Stripe { message: e.to_string(), fallback_url: None })
}
