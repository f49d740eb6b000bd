//! Refunds and disputes: what a payment bought is taken back (a full refund; a dispute when it
//! opens or only once lost, as `DISPUTE_REVOKES` says) and given back when a dispute is won.

use super::{Outcome, Receipt, record_only};
use crate::app::App;
use crate::config::DisputePolicy;
use crate::domain::reversals::{self, Cause};
use crate::error::Error;
use crate::stripe::{Charge, Dispute, Event};

pub(super) async fn refunded(app: &App, event: &Event, charge: Charge) -> Result<Receipt, Error> {
    // A partial refund leaves the purchase standing; only a full refund revokes it.
    if !charge.refunded {
        return record_only(app, event, Outcome::PartialRefund).await;
    }
    reversals::reverse(app, event, &charge.payment_id(), Cause::Refund).await
}

/// A dispute opened or decided (`closed`).
pub(super) async fn dispute(app: &App, event: &Event, dispute: Dispute, closed: bool) -> Result<Receipt, Error> {
    let Some(payment) = dispute.payment_id() else {
        return record_only(app, event, Outcome::UnknownPayment).await;
    };
    let cause = Cause::Dispute(dispute.id.clone());
    match (closed, dispute.status.as_str(), app.config.disputes) {
        (false, _, DisputePolicy::WhenOpened) => reversals::reverse(app, event, &payment, cause).await,
        (true, "lost", _) => reversals::reverse(app, event, &payment, cause).await,
        (true, "won" | "warning_closed", _) => reversals::restore(app, event, &payment, &dispute.id).await,
        _ => record_only(app, event, Outcome::DisputeNoted).await,
    }
}
