//! The API's wire types: every request body the handlers read and every answer they send, as
//! typed structs. The handlers build these (never `json!`), and with the `openapi` feature each
//! describes itself, so the OpenAPI document (`tollgate openapi`) is generated from the very
//! types that go on the wire. Times are RFC 3339 strings; amounts are whole units of the
//! currency's smallest unit.

pub mod account;
pub mod admin;
pub mod billing;
pub mod credits;
pub mod deployment;
pub mod records;

use serde::Serialize;
use serde_json::Value;

pub use account::*;
pub use admin::*;
pub use billing::*;
pub use credits::*;
pub use deployment::*;
pub use records::*;

/// Derives what every wire type needs: serde both ways, and its schema with `openapi`.
macro_rules! wire {
    ($($item:item)*) => {
        $(
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
            $item
        )*
    };
}
pub(crate) use wire;

/// A wire value as the body of a reply. The wire types are plain data with string keys, which
/// always serialize; were one ever not to, the caller gets the error envelope, not a panic.
pub fn to_body<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a reply did not serialize");
        serde_json::json!({ "error": { "code": "internal_error", "message": "the reply could not be written" } })
    })
}

wire! {
    /// Every error: `{"error":{"code","message",...}}`, with what the code adds (`balance` and
    /// `required` for `insufficient_credits`, `limit` and `plan` for a cap, `portal_url`...).
    pub struct ErrorEnvelope {
        pub error: ErrorBody,
    }

    pub struct ErrorBody {
        /// What went wrong, for code to branch on (`invalid_code`, `quota_exceeded`...).
        pub code: String,
        /// For people; never a secret, a code or a token.
        pub message: String,
        #[serde(flatten)]
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub details: serde_json::Map<String, Value>,
    }
}
