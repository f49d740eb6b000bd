//! The storage schema: one module per item kind, each with its typed record (serde, through
//! `codec`), its key, its reads and its writes named by intent (`orders::mark_paid`,
//! `users::link_customer`, `grants::revoke`). Domain code calls these; it never names an
//! attribute, a key prefix or an index.
//!
//! One table, keys `PK`/`SK`, one index `GSI1` (`GSI1PK`/`GSI1SK`), TTL on `ttl`:
//!
//! | item kind           | PK                  | SK                                   | GSI1PK              | TTL           | written by |
//! |---------------------|---------------------|--------------------------------------|---------------------|---------------|------------|
//! | user profile        | `USER#<id>`         | `PROFILE`                            | `CUSTOMER#<cus>`    |               | sign-in, checkout, webhook, claims |
//! | email -> user       | `EMAIL#<email>`     | `USER`                               |                     |               | sign-in |
//! | sign-in code        | `EMAIL#<email>`     | `CODE`                               |                     | a day after expiry | sign-in |
//! | rate-limit window   | `RATE#<scope>#<s>`  | `W#<start>`                          |                     | window + 1 h (attempts: 2 d) | sign-in |
//! | identity -> user    | `IDENTITY#<iss>#<sub>` | `USER`                            |                     |               | any function, at another issuer's token's first use |
//! | user -> identity    | `USER#<id>`         | `IDENTITY#<iss>#<sub>`               |                     |               | (same) |
//! | order               | `ORDER#<id>`        | `ORDER`                              | `PURCHASER#<email>` | 7 d while pending | checkout, webhook, claims |
//! | session -> order    | `CHECKOUT#<cs_id>`  | `ORDER`                              |                     |               | webhook, claims |
//! | payment pointer     | `PAYMENT#<pi/ch/in>`| `ORDER`                              |                     |               | webhook, claims |
//! | grant (a plan)      | holder              | `GRANT#<order>`                      |                     |               | webhook, claims |
//! | plans held (+ token version, admin) | `USER#<id>` | `PLANS`                    |                     |               | webhook, claims, auth, admin |
//! | Stripe event        | `EVENT#<evt_id>`    | `EVENT`                              |                     | 30 d          | webhook |
//! | email for an event  | `EVENT#<evt_id>`    | `MAIL#<kind>`                        | `OUTBOX` until sent |               | webhook, mailer |
//! | credit balance      | `USER#<id>`         | `CREDITS#BALANCE`                    |                     |               | credits, webhook, claims, admin |
//! | ledger entry        | `USER#<id>`         | `CREDITS#ENTRY#<seq, 12 digits>`     |                     |               | (same) |
//! | credit request key  | `USER#<id>`         | `CREDITS#KEY#<C or T>#<key>`         |                     | 7 d           | (same) |
//! | usage counter       | `USER#<id>`         | `USAGE#<feature>#<period>`           |                     | period + 35 d | credits (usage) |
//! | usage request key   | `USER#<id>`         | `USAGE#KEY#<feature>#<key>`          |                     | 7 d           | credits (usage) |
//! | records kept        | `USER#<id>`         | `COUNT#<feature>`                    |                     |               | sessions |
//! | session             | `USER#<id>`         | `SES#<session>`                      |                     |               | sessions |
//! | session entry       | `USER#<id>`         | `SESENTRY#<session>#<time-ordered>`  |                     |               | sessions |
//! | subscription        | `USER#<id>`         | `SUB#<sub_id>`                       |                     |               | webhook, checkout, claims |
//! | billing audit       | `USER#<id>`         | `BILLING#<created, 10 digits>#<evt>` | `BILLING#<YYYY-MM>` |            | webhook |
//! | members' uses       | `USER#<id>`         | `MEMBERS#<YYYY-MM>`                  |                     |               | checkout, webhook |
//! | customer -> user    | `CUSTOMER#<cus>`    | `OWNER`                              |                     |               | checkout, webhook, claims |
//! | event waiting       | `CUSTOMER#<cus>`    | `WAITING#<created>#<evt_id>`         |                     | 30 d          | webhook |
//! | metrics counter     | `METRICS#<0-7>`     | `<FAMILY>#<YYYY-MM-DD or ALL>`       |                     | days: 400 d   | webhook, sign-in, credits, subscriptions |
//!
//! A holder is `USER#<id>`, or `EMAIL#<email>` for an anonymous purchase not yet claimed.

pub mod audit;
pub mod codes;
pub mod credits;
pub mod customers;
pub mod erasure;
pub mod events;
pub mod grants;
pub mod identities;
pub mod keys;
pub mod mail;
pub mod members;
pub mod metrics;
pub mod orders;
pub mod payments;
pub mod plans;
pub mod sessions;
pub mod subscriptions;
pub mod usage;
pub mod users;

pub use audit::BillingEvent;
pub use credits::{CreditRequest, LedgerEntry, Reason, RequestKey};
pub use events::EventRecord;
pub use grants::Grant;
pub use orders::{Order, OrderStatus};
pub use payments::PaymentPointer;
pub use plans::{Plans, SubscriptionSummary};
pub use subscriptions::SubscriptionRecord;
pub use users::User;

/// One page of a partition's items under `sk_prefix`, newest first, after an opaque cursor
/// (refused unless it is one of this list's), and the cursor that continues after it.
async fn newest_first<T: serde::de::DeserializeOwned>(
    store: &crate::store::Store,
    pk: String,
    sk_prefix: &str,
    limit: usize,
    cursor: Option<&str>,
) -> Result<(Vec<T>, Option<String>), crate::error::Error> {
    use crate::store::cursor;
    let after = cursor.map(|c| cursor::decode(c, sk_prefix)).transpose()?;
    let query = crate::store::Query { pk, sk_prefix: sk_prefix.to_string(), newest_first: true, limit, after };
    let page = store.query(&query).await?;
    Ok((crate::store::codec::decode_all(&page.items)?, page.last_sk.as_deref().map(cursor::encode)))
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
            Holder::User(id) => keys::user_pk(id),
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

/// A holder is stored as its key (`USER#<id>` / `EMAIL#<email>`).
impl serde::Serialize for Holder {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.pk())
    }
}

impl<'de> serde::Deserialize<'de> for Holder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pk = String::deserialize(d)?;
        Holder::parse(&pk).ok_or_else(|| serde::de::Error::custom(format!("not a holder: {pk:?}")))
    }
}
