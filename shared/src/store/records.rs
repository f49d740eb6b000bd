//! The single-table key design and the mapping between Tollgate's records and items.
//!
//! | record            | PK                 | SK                | GSI1PK              |
//! |-------------------|--------------------|-------------------|---------------------|
//! | user profile      | `USER#<id>`        | `PROFILE`         | `CUSTOMER#<cus_id>` |
//! | email -> user     | `EMAIL#<email>`    | `USER`            |                     |
//! | sign-in code      | `EMAIL#<email>`    | `CODE`            |                     |
//! | rate-limit window | `RATE#<scope>#<s>` | `W#<start>`       |                     |
//! | order             | `ORDER#<id>`       | `ORDER`           | `PURCHASER#<email>` |
//! | session -> order  | `CHECKOUT#<cs_id>` | `ORDER`           |                     |
//! | payment -> order  | `PAYMENT#<pi_id>`  | `ORDER`           |                     |
//! | grant (a plan)    | holder             | `GRANT#<order>`   |                     |
//! | Stripe event      | `EVENT#<evt_id>`   | `EVENT`           |                     |
//!
//! A holder is `USER#<id>`, or `EMAIL#<email>` for an anonymous purchase not yet claimed.

use super::{GSI1PK, GSI1SK, Item, Key, TTL};

pub fn user(id: &str) -> Key {
    Key::new(format!("USER#{id}"), "PROFILE")
}
pub fn email_owner(email: &str) -> Key {
    Key::new(format!("EMAIL#{email}"), "USER")
}
pub fn login_code(email: &str) -> Key {
    Key::new(format!("EMAIL#{email}"), "CODE")
}
pub fn rate_window(scope: &str, subject: &str, window_start: i64) -> Key {
    Key::new(format!("RATE#{scope}#{subject}"), format!("W#{window_start}"))
}
pub fn order(id: &str) -> Key {
    Key::new(format!("ORDER#{id}"), "ORDER")
}
pub fn checkout_session(session_id: &str) -> Key {
    Key::new(format!("CHECKOUT#{session_id}"), "ORDER")
}
pub fn payment(payment_intent: &str) -> Key {
    Key::new(format!("PAYMENT#{payment_intent}"), "ORDER")
}
pub fn event(id: &str) -> Key {
    Key::new(format!("EVENT#{id}"), "EVENT")
}
pub fn grant(holder: &Holder, order_id: &str) -> Key {
    Key::new(holder.pk(), format!("GRANT#{order_id}"))
}
pub const GRANT_PREFIX: &str = "GRANT#";

pub fn customer_index(customer: &str) -> String {
    format!("CUSTOMER#{customer}")
}
pub fn purchaser_index(email: &str) -> String {
    format!("PURCHASER#{email}")
}

/// Who holds a purchase: a user, or an email until its owner signs in and claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    User(String),
    Email(String),
}

