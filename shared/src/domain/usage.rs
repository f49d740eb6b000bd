//! Metered features: quotas per calendar period (UTC day or month) from the catalog. Counters
//! are keyed by feature and period, so a new period starts at zero with no scheduled job, and
//! old counters expire through TTL.
//!
//! A use is one transaction: a check that the plan the token names is still the user's plan
//! (so a refund or a downgrade takes effect at once), the counter, conditional on the exact
//! count it was computed from (so the answer's `used` is exact and the limit is never passed),
//! and, for a keyed request, the key's record. An instance remembers the last count it saw, so a
//! use it can compute is one round trip; otherwise the count is read first. A refusal is always
//! confirmed by a fresh read.

use time::{Date, Month, OffsetDateTime};

use crate::app::App;
use crate::catalog::{Catalog, Feature, Period, Plan};
use crate::error::Error;
use crate::store::schema::usage::{self as counters, UseRecord};
use crate::store::{Label, StoreError};

use super::plans::{effective_plan, still_on};

/// Counters outlive their period by this much (for support and audits) before TTL takes them.
const KEEP_AFTER_PERIOD_SECS: i64 = 35 * 24 * 3600;

/// One calendar period of a metered feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub per: Period,
    pub id: String,
    pub resets_at: i64,
}

fn midnight(date: Date) -> i64 {
    date.midnight().assume_utc().unix_timestamp()
}

/// The UTC day or month containing `now`.
pub fn window(per: Period, now: i64) -> Window {
    let date = OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH).date();
    match per {
        Period::Day => Window { per, id: format!("D{date}"), resets_at: midnight(date.next_day().unwrap_or(date)) },
        Period::Month => {
            let (year, month) = match date.month() {
                Month::December => (date.year() + 1, Month::January),
                m => (date.year(), m.next()),
            };
            let next = Date::from_calendar_date(year, month, 1).unwrap_or(date);
            Window { per, id: format!("M{:04}-{:02}", date.year(), date.month() as u8), resets_at: midnight(next) }
        }
    }
}

/// The period a feature is metered by: the `per` of its quotas in the catalog (a month when it
/// is only ever unlimited). None: not a metered feature (a flag, a cap, or unknown).
pub fn metered(catalog: &Catalog, feature: &str) -> Option<Period> {
    let mut unlimited = false;
    for plan in catalog.plans() {
        match plan.features.get(feature) {
            Some(Feature::Quota { per, .. }) => return Some(*per),
            Some(Feature::Unlimited(_)) => unlimited = true,
            _ => {}
        }
    }
    unlimited.then_some(Period::Month)
}

/// A plan's limit for a metered feature: None when unlimited; 0 when the plan does not offer it.
pub fn limit(plan: &Plan, feature: &str) -> Option<i64> {
    match plan.features.get(feature) {
        Some(Feature::Unlimited(_)) => None,
        Some(Feature::Quota { limit, .. }) => Some(*limit as i64),
        _ => Some(0),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub feature: String,
    pub used: i64,
    pub limit: Option<i64>,
    pub resets_at: i64,
}

impl Usage {
    pub fn remaining(&self) -> Option<i64> {
        self.limit.map(|l| (l - self.used).max(0))
    }
}

pub struct Use<'a> {
    pub user_id: &'a str,
    /// The plan the caller's token names: trusted only together with a check on the store.
    pub token_plan: &'a str,
    pub feature: &'a str,
    pub amount: i64,
    pub key: Option<&'a str>,
}

const MAX_ATTEMPTS: u32 = 100;

fn replay(u: &Use, earlier: &UseRecord) -> Result<Usage, Error> {
    if earlier.amount != u.amount {
        return Err(Error::conflict("idempotency_key_reused", "this idempotency key was used for a different amount"));
    }
    Ok(Usage { feature: u.feature.to_string(), used: earlier.used, limit: earlier.limit, resets_at: earlier.resets_at })
}

