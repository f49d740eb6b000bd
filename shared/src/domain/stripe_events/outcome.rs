//! What applying an event did: recorded on the event's record and answered to Stripe.

/// Every outcome an event can have. The webhook answers it as `outcome` (`ignored` as
/// `"ignored": true`); the event record keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    // Checkout
    PurchaseRecorded,
    PurchaseRefunded,
    AwaitingPayment,
    UnknownProduct,
    UnsupportedMode,
    OrderExpired,
    OrderFailed,
    NoOrder,
    SubscriptionStarted,
    NoSubscription,
    // Refunds and disputes
    PartialRefund,
    PurchaseRevoked,
    PurchaseDisputed,
    CreditsTakenBack,
    RefundBeforePurchase,
    DisputeBeforePurchase,
    DisputeWon,
    DisputeAlreadyWon,
    DisputeNoted,
    UnknownPayment,
    // Subscriptions
    SubscriptionApplied,
    SubscriptionRefreshed,
    SubscriptionUnknown,
    UnknownPlan,
    ChangeScheduled,
    ScheduleRefreshed,
    // Invoices
    InvoiceRecorded,
    CreditsGranted,
    InvoiceReversedFirst,
    PaymentLinked,
    NoInvoice,
    // Any event
    WaitingForCustomer,
    UnknownCustomer,
    AlreadyApplied,
    LivemodeMismatch,
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        use Outcome::*;
        match self {
            PurchaseRecorded => "purchase_recorded",
            PurchaseRefunded => "purchase_refunded",
            AwaitingPayment => "awaiting_payment",
            UnknownProduct => "unknown_product",
            UnsupportedMode => "unsupported_mode",
            OrderExpired => "order_expired",
            OrderFailed => "order_failed",
            NoOrder => "no_order",
            SubscriptionStarted => "subscription_started",
            NoSubscription => "no_subscription",
            PartialRefund => "partial_refund",
            PurchaseRevoked => "purchase_revoked",
            PurchaseDisputed => "purchase_disputed",
            CreditsTakenBack => "credits_taken_back",
            RefundBeforePurchase => "refund_before_purchase",
            DisputeBeforePurchase => "dispute_before_purchase",
            DisputeWon => "dispute_won",
            DisputeAlreadyWon => "dispute_already_won",
            DisputeNoted => "dispute_noted",
            UnknownPayment => "unknown_payment",
            SubscriptionApplied => "subscription_applied",
            SubscriptionRefreshed => "subscription_refreshed",
            SubscriptionUnknown => "subscription_unknown",
            UnknownPlan => "unknown_plan",
            ChangeScheduled => "change_scheduled",
            ScheduleRefreshed => "schedule_refreshed",
            InvoiceRecorded => "invoice_recorded",
            CreditsGranted => "credits_granted",
            InvoiceReversedFirst => "invoice_reversed_first",
            PaymentLinked => "payment_linked",
            NoInvoice => "no_invoice",
            WaitingForCustomer => "waiting_for_customer",
            UnknownCustomer => "unknown_customer",
            AlreadyApplied => "already_applied",
            LivemodeMismatch => "livemode_mismatch",
            Ignored => "ignored",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
