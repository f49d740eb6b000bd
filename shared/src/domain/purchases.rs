//! Paid purchases: recorded exactly once whichever path sees them first (the webhook, or a
//! claim that asks Stripe before the webhook arrives), and claimed by their buyer.

use crate::app::App;
use crate::auth::normalize_email;
use crate::error::Error;
use crate::store::records::{self, Grant, Holder, Order, OrderStatus, User};
use crate::store::{Condition, GSI1PK, GSI1SK, Item, Update, Write};
use crate::stripe::CheckoutSession;

/// Everything one paid checkout changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub order_id: String,
    pub plan: String,
    pub holder: Option<Holder>,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub session_id: String,
    pub payment_intent: Option<String>,
    pub customer: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
}

impl Purchase {
    /// A paid session's purchase. The holder is the signed-in buyer (checkout put their id in
    /// the metadata, or `claimer` proved it), else the purchase email until someone claims it.
    pub fn from_session(session: &CheckoutSession, order_id: String, plan: String, claimer: Option<&User>) -> Self {
        let user_id = claimer.map(|u| u.id.clone()).or_else(|| session.metadata.get("user_id").cloned());
        let email = session.purchase_email().as_deref().and_then(normalize_email);
        let holder = match (&user_id, &email) {
            (Some(id), _) => Some(Holder::User(id.clone())),
            (None, Some(email)) => Some(Holder::Email(email.clone())),
            (None, None) => None,
        };
        Purchase {
            order_id,
            plan,
            holder,
            user_id,
            email,
            session_id: session.id.clone(),
            payment_intent: session.payment_intent(),
            customer: session.customer(),
            amount_total: session.amount_total,
            currency: session.currency.clone(),
        }
    }

    /// One transaction's writes. The order's first `paid_at` guards them all: a purchase that is
    /// already recorded changes nothing. The payment pointer is written only where no refund
    /// arrived first (Stripe may deliver `charge.refunded` before the purchase).
    fn writes(&self, now: i64, refunded_first: bool) -> Vec<Write> {
        let status = if refunded_first { OrderStatus::Refunded } else { OrderStatus::Paid };
        let mut order = Update::new(records::order(&self.order_id))
            .set("order_id", self.order_id.as_str())
            .set("status", status.as_str())
            .set("paid_at", now)
            .set("plan", self.plan.as_str())
            .set("checkout_session_id", self.session_id.as_str())
            .set_opt("payment_intent", self.payment_intent.as_deref())
            .set_opt("user_id", self.user_id.as_deref())
            .set_opt("amount_total", self.amount_total)
            .set_opt("currency", self.currency.as_deref())
            .set_opt("refunded_at", refunded_first.then_some(now))
            .set_if_absent("created_at", now)
            .when(Condition::absent("paid_at"));
        if let Some(email) = &self.email {
            order = order
                .set("email", email.as_str())
                .set(GSI1PK, records::purchaser_index(email))
                .set(GSI1SK, format!("ORDER#{}", self.order_id));
        }
        let mut writes = vec![
            Write::Update(order),
            Write::put(
                Item::new(&records::checkout_session(&self.session_id)).with("order_id", self.order_id.as_str()),
            ),
        ];
        if let Some(holder) = &self.holder {
            let grant = Grant {
                holder: holder.clone(),
                order_id: self.order_id.clone(),
                plan: self.plan.clone(),
                payment_intent: self.payment_intent.clone(),
                granted_at: now,
                revoked_at: refunded_first.then_some(now),
            };
            writes.push(Write::put(grant.to_item()));
            if let Some(pi) = &self.payment_intent {
                let pointer = Update::new(records::payment(pi))
                    .set("order_id", self.order_id.as_str())
                    .set("holder", holder.pk())
                    .when(if refunded_first { Condition::Exists } else { Condition::absent(REFUNDED_FIRST) });
                writes.push(Write::Update(pointer));
            }
        }
        if let (Some(user_id), Some(customer)) = (&self.user_id, &self.customer) {
            writes.push(Write::Update(
                Update::new(records::user(user_id))
                    .set_if_absent("stripe_customer_id", customer.as_str())
                    .set_if_absent(GSI1PK, records::customer_index(customer))
                    .set_if_absent(GSI1SK, "USER"),
            ));
        }
        writes
    }
}

/// Set on a payment's pointer item by a refund that arrived before its purchase.
pub const REFUNDED_FIRST: &str = "refunded_at";

