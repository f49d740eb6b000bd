//! The admin metrics' counters (`METRICS#<shard>`/`<FAMILY>#<day or ALL>`). Each counter is an
//! `ADD` folded into the transaction that makes the change it counts (a Stripe event's record, a
//! spent sign-in code, a credit change, a subscription's new state), so a count is exactly as
//! durable as what it counts and costs no extra round trip. Writes spread over `SHARDS` items by
//! a hash of their subject (event, email, user, subscription): none is a hot item. A reader sums
//! the shards.

use std::collections::BTreeMap;

use super::keys;
use crate::store::{Label, Query, Store, StoreError, TTL, Tx, Update, Write};

pub const SHARDS: u8 = 8;
/// Day counters are kept 400 days; `ALL` counters for ever.
pub const DAY_RETENTION_SECS: i64 = 400 * 24 * 3600;

/// What a family of counters counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Webhook deliveries per outcome class, per day.
    Webhook,
    /// Sign-ins (codes spent), per day.
    SignIn,
    /// Credits granted, spent and taken back: per day and `ALL`.
    Credits,
    /// Subscriptions: trial starts, conversions and churn per day; by plan and status, MRR and
    /// paying subscriptions `ALL` (a running sum of every change's difference).
    Subscriptions,
    /// What reconciliation applied that the webhook had not, per day.
    Reconcile,
}

impl Family {
    fn as_str(self) -> &'static str {
        match self {
            Family::Webhook => "WEBHOOK",
            Family::SignIn => "SIGNIN",
            Family::Credits => "CREDITS",
            Family::Subscriptions => "SUBS",
            Family::Reconcile => "RECONCILE",
        }
    }
}

/// Counter names to the amounts to add.
pub type Counts = BTreeMap<String, i64>;

/// A stable shard for a subject (FNV-1a).
pub fn shard_of(subject: &str) -> u8 {
    let hash = subject.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % u64::from(SHARDS)) as u8
}

fn add(key: crate::store::Key, counts: &Counts) -> Update {
    counts.iter().filter(|(_, by)| **by != 0).fold(Update::new(key), |u, (name, by)| u.add(name, *by))
}

/// Adds `counts` to the family's counter of the day `now` falls in.
pub fn count_day(family: Family, subject: &str, now: i64, counts: &Counts) -> Tx {
    let key = keys::metric(shard_of(subject), family.as_str(), &crate::clock::day_id(now));
    let update = add(key, counts).set_if_absent(TTL, now + DAY_RETENTION_SECS);
    counted(update)
}

/// Adds `counts` to the family's all-time counter.
pub fn count_all(family: Family, subject: &str, counts: &Counts) -> Tx {
    counted(add(keys::metric(shard_of(subject), family.as_str(), "ALL"), counts))
}

fn counted(update: Update) -> Tx {
    if update.add.is_empty() { Tx::new() } else { Tx::new().with(Label::Metric, Write::Update(update)) }
}

/// The family's day counters from `first` to `last` (`YYYY-MM-DD`, inclusive), summed over the
/// shards: day -> counter -> sum.
pub async fn days(
    store: &Store,
    family: Family,
    first: &str,
    last: &str,
) -> Result<BTreeMap<String, Counts>, StoreError> {
    let prefix = format!("{}#", family.as_str());
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for shard in 0..SHARDS {
        // Day counters expire after `DAY_RETENTION_SECS`: a shard holds a few hundred at most.
        let query = Query::prefix(keys::metrics_pk(shard), prefix.clone());
        for item in store.query_all(&query).await? {
            let key = item.key();
            let day = &key.sk[prefix.len()..];
            if day == "ALL" || day < first || day > last {
                continue;
            }
            sum_into(out.entry(day.to_string()).or_default(), &item);
        }
    }
    Ok(out)
}

/// The family's all-time counters, summed over the shards.
pub async fn all(store: &Store, family: Family) -> Result<Counts, StoreError> {
    let keys: Vec<_> = (0..SHARDS).map(|s| keys::metric(s, family.as_str(), "ALL")).collect();
    let mut out = Counts::new();
    for item in store.get_many(&keys).await?.iter().flatten() {
        sum_into(&mut out, item);
    }
    Ok(out)
}

fn sum_into(out: &mut Counts, item: &crate::store::Item) {
    for (name, value) in &item.0 {
        if matches!(name.as_str(), "PK" | "SK" | TTL) {
            continue;
        }
        if let Some(n) = value.as_i64() {
            *out.entry(name.clone()).or_default() += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_and_repeat() {
        let shards: std::collections::BTreeSet<u8> = (0..200).map(|i| shard_of(&format!("evt_{i}"))).collect();
        assert_eq!(shards.len(), usize::from(SHARDS));
        assert_eq!(shard_of("evt_1"), shard_of("evt_1"));
    }

    #[test]
    fn counters_of_one_item_merge_in_a_transaction() {
        let now = 1_795_435_200;
        let one = Counts::from([("applied".to_string(), 1)]);
        let mut tx = count_day(Family::Webhook, "evt_1", now, &one);
        tx.append(count_day(Family::Webhook, "evt_1", now, &Counts::from([("applied".into(), 2), ("x".into(), 1)])));
        assert_eq!(tx.len(), 1);
        let Some(Write::Update(u)) = tx.writes().next() else { panic!("an update") };
        assert_eq!(u.add, vec![("applied".to_string(), 3), ("x".to_string(), 1)]);
        assert!(count_all(Family::Credits, "u", &Counts::from([("granted".into(), 0)])).is_empty());
    }
}
