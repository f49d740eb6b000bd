//! Members' prices: a subscription plan may give its members (subscribers whose current period
//! is paid: `active`, not trialing or past due) a Stripe coupon on named one-time purchases, a
//! limited number of times each calendar month (UTC). A checkout reserves
//! one use when it opens; a session that expires or fails gives it back, so abandoned checkouts
//! do not spend the allowance and concurrent ones cannot exceed it.

use crate::app::App;
use crate::clock::month_id;
use crate::error::Error;
use crate::store::records;
use crate::store::{Condition, Item, StoreError, TTL, Update, Write};

/// The session metadata naming the month a members' price was reserved in.
pub const METADATA_KEY: &str = "member_month";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPrice {
    pub coupon: String,
    pub month: String,
}

/// A reservation whose order never got a Checkout session is released after this: no function
/// runs longer (Lambda stops any at 15 minutes).
pub const HOLD_WITHOUT_SESSION_SECS: i64 = 15 * 60;
/// One whose order got a session is released after this, if the order is still pending then:
/// Stripe expires any session after 24 hours at the latest.
pub const HOLD_WITH_SESSION_SECS: i64 = 25 * 3600;

fn hold_attribute(order_id: &str) -> String {
    format!("hold_{order_id}")
}

/// Reserves a members' price for `user_id` buying `key` with `order_id`, if a plan they are a
/// member of gives one and this month's allowance is not used up. Reservations of orders that
/// never got a session, or whose session is long gone, are released first.
pub async fn reserve(app: &App, user_id: &str, key: &str, order_id: &str) -> Result<Option<MemberPrice>, Error> {
    let now = app.now();
    let offers: Vec<_> = app
        .catalog
        .plans()
        .iter()
        .filter_map(|p| Some((p, p.subscription.as_ref()?.members.as_ref()?)))
        .filter(|(_, m)| m.applies_to.iter().any(|k| k == key))
        .collect();
    if offers.is_empty() {
        return Ok(None);
    }
    let month = month_id(now);
    let found = app.store.get_many(&[records::plans_held(user_id), records::member_uses(user_id, &month)]).await?;
    let is_member = |plan: &str| {
        found[0].as_ref().and_then(|i| i.num(&records::member_attribute(plan))).is_some_and(|until| until > now)
    };
    let Some((_, discount)) = offers.into_iter().find(|(p, _)| is_member(&p.key)) else {
        return Ok(None);
    };
    if let Some(uses) = &found[1] {
        release_stale(app, user_id, &month, uses, now).await?;
    }
    let take = Update::new(records::member_uses(user_id, &month))
        .add("count", 1)
        .set(&hold_attribute(order_id), now + HOLD_WITHOUT_SESSION_SECS)
        .when(Condition::AbsentOrBelow("count".into(), i64::from(discount.per_month)));
    match app.store.write(Write::Update(take)).await {
        Ok(()) => Ok(Some(MemberPrice { coupon: discount.coupon.clone(), month })),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Releases each reservation past its time whose order is still pending (closing the order);
/// one whose order was paid or closed meanwhile only loses its hold (the use stands, or the
/// order's closing gave it back already).
async fn release_stale(app: &App, user_id: &str, month: &str, uses: &Item, now: i64) -> Result<(), Error> {
    let stale = uses.0.iter().filter_map(|(name, value)| {
        let order_id = name.strip_prefix("hold_")?;
        value.as_i64().filter(|until| *until <= now).map(|_| (name.clone(), order_id.to_string()))
    });
    for (attribute, order_id) in stale.collect::<Vec<_>>() {
        let held = Condition::Not(Box::new(Condition::absent(&attribute)));
        // A pending order (or one its expiry already deleted) was abandoned: close it.
        let close = Update::new(records::order(&order_id))
            .set("status", "expired")
            .set(TTL, now + super::orders::PENDING_ORDER_RETENTION_SECS)
            .when(Condition::Or(vec![Condition::NotExists, Condition::equals("status", "pending")]));
        let give_back = Update::new(records::member_uses(user_id, month))
            .add("count", -1)
            .remove(&attribute)
            .when(Condition::And(vec![held.clone(), Condition::AtLeast("count".into(), 1)]));
        match app.store.transact(vec![Write::Update(close), Write::Update(give_back)]).await {
            Ok(()) => tracing::info!(%order_id, "a members' price reserved by an abandoned order was released"),
            Err(e) if e.is_condition() => {
                let forget = Update::new(records::member_uses(user_id, month)).remove(&attribute).when(held);
                match app.store.write(Write::Update(forget)).await {
                    Ok(()) | Err(StoreError::ConditionFailed) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The order got its session: its reservation is kept until the session is surely over.
pub fn session_opened(user_id: &str, month: &str, order_id: &str, now: i64) -> Write {
    let attribute = hold_attribute(order_id);
    Write::Update(
        Update::new(records::member_uses(user_id, month))
            .set(&attribute, now + HOLD_WITH_SESSION_SECS)
            .when(Condition::Not(Box::new(Condition::absent(&attribute)))),
    )
}

/// Gives back a reserved use (with the write that closes its order, which guards it).
pub fn release(user_id: &str, month: &str, order_id: Option<&str>) -> Write {
    let mut update = Update::new(records::member_uses(user_id, month)).add("count", -1);
    if let Some(order_id) = order_id {
        update = update.remove(&hold_attribute(order_id));
    }
    Write::Update(update.when(Condition::AtLeast("count".into(), 1)))
}

/// Uses of members' prices this month.
pub async fn used_this_month(app: &App, user_id: &str) -> Result<i64, Error> {
    let item = app.store.get(&records::member_uses(user_id, &month_id(app.now()))).await?;
    Ok(item.and_then(|i| i.num("count")).unwrap_or(0))
}
