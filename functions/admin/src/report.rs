//! Support's views: one user's access and money, and the deployment's diagnostics.

use serde_json::{Value, json};
use tollgate::auth::admin;
use tollgate::clock::rfc3339;
use tollgate::domain::{health, support};
use tollgate::http::{self, Reply, Request};
use tollgate::store::schema::Grant;
use tollgate::{App, Error};

fn grant_json(g: &Grant) -> Value {
    json!({
        "order_id": g.order_id,
        "plan": if g.plan.is_empty() { None } else { Some(g.plan.as_str()) },
        "credits": g.credits,
        "payment_intent": g.payment_intent,
        "granted_at": rfc3339(g.granted_at),
        "revoked_at": g.revoked_at.map(rfc3339),
    })
}

/// `GET /api/admin/users/{user}`: by id (`usr_...`) or email.
pub async fn user(app: &App, req: &Request, key: &str) -> Result<Reply, Error> {
    admin(app, req)?;
    let key = key.trim();
    if key.is_empty() || key.len() > 320 {
        return Err(Error::bad_request("invalid_field", "give a user id or an email"));
    }
    let report = support::report(app, key).await?.ok_or_else(|| Error::not_found("user_not_found", "no such user"))?;
    let mut body = json!({
        "user": {
            "id": report.user.id,
            "email": report.user.email,
            "created_at": (report.user.created_at > 0).then(|| rfc3339(report.user.created_at)),
            "stripe_customer_id": report.user.stripe_customer_id,
        },
        "grants": report.grants.iter().map(grant_json).collect::<Vec<_>>(),
        "unclaimed": report.unclaimed.iter().map(grant_json).collect::<Vec<_>>(),
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
            "recent": report.credits.entries.iter().map(|e| json!({
                "id": e.id,
                "delta": e.delta,
                "balance_after": e.balance_after,
                "reason": e.reason.as_str(),
                "note": e.note,
                "ref": e.reference,
                "shortfall": e.shortfall,
                "created_at": rfc3339(e.created_at),
            })).collect::<Vec<_>>(),
        },
        "billing_events": report.billing_events.iter().map(|e| json!({
            "event_id": e.event_id,
            "type": e.event_type,
            "created": rfc3339(e.created),
            "amount": e.amount,
            "currency": e.currency,
            "status": e.status,
            "email": e.email,
        })).collect::<Vec<_>>(),
        "emails": report.emails.iter().map(|(event_id, kind, status)| json!({
            "event_id": event_id, "kind": kind, "status": status,
        })).collect::<Vec<_>>(),
    });
    if let Value::Object(map) = &mut body {
        map.extend(http::entitlement_fields(&report.entitlement));
    }
    Ok(Reply::ok(body))
}

/// `GET /api/diagnostics`: administrators only in production; open in development.
pub async fn diagnostics(app: &App, req: &Request) -> Result<Reply, Error> {
    if !app.config.is_development() {
        admin(app, req)?;
    }
    Ok(Reply::ok(health::diagnose(app).await))
}
