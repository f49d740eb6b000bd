//! `tollgate event NAME`: a file of `events/` made ready to invoke (`sam local invoke -e`,
//! `cargo lambda invoke --data-file`): a token minted now for its `authorization` header, or its
//! webhook body signed now for `stripe-signature`. The files themselves hold placeholders, which
//! every function refuses (401, or `signature_expired`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tollgate::auth::Tokens;
use tollgate::auth::tokens::Subject;
use tollgate::config::{Config, ProcessEnv, Source};

/// The variables the functions read, with `TOLLGATE_ENV` development unless set (so the token
/// and signature use the development secrets `tollgate dev` and `cargo lambda watch` use).
struct EventEnv;

impl Source for EventEnv {
    fn get(&self, name: &str) -> Option<String> {
        ProcessEnv.get(name).or_else(|| (name == "TOLLGATE_ENV").then(|| "development".to_string()))
    }
}

/// The configuration whose secrets the event is signed with: the environment's.
pub fn config() -> Result<Config, String> {
    let uses = [tollgate::config::secrets::JWT_SECRET, tollgate::config::secrets::STRIPE_WEBHOOK_SECRET];
    Config::from_source_using(&EventEnv, &uses).map_err(|e| e.to_string())
}

/// Who the token is for.
pub struct Caller<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
}

/// The event `text` (an API Gateway or function URL event) with a fresh token and signature.
pub fn ready(text: &str, config: &Config, caller: &Caller, now: i64) -> Result<String, String> {
    let mut event: Value = serde_json::from_str(text).map_err(|e| format!("not a JSON event: {e}"))?;
    let headers = event.get_mut("headers").and_then(Value::as_object_mut).ok_or("the event has no headers")?;
    if headers.contains_key("authorization") {
        let subject = Subject {
            user_id: caller.user_id,
            email: caller.email,
            plan: "free",
            pro: false,
            admin: false,
            token_version: 0,
        };
        let (token, _) = Tokens::new(&config.tokens).mint(&subject, now).map_err(|e| e.to_string())?;
        headers.insert("authorization".into(), format!("Bearer {token}").into());
    }
    if headers.contains_key("stripe-signature") {
        let raw = event["body"].as_str().unwrap_or_default();
        let body = if event["isBase64Encoded"] == true {
            STANDARD.decode(raw).map_err(|e| format!("the body is not base64: {e}"))?
        } else {
            raw.as_bytes().to_vec()
        };
        let secret = config.stripe.webhook_secrets.first().ok_or("no STRIPE_WEBHOOK_SECRET")?;
        let header = tollgate::stripe::signature::header(&body, secret.expose(), now);
        event["headers"]["stripe-signature"] = header.into();
    }
    if let Some(context) = event.get_mut("requestContext").and_then(Value::as_object_mut) {
        context.insert("timeEpoch".into(), (now * 1000).into());
    }
    serde_json::to_string_pretty(&event).map_err(|e| e.to_string())
}
