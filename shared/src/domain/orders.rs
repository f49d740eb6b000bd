//! Orders: a pending order is written before Stripe is asked for a Checkout Session, so every
//! session Tollgate opens has an order to land on.

use crate::app::App;
use crate::catalog::CheckoutMode;
use crate::error::Error;
use crate::store::records::{self, Order, OrderStatus, User};
use crate::store::{Condition, Update, Write};
use crate::stripe::CheckoutRequest;

/// Who is buying: a signed-in user, or an email for an anonymous purchase claimed later.
pub enum Buyer {
    User(User),
    Anonymous { email: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutStarted {
    pub url: String,
    pub session_id: String,
    pub order_id: String,
}

/// What a buyer asks to buy, by catalog key.
pub enum Wanted<'a> {
    Plan(&'a str),
    Pack(&'a str),
}

pub async fn start_checkout(app: &App, buyer: Buyer, wanted: Wanted<'_>) -> Result<CheckoutStarted, Error> {
    let (plan, pack, mode, price) = match wanted {
        Wanted::Plan(key) => {
            let plan = app
                .catalog
                .plan(key)
                .ok_or_else(|| Error::bad_request("unknown_plan", format!("there is no plan {key:?}")))?;
            let offer = plan
                .offer
                .as_ref()
                .ok_or_else(|| Error::bad_request("unknown_plan", format!("plan {key:?} is not for sale")))?;
            (plan.key.clone(), None, offer.mode, offer.price.clone())
        }
        Wanted::Pack(key) => {
            let pack = app
                .catalog
                .pack(key)
                .ok_or_else(|| Error::bad_request("unknown_pack", format!("there is no pack {key:?}")))?;
            if matches!(buyer, Buyer::Anonymous { .. }) {
                return Err(Error::unauthorized("missing_token", "sign in to buy credits: they go on your account"));
            }
            (String::new(), Some(pack.key.clone()), CheckoutMode::Payment, pack.price.clone())
        }
    };
    let now = app.now();
    let order_id = format!("ord_{}", uuid::Uuid::new_v4().simple());
    let (user_id, email, customer) = match &buyer {
        Buyer::User(u) => (Some(u.id.clone()), u.email.clone(), u.stripe_customer_id.clone()),
        Buyer::Anonymous { email } => (None, email.clone(), None),
    };
    let order = Order {
        id: order_id.clone(),
        plan: plan.clone(),
        pack: pack.clone(),
        status: OrderStatus::Pending,
        email: Some(email.clone()),
        user_id: user_id.clone(),
        checkout_session_id: None,
        payment_intent: None,
        amount_total: None,
        currency: None,
        created_at: now,
        paid_at: None,
    };
    app.store.write(Write::put_new(order.to_item())).await?;

    let mut metadata = vec![("order_id".to_string(), order_id.clone())];
    match &pack {
        Some(key) => metadata.push(("pack".to_string(), key.clone())),
        None => metadata.push(("plan".to_string(), plan.clone())),
    }
    if let Some(id) = &user_id {
        metadata.push(("user_id".to_string(), id.clone()));
    }
    let request = CheckoutRequest {
        mode,
        price,
        client_reference_id: order_id.clone(),
        metadata,
        customer_email: customer.is_none().then_some(email),
        customer,
        success_url: app.config.stripe.success_url.clone(),
        cancel_url: app.config.stripe.cancel_url.clone(),
        idempotency_key: format!("checkout-{order_id}"),
    };
    let key = records::order(&order_id);
    match app.stripe.create_checkout_session(&request).await {
        Ok(session) => {
            // Only a pending order learns its session: the webhook may already have paid it.
            let update = Update::new(key).set("checkout_session_id", session.id.as_str()).when(Condition::Exists);
            app.store.write(Write::Update(update)).await?;
            Ok(CheckoutStarted { url: session.url, session_id: session.id, order_id })
        }
        Err(e) => {
            tracing::error!(error = %e, %order_id, "Stripe refused the checkout session");
            let failed = Update::new(key)
                .set("status", OrderStatus::Failed.as_str())
                .when(Condition::equals("status", "pending"));
            if let Err(store_error) = app.store.write(Write::Update(failed)).await {
                tracing::warn!(error = %store_error, %order_id, "could not mark the order failed");
            }
            Err(Error::Stripe { message: e.to_string(), fallback_url: app.config.stripe.payment_link_url.clone() })
        }
    }
}

/// A signed-in buyer's profile (for their Stripe customer), or a plain user from the token.
pub async fn buyer_for(app: &App, user_id: &str, email: &str) -> Result<Buyer, Error> {
    let user = super::users::user_by_id(&app.store, user_id).await?.unwrap_or(User {
        id: user_id.to_string(),
        email: email.to_string(),
        created_at: 0,
        stripe_customer_id: None,
    });
    Ok(Buyer::User(user))
}
