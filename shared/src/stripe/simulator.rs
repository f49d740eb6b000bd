//! A local stand-in for Stripe Checkout, used by `tollgate dev` when no `STRIPE_SECRET_KEY` is
//! set: sessions live in memory, a local page pays them, and paying produces the same
//! `checkout.session.completed` event Stripe would send (signed and delivered by the dev server).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::client::{CheckoutRequest, CreatedSession};
use super::events::CheckoutSession;

#[derive(Debug, Clone)]
struct SimulatedSession {
    request: CheckoutRequest,
    payment_intent: Option<String>,
    customer: Option<String>,
}

#[derive(Clone)]
pub struct Simulator {
    base_url: String,
    sessions: Arc<Mutex<HashMap<String, SimulatedSession>>>,
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..24].to_string()
}

impl Simulator {
    /// `base_url` is where the dev server serves `/dev/checkout/{id}`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Simulator { base_url: base_url.into(), sessions: Arc::default() }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SimulatedSession>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn create_checkout_session(&self, request: &CheckoutRequest) -> CreatedSession {
        let id = format!("cs_test_sim{}", short_id());
        let session =
            SimulatedSession { request: request.clone(), payment_intent: None, customer: request.customer.clone() };
        self.sessions().insert(id.clone(), session);
        CreatedSession { url: format!("{}/dev/checkout/{id}", self.base_url), id }
    }

    fn session_json(&self, id: &str, s: &SimulatedSession) -> Value {
        let paid = s.payment_intent.is_some();
        let metadata: serde_json::Map<String, Value> =
            s.request.metadata.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        json!({
            "id": id,
            "object": "checkout.session",
            "mode": s.request.mode.as_str(),
            "status": if paid { "complete" } else { "open" },
            "payment_status": if paid { "paid" } else { "unpaid" },
            "client_reference_id": s.request.client_reference_id,
            "customer": s.customer,
            "customer_email": s.request.customer_email,
            "customer_details": { "email": s.request.customer_email },
            "metadata": metadata,
            "payment_intent": s.payment_intent,
            "amount_total": null,
            "currency": "usd",
            "livemode": false,
            "url": if paid { Value::Null } else { Value::String(format!("{}/dev/checkout/{id}", self.base_url)) },
        })
    }

    pub fn checkout_session(&self, id: &str) -> Option<CheckoutSession> {
        let sessions = self.sessions();
        let s = sessions.get(id)?;
        serde_json::from_value(self.session_json(id, s)).ok()
    }

    /// A short description of an open session for the local checkout page.
    pub fn describe(&self, id: &str) -> Option<(String, Option<String>, bool)> {
        let sessions = self.sessions();
        let s = sessions.get(id)?;
        let bought = |name: &str| s.request.metadata.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let plan = bought("plan").or_else(|| bought("pack").map(|p| format!("{p} (credit pack)"))).unwrap_or_default();
        Some((plan, s.request.customer_email.clone(), s.payment_intent.is_some()))
    }

    pub fn line_item_prices(&self, id: &str) -> Vec<String> {
        self.sessions().get(id).map(|s| vec![s.request.price.clone()]).unwrap_or_default()
    }

    /// Pays the session and returns the `checkout.session.completed` event body; None when the
    /// session is unknown or already paid.
    pub fn pay(&self, id: &str, now: i64) -> Option<Vec<u8>> {
        let mut sessions = self.sessions();
        let s = sessions.get_mut(id)?;
        if s.payment_intent.is_some() {
            return None;
        }
        s.payment_intent = Some(format!("pi_sim{}", short_id()));
        s.customer.get_or_insert_with(|| format!("cus_sim{}", short_id()));
        let object = self.session_json(id, s);
        Some(event_body("checkout.session.completed", object, now))
    }

    /// Refunds a paid session in full and returns the `charge.refunded` event body.
    pub fn refund(&self, id: &str, now: i64) -> Option<Vec<u8>> {
        let sessions = self.sessions();
        let pi = sessions.get(id)?.payment_intent.clone()?;
        let charge = json!({
            "id": format!("ch_sim{}", short_id()),
            "object": "charge",
            "payment_intent": pi,
            "refunded": true,
            "amount": 0,
            "amount_refunded": 0,
            "currency": "usd",
            "livemode": false,
        });
        Some(event_body("charge.refunded", charge, now))
    }
}

fn event_body(event_type: &str, object: Value, now: i64) -> Vec<u8> {
    let event = json!({
        "id": format!("evt_sim{}", short_id()),
        "object": "event",
        "type": event_type,
        "api_version": "2025-08-27.basil",
        "created": now,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "data": { "object": object },
    });
    serde_json::to_vec(&event).expect("a JSON value serializes")
}
