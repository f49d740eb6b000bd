//! Plan changes for a live subscription: an upgrade (a higher-ranked plan, or the same plan
//! billed yearly instead of monthly) switches now with the proration invoiced at once; a
//! downgrade (a lower-ranked plan, or yearly to monthly) waits for the period's end in a
//! subscription schedule, shown as the subscription's `scheduled_change` until it happens or
//! is canceled. Access follows Stripe's answer and its webhook events, through the same
//! versioned writes as every subscription change.

use serde_json::Value;

use super::subscriptions::{self, Applied, ScheduledChange, SubscriptionRecord};
use crate::app::App;
use crate::catalog::{Catalog, Interval};
use crate::error::Error;
use crate::http::api::{ChangePreview, PlanChanged, PreviewLine};
use crate::store::Tx;
use crate::stripe::{Event, PlanChange, StripeError, Subscription, SubscriptionSchedule};

/// When a change takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effective {
    Now,
    PeriodEnd,
}

impl Effective {
    pub fn as_str(self) -> &'static str {
        match self {
            Effective::Now => "now",
            Effective::PeriodEnd => "period_end",
        }
    }
}

/// The change a schedule still has to make at `now`: its next phase's price, when that is a
/// catalog plan other than the current phase's.
pub fn change_of(catalog: &Catalog, schedule: &SubscriptionSchedule, now: i64) -> Option<ScheduledChange> {
    let next = schedule.next_phase(now)?;
    let price = next.price()?;
    if schedule.current_phase(now).and_then(|p| p.price()) == Some(price) {
        return None;
    }
    let Some((plan, interval)) = catalog.plan_for_subscription_price(price) else {
        tracing::warn!(schedule = %schedule.id, "a scheduled price is not in the catalog");
        return None;
    };
    Some(ScheduledChange {
        schedule: schedule.id.clone(),
        plan: plan.key.clone(),
        interval: Some(interval),
        at: next.start_date,
    })
}

/// Whether moving from (plan, interval) to the target is an upgrade, which happens now.
fn direction(catalog: &Catalog, from: (&str, Option<Interval>), to: (&str, Interval)) -> Effective {
    let rank = |plan: &str| catalog.plan(plan).map_or(i64::MIN, |p| p.rank);
    match rank(to.0).cmp(&rank(from.0)) {
        std::cmp::Ordering::Greater => Effective::Now,
        std::cmp::Ordering::Less => Effective::PeriodEnd,
        std::cmp::Ordering::Equal if to.1 == Interval::Year => Effective::Now,
        std::cmp::Ordering::Equal => Effective::PeriodEnd,
    }
}

fn stripe_error(e: StripeError) -> Error {
    match e {
        StripeError::Api { status: 402, message } => Error::PaymentRequired {
            code: "payment_failed",
            message: format!("the change could not be paid: {message}"),
            details: Value::Null,
        },
        e => Error::Stripe { message: e.to_string(), fallback_url: None },
    }
}

/// The live subscription a change applies to, as Stripe holds it now.
struct Current {
    record: SubscriptionRecord,
    sub: Subscription,
    plan: String,
    interval: Option<Interval>,
}

async fn current(app: &App, user_id: &str) -> Result<Current, Error> {
    let subs = subscriptions::subscriptions_of(app, user_id).await?;
    let now = app.now();
    let record = subscriptions::principal(&app.catalog, &subs, now)
        .filter(|s| matches!(s.status.as_str(), "active" | "trialing"))
        .cloned()
        .ok_or_else(|| Error::not_found("no_subscription", "there is no active subscription to change"))?;
    let sub = app
        .stripe
        .subscription(&record.id)
        .await
        .map_err(stripe_error)?
        .filter(|s| matches!(s.status.as_str(), "active" | "trialing"))
        .ok_or_else(|| Error::not_found("no_subscription", "there is no active subscription to change"))?;
    let (plan, interval) = subscriptions::plan_of(&app.catalog, &sub)
        .map(|(p, i)| (p.to_string(), i))
        .ok_or_else(|| Error::conflict("unknown_plan", "the subscription's price is not in the catalog"))?;
    if sub.cancel_at_period_end || sub.cancel_at.is_some() {
        return Err(Error::conflict(
            "subscription_ending",
            "the subscription is set to end: renew it in the billing portal before changing plan",
        ));
    }
    Ok(Current { record, sub, plan, interval })
}

/// The target plan and interval, checked against the catalog.
fn target(app: &App, plan: &str, interval: &str, current: &Current) -> Result<(PlanChange, Effective), Error> {
    let offer = app
        .catalog
        .plan(plan)
        .and_then(|p| p.subscription.as_ref())
        .ok_or_else(|| Error::bad_request("unknown_plan", "no plan by that key is sold by subscription"))?;
    let wanted = Interval::parse(interval)
        .ok_or_else(|| Error::bad_request("invalid_field", "interval is `month` or `year`"))?;
    let price = offer
        .prices
        .get(&wanted)
        .ok_or_else(|| Error::bad_request("unknown_interval", "that plan is not sold by that interval"))?;
    if current.plan == plan && current.interval == Some(wanted) {
        return Err(Error::conflict("already_on_plan", "the subscription is already on that plan and interval"));
    }
    let item = current
        .sub
        .item_id()
        .ok_or_else(|| Error::Stripe { message: "the subscription has no item".into(), fallback_url: None })?;
    let change = PlanChange {
        subscription: current.sub.id.clone(),
        item,
        price: price.clone(),
        plan: plan.to_string(),
        interval: wanted.as_str().to_string(),
    };
    Ok((change, direction(&app.catalog, (&current.plan, current.interval), (plan, wanted))))
}

