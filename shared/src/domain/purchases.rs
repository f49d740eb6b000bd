//! Paid purchases: recorded exactly once whichever path sees them first (the webhook, or a
//! claim that asks Stripe before the webhook arrives). A plan becomes a grant; a credit pack
//! becomes credits on the buyer's balance (or a pending grant until an anonymous buyer claims it).

use crate::app::App;
use crate::auth::normalize_email;
use crate::error::Error;
use crate::store::schema::orders::{self, Paid};
use crate::store::schema::{Grant, Holder, Reason, RequestKey, User, grants, payments};
use crate::store::{Label, StoreError, Tx};
use crate::stripe::CheckoutSession;

use super::credits::{self, Change, Floor, Outcome};

/// What was bought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Product {
    Plan(String),
    Pack { key: String, credits: i64 },
}

/// Everything one paid checkout changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub order_id: String,
    pub product: Product,
    pub holder: Option<Holder>,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub session_id: String,
    pub payment_intent: Option<String>,
    pub customer: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
}

/// The idempotency key under which a pack purchase credits its buyer, whichever path does it.
pub fn pack_credit_key(order_id: &str) -> String {
    format!("order:{order_id}")
}

/// A pack's credits going onto its buyer's balance, under the order's key (`key`, from
/// `pack_credit_key`), whichever path (the webhook, a claim) does it.
pub fn pack_credit<'a>(user_id: &'a str, order_id: &'a str, credits: i64, key: &'a str) -> Change<'a> {
    Change {
        user_id,
        delta: credits,
        floor: Floor::Refuse,
        reason: Reason::Purchase,
        note: None,
        reference: Some(order_id),
        key: Some(RequestKey::Own(key)),
    }
}

