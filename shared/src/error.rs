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
    #[error("not enough credits: {required} required, {balance} available")]
    InsufficientCredits { balance: i64, required: i64 },
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
            | Error::Unhealthy { code, .. } => code,
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::InsufficientCredits { .. } => "insufficient_credits",
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
            Error::Conflict { .. } => 409,
            Error::PayloadTooLarge { .. } => 413,
            Error::MethodNotAllowed => 405,
            Error::InsufficientCredits { .. } => 402,
            Error::RateLimited { .. } => 429,
            Error::Stripe { .. } | Error::EmailFailed => 502,
            Error::Unhealthy { .. } => 503,
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

    /// Extra fields placed beside `code` and `message` in the envelope.
    pub fn details(&self) -> Map<String, Value> {
        let mut map = Map::new();
        match self {
            Error::RateLimited { retry_after_secs } => {
                map.insert("retry_after".into(), (*retry_after_secs).into());
            }
            Error::InsufficientCredits { balance, required } => {
                map.insert("balance".into(), (*balance).into());
                map.insert("required".into(), (*required).into());
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
        Error::StoreUnavailable(e)
    }
}
