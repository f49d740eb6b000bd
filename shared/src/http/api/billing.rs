//! Buying: Checkout, the customer portal, plan changes, and the webhook's receipt.

use serde_json::{Map, Value};

use super::wire;

wire! {
    /// A plan bought once (`plan`), by subscription (`plan` and `interval`), or a credit pack
    /// (`pack`).
    pub struct CheckoutRequest {
        #[serde(default)]
        pub plan: Option<String>,
        #[serde(default)]
        pub pack: Option<String>,
        /// `month` or `year`: the plan by subscription.
        #[serde(default)]
        pub interval: Option<String>,
        /// Required without a Bearer token (a one-time plan bought before signing in).
        #[serde(default)]
        pub email: Option<String>,
        /// One the price is sold in (any case); default the buyer's subscription's, else the
        /// price's own.
        #[serde(default)]
        pub currency: Option<String>,
    }

    /// Send the buyer to `url` (Stripe Checkout, or the simulated page in development).
    pub struct CheckoutStarted {
        pub url: String,
        pub session_id: String,
        pub order_id: String,
    }

    pub struct PortalSession {
        pub url: String,
    }

    pub struct ChangeRequest {
        #[serde(default)]
        pub plan: Option<String>,
        /// `month` or `year`.
        #[serde(default)]
        pub interval: Option<String>,
    }

    /// A plan change: `now` (upgrades, prorated) or at `period_end` (`at`).
    pub struct PlanChanged {
        /// `now` or `period_end`.
        pub effective: String,
        pub subscription: String,
        pub plan: String,
        pub interval: String,
        pub at: Option<String>,
    }

    pub struct ChangeCanceled {
        pub canceled: bool,
    }

    pub struct PreviewLine {
        pub amount: i64,
        pub description: Option<String>,
    }

    /// What a change would charge now (0 and the period's end for a downgrade).
    pub struct ChangePreview {
        pub effective: String,
        pub plan: String,
        pub interval: String,
        pub amount_due_now: i64,
        pub currency: String,
        pub lines: Vec<PreviewLine>,
        pub at: Option<String>,
    }

    /// A Stripe event as Stripe sends it, signed (only what every event has is named).
    pub struct StripeEventBody {
        /// `evt_...`
        pub id: String,
        #[serde(rename = "type")]
        pub event_type: String,
        pub created: i64,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub data: Value,
        #[serde(flatten)]
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub rest: Map<String, Value>,
    }

    /// The webhook's answer to Stripe: `outcome` when applied or deliberately set aside,
    /// `duplicate` on a repeat, `ignored` for a type Tollgate does not handle.
    pub struct WebhookReceipt {
        pub received: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub outcome: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub duplicate: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ignored: Option<bool>,
    }
}
