//! Claims: a signed-in user takes what they bought. A session id is not a credential: the
//! purchase must be the caller's (the order's user, or the purchase email they proved).

use crate::app::App;
use crate::auth::normalize_email;
use crate::error::Error;
use crate::store::schema::{Grant, Holder, Order, OrderStatus, PaymentPointer, User, grants, orders, payments};
use crate::store::{StoreError, Tx};

use super::credits;
use super::purchases::{Purchase, Recorded, record, resolve_product};

/// Is this order the caller's? Its user's, or, for an anonymous purchase, its email's.
fn owns(order: &Order, user: &User) -> bool {
    match &order.user_id {
        Some(id) => id == &user.id,
        None => order.email.as_deref() == Some(user.email.as_str()),
    }
}

fn not_yours() -> Error {
    Error::forbidden("not_your_purchase", "this purchase belongs to another account")
}

/// A claim and a refund or dispute may race; the claim re-reads when the other got there first.
const ATTEMPTS: usize = 8;

/// Moves an anonymous purchase from its email to the user who proved that email: a plan's
/// grant moves; a pack's pending credits go onto the user's balance (under the order's key, so
/// never twice). Every write is conditional on the grant and its payment's pointer as read, so a
/// refund or dispute that lands meanwhile is never undone: the claim reads again and moves what
/// the reversal left (a revoked grant, no credits).
async fn move_to_user(
    app: &App,
    from: &Holder,
    order_id: &str,
    user: &User,
    mut read: Option<Grant>,
) -> Result<(), Error> {
    for _ in 0..ATTEMPTS {
        // The grant as the caller read it, on the first try; read afresh after a race.
        let grant = match read.take() {
            Some(grant) => grant,
            None => match grants::get(&app.store, from, order_id).await? {
                Some(grant) => grant,
                // Another claim moved it first: it is the user's either way.
                None => return Ok(()),
            },
        };
        let pointer = match &grant.payment_intent {
            Some(pi) => super::reversals::pointer_of(app, pi).await?,
            None => None,
        };
        let reversed = pointer.as_ref().and_then(|p| p.reversed_by.clone());
        let active = grant.is_active() && reversed.is_none();
        let (writes, pending_credits) = move_writes(&grant, user, pointer.as_ref(), active);
        let outcome = match pending_credits {
            None => app.store.transact(writes).await,
            Some(credits) => {
                let key = super::purchases::pack_credit_key(&grant.order_id);
                let change = super::purchases::pack_credit(&user.id, &grant.order_id, credits, &key);
                match credits::apply(app, &change, &|_| writes.clone()).await? {
                    credits::Outcome::Refused(failed) => Err(StoreError::Cancelled { failed }),
                    _ => Ok(()),
                }
            }
        };
        match outcome {
            Ok(()) => {
                if let Some(customer) = &grant.customer {
                    super::waiting::replay(app, customer).await?;
                }
                return Ok(());
            }
            Err(e) if e.is_condition() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::internal("the purchase kept changing while it was claimed"))
}

/// The writes that move `grant` to `user`, each conditional on what was read; and the credits
/// to put on the user's balance with them (a still-active pack bought anonymously).
fn move_writes(grant: &Grant, user: &User, read: Option<&PaymentPointer>, active: bool) -> (Tx, Option<i64>) {
    let to = Holder::User(user.id.clone());
    let mut tx = grants::take(grant);
    tx.append(orders::claimed_by(&grant.order_id, &user.id));
    if grant.credits.is_none() {
        let revoked_at = if active { None } else { grant.revoked_at.or(Some(grant.granted_at)) };
        tx.append(grants::put(&Grant { holder: to.clone(), revoked_at, ..grant.clone() }));
        if active {
            tx.append(super::plans::hold(&user.id, &grant.plan));
        }
    }
    if let Some(customer) = &grant.customer {
        // The anonymous buyer's Stripe customer becomes the account's, unless it has one.
        tx.append(super::users::link_customer(&user.id, &user.email, customer));
    }
    if let Some(pi) = &grant.payment_intent {
        let plan = grant.credits.is_none().then_some(grant.plan.as_str());
        let reversed_by = read.and_then(|p| p.reversed_by.as_deref());
        tx.append(payments::moved(pi, &grant.order_id, &grant.holder, &to, grant.credits, plan, reversed_by));
    }
    (tx, grant.credits.filter(|_| active))
}

/// Attaches every purchase made anonymously under the user's verified email.
pub async fn claim_by_email(app: &App, user: &User) -> Result<usize, Error> {
    // A user with no email (another issuer's, unverified) has nothing waiting under one.
    if user.email.is_empty() {
        return Ok(0);
    }
    let from = Holder::Email(user.email.clone());
    let waiting = super::entitlements::grants(app, &from).await?;
    for grant in &waiting {
        move_to_user(app, &from, &grant.order_id, user, Some(grant.clone())).await?;
    }
    Ok(waiting.len())
}

/// Claims the purchase of one Checkout Session (what the success page receives). A session id
/// is not a credential: the purchase must be the caller's.
pub async fn claim_session(app: &App, user: &User, session_id: &str) -> Result<(), Error> {
    if let Some(done) = claim_recorded(app, user, session_id).await? {
        return done;
    }
    let session = app
        .stripe
        .checkout_session(session_id)
        .await
        .map_err(|e| Error::Stripe { message: e.to_string(), fallback_url: None })?
        .ok_or_else(|| Error::not_found("not_found", "no such checkout session"))?;
    let buyer_matches = match session.metadata.get("user_id") {
        Some(id) => id == &user.id,
        None => session.purchase_email().as_deref().and_then(normalize_email).as_deref() == Some(user.email.as_str()),
    };
    if !buyer_matches {
        return Err(not_yours());
    }
    if session.mode == "subscription" {
        // A subscription is never a lifetime grant: store what Stripe holds for it now.
        let subscription = session
            .subscription()
            .ok_or_else(|| Error::conflict("not_paid", "the checkout session has not started a subscription"))?;
        // The session's customer becomes the account's (a Payment Link subscription names no
        // user), so the subscription's later events find their user.
        let link = session.customer().map(|c| super::users::link_customer(&user.id, &user.email, &c));
        let link_writes = link.unwrap_or_default();
        let stored = super::subscriptions::sync(app, &user.id, &subscription, &format!("claim:{session_id}"), &|_| {
            link_writes.clone()
        })
        .await?;
        return match stored {
            super::subscriptions::Applied::UnknownToStripe => {
                Err(Error::not_found("not_found", "Stripe does not know the session's subscription"))
            }
            super::subscriptions::Applied::UnknownPlan => {
                Err(Error::not_found("not_found", "the session's subscription is to no plan in the catalog"))
            }
            _ => {
                if let Some(customer) = session.customer() {
                    super::waiting::replay(app, &customer).await?;
                }
                Ok(())
            }
        };
    }
    if !session.is_paid() {
        return Err(Error::conflict("not_paid", "the checkout session is not paid"));
    }
    let (order_id, product) = resolve_product(app, &session)
        .await?
        .ok_or_else(|| Error::not_found("not_found", "the session bought nothing in the catalog"))?;
    let purchase = Purchase::from_session(&session, order_id, product, Some(user));
    let recorded = record(app, &purchase, None).await?;
    if let (Recorded::Paid, Some(customer)) = (recorded, &purchase.customer) {
        super::waiting::replay(app, customer).await?;
    }
    match recorded {
        Recorded::Paid | Recorded::DuplicateEvent => Ok(()),
        Recorded::Refunded => Err(Error::conflict("purchase_refunded", "the purchase was refunded")),
        // The webhook recorded it meanwhile: claim what it recorded.
        Recorded::AlreadyRecorded => claim_recorded(app, user, session_id).await?.unwrap_or(Ok(())),
    }
}

/// Claims a session the store already knows; None when it does not know it yet.
async fn claim_recorded(app: &App, user: &User, session_id: &str) -> Result<Option<Result<(), Error>>, Error> {
    let Some(order_id) = orders::for_session(&app.store, session_id).await? else {
        return Ok(None);
    };
    let Some(order) = orders::get(&app.store, &order_id).await? else {
        return Ok(None);
    };
    if !owns(&order, user) {
        return Ok(Some(Err(not_yours())));
    }
    match order.status {
        OrderStatus::Paid => {}
        OrderStatus::Refunded => {
            return Ok(Some(Err(Error::conflict("purchase_refunded", "the purchase was refunded"))));
        }
        OrderStatus::Disputed => {
            return Ok(Some(Err(Error::conflict("purchase_disputed", "the purchase's payment is disputed"))));
        }
        _ => {
            return Ok(Some(Err(Error::conflict("not_paid", "the checkout session is not paid"))));
        }
    }
    // An anonymous purchase is still held by its email: move it to the caller.
    if let (None, Some(email)) = (&order.user_id, &order.email) {
        move_to_user(app, &Holder::Email(email.clone()), &order.id, user, None).await?;
    }
    Ok(Some(Ok(())))
}
