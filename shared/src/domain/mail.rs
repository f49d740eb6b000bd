//! Billing emails: rendered from the templates in `shared/templates/email` (a `.txt` whose first
//! line is the subject, and an `.html`) with minijinja, queued in the store in the same
//! transaction as the event that causes them, then sent. Each is sent at most once per event,
//! even when the event is delivered again, and its outcome is logged on the queued item.
//!
//! The queued item is born claimed (`sending`) by the one delivery whose transaction committed
//! it, so the first send costs one write (its outcome). Until it is sent it stays in the outbox
//! index; the outbox sender (the `mailer` function on the table's stream and on a schedule; the
//! dev server in process) sends what failed, or what a delivery claimed and then abandoned
//! (still `sending` after longer than any Lambda can run), claiming it first, up to three tries.

use std::sync::OnceLock;

use minijinja::Environment;
use serde_json::Value;

use crate::app::App;
use crate::email::Email;
use crate::error::Error;
use crate::store::Tx;
use crate::store::schema::mail::{self as outbox, MailId, MailRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    TrialEnding,
    PaymentFailed,
    PaymentActionRequired,
    SubscriptionCanceled,
    Receipt,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::TrialEnding => "trial_ending",
            MailKind::PaymentFailed => "payment_failed",
            MailKind::PaymentActionRequired => "payment_action_required",
            MailKind::SubscriptionCanceled => "subscription_canceled",
            MailKind::Receipt => "receipt",
        }
    }
    fn template(self) -> &'static str {
        match self {
            MailKind::PaymentActionRequired => "payment_failed",
            other => other.as_str(),
        }
    }
}

/// Each email's text and HTML templates (the text's first line is the subject).
const TEMPLATES: [(&str, &str, &str); 4] = [
    ("receipt", include_str!("../../templates/email/receipt.txt"), include_str!("../../templates/email/receipt.html")),
    (
        "payment_failed",
        include_str!("../../templates/email/payment_failed.txt"),
        include_str!("../../templates/email/payment_failed.html"),
    ),
    (
        "trial_ending",
        include_str!("../../templates/email/trial_ending.txt"),
        include_str!("../../templates/email/trial_ending.html"),
    ),
    (
        "subscription_canceled",
        include_str!("../../templates/email/subscription_canceled.txt"),
        include_str!("../../templates/email/subscription_canceled.html"),
    ),
];

/// One email's two templates, compiled the first time that email is sent (a process compiles
/// only what it sends, once).
fn templates(name: &str) -> &'static Environment<'static> {
    static ENVS: [OnceLock<Environment<'static>>; 4] = [const { OnceLock::new() }; 4];
    let i = TEMPLATES.iter().position(|(n, _, _)| *n == name).expect("every kind has its templates");
    ENVS[i].get_or_init(|| {
        let (_, text, html) = TEMPLATES[i];
        let mut env = Environment::new();
        // A misspelled or missing variable is an error, never an empty string in a customer's email.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // The names' extensions choose the escaping: every value in the HTML is escaped.
        env.add_template("email.txt", text).expect("the built-in email templates parse");
        env.add_template("email.html", html).expect("the built-in email templates parse");
        env
    })
}

/// Renders one email. `.html` templates escape every value; the text's first line is the subject.
pub fn render(kind: MailKind, to: &str, context: &Value) -> Result<Email, Error> {
    let render = |ext: &str| {
        templates(kind.template())
            .get_template(&format!("email.{ext}"))
            .and_then(|t| t.render(minijinja::value::Serde(context)))
            .map_err(|e| Error::internal(format!("email template {}: {e}", kind.as_str())))
    };
    let text = render("txt")?;
    let (subject, body) = text.split_once('\n').unwrap_or((&text, ""));
    Ok(Email {
        to: to.to_string(),
        subject: subject.trim().to_string(),
        text: body.trim_start_matches('\n').to_string(),
        html: Some(render("html")?),
    })
}

/// An amount in a currency's smallest unit, as people read it: `9.00 USD`.
pub fn money(amount: i64, currency: Option<&str>) -> String {
    let currency = currency.unwrap_or("usd").to_uppercase();
    // Stripe's zero-decimal currencies are charged in whole units.
    const ZERO_DECIMAL: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    ];
    if ZERO_DECIMAL.contains(&currency.as_str()) {
        return format!("{amount} {currency}");
    }
    let sign = if amount < 0 { "-" } else { "" };
    let units = amount.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", units / 100, units % 100)
}