/// Counts a use of a metered feature, or refuses it when the allowance is used up.
pub async fn record_use(app: &App, u: &Use<'_>) -> Result<Usage, Error> {
    let per = metered(&app.catalog, u.feature)
        .ok_or_else(|| Error::not_found("unknown_feature", format!("{:?} is not a metered feature", u.feature)))?;
    let now = app.now();
    let win = window(per, now);
    let hint_key = format!("{}|{}|{}", u.user_id, u.feature, win.id);
    let mut hinted = app.usage_hints.get(&hint_key).zip(app.catalog.plan(u.token_plan));
    let mut retry = super::retry::Contention::new(MAX_ATTEMPTS);
    while retry.next_attempt().await {
        let fresh = hinted.is_none();
        let (used, plan) = match hinted.take() {
            Some(known) => known,
            None => {
                let (used, held, earlier) =
                    counters::read_for_use(&app.store, u.user_id, u.feature, &win.id, u.key).await?;
                crate::auth::presented::check(u.user_id, &held)?;
                if let Some(earlier) = earlier {
                    return replay(u, &earlier);
                }
                (used, effective_plan(&app.catalog, &held, app.now()))
            }
        };
        let allowed = limit(plan, u.feature);
        let after =
            Usage { feature: u.feature.to_string(), used: used + u.amount, limit: allowed, resets_at: win.resets_at };
        if allowed.is_some_and(|l| after.used > l) {
            if !fresh {
                continue;
            }
            app.usage_hints.set(&hint_key, used);
            return Err(Error::UsageLimit {
                feature: u.feature.to_string(),
                used,
                limit: allowed.unwrap_or(0),
                resets_at: win.resets_at,
                daily: per == Period::Day,
                retry_after_secs: (win.resets_at - now).max(1) as u64,
            });
        }
        let mut tx = still_on(app, u.user_id, plan);
        tx.append(counters::count_use(
            u.user_id,
            u.feature,
            &win.id,
            used,
            after.used,
            win.resets_at + KEEP_AFTER_PERIOD_SECS,
        ));
        if let Some(key) = u.key {
            let record =
                UseRecord { amount: u.amount, used: after.used, limit: after.limit, resets_at: after.resets_at };
            tx.append(counters::remember_use(u.user_id, u.feature, key, &record, now));
        }
        match app.store.transact(tx).await {
            Ok(()) => {
                app.usage_hints.set(&hint_key, after.used);
                return Ok(after);
            }
            Err(StoreError::Cancelled { failed }) => {
                app.usage_hints.forget(&hint_key);
                // A request with this key won the race: answer what it did.
                if let (true, Some(key)) = (failed.contains(&Label::RequestKey), u.key)
                    && let Some(earlier) = counters::use_record(&app.store, u.user_id, u.feature, key).await?
                {
                    return replay(u, &earlier);
                }
            }
            Err(e) => {
                app.usage_hints.forget(&hint_key);
                return Err(e.into());
            }
        }
    }
    Err(Error::conflict("usage_busy", "the counter is changing too fast; retry"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_23_2026_NOON: i64 = 1_795_435_200;

    #[test]
    fn days_and_months_are_utc_calendar_periods() {
        let day = window(Period::Day, NOV_23_2026_NOON);
        assert_eq!(day.id, "D2026-11-23");
        assert_eq!(day.resets_at, NOV_23_2026_NOON + 12 * 3600);
        let month = window(Period::Month, NOV_23_2026_NOON);
        assert_eq!(month.id, "M2026-11");
        assert_eq!(crate::clock::rfc3339(month.resets_at), "2026-12-01T00:00:00Z");
        let december = window(Period::Month, month.resets_at + 1);
        assert_eq!(
            (december.id.as_str(), crate::clock::rfc3339(december.resets_at).as_str()),
            ("M2026-12", "2027-01-01T00:00:00Z")
        );
        assert_eq!(window(Period::Day, day.resets_at - 1).id, "D2026-11-23");
        assert_eq!(window(Period::Day, day.resets_at).id, "D2026-11-24");
    }

    #[test]
    fn features_are_metered_by_their_quotas_period() {
        let resolver = crate::catalog::PriceResolver { lookup: &|_| None, by_lookup_key: &|_| None, simulated: true };
        let catalog = Catalog::parse(crate::catalog::BUILT_IN, "built-in", &resolver).unwrap();
        assert_eq!(metered(&catalog, "quizzes"), Some(Period::Month));
        assert_eq!(metered(&catalog, "ai_chat"), Some(Period::Day));
        assert_eq!(metered(&catalog, "sessions"), None, "a cap is not metered");
        assert_eq!(metered(&catalog, "pro"), None);
        assert_eq!(metered(&catalog, "nothing"), None);
    }
}
