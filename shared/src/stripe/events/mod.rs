//! Typed views of the Stripe objects Tollgate reads. Only the fields used are declared; the
//! rest of Stripe's (large, growing) objects is ignored.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

mod billing;

pub use billing::*;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub livemode: bool,
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the body is not a Stripe event: {0}")]
pub struct NotAnEvent(pub String);

impl Event {
    /// Parses a webhook body, refusing anything that is not shaped as a Stripe event.
    pub fn parse(body: &[u8]) -> Result<Event, NotAnEvent> {
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| NotAnEvent(e.to_string()))?;
        if value.get("object").and_then(|o| o.as_str()) != Some("event") {
            return Err(NotAnEvent("`object` is not \"event\"".into()));
        }
        let event: Event = serde_json::from_value(value).map_err(|e| NotAnEvent(e.to_string()))?;
        if !event.id.starts_with("evt_") || event.event_type.is_empty() || !event.data.object.is_object() {
            return Err(NotAnEvent("missing id, type or data.object".into()));
        }
        Ok(event)
    }

    pub fn object<T: serde::de::DeserializeOwned>(&self) -> Result<T, NotAnEvent> {
        serde_json::from_value(self.data.object.clone()).map_err(|e| NotAnEvent(format!("{}: {e}", self.event_type)))
    }
}

/// Stripe sends an id, or the object when expanded; Tollgate needs only the id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }
    }
}

fn expandable_id(e: &Option<Expandable>) -> Option<String> {
    e.as_ref().map(|e| e.id().to_string())
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CustomerDetails {
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    /// Subscription-mode sessions: the subscription they started.
    #[serde(default)]
    subscription: Option<Expandable>,
    pub mode: String,
    pub payment_status: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default)]
    customer: Option<Expandable>,
    #[serde(default)]
    pub customer_email: Option<String>,
    #[serde(default)]
    pub customer_details: Option<CustomerDetails>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    payment_intent: Option<Expandable>,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub livemode: bool,
}

impl CheckoutSession {
    /// Paid, or needing no payment (a 100% discount): either way the purchase is complete.
    pub fn is_paid(&self) -> bool {
        self.payment_status == "paid" || self.payment_status == "no_payment_required"
    }
    pub fn customer(&self) -> Option<String> {
        expandable_id(&self.customer)
    }
    pub fn payment_intent(&self) -> Option<String> {
        expandable_id(&self.payment_intent)
    }
    pub fn subscription(&self) -> Option<String> {
        expandable_id(&self.subscription)
    }
    /// The email the buyer gave at checkout, else the one checkout was opened with.
    pub fn purchase_email(&self) -> Option<String> {
        self.customer_details.as_ref().and_then(|d| d.email.clone()).or_else(|| self.customer_email.clone())
    }
    /// Tollgate's order id: metadata first, then client_reference_id.
    pub fn order_id(&self) -> Option<String> {
        self.metadata.get("order_id").cloned().or_else(|| self.client_reference_id.clone())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    #[serde(default)]
    payment_intent: Option<Expandable>,
    #[serde(default)]
    pub refunded: bool,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    #[serde(default)]
    pub currency: Option<String>,
}

impl Charge {
    pub fn payment_intent(&self) -> Option<String> {
        expandable_id(&self.payment_intent)
    }
    /// What Tollgate's payment pointers are keyed by: the payment intent, else the charge.
    pub fn payment_id(&self) -> String {
        self.payment_intent().unwrap_or_else(|| self.id.clone())
    }
}

/// A dispute (`charge.dispute.*`): the customer's bank contests a charge.
#[derive(Debug, Clone, Deserialize)]
pub struct Dispute {
    pub id: String,
    #[serde(default)]
    charge: Option<Expandable>,
    #[serde(default)]
    payment_intent: Option<Expandable>,
    /// `warning_needs_response`, `needs_response`, `under_review`, `won`, `lost`, ...
    #[serde(default)]
    pub status: String,
}

impl Dispute {
    pub fn payment_id(&self) -> Option<String> {
        expandable_id(&self.payment_intent).or_else(|| expandable_id(&self.charge))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LineItem {
    pub price: Option<Price>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
}
