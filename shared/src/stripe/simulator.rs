//! A local stand-in for Stripe Checkout, used by `tollgate dev` when no `STRIPE_SECRET_KEY` is
//! set: sessions live in memory, a local page pays them, and paying produces the same
//! `checkout.session.completed` event Stripe would send (signed and delivered by the dev server).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::client::{CheckoutRequest, CreatedSession};
use super::events::{CheckoutSession, Subscription};
use crate::catalog::CheckoutMode;
use crate::clock::DAY;

mod changes;
mod reversals;
mod walk;

#[derive(Debug, Clone)]
struct SimulatedSession {
    request: CheckoutRequest,
    payment_intent: Option<String>,
    customer: Option<String>,
    subscription: Option<String>,
}

#[derive(Clone)]
pub struct Simulator {
    base_url: String,
    sessions: Arc<Mutex<HashMap<String, SimulatedSession>>>,
    /// Subscriptions as Stripe's JSON (current API shape), by id.
    subscriptions: Arc<Mutex<HashMap<String, Value>>>,
    /// Subscription schedules as Stripe's JSON, by id.
    schedules: Arc<Mutex<HashMap<String, Value>>>,
    /// What each price charges a period (the catalog's amounts); others charge `DEFAULT_AMOUNT`.
    amounts: Arc<HashMap<String, i64>>,
    /// Refunded charges and disputes as Stripe's JSON, by id (what reconciliation walks).
    charges: Arc<Mutex<HashMap<String, Value>>>,
    disputes: Arc<Mutex<HashMap<String, Value>>>,
}

/// What a price the catalog gives no amount for charges a period in the simulation.
const DEFAULT_AMOUNT: i64 = 900;

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..24].to_string()
}