/// A date as people read it: `2026-11-23`.
pub fn date(epoch_secs: i64) -> String {
    crate::clock::rfc3339(epoch_secs).chars().take(10).collect()
}

/// An email waiting to be sent for an event.
#[derive(Debug, Clone)]
pub struct Queued {
    pub kind: MailKind,
    pub email: Email,
}

/// The write that queues `queued` for `event_id` (in the event's transaction).
pub fn queue(event_id: &str, user_id: &str, queued: &Queued, now: i64) -> Tx {
    let email = &queued.email;
    outbox::queue(&MailRecord {
        event_id: event_id.to_string(),
        user_id: user_id.to_string(),
        kind: queued.kind.as_str().to_string(),
        to: email.to.clone(),
        subject: email.subject.clone(),
        text: email.text.clone(),
        html: email.html.clone(),
        status: "sending".into(),
        attempts: 1,
        claimed_at: Some(now),
        created_at: now,
        sent_at: None,
        failed_at: None,
        error: None,
    })
}

/// What the outbox sender did with one queued email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Sent,
    Failed,
    /// Sent already, being sent by a live delivery, given up on, or claimed by another sender.
    Skipped,
}

/// Tries a failed send again on a later delivery of its event, up to this many attempts.
const MAX_ATTEMPTS: i64 = 3;

/// A claim older than this was abandoned: Lambda stops any function after 15 minutes.
const ABANDONED_AFTER_SECS: i64 = 15 * 60;

/// Due for a send: failed with tries left, or claimed and abandoned.
fn is_due(record: &MailRecord, now: i64) -> bool {
    let abandoned = record.status == "sending" && record.claimed_at.unwrap_or(0) + ABANDONED_AFTER_SECS < now;
    (record.status == "failed" || abandoned) && record.attempts < MAX_ATTEMPTS
}

fn email_of(record: &MailRecord) -> Email {
    Email {
        to: record.to.clone(),
        subject: record.subject.clone(),
        text: record.text.clone(),
        html: record.html.clone(),
    }
}

/// Sends one queued email if it is due.
pub async fn send_pending(app: &App, id: &MailId) -> Result<Sent, Error> {
    let Some(record) = outbox::get(&app.store, id).await? else { return Ok(Sent::Skipped) };
    if !is_due(&record, app.now()) {
        return Ok(Sent::Skipped);
    }
    Ok(send_one(app, id, &email_of(&record), &record.status, record.attempts).await)
}

/// Sends every due email in the outbox (the dev server's sender, and the mailer's schedule).
pub async fn drain(app: &App) -> Result<(usize, usize), Error> {
    let (mut sent, mut failed) = (0, 0);
    for id in outbox::outbox(&app.store, 100).await? {
        match send_pending(app, &id).await? {
            Sent::Sent => sent += 1,
            Sent::Failed => failed += 1,
            Sent::Skipped => {}
        }
    }
    Ok((sent, failed))
}

/// Sends what this delivery just queued (and so holds the claim on).
pub async fn send_queued(app: &App, event_id: &str, queued: &[Queued]) {
    for q in queued {
        let id = MailId { event_id: event_id.to_string(), kind: q.kind.as_str().to_string() };
        deliver(app, &id, &q.email, 1).await;
    }
}

/// A later delivery of an event: sends what failed (SES refused) or was abandoned (a crash after
/// the commit), never what was sent or is being sent.
pub async fn send_unsent(app: &App, event_id: &str) -> Result<(), Error> {
    let now = app.now();
    for record in outbox::for_event(&app.store, event_id).await? {
        if !is_due(&record, now) {
            continue;
        }
        let id = MailId { event_id: event_id.to_string(), kind: record.kind.clone() };
        send_one(app, &id, &email_of(&record), &record.status, record.attempts).await;
    }
    Ok(())
}

