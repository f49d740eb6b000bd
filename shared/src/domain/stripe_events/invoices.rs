//! Invoices: every one is audited; a paid one sends a receipt and, for a plan that grants credits
//! each period, credits them once per invoice (whichever event, however many deliveries); a
//! failed one (or one that needs the customer to confirm) emails the hosted invoice link.

use serde_json::json;

use super::{Delivery, Outcome, Receipt, letter, record_event_once, record_only, settle, user_for, with_mail};
use crate::app::App;
use crate::catalog::Plan;
use crate::domain::billing::{self, BillingEvent};
use crate::domain::credits::{self, Change, Floor};
use crate::domain::mail::{self, MailKind};
use crate::domain::reversals::{self, Cause};
use crate::domain::waiting;
use crate::error::Error;
use crate::store::schema::{Holder, Reason, RequestKey, payments};
use crate::store::{Label, Tx};
use crate::stripe::events::InvoicePayment;
use crate::stripe::{Event, Invoice, InvoiceChange};

pub(super) async fn changed(
    app: &App,
    event: &Event,
    change: InvoiceChange,
    invoice: Invoice,
) -> Result<Receipt, Error> {
    let metadata = invoice.subscription_metadata();
    let Some(user_id) = user_for(app, &metadata, invoice.customer()).await? else {
        return waiting::wait_for_customer(app, event, invoice.customer()).await;
    };
    // The plan of the price actually billed (after a plan switch, the metadata still names the
    // plan the subscription started on).
    let billed = invoice.price_ids().iter().find_map(|price| app.catalog.plan_for_subscription_price(price));
    let plan = billed.map(|(p, _)| p).or_else(|| metadata.get("plan").and_then(|key| app.catalog.plan(key)));
    let paid = change == InvoiceChange::Paid;
    let amount = if paid { invoice.amount_paid } else { invoice.amount_due };
    let kind = match change {
        InvoiceChange::Paid if invoice.amount_paid > 0 => Some(MailKind::Receipt),
        InvoiceChange::Paid => None,
        InvoiceChange::PaymentFailed => Some(MailKind::PaymentFailed),
        InvoiceChange::ActionRequired => Some(MailKind::PaymentActionRequired),
    };
    let context = json!({
        "product": plan.map_or_else(|| "your subscription".to_string(), |p| p.name.clone()),
        "amount": mail::money(amount, invoice.currency.as_deref()),
        "date": mail::date(event.created),
        "invoice_url": invoice.hosted_invoice_url,
        "grace_days": app.config.grace_days,
        "action_required": kind == Some(MailKind::PaymentActionRequired),
    });
    let queued = letter(app, &user_id, kind, context).await?;
    let audit = BillingEvent {
        amount: Some(amount),
        currency: invoice.currency.clone(),
        status: invoice.status.clone(),
        subscription: invoice.subscription_id(),
        invoice: Some(invoice.id.clone()),
        email: queued.as_ref().map(|q| q.kind.as_str().to_string()),
        ..billing::record_of(event, &user_id)
    };
    let now = app.now();
    let audit_and_mail = || {
        let mut tx = billing::write(&audit);
        if let Some(q) = &queued {
            tx.append(mail::queue(&event.id, &user_id, q, now));
        }
        tx
    };
    let Some(credits) = period_credits(&invoice, billed.map(|(p, _)| p), paid) else {
        let receipt = record_event_once(app, event, Outcome::InvoiceRecorded, audit_and_mail()).await?;
        return with_mail(app, event, receipt, &queued).await;
    };
    let key = format!("invoice:{}", invoice.id);
    let change = Change {
        user_id: &user_id,
        delta: credits,
        floor: Floor::Refuse,
        reason: Reason::Subscription,
        note: None,
        reference: Some(&invoice.id),
        key: Some(RequestKey::Own(&key)),
    };
    let pointers = invoice_pointers(&invoice, &user_id, credits);
    let with = |_: &_| {
        let mut tx = super::event_record(event, Outcome::CreditsGranted, Delivery::Applied, now);
        tx.append(audit_and_mail());
        tx.append(pointers.clone());
        tx
    };
    let receipt = match credits::apply(app, &change, &with).await? {
        credits::Outcome::Applied(_) => Receipt::Applied(Outcome::CreditsGranted),
        credits::Outcome::Refused(refused) if refused.contains(&Label::Event) => Receipt::Duplicate,
        // A refund or dispute of the invoice came first: no credits at all.
        credits::Outcome::Refused(refused) if refused.contains(&Label::Pointer) => {
            let receipt = record_event_once(app, event, Outcome::InvoiceReversedFirst, audit_and_mail()).await?;
            return with_mail(app, event, receipt, &queued).await;
        }
        credits::Outcome::Refused(refused) => settle(app, event, Outcome::CreditsGranted, Err(refused)).await?,
        // Credited before under the invoice's key (another event about the same invoice).
        _ => return record_event_once(app, event, Outcome::AlreadyApplied, billing::write(&audit)).await,
    };
    with_mail(app, event, receipt, &queued).await
}

/// The credits a paid invoice grants: a paid period's (the first invoice or a renewal, with an
/// amount) of the plan actually billed; the trial's own credits for the $0 invoice that opens a
/// trial. Prorations, manual invoices and unpaid ones grant nothing.
fn period_credits(invoice: &Invoice, billed: Option<&Plan>, paid: bool) -> Option<i64> {
    let plan = billed.filter(|_| paid)?;
    let credits = match (invoice.amount_paid, invoice.billing_reason.as_deref()) {
        (1.., _) if invoice.is_for_a_period() => plan.credits_per_period?,
        (0, Some("subscription_create")) => plan.subscription.as_ref()?.trial_credits,
        _ => return None,
    };
    i64::try_from(credits).ok().filter(|c| *c > 0)
}

/// What a refund or dispute of a credited invoice needs to find its credits: the invoice's own
/// pointer (who was credited, how much), and its payments' pointers leading to it.
fn invoice_pointers(invoice: &Invoice, user_id: &str, credits: i64) -> Tx {
    let holder = Holder::User(user_id.to_string());
    let mut tx = payments::invoice_credited(&invoice.id, &holder, credits);
    for payment in invoice.payment_ids().iter().filter(|p| **p != invoice.id) {
        tx.append(payments::link_to_invoice(payment, &invoice.id));
    }
    tx
}

/// Current API versions name an invoice's payment only in `invoice_payment.paid`: its pointer
/// leads a later refund or dispute of that payment to the invoice.
pub(super) async fn payment_paid(app: &App, event: &Event, payment: InvoicePayment) -> Result<Receipt, Error> {
    let Some(invoice) = payment.invoice_id() else {
        return record_only(app, event, Outcome::NoInvoice).await;
    };
    let mut links = Tx::new();
    for id in payment.payment_ids() {
        links.append(payments::link_to_invoice(&id, &invoice));
    }
    // A refund or dispute of the payment that came before this link: now it reaches the invoice.
    let mut reversed_first = None;
    for id in payment.payment_ids() {
        if let Some(by) = reversals::pointer_of(app, &id).await?.and_then(|p| p.reversed_by) {
            reversed_first = Some((id, Cause::from_tag(&by)));
        }
    }
    match reversed_first {
        None => record_event_once(app, event, Outcome::PaymentLinked, links).await,
        Some((id, cause)) => {
            // The links are idempotent; the reversal carries the event's exactly-once record.
            app.store.transact(links).await?;
            reversals::reverse(app, event, &id, cause).await
        }
    }
}
