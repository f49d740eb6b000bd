//! Sign-in with emailed one-time codes. A request stores a new code (replacing any earlier one)
//! as a keyed hash, within per-email and per-address rate limits, in one transaction; verifying
//! spends it once, and the fifth wrong attempt burns it.

use crate::app::App;
use crate::auth::{codes, normalize_email};
use crate::email::Email;
use crate::error::Error;
use crate::store::records::{self, User};
use crate::store::{Condition, Item, TTL, Update, Write};

use super::users::find_or_create_user;

pub struct CodeSent {
    /// Only with `DEBUG_AUTH_CODES=1` in development.
    pub debug_code: Option<String>,
}

fn email_or_400(raw: &str) -> Result<String, Error> {
    normalize_email(raw).ok_or_else(|| Error::bad_request("invalid_email", "email is not a valid address"))
}

fn rate_write(scope: &str, subject: &str, window_start: i64, window: i64, limit: i64) -> Write {
    Write::Update(
        Update::new(records::rate_window(scope, subject, window_start))
            .add("count", 1)
            .set_if_absent(TTL, window_start + window + 3600)
            .when(Condition::AbsentOrBelow("count".into(), limit)),
    )
}

/// The same answer whether or not the email belongs to a user.
pub async fn request_code(app: &App, raw_email: &str, source_ip: Option<&str>) -> Result<CodeSent, Error> {
    let email = email_or_400(raw_email)?;
    let now = app.now();
    let auth = &app.config.auth;
    let window_start = now - now.rem_euclid(auth.window_secs);
    let code = codes::generate();
    let code_item = Item::new(&records::login_code(&email))
        .with("hash", codes::hash(app.code_key(), &email, &code))
        .with("code_id", uuid::Uuid::new_v4().simple().to_string())
        .with("issued_at", now)
        .with("expires_at", now + codes::CODE_TTL_SECS)
        .with("attempts", 0)
        .with(TTL, now + codes::CODE_TTL_SECS + 86_400);
    let mut writes =
        vec![Write::put(code_item), rate_write("email", &email, window_start, auth.window_secs, auth.email_limit)];
    if let Some(ip) = source_ip {
        writes.push(rate_write("ip", ip, window_start, auth.window_secs, auth.ip_limit));
    }
    match app.store.transact(writes).await {
        Ok(()) => {}
        Err(e) if e.is_condition() => {
            return Err(Error::RateLimited { retry_after_secs: (window_start + auth.window_secs - now).max(1) as u64 });
        }
        Err(e) => return Err(e.into()),
    }
    let text = format!(
        "Your sign-in code is {code}.\n\nIt expires in {} minutes. If you did not ask for it, ignore this email.\n",
        codes::CODE_TTL_SECS / 60
    );
    app.email.send(Email { to: email.clone(), subject: "Your sign-in code".into(), text, html: None }).await.map_err(
        |e| {
            tracing::error!(error = %e, "sign-in email failed");
            Error::EmailFailed
        },
    )?;
    Ok(CodeSent { debug_code: app.config.auth.debug_codes.then_some(code) })
}

fn expired() -> Error {
    Error::unauthorized("code_expired", "the code has expired or was already used; request a new one")
}

/// Spends a code and returns the (possibly new) user.
pub async fn verify_code(app: &App, raw_email: &str, offered: &str) -> Result<User, Error> {
    let email = email_or_400(raw_email)?;
    let offered = offered.trim();
    if offered.len() != 6 || !offered.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::bad_request("invalid_field", "code must be 6 digits"));
    }
    let now = app.now();
    let key = records::login_code(&email);
    let stored = app.store.get(&key).await?.ok_or_else(expired)?;
    let (Some(hash), Some(code_id)) = (stored.string("hash"), stored.string("code_id")) else {
        return Err(expired());
    };
    let attempts = stored.num("attempts").unwrap_or(0);
    if stored.get("used_at").is_some()
        || attempts >= codes::MAX_ATTEMPTS
        || now >= stored.num("expires_at").unwrap_or(0)
    {
        return Err(expired());
    }
    // Only the code that was read, still unspent, may be changed: a resend or a racing verify wins.
    let same_live_code = Condition::And(vec![
        Condition::equals("code_id", code_id.as_str()),
        Condition::absent("used_at"),
        Condition::AbsentOrBelow("attempts".into(), codes::MAX_ATTEMPTS),
    ]);
    if !codes::matches(app.code_key(), &email, offered, &hash) {
        return match app.store.update(Update::new(key).add("attempts", 1).when(same_live_code)).await {
            Ok(_) => Err(Error::unauthorized("invalid_code", "the code is not correct")),
            Err(e) if e.is_condition() => Err(expired()),
            Err(e) => Err(e.into()),
        };
    }
    match app.store.update(Update::new(key).set("used_at", now).when(same_live_code)).await {
        Ok(_) => {}
        Err(e) if e.is_condition() => return Err(expired()),
        Err(e) => return Err(e.into()),
    }
    find_or_create_user(&app.store, &email, now).await
}
