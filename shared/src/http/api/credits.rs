//! The prepaid credits balance: its ledger, spending, and administrators' grants.

use super::wire;
use crate::clock::rfc3339;
use crate::store::schema::LedgerEntry;

wire! {
    /// One change of the balance.
    pub struct LedgerEntryView {
        pub id: String,
        pub delta: i64,
        pub balance_after: i64,
        /// Tollgate's own: `purchase`, `refund`, `dispute`, `dispute_won`, `subscription`,
        /// `admin`, `debit` or `use`.
        pub reason: String,
        /// What the caller or administrator wrote, else null.
        pub note: Option<String>,
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        pub created_at: String,
        /// What a take-back could not take (the balance never goes below zero).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub shortfall: Option<i64>,
    }

    pub struct CreditHistory {
        pub balance: i64,
        /// Newest first.
        pub entries: Vec<LedgerEntryView>,
        pub next_cursor: Option<String>,
    }

    pub struct DebitRequest {
        /// 1 to `CREDITS_MAX_DEBIT`.
        pub amount: i64,
        /// Kept as the entry's `note`.
        #[serde(default)]
        pub reason: Option<String>,
        /// A repeated key debits once (or the `Idempotency-Key` header).
        #[serde(default)]
        pub idempotency_key: Option<String>,
    }

    pub struct UseCreditsRequest {
        pub units: i64,
        /// The idempotency key.
        #[serde(rename = "ref")]
        pub reference: String,
    }

    pub struct Debited {
        pub balance: i64,
        pub entry_id: String,
    }

    pub struct GrantRequest {
        #[serde(default)]
        pub user_id: Option<String>,
        #[serde(default)]
        pub email: Option<String>,
        /// Negative takes back, never below zero.
        pub amount: i64,
        /// Kept as the entry's `note`.
        pub reason: String,
        #[serde(default)]
        pub idempotency_key: Option<String>,
    }

    /// A grant. A repeated idempotency key answers the first grant's entry and balance, with
    /// `delta` and `shortfall` null.
    pub struct Granted {
        pub user_id: String,
        pub balance: i64,
        pub entry_id: String,
        pub delta: Option<i64>,
        /// What a take-back could not take.
        pub shortfall: Option<i64>,
    }
}

impl From<&LedgerEntry> for LedgerEntryView {
    fn from(e: &LedgerEntry) -> Self {
        LedgerEntryView {
            id: e.id.clone(),
            delta: e.delta,
            balance_after: e.balance_after,
            reason: e.reason.as_str().to_string(),
            note: e.note.clone(),
            reference: e.reference.clone(),
            created_at: rfc3339(e.created_at),
            shortfall: e.shortfall,
        }
    }
}
