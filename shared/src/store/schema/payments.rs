//! Payment pointers (`PAYMENT#<id>`/`ORDER`): what one payment (a payment intent, a charge or an
//! invoice) paid for, so a refund or a dispute finds it. The pointer is also the one guard of
//! reversals: the first refund or dispute marks it `reversed_by`, and every write that moves
//! what it paid for is conditional on it as read.

use serde::{Deserialize, Serialize};

use super::{Holder, keys};
use crate::store::codec::decode;
use crate::store::{Condition, Item, Label, PK, Store, StoreError, TTL, Tx, Update, Write};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaymentPointer {
    pub payment_id: String,
    pub order_id: Option<String>,
    /// The invoice it paid: set on an invoice's own pointer, and on its payments' pointers,
    /// which lead to it.
    pub invoice: Option<String>,
    pub holder: Option<Holder>,
    pub credits: Option<i64>,
    pub plan: Option<String>,
    /// A reversal arrived before anything was recorded for the payment.
    pub reversed_first_at: Option<i64>,
    /// `refund`, or `dispute:<id>`: set once, by the first reversal.
    pub reversed_by: Option<String>,
    /// Credits the reversal took back (what a dispute won gives back).
    pub taken_back: Option<i64>,
    /// Disputes decided for the business: their "opened" event, if it comes late, changes nothing.
    pub won_disputes: Vec<String>,
}

const HOLDER: &str = "holder";
const ORDER: &str = "order_id";
const INVOICE: &str = "invoice";
const CREDITS: &str = "credits";
const PLAN: &str = "plan";
const REVERSED_FIRST: &str = "refunded_at";
const REVERSED_BY: &str = "reversed_by";
const REVERSED_AT: &str = "reversed_at";
const TAKEN_BACK: &str = "taken_back";
/// `won_<dispute id>`: when a dispute was decided for the business.
const WON_PREFIX: &str = "won_";

#[derive(Deserialize, Serialize)]
struct Body {
    order_id: Option<String>,
    invoice: Option<String>,
    holder: Option<Holder>,
    credits: Option<i64>,
    plan: Option<String>,
    refunded_at: Option<i64>,
    reversed_by: Option<String>,
    taken_back: Option<i64>,
}

fn from_item(item: &Item) -> Result<PaymentPointer, StoreError> {
    let body: Body = decode(item)?;
    let payment_id = item
        .str(PK)
        .and_then(|pk| pk.strip_prefix(keys::PAYMENT_PK))
        .ok_or_else(|| StoreError::Corrupt { key: item.key(), reason: "not a payment pointer".into() })?;
    Ok(PaymentPointer {
        payment_id: payment_id.to_string(),
        order_id: body.order_id,
        invoice: body.invoice,
        holder: body.holder,
        credits: body.credits,
        plan: body.plan,
        reversed_first_at: body.refunded_at,
        reversed_by: body.reversed_by,
        taken_back: body.taken_back,
        won_disputes: item.0.keys().filter_map(|k| k.strip_prefix(WON_PREFIX)).map(str::to_string).collect(),
    })
}

pub async fn get(store: &Store, payment_id: &str) -> Result<Option<PaymentPointer>, StoreError> {
    store.get(&keys::payment(payment_id)).await?.as_ref().map(from_item).transpose()
}

fn holder_is(holder: Option<&Holder>) -> Condition {
    match holder {
        Some(h) => Condition::equals(HOLDER, h.pk()),
        None => Condition::absent(HOLDER),
    }
}

/// A refund or dispute marker that nothing completed (a payment Tollgate never sold) expires
/// after this; Stripe delivers a purchase's events within days.
pub const MARKER_RETENTION_SECS: i64 = 90 * 24 * 3600;

/// Every write but a new marker's makes the pointer lasting: it drops a marker's expiry.
fn pointer(label: Label, update: Update) -> Tx {
    let update = if label == Label::Marker { update } else { update.remove(TTL) };
    Tx::new().with(label, Write::Update(update))
}

/// What a recorded purchase paid for. When its reversal came first (`reversed_first`), the
/// pointer that reversal left is completed (refused unless it exists); otherwise it is written
/// only if no reversal came first (refused, `Pointer`, if one did).
pub fn purchase_recorded(
    payment_id: &str,
    order_id: &str,
    holder: &Holder,
    credits: Option<i64>,
    plan: Option<&str>,
    withheld: Option<i64>,
    reversed_first: bool,
) -> Tx {
    let update = Update::new(keys::payment(payment_id))
        .set(ORDER, order_id)
        .set(HOLDER, holder.pk())
        .set_opt(CREDITS, credits)
        .set_opt(TAKEN_BACK, withheld)
        .set_opt(PLAN, plan)
        .when(if reversed_first { Condition::Exists } else { Condition::absent(REVERSED_FIRST) });
    pointer(Label::Pointer, update)
}

