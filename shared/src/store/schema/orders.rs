//! Orders (`ORDER#<id>`/`ORDER`, in GSI1 under `PURCHASER#<email>`) and each checkout session's
//! pointer to its order (`CHECKOUT#<cs_id>`/`ORDER`).

use serde::{Deserialize, Serialize};

use super::keys;
use crate::store::codec::{decode_opt, encode};
use crate::store::{Condition, GSI1PK, GSI1SK, Label, Store, StoreError, TTL, Tx, Update, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Paid,
    Expired,
    Failed,
    Refunded,
    /// Its payment is disputed (access taken back while it is, or once lost; by configuration).
    Disputed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Expired => "expired",
            OrderStatus::Failed => "failed",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Disputed => "disputed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    #[serde(rename = "order_id")]
    pub id: String,
    /// The plan bought; empty for a credit pack.
    pub plan: String,
    /// The credit pack bought, if it is one.
    pub pack: Option<String>,
    pub status: OrderStatus,
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub checkout_session_id: Option<String>,
    pub payment_intent: Option<String>,
    pub subscription_id: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    #[serde(default)]
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub refunded_at: Option<i64>,
}

impl Order {
    /// A new pending order: nothing paid, no session yet.
    pub fn pending(id: &str, plan: &str, email: Option<&str>, user_id: Option<&str>, created_at: i64) -> Order {
        Order {
            id: id.to_string(),
            plan: plan.to_string(),
            pack: None,
            status: OrderStatus::Pending,
            email: email.map(str::to_string),
            user_id: user_id.map(str::to_string),
            checkout_session_id: None,
            payment_intent: None,
            subscription_id: None,
            amount_total: None,
            currency: None,
            created_at,
            paid_at: None,
            refunded_at: None,
        }
    }
    /// The order's item (in the purchaser index when it has an email).
    pub fn to_item(&self) -> crate::store::Item {
        let item = encode(&keys::order(&self.id), self);
        match &self.email {
            Some(email) => item.with(GSI1PK, keys::purchaser_index(email)).with(GSI1SK, purchaser_sk(&self.id)),
            None => item,
        }
    }
    /// The order an item holds (for tests and tools that read items).
    pub fn from_item(item: &crate::store::Item) -> Result<Order, StoreError> {
        crate::store::codec::decode(item)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct SessionLink {
    order_id: String,
}

fn purchaser_sk(order_id: &str) -> String {
    format!("ORDER#{order_id}")
}

pub async fn get(store: &Store, id: &str) -> Result<Option<Order>, StoreError> {
    decode_opt(store.get(&keys::order(id)).await?.as_ref())
}

/// The orders bought with `email` (the purchaser index; eventually consistent).
pub async fn of_purchaser(store: &Store, email: &str) -> Result<Vec<Order>, StoreError> {
    crate::store::codec::decode_all(&store.query_index(&keys::purchaser_index(email), 1000).await?)
}

/// The order a checkout session paid for, once a purchase is recorded.
pub async fn for_session(store: &Store, session_id: &str) -> Result<Option<String>, StoreError> {
    Ok(decode_opt::<SessionLink>(store.get(&keys::checkout_session(session_id)).await?.as_ref())?.map(|l| l.order_id))
}

/// A new pending order, deleted at `expires_at` unless it is paid first.
pub fn open(order: &Order, expires_at: i64) -> Tx {
    let item = order.to_item().with(TTL, expires_at);
    Tx::new().with(Label::Order, Write::put_new(item))
}

/// The order learned its Checkout session.
pub fn session_opened(order_id: &str, session_id: &str) -> Tx {
    let update = Update::new(keys::order(order_id)).set("checkout_session_id", session_id).when(Condition::Exists);
    Tx::new().with(Label::Order, Write::Update(update))
}

/// A pending order closes (`expired` or `failed`); refused unless it is still pending.
pub fn close(order_id: &str, status: OrderStatus) -> Tx {
    let update = Update::new(keys::order(order_id))
        .set("status", status.as_str())
        .when(Condition::equals("status", OrderStatus::Pending.as_str()));
    Tx::new().with(Label::Order, Write::Update(update))
}

/// An abandoned order (pending, or already deleted by its expiry) closes as expired.
pub fn close_abandoned(order_id: &str, expires_at: i64) -> Tx {
    let update = Update::new(keys::order(order_id))
        .set("status", OrderStatus::Expired.as_str())
        .set(TTL, expires_at)
        .when(Condition::Or(vec![Condition::NotExists, Condition::equals("status", OrderStatus::Pending.as_str())]));
    Tx::new().with(Label::Order, Write::Update(update))
}

/// What a paid checkout records on its order.
#[derive(Debug, Clone)]
pub struct Paid<'a> {
    pub order_id: &'a str,
    pub plan: &'a str,
    pub pack: Option<&'a str>,
    pub session_id: &'a str,
    pub payment_intent: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub email: Option<&'a str>,
    pub amount_total: Option<i64>,
    pub currency: Option<&'a str>,
    /// Its refund (or dispute) arrived first: recorded as refunded.
    pub refunded_first: bool,
}

/// Records the order paid (created if checkout never wrote it: a Payment Link), and the session's
/// pointer to it. Refused (`Order`) when it was recorded paid before: its first `paid_at` guards
/// the whole purchase.
pub fn mark_paid(paid: &Paid, now: i64) -> Tx {
    let status = if paid.refunded_first { OrderStatus::Refunded } else { OrderStatus::Paid };
    let mut order = Update::new(keys::order(paid.order_id))
        .set("order_id", paid.order_id)
        .set("status", status.as_str())
        .set("paid_at", now)
        .set("plan", paid.plan)
        .set_opt("pack", paid.pack)
        .set("checkout_session_id", paid.session_id)
        .set_opt("payment_intent", paid.payment_intent)
        .set_opt("user_id", paid.user_id)
        .set_opt("amount_total", paid.amount_total)
        .set_opt("currency", paid.currency)
        .set_opt("refunded_at", paid.refunded_first.then_some(now))
        .set_if_absent("created_at", now)
        .remove(TTL)
        .when(Condition::absent("paid_at"));
    if let Some(email) = paid.email {
        order = order
            .set("email", email)
            .set(GSI1PK, keys::purchaser_index(email))
            .set(GSI1SK, purchaser_sk(paid.order_id));
    }
    let link = encode(&keys::checkout_session(paid.session_id), &SessionLink { order_id: paid.order_id.to_string() });
    Tx::new().with(Label::Order, Write::Update(order)).with(Label::SessionLink, Write::put(link))
}

/// A subscription's checkout completed: its order is paid (it stays, no expiry).
pub fn subscription_paid(order_id: &str, session_id: &str, subscription_id: &str, now: i64) -> Tx {
    let update = Update::new(keys::order(order_id))
        .set("status", OrderStatus::Paid.as_str())
        .set_if_absent("paid_at", now)
        .set("checkout_session_id", session_id)
        .set("subscription_id", subscription_id)
        .remove(TTL)
        .when(Condition::Exists);
    Tx::new().with(Label::Order, Write::Update(update))
}

/// An anonymous purchase's order learns the user who claimed it (once).
pub fn claimed_by(order_id: &str, user_id: &str) -> Tx {
    let update = Update::new(keys::order(order_id))
        .set("user_id", user_id)
        .when(Condition::And(vec![Condition::Exists, Condition::absent("user_id")]));
    Tx::new().with(Label::Order, Write::Update(update))
}

/// The order's payment was refunded or disputed.
pub fn reversed(order_id: &str, status: OrderStatus, now: i64) -> Tx {
    let update = Update::new(keys::order(order_id))
        .set("status", status.as_str())
        .set_if_absent("refunded_at", now)
        .when(Condition::Exists);
    Tx::new().with(Label::Order, Write::Update(update))
}

/// A dispute decided for the business: the order stands again.
pub fn restored(order_id: &str) -> Tx {
    let update = Update::new(keys::order(order_id))
        .set("status", OrderStatus::Paid.as_str())
        .remove("refunded_at")
        .when(Condition::Exists);
    Tx::new().with(Label::Order, Write::Update(update))
}
