//! Users: one per email, created by their first successful sign-in.

use crate::app::App;
use crate::error::Error;
use crate::store::records::{self, User};
use crate::store::{GSI1PK, GSI1SK, Item, Store, Update, Write};

pub async fn user_by_id(store: &Store, id: &str) -> Result<Option<User>, Error> {
    Ok(store.get(&records::user(id)).await?.as_ref().and_then(User::from_item))
}

pub async fn user_id_for_email(store: &Store, email: &str) -> Result<Option<String>, Error> {
    Ok(store.get(&records::email_owner(email)).await?.and_then(|i| i.string("user_id")))
}

/// The user for an email, created if there is none. Unique per email even when two sign-ins
/// race: the email claim and the profile are written together only if the email is unclaimed.
pub async fn find_or_create_user(store: &Store, email: &str, now: i64) -> Result<User, Error> {
    if let Some(id) = user_id_for_email(store, email).await? {
        return Ok(User { id, email: email.to_string(), created_at: 0, stripe_customer_id: None });
    }
    let user = User {
        id: format!("usr_{}", uuid::Uuid::new_v4().simple()),
        email: email.to_string(),
        created_at: now,
        stripe_customer_id: None,
    };
    let claim = Item::new(&records::email_owner(email)).with("user_id", user.id.as_str()).with("created_at", now);
    match store.transact(vec![Write::put_new(claim), Write::put_new(user.to_item())]).await {
        Ok(()) => Ok(user),
        Err(e) if e.failed_at(0) => {
            let id = user_id_for_email(store, email)
                .await?
                .ok_or_else(|| Error::internal("email claimed without a user"))?;
            Ok(User { id, email: email.to_string(), created_at: 0, stripe_customer_id: None })
        }
        Err(e) => Err(e.into()),
    }
}

/// The writes that make `customer` the user's Stripe customer unless they have one (the first
/// stored wins), and record who the customer belongs to: the one place a customer is linked.
pub fn link_customer(user_id: &str, email: &str, customer: &str) -> Vec<Write> {
    vec![
        Write::Update(
            Update::new(records::user(user_id))
                .set_if_absent("user_id", user_id)
                .set_if_absent("email", email)
                .set_if_absent("stripe_customer_id", customer)
                .set_if_absent(GSI1PK, records::customer_index(customer))
                .set_if_absent(GSI1SK, "USER"),
        ),
        Write::Update(Update::new(records::customer_owner(customer)).set_if_absent("user_id", user_id)),
    ]
}

/// The user a Stripe customer belongs to: the owner item, else (data written before it existed)
/// the profile index.
pub async fn owner_of_customer(store: &Store, customer: &str) -> Result<Option<String>, Error> {
    if let Some(owner) = store.get(&records::customer_owner(customer)).await?.and_then(|i| i.string("user_id")) {
        return Ok(Some(owner));
    }
    let owners = store.query_index(&records::customer_index(customer), 1).await?;
    Ok(owners.first().and_then(|i| i.string("user_id")))
}

/// The user's one Stripe customer, created on first need. Stripe sees one idempotency key per
/// user, and the first id stored wins, so a user never has two.
pub async fn ensure_customer(app: &App, user: &User) -> Result<String, Error> {
    if let Some(customer) = &user.stripe_customer_id {
        return Ok(customer.clone());
    }
    let created = app
        .stripe
        .create_customer(&user.email, &user.id)
        .await
        .map_err(|e| Error::Stripe { message: e.to_string(), fallback_url: None })?;
    app.store.transact(link_customer(&user.id, &user.email, &created)).await?;
    let stored = user_by_id(&app.store, &user.id).await?.and_then(|u| u.stripe_customer_id);
    stored.ok_or_else(|| Error::internal("a customer id was stored"))
}
