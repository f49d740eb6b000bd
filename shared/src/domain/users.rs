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
    let stored = app
        .store
        .update(
            Update::new(records::user(&user.id))
                .set_if_absent("user_id", user.id.as_str())
                .set_if_absent("email", user.email.as_str())
                .set_if_absent("stripe_customer_id", created.as_str())
                .set_if_absent(GSI1PK, records::customer_index(&created))
                .set_if_absent(GSI1SK, "USER"),
        )
        .await?;
    stored.string("stripe_customer_id").ok_or_else(|| Error::internal("a customer id was stored"))
}
