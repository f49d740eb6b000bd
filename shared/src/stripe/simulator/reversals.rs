//! Refunds and disputes in the simulation: the event Stripe would send, and the object kept for
//! reconciliation to find.

use serde_json::json;

use super::{Simulator, event_body, short_id};

impl Simulator {
    /// A full refund of a payment intent: the `charge.refunded` event.
    pub fn refund_payment(&self, payment_intent: &str, now: i64) -> Vec<u8> {
        let charge = json!({
            "id": format!("ch_sim{}", short_id()),
            "object": "charge",
            "payment_intent": payment_intent,
            "refunded": true,
            "amount": 0,
            "amount_refunded": 0,
            "currency": "usd",
            "created": now,
            "livemode": false,
        });
        self.charges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(charge["id"].as_str().unwrap_or_default().to_string(), charge.clone());
        event_body("charge.refunded", charge, now)
    }

    /// A dispute of a payment intent: `charge.dispute.created` (status `needs_response`), or
    /// with `closed` its decision, `charge.dispute.closed` with `won` or `lost`.
    pub fn dispute(&self, dispute_id: &str, payment_intent: &str, closed: Option<bool>, now: i64) -> Vec<u8> {
        let status = match closed {
            None => "needs_response",
            Some(true) => "won",
            Some(false) => "lost",
        };
        let dispute = json!({
            "id": dispute_id,
            "object": "dispute",
            "charge": format!("ch_sim{}", short_id()),
            "payment_intent": payment_intent,
            "amount": 0,
            "currency": "usd",
            "status": status,
            "created": now,
            "livemode": false,
        });
        self.disputes.lock().unwrap_or_else(|p| p.into_inner()).insert(dispute_id.to_string(), dispute.clone());
        let event_type = if closed.is_some() { "charge.dispute.closed" } else { "charge.dispute.created" };
        event_body(event_type, dispute, now)
    }
}
