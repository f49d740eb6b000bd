//! Every route of the API, documented: who may call it, its query, its body, its answer and its
//! own error codes (the codes a kind of route shares are added by `shared_errors`).

use tollgate::domain::{metrics, reconcile};
use tollgate::http::api::*;

use super::{Auth, Operation, Query, integer_query, query, required_query, wire};

const fn op(method: &'static str, path: &'static str, id: &'static str, tag: &'static str) -> Operation {
    Operation {
        method,
        path,
        id,
        tag,
        summary: "",
        auth: Auth::Bearer,
        query: &[],
        body: None,
        body_optional: false,
        ok: (200, wire::<HealthStatus>),
        errors: &[],
    }
}

const PAGE: Query = integer_query("limit", "Page size.");
const CURSOR: Query = query("cursor", "`next_cursor` of the page before.");
const NO_USER: (u16, &[&str]) = (404, &["user_not_found"]);
const STRIPE_DOWN: (u16, &[&str]) = (502, &["stripe_error"]);

pub const OPERATIONS: &[Operation] = &[
    Operation {
        summary: "Email a sign-in code (202 for any valid address, known or not).",
        auth: Auth::Public,
        body: Some(wire::<CodeRequest>),
        ok: (202, wire::<CodeSent>),
        errors: &[(400, &["invalid_email"]), (502, &["email_failed"])],
        ..op("POST", "/api/auth/request-code", "requestCode", "sign-in")
    },
    Operation {
        summary: "Sign in with the emailed code.",
        auth: Auth::Public,
        body: Some(wire::<VerifyRequest>),
        ok: (200, wire::<SignedIn>),
        errors: &[(400, &["invalid_email"]), (401, &["invalid_code", "code_expired"])],
        ..op("POST", "/api/auth/verify-code", "verifyCode", "sign-in")
    },
    Operation {
        summary: "Revoke every token the caller holds, this one included.",
        ok: (200, wire::<SignedOut>),
        ..op("POST", "/api/auth/sign-out-everywhere", "signOutEverywhere", "sign-in")
    },
    Operation {
        summary: "Who the caller is: user, administrator or not, plan, the token's issuer and expiry.",
        ok: (200, wire::<Me>),
        errors: &[NO_USER],
        ..op("GET", "/api/me", "me", "account")
    },
    Operation {
        summary: "Everything Tollgate holds about the caller (the data-rights export).",
        ok: (200, wire::<ExportView>),
        errors: &[NO_USER],
        ..op("GET", "/api/me/export", "exportMe", "account")
    },
    Operation {
        summary: "Erase the caller's personal data (a live subscription is ended at Stripe first).",
        ok: (200, wire::<ErasedView>),
        errors: &[NO_USER, STRIPE_DOWN],
        ..op("DELETE", "/api/me", "eraseMe", "account")
    },
    Operation {
        summary: "The public keys entitlement tokens are signed with.",
        auth: Auth::Public,
        ok: (200, wire::<Jwks>),
        ..op("GET", "/.well-known/jwks.json", "jwks", "entitlements")
    },
    Operation {
        summary: "Whether the store answers.",
        auth: Auth::Public,
        ok: (200, wire::<HealthStatus>),
        errors: &[(503, &["store_unavailable"])],
        ..op("GET", "/healthz", "health", "operations")
    },
    Operation {
        summary: "What the caller holds: plan, subscription, and every feature's allowance.",
        ok: (200, wire::<Entitlements>),
        ..op("GET", "/api/entitlements", "entitlements", "entitlements")
    },
    Operation {
        summary: "A short-lived EdDSA token of what the caller may do, to verify offline.",
        ok: (200, wire::<EntitlementToken>),
        ..op("GET", "/api/entitlements/token", "entitlementToken", "entitlements")
    },
    Operation {
        summary: "What the caller holds, read from the store.",
        ok: (200, wire::<Verified>),
        ..op("GET", "/api/pro/verify", "verify", "entitlements")
    },
    Operation {
        summary: "Claim a paid purchase (one session, or all made with the caller's email); fresh tokens.",
        body: Some(wire::<ClaimRequest>),
        body_optional: true,
        ok: (200, wire::<Claimed>),
        errors: &[
            (401, &["account_erased"]),
            (403, &["not_your_purchase"]),
            (404, &["not_found"]),
            (409, &["not_paid", "purchase_refunded", "purchase_disputed"]),
            STRIPE_DOWN,
        ],
        ..op("POST", "/api/pro/claim", "claim", "checkout")
    },
    Operation {
        summary: "What the deployment sells: plans in rank order with their prices and features, and credit packs.",
        auth: Auth::Public,
        ok: (200, wire::<CatalogView>),
        ..op("GET", "/api/catalog", "catalog", "checkout")
    },
    Operation {
        summary: "Open a Stripe Checkout Session for a plan (once or by subscription) or a credit pack.",
        auth: Auth::OptionalBearer,
        body: Some(wire::<CheckoutRequest>),
        ok: (200, wire::<CheckoutStarted>),
        errors: &[
            (400, &["invalid_email", "unknown_plan", "unknown_pack", "unknown_interval", "unsupported_currency"]),
            (401, &["missing_token"]),
            (409, &["already_subscribed"]),
            STRIPE_DOWN,
        ],
        ..op("POST", "/api/checkout/create", "createCheckout", "checkout")
    },
    Operation {
        summary: "A Stripe customer portal session (cards, invoices, switch plan, cancel).",
        ok: (200, wire::<PortalSession>),
        errors: &[(404, &["no_customer"]), STRIPE_DOWN],
        ..op("POST", "/api/billing/portal", "portal", "billing")
    },
    Operation {
        summary: "Change the live subscription's plan or interval: upgrades now, downgrades at the period's end.",
        body: Some(wire::<ChangeRequest>),
        ok: (200, wire::<PlanChanged>),
        errors: &[
            (400, &["unknown_plan", "unknown_interval"]),
            (402, &["payment_failed"]),
            (404, &["no_subscription"]),
            (409, &["already_on_plan", "subscription_ending"]),
            STRIPE_DOWN,
        ],
        ..op("POST", "/api/billing/change", "changePlan", "billing")
    },
    Operation {
        summary: "Drop the change scheduled for the period's end.",
        ok: (200, wire::<ChangeCanceled>),
        errors: &[(404, &["no_scheduled_change", "no_subscription"]), STRIPE_DOWN],
        ..op("DELETE", "/api/billing/change", "cancelPlanChange", "billing")
    },
    Operation {
        summary: "What a change would charge now.",
        query: &[required_query("plan", "The plan to change to."), required_query("interval", "`month` or `year`.")],
        ok: (200, wire::<ChangePreview>),
        errors: &[
            (400, &["missing_field", "unknown_plan", "unknown_interval", "invalid_field"]),
            (404, &["no_subscription"]),
            (409, &["already_on_plan", "subscription_ending"]),
            STRIPE_DOWN,
        ],
        ..op("GET", "/api/billing/change/preview", "previewPlanChange", "billing")
    },
    Operation {
        summary: "The credits balance and its ledger, newest first.",
        query: &[PAGE, CURSOR],
        ok: (200, wire::<CreditHistory>),
        errors: &[(400, &["invalid_limit", "invalid_cursor"])],
        ..op("GET", "/api/credits", "credits", "credits")
    },
    Operation {
        summary: "Spend credits (never below zero; a repeated key spends once).",
        body: Some(wire::<DebitRequest>),
        ok: (200, wire::<Debited>),
        errors: &[
            (400, &["invalid_amount", "conflicting_idempotency_keys"]),
            (402, &["insufficient_credits"]),
            (409, &["idempotency_key_reused"]),
        ],
        ..op("POST", "/api/credits/debit", "debitCredits", "credits")
    },
    Operation {
        summary: "Spend credits, `ref` being the idempotency key.",
        body: Some(wire::<UseCreditsRequest>),
        ok: (200, wire::<Debited>),
        errors: &[(400, &["invalid_amount"]), (402, &["insufficient_credits"]), (409, &["idempotency_key_reused"])],
        ..op("POST", "/api/credits/use", "useCredits", "credits")
    },
    Operation {
        summary: "Keep a record against the plan's cap.",
        body: Some(wire::<SessionRequest>),
        ok: (201, wire::<SessionView>),
        errors: &[(402, &["session_limit_reached"])],
        ..op("POST", "/api/sessions", "createSession", "records")
    },
    Operation {
        summary: "The caller's records, newest first.",
        query: &[query("kind", "Only records of this kind."), PAGE, CURSOR],
        ok: (200, wire::<SessionPage>),
        errors: &[(400, &["invalid_limit", "invalid_cursor"])],
        ..op("GET", "/api/sessions", "listSessions", "records")
    },
    Operation {
        summary: "One record with its entries in order.",
        ok: (200, wire::<SessionWithEntries>),
        errors: &[(404, &["not_found"])],
        ..op("GET", "/api/sessions/{id}", "getSession", "records")
    },
    Operation {
        summary: "Delete a record (frees a slot).",
        ok: (200, wire::<SessionDeleted>),
        errors: &[(404, &["not_found"])],
        ..op("DELETE", "/api/sessions/{id}", "deleteSession", "records")
    },
    Operation {
        summary: "Add an entry to a record.",
        body: Some(wire::<EntryRequest>),
        ok: (201, wire::<EntryView>),
        errors: &[(404, &["not_found"]), (409, &["entry_limit_reached"])],
        ..op("POST", "/api/sessions/{id}/entries", "appendEntry", "records")
    },
    Operation {
        summary: "Count a use of a metered feature against its quota (a repeated key counts once).",
        body: Some(wire::<UsageRequest>),
        body_optional: true,
        ok: (200, wire::<UsageCounted>),
        errors: &[
            (400, &["invalid_amount"]),
            (402, &["quota_exceeded"]),
            (404, &["unknown_feature"]),
            (429, &["rate_limited"]),
        ],
        ..op("POST", "/api/usage/{feature}", "recordUsage", "records")
    },
    Operation {
        summary: "The running cadence (steps per minute) for a pace.",
        auth: Auth::Public,
        query: &[
            required_query("pace", "`m:ss` per `unit`, like `5:30`."),
            query("unit", "`km` (default) or `mi`."),
            query("height_cm", "The runner's height, for a closer cadence."),
        ],
        ok: (200, wire::<Cadence>),
        errors: &[(400, &["missing_field", "invalid_pace", "pace_out_of_range", "invalid_unit", "invalid_height"])],
        ..op("GET", "/api/pace-to-bpm", "paceToBpm", "records")
    },
    Operation {
        summary: "Stripe's events, each applied exactly once whatever the order (Stripe calls this).",
        auth: Auth::StripeSignature,
        body: Some(wire::<StripeEventBody>),
        ok: (200, wire::<WebhookReceipt>),
        errors: &[
            (
                400,
                &[
                    "missing_signature",
                    "malformed_signature",
                    "signature_expired",
                    "invalid_signature",
                    "not_a_stripe_event",
                ],
            ),
            (503, &["unreadable_event", "store_unavailable"]),
        ],
        ..op("POST", "/api/stripe/webhook", "stripeWebhook", "stripe")
    },
    Operation {
        summary: "Grant credits, or take them back with a negative amount (never below zero).",
        auth: Auth::Admin,
        body: Some(wire::<GrantRequest>),
        ok: (200, wire::<Granted>),
        errors: &[(400, &["invalid_amount", "invalid_email"]), NO_USER, (409, &["idempotency_key_reused"])],
        ..op("POST", "/api/admin/credits/grant", "grantCredits", "admin")
    },
    Operation {
        summary: "A user's billing events, newest first.",
        auth: Auth::Admin,
        query: &[required_query("user_id", "The user (`usr_...`)."), PAGE, CURSOR],
        ok: (200, wire::<BillingEventPage>),
        errors: &[(400, &["missing_field", "invalid_limit", "invalid_cursor"])],
        ..op("GET", "/api/admin/billing-events", "billingEvents", "admin")
    },
    Operation {
        summary: "Every user's billing events of the last 30 UTC days, newest first.",
        auth: Auth::Admin,
        query: &[PAGE],
        ok: (200, wire::<RecentBillingEvents>),
        errors: &[(400, &["invalid_limit"])],
        ..op("GET", "/api/admin/billing-events/recent", "recentBillingEvents", "admin")
    },
    Operation {
        summary: "Everything support needs about one user, by id or email.",
        auth: Auth::Admin,
        ok: (200, wire::<UserReportView>),
        errors: &[(400, &["invalid_field"]), NO_USER],
        ..op("GET", "/api/admin/users/{user}", "userReport", "admin")
    },
    Operation {
        summary: "A user's data-rights export, by id or email.",
        auth: Auth::Admin,
        ok: (200, wire::<ExportView>),
        errors: &[(400, &["invalid_field"]), NO_USER],
        ..op("GET", "/api/admin/users/{user}/export", "exportUser", "admin")
    },
    Operation {
        summary: "Erase a user's personal data, by id or email.",
        auth: Auth::Admin,
        ok: (200, wire::<ErasedView>),
        errors: &[(400, &["invalid_field"]), NO_USER, STRIPE_DOWN],
        ..op("DELETE", "/api/admin/users/{user}", "eraseUser", "admin")
    },
    Operation {
        summary: "Make a user (by id) an administrator.",
        auth: Auth::Admin,
        ok: (200, wire::<AdminSet>),
        errors: &[NO_USER],
        ..op("PUT", "/api/admin/users/{user}/admin", "makeAdmin", "admin")
    },
    Operation {
        summary: "A user (by id) no longer administers; their tokens are revoked.",
        auth: Auth::Admin,
        ok: (200, wire::<AdminSet>),
        errors: &[NO_USER],
        ..op("DELETE", "/api/admin/users/{user}/admin", "removeAdmin", "admin")
    },
    Operation {
        summary: "Webhook deliveries, sign-ins, credits, subscriptions (MRR) and reconciliation per UTC day.",
        auth: Auth::Admin,
        query: &[
            query("from", "`YYYY-MM-DD` (default 29 days before `to`)."),
            query("to", "`YYYY-MM-DD` (default today)."),
        ],
        ok: (200, wire::<metrics::Report>),
        errors: &[(400, &["invalid_field", "invalid_range"])],
        ..op("GET", "/api/admin/metrics", "metrics", "admin")
    },
    Operation {
        summary: "Apply what Stripe holds that Tollgate missed, through the webhook's exactly-once path.",
        auth: Auth::Admin,
        body: Some(wire::<ReconcileRequest>),
        body_optional: true,
        ok: (200, wire::<reconcile::Report>),
        errors: &[STRIPE_DOWN],
        ..op("POST", "/api/admin/reconcile", "reconcile", "admin")
    },
    Operation {
        summary: "Whether each part is configured and answering; never a secret's value.",
        auth: Auth::DevOpenElseAdmin,
        ok: (200, wire::<Diagnostics>),
        ..op("GET", "/api/diagnostics", "diagnostics", "operations")
    },
];
