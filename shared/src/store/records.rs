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
//! | plans held        | `USER#<id>`        | `PLANS`           |                     |
//! | credit balance    | `USER#<id>`        | `CREDITS#BALANCE` |                     |
//! | usage counter     | `USER#<id>`        | `USAGE#<feature>#<period>` |            |
//! | records kept      | `USER#<id>`        | `COUNT#<feature>` |                     |
//! | session           | `USER#<id>`        | `SES#<session>`   |                     |
//! | session entry     | `USER#<id>`        | `SESENTRY#<session>#<time-ordered id>` | |
//! | usage request key | `USER#<id>`        | `USAGE#KEY#<feature>#<key>` |           |
//! | ledger entry      | `USER#<id>`        | `CREDITS#ENTRY#<seq, 12 digits>` |      |
//! | credit request key| `USER#<id>`        | `CREDITS#KEY#<key>` |                   |
//! | subscription      | `USER#<id>`        | `SUB#<sub_id>`    |                     |
//! | billing audit     | `USER#<id>`        | `BILLING#<event created, 10 digits>#<evt_id>` | |
//! | members' uses     | `USER#<id>`        | `MEMBERS#<YYYY-MM>` |                   |
//! | email sent for an event | `EVENT#<evt_id>` | `MAIL#<kind>`  |                     |
//! | customer -> user  | `CUSTOMER#<cus_id>` | `OWNER`          |                     |
//! | event waiting for its customer | `CUSTOMER#<cus_id>` | `WAITING#<created>#<evt_id>` | |
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
/// How many active grants of each plan a user holds (`held_<plan>`), kept in the same
/// transactions that grant, move and revoke, so a user's plan is one read.
pub fn plans_held(user_id: &str) -> Key {
    Key::new(format!("USER#{user_id}"), "PLANS")
}
pub fn held_attribute(plan: &str) -> String {
    format!("held_{plan}")
}
/// A metered feature's use in one calendar period (`D2026-11-23`, `M2026-11`).
pub fn usage(user_id: &str, feature: &str, period: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("USAGE#{feature}#{period}"))
}
pub fn usage_request(user_id: &str, feature: &str, key: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("USAGE#KEY#{feature}#{key}"))
}
/// How many records of a capped feature (`sessions`) a user keeps.
pub fn kept(user_id: &str, feature: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("COUNT#{feature}"))
}
pub const SESSION_PREFIX: &str = "SES#";
pub fn session(user_id: &str, session_id: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("{SESSION_PREFIX}{session_id}"))
}
pub fn session_entries_prefix(session_id: &str) -> String {
    format!("SESENTRY#{session_id}#")
}
pub fn session_entry(user_id: &str, session_id: &str, entry_id: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("{}{entry_id}", session_entries_prefix(session_id)))
}
pub fn credit_balance(user_id: &str) -> Key {
    Key::new(format!("USER#{user_id}"), "CREDITS#BALANCE")
}
pub const LEDGER_PREFIX: &str = "CREDITS#ENTRY#";
/// Entries sort by their sequence number: the order the changes were applied in.
pub fn ledger_entry(user_id: &str, seq: i64) -> Key {
    Key::new(format!("USER#{user_id}"), format!("{LEDGER_PREFIX}{seq:012}"))
}
/// A keyed credit change's record; `key` is already scoped (`RequestKey::scoped`).
pub fn credit_request(user_id: &str, scoped_key: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("CREDITS#KEY#{scoped_key}"))
}

/// Who chose a credit change's idempotency key. The two live under different prefixes, so no
/// key a caller sends can ever name (and so pre-empt) one of Tollgate's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKey<'a> {
    /// A key the API caller chose (`idempotency_key`, `Idempotency-Key`, `ref`).
    Caller(&'a str),
    /// Tollgate's own key for one of its effects (`order:<id>`, `refund:<order>`, ...).
    Own(&'a str),
}

impl RequestKey<'_> {
    pub fn scoped(&self) -> String {
        match self {
            RequestKey::Caller(k) => format!("C#{k}"),
            RequestKey::Own(k) => format!("T#{k}"),
        }
    }
}

