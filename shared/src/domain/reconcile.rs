//! Reconciliation: what Stripe holds, compared with what Tollgate applied, and anything missed
//! (a webhook never delivered, an endpoint down past Stripe's retries, an account moved onto
//! Tollgate) applied through the webhook's own exactly-once paths.
//!
//! Each Stripe object is applied as an event Tollgate makes of it, with an id of its own
//! namespace (`reconcile:<object>:<state>`; Stripe's ids are `evt_...`), so a second run finds
//! each recorded and changes nothing, and a state the webhook already applied is refused by the
//! effects' own conditions (an order paid once, a refund taken back once). Subscriptions are
//! compared with the stored record first: only a difference is applied.

use std::collections::BTreeMap;

use serde_json::Value;

use super::stripe_events::{self, Outcome, Receipt};
use super::{subscriptions, users};
use crate::app::App;
use crate::error::Error;
use crate::store::schema::metrics::{self, Counts, Family};
use crate::stripe::{CheckoutSession, Event, Subscription};

/// What a run did: a line per change, and the counts (also added to the admin metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ReconcileReport))]
pub struct Report {
    pub changes: Vec<String>,
    pub counts: BTreeMap<String, i64>,
    /// Objects Stripe holds that Tollgate could not place (no user, a price not in the catalog).
    pub skipped: Vec<String>,
}

/// How far back a run looks when not told (the daily schedule's overlap: a day missed is
/// caught by the next two runs).
pub const DEFAULT_DAYS: i64 = 3;

/// The counters a run adds to, in the admin metrics' `reconciled` family.
pub const COUNTERS: [&str; 6] =
    ["purchases", "subscriptions", "refunds", "disputes", "users_imported", "customers_linked"];

impl Report {
    fn changed(&mut self, counter: &str, line: String) {
        *self.counts.entry(counter.to_string()).or_default() += 1;
        self.changes.push(line);
    }
}

fn event_of(id: String, event_type: &str, object: Value, created: i64) -> Result<Event, Error> {
    if !object.is_object() {
        return Err(Error::internal(format!("an event of a Stripe object: {object} is not an object")));
    }
    Ok(Event::of(id, event_type, object["livemode"].as_bool().unwrap_or(false), created, &object))
}

fn id_of(object: &Value) -> String {
    object["id"].as_str().unwrap_or_default().to_string()
}

/// Applies `event`: Some(outcome) when it changed something.
async fn apply(app: &App, report: &mut Report, event: &Event) -> Result<Option<Outcome>, Error> {
    match stripe_events::apply(app, event).await? {
        Receipt::Applied(Outcome::WaitingForCustomer) => {
            report.skipped.push(format!("{:?}: waiting for its customer to sign in", event.object_id()));
            Ok(None)
        }
        Receipt::Applied(outcome) => Ok(Some(outcome)),
        Receipt::Duplicate | Receipt::Ignored(Outcome::AlreadyApplied) => Ok(None),
        Receipt::Ignored(outcome) => {
            report.skipped.push(format!("{}: {outcome}", event.object_id()));
            Ok(None)
        }
    }
}

/// Reconciles what Stripe holds from `since` (Stripe's time) on: imports customers Tollgate does
/// not know (matched to users by email, created when missing), then applies paid Checkout
/// Sessions, subscriptions that differ, refunds and disputes. Counts the changes in the admin
/// metrics.
pub async fn run(app: &App, since: i64) -> Result<Report, Error> {
    let walk =
        app.stripe.walk(since).await.map_err(|e| Error::Stripe { message: e.to_string(), fallback_url: None })?;
    let mut report = Report::default();
    let now = app.now();
    // Objects of the other mode (test/live) than the key are not this deployment's.
    let livemode = app.config.stripe.livemode();
    let ours = |o: &&Value| o["livemode"].as_bool() == Some(livemode);
    for customer in &walk.customers {
        import_customer(app, &mut report, customer).await?;
    }
    for session in walk.paid_sessions.iter().filter(ours) {
        // A subscription's session only syncs the subscription: nothing to do once it is stored.
        if session["mode"] == "subscription" && subscription_stored(app, session).await? {
            continue;
        }
        let event =
            event_of(format!("reconcile:{}:paid", id_of(session)), "checkout.session.completed", session.clone(), now)?;
        if let Some(outcome) = apply(app, &mut report, &event).await? {
            report.changed("purchases", format!("checkout session {}: {outcome}", id_of(session)));
        }
    }
    for object in walk.subscriptions.iter().filter(ours) {
        reconcile_subscription(app, &mut report, object, now).await?;
    }
    for charge in walk.refunded_charges.iter().filter(ours) {
        let state = format!("refunded{}", charge["amount_refunded"].as_i64().unwrap_or(0));
        let event = event_of(format!("reconcile:{}:{state}", id_of(charge)), "charge.refunded", charge.clone(), now)?;
        if let Some(outcome) = apply(app, &mut report, &event).await? {
            report.changed("refunds", format!("charge {}: {outcome}", id_of(charge)));
        }
    }
    for dispute in walk.disputes.iter().filter(ours) {
        let status = dispute["status"].as_str().unwrap_or_default();
        // Opened, then (when Stripe decided) closed: each once, in that order.
        let mut kinds = vec![("charge.dispute.created", "opened")];
        if matches!(status, "won" | "lost") {
            kinds.push(("charge.dispute.closed", status));
        }
        for (event_type, state) in kinds {
            let event = event_of(format!("reconcile:{}:{state}", id_of(dispute)), event_type, dispute.clone(), now)?;
            if let Some(outcome) = apply(app, &mut report, &event).await? {
                report.changed("disputes", format!("dispute {} {state}: {outcome}", id_of(dispute)));
            }
        }
    }
    let counts: Counts = report.counts.clone();
    if !counts.is_empty() {
        app.store.commit(metrics::count_day(Family::Reconcile, &format!("reconcile:{now}"), now, &counts)).await?;
    }
    Ok(report)
}

