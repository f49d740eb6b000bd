//! Billing objects as Stripe sends them: invoices, their payments and subscriptions, in the
//! current API shape and the older one (read here only).

use serde::Deserialize;

use super::*;

/// Where an invoice's subscription is described: `parent.subscription_details` in current API
/// versions, `subscription_details` (and `subscription`) at the top level in older ones.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubscriptionDetails {
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
    #[serde(default)]
    subscription: Option<Expandable>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvoiceParent {
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PriceDetails {
    #[serde(default)]
    price: Option<Expandable>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LinePricing {
    #[serde(default)]
    price_details: Option<PriceDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceLine {
    /// Older API versions.
    #[serde(default)]
    price: Option<Price>,
    /// Current API versions.
    #[serde(default)]
    pricing: Option<LinePricing>,
}

impl InvoiceLine {
    pub fn price_id(&self) -> Option<String> {
        self.pricing
            .as_ref()
            .and_then(|p| p.price_details.as_ref())
            .and_then(|d| d.price.as_ref())
            .map(|p| p.id().to_string())
            .or_else(|| self.price.as_ref().map(|p| p.id.clone()))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub amount_paid: i64,
    #[serde(default)]
    pub amount_due: i64,
    #[serde(default)]
    pub currency: Option<String>,
    /// Stripe's page where the customer can pay (or confirm) this invoice.
    #[serde(default)]
    pub hosted_invoice_url: Option<String>,
    #[serde(default)]
    customer: Option<Expandable>,
    #[serde(default)]
    parent: Option<InvoiceParent>,
    #[serde(default)]
    subscription_details: Option<SubscriptionDetails>,
    #[serde(default)]
    subscription: Option<Expandable>,
    #[serde(default)]
    lines: Option<List<InvoiceLine>>,
    /// Why Stripe made it: `subscription_create`, `subscription_cycle`, `subscription_update`
    /// (prorations), `manual`, ...
    #[serde(default)]
    pub billing_reason: Option<String>,
    /// Older API versions name the payment on the invoice itself.
    #[serde(default)]
    payment_intent: Option<Expandable>,
    #[serde(default)]
    charge: Option<Expandable>,
    /// Current API versions list it (when included): `payments.data[].payment`.
    #[serde(default)]
    payments: Option<List<InvoicePayment>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvoicePayment {
    #[serde(default)]
    pub invoice: Option<Expandable>,
    #[serde(default)]
    pub payment: Option<PaymentRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaymentRef {
    #[serde(default)]
    payment_intent: Option<Expandable>,
    #[serde(default)]
    charge: Option<Expandable>,
}

impl InvoicePayment {
    pub fn invoice_id(&self) -> Option<String> {
        expandable_id(&self.invoice)
    }
    /// The payment intents (and charges, for charge-only payments) this payment names.
    pub fn payment_ids(&self) -> Vec<String> {
        self.payment
            .iter()
            .flat_map(|p| [expandable_id(&p.payment_intent), expandable_id(&p.charge)])
            .flatten()
            .collect()
    }
}

impl Invoice {
    fn details(&self) -> Option<&SubscriptionDetails> {
        self.parent.as_ref().and_then(|p| p.subscription_details.as_ref()).or(self.subscription_details.as_ref())
    }
    /// The subscription's metadata (Tollgate puts `user_id` and `plan` there).
    pub fn subscription_metadata(&self) -> HashMap<String, String> {
        self.details().and_then(|d| d.metadata.clone()).unwrap_or_default()
    }
    pub fn subscription_id(&self) -> Option<String> {
        self.details().and_then(|d| d.subscription.as_ref()).or(self.subscription.as_ref()).map(|s| s.id().to_string())
    }
    pub fn customer(&self) -> Option<String> {
        expandable_id(&self.customer)
    }
    pub fn price_ids(&self) -> Vec<String> {
        self.lines.as_ref().map(|l| l.data.iter().filter_map(InvoiceLine::price_id).collect()).unwrap_or_default()
    }
    /// The payment intents and charges that paid it, in whichever shape the API version gives.
    pub fn payment_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> =
            [expandable_id(&self.payment_intent), expandable_id(&self.charge)].into_iter().flatten().collect();
        for payment in self.payments.iter().flat_map(|l| l.data.iter()) {
            ids.extend(payment.payment_ids());
        }
        ids.dedup();
        ids
    }
    /// Pays for a billing period: the first invoice of a subscription or a renewal.
    pub fn is_for_a_period(&self) -> bool {
        matches!(self.billing_reason.as_deref(), Some("subscription_create" | "subscription_cycle"))
    }
}

/// A subscription as Stripe sends it, in either API shape: current versions put the billing
/// period on each item (`items.data[].current_period_end`), older ones on the subscription.
#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    #[serde(default)]
    customer: Option<Expandable>,
    pub status: String,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub cancel_at: Option<i64>,
    #[serde(default)]
    pub canceled_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub trial_end: Option<i64>,
    #[serde(default)]
    pub trial_start: Option<i64>,
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    items: Option<List<SubscriptionItem>>,
    /// The schedule that will change it (a plan change at the period's end), if any.
    #[serde(default)]
    schedule: Option<Expandable>,
}

#[derive(Debug, Clone, Deserialize)]
struct SubscriptionItem {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    price: Option<RecurringPrice>,
    #[serde(default)]
    quantity: Option<i64>,
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
struct RecurringPrice {
    id: String,
    #[serde(default)]
    unit_amount: Option<i64>,
}

impl Subscription {
    pub fn customer(&self) -> Option<String> {
        expandable_id(&self.customer)
    }
    fn first_item(&self) -> Option<&SubscriptionItem> {
        self.items.as_ref().and_then(|l| l.data.first())
    }
    pub fn current_period_start(&self) -> Option<i64> {
        self.first_item().and_then(|i| i.current_period_start).or(self.current_period_start)
    }
    pub fn current_period_end(&self) -> Option<i64> {
        self.first_item().and_then(|i| i.current_period_end).or(self.current_period_end)
    }
    /// The item a plan change replaces (Tollgate's subscriptions have one).
    pub fn item_id(&self) -> Option<String> {
        self.first_item().and_then(|i| i.id.clone())
    }
    pub fn schedule(&self) -> Option<String> {
        expandable_id(&self.schedule)
    }
    pub fn price_ids(&self) -> Vec<String> {
        self.items
            .as_ref()
            .map(|l| l.data.iter().filter_map(|i| i.price.as_ref().map(|p| p.id.clone())).collect())
            .unwrap_or_default()
    }
    /// What one period costs, in the currency's smallest unit.
    pub fn amount(&self) -> Option<i64> {
        self.items.as_ref().map(|l| {
            l.data
                .iter()
                .map(|i| {
                    i.price.as_ref().and_then(|p| p.unit_amount).unwrap_or(0).saturating_mul(i.quantity.unwrap_or(1))
                })
                .fold(0i64, i64::saturating_add)
        })
    }
}

/// A subscription schedule: the phases a subscription will go through. Tollgate makes one for
/// a change at the period's end (the current phase, then the new price), released after it.
#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionSchedule {
    pub id: String,
    #[serde(default)]
    subscription: Option<Expandable>,
    /// Once released, the subscription it let go of.
    #[serde(default)]
    released_subscription: Option<String>,
    #[serde(default)]
    customer: Option<Expandable>,
    /// Tollgate's (`user_id`, `plan`, `interval`) on schedules it made.
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    /// `not_started`, `active`, `completed`, `released` or `canceled`.
    pub status: String,
    #[serde(default)]
    pub phases: Vec<SchedulePhase>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SchedulePhase {
    pub start_date: i64,
    #[serde(default)]
    pub end_date: Option<i64>,
    #[serde(default)]
    items: Vec<PhaseItem>,
}

#[derive(Debug, Clone, Deserialize)]
struct PhaseItem {
    price: Expandable,
}

impl SchedulePhase {
    pub fn price(&self) -> Option<&str> {
        self.items.first().map(|i| i.price.id())
    }
}

impl SubscriptionSchedule {
    pub fn subscription(&self) -> Option<String> {
        expandable_id(&self.subscription).or_else(|| self.released_subscription.clone())
    }
    pub fn customer(&self) -> Option<String> {
        expandable_id(&self.customer)
    }
    /// Whether its phases still lie ahead (a released, completed or canceled schedule changes
    /// nothing more).
    pub fn is_pending(&self) -> bool {
        matches!(self.status.as_str(), "not_started" | "active")
    }
    /// Which phase runs at `now`: the last one started (the first, before any has).
    fn current_index(&self, now: i64) -> usize {
        self.phases.iter().rposition(|p| p.start_date <= now).unwrap_or(0)
    }
    /// The phase after the one running at `now`: the change still to come.
    pub fn next_phase(&self, now: i64) -> Option<&SchedulePhase> {
        self.is_pending().then(|| self.phases.get(self.current_index(now) + 1)).flatten()
    }
    /// The phase running at `now` (or the first, before the schedule starts).
    pub fn current_phase(&self, now: i64) -> Option<&SchedulePhase> {
        self.phases.get(self.current_index(now))
    }
}
