//! How the API shows what support and data-rights exports show: one user's records as JSON.

use serde_json::{Value, json};

use crate::clock::rfc3339;
use crate::domain::erasure::Erased;
use crate::domain::support::{Export, UserReport};
use crate::store::schema::{BillingEvent, Grant, LedgerEntry};

pub fn grant(g: &Grant) -> Value {
    json!({
        "order_id": g.order_id,
        "plan": if g.plan.is_empty() { None } else { Some(g.plan.as_str()) },
        "credits": g.credits,
        "payment_intent": g.payment_intent,
        "granted_at": rfc3339(g.granted_at),
        "revoked_at": g.revoked_at.map(rfc3339),
    })
}

pub fn ledger_entry(e: &LedgerEntry) -> Value {
    json!({
        "id": e.id,
        "delta": e.delta,
        "balance_after": e.balance_after,
        "reason": e.reason.as_str(),
        "note": e.note,
        "ref": e.reference,
        "shortfall": e.shortfall,
        "created_at": rfc3339(e.created_at),
    })
}

pub fn billing_event(e: &BillingEvent) -> Value {
    json!({
        "event_id": e.event_id,
        "type": e.event_type,
        "created": rfc3339(e.created),
        "amount": e.amount,
        "currency": e.currency,
        "status": e.status,
        "subscription": e.subscription,
        "invoice": e.invoice,
        "email": e.email,
    })
}

/// A user's report: profile, plan, grants, subscriptions, recent credits, billing and emails.
pub fn user_report(report: &UserReport) -> Value {
    let mut body = json!({
        "user": {
            "id": report.user.id,
            "email": report.user.email,
            "created_at": (report.user.created_at > 0).then(|| rfc3339(report.user.created_at)),
            "stripe_customer_id": report.user.stripe_customer_id,
        },
        "grants": report.grants.iter().map(grant).collect::<Vec<_>>(),
        "unclaimed": report.unclaimed.iter().map(grant).collect::<Vec<_>>(),
        "subscriptions": report.subscriptions.iter().map(|s| json!({
            "id": s.id,
            "plan": s.plan,
            "interval": s.interval.map(|i| i.as_str()),
            "status": s.status,
            "current_period_end": s.current_period_end.map(rfc3339),
            "trial_end": s.trial_end.map(rfc3339),
            "cancel_at_period_end": s.cancel_at_period_end,
            "access_until": s.access_until.filter(|u| *u != i64::MAX).map(rfc3339),
        })).collect::<Vec<_>>(),
        "credits": {
            "balance": report.credits.balance,
            "recent": report.credits.entries.iter().map(ledger_entry).collect::<Vec<_>>(),
        },
        "billing_events": report.billing_events.iter().map(billing_event).collect::<Vec<_>>(),
        "emails": report.emails.iter().map(|(event_id, kind, status)| json!({
            "event_id": event_id, "kind": kind, "status": status,
        })).collect::<Vec<_>>(),
    });
    if let Value::Object(map) = &mut body {
        map.extend(super::entitlement_fields(&report.entitlement));
    }
    body
}

/// Everything held about the user.
pub fn export(export: &Export, exported_at: i64) -> Value {
    let mut body = user_report(&export.report);
    if let Value::Object(map) = &mut body {
        map.insert("exported_at".into(), json!(rfc3339(exported_at)));
        map.insert("ledger".into(), export.ledger.iter().map(ledger_entry).collect());
        let orders = export.orders.iter().map(|o| {
            json!({
                "id": o.id,
                "plan": if o.plan.is_empty() { None } else { Some(o.plan.as_str()) },
                "pack": o.pack,
                "status": o.status.as_str(),
                "amount_total": o.amount_total,
                "currency": o.currency,
                "created_at": rfc3339(o.created_at),
                "paid_at": o.paid_at.map(rfc3339),
            })
        });
        map.insert("orders".into(), orders.collect());
        let sessions = export.sessions.iter().map(|(s, entries)| json!({
            "id": s.id,
            "kind": s.kind,
            "data": s.data,
            "created_at": rfc3339(s.created_at),
            "entries": entries.iter().map(|e| json!({ "id": e.id, "data": e.data, "created_at": rfc3339(e.created_at) })).collect::<Vec<_>>(),
        }));
        map.insert("sessions".into(), sessions.collect());
    }
    body
}

/// What an erasure did.
pub fn erased(e: &Erased) -> Value {
    json!({
        "erased": true,
        "user_id": e.user_id,
        "subscriptions_canceled": e.canceled,
        "records_deleted": e.deleted,
        "records_pseudonymised": e.pseudonymised,
    })
}
