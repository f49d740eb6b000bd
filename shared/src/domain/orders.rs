//! Orders: a pending order is written before Stripe is asked for a Checkout Session, so every
//! session Tollgate opens has an order to land on.

use crate::app::App;
use crate::catalog::{CheckoutMode, Interval};
use crate::error::Error;
use crate::store::Label;
use crate::store::schema::{Order, OrderStatus, User, codes, orders};
use crate::stripe::{CheckoutRequest, SubscriptionTerms};

use super::{members, subscriptions, users};

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
    Subscription { plan: &'a str, interval: &'a str },
}

impl Wanted<'_> {
    fn key(&self) -> &str {
        match self {
            Wanted::Plan(k) | Wanted::Pack(k) | Wanted::Subscription { plan: k, .. } => k,
        }
    }
}

/// What a checkout charges in: `asked` (the request's `currency`) when the price is sold in it;
/// else `existing` (the currency the buyer's live subscription is billed in) when the price is
/// sold in that and others; else the price's own (None).
fn choose_currency(
    app: &App,
    price: &str,
    asked: Option<&str>,
    existing: Option<String>,
) -> Result<Option<String>, Error> {
    let offered = offered_currencies(app, price);
    match asked.map(str::to_ascii_lowercase) {
        Some(c) if !offered.contains(&c.as_str()) => Err(Error::bad_request(
            "unsupported_currency",
            format!(
                "this is sold in {}, not {c:?}",
                if offered.is_empty() { "its price's currency".to_string() } else { offered.join(", ") }
            ),
        )),
        Some(c) => Ok(Some(c)),
        None => Ok(existing.filter(|e| offered.len() > 1 && offered.contains(&e.as_str()))),
    }
}

fn offered_currencies<'a>(app: &'a App, price: &str) -> Vec<&'a str> {
    app.catalog.price(price).map(|p| p.currencies().collect()).unwrap_or_default()
}

/// The currency of the first live subscription among `subs`.
fn live_currency(subs: Vec<crate::store::schema::SubscriptionRecord>) -> Option<String> {
    subs.into_iter().filter(|s| s.is_live()).find_map(|s| s.currency)
}

pub async fn start_checkout(
    app: &App,
    buyer: Buyer,
    wanted: Wanted<'_>,
    currency: Option<&str>,
    source_ip: Option<&str>,
) -> Result<CheckoutStarted, Error> {
    if let Wanted::Subscription { plan, interval } = wanted {
        let Buyer::User(user) = buyer else {
            return Err(Error::unauthorized(
                "missing_token",
                "sign in to subscribe: a subscription belongs to an account",
            ));
        };
        return start_subscription(app, user, (plan, interval), currency, source_ip).await;
    }
    let key = wanted.key().to_string();
    let (plan, pack, mode, price, tax) = match wanted {
        Wanted::Plan(key) => {
            let plan = app
                .catalog
                .plan(key)
                .ok_or_else(|| Error::bad_request("unknown_plan", format!("there is no plan {key:?}")))?;
            let offer = plan
                .offer
                .as_ref()
                .ok_or_else(|| Error::bad_request("unknown_plan", format!("plan {key:?} is not for sale")))?;
            (plan.key.clone(), None, offer.mode, offer.price.clone(), plan.tax)
        }
        Wanted::Pack(key) => {
            let pack = app
                .catalog
                .pack(key)
                .ok_or_else(|| Error::bad_request("unknown_pack", format!("there is no pack {key:?}")))?;
            if matches!(buyer, Buyer::Anonymous { .. }) {
                return Err(Error::unauthorized("missing_token", "sign in to buy credits: they go on your account"));
            }
            (String::new(), Some(pack.key.clone()), CheckoutMode::Payment, pack.price.clone(), pack.tax)
        }
        Wanted::Subscription { .. } => unreachable!("handled above"),
    };
    if mode == CheckoutMode::Subscription {
        return Err(Error::bad_request("invalid_field", "subscriptions are bought with an interval"));
    }
    let buyer_id = match &buyer {
        Buyer::User(u) => Some(u.id.as_str()),
        Buyer::Anonymous { .. } => None,
    };
    // The buyer's subscriptions are read only when they could decide the currency.
    let existing = match buyer_id {
        Some(user) if currency.is_none() && offered_currencies(app, &price).len() > 1 => {
            live_currency(subscriptions::subscriptions_of(app, user).await?)
        }
        _ => None,
    };
    let currency = choose_currency(app, &price, currency, existing)?;
    let (user_id, email, customer) = match &buyer {
        // A signed-in buyer pays as their one Stripe customer, made now if they have none.
        Buyer::User(u) => {
            let customer = users::ensure_customer(app, u).await.map_err(|e| match e {
                Error::Stripe { message, .. } => {
                    Error::Stripe { message, fallback_url: app.config.stripe.payment_link_url.clone() }
                }
                other => other,
            })?;
            (Some(u.id.clone()), u.email.clone(), Some(customer))
        }
        Buyer::Anonymous { email } => (None, email.clone(), None),
    };
    let order_id = open_order(app, &plan, pack.as_deref(), &email, user_id.as_deref(), source_ip).await?;

    let mut metadata = vec![("order_id".to_string(), order_id.clone())];
    match &pack {
        Some(key) => metadata.push(("pack".to_string(), key.clone())),
        None => metadata.push(("plan".to_string(), plan.clone())),
    }
    if let Some(id) = &user_id {
        metadata.push(("user_id".to_string(), id.clone()));
    }
    let member = match &user_id {
        Some(id) => members::reserve(app, id, &key, &order_id).await?,
        None => None,
    };
    if let Some(m) = &member {
        metadata.push((members::METADATA_KEY.to_string(), m.month.clone()));
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
        subscription: None,
        coupon: member.as_ref().map(|m| m.coupon.clone()),
        currency,
        tax,
    };
    let reservation = match (&user_id, &member) {
        (Some(id), Some(m)) => Some((id.clone(), m.month.clone())),
        _ => None,
    };
    open_session(app, &order_id, request, reservation).await
}