/// Applies what the simulated Stripe says it would have sent, through the webhook's path.
async fn deliver(app: &App, events: Vec<Vec<u8>>) -> Result<(), Error> {
    for body in events {
        let event = Event::parse(&body).map_err(|e| Error::internal(e.to_string()))?;
        super::stripe_events::apply(app, &event).await?;
    }
    Ok(())
}

/// Stores the schedule's state as Stripe answered it: with real Stripe, the answer (its events
/// follow through the webhook); with the simulation, the events it would send.
async fn keep_schedule(
    app: &App,
    (user_id, sub_id): (&str, &str),
    change: Option<ScheduledChange>,
    events: Vec<Vec<u8>>,
) -> Result<(), Error> {
    if events.is_empty() {
        subscriptions::set_scheduled(app, user_id, sub_id, (change, app.now(), true), &Tx::new).await?;
        return Ok(());
    }
    deliver(app, events).await
}

/// What a change did: when it takes effect, and the scheduled change when it waits.
pub struct Changed {
    pub effective: Effective,
    pub subscription: String,
    pub plan: String,
    pub interval: String,
    pub at: Option<i64>,
}

impl Changed {
    pub fn view(&self) -> PlanChanged {
        PlanChanged {
            effective: self.effective.as_str().into(),
            subscription: self.subscription.clone(),
            plan: self.plan.clone(),
            interval: self.interval.clone(),
            at: self.at.map(crate::clock::rfc3339),
        }
    }
}

/// `POST /api/billing/change`.
pub async fn change(app: &App, user_id: &str, plan: &str, interval: &str) -> Result<Changed, Error> {
    let current = current(app, user_id).await?;
    let (change, effective) = target(app, plan, interval, &current)?;
    let key = format!("change-{}-{}", change.subscription, uuid::Uuid::new_v4().simple());
    let now = app.now();
    let at = match effective {
        Effective::Now => {
            if let Some(schedule) = current.sub.schedule() {
                // The upgrade replaces a pending downgrade.
                let events = app
                    .stripe
                    .release_schedule(&schedule, &format!("{key}-release"), now)
                    .await
                    .map_err(stripe_error)?;
                keep_schedule(app, (user_id, &change.subscription), None, events).await?;
            }
            let (answer, events) = app.stripe.change_price_now(&change, &key, now).await.map_err(stripe_error)?;
            if events.is_empty() {
                match subscriptions::apply_answer(app, user_id, answer, &key).await? {
                    Applied::Stored { .. } | Applied::Refused(_) => {}
                    Applied::UnknownToStripe | Applied::UnknownPlan => {
                        return Err(Error::internal("Stripe's answer to a plan change could not be stored"));
                    }
                }
            }
            deliver(app, events).await?;
            None
        }
        Effective::PeriodEnd => {
            let current_price = current.sub.price_ids().into_iter().next().unwrap_or_default();
            let (schedule, events) = app
                .stripe
                .schedule_change(&current.sub, &change, &current_price, user_id, (&key, now))
                .await
                .map_err(stripe_error)?;
            let scheduled = change_of(&app.catalog, &schedule, now);
            let at = scheduled.as_ref().map(|c| c.at);
            keep_schedule(app, (user_id, &change.subscription), scheduled, events).await?;
            at
        }
    };
    tracing::info!(user_id, subscription = %change.subscription, plan, interval, effective = effective.as_str(), "plan change");
    Ok(Changed { effective, subscription: change.subscription, plan: change.plan, interval: change.interval, at })
}

/// `DELETE /api/billing/change`: the subscription goes on as it is.
pub async fn cancel_scheduled(app: &App, user_id: &str) -> Result<(), Error> {
    let current = current(app, user_id).await?;
    let Some(schedule) =
        current.sub.schedule().or_else(|| current.record.scheduled.as_ref().map(|c| c.schedule.clone()))
    else {
        return Err(Error::not_found("no_scheduled_change", "no plan change is scheduled"));
    };
    let key = format!("release-{schedule}-{}", uuid::Uuid::new_v4().simple());
    let events = app.stripe.release_schedule(&schedule, &key, app.now()).await.map_err(stripe_error)?;
    keep_schedule(app, (user_id, &current.sub.id), None, events).await
}

/// `GET /api/billing/change/preview`: what the customer pays now for the change (nothing for a
/// change at the period's end), per Stripe's invoice preview.
pub async fn preview(app: &App, user_id: &str, plan: &str, interval: &str) -> Result<ChangePreview, Error> {
    let current = current(app, user_id).await?;
    let (change, effective) = target(app, plan, interval, &current)?;
    let customer = current.sub.customer().unwrap_or_default();
    let currency = current.sub.currency.clone().unwrap_or_else(|| "usd".into());
    let (amount_due, currency, lines, at) = match effective {
        Effective::PeriodEnd => (0, currency, vec![], current.sub.current_period_end()),
        Effective::Now => {
            let preview = app.stripe.preview_change(&customer, &change, app.now()).await.map_err(stripe_error)?;
            let lines: Vec<PreviewLine> = preview
                .lines
                .map(|l| l.data)
                .unwrap_or_default()
                .into_iter()
                .map(|l| PreviewLine { amount: l.amount, description: l.description })
                .collect();
            (preview.amount_due, preview.currency, lines, None)
        }
    };
    Ok(ChangePreview {
        effective: effective.as_str().into(),
        plan: change.plan,
        interval: change.interval,
        amount_due_now: amount_due,
        currency,
        lines,
        at: at.map(crate::clock::rfc3339),
    })
}