/// Why a ledger entry was written: a closed set that only Tollgate names. What a person typed
/// (a debit's reason, an administrator's note) is kept apart, in the entry's `note`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A credit pack bought.
    Purchase,
    /// A refunded purchase or invoice taking its credits back.
    Refund,
    /// A disputed payment taking its credits back.
    Dispute,
    /// A dispute decided for the business: what it took is given back.
    DisputeWon,
    /// A paid subscription period's credits.
    Subscription,
    /// An administrator's grant or correction.
    Admin,
    /// A caller's `POST /api/credits/debit`.
    Debit,
    /// A caller's `POST /api/credits/use`.
    Use,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::Purchase,
        Reason::Refund,
        Reason::Dispute,
        Reason::DisputeWon,
        Reason::Subscription,
        Reason::Admin,
        Reason::Debit,
        Reason::Use,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Purchase => "purchase",
            Reason::Refund => "refund",
            Reason::Dispute => "dispute",
            Reason::DisputeWon => "dispute_won",
            Reason::Subscription => "subscription",
            Reason::Admin => "admin",
            Reason::Debit => "debit",
            Reason::Use => "use",
        }
    }
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
    /// Written on a caller's request (as opposed to by Tollgate or an administrator).
    pub fn is_callers(self) -> bool {
        matches!(self, Reason::Debit | Reason::Use)
    }
}
pub fn grant(holder: &Holder, order_id: &str) -> Key {
    Key::new(holder.pk(), format!("GRANT#{order_id}"))
}
pub const GRANT_PREFIX: &str = "GRANT#";

pub const SUBSCRIPTION_PREFIX: &str = "SUB#";
pub fn subscription(user_id: &str, subscription_id: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("{SUBSCRIPTION_PREFIX}{subscription_id}"))
}
/// When a plan's subscription access ends (`until_<plan>`; `OPEN_ENDED` while it does not),
/// on the `PLANS` item beside the grant counts.
pub fn until_attribute(plan: &str) -> String {
    format!("until_{plan}")
}
/// Until when a subscriber of `plan` is a member (their current period is paid: `active`),
/// on the `PLANS` item.
pub fn member_attribute(plan: &str) -> String {
    format!("member_{plan}")
}
pub const BILLING_PREFIX: &str = "BILLING#";
/// Audit records sort by the event's time at Stripe.
pub fn billing_event(user_id: &str, created: i64, event_id: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("{BILLING_PREFIX}{created:010}#{event_id}"))
}
/// Member-priced purchases started in one calendar month (`2026-11`).
pub fn member_uses(user_id: &str, month: &str) -> Key {
    Key::new(format!("USER#{user_id}"), format!("MEMBERS#{month}"))
}
pub const MAIL_PREFIX: &str = "MAIL#";
pub fn event_mail(event_id: &str, kind: &str) -> Key {
    Key::new(format!("EVENT#{event_id}"), format!("{MAIL_PREFIX}{kind}"))
}

/// Who a Stripe customer belongs to: read strongly consistent (the GSI lags its writes).
pub fn customer_owner(customer: &str) -> Key {
    Key::new(format!("CUSTOMER#{customer}"), "OWNER")
}

pub const WAITING_PREFIX: &str = "WAITING#";
/// An event about a customer not linked to a user yet, in the order Stripe created them.
pub fn waiting_event(customer: &str, created: i64, event_id: &str) -> Key {
    Key::new(format!("CUSTOMER#{customer}"), format!("{WAITING_PREFIX}{created:010}#{event_id}"))
}

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
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => OrderStatus::Pending,
            "paid" => OrderStatus::Paid,
            "expired" => OrderStatus::Expired,
            "failed" => OrderStatus::Failed,
            "refunded" => OrderStatus::Refunded,
            "disputed" => OrderStatus::Disputed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
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
            .with_opt("pack", self.pack.as_deref())
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
            pack: item.string("pack"),
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

impl Grant {
    pub fn to_item(&self) -> Item {
        Item::new(&grant(&self.holder, &self.order_id))
            .with("order_id", self.order_id.as_str())
            .with("plan", self.plan.as_str())
            .with("granted_at", self.granted_at)
            .with_opt("credits", self.credits)
            .with_opt("payment_intent", self.payment_intent.as_deref())
            .with_opt("customer", self.customer.as_deref())
            .with_opt("revoked_at", self.revoked_at)
    }
    pub fn from_item(item: &Item) -> Option<Grant> {
        Some(Grant {
            holder: Holder::parse(item.str(super::PK)?)?,
            order_id: item.string("order_id")?,
            plan: item.string("plan")?,
            credits: item.num("credits"),
            payment_intent: item.string("payment_intent"),
            customer: item.string("customer"),
            granted_at: item.num("granted_at").unwrap_or_default(),
            revoked_at: item.num("revoked_at"),
        })
    }
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// What one payment (a payment intent, or a charge, or an invoice) paid for, so a refund or a
/// dispute finds it: an order's grant or credits, or a subscription invoice's period credits.
/// It is also the one guard of reversals: the first refund or dispute marks it `reversed_by`,
/// and every write that moves what it paid for is conditional on it as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaymentPointer {
    pub payment_id: String,
    pub order_id: Option<String>,
    /// The invoice it paid: set on an invoice's own pointer, and on its payments' pointers,
    /// which lead to it.
    pub invoice: Option<String>,
    pub holder: Option<Holder>,
    pub credits: Option<i64>,
    pub plan: Option<String>,
    /// A reversal arrived before anything was recorded for the payment.
    pub reversed_first_at: Option<i64>,
    /// `refund`, or `dispute:<id>`: set once, by the first reversal.
    pub reversed_by: Option<String>,
    /// Credits the reversal took back (what a dispute won gives back).
    pub taken_back: Option<i64>,
    /// Disputes decided for the business (`won_<id>`): their "opened" event, if it comes late,
    /// changes nothing.
    pub won_disputes: Vec<String>,
}

