//! The HTTP edge shared by every function: JSON in and out, the one error envelope, request
//! ids, bearer tokens and the caller's address. Nothing here knows business rules.

use std::future::Future;

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::Error;

pub mod api;
pub mod limits;
pub mod log;
pub mod router;
pub use router::{Params, Route};

pub type Request = lambda_http::Request;
pub type Response = lambda_http::Response<Body>;

/// A successful answer: a status and a JSON body.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply { status: 200, body, headers: vec![] }
    }
    pub fn with_status(status: u16, body: Value) -> Self {
        Reply { status, body, headers: vec![] }
    }
    /// 200 with a wire value (`api`).
    pub fn json<T: serde::Serialize>(value: &T) -> Self {
        Reply::ok(api::to_body(value))
    }
    pub fn json_with_status<T: serde::Serialize>(status: u16, value: &T) -> Self {
        Reply::with_status(status, api::to_body(value))
    }
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// API Gateway's request id when there is one, else a fresh one.
pub fn request_id(req: &Request) -> String {
    let from_gateway = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    from_gateway.filter(|id| !id.is_empty()).unwrap_or_else(new_request_id)
}

/// A fresh request id (when API Gateway gave none).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The caller's address as API Gateway (or the dev server's socket) reports it. Client-supplied
/// headers such as X-Forwarded-For are never read.
pub fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

/// Who a per-address limit counts: an IPv4 address, or an IPv6 address's /64 (one subscriber
/// holds a whole /64, so counting single IPv6 addresses would limit nothing).
pub fn rate_subject(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_string(),
    }
}

pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

pub fn header_value<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_string)
}

/// The `limit` query parameter of a paged list: `default` when absent, else 1 to `max`.
pub fn page_limit(req: &Request, default: usize, max: usize) -> Result<usize, Error> {
    match query_param(req, "limit") {
        None => Ok(default),
        Some(raw) => raw.parse::<usize>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
            Error::bad_request("invalid_limit", format!("limit must be a whole number from 1 to {max}"))
        }),
    }
}

pub fn body_bytes(req: &Request) -> &[u8] {
    req.body().as_ref()
}

/// Parses a JSON object body into `T`: wrong content type, malformed JSON, missing or wrongly
/// typed fields each get a 400 with their own code; oversized bodies a 413.
pub fn json_body<T: DeserializeOwned>(req: &Request, max_bytes: usize) -> Result<T, Error> {
    parse_json(req, max_bytes, false)
}

/// As `json_body`, but an empty body reads as `{}`.
pub fn optional_json_body<T: DeserializeOwned>(req: &Request, max_bytes: usize) -> Result<T, Error> {
    parse_json(req, max_bytes, true)
}

fn parse_json<T: DeserializeOwned>(req: &Request, max_bytes: usize, empty_ok: bool) -> Result<T, Error> {
    let bytes = body_bytes(req);
    if bytes.len() > max_bytes {
        return Err(Error::PayloadTooLarge { limit: max_bytes });
    }
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        if !empty_ok {
            return Err(Error::bad_request("missing_body", "a JSON object body is required"));
        }
        json!({})
    } else {
        let content_type = header_value(req, "content-type").unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(Error::bad_request("unsupported_content_type", "send the body as application/json"));
        }
        serde_json::from_slice(bytes)
            .map_err(|e| Error::bad_request("invalid_json", format!("the body is not valid JSON: {e}")))?
    };
    if !value.is_object() {
        return Err(Error::bad_request("invalid_json", "the body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| {
        let text = e.to_string();
        if text.starts_with("missing field") {
            Error::bad_request("missing_field", text)
        } else {
            Error::bad_request("invalid_field", text)
        }
    })
}

pub fn json_response(status: u16, body: &Value, request_id: &str) -> Response {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", id);
    }
    response
}

/// `{"error":{"code","message",...details}}` with the error's status.
pub fn error_response(error: &Error, request_id: &str) -> Response {
    let mut inner = serde_json::Map::new();
    inner.insert("code".into(), error.code().into());
    inner.insert("message".into(), error.public_message().into());
    inner.extend(error.details());
    let mut response = json_response(error.status(), &json!({ "error": inner }), request_id);
    if let Some(secs) = error.retry_after() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Runs a handler body and turns its outcome into the response, logging one line per request:
/// request id, function, method, route (the template), status, code, latency, and what the
/// handler noted (user id; a webhook's event id, type and outcome). Never bodies, codes or tokens.
pub async fn respond<F, Fut>(req: Request, route: &str, handle: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Reply, Error>>,
{
    let started = std::time::Instant::now();
    let request_id = request_id(&req);
    let method = req.method().to_string();
    let (outcome, noted) = log::noting(handle(req)).await;
    let status = match &outcome {
        Ok(reply) => reply.status,
        Err(error) => error.status(),
    };
    let code = outcome.as_ref().err().map(Error::code);
    let latency_ms = started.elapsed().as_millis() as u64;
    crate::emf::request(route, status, latency_ms);
    macro_rules! request_line {
        ($level:ident, $message:literal $(, $extra:tt)*) => {
            tracing::$level!(
                %request_id,
                function = crate::http::log::function_name(),
                %method,
                route,
                status,
                code,
                latency_ms,
                user_id = noted.user_id.as_deref(),
                event_id = noted.event_id.as_deref(),
                event_type = noted.event_type.as_deref(),
                outcome = noted.outcome,
                $($extra,)*
                $message
            )
        };
    }
    match outcome {
        Ok(reply) => {
            request_line!(info, "request");
            let mut response = json_response(reply.status, &reply.body, &request_id);
            for (name, value) in reply.headers {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, v);
                }
            }
            response
        }
        Err(error) => {
            if status >= 500 {
                let detail = error.to_string();
                request_line!(error, "request failed", detail);
            } else {
                request_line!(info, "request refused");
            }
            error_response(&error, &request_id)
        }
    }
}

/// A request as lambda_http presents an API Gateway HTTP API event (the dev server and tests
/// build theirs with it): query parameters parsed, the caller's address in the context.
pub fn gateway_request(parts: lambda_http::http::request::Parts, body: Vec<u8>, source_ip: &str) -> Request {
    let query: lambda_http::aws_lambda_events::query_map::QueryMap =
        parts.uri.query().unwrap_or_default().parse().unwrap_or_default();
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = parts.method.clone();
    http.path = Some(parts.uri.path().to_string());
    http.source_ip = Some(source_ip.to_string());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.stage = Some("$default".into());
    context.http = http;
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let mut request = lambda_http::http::Request::from_parts(parts, body);
    request.extensions_mut().insert(RequestContext::ApiGatewayV2(context));
    request.with_query_string_parameters(query)
}

#[cfg(test)]
mod tests {
    use super::rate_subject;

    #[test]
    fn an_ipv6_address_counts_as_its_64_and_ipv4_as_itself() {
        assert_eq!(rate_subject("198.51.100.7"), "198.51.100.7");
        assert_eq!(rate_subject("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(rate_subject("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(rate_subject("2001:db8:1:3::1"), rate_subject("2001:db8:1:2::1"));
        assert_eq!(rate_subject("::ffff:198.51.100.7"), "198.51.100.7", "an IPv4-mapped address is its IPv4");
        assert_eq!(rate_subject("not an address"), "not an address");
    }
}