/// Claims the queued item (only one sender can move it from `from`), then sends it.
async fn send_one(app: &App, id: &MailId, email: &Email, from: &str, attempts: i64) -> Sent {
    match app.store.commit(outbox::claim(id, from, attempts, app.now())).await {
        Ok(()) => deliver(app, id, email, attempts + 1).await,
        Err(e) if e.is_condition() => Sent::Skipped,
        Err(e) => {
            tracing::warn!(error = %e, event_id = %id.event_id, kind = %id.kind, "could not claim a billing email");
            Sent::Skipped
        }
    }
}

/// Sends a claimed email and logs the outcome on its item; a sent one (or one out of tries)
/// leaves the outbox.
async fn deliver(app: &App, id: &MailId, email: &Email, attempts: i64) -> Sent {
    let outcome = app.email.send(email.clone()).await;
    let now = app.now();
    let (event_id, kind) = (&id.event_id, &id.kind);
    let (logged, sent) = match &outcome {
        Ok(()) => (outbox::sent(id, now), Sent::Sent),
        Err(e) => {
            tracing::warn!(error = %e, %event_id, %kind, attempts, "a billing email was not sent");
            let give_up = attempts >= MAX_ATTEMPTS;
            if give_up {
                tracing::error!(%event_id, %kind, "a billing email was given up on after {MAX_ATTEMPTS} tries");
            }
            (outbox::failed(id, &e.to_string(), now, give_up), Sent::Failed)
        }
    };
    if let Err(e) = app.store.commit(logged).await {
        tracing::warn!(error = %e, %event_id, %kind, "could not log a billing email's outcome");
    }
    sent
}

/// The logged outcome of one event's emails: (kind, status).
pub async fn outcomes(app: &App, event_id: &str) -> Result<Vec<(String, String)>, Error> {
    Ok(outbox::for_event(&app.store, event_id).await?.into_iter().map(|r| (r.kind, r.status)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_renders_a_subject_text_and_escaped_html() {
        let context = json!({ "product": "Pro <b>", "amount": "9.00 USD", "date": "2026-11-23",
            "invoice_url": "https://invoice.stripe.com/i/x", "grace_days": 7, "action_required": false,
            "cancel_scheduled": false });
        for kind in [
            MailKind::TrialEnding,
            MailKind::PaymentFailed,
            MailKind::PaymentActionRequired,
            MailKind::SubscriptionCanceled,
            MailKind::Receipt,
        ] {
            let email = render(kind, "a@example.com", &context).unwrap();
            assert!(email.subject.contains("Pro <b>"), "{kind:?}: {}", email.subject);
            assert!(!email.subject.contains("{{"), "{kind:?}");
            assert!(email.text.contains("Pro <b>"), "{kind:?} text is not escaped");
            let html = email.html.unwrap();
            assert!(html.contains("Pro &lt;b&gt;") && !html.contains("Pro <b>"), "{kind:?} html escapes");
        }
        let failed = render(MailKind::PaymentFailed, "a@example.com", &context).unwrap();
        assert!(failed.text.contains("https://invoice.stripe.com/i/x") && failed.text.contains("7 days"));
        let mut asked = context.clone();
        asked["action_required"] = json!(true);
        let action = render(MailKind::PaymentActionRequired, "a@example.com", &asked).unwrap();
        assert!(action.subject.starts_with("Please confirm"));
    }

    #[test]
    fn a_missing_variable_is_an_error_not_an_empty_string() {
        let missing = json!({ "product": "Pro", "date": "2026-11-23" });
        let err = render(MailKind::Receipt, "a@example.com", &missing).unwrap_err();
        assert!(err.to_string().contains("receipt") || matches!(err, Error::Internal(_)), "{err}");
    }

    #[test]
    fn money_reads_as_people_write_it() {
        assert_eq!(money(900, Some("usd")), "9.00 USD");
        assert_eq!(money(12345, Some("eur")), "123.45 EUR");
        assert_eq!(money(500, Some("jpy")), "500 JPY");
        assert_eq!(date(1_768_478_400), "2026-01-15");
    }
}