impl Simulator {
    /// `base_url` is where the dev server serves `/dev/checkout/{id}`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Simulator {
            base_url: base_url.into(),
            sessions: Arc::default(),
            subscriptions: Arc::default(),
            schedules: Arc::default(),
            amounts: Arc::default(),
            charges: Arc::default(),
            disputes: Arc::default(),
        }
    }

    /// The simulation charging `amounts` for these prices (the catalog's subscription prices).
    pub fn with_amounts(mut self, amounts: HashMap<String, i64>) -> Self {
        self.amounts = Arc::new(amounts);
        self
    }

    /// What `price` charges in `currency` (its own when None or unknown).
    pub fn amount_in(&self, price: &str, currency: Option<&str>) -> i64 {
        currency
            .and_then(|c| self.amounts.get(&format!("{price}|{c}")).copied())
            .unwrap_or_else(|| self.amount_of(price))
    }

    pub fn amount_of(&self, price: &str) -> i64 {
        self.amounts.get(price).copied().unwrap_or(DEFAULT_AMOUNT)
    }

    pub fn create_customer(&self, user_id: &str) -> String {
        let tail: String = user_id.chars().filter(char::is_ascii_alphanumeric).take(20).collect();
        format!("cus_sim{tail}")
    }

    pub fn portal_url(&self, customer: &str) -> String {
        format!("{}/dev/portal/{customer}", self.base_url)
    }

    fn subscriptions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
        self.subscriptions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn subscription(&self, id: &str) -> Option<Subscription> {
        self.subscriptions().get(id).and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// The customer's subscriptions: (id, status, plan, cancel at period end).
    pub fn subscriptions_of(&self, customer: &str) -> Vec<(String, String, String, bool)> {
        let mut all: Vec<_> = self
            .subscriptions()
            .values()
            .filter(|v| v["customer"] == customer)
            .map(|v| {
                let text = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
                (text("/id"), text("/status"), text("/metadata/plan"), v["cancel_at_period_end"] == true)
            })
            .collect();
        all.sort();
        all
    }

    /// Cancels a subscription at its period's end (`customer.subscription.updated`) or now
    /// (`customer.subscription.deleted`), as the portal would.
    pub fn cancel(&self, id: &str, at_period_end: bool, now: i64) -> Option<Vec<u8>> {
        let mut subs = self.subscriptions();
        let sub = subs.get_mut(id)?;
        if sub["status"] == "canceled" {
            return None;
        }
        sub["canceled_at"] = json!(now);
        if at_period_end {
            sub["cancel_at_period_end"] = json!(true);
            return Some(event_body("customer.subscription.updated", sub.clone(), now));
        }
        sub["status"] = json!("canceled");
        sub["ended_at"] = json!(now);
        Some(event_body("customer.subscription.deleted", sub.clone(), now))
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SimulatedSession>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn create_checkout_session(&self, request: &CheckoutRequest) -> CreatedSession {
        let id = format!("cs_test_sim{}", short_id());
        let session = SimulatedSession {
            request: request.clone(),
            payment_intent: None,
            customer: request.customer.clone(),
            subscription: None,
        };
        self.sessions().insert(id.clone(), session);
        CreatedSession { url: format!("{}/dev/checkout/{id}", self.base_url), id }
    }

    fn session_json(&self, id: &str, s: &SimulatedSession) -> Value {
        // Paid: a payment made, or a subscription started (its first invoice paid, or a trial).
        let paid = s.payment_intent.is_some() || s.subscription.is_some();
        let trial = s.request.subscription.as_ref().is_some_and(|t| t.trial_days > 0);
        let metadata: serde_json::Map<String, Value> =
            s.request.metadata.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        json!({
            "id": id,
            "object": "checkout.session",
            "mode": s.request.mode.as_str(),
            "status": if paid { "complete" } else { "open" },
            "payment_status": match (paid, trial && s.subscription.is_some()) {
                (true, true) => "no_payment_required",
                (true, false) => "paid",
                (false, _) => "unpaid",
            },
            "client_reference_id": s.request.client_reference_id,
            "customer": s.customer,
            "customer_email": s.request.customer_email,
            "customer_details": { "email": s.request.customer_email },
            "metadata": metadata,
            "payment_intent": s.payment_intent,
            "subscription": s.subscription,
            "amount_total": self.amount_in(&s.request.price, s.request.currency.as_deref()),
            "currency": s.request.currency.clone().unwrap_or_else(|| "usd".to_string()),
            "livemode": false,
            "url": if paid { Value::Null } else { Value::String(format!("{}/dev/checkout/{id}", self.base_url)) },
        })
    }

    pub fn checkout_session(&self, id: &str) -> Option<CheckoutSession> {
        let sessions = self.sessions();
        let s = sessions.get(id)?;
        serde_json::from_value(self.session_json(id, s)).ok()
    }

    /// What a session was created with, and whether it is paid (a payment made, or a
    /// subscription started): for the local checkout page.
    pub fn checkout_request(&self, id: &str) -> Option<(CheckoutRequest, bool)> {
        let sessions = self.sessions();
        let s = sessions.get(id)?;
        Some((s.request.clone(), s.payment_intent.is_some() || s.subscription.is_some()))
    }

    pub fn line_item_prices(&self, id: &str) -> Vec<String> {
        self.sessions().get(id).map(|s| vec![s.request.price.clone()]).unwrap_or_default()
    }

    /// Pays the session and returns the event bodies Stripe would send, in order
    /// (`checkout.session.completed`, and for a subscription its `created` and first
    /// `invoice.paid`); None when the session is unknown or already paid.
    pub fn pay(&self, id: &str, now: i64) -> Option<Vec<Vec<u8>>> {
        let mut sessions = self.sessions();
        let s = sessions.get_mut(id)?;
        if s.payment_intent.is_some() || s.subscription.is_some() {
            return None;
        }
        let customer = s.customer.get_or_insert_with(|| format!("cus_sim{}", short_id())).clone();
        let Some(terms) = s.request.subscription.clone().filter(|_| s.request.mode == CheckoutMode::Subscription)
        else {
            s.payment_intent = Some(format!("pi_sim{}", short_id()));
            return Some(vec![event_body("checkout.session.completed", self.session_json(id, s), now)]);
        };
        let sub_id = format!("sub_sim{}", short_id());
        s.subscription = Some(sub_id.clone());
        let metadata: serde_json::Map<String, Value> =
            terms.metadata.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let trial = i64::from(terms.trial_days) * DAY;
        let interval = metadata.get("interval").and_then(Value::as_str).unwrap_or("month").to_string();
        let period = period_length(&interval);
        let unit_amount = self.amount_in(&s.request.price, s.request.currency.as_deref());
        let end = now + if trial > 0 { trial } else { period };
        let subscription = json!({
            "id": sub_id,
            "object": "subscription",
            "customer": customer,
            "status": if trial > 0 { "trialing" } else { "active" },
            "metadata": metadata,
            "cancel_at_period_end": false,
            "cancel_at": null,
            "canceled_at": null,
            "ended_at": null,
            "trial_end": if trial > 0 { json!(end) } else { Value::Null },
            "currency": s.request.currency.clone().unwrap_or_else(|| "usd".to_string()),
            "items": { "object": "list", "data": [{
                "id": format!("si_sim{}", short_id()),
                "price": { "id": s.request.price, "unit_amount": unit_amount, "recurring": { "interval": interval } },
                "quantity": 1,
                "current_period_start": now,
                "current_period_end": end,
            }]},
            "livemode": false,
        });
        let amount = if trial > 0 { 0 } else { unit_amount };
        let (invoice, payment) = self.invoice(&subscription, "subscription_create", amount, now);
        let session = self.session_json(id, s);
        self.subscriptions().insert(sub_id, subscription.clone());
        let mut events = vec![
            event_body("checkout.session.completed", session, now),
            event_body("customer.subscription.created", subscription, now),
            event_body("invoice.paid", invoice, now),
        ];
        events.extend(payment);
        Some(events)
    }

    /// A paid invoice of `subscription` (current API shape) and, when money moved, the
    /// `invoice_payment.paid` event that names its payment intent.
    fn invoice(&self, subscription: &Value, reason: &str, amount: i64, now: i64) -> (Value, Option<Vec<u8>>) {
        let invoice_id = format!("in_sim{}", short_id());
        let customer = subscription["customer"].as_str().unwrap_or_default();
        let price = subscription.pointer("/items/data/0/price/id").cloned().unwrap_or(Value::Null);
        let invoice = json!({
            "id": invoice_id,
            "object": "invoice",
            "customer": customer,
            "status": "paid",
            "billing_reason": reason,
            "amount_paid": amount,
            "amount_due": amount,
            "currency": subscription["currency"].clone(),
            "hosted_invoice_url": format!("{}/dev/portal/{customer}", self.base_url),
            "parent": { "type": "subscription_details", "subscription_details": {
                "subscription": subscription["id"], "metadata": subscription["metadata"].clone() } },
            "lines": { "object": "list", "data": [{ "pricing": { "price_details": { "price": price } } }] },
            "livemode": false,
        });
        let payment = (amount > 0).then(|| {
            let payment = json!({
                "id": format!("inpay_sim{}", short_id()),
                "object": "invoice_payment",
                "invoice": invoice_id,
                "amount_paid": amount,
                "currency": "usd",
                "status": "paid",
                "payment": { "type": "payment_intent", "payment_intent": format!("pi_sim{}", short_id()) },
                "livemode": false,
            });
            event_body("invoice_payment.paid", payment, now)
        });
        (invoice, payment)
    }

    /// The next billing period of a live subscription: `customer.subscription.updated` to the
    /// new period, its paid `subscription_cycle` invoice and the invoice's payment.
    pub fn renew(&self, id: &str, now: i64) -> Option<Vec<Vec<u8>>> {
        let mut subs = self.subscriptions();
        let sub = subs.get_mut(id)?;
        if sub["status"] == "canceled" {
            return None;
        }
        let end = sub.pointer("/items/data/0/current_period_end").and_then(Value::as_i64).unwrap_or(now);
        sub["status"] = json!("active");
        sub["trial_end"] = Value::Null;
        self.enter_phase(sub, end);
        let interval = sub.pointer("/items/data/0/price/recurring/interval").and_then(Value::as_str).unwrap_or("month");
        let next_end = end + period_length(interval);
        sub["items"]["data"][0]["current_period_start"] = json!(end);
        sub["items"]["data"][0]["current_period_end"] = json!(next_end);
        let amount = sub.pointer("/items/data/0/price/unit_amount").and_then(Value::as_i64).unwrap_or(DEFAULT_AMOUNT);
        let snapshot = sub.clone();
        drop(subs);
        let (invoice, payment) = self.invoice(&snapshot, "subscription_cycle", amount, now);
        let mut events =
            vec![event_body("customer.subscription.updated", snapshot, now), event_body("invoice.paid", invoice, now)];
        events.extend(payment);
        Some(events)
    }

    /// A mid-period change billed now (a proration): its paid `subscription_update` invoice and
    /// the invoice's payment.
    pub fn prorate(&self, id: &str, amount: i64, now: i64) -> Option<Vec<Vec<u8>>> {
        let snapshot = self.subscriptions().get(id)?.clone();
        let (invoice, payment) = self.invoice(&snapshot, "subscription_update", amount, now);
        let mut events = vec![event_body("invoice.paid", invoice, now)];
        events.extend(payment);
        Some(events)
    }

    /// A plan switch in the portal: the subscription's price becomes `price` (its metadata still
    /// names the plan it started on, as Stripe's does), `customer.subscription.updated`.
    pub fn switch_price(&self, id: &str, price: &str, now: i64) -> Option<Vec<u8>> {
        let mut subs = self.subscriptions();
        let sub = subs.get_mut(id)?;
        sub["items"]["data"][0]["price"]["id"] = json!(price);
        Some(event_body("customer.subscription.updated", sub.clone(), now))
    }

    /// The coupon a session was opened with (members' prices).
    pub fn coupon(&self, session_id: &str) -> Option<String> {
        self.sessions().get(session_id)?.request.coupon.clone()
    }

    /// The payment intent that paid a one-time session (once it is paid).
    pub fn payment_intent(&self, session_id: &str) -> Option<String> {
        self.sessions().get(session_id)?.payment_intent.clone()
    }

    /// Refunds a paid session in full and returns the `charge.refunded` event body.
    pub fn refund(&self, id: &str, now: i64) -> Option<Vec<u8>> {
        let pi = self.payment_intent(id)?;
        Some(self.refund_payment(&pi, now))
    }
}

/// A billing period of this interval in the simulation.
fn period_length(interval: &str) -> i64 {
    if interval == "year" { 365 * DAY } else { 30 * DAY }
}

fn event_body(event_type: &str, object: Value, now: i64) -> Vec<u8> {
    let event = json!({
        "id": format!("evt_sim{}", short_id()),
        "object": "event",
        "type": event_type,
        "api_version": super::client::API_VERSION,
        "created": now,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "data": { "object": object },
    });
    serde_json::to_vec(&event).expect("a JSON value serializes")
}
