//! Grants (`<holder>`/`GRANT#<order>`): a plan held because of one paid order (or, for an email
//! not signed in yet, a pack's credits waiting to be claimed). Revoked grants stay for the record.

use serde::{Deserialize, Serialize};

use super::{Holder, keys};
use crate::store::codec::{decode, encode};
use crate::store::{Condition, Item, Label, PK, Query, Store, StoreError, Tx, Update, Write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub holder: Holder,
    pub order_id: String,
    /// The plan held; empty for credits bought by an email not yet signed in.
    pub plan: String,
    /// Credits waiting for the buyer to sign in and claim them.
    pub credits: Option<i64>,
    pub payment_intent: Option<String>,
    /// The buyer's Stripe customer: a claim makes it the account's, so one person has one.
    pub customer: Option<String>,
    pub granted_at: i64,
    pub revoked_at: Option<i64>,
}

/// The stored attributes (the holder is the item's partition).
#[derive(Serialize, Deserialize)]
struct Body {
    order_id: String,
    plan: String,
    credits: Option<i64>,
    payment_intent: Option<String>,
    customer: Option<String>,
    #[serde(default)]
    granted_at: i64,
    revoked_at: Option<i64>,
}

impl Grant {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
    fn to_item(&self) -> Item {
        let body = Body {
            order_id: self.order_id.clone(),
            plan: self.plan.clone(),
            credits: self.credits,
            payment_intent: self.payment_intent.clone(),
            customer: self.customer.clone(),
            granted_at: self.granted_at,
            revoked_at: self.revoked_at,
        };
        encode(&keys::grant(&self.holder, &self.order_id), &body)
    }
    /// The grant an item holds (for tests and tools that read items).
    pub fn from_item(item: &Item) -> Result<Grant, StoreError> {
        let body: Body = decode(item)?;
        let holder = item
            .str(PK)
            .and_then(Holder::parse)
            .ok_or_else(|| StoreError::Corrupt { key: item.key(), reason: "not a holder's grant".into() })?;
        Ok(Grant {
            holder,
            order_id: body.order_id,
            plan: body.plan,
            credits: body.credits,
            payment_intent: body.payment_intent,
            customer: body.customer,
            granted_at: body.granted_at,
            revoked_at: body.revoked_at,
        })
    }
}

pub async fn get(store: &Store, holder: &Holder, order_id: &str) -> Result<Option<Grant>, StoreError> {
    store.get(&keys::grant(holder, order_id)).await?.as_ref().map(Grant::from_item).transpose()
}

/// Every grant of `holder`, active or revoked.
pub async fn of(store: &Store, holder: &Holder) -> Result<Vec<Grant>, StoreError> {
    let query = Query::prefix(holder.pk(), keys::GRANT_SK);
    store.query_all(&query).await?.iter().map(Grant::from_item).collect()
}

/// Writes the grant as it is (a purchase recorded, a grant moved to its claimer).
pub fn put(grant: &Grant) -> Tx {
    Tx::new().with(Label::Grant, Write::put(grant.to_item()))
}

/// Revokes an active grant; refused (`Grant`) when it is missing or revoked already.
pub fn revoke(holder: &Holder, order_id: &str, now: i64) -> Tx {
    let update = Update::new(keys::grant(holder, order_id))
        .set("revoked_at", now)
        .when(Condition::And(vec![Condition::Exists, Condition::absent("revoked_at")]));
    Tx::new().with(Label::Grant, Write::Update(update))
}

/// A revoked grant stands again (a dispute won).
pub fn restore(holder: &Holder, order_id: &str) -> Tx {
    let update = Update::new(keys::grant(holder, order_id)).remove("revoked_at").when(Condition::Exists);
    Tx::new().with(Label::Grant, Write::Update(update))
}

/// Removes the grant from its holder, refused (`Grant`) unless it is still as `read` (revoked
/// or not): a claim moving it must not undo a reversal that landed meanwhile.
pub fn take(read: &Grant) -> Tx {
    let as_read = match read.revoked_at {
        None => Condition::absent("revoked_at"),
        Some(at) => Condition::equals("revoked_at", at),
    };
    let delete = Write::Delete {
        key: keys::grant(&read.holder, &read.order_id),
        condition: Some(Condition::And(vec![Condition::Exists, as_read])),
    };
    Tx::new().with(Label::Grant, delete)
}
