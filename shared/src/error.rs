//! The one error type every handler returns. `code()` is stable and appears in the JSON
//! envelope; `status()` is the HTTP status. Messages never carry secrets, codes or tokens.

use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("this route does not take that method")]
    MethodNotAllowed,
    /// A second subscription while one is live: change plans in the customer portal instead.
    #[error("you already have a subscription; manage it in the billing portal")]
    AlreadySubscribed { portal_url: Option<String> },
    /// The plan does not allow this (402), with what the client needs to say why.
    #[error("{message}")]
    PaymentRequired { code: &'static str, message: String, details: Value },
    #[error("not enough credits: {required} required, {balance} available")]
    InsufficientCredits { balance: i64, required: i64 },
    /// A metered feature's allowance is used up: 402 for a monthly quota, 429 for a daily limit.
    #[error("{feature} is used up for this period: {used} of {limit}")]
    UsageLimit { feature: String, used: i64, limit: i64, resets_at: i64, daily: bool, retry_after_secs: u64 },
    #[error("too many requests; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the payment provider failed: {message}")]
    Stripe { message: String, fallback_url: Option<String> },
    #[error("the email could not be sent")]
    EmailFailed,
    #[error("the store is unavailable")]
    StoreUnavailable(#[source] crate::store::StoreError),
    /// Health checks only: the service cannot serve right now.
    #[error("{message}")]
    Unhealthy { code: &'static str, message: String },
    /// Not now: the caller should retry later (a Stripe delivery Tollgate cannot apply yet).
    #[error("{message}")]
    Retry { code: &'static str, message: String },
    #[error("internal error")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest { code, message: message.into() }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Error::Unauthorized { code, message: message.into() }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Error::Forbidden { code, message: message.into() }
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Error::NotFound { code, message: message.into() }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict { code, message: message.into() }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest { code, .. }
            | Error::Unauthorized { code, .. }
            | Error::Forbidden { code, .. }
            | Error::NotFound { code, .. }
            | Error::Conflict { code, .. }
            | Error::PaymentRequired { code, .. }
            | Error::Unhealthy { code, .. }
            | Error::Retry { code, .. } => code,
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::AlreadySubscribed { .. } => "already_subscribed",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::InsufficientCredits { .. } => "insufficient_credits",
            Error::UsageLimit { daily: true, .. } => "rate_limited",
            Error::UsageLimit { daily: false, .. } => "quota_exceeded",
            Error::RateLimited { .. } => "rate_limited",
            Error::Stripe { .. } => "stripe_error",
            Error::EmailFailed => "email_failed",
            Error::StoreUnavailable(_) => "store_unavailable",
            Error::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest { .. } => 400,
            Error::Unauthorized { .. } => 401,
            Error::Forbidden { .. } => 403,
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } | Error::AlreadySubscribed { .. } => 409,
            Error::PayloadTooLarge { .. } => 413,
            Error::MethodNotAllowed => 405,
            Error::InsufficientCredits { .. } | Error::PaymentRequired { .. } => 402,
            Error::UsageLimit { daily: true, .. } => 429,
            Error::UsageLimit { daily: false, .. } => 402,
            Error::RateLimited { .. } => 429,
            Error::Stripe { .. } | Error::EmailFailed => 502,
            Error::Unhealthy { .. } | Error::Retry { .. } => 503,
            Error::StoreUnavailable(_) | Error::Internal(_) => 500,
        }
    }

    /// The message shown to clients: internal details stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "internal error".to_string(),
            Error::StoreUnavailable(_) => "the store is unavailable; try again".to_string(),
            Error::Stripe { .. } => "the payment provider could not be reached; try again".to_string(),
            other => other.to_string(),
        }
    }

    /// Seconds for a `Retry-After` header, where the client should wait and retry.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::RateLimited { retry_after_secs } | Error::UsageLimit { daily: true, retry_after_secs, .. } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }

    /// Extra fields placed beside `code` and `message` in the envelope.
    pub fn details(&self) -> Map<String, Value> {
        let mut map = Map::new();
        match self {
            Error::PaymentRequired { details: Value::Object(extra), .. } => {
                map.extend(extra.clone());
            }
            Error::UsageLimit { feature, used, limit, resets_at, .. } => {
                map.insert("feature".into(), feature.clone().into());
                map.insert("used".into(), (*used).into());
                map.insert("limit".into(), (*limit).into());
                map.insert("resets_at".into(), crate::clock::rfc3339(*resets_at).into());
            }
            Error::RateLimited { retry_after_secs } => {
                map.insert("retry_after".into(), (*retry_after_secs).into());
            }
            Error::InsufficientCredits { balance, required } => {
                map.insert("balance".into(), (*balance).into());
                map.insert("required".into(), (*required).into());
            }
            Error::AlreadySubscribed { portal_url } => {
                map.insert("portal_url".into(), portal_url.clone().into());
            }
            Error::Stripe { fallback_url: Some(url), .. } => {
                map.insert("fallback_url".into(), url.clone().into());
            }
            _ => {}
        }
        map
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Corrupt { .. } => Error::Internal(e.to_string()),
            e => Error::StoreUnavailable(e),
        }
    }
}