/// How `record` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded now: the holder has the plan.
    Paid,
    /// Recorded now, as refunded: its refund arrived first.
    Refunded,
    /// Recorded before (by the webhook or a claim): nothing changed.
    AlreadyRecorded,
    /// The accompanying event record exists: this event was applied before.
    DuplicateEvent,
}

/// Records a paid purchase exactly once, whichever path sees it first. `event_record` (the
/// webhook's exactly-once record, given the outcome to store) commits in the same transaction.
pub async fn record(
    app: &App,
    purchase: &Purchase,
    event_record: Option<&(dyn Fn(&str) -> Write + Sync)>,
) -> Result<Recorded, Error> {
    let now = app.now();
    let attempt = |refunded_first: bool, outcome: &str| {
        let mut writes: Vec<Write> = event_record.map(|r| r(outcome)).into_iter().collect();
        writes.extend(purchase.writes(now, refunded_first));
        writes
    };
    let offset = usize::from(event_record.is_some());
    let writes = attempt(false, "purchase_recorded");
    let marker =
        purchase.payment_intent.as_deref().map(records::payment).and_then(|k| writes.iter().position(|w| w.key() == k));
    let refused = match app.store.transact(writes).await {
        Ok(()) => return Ok(Recorded::Paid),
        Err(e) => e,
    };
    if offset == 1 && refused.failed_at(0) {
        return Ok(Recorded::DuplicateEvent);
    }
    if !refused.is_condition() {
        return Err(refused.into());
    }
    if refused.failed_at(offset) || !marker.is_some_and(|i| refused.failed_at(i)) {
        return Ok(Recorded::AlreadyRecorded);
    }
    match app.store.transact(attempt(true, "purchase_refunded")).await {
        Ok(()) => Ok(Recorded::Refunded),
        Err(e) if offset == 1 && e.failed_at(0) => Ok(Recorded::DuplicateEvent),
        Err(e) if e.is_condition() => Ok(Recorded::AlreadyRecorded),
        Err(e) => Err(e.into()),
    }
}

fn payment_pointer(payment_intent: &str, order_id: &str, holder: &Holder) -> Item {
    Item::new(&records::payment(payment_intent)).with("order_id", order_id).with("holder", holder.pk())
}

/// The order and plan a paid session is for: Tollgate's metadata when checkout made it, else
/// (a Payment Link sale) the session's `metadata.plan` or its line items' price in the catalog.
pub async fn resolve_plan(app: &App, session: &CheckoutSession) -> Result<Option<(String, String)>, Error> {
    let order_id = session.order_id().unwrap_or_else(|| format!("ord_{}", session.id));
    if let Some(plan) = session.metadata.get("plan").filter(|p| app.catalog.plan(p).is_some()) {
        return Ok(Some((order_id, plan.clone())));
    }
    let prices = app
        .stripe
        .line_item_prices(&session.id)
        .await
        .map_err(|e| Error::Stripe { message: e.to_string(), fallback_url: None })?;
    Ok(prices.iter().find_map(|p| app.catalog.plan_for_price(p)).map(|plan| (order_id, plan.key.clone())))
}

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

/// Moves an anonymous purchase's grant from its email to the user who proved that email.
async fn move_to_user(app: &App, grant: &Grant, user: &User) -> Result<(), Error> {
    let to = Holder::User(user.id.clone());
    let moved = Grant { holder: to.clone(), ..grant.clone() };
    let mut writes = vec![
        Write::Delete { key: records::grant(&grant.holder, &grant.order_id), condition: Some(Condition::Exists) },
        Write::put(moved.to_item()),
        Write::Update(
            Update::new(records::order(&grant.order_id))
                .set("user_id", user.id.as_str())
                .when(Condition::And(vec![Condition::Exists, Condition::absent("user_id")])),
        ),
    ];
    if let Some(pi) = &grant.payment_intent {
        writes.push(Write::put(payment_pointer(pi, &grant.order_id, &to)));
    }
    match app.store.transact(writes).await {
        // Another claim moved it first: it is the user's either way.
        Err(e) if e.is_condition() => Ok(()),
        other => other.map_err(Error::from),
    }
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
    if !session.is_paid() {
        return Err(Error::conflict("not_paid", "the checkout session is not paid"));
    }
    let (order_id, plan) = resolve_plan(app, &session)
        .await?
        .ok_or_else(|| Error::not_found("not_found", "the session bought nothing in the catalog"))?;
    let purchase = Purchase::from_session(&session, order_id, plan, Some(user));
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
