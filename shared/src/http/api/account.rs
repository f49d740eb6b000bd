//! Signing in, who the caller is, and what they hold.

use std::collections::BTreeMap;

use super::wire;
use crate::clock::rfc3339;
use crate::domain::entitlements::{Allowance, Entitlement};

wire! {
    pub struct CodeRequest {
        pub email: String,
    }

    /// 202: a code was sent (for any valid email, known or not).
    pub struct CodeSent {
        /// Always `sent`.
        pub status: String,
        /// The code itself, only where `DEBUG_AUTH_CODES` is on (development).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub debug_code: Option<String>,
    }

    pub struct VerifyRequest {
        pub email: String,
        /// The 6 digits emailed.
        pub code: String,
    }

    pub struct UserRef {
        pub id: String,
        pub email: String,
    }

    /// Signed in: an access token and, where the function has a key set, an entitlement token.
    pub struct SignedIn {
        pub token: String,
        pub user: UserRef,
        pub pro: bool,
        pub plan: String,
        pub entitlement_token: Option<String>,
    }

    pub struct SignedOut {
        pub signed_out: bool,
    }

    pub struct TokenInfo {
        pub issuer: String,
        /// Unix seconds.
        pub expires_at: i64,
    }

    pub struct Me {
        pub user: UserRef,
        pub admin: bool,
        pub plan: String,
        pub pro: bool,
        pub token: TokenInfo,
    }

    /// One Ed25519 public key entitlement tokens are signed with.
    pub struct Jwk {
        pub kty: String,
        pub crv: String,
        pub x: String,
        pub kid: String,
        pub alg: String,
        #[serde(rename = "use")]
        pub key_use: String,
    }

    pub struct Jwks {
        pub keys: Vec<Jwk>,
    }

    pub struct HealthStatus {
        /// Always `ok` (a failing store is 503 in the envelope).
        pub status: String,
    }

    /// A change of plan waiting for the period's end.
    pub struct ScheduledChange {
        pub plan: String,
        pub interval: Option<String>,
        pub at: String,
    }

    /// The principal subscription: the live one, else the latest.
    pub struct SubscriptionSummary {
        pub id: String,
        pub status: String,
        pub plan: String,
        pub interval: Option<String>,
        pub current_period_end: Option<String>,
        pub trial_end: Option<String>,
        pub cancel_scheduled: bool,
        pub scheduled_change: Option<ScheduledChange>,
    }

    /// What a user holds.
    pub struct Held {
        pub plan: String,
        pub pro: bool,
        /// Null unless access is scheduled to end.
        pub plan_ends_at: Option<String>,
        pub subscription: Option<SubscriptionSummary>,
    }

    /// One feature's allowance: a flag, records kept against a cap, or uses counted per period.
    #[serde(untagged)]
    pub enum FeatureAllowance {
        Flag(bool),
        Metered(Metered),
        Kept(Kept),
    }

    /// Uses counted per period (`limit` null: unlimited).
    #[serde(deny_unknown_fields)]
    pub struct Metered {
        pub used: i64,
        pub limit: Option<i64>,
        pub resets_at: String,
    }

    /// Records kept against a cap (`limit` null: unlimited).
    #[serde(deny_unknown_fields)]
    pub struct Kept {
        pub used: i64,
        pub limit: Option<i64>,
    }

    pub struct Entitlements {
        #[serde(flatten)]
        pub held: Held,
        pub features: BTreeMap<String, FeatureAllowance>,
    }

    /// `GET /api/pro/verify`: what the store holds (`expires_at` is `plan_ends_at`, the name
    /// earlier clients read).
    pub struct Verified {
        #[serde(flatten)]
        pub held: Held,
        pub expires_at: Option<String>,
    }

    pub struct EntitlementToken {
        /// An EdDSA JWT to verify offline against `/.well-known/jwks.json`.
        pub token: String,
        pub expires_at: String,
        pub kid: Option<String>,
    }

    pub struct ClaimRequest {
        /// The Checkout Session to claim; without it, every paid purchase made with the
        /// caller's email is claimed.
        #[serde(default)]
        pub session_id: Option<String>,
    }

    /// Fresh tokens of what the user holds now.
    pub struct Claimed {
        pub pro: bool,
        pub plan: String,
        pub token: String,
        pub entitlement_token: Option<String>,
    }
}

impl From<&Entitlement> for Held {
    fn from(ent: &Entitlement) -> Self {
        Held {
            plan: ent.plan.key.clone(),
            pro: ent.pro,
            plan_ends_at: ent.plan_ends_at.map(rfc3339),
            subscription: ent.subscription.as_ref().map(|s| SubscriptionSummary {
                id: s.id.clone(),
                status: s.status.clone(),
                plan: s.plan.clone(),
                interval: s.interval.clone(),
                current_period_end: s.current_period_end.map(rfc3339),
                trial_end: s.trial_end.map(rfc3339),
                cancel_scheduled: s.cancel_scheduled,
                scheduled_change: s.next.as_ref().map(|(plan, interval, at)| ScheduledChange {
                    plan: plan.clone(),
                    interval: interval.clone(),
                    at: rfc3339(*at),
                }),
            }),
        }
    }
}

impl From<Allowance> for FeatureAllowance {
    fn from(allowance: Allowance) -> Self {
        match allowance {
            Allowance::Flag(on) => FeatureAllowance::Flag(on),
            Allowance::Kept { used, limit } => FeatureAllowance::Kept(Kept { used, limit }),
            Allowance::Metered { used, limit, resets_at } => {
                FeatureAllowance::Metered(Metered { used, limit, resets_at: rfc3339(resets_at) })
            }
        }
    }
}
