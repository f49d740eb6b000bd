//! Members' prices used in one calendar month (`USER#<id>`/`MEMBERS#<YYYY-MM>`): how many
//! (`count`), and each reservation's hold (`hold_<order>`: until when it is kept).

use std::collections::BTreeMap;

use super::keys;
use super::plans::Plans;
use crate::store::{Condition, Item, Label, Store, StoreError, Tx, Update, Value, Write};

fn hold_attribute(order_id: &str) -> String {
    format!("hold_{order_id}")
}

/// One month's uses as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberUses {
    pub count: i64,
    /// Reservations' holds: order id -> until when.
    pub holds: BTreeMap<String, i64>,
}

fn from_item(item: Option<&Item>) -> Result<Option<MemberUses>, StoreError> {
    let Some(item) = item else { return Ok(None) };
    let mut uses = MemberUses { count: item.num("count").unwrap_or(0), holds: BTreeMap::new() };
    for (name, value) in &item.0 {
        if let Some(order_id) = name.strip_prefix("hold_") {
            let Value::N(until) = value else {
                return Err(StoreError::Corrupt { key: item.key(), reason: format!("{name} is not a number") });
            };
            uses.holds.insert(order_id.to_string(), *until);
        }
    }
    Ok(Some(uses))
}

/// The user's plans and this month's uses, in one consistent read.
pub async fn read(store: &Store, user_id: &str, month: &str) -> Result<(Plans, Option<MemberUses>), StoreError> {
    let found = store.get_many(&[keys::plans_held(user_id), keys::member_uses(user_id, month)]).await?;
    Ok((Plans::from_item(found[0].as_ref())?, from_item(found[1].as_ref())?))
}

pub async fn used(store: &Store, user_id: &str, month: &str) -> Result<i64, StoreError> {
    Ok(from_item(store.get(&keys::member_uses(user_id, month)).await?.as_ref())?.map_or(0, |u| u.count))
}

/// Reserves one use for `order_id`, held until `hold_until`; refused (`Members`) when
/// `per_month` are used.
pub fn reserve(user_id: &str, month: &str, order_id: &str, hold_until: i64, per_month: i64) -> Tx {
    let update = Update::new(keys::member_uses(user_id, month))
        .add("count", 1)
        .set(&hold_attribute(order_id), hold_until)
        .when(Condition::AbsentOrBelow("count".into(), per_month));
    Tx::new().with(Label::Members, Write::Update(update))
}

fn held(order_id: &str) -> Condition {
    Condition::Not(Box::new(Condition::absent(&hold_attribute(order_id))))
}

/// The reservation's order got its session: it is held until `until`. Refused (`Members`) when
/// the reservation was released meanwhile.
pub fn extend_hold(user_id: &str, month: &str, order_id: &str, until: i64) -> Tx {
    let update =
        Update::new(keys::member_uses(user_id, month)).set(&hold_attribute(order_id), until).when(held(order_id));
    Tx::new().with(Label::Members, Write::Update(update))
}

/// Gives back a reserved use (with the write that closes its order, which guards it).
pub fn release(user_id: &str, month: &str, order_id: Option<&str>) -> Tx {
    let mut update = Update::new(keys::member_uses(user_id, month)).add("count", -1);
    if let Some(order_id) = order_id {
        update = update.remove(&hold_attribute(order_id));
    }
    Tx::new().with(Label::Members, Write::Update(update.when(Condition::AtLeast("count".into(), 1))))
}

/// Gives back a stale reservation that is still held; refused (`Members`) otherwise.
pub fn release_held(user_id: &str, month: &str, order_id: &str) -> Tx {
    let update = Update::new(keys::member_uses(user_id, month))
        .add("count", -1)
        .remove(&hold_attribute(order_id))
        .when(Condition::And(vec![held(order_id), Condition::AtLeast("count".into(), 1)]));
    Tx::new().with(Label::Members, Write::Update(update))
}

/// Forgets a reservation's hold (its use stands, or was given back already).
pub fn forget_hold(user_id: &str, month: &str, order_id: &str) -> Tx {
    let update = Update::new(keys::member_uses(user_id, month)).remove(&hold_attribute(order_id)).when(held(order_id));
    Tx::new().with(Label::Members, Write::Update(update))
}
