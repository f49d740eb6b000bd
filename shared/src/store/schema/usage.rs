//! Counters kept per user: metered use per calendar period (`USAGE#<feature>#<period>`, kept 35
//! days past its period), keyed uses' records (`USAGE#KEY#<feature>#<key>`, a week) and how many
//! records of a capped feature a user keeps (`COUNT#<feature>`).

use serde::{Deserialize, Serialize};

use super::keys;
use super::plans::Plans;
use crate::store::codec::{decode_opt, encode};
use crate::store::{Condition, Label, Store, StoreError, TTL, Tx, Update, Write};

/// What a keyed use answered, so a retry answers the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UseRecord {
    pub amount: i64,
    pub used: i64,
    pub limit: Option<i64>,
    pub resets_at: i64,
}

/// Keys are remembered a week.
const KEY_RETENTION_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Default, Deserialize)]
struct Used {
    #[serde(default)]
    used: i64,
}

#[derive(Debug, Default, Deserialize)]
struct Count {
    #[serde(default)]
    count: i64,
}

/// Use of `feature` in `period`, the user's plans and (for a keyed use) the key's record, in one
/// consistent read.
pub async fn read_for_use(
    store: &Store,
    user_id: &str,
    feature: &str,
    period: &str,
    key: Option<&str>,
) -> Result<(i64, Plans, Option<UseRecord>), StoreError> {
    let mut keys = vec![keys::usage(user_id, feature, period), keys::plans_held(user_id)];
    if let Some(key) = key {
        keys.push(keys::usage_request(user_id, feature, key));
    }
    let found = store.get_many(&keys).await?;
    let used = decode_opt::<Used>(found[0].as_ref())?.unwrap_or_default().used;
    let plans = Plans::from_item(found[1].as_ref())?;
    let earlier = decode_opt(found.get(2).and_then(Option::as_ref))?;
    Ok((used, plans, earlier))
}

pub async fn use_record(
    store: &Store,
    user_id: &str,
    feature: &str,
    key: &str,
) -> Result<Option<UseRecord>, StoreError> {
    decode_opt(store.get(&keys::usage_request(user_id, feature, key)).await?.as_ref())
}

/// The period's count goes from `before` to `after`, refused (`Counter`) unless it is still
/// `before`; the counter expires at `expires_at`.
pub fn count_use(user_id: &str, feature: &str, period: &str, before: i64, after: i64, expires_at: i64) -> Tx {
    let count_is = if before == 0 { Condition::absent("used") } else { Condition::equals("used", before) };
    let update = Update::new(keys::usage(user_id, feature, period))
        .set("used", after)
        .set_if_absent(TTL, expires_at)
        .when(count_is);
    Tx::new().with(Label::Counter, Write::Update(update))
}

/// A keyed use's record, refused (`RequestKey`) when the key was used before.
pub fn remember_use(user_id: &str, feature: &str, key: &str, record: &UseRecord, now: i64) -> Tx {
    let item = encode(&keys::usage_request(user_id, feature, key), record).with(TTL, now + KEY_RETENTION_SECS);
    Tx::new().with(Label::RequestKey, Write::put_new(item))
}

/// A counter to read with the user's plans (`counts`).
#[derive(Debug, Clone, Copy)]
pub enum Counter<'a> {
    /// Uses of a metered feature in one period.
    Used { feature: &'a str, period: &'a str },
    /// Records of a capped feature kept.
    Kept { feature: &'a str },
}

/// The user's plans and each counter's value, in one consistent read.
pub async fn counts(store: &Store, user_id: &str, counters: &[Counter<'_>]) -> Result<(Plans, Vec<i64>), StoreError> {
    let mut keys = vec![keys::plans_held(user_id)];
    keys.extend(counters.iter().map(|c| match c {
        Counter::Used { feature, period } => keys::usage(user_id, feature, period),
        Counter::Kept { feature } => keys::kept(user_id, feature),
    }));
    let found = store.get_many(&keys).await?;
    let plans = Plans::from_item(found[0].as_ref())?;
    let values = counters
        .iter()
        .zip(&found[1..])
        .map(|(c, item)| {
            Ok(match c {
                Counter::Used { .. } => decode_opt::<Used>(item.as_ref())?.unwrap_or_default().used,
                Counter::Kept { .. } => decode_opt::<Count>(item.as_ref())?.unwrap_or_default().count,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok((plans, values))
}

/// One more (or fewer) record of `feature` kept; with a cap, refused (`Counter`) at the cap.
pub fn count_kept(user_id: &str, feature: &str, by: i64, cap: Option<i64>) -> Tx {
    let mut update = Update::new(keys::kept(user_id, feature)).add("count", by);
    if let Some(cap) = cap {
        update = update.when(Condition::AbsentOrBelow("count".into(), cap));
    }
    Tx::new().with(Label::Counter, Write::Update(update))
}
