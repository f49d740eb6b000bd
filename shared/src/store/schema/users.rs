//! Users (`USER#<id>`/`PROFILE`), the email each signs in with (`EMAIL#<email>`/`USER`), and who
//! each Stripe customer belongs to (`CUSTOMER#<cus>`/`OWNER`, and the profile's GSI1 entry).

use serde::{Deserialize, Serialize};

use super::keys;
use crate::store::codec::{decode, decode_opt, encode};
use crate::store::{GSI1PK, GSI1SK, Label, Store, StoreError, Tx, Update, Write};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    #[serde(rename = "user_id")]
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub created_at: i64,
    pub stripe_customer_id: Option<String>,
    /// When the user's personal data was erased (the email is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<i64>,
}

impl User {
    /// The profile item (in the customer index once linked).
    pub fn to_item(&self) -> crate::store::Item {
        let profile = encode(&keys::user(&self.id), self);
        match &self.stripe_customer_id {
            Some(customer) => profile.with(GSI1PK, keys::customer_index(customer)).with(GSI1SK, "USER"),
            None => profile,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct EmailOwner {
    user_id: String,
    created_at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct CustomerOwner {
    user_id: String,
}

pub async fn get(store: &Store, id: &str) -> Result<Option<User>, StoreError> {
    decode_opt(store.get(&keys::user(id)).await?.as_ref())
}

pub async fn id_for_email(store: &Store, email: &str) -> Result<Option<String>, StoreError> {
    Ok(decode_opt::<EmailOwner>(store.get(&keys::email_owner(email)).await?.as_ref())?.map(|o| o.user_id))
}

/// A new user: the email's claim (refused, `EmailOwner`, when the email has a user) and the
/// profile, together.
pub fn create(user: &User) -> Tx {
    let claim = EmailOwner { user_id: user.id.clone(), created_at: user.created_at };
    let profile = user.to_item();
    Tx::new()
        .with(Label::EmailOwner, Write::put_new(encode(&keys::email_owner(&user.email), &claim)))
        .with(Label::Profile, Write::put_new(profile))
}

/// A new user with no email (another issuer's user whose email is not vouched for).
pub fn create_without_email(user: &User) -> Tx {
    Tx::new().with(Label::Profile, Write::put_new(user.to_item()))
}

/// Makes `customer` the user's Stripe customer unless they have one (the first stored wins),
/// and records who the customer belongs to: the one place a customer is linked.
pub fn link_customer(user_id: &str, email: &str, customer: &str) -> Tx {
    Tx::new()
        .with(
            Label::Profile,
            Write::Update(
                Update::new(keys::user(user_id))
                    .set_if_absent("user_id", user_id)
                    .set_if_absent("email", email)
                    .set_if_absent("stripe_customer_id", customer)
                    .set_if_absent(GSI1PK, keys::customer_index(customer))
                    .set_if_absent(GSI1SK, "USER"),
            ),
        )
        .with(
            Label::Customer,
            Write::Update(Update::new(keys::customer_owner(customer)).set_if_absent("user_id", user_id)),
        )
}

/// The user a Stripe customer belongs to: the owner item, else (data written before it existed)
/// the profile index.
pub async fn owner_of_customer(store: &Store, customer: &str) -> Result<Option<String>, StoreError> {
    if let Some(owner) = decode_opt::<CustomerOwner>(store.get(&keys::customer_owner(customer)).await?.as_ref())? {
        return Ok(Some(owner.user_id));
    }
    let owners = store.query_index(&keys::customer_index(customer), 1).await?;
    Ok(owners.first().map(decode::<CustomerOwner>).transpose()?.map(|o| o.user_id))
}