/// Attribute names of the payment pointer that conditions and updates name.
pub mod pointer {
    pub const HOLDER: &str = "holder";
    pub const ORDER: &str = "order_id";
    pub const INVOICE: &str = "invoice";
    pub const CREDITS: &str = "credits";
    pub const PLAN: &str = "plan";
    pub const REVERSED_FIRST: &str = "refunded_at";
    pub const REVERSED_BY: &str = "reversed_by";
    pub const REVERSED_AT: &str = "reversed_at";
    pub const TAKEN_BACK: &str = "taken_back";
    pub const WON_PREFIX: &str = "won_";
}

impl PaymentPointer {
    pub fn from_item(item: &Item) -> Option<PaymentPointer> {
        let pk = item.str(super::PK)?;
        Some(PaymentPointer {
            payment_id: pk.strip_prefix("PAYMENT#")?.to_string(),
            order_id: item.string(pointer::ORDER),
            invoice: item.string(pointer::INVOICE),
            holder: item.str(pointer::HOLDER).and_then(Holder::parse),
            credits: item.num(pointer::CREDITS),
            plan: item.string(pointer::PLAN),
            reversed_first_at: item.num(pointer::REVERSED_FIRST),
            reversed_by: item.string(pointer::REVERSED_BY),
            taken_back: item.num(pointer::TAKEN_BACK),
            won_disputes: item
                .0
                .keys()
                .filter_map(|k| k.strip_prefix(pointer::WON_PREFIX))
                .map(str::to_string)
                .collect(),
        })
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

/// One change to a user's credit balance. Entries are never changed or deleted: the balance is
/// always the sum of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: String,
    pub user_id: String,
    /// 1 for the user's first change, then one more for each.
    pub seq: i64,
    pub delta: i64,
    pub balance_after: i64,
    pub reason: Reason,
    /// What the caller or administrator wrote about the change (never one of Tollgate's reasons).
    pub note: Option<String>,
    pub reference: Option<String>,
    /// Credits a take-back could not take because they were already spent.
    pub shortfall: Option<i64>,
    pub created_at: i64,
}

impl LedgerEntry {
    pub fn to_item(&self) -> Item {
        Item::new(&ledger_entry(&self.user_id, self.seq))
            .with("entry_id", self.id.as_str())
            .with("seq", self.seq)
            .with("user_id", self.user_id.as_str())
            .with("delta", self.delta)
            .with("balance_after", self.balance_after)
            .with("reason", self.reason.as_str())
            .with_opt("note", self.note.as_deref())
            .with_opt("ref", self.reference.as_deref())
            .with_opt("shortfall", self.shortfall)
            .with("created_at", self.created_at)
    }
    pub fn from_item(item: &Item) -> Option<LedgerEntry> {
        Some(LedgerEntry {
            id: item.string("entry_id")?,
            user_id: item.string("user_id")?,
            seq: item.num("seq")?,
            delta: item.num("delta")?,
            balance_after: item.num("balance_after")?,
            reason: Reason::parse(item.str("reason")?)?,
            note: item.string("note"),
            reference: item.string("ref"),
            shortfall: item.num("shortfall"),
            created_at: item.num("created_at")?,
        })
    }
}

/// What a keyed credit request did, so a retry answers the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditRequest {
    pub user_id: String,
    /// Scoped by who chose it (`RequestKey::scoped`).
    pub key: String,
    /// The change asked for (negative for a debit).
    pub requested: i64,
    pub entry_id: String,
    pub balance_after: i64,
    pub created_at: i64,
}

/// Keys are remembered a week: far longer than any client retries.
pub const CREDIT_KEY_RETENTION_SECS: i64 = 7 * 24 * 3600;

impl CreditRequest {
    pub fn to_item(&self) -> Item {
        Item::new(&credit_request(&self.user_id, &self.key))
            .with("user_id", self.user_id.as_str())
            .with("key", self.key.as_str())
            .with("requested", self.requested)
            .with("entry_id", self.entry_id.as_str())
            .with("balance_after", self.balance_after)
            .with("created_at", self.created_at)
            .with(TTL, self.created_at + CREDIT_KEY_RETENTION_SECS)
    }
    pub fn from_item(item: &Item) -> Option<CreditRequest> {
        Some(CreditRequest {
            user_id: item.string("user_id")?,
            key: item.string("key")?,
            requested: item.num("requested")?,
            entry_id: item.string("entry_id")?,
            balance_after: item.num("balance_after")?,
            created_at: item.num("created_at")?,
        })
    }
}
