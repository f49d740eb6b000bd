//! Every key Tollgate writes, in one place: the key design of the table (see `schema`).

use super::Holder;
use crate::store::Key;

pub(crate) fn user_pk(id: &str) -> String {
    format!("USER#{id}")
}
pub fn user(id: &str) -> Key {
    Key::new(user_pk(id), "PROFILE")
}
pub fn email_owner(email: &str) -> Key {
    Key::new(format!("EMAIL#{email}"), "USER")
}
/// Another issuer's user (`issuer` has no `#`, so the subject that follows cannot pass for one).
pub fn identity(issuer: &str, subject: &str) -> Key {
    Key::new(format!("IDENTITY#{issuer}#{subject}"), "USER")
}
pub(crate) const IDENTITY_SK: &str = "IDENTITY#";
/// The user's side of an identity link, found by erasure.
pub fn identity_of_user(user_id: &str, issuer: &str, subject: &str) -> Key {
    Key::new(user_pk(user_id), format!("{IDENTITY_SK}{issuer}#{subject}"))
}
pub fn login_code(email: &str) -> Key {
    Key::new(format!("EMAIL#{email}"), "CODE")
}
pub(crate) fn rate_pk(scope: &str, subject: &str) -> String {
    format!("RATE#{scope}#{subject}")
}
pub(crate) const RATE_WINDOW_SK: &str = "W#";
pub fn rate_window(scope: &str, subject: &str, window_start: i64) -> Key {
    Key::new(rate_pk(scope, subject), format!("{RATE_WINDOW_SK}{window_start}"))
}
pub fn order(id: &str) -> Key {
    Key::new(format!("ORDER#{id}"), "ORDER")
}
pub fn checkout_session(session_id: &str) -> Key {
    Key::new(format!("CHECKOUT#{session_id}"), "ORDER")
}
pub(crate) const PAYMENT_PK: &str = "PAYMENT#";
pub fn payment(payment_id: &str) -> Key {
    Key::new(format!("{PAYMENT_PK}{payment_id}"), "ORDER")
}
pub(crate) fn event_pk(id: &str) -> String {
    format!("EVENT#{id}")
}
pub fn event(id: &str) -> Key {
    Key::new(event_pk(id), "EVENT")
}
/// How many active grants of each plan a user holds, until when subscriptions grant plans, and
/// the principal subscription's summary: the user's plan is one read.
pub fn plans_held(user_id: &str) -> Key {
    Key::new(user_pk(user_id), "PLANS")
}
pub(crate) const USAGE_SK: &str = "USAGE#";
/// A metered feature's use in one calendar period (`D2026-11-23`, `M2026-11`).
pub fn usage(user_id: &str, feature: &str, period: &str) -> Key {
    Key::new(user_pk(user_id), format!("{USAGE_SK}{feature}#{period}"))
}
pub fn usage_request(user_id: &str, feature: &str, key: &str) -> Key {
    Key::new(user_pk(user_id), format!("{USAGE_SK}KEY#{feature}#{key}"))
}
pub(crate) const COUNT_SK: &str = "COUNT#";
/// How many records of a capped feature (`sessions`) a user keeps.
pub fn kept(user_id: &str, feature: &str) -> Key {
    Key::new(user_pk(user_id), format!("{COUNT_SK}{feature}"))
}
pub(crate) const SESSION_SK: &str = "SES#";
pub fn session(user_id: &str, session_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{SESSION_SK}{session_id}"))
}
pub(crate) const SESSION_ENTRY_SK: &str = "SESENTRY#";
pub(crate) fn session_entries_sk(session_id: &str) -> String {
    format!("{SESSION_ENTRY_SK}{session_id}#")
}
pub fn session_entry(user_id: &str, session_id: &str, entry_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{}{entry_id}", session_entries_sk(session_id)))
}
pub fn credit_balance(user_id: &str) -> Key {
    Key::new(user_pk(user_id), "CREDITS#BALANCE")
}
pub(crate) const LEDGER_SK: &str = "CREDITS#ENTRY#";
/// Entries sort by their sequence number: the order the changes were applied in.
pub fn ledger_entry(user_id: &str, seq: i64) -> Key {
    Key::new(user_pk(user_id), format!("{LEDGER_SK}{seq:012}"))
}
/// A keyed credit change's record; `scoped_key` says who chose the key (`RequestKey::scoped`).
pub fn credit_request(user_id: &str, scoped_key: &str) -> Key {
    Key::new(user_pk(user_id), format!("CREDITS#KEY#{scoped_key}"))
}
pub(crate) const GRANT_SK: &str = "GRANT#";
pub fn grant(holder: &Holder, order_id: &str) -> Key {
    Key::new(holder.pk(), format!("{GRANT_SK}{order_id}"))
}
pub(crate) const SUBSCRIPTION_SK: &str = "SUB#";
pub fn subscription(user_id: &str, subscription_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{SUBSCRIPTION_SK}{subscription_id}"))
}
pub(crate) const BILLING_SK: &str = "BILLING#";
/// Audit records sort by the event's time at Stripe.
pub fn billing_event(user_id: &str, created: i64, event_id: &str) -> Key {
    Key::new(user_pk(user_id), format!("{BILLING_SK}{created:010}#{event_id}"))
}
/// The index of every user's billing events by the UTC month (`2026-11`) of their time at
/// Stripe.
pub fn billing_month_index(month: &str) -> String {
    format!("BILLING#{month}")
}
pub(crate) const MEMBERS_SK: &str = "MEMBERS#";
/// Member-priced purchases started in one calendar month (`2026-11`).
pub fn member_uses(user_id: &str, month: &str) -> Key {
    Key::new(user_pk(user_id), format!("{MEMBERS_SK}{month}"))
}
pub(crate) const MAIL_SK: &str = "MAIL#";
pub fn event_mail(event_id: &str, kind: &str) -> Key {
    Key::new(event_pk(event_id), format!("{MAIL_SK}{kind}"))
}
pub(crate) fn customer_pk(customer: &str) -> String {
    format!("CUSTOMER#{customer}")
}
/// Who a Stripe customer belongs to: read strongly consistent (the GSI lags its writes).
pub fn customer_owner(customer: &str) -> Key {
    Key::new(customer_pk(customer), "OWNER")
}
pub(crate) const WAITING_SK: &str = "WAITING#";
/// An event about a customer not linked to a user yet, in the order Stripe created them.
pub fn waiting_event(customer: &str, created: i64, event_id: &str) -> Key {
    Key::new(customer_pk(customer), format!("{WAITING_SK}{created:010}#{event_id}"))
}

pub(crate) fn metrics_pk(shard: u8) -> String {
    format!("METRICS#{shard}")
}
/// One shard of a metrics counter: `<FAMILY>#<YYYY-MM-DD>` per UTC day, or `<FAMILY>#ALL`.
pub fn metric(shard: u8, family: &str, bucket: &str) -> Key {
    Key::new(metrics_pk(shard), format!("{family}#{bucket}"))
}

/// GSI1 partitions.
pub fn customer_index(customer: &str) -> String {
    customer_pk(customer)
}
pub fn purchaser_index(email: &str) -> String {
    format!("PURCHASER#{email}")
}
/// Every email not yet sent (nor given up on), in the order queued.
pub const OUTBOX_INDEX: &str = "OUTBOX";
