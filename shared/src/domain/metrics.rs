//! The admin metrics: webhook deliveries, sign-ins, credits and subscriptions, read from the
//! sharded counters the changes themselves write (see `store::schema::metrics`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::app::App;
use crate::clock::{DAY, day_id, day_start};
use crate::error::Error;
use crate::store::schema::metrics::{self, Counts, Family};

use super::stripe_events::Delivery;

/// The longest range one request may ask for.
pub const MAX_DAYS: i64 = 366;
/// Churn is counted over this many days, ending today.
pub const CHURN_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = MetricsReport))]
pub struct Report {
    pub version: String,
    pub from: String,
    pub to: String,
    pub webhooks: Daily,
    pub sign_ins: Daily,
    pub credits: Credits,
    pub subscriptions: Subscriptions,
    /// What reconciliation applied that the webhook had missed, per day.
    pub reconciled: Daily,
}

/// Counters per day (every day of the range, zeros included) and their totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = DailyCounts))]
pub struct Daily {
    /// Each day: `day` (`YYYY-MM-DD`) and its counters.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub days: Vec<BTreeMap<String, serde_json::Value>>,
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub totals: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = CreditTotals))]
pub struct Credits {
    /// Since the first counted change.
    pub granted: i64,
    pub spent: i64,
    pub taken_back: i64,
    /// Granted less spent and taken back: what users hold.
    pub outstanding: i64,
    /// The same three within the range.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub in_range: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SubscriptionTotals))]
pub struct Subscriptions {
    /// plan -> status -> how many.
    pub by_plan: BTreeMap<String, BTreeMap<String, i64>>,
    /// Active or past-due subscriptions at a price above zero (one live subscription per user:
    /// the active paying users).
    pub paying: i64,
    /// Monthly recurring revenue per currency, smallest unit, yearly prices / 12, trials excluded.
    pub mrr: BTreeMap<String, i64>,
    pub arr: BTreeMap<String, i64>,
    /// Within the range.
    pub trial_starts: i64,
    pub conversions: i64,
    /// Live subscriptions that ended in the last `CHURN_DAYS` days.
    pub churned_30d: i64,
}

/// The UTC days `from`..=`to` (default: the 30 days ending today), refused when not days, in
/// the wrong order, or longer than `MAX_DAYS`.
pub fn range(now: i64, from: Option<&str>, to: Option<&str>) -> Result<(String, String), Error> {
    let day = |name: &str, value: &str| {
        day_start(value)
            .ok_or_else(|| Error::bad_request("invalid_field", format!("{name} must be a day as YYYY-MM-DD")))
    };
    let last = match to {
        Some(to) => day("to", to)?,
        None => day_start(&day_id(now)).unwrap_or(now),
    };
    let first = match from {
        Some(from) => day("from", from)?,
        None => last - 29 * DAY,
    };
    if first > last {
        return Err(Error::bad_request("invalid_range", "from must not be after to"));
    }
    if (last - first) / DAY >= MAX_DAYS {
        return Err(Error::bad_request("invalid_range", format!("a range is at most {MAX_DAYS} days")));
    }
    Ok((day_id(first), day_id(last)))
}

fn daily(counted: BTreeMap<String, Counts>, from: &str, to: &str, names: &[&str]) -> Daily {
    let mut days = Vec::new();
    let mut totals: Counts = names.iter().map(|n| (n.to_string(), 0)).collect();
    let (Some(mut at), Some(last)) = (day_start(from), day_start(to)) else {
        return Daily { days, totals };
    };
    while at <= last {
        let day = day_id(at);
        let counts = counted.get(&day);
        let mut row = BTreeMap::from([("day".to_string(), serde_json::Value::from(day.clone()))]);
        for name in names {
            let n = counts.and_then(|c| c.get(*name)).copied().unwrap_or(0);
            row.insert(name.to_string(), n.into());
            *totals.entry(name.to_string()).or_default() += n;
        }
        days.push(row);
        at += DAY;
    }
    Daily { days, totals }
}

fn sum(counted: &BTreeMap<String, Counts>, name: &str) -> i64 {
    counted.values().filter_map(|c| c.get(name)).sum()
}

pub async fn report(app: &App, from: &str, to: &str) -> Result<Report, Error> {
    let store = &app.store;
    let now = app.now();
    let churn_from = day_id(now - (CHURN_DAYS - 1) * DAY);
    let today = day_id(now);
    // One read of the subscriptions' days covers the range and the churn window.
    let (subs_first, subs_last) = (from.min(churn_from.as_str()), to.max(today.as_str()));
    let (webhook, sign_ins, credit_days, credits_all, subs_days, subs_all, reconciled) = tokio::try_join!(
        metrics::days(store, Family::Webhook, from, to),
        metrics::days(store, Family::SignIn, from, to),
        metrics::days(store, Family::Credits, from, to),
        metrics::all(store, Family::Credits),
        metrics::days(store, Family::Subscriptions, subs_first, subs_last),
        metrics::all(store, Family::Subscriptions),
        metrics::days(store, Family::Reconcile, from, to),
    )?;
    let within = |first: &str, last: &str| -> BTreeMap<String, Counts> {
        subs_days
            .iter()
            .filter(|(d, _)| (first..=last).contains(&d.as_str()))
            .map(|(d, c)| (d.clone(), c.clone()))
            .collect()
    };
    let (sub_days, churn_days) = (within(from, to), within(&churn_from, &today));

    let mut webhooks = daily(webhook, from, to, &Delivery::ALL.map(Delivery::as_str));
    // Every delivery is counted in exactly one class.
    for row in &mut webhooks.days {
        let received: i64 = Delivery::ALL.iter().filter_map(|d| row.get(d.as_str()).and_then(|v| v.as_i64())).sum();
        row.insert("received".into(), received.into());
    }
    let received = webhooks.totals.values().sum();
    webhooks.totals.insert("received".into(), received);

    let get = |c: &Counts, name: &str| c.get(name).copied().unwrap_or(0);
    let (granted, spent, taken_back) =
        (get(&credits_all, "granted"), get(&credits_all, "spent"), get(&credits_all, "taken_back"));
    let in_range = ["granted", "spent", "taken_back"].map(|n| (n.to_string(), sum(&credit_days, n))).into();

    let mut by_plan: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut mrr = BTreeMap::new();
    for (name, n) in &subs_all {
        let mut parts = name.split('|');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("n"), Some(plan), Some(status)) if *n != 0 => {
                by_plan.entry(plan.to_string()).or_default().insert(status.to_string(), *n);
            }
            (Some("mrr"), Some(currency), None) if *n != 0 => {
                mrr.insert(currency.to_string(), *n);
            }
            _ => {}
        }
    }
    let arr = mrr.iter().map(|(c, n)| (c.clone(), n * 12)).collect();
    Ok(Report {
        version: app.config.version.clone(),
        from: from.to_string(),
        to: to.to_string(),
        webhooks,
        sign_ins: daily(sign_ins, from, to, &["sign_ins"]),
        credits: Credits { granted, spent, taken_back, outstanding: granted - spent - taken_back, in_range },
        subscriptions: Subscriptions {
            by_plan,
            paying: get(&subs_all, "paying"),
            mrr,
            arr,
            trial_starts: sum(&sub_days, "trial_started"),
            conversions: sum(&sub_days, "converted"),
            churned_30d: sum(&churn_days, "churned"),
        },
        reconciled: daily(reconciled, from, to, &super::reconcile::COUNTERS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_defaults_to_thirty_days_and_refuses_nonsense() {
        let noon = day_start("2026-11-23").unwrap() + 12 * 3600;
        let (from, to) = range(noon, None, None).unwrap();
        assert_eq!(to, day_id(noon));
        assert_eq!((day_start(&to).unwrap() - day_start(&from).unwrap()) / DAY, 29);
        assert_eq!(range(0, Some("2026-11-01"), Some("2026-11-01")).unwrap().0, "2026-11-01");
        for (from, to, code) in [
            (Some("2026-11-02"), Some("2026-11-01"), "invalid_range"),
            (Some("2024-01-01"), Some("2026-11-01"), "invalid_range"),
            (Some("2026-13-01"), None, "invalid_field"),
            (Some("26-11-01"), None, "invalid_field"),
            (None, Some("2026-11-1"), "invalid_field"),
        ] {
            assert_eq!(range(noon, from, to).unwrap_err().code(), code, "{from:?} {to:?}");
        }
    }

    #[test]
    fn every_day_of_the_range_is_a_row() {
        let counted = BTreeMap::from([("2026-11-02".to_string(), Counts::from([("sign_ins".to_string(), 3)]))]);
        let d = daily(counted, "2026-10-31", "2026-11-02", &["sign_ins"]);
        assert_eq!(d.days.len(), 3);
        assert_eq!(d.days[2]["sign_ins"], 3);
        assert_eq!(d.days[0]["sign_ins"], 0);
        assert_eq!(d.totals["sign_ins"], 3);
    }
}
