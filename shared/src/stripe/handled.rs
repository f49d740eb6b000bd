//! The events Tollgate handles, decoded once: each handled type with its object read into its
//! type; every other type is `Other` (recorded and answered "ignored").

use super::events::{
    Charge, CheckoutSession, Dispute, Event, Invoice, InvoicePayment, NotAnEvent, Subscription, SubscriptionSchedule,
};

/// What happened to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionChange {
    Created,
    Updated,
    Deleted,
    Paused,
    Resumed,
    /// Three days before a trial ends.
    TrialWillEnd,
}

/// What happened to an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceChange {
    Paid,
    PaymentFailed,
    /// The customer must confirm the payment (3-D Secure and the like).
    ActionRequired,
}

#[derive(Debug, Clone)]
pub enum Handled {
    /// `checkout.session.completed`, `checkout.session.async_payment_succeeded`.
    CheckoutCompleted(CheckoutSession),
    /// `checkout.session.expired`.
    CheckoutExpired(CheckoutSession),
    /// `checkout.session.async_payment_failed`.
    CheckoutFailed(CheckoutSession),
    /// `charge.refunded`.
    ChargeRefunded(Charge),
    /// `charge.dispute.created`.
    DisputeOpened(Dispute),
    /// `charge.dispute.closed`.
    DisputeClosed(Dispute),
    /// `customer.subscription.*`.
    Subscription(SubscriptionChange, Subscription),
    /// `invoice_payment.paid`: links a payment to the invoice it paid.
    InvoicePaymentPaid(InvoicePayment),
    /// `invoice.paid`, `invoice.payment_failed`, `invoice.payment_action_required`.
    Invoice(InvoiceChange, Invoice),
    /// `subscription_schedule.*`: a plan change at the period's end was scheduled, changed,
    /// released or ended.
    Schedule(SubscriptionSchedule),
    /// Any other type.
    Other,
}

/// Every event type Tollgate handles: what its webhook endpoint subscribes to
/// (`tollgate stripe webhook create`); every other type is recorded and ignored.
pub const TYPES: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.expired",
    "checkout.session.async_payment_failed",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "invoice_payment.paid",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "subscription_schedule.created",
    "subscription_schedule.updated",
    "subscription_schedule.released",
    "subscription_schedule.canceled",
    "subscription_schedule.completed",
    "subscription_schedule.aborted",
];

impl Handled {
    /// The event as Tollgate handles it. An error: a handled type whose object cannot be read.
    pub fn decode(event: &Event) -> Result<Handled, NotAnEvent> {
        use SubscriptionChange as S;
        let subscription = |change| Ok(Handled::Subscription(change, event.object()?));
        let invoice = |change| Ok(Handled::Invoice(change, event.object()?));
        match event.event_type.as_str() {
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                Ok(Handled::CheckoutCompleted(event.object()?))
            }
            "checkout.session.expired" => Ok(Handled::CheckoutExpired(event.object()?)),
            "checkout.session.async_payment_failed" => Ok(Handled::CheckoutFailed(event.object()?)),
            "charge.refunded" => Ok(Handled::ChargeRefunded(event.object()?)),
            "charge.dispute.created" => Ok(Handled::DisputeOpened(event.object()?)),
            "charge.dispute.closed" => Ok(Handled::DisputeClosed(event.object()?)),
            "customer.subscription.created" => subscription(S::Created),
            "customer.subscription.updated" => subscription(S::Updated),
            "customer.subscription.deleted" => subscription(S::Deleted),
            "customer.subscription.paused" => subscription(S::Paused),
            "customer.subscription.resumed" => subscription(S::Resumed),
            "customer.subscription.trial_will_end" => subscription(S::TrialWillEnd),
            "invoice_payment.paid" => Ok(Handled::InvoicePaymentPaid(event.object()?)),
            "invoice.paid" => invoice(InvoiceChange::Paid),
            "invoice.payment_failed" => invoice(InvoiceChange::PaymentFailed),
            "invoice.payment_action_required" => invoice(InvoiceChange::ActionRequired),
            "subscription_schedule.created"
            | "subscription_schedule.updated"
            | "subscription_schedule.released"
            | "subscription_schedule.canceled"
            | "subscription_schedule.completed"
            | "subscription_schedule.aborted" => Ok(Handled::Schedule(event.object()?)),
            _ => Ok(Handled::Other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str) -> Event {
        let body = serde_json::json!({
            "id": "evt_1", "object": "event", "type": event_type, "created": 1, "livemode": false,
            "data": { "object": { "id": "x_1", "status": "active" } },
        });
        Event::parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn every_listed_type_is_handled_and_no_other_is() {
        for t in TYPES {
            let handled = Handled::decode(&event(t));
            assert!(!matches!(handled, Ok(Handled::Other)), "{t} is listed but not handled");
        }
        for t in ["customer.created", "invoice.created", "payment_intent.succeeded", "subscription_schedule.expiring"] {
            assert!(matches!(Handled::decode(&event(t)), Ok(Handled::Other)), "{t} is handled but not listed");
        }
    }
}
