//! Sign-in with emailed one-time codes. A request stores a new code (replacing any earlier one,
//! at most once per cooldown) as a keyed hash, within per-email and per-address rate limits, in
//! one transaction; verifying spends it once, and the fifth wrong attempt burns it. Each attempt
//! is taken before the code is compared, from the code's five and from the email's day: past
//! `SIGN_IN_ATTEMPTS_PER_DAY`, one attempt per window (so at most about 20 + 96 guesses a day,
//! and a user locked out by someone else's guessing gets in once that guessing stops, at the next
//! window at the latest).

use crate::app::App;
use crate::auth::{codes, normalize_email};
use crate::email::Email;
use crate::error::Error;
use crate::store::Label;
use crate::store::schema::User;
use crate::store::schema::codes::{self as stored, LoginCode};

use super::users::find_or_create_user;

pub struct CodeSent {
    /// Only with `DEBUG_AUTH_CODES=1` in development.
    pub debug_code: Option<String>,
}

fn email_or_400(raw: &str) -> Result<String, Error> {
    normalize_email(raw).ok_or_else(|| Error::bad_request("invalid_email", "email is not a valid address"))
}

/// The same answer whether or not the email belongs to a user.
pub async fn request_code(app: &App, raw_email: &str, source_ip: Option<&str>) -> Result<CodeSent, Error> {
    let email = email_or_400(raw_email)?;
    let now = app.now();
    let auth = &app.config.auth;
    let window_start = now - now.rem_euclid(auth.window_secs);
    let code = codes::generate();
    let stored_code = LoginCode {
        hash: codes::hash(app.code_key(), &email, &code),
        code_id: uuid::Uuid::new_v4().simple().to_string(),
        issued_at: now,
        expires_at: now + codes::CODE_TTL_SECS,
        attempts: 0,
        used_at: None,
    };
    let mut tx = stored::issue(&email, &stored_code, auth.resend_cooldown_secs);
    tx.append(stored::count_request("email", &email, window_start, auth.window_secs, auth.email_limit));
    if let Some(ip) = source_ip {
        let subject = crate::http::rate_subject(ip);
        tx.append(stored::count_request("ip", &subject, window_start, auth.window_secs, auth.ip_limit));
    }
    match app.store.transact(tx).await {
        Ok(()) => {}
        Err(e) if e.refused(Label::Code) && !e.refused(Label::RateLimit) => {
            return Err(Error::RateLimited { retry_after_secs: auth.resend_cooldown_secs.max(1) as u64 });
        }
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
    let stored = stored::get(&app.store, &email).await?.ok_or_else(expired)?;
    if stored.used_at.is_some() || stored.attempts >= codes::MAX_ATTEMPTS || now >= stored.expires_at {
        return Err(expired());
    }
    // The attempt is taken before the code is compared, so no number of concurrent guesses gets
    // more than the code's attempts and the day's; only the code that was read may be changed.
    let auth = &app.config.auth;
    let window_start = now - now.rem_euclid(auth.window_secs);
    let allowance =
        stored::Allowance { day_start: now - now.rem_euclid(86_400), per_day: auth.attempts_per_day, window_start };
    match app.store.transact(stored::take_attempt(&email, &stored.code_id, codes::MAX_ATTEMPTS, &allowance)).await {
        Ok(()) => {}
        Err(e) if e.refused(Label::Code) => return Err(expired()),
        Err(e) if e.refused(Label::RateLimit) => {
            return Err(Error::RateLimited { retry_after_secs: (window_start + auth.window_secs - now).max(1) as u64 });
        }
        Err(e) => return Err(e.into()),
    }
    if !codes::matches(app.code_key(), &email, offered, &stored.hash) {
        return Err(Error::unauthorized("invalid_code", "the code is not correct"));
    }
    if !stored::spend(&app.store, &email, &stored.code_id, codes::MAX_ATTEMPTS, now).await? {
        return Err(expired());
    }
    find_or_create_user(&app.store, &email, now).await
}