/// A reversal that found nothing recorded: a purchase or an invoice's credits delivered later
/// are recorded reversed. Refused (`Marker`) when what it read changed: a new marker (`found`
/// false) only where no pointer is, expiring unless something completes it; on a pointer that
/// exists (a payment's link to its invoice), only while it still has no holder.
pub fn reversed_first(payment_id: &str, by: &str, now: i64, found: bool) -> Tx {
    let update =
        Update::new(keys::payment(payment_id)).set_if_absent(REVERSED_FIRST, now).set_if_absent(REVERSED_BY, by);
    let update = if found {
        update.when(Condition::absent(HOLDER))
    } else {
        update.set(TTL, now + MARKER_RETENTION_SECS).when(Condition::NotExists)
    };
    pointer(Label::Marker, update)
}

/// The first reversal marks the pointer, refused (`Pointer`) unless it is still as `read`: same
/// holder, not reversed.
pub fn mark_reversed(read: &PaymentPointer, by: &str, taken_back: Option<i64>, now: i64) -> Tx {
    let update = Update::new(keys::payment(&read.payment_id))
        .set(REVERSED_BY, by)
        .set(REVERSED_AT, now)
        .set_opt(TAKEN_BACK, taken_back)
        .when(Condition::And(vec![Condition::Exists, holder_is(read.holder.as_ref()), Condition::absent(REVERSED_BY)]));
    pointer(Label::Pointer, update)
}

/// A won dispute undoes its reversal, refused (`Pointer`) unless that dispute still holds it
/// and the holder is as `read`.
pub fn unmark(read: &PaymentPointer, by: &str) -> Tx {
    let update = Update::new(keys::payment(&read.payment_id))
        .remove(REVERSED_BY)
        .remove(REVERSED_AT)
        .remove(TAKEN_BACK)
        .remove(REVERSED_FIRST)
        .when(Condition::And(vec![Condition::equals(REVERSED_BY, by), holder_is(read.holder.as_ref())]));
    pointer(Label::Pointer, update)
}

/// Remembers a dispute won that took nothing, so its late "opened" event takes nothing.
pub fn dispute_won(payment_id: &str, dispute_id: &str, now: i64) -> Tx {
    pointer(Label::Pointer, Update::new(keys::payment(payment_id)).set(&format!("{WON_PREFIX}{dispute_id}"), now))
}

/// A claimed purchase's pointer moves to its new holder, refused (`Pointer`) unless it is still
/// the old holder's (or has none yet) and its reversal is as read.
pub fn moved(
    payment_id: &str,
    order_id: &str,
    from: &Holder,
    to: &Holder,
    credits: Option<i64>,
    plan: Option<&str>,
    reversed_by_as_read: Option<&str>,
) -> Tx {
    let reversed_as_read = match reversed_by_as_read {
        None => Condition::absent(REVERSED_BY),
        Some(by) => Condition::equals(REVERSED_BY, by),
    };
    let update = Update::new(keys::payment(payment_id))
        .set(ORDER, order_id)
        .set(HOLDER, to.pk())
        .set_opt(CREDITS, credits)
        .set_opt(PLAN, plan)
        .when(Condition::And(vec![
            Condition::Or(vec![Condition::equals(HOLDER, from.pk()), Condition::absent(HOLDER)]),
            reversed_as_read,
        ]));
    pointer(Label::Pointer, update)
}

/// A credited invoice's own pointer; refused (`Pointer`) when a reversal of it came first.
pub fn invoice_credited(invoice_id: &str, holder: &Holder, credits: i64) -> Tx {
    let update = Update::new(keys::payment(invoice_id))
        .set(INVOICE, invoice_id)
        .set(HOLDER, holder.pk())
        .set(CREDITS, credits)
        .when(Condition::absent(REVERSED_FIRST));
    pointer(Label::Pointer, update)
}

/// A payment's pointer leads to the invoice it paid.
pub fn link_to_invoice(payment_id: &str, invoice_id: &str) -> Tx {
    pointer(Label::PaymentLink, Update::new(keys::payment(payment_id)).set(INVOICE, invoice_id))
}
