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
    /// The object as Stripe sent it (its text): parsed once, by `Event::object`, into the typed
    /// view its event type calls for, never into a `Value` tree first.
    pub object: Box<serde_json::value::RawValue>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the body is not a Stripe event: {0}")]
pub struct NotAnEvent(pub String);

/// A delivery's body as read, in one pass: each field checked in turn by `Event::parse`.
#[derive(Deserialize)]
struct Delivered {
    object: Option<String>,
    id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    livemode: Option<bool>,
    created: Option<i64>,
    data: Option<EventData>,
}

impl Event {
    /// Parses a webhook body, refusing anything that is not shaped as a Stripe event.
    pub fn parse(body: &[u8]) -> Result<Event, NotAnEvent> {
        let read: Delivered = serde_json::from_slice(body).map_err(|e| NotAnEvent(e.to_string()))?;
        if read.object.as_deref() != Some("event") {
            return Err(NotAnEvent("`object` is not \"event\"".into()));
        }
        let missing = |field| NotAnEvent(format!("missing field `{field}`"));
        let event = Event {
            id: read.id.ok_or_else(|| missing("id"))?,
            event_type: read.event_type.ok_or_else(|| missing("type"))?,
            livemode: read.livemode.ok_or_else(|| missing("livemode"))?,
            created: read.created.ok_or_else(|| missing("created"))?,
            data: read.data.ok_or_else(|| missing("data"))?,
        };
        if !event.id.starts_with("evt_") || event.event_type.is_empty() || !event.data.object.get().starts_with('{') {
            return Err(NotAnEvent("missing id, type or data.object".into()));
        }
        Ok(event)
    }

    /// An event of `object` (reconciliation makes them from the objects Stripe lists).
    pub fn of(id: String, event_type: &str, livemode: bool, created: i64, object: &serde_json::Value) -> Event {
        let object = serde_json::value::to_raw_value(object).expect("a JSON value serializes");
        Event { id, event_type: event_type.to_string(), livemode, created, data: EventData { object } }
    }

    pub fn object<T: serde::de::DeserializeOwned>(&self) -> Result<T, NotAnEvent> {
        serde_json::from_str(self.data.object.get()).map_err(|e| NotAnEvent(format!("{}: {e}", self.event_type)))
    }

    /// The object's `id`, read from its text (for reports).
    pub fn object_id(&self) -> String {
        #[derive(Deserialize)]
        struct Id {
            #[serde(default)]
            id: String,
        }
        serde_json::from_str::<Id>(self.data.object.get()).map(|o| o.id).unwrap_or_default()
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