/// Whether the subscription a subscription-mode session started is stored for its user.
async fn subscription_stored(app: &App, session: &Value) -> Result<bool, Error> {
    let Ok(session) = serde_json::from_value::<CheckoutSession>(session.clone()) else { return Ok(false) };
    let Some(sub) = session.subscription() else { return Ok(false) };
    let Some(user) = stripe_events::user_for(app, &session.metadata, session.customer()).await? else {
        return Ok(false);
    };
    Ok(subscriptions::subscriptions_of(app, &user).await?.iter().any(|r| r.id == sub))
}

/// A customer Tollgate does not know: linked to the user with its email (made when missing).
/// Customers without an email cannot be matched and are left alone.
async fn import_customer(app: &App, report: &mut Report, customer: &Value) -> Result<(), Error> {
    let id = id_of(customer);
    if id.is_empty() || users::owner_of_customer(&app.store, &id).await?.is_some() {
        return Ok(());
    }
    let Some(email) = customer["email"].as_str().and_then(crate::auth::normalize_email) else {
        report.skipped.push(format!("customer {id}: no email to match a user by"));
        return Ok(());
    };
    let existed = users::user_id_for_email(&app.store, &email).await?.is_some();
    let user = users::find_or_create_user(&app.store, &email, app.now()).await?;
    app.store.transact(users::link_customer(&user.id, &email, &id)).await?;
    if !existed {
        report.changed("users_imported", format!("user {} made for {email} (customer {id})", user.id));
    }
    report.changed("customers_linked", format!("customer {id} linked to user {}", user.id));
    Ok(())
}

/// A subscription whose stored record differs from Stripe's state (or that Tollgate never
/// stored) is applied as Stripe's latest state.
async fn reconcile_subscription(app: &App, report: &mut Report, object: &Value, now: i64) -> Result<(), Error> {
    let Ok(sub) = serde_json::from_value::<Subscription>(object.clone()) else {
        report.skipped.push(format!("subscription {}: unreadable", id_of(object)));
        return Ok(());
    };
    let user = stripe_events::user_for(app, &sub.metadata, sub.customer()).await?;
    let Some(user) = user else {
        report.skipped.push(format!("subscription {}: its customer is no Tollgate user", sub.id));
        return Ok(());
    };
    let Some(plan) = subscriptions::plan_of(&app.catalog, &sub).map(|(p, i)| (p.to_string(), i)) else {
        report.skipped.push(format!("subscription {}: its price is not in the catalog", sub.id));
        return Ok(());
    };
    let stored = subscriptions::subscriptions_of(app, &user).await?.into_iter().find(|r| r.id == sub.id);
    let same = stored.as_ref().is_some_and(|r| {
        r.status == sub.status
            && r.current_period_end == sub.current_period_end()
            && r.cancel_at_period_end == sub.cancel_at_period_end
            && r.cancel_at == sub.cancel_at
            && (r.plan.as_str(), r.interval) == (plan.0.as_str(), plan.1)
    });
    if same {
        return Ok(());
    }
    let event_type =
        if sub.status == "canceled" { "customer.subscription.deleted" } else { "customer.subscription.updated" };
    let state = format!("{}:{}", sub.status, sub.current_period_end().unwrap_or(0));
    let event = event_of(format!("reconcile:{}:{state}:{now}", sub.id), event_type, object.clone(), now)?;
    if let Some(outcome) = apply(app, report, &event).await? {
        report.changed("subscriptions", format!("subscription {} ({}): {outcome}", sub.id, sub.status));
    }
    Ok(())
}