impl Purchase {
    /// A paid session's purchase. The holder is the signed-in buyer (checkout put their id in
    /// the metadata, or `claimer` proved it), else the purchase email until someone claims it.
    pub fn from_session(session: &CheckoutSession, order_id: String, product: Product, claimer: Option<&User>) -> Self {
        let user_id = claimer.map(|u| u.id.clone()).or_else(|| session.metadata.get("user_id").cloned());
        let email = session.purchase_email().as_deref().and_then(normalize_email);
        let holder = match (&user_id, &email) {
            (Some(id), _) => Some(Holder::User(id.clone())),
            (None, Some(email)) => Some(Holder::Email(email.clone())),
            (None, None) => None,
        };
        Purchase {
            order_id,
            product,
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

    /// Credits to put on a signed-in buyer's balance in the same transaction.
    fn credits_for_user(&self) -> Option<(&str, i64)> {
        match (&self.product, &self.holder) {
            (Product::Pack { credits, .. }, Some(Holder::User(id))) => Some((id.as_str(), *credits)),
            _ => None,
        }
    }

    /// One transaction's writes. The order's first `paid_at` guards them all: a purchase that is
    /// already recorded changes nothing. The payment pointer is written only where no refund
    /// arrived first (Stripe may deliver `charge.refunded` before the purchase).
    fn writes(&self, now: i64, refunded_first: bool) -> Tx {
        let (plan, pack, credits) = match &self.product {
            Product::Plan(key) => (key.as_str(), None, None),
            Product::Pack { key, credits } => ("", Some(key.as_str()), Some(*credits)),
        };
        let mut tx = orders::mark_paid(
            &Paid {
                order_id: &self.order_id,
                plan,
                pack,
                session_id: &self.session_id,
                payment_intent: self.payment_intent.as_deref(),
                user_id: self.user_id.as_deref(),
                email: self.email.as_deref(),
                amount_total: self.amount_total,
                currency: self.currency.as_deref(),
                refunded_first,
            },
            now,
        );
        if let Some(holder) = &self.holder {
            // A signed-in pack buyer gets credits, not a grant.
            if self.credits_for_user().is_none() {
                tx.append(grants::put(&Grant {
                    holder: holder.clone(),
                    order_id: self.order_id.clone(),
                    plan: plan.to_string(),
                    credits,
                    payment_intent: self.payment_intent.clone(),
                    customer: self.customer.clone(),
                    granted_at: now,
                    revoked_at: refunded_first.then_some(now),
                }));
            }
            if let Some(pi) = &self.payment_intent {
                // Credits a reversal that came first withheld: what a won dispute gives.
                let withheld = credits.filter(|_| refunded_first && self.credits_for_user().is_some());
                let plan = pack.is_none().then_some(plan);
                tx.append(payments::purchase_recorded(
                    pi,
                    &self.order_id,
                    holder,
                    credits,
                    plan,
                    withheld,
                    refunded_first,
                ));
            }
        }
        if let (Product::Plan(plan), Some(Holder::User(user_id)), false) = (&self.product, &self.holder, refunded_first)
        {
            tx.append(super::plans::hold(user_id, plan));
        }
        if let (Some(user_id), Some(customer)) = (&self.user_id, &self.customer) {
            let email = self.email.as_deref().unwrap_or_default();
            tx.append(super::users::link_customer(user_id, email, customer));
        }
        tx
    }
}

/// How `record` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded now: the holder has the plan or the credits.
    Paid,
    /// Recorded now, as refunded: its refund arrived first.
    Refunded,
    /// Recorded before (by the webhook or a claim): nothing changed.
    AlreadyRecorded,
    /// The accompanying event record exists: this event was applied before.
    DuplicateEvent,
}

/// The webhook's own writes for a purchase (its event record first), given how it is recorded
/// (`Paid` or `Refunded`).
pub type EventWrites<'a> = dyn Fn(Recorded) -> Tx + Sync + 'a;

/// Records a paid purchase exactly once, whichever path sees it first. `event_record` (the
/// webhook's exactly-once record) commits in the same transaction.
pub async fn record(app: &App, purchase: &Purchase, event_record: Option<&EventWrites<'_>>) -> Result<Recorded, Error> {
    let now = app.now();
    let attempt = |recorded: Recorded| {
        let mut tx = event_record.map(|r| r(recorded)).unwrap_or_default();
        tx.append(purchase.writes(now, recorded == Recorded::Refunded));
        tx
    };
    let first = attempt(Recorded::Paid);
    let failed = match purchase.credits_for_user() {
        Some((user_id, credits)) => {
            let key = pack_credit_key(&purchase.order_id);
            let change = pack_credit(user_id, &purchase.order_id, credits, &key);
            match credits::apply(app, &change, &|_| first.clone()).await? {
                Outcome::Applied(_) => return Ok(Recorded::Paid),
                Outcome::Refused(failed) => failed,
                // Credited before under the order's key: recorded by the other path.
                _ => return Ok(Recorded::AlreadyRecorded),
            }
        }
        None => match app.store.transact(first).await {
            Ok(()) => return Ok(Recorded::Paid),
            Err(StoreError::Cancelled { failed }) => failed,
            Err(e) => return Err(e.into()),
        },
    };
    if failed.contains(&Label::Event) {
        return Ok(Recorded::DuplicateEvent);
    }
    // Recorded before (the order's first payment guards it), or refused for another reason than
    // a reversal that came first.
    if failed.contains(&Label::Order) || !failed.contains(&Label::Pointer) {
        return Ok(Recorded::AlreadyRecorded);
    }
    match app.store.transact(attempt(Recorded::Refunded)).await {
        Ok(()) => Ok(Recorded::Refunded),
        Err(e) if e.refused(Label::Event) => Ok(Recorded::DuplicateEvent),
        Err(e) if e.is_condition() => Ok(Recorded::AlreadyRecorded),
        Err(e) => Err(e.into()),
    }
}

/// The order and product a paid session is for: Tollgate's metadata when checkout made it,
/// else (a Payment Link sale) the session's `metadata.plan`/`metadata.pack` or its line items'
/// price in the catalog.
pub async fn resolve_product(app: &App, session: &CheckoutSession) -> Result<Option<(String, Product)>, Error> {
    let order_id = session.order_id().unwrap_or_else(|| format!("ord_{}", session.id));
    let catalog = &app.catalog;
    let pack = |key: &str| catalog.pack(key).map(|p| Product::Pack { key: p.key.clone(), credits: p.credits as i64 });
    if let Some(product) = session.metadata.get("pack").and_then(|k| pack(k)) {
        return Ok(Some((order_id, product)));
    }
    if let Some(plan) = session.metadata.get("plan").filter(|p| catalog.plan(p).is_some()) {
        return Ok(Some((order_id, Product::Plan(plan.clone()))));
    }
    let prices = app
        .stripe
        .line_item_prices(&session.id)
        .await
        .map_err(|e| Error::Stripe { message: e.to_string(), fallback_url: None })?;
    let product = prices.iter().find_map(|price| {
        catalog
            .plan_for_price(price)
            .map(|p| Product::Plan(p.key.clone()))
            .or_else(|| catalog.pack_for_price(price).and_then(|p| pack(&p.key)))
    });
    Ok(product.map(|p| (order_id, p)))
}
