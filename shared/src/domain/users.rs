//! Users: one per email, created by their first successful sign-in.

use crate::app::App;
use crate::error::Error;
use crate::store::schema::{User, users};
use crate::store::{Label, Store, Tx};

pub async fn user_by_id(store: &Store, id: &str) -> Result<Option<User>, Error> {
    Ok(users::get(store, id).await?)
}

pub async fn user_id_for_email(store: &Store, email: &str) -> Result<Option<String>, Error> {
    Ok(users::id_for_email(store, email).await?)
}

/// The user for an email, created if there is none. Unique per email even when two sign-ins
/// race: the email claim and the profile are written together only if the email is unclaimed.
pub async fn find_or_create_user(store: &Store, email: &str, now: i64) -> Result<User, Error> {
    if let Some(id) = user_id_for_email(store, email).await? {
        return Ok(User { id, email: email.to_string(), created_at: 0, stripe_customer_id: None, erased_at: None });
    }
    let user = User {
        id: format!("usr_{}", uuid::Uuid::new_v4().simple()),
        email: email.to_string(),
        created_at: now,
        stripe_customer_id: None,
        erased_at: None,
    };
    match store.transact(users::create(&user)).await {
        Ok(()) => Ok(user),
        Err(e) if e.refused(Label::EmailOwner) => {
            let id = user_id_for_email(store, email)
                .await?
                .ok_or_else(|| Error::internal("email claimed without a user"))?;
            Ok(User { id, email: email.to_string(), created_at: 0, stripe_customer_id: None, erased_at: None })
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes `customer` the user's Stripe customer unless they have one (the first stored wins).
pub fn link_customer(user_id: &str, email: &str, customer: &str) -> Tx {
    users::link_customer(user_id, email, customer)
}

/// The user a Stripe customer belongs to.
pub async fn owner_of_customer(store: &Store, customer: &str) -> Result<Option<String>, Error> {
    Ok(users::owner_of_customer(store, customer).await?)
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

/// Revokes every token the user holds: each one's next check answers 401 `token_revoked`.
pub async fn sign_out_everywhere(app: &App, user_id: &str) -> Result<(), Error> {
    Ok(app.store.commit(crate::store::schema::plans::revoke_tokens(user_id, app.now())).await?)
}

/// Makes a user an administrator, or no longer one (which revokes their tokens). None when
/// there is no such user.
pub async fn set_admin(app: &App, user_id: &str, admin: bool) -> Result<Option<()>, Error> {
    if users::get(&app.store, user_id).await?.is_none_or(|u| u.erased_at.is_some()) {
        return Ok(None);
    }
    app.store.commit(crate::store::schema::plans::set_admin(user_id, admin, app.now())).await?;
    Ok(Some(()))
}

/// Whether the user is an administrator now: by configuration or by grant.
pub fn is_admin(app: &App, email: &str, held: &crate::store::schema::plans::Plans) -> bool {
    held.admin || app.config.admin_emails.iter().any(|a| a == email)
}
