//! Other issuers' users: each (issuer, subject) is one Tollgate user, found by one read. At its
//! first use, an email the issuer vouches for (`email_verified`) links it to the user who owns
//! that email (created if there is none); without that, it gets a user of its own with no email,
//! so an unverified address can never reach another user's purchases or administration.

use crate::app::App;
use crate::auth::external::ExternalClaims;
use crate::auth::normalize_email;
use crate::error::Error;
use crate::store::Label;
use crate::store::schema::identities::{self, Link};
use crate::store::schema::{User, users};

use super::users::find_or_create_user;

/// The Tollgate user the external identity is (linked at its first use).
pub async fn user_for(app: &App, claims: &ExternalClaims) -> Result<Link, Error> {
    if let Some(link) = identities::get(&app.store, &claims.issuer, &claims.subject).await? {
        return Ok(link);
    }
    let now = app.now();
    let verified = claims.email.as_deref().filter(|_| claims.email_verified).and_then(normalize_email);
    let (user_id, mut tx) = match &verified {
        Some(email) => (find_or_create_user(&app.store, email, now).await?.id, Default::default()),
        None => {
            let user = User {
                id: format!("usr_{}", uuid::Uuid::new_v4().simple()),
                email: String::new(),
                created_at: now,
                stripe_customer_id: None,
                erased_at: None,
            };
            (user.id.clone(), users::create_without_email(&user))
        }
    };
    let link = Link {
        issuer: claims.issuer.clone(),
        subject: claims.subject.clone(),
        user_id,
        email: verified.unwrap_or_default(),
        linked_at: now,
    };
    tx.append(identities::link(&link));
    match app.store.transact(tx).await {
        Ok(()) => Ok(link),
        // Two first uses at once: the one stored first is the identity's user.
        Err(e) if e.refused(Label::Identity) => identities::get(&app.store, &claims.issuer, &claims.subject)
            .await?
            .ok_or_else(|| Error::internal("an identity link refused and then absent")),
        Err(e) => Err(e.into()),
    }
}
