//! Requests as API Gateway delivers them, and what tests read from responses.

use serde_json::Value;
use tollgate::email::Outbox;

use crate::signed_header;

/// The address tests call from unless they say otherwise.
pub const CALLER_IP: &str = "198.51.100.7";

/// A request as API Gateway delivers it: JSON body (if any), Bearer token (if any).
pub fn request(method: &str, path: &str, body: Option<&Value>, token: Option<&str>) -> tollgate::http::Request {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    if let Some(t) = token {
        builder = builder.header("authorization", format!("Bearer {t}"));
    }
    let (parts, ()) = builder.body(()).expect("a valid request").into_parts();
    let bytes = body.map(|b| serde_json::to_vec(b).expect("JSON serializes")).unwrap_or_default();
    tollgate::http::gateway_request(parts, bytes, CALLER_IP)
}

/// A request with raw bytes and headers, from an address.
pub fn raw_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    source_ip: &str,
) -> tollgate::http::Request {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let (parts, ()) = builder.body(()).expect("a valid request").into_parts();
    tollgate::http::gateway_request(parts, body, source_ip)
}

/// A signed webhook delivery of `body`, signed at the test clock's time.
pub fn webhook_request(body: &[u8], at: i64) -> tollgate::http::Request {
    let header = signed_header(body, at);
    raw_request(
        "POST",
        "/api/stripe/webhook",
        &[("content-type", "application/json"), ("stripe-signature", &header)],
        body.to_vec(),
        "3.18.12.63",
    )
}

/// A response's status and JSON body.
pub fn status_and_json(response: &tollgate::http::Response) -> (u16, Value) {
    let body: &[u8] = response.body().as_ref();
    let json = if body.is_empty() { Value::Null } else { serde_json::from_slice(body).expect("a JSON body") };
    (response.status().as_u16(), json)
}

/// The last sign-in code emailed to `email` (read from the console sender's outbox).
pub fn last_code(outbox: &Outbox, email: &str) -> String {
    let mail = outbox.last_to(email).unwrap_or_else(|| panic!("no email to {email}"));
    mail.text
        .split_whitespace()
        .find(|w| w.len() == 7 && w.ends_with('.') && w[..6].chars().all(|c| c.is_ascii_digit()))
        .map(|w| w[..6].to_string())
        .expect("a six-digit code in the email")
}
