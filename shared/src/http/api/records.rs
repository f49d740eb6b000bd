//! Stored records (sessions and their entries), usage counted against quotas, and the cadence
//! calculator.

use serde_json::Value;

use super::wire;
use crate::clock::rfc3339;
use crate::domain::sessions::{Entry, Session};

wire! {
    pub struct SessionRequest {
        /// Defaults to `metronome`.
        #[serde(default)]
        pub kind: Option<String>,
        /// Any JSON object, up to 16 KB.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub data: Value,
    }

    pub struct SessionView {
        pub id: String,
        pub kind: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub data: Value,
        pub created_at: String,
    }

    pub struct SessionWithEntries {
        #[serde(flatten)]
        pub session: SessionView,
        pub entries: Vec<EntryView>,
    }

    pub struct SessionPage {
        pub sessions: Vec<SessionView>,
        pub next_cursor: Option<String>,
    }

    pub struct SessionDeleted {
        pub deleted: bool,
        pub id: String,
    }

    pub struct EntryRequest {
        /// Any JSON object.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub data: Value,
    }

    pub struct EntryView {
        pub id: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub data: Value,
        pub created_at: String,
    }

    pub struct UsageRequest {
        /// 1 to 10000 (default 1).
        #[serde(default)]
        pub amount: Option<i64>,
        /// A repeated key counts once (or the `Idempotency-Key` header).
        #[serde(default)]
        pub idempotency_key: Option<String>,
    }

    /// The feature's count after this use (`limit`/`remaining` null: unlimited).
    pub struct UsageCounted {
        pub feature: String,
        pub used: i64,
        pub limit: Option<i64>,
        pub remaining: Option<i64>,
        pub resets_at: String,
    }

    pub struct Cadence {
        pub pace_seconds_per_km: f64,
        pub speed_kmh: f64,
        pub bpm: u32,
    }
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        SessionView { id: s.id.clone(), kind: s.kind.clone(), data: s.data.clone(), created_at: rfc3339(s.created_at) }
    }
}

impl From<&Entry> for EntryView {
    fn from(e: &Entry) -> Self {
        EntryView { id: e.id.clone(), data: e.data.clone(), created_at: rfc3339(e.created_at) }
    }
}
