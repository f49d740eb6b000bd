//! Claims: a signed-in user takes what they bought. A session id is not a credential: the
//! purchase must be the caller's (the order's user, or the purchase email they proved).

use crate::app::App;
use crate::auth::normalize_email;
use crate::error::Error;
use crate::store::records::{self, Grant, Holder, Order, OrderStatus, Reason, RequestKey, User};
use crate::store::{Condition, GSI1PK, GSI1SK, Item, Update, Write};

use super::credits::{self, Change, Floor};
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

/// Moves an anonymous purchase from its email to the user who proved that email: a plan's
/// grant moves; a pack's pending credits go onto the user's balance (under the order's key, so
/// never twice).
async fn move_to_user(app: &App, grant: &Grant, user: &User) -> Result<(), Error> {
    let to = Holder::User(user.id.clone());
    let pending_credits = grant.credits.filter(|_| grant.is_active());
    let mut writes = vec![
        Write::Delete { key: records::grant(&grant.holder, &grant.order_id), condition: Some(Condition::Exists) },
        Write::Update(
            Update::new(records::order(&grant.order_id))
                .set("user_id", user.id.as_str())
                .when(Condition::And(vec![Condition::Exists, Condition::absent("user_id")])),
        ),
    ];
    if grant.credits.is_none() {
        writes.push(Write::put(Grant { holder: to.clone(), ..grant.clone() }.to_item()));
        if grant.is_active() {
            writes.push(super::entitlements::hold(&user.id, &grant.plan, 1));
        }
    }
    if let Some(customer) = &grant.customer {
        // The anonymous buyer's Stripe customer becomes the account's, unless it has one.
        writes.push(Write::Update(
            Update::new(records::user(&user.id))
                .set_if_absent("user_id", user.id.as_str())
                .set_if_absent("email", user.email.as_str())
                .set_if_absent("stripe_customer_id", customer.as_str())
                .set_if_absent(GSI1PK, records::customer_index(customer))
                .set_if_absent(GSI1SK, "USER"),
        ));
    }
    if let Some(pi) = &grant.payment_intent {
        let pointer =
            Item::new(&records::payment(pi)).with("order_id", grant.order_id.as_str()).with("holder", to.pk());
        let plan = grant.credits.is_none().then_some(grant.plan.as_str());
        writes.push(Write::put(pointer.with_opt("credits", grant.credits).with_opt("plan", plan)));
    }
    let Some(credits) = pending_credits else {
        return match app.store.transact(writes).await {
            // Another claim moved it first: it is the user's either way.
            Err(e) if e.is_condition() => Ok(()),
            other => other.map_err(Error::from),
        };
    };
    let key = super::purchases::pack_credit_key(&grant.order_id);
    let change = Change {
        user_id: &user.id,
        delta: credits,
        floor: Floor::Refuse,
        reason: Reason::Purchase,
        note: None,
        reference: Some(&grant.order_id),
        key: Some(RequestKey::Own(&key)),
    };
    // Refused or replayed: another claim credited it first.
    credits::apply(app, &change, &|_| writes.clone()).await.map(|_| ())
}

/// Attaches every purchase made anonymously under the user's verified email.
pub async fn claim_by_email(app: &App, user: &User) -> Result<usize, Error> {
    let waiting = super::entitlements::grants(app, &Holder::Email(user.email.clone())).await?;
    for grant in &waiting {
        move_to_user(app, grant, user).await?;
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
        return match super::subscriptions::sync(
            app,
            &user.id,
            &subscription,
            &format!("claim:{session_id}"),
            &|_| vec![],
        )
        .await?
        {
            super::subscriptions::Applied::UnknownToStripe => {
                Err(Error::not_found("not_found", "Stripe does not know the session's subscription"))
            }
            _ => Ok(()),
        };
    }
    if !session.is_paid() {
        return Err(Error::conflict("not_paid", "the checkout session is not paid"));
    }
    let (order_id, product) = resolve_product(app, &session)
        .await?
        .ok_or_else(|| Error::not_found("not_found", "the session bought nothing in the catalog"))?;
    let purchase = Purchase::from_session(&session, order_id, product, Some(user));
    match record(app, &purchase, None).await? {
        Recorded::Paid | Recorded::DuplicateEvent => Ok(()),
        Recorded::Refunded => Err(Error::conflict("purchase_refunded", "the purchase was refunded")),
        // The webhook recorded it meanwhile: claim what it recorded.
        Recorded::AlreadyRecorded => claim_recorded(app, user, session_id).await?.unwrap_or(Ok(())),
    }
}

/// Claims a session the store already knows; None when it does not know it yet.
async fn claim_recorded(app: &App, user: &User, session_id: &str) -> Result<Option<Result<(), Error>>, Error> {
    let Some(pointer) = app.store.get(&records::checkout_session(session_id)).await? else {
        return Ok(None);
    };
    let order_id = pointer.string("order_id").ok_or_else(|| Error::internal("session pointer without order"))?;
    let Some(order) = app.store.get(&records::order(&order_id)).await?.as_ref().and_then(Order::from_item) else {
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
        _ => {
            return Ok(Some(Err(Error::conflict("not_paid", "the checkout session is not paid"))));
        }
    }
    // An anonymous purchase is still held by its email: move it to the caller.
    if let (None, Some(email)) = (&order.user_id, &order.email) {
        let grant_key = records::grant(&Holder::Email(email.clone()), &order.id);
        if let Some(grant) = app.store.get(&grant_key).await?.as_ref().and_then(Grant::from_item) {
            move_to_user(app, &grant, user).await?;
        }
    }
    Ok(Some(Ok(())))
}
