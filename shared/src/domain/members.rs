//! Members' prices: a subscription plan may give its members (subscribers whose current period
//! is paid: `active`, not trialing or past due) a Stripe coupon on named one-time purchases, a
//! limited number of times each calendar month (UTC). A checkout reserves
//! one use when it opens; a session that expires or fails gives it back, so abandoned checkouts
//! do not spend the allowance and concurrent ones cannot exceed it.

use crate::app::App;
use crate::clock::month_id;
use crate::error::Error;
use crate::store::records;
use crate::store::{Condition, StoreError, Update, Write};

/// The session metadata naming the month a members' price was reserved in.
pub const METADATA_KEY: &str = "member_month";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPrice {
    pub coupon: String,
    pub month: String,
}

/// Reserves a members' price for `user_id` buying `key`, if a plan they subscribe to gives one
/// and this month's allowance is not used up.
pub async fn reserve(app: &App, user_id: &str, key: &str) -> Result<Option<MemberPrice>, Error> {
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
    let held = app.store.get(&records::plans_held(user_id)).await?;
    let is_member = |plan: &str| {
        held.as_ref().and_then(|i| i.num(&records::member_attribute(plan))).is_some_and(|until| until > now)
    };
    let Some((_, discount)) = offers.into_iter().find(|(p, _)| is_member(&p.key)) else {
        return Ok(None);
    };
    let month = month_id(now);
    let take = Update::new(records::member_uses(user_id, &month))
        .add("count", 1)
        .when(Condition::AbsentOrBelow("count".into(), i64::from(discount.per_month)));
    match app.store.write(Write::Update(take)).await {
        Ok(()) => Ok(Some(MemberPrice { coupon: discount.coupon.clone(), month })),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Gives back a reserved use (with the write that closes its order).
pub fn release(user_id: &str, month: &str) -> Write {
    Write::Update(
        Update::new(records::member_uses(user_id, month)).add("count", -1).when(Condition::AtLeast("count".into(), 1)),
    )
}

/// Uses of members' prices this month.
pub async fn used_this_month(app: &App, user_id: &str) -> Result<i64, Error> {
    let item = app.store.get(&records::member_uses(user_id, &month_id(app.now()))).await?;
    Ok(item.and_then(|i| i.num("count")).unwrap_or(0))
}
