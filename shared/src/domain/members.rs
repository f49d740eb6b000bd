//! Members' prices: a subscription plan may give its members (subscribers whose current period
//! is paid: `active`, not trialing or past due) a Stripe coupon on named one-time purchases, a
//! limited number of times each calendar month (UTC). A checkout reserves
//! one use when it opens; a session that expires or fails gives it back, so abandoned checkouts
//! do not spend the allowance and concurrent ones cannot exceed it.

use crate::app::App;
use crate::clock::month_id;
use crate::error::Error;
use crate::store::schema::members::{self as uses, MemberUses};
use crate::store::schema::orders;
use crate::store::{Label, Tx};

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
    let (held, this_month) = uses::read(&app.store, user_id, &month).await?;
    let is_member = |plan: &str| held.member_until(plan).is_some_and(|until| until > now);
    let Some((_, discount)) = offers.into_iter().find(|(p, _)| is_member(&p.key)) else {
        return Ok(None);
    };
    if let Some(this_month) = &this_month {
        release_stale(app, user_id, &month, this_month, now).await?;
    }
    let take = uses::reserve(user_id, &month, order_id, now + HOLD_WITHOUT_SESSION_SECS, i64::from(discount.per_month));
    match app.store.commit(take).await {
        Ok(()) => Ok(Some(MemberPrice { coupon: discount.coupon.clone(), month })),
        Err(e) if e.refused(Label::Members) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Releases each reservation past its time whose order is still pending (closing the order);
/// one whose order was paid or closed meanwhile only loses its hold (the use stands, or the
/// order's closing gave it back already).
async fn release_stale(app: &App, user_id: &str, month: &str, this_month: &MemberUses, now: i64) -> Result<(), Error> {
    let stale = this_month.holds.iter().filter(|(_, until)| **until <= now).map(|(order_id, _)| order_id);
    for order_id in stale {
        // A pending order (or one its expiry already deleted) was abandoned: close it.
        let mut tx = orders::close_abandoned(order_id, now + super::orders::PENDING_ORDER_RETENTION_SECS);
        tx.append(uses::release_held(user_id, month, order_id));
        match app.store.transact(tx).await {
            Ok(()) => tracing::info!(%order_id, "a members' price reserved by an abandoned order was released"),
            Err(e) if e.is_condition() => match app.store.commit(uses::forget_hold(user_id, month, order_id)).await {
                Ok(()) => {}
                Err(e) if e.is_condition() => {}
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The order got its session: its reservation is kept until the session is surely over.
pub fn session_opened(user_id: &str, month: &str, order_id: &str, now: i64) -> Tx {
    uses::extend_hold(user_id, month, order_id, now + HOLD_WITH_SESSION_SECS)
}

/// Gives back a reserved use (with the write that closes its order, which guards it).
pub fn release(user_id: &str, month: &str, order_id: Option<&str>) -> Tx {
    uses::release(user_id, month, order_id)
}

/// Uses of members' prices this month.
pub async fn used_this_month(app: &App, user_id: &str) -> Result<i64, Error> {
    Ok(uses::used(&app.store, user_id, &month_id(app.now())).await?)
}
