//! Plan changes in the simulation, as Stripe makes them: a price switched now with a prorated
//! invoice, a schedule that switches it when the period ends, a release, and a preview.

use serde_json::{Value, json};

use super::{Simulator, event_body, period_length, short_id};
use crate::stripe::changes::{InvoicePreview, PlanChange};
use crate::stripe::events::{Subscription, SubscriptionSchedule};

fn num(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or_default()
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

impl Simulator {
    fn schedules(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Value>> {
        self.schedules.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What switching `change` now charges: the new price for the rest of the period less what
    /// is unused of the old one (a new interval starts a new period: its whole price).
    fn proration(&self, sub: &Value, change: &PlanChange, now: i64) -> (i64, bool) {
        let old = num(sub, "/items/data/0/price/unit_amount");
        let new = self.amount_of(&change.price);
        let (start, end) =
            (num(sub, "/items/data/0/current_period_start"), num(sub, "/items/data/0/current_period_end"));
        let new_period = text(sub, "/items/data/0/price/recurring/interval") != change.interval;
        let unused = |amount: i64| {
            let length = (end - start).max(1);
            amount.saturating_mul((end - now).clamp(0, length)) / length
        };
        if sub["status"] == "trialing" {
            return (0, new_period);
        }
        if new_period { ((new - unused(old)).max(0), true) } else { ((unused(new) - unused(old)).max(0), false) }
    }

    /// `POST /v1/subscriptions/{id}` with the new price, proration invoiced now: the updated
    /// subscription and the events Stripe would send.
    pub fn change_now(&self, change: &PlanChange, now: i64) -> Option<(Subscription, Vec<Vec<u8>>)> {
        let mut subs = self.subscriptions();
        let sub = subs.get_mut(&change.subscription)?;
        if sub["status"] == "canceled" {
            return None;
        }
        let (amount, new_period) = self.proration(sub, change, now);
        let item = &mut sub["items"]["data"][0];
        item["price"] = json!({
            "id": change.price,
            "unit_amount": self.amount_of(&change.price),
            "recurring": { "interval": change.interval },
        });
        if new_period && sub["status"] != "trialing" {
            sub["items"]["data"][0]["current_period_start"] = json!(now);
            sub["items"]["data"][0]["current_period_end"] = json!(now + period_length(&change.interval));
        }
        sub["metadata"]["plan"] = json!(change.plan);
        sub["metadata"]["interval"] = json!(change.interval);
        let snapshot = sub.clone();
        drop(subs);
        let mut events = vec![event_body("customer.subscription.updated", snapshot.clone(), now)];
        if amount > 0 {
            let (invoice, payment) = self.invoice(&snapshot, "subscription_update", amount, now);
            events.push(event_body("invoice.paid", invoice, now));
            events.extend(payment);
        }
        Some((serde_json::from_value(snapshot).ok()?, events))
    }

    /// The subscription's schedule set to switch to `change` when the period ends (made when it
    /// has none): the schedule and its `subscription_schedule.created`/`updated` event.
    pub fn schedule_change(
        &self,
        change: &PlanChange,
        user_id: &str,
        now: i64,
    ) -> Option<(SubscriptionSchedule, Vec<Vec<u8>>)> {
        let mut subs = self.subscriptions();
        let sub = subs.get_mut(&change.subscription)?;
        let current = text(sub, "/items/data/0/price/id").to_string();
        let (start, end) =
            (num(sub, "/items/data/0/current_period_start"), num(sub, "/items/data/0/current_period_end"));
        let existing = sub["schedule"].as_str().map(str::to_string);
        let id = existing.clone().unwrap_or_else(|| format!("sub_sched_sim{}", short_id()));
        sub["schedule"] = json!(id);
        let schedule = json!({
            "id": id,
            "object": "subscription_schedule",
            "subscription": change.subscription,
            "customer": sub["customer"],
            "status": "active",
            "end_behavior": "release",
            "metadata": { "user_id": user_id, "plan": change.plan, "interval": change.interval },
            "phases": [
                { "start_date": start, "end_date": end, "items": [{ "price": current, "quantity": 1 }] },
                { "start_date": end, "end_date": end + period_length(&change.interval),
                  "items": [{ "price": change.price, "quantity": 1 }] },
            ],
            "livemode": false,
        });
        drop(subs);
        self.schedules().insert(id, schedule.clone());
        let kind = if existing.is_some() { "subscription_schedule.updated" } else { "subscription_schedule.created" };
        let event = event_body(kind, schedule.clone(), now);
        Some((serde_json::from_value(schedule).ok()?, vec![event]))
    }

    /// `POST /v1/subscription_schedules/{id}/release`: `subscription_schedule.released`.
    pub fn release_schedule(&self, id: &str, now: i64) -> Option<Vec<Vec<u8>>> {
        let mut schedules = self.schedules();
        let schedule = schedules.get_mut(id)?;
        if schedule["status"] != "active" && schedule["status"] != "not_started" {
            return Some(vec![]);
        }
        let sub_id = text(schedule, "/subscription").to_string();
        schedule["status"] = json!("released");
        schedule["released_at"] = json!(now);
        schedule["released_subscription"] = json!(sub_id);
        schedule["subscription"] = Value::Null;
        let snapshot = schedule.clone();
        drop(schedules);
        if let Some(sub) = self.subscriptions().get_mut(&sub_id) {
            sub["schedule"] = Value::Null;
        }
        Some(vec![event_body("subscription_schedule.released", snapshot, now)])
    }

    pub fn subscription_schedule(&self, id: &str) -> Option<SubscriptionSchedule> {
        self.schedules().get(id).and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// What the change would invoice now.
    pub fn preview_change(&self, change: &PlanChange, now: i64) -> Option<InvoicePreview> {
        let subs = self.subscriptions();
        let sub = subs.get(&change.subscription)?;
        let (amount, _) = self.proration(sub, change, now);
        Some(InvoicePreview {
            amount_due: amount,
            currency: sub["currency"].as_str().unwrap_or("usd").to_string(),
            lines: Some(crate::stripe::events::List {
                data: vec![crate::stripe::changes::PreviewLine {
                    amount,
                    description: Some(format!("Remaining time on {}", change.plan)),
                }],
            }),
        })
    }

    /// At a renewal starting at `start`: a schedule phase that starts then switches the price
    /// (the schedule has done its work once it reaches its last phase).
    pub(super) fn enter_phase(&self, sub: &mut Value, start: i64) {
        let Some(id) = sub["schedule"].as_str().map(str::to_string) else { return };
        let mut schedules = self.schedules();
        let Some(schedule) = schedules.get_mut(&id) else { return };
        let phases = schedule["phases"].as_array().cloned().unwrap_or_default();
        let Some(phase) = phases.iter().find(|p| p["start_date"].as_i64() == Some(start)) else { return };
        let price = text(phase, "/items/0/price").to_string();
        // The simulation's schedules name the interval they move to (Tollgate's metadata).
        let interval = schedule["metadata"]["interval"].as_str().unwrap_or("month");
        sub["items"]["data"][0]["price"] =
            json!({ "id": price, "unit_amount": self.amount_of(&price), "recurring": { "interval": interval } });
    }
}