/// Pending orders are deleted this long after they were opened, unless paid (payment removes
/// the expiry): Stripe expires a session within 24 hours.
pub const PENDING_ORDER_RETENTION_SECS: i64 = 7 * 24 * 3600;

/// Writes a pending order (before Stripe is asked, so every session has an order to land on),
/// counted in the same write against the caller's address and user (`RATE_LIMIT_CHECKOUT` per
/// window each): one client cannot open unlimited orders and Stripe sessions.
async fn open_order(
    app: &App,
    plan: &str,
    pack: Option<&str>,
    email: &str,
    user_id: Option<&str>,
    source_ip: Option<&str>,
) -> Result<String, Error> {
    let id = format!("ord_{}", uuid::Uuid::new_v4().simple());
    // A user with no email is in no purchaser index.
    let email = Some(email).filter(|e| !e.is_empty());
    let order = Order { pack: pack.map(str::to_string), ..Order::pending(&id, plan, email, user_id, app.now()) };
    // A pending order whose checkout never completes is not kept for ever.
    let mut tx = orders::open(&order, order.created_at + PENDING_ORDER_RETENTION_SECS);
    let (now, window, limit) = (order.created_at, app.config.auth.window_secs, app.config.auth.checkout_limit);
    let window_start = now - now.rem_euclid(window);
    if let Some(ip) = source_ip {
        let subject = crate::http::rate_subject(ip);
        tx.append(codes::count_request("checkout-ip", &subject, window_start, window, limit));
    }
    if let Some(user_id) = user_id {
        tx.append(codes::count_request("checkout-user", user_id, window_start, window, limit));
    }
    match app.store.commit(tx).await {
        Ok(()) => Ok(order.id),
        Err(e) if e.refused(Label::RateLimit) => {
            Err(Error::RateLimited { retry_after_secs: (window_start + window - now).max(1) as u64 })
        }
        Err(e) => Err(e.into()),
    }
}