impl Holder {
    pub fn pk(&self) -> String {
        match self {
            Holder::User(id) => format!("USER#{id}"),
            Holder::Email(email) => format!("EMAIL#{email}"),
        }
    }
    pub fn parse(pk: &str) -> Option<Holder> {
        if let Some(id) = pk.strip_prefix("USER#") {
            Some(Holder::User(id.to_string()))
        } else {
            pk.strip_prefix("EMAIL#").map(|e| Holder::Email(e.to_string()))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub created_at: i64,
    pub stripe_customer_id: Option<String>,
}

impl User {
    pub fn to_item(&self) -> Item {
        Item::new(&user(&self.id))
            .with("user_id", self.id.as_str())
            .with("email", self.email.as_str())
            .with("created_at", self.created_at)
            .with_opt("stripe_customer_id", self.stripe_customer_id.as_deref())
            .with_opt(GSI1PK, self.stripe_customer_id.as_deref().map(customer_index))
            .with_opt(GSI1SK, self.stripe_customer_id.as_ref().map(|_| "USER"))
    }
    pub fn from_item(item: &Item) -> Option<User> {
        Some(User {
            id: item.string("user_id")?,
            email: item.string("email")?,
            created_at: item.num("created_at").unwrap_or_default(),
            stripe_customer_id: item.string("stripe_customer_id"),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Paid,
    Expired,
    Failed,
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Expired => "expired",
            OrderStatus::Failed => "failed",
            OrderStatus::Refunded => "refunded",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => OrderStatus::Pending,
            "paid" => OrderStatus::Paid,
            "expired" => OrderStatus::Expired,
            "failed" => OrderStatus::Failed,
            "refunded" => OrderStatus::Refunded,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub plan: String,
    pub status: OrderStatus,
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub checkout_session_id: Option<String>,
    pub payment_intent: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
}

impl Order {
    pub fn to_item(&self) -> Item {
        Item::new(&order(&self.id))
            .with("order_id", self.id.as_str())
            .with("plan", self.plan.as_str())
            .with("status", self.status.as_str())
            .with("created_at", self.created_at)
            .with_opt("email", self.email.as_deref())
            .with_opt("user_id", self.user_id.as_deref())
            .with_opt("checkout_session_id", self.checkout_session_id.as_deref())
            .with_opt("payment_intent", self.payment_intent.as_deref())
            .with_opt("amount_total", self.amount_total)
            .with_opt("currency", self.currency.as_deref())
            .with_opt("paid_at", self.paid_at)
            .with_opt(GSI1PK, self.email.as_deref().map(purchaser_index))
            .with_opt(GSI1SK, self.email.as_ref().map(|_| format!("ORDER#{}", self.id)))
    }
    pub fn from_item(item: &Item) -> Option<Order> {
        Some(Order {
            id: item.string("order_id")?,
            plan: item.string("plan")?,
            status: OrderStatus::parse(item.str("status")?)?,
            email: item.string("email"),
            user_id: item.string("user_id"),
            checkout_session_id: item.string("checkout_session_id"),
            payment_intent: item.string("payment_intent"),
            amount_total: item.num("amount_total"),
            currency: item.string("currency"),
            created_at: item.num("created_at").unwrap_or_default(),
            paid_at: item.num("paid_at"),
        })
    }
}

/// A plan held by a holder because of one paid order; revoked grants stay for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub holder: Holder,
    pub order_id: String,
    pub plan: String,
    pub payment_intent: Option<String>,
    pub granted_at: i64,
    pub revoked_at: Option<i64>,
}

impl Grant {
    pub fn to_item(&self) -> Item {
        Item::new(&grant(&self.holder, &self.order_id))
            .with("order_id", self.order_id.as_str())
            .with("plan", self.plan.as_str())
            .with("granted_at", self.granted_at)
            .with_opt("payment_intent", self.payment_intent.as_deref())
            .with_opt("revoked_at", self.revoked_at)
    }
    pub fn from_item(item: &Item) -> Option<Grant> {
        Some(Grant {
            holder: Holder::parse(item.str(super::PK)?)?,
            order_id: item.string("order_id")?,
            plan: item.string("plan")?,
            payment_intent: item.string("payment_intent"),
            granted_at: item.num("granted_at").unwrap_or_default(),
            revoked_at: item.num("revoked_at"),
        })
    }
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// The exactly-once record of a Stripe event. Kept at least 30 days (Stripe retries for 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: String,
    pub event_type: String,
    pub outcome: String,
    pub received_at: i64,
}

pub const EVENT_RETENTION_SECS: i64 = 30 * 24 * 3600;

impl EventRecord {
    pub fn to_item(&self) -> Item {
        Item::new(&event(&self.id))
            .with("event_id", self.id.as_str())
            .with("event_type", self.event_type.as_str())
            .with("outcome", self.outcome.as_str())
            .with("received_at", self.received_at)
            .with(TTL, self.received_at + EVENT_RETENTION_SECS)
    }
    pub fn from_item(item: &Item) -> Option<EventRecord> {
        Some(EventRecord {
            id: item.string("event_id")?,
            event_type: item.string("event_type")?,
            outcome: item.string("outcome")?,
            received_at: item.num("received_at")?,
        })
    }
}