/// Asks Stripe for the session of a pending order; a refusal marks the order failed (and gives
/// back a reserved members' price). A function that dies before either leaves the reservation
/// to be released by the member's next checkout, and the order to its expiry.
async fn open_session(
    app: &App,
    order_id: &str,
    request: CheckoutRequest,
    reservation: Option<(String, String)>,
) -> Result<CheckoutStarted, Error> {
    let order_id = order_id.to_string();
    match app.stripe.create_checkout_session(&request).await {
        Ok(session) => {
            let mut tx = orders::session_opened(&order_id, &session.id);
            if let Some((user_id, month)) = &reservation {
                tx.append(members::session_opened(user_id, month, &order_id, app.now()));
            }
            match app.store.transact(tx).await {
                Ok(()) => {}
                // The reservation was already released (a very slow Stripe): the order still learns
                // its session.
                Err(e) if e.is_condition() && reservation.is_some() => {
                    tracing::warn!(%order_id, "a members' reservation was released before its session opened");
                    app.store.commit(orders::session_opened(&order_id, &session.id)).await?;
                }
                Err(e) => return Err(e.into()),
            }
            Ok(CheckoutStarted { url: session.url, session_id: session.id, order_id })
        }
        Err(e) => {
            tracing::error!(error = %e, %order_id, "Stripe refused the checkout session");
            let mut tx = orders::close(&order_id, OrderStatus::Failed);
            if let Some((user_id, month)) = reservation {
                tx.append(members::release(&user_id, &month, Some(&order_id)));
            }
            if let Err(store_error) = app.store.transact(tx).await {
                tracing::warn!(error = %store_error, %order_id, "could not mark the order failed");
            }
            Err(Error::Stripe { message: e.to_string(), fallback_url: app.config.stripe.payment_link_url.clone() })
        }
    }
}

/// A subscription-mode session for a signed-in user with no live subscription, on their one
/// Stripe customer, with the plan's trial (once per user), promotion codes and address rules.
async fn start_subscription(
    app: &App,
    user: User,
    (plan_key, interval): (&str, &str),
    currency: Option<&str>,
    source_ip: Option<&str>,
) -> Result<CheckoutStarted, Error> {
    let plan = app
        .catalog
        .plan(plan_key)
        .ok_or_else(|| Error::bad_request("unknown_plan", format!("there is no plan {plan_key:?}")))?;
    let offer = plan.subscription.as_ref().ok_or_else(|| {
        Error::bad_request("unknown_interval", format!("plan {plan_key:?} is not sold by subscription"))
    })?;
    let (interval, price) =
        Interval::parse(interval).and_then(|i| offer.prices.get(&i).map(|p| (i, p.clone()))).ok_or_else(|| {
            let sold: Vec<&str> = offer.prices.keys().map(|i| i.as_str()).collect();
            Error::bad_request("unknown_interval", format!("plan {plan_key:?} is sold by {}", sold.join(" or ")))
        })?;
    let subs = subscriptions::subscriptions_of(app, &user.id).await?;
    if subs.iter().any(|s| s.is_live()) {
        let portal_url = match &user.stripe_customer_id {
            Some(customer) => {
                app.stripe.create_portal_session(customer, &app.config.stripe.portal_return_url).await.ok()
            }
            None => None,
        };
        return Err(Error::AlreadySubscribed { portal_url });
    }
    let trial_days = if subs.iter().any(|s| s.trial_end.is_some()) { 0 } else { offer.trial_days };
    // No live subscription here (refused above): none decides the currency.
    let currency = choose_currency(app, &price, currency, None)?;
    let customer = users::ensure_customer(app, &user).await?;
    let order_id = open_order(app, &plan.key, None, &user.email, Some(&user.id), source_ip).await?;
    let tags = vec![
        ("order_id".to_string(), order_id.clone()),
        ("plan".to_string(), plan.key.clone()),
        ("interval".to_string(), interval.as_str().to_string()),
        ("user_id".to_string(), user.id.clone()),
    ];
    let request = CheckoutRequest {
        mode: CheckoutMode::Subscription,
        price,
        client_reference_id: order_id.clone(),
        metadata: tags.clone(),
        customer: Some(customer),
        customer_email: None,
        success_url: app.config.stripe.success_url.clone(),
        cancel_url: app.config.stripe.cancel_url.clone(),
        idempotency_key: format!("checkout-{order_id}"),
        subscription: Some(SubscriptionTerms {
            trial_days,
            metadata: tags,
            allow_promotion_codes: offer.allow_promotion_codes,
            billing_address: offer.billing_address,
        }),
        coupon: None,
        currency,
        tax: plan.tax,
    };
    open_session(app, &order_id, request, None).await
}

/// A signed-in buyer's profile (for their Stripe customer), or a plain user from the token.
pub async fn buyer_for(app: &App, user_id: &str, email: &str) -> Result<Buyer, Error> {
    let user = super::users::user_by_id(&app.store, user_id).await?.unwrap_or(User {
        id: user_id.to_string(),
        email: email.to_string(),
        created_at: 0,
        stripe_customer_id: None,
        erased_at: None,
    });
    Ok(Buyer::User(user))
}
