//! What administrators and support read: users' records, billing events, data-rights exports
//! and erasures, and the deployment's diagnostics.

use super::account::Held;
use super::credits::LedgerEntryView;
use super::records::{EntryView, SessionView, SessionWithEntries};
use super::wire;
use crate::clock::rfc3339;
use crate::domain::erasure::Erased;
use crate::domain::support::{Export, UserReport};
use crate::store::schema::{BillingEvent, Grant, Order, SubscriptionRecord};

wire! {
    pub struct BillingEventView {
        /// Stripe's event id (or reconciliation's `reconcile:...`).
        pub event_id: String,
        /// The user it is about.
        pub user_id: String,
        #[serde(rename = "type")]
        pub event_type: String,
        pub created: String,
        pub amount: Option<i64>,
        pub currency: Option<String>,
        pub status: Option<String>,
        pub subscription: Option<String>,
        pub invoice: Option<String>,
        pub email: Option<String>,
    }

    pub struct BillingEventPage {
        pub user_id: String,
        /// Newest first.
        pub events: Vec<BillingEventView>,
        pub next_cursor: Option<String>,
    }

    /// Every user's billing events, newest first, from the last `days` UTC days.
    pub struct RecentBillingEvents {
        pub days: i64,
        pub events: Vec<BillingEventView>,
    }

    pub struct AdminSet {
        pub user_id: String,
        pub admin: bool,
    }

    #[serde(deny_unknown_fields)]
    pub struct ReconcileRequest {
        /// `YYYY-MM-DD`: Stripe's objects made from this UTC day on (default 3 days ago).
        #[serde(default)]
        pub since: Option<String>,
    }

    pub struct Profile {
        pub id: String,
        pub email: String,
        pub created_at: Option<String>,
        pub stripe_customer_id: Option<String>,
    }

    /// A purchase granted to the user (or waiting under their email, unclaimed).
    pub struct GrantView {
        pub order_id: String,
        pub plan: Option<String>,
        pub credits: Option<i64>,
        pub payment_intent: Option<String>,
        pub granted_at: String,
        pub revoked_at: Option<String>,
    }

    pub struct SubscriptionView {
        pub id: String,
        pub plan: String,
        pub interval: Option<String>,
        pub status: String,
        pub current_period_end: Option<String>,
        pub trial_end: Option<String>,
        pub cancel_at_period_end: bool,
        pub access_until: Option<String>,
    }

    pub struct RecentCredits {
        pub balance: i64,
        /// The 20 most recent entries.
        pub recent: Vec<LedgerEntryView>,
    }

    /// A billing email and whether it went.
    pub struct EmailView {
        pub event_id: String,
        pub kind: String,
        pub status: String,
    }

    /// Everything support needs about one user.
    pub struct UserReportView {
        pub user: Profile,
        #[serde(flatten)]
        pub held: Held,
        pub grants: Vec<GrantView>,
        pub unclaimed: Vec<GrantView>,
        pub subscriptions: Vec<SubscriptionView>,
        pub credits: RecentCredits,
        pub billing_events: Vec<BillingEventView>,
        pub emails: Vec<EmailView>,
    }

    pub struct OrderView {
        pub id: String,
        pub plan: Option<String>,
        pub pack: Option<String>,
        pub status: String,
        pub amount_total: Option<i64>,
        pub currency: Option<String>,
        pub created_at: String,
        pub paid_at: Option<String>,
    }

    /// Everything Tollgate holds about a user (the data-rights export).
    pub struct ExportView {
        #[serde(flatten)]
        pub report: UserReportView,
        pub exported_at: String,
        /// The whole ledger.
        pub ledger: Vec<LedgerEntryView>,
        pub orders: Vec<OrderView>,
        pub sessions: Vec<SessionWithEntries>,
    }

    pub struct ErasedView {
        pub erased: bool,
        pub user_id: String,
        pub subscriptions_canceled: Vec<String>,
        pub records_deleted: u64,
        pub records_pseudonymised: u64,
    }
}

fn some_text(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

impl From<&Grant> for GrantView {
    fn from(g: &Grant) -> Self {
        GrantView {
            order_id: g.order_id.clone(),
            plan: some_text(&g.plan),
            credits: g.credits,
            payment_intent: g.payment_intent.clone(),
            granted_at: rfc3339(g.granted_at),
            revoked_at: g.revoked_at.map(rfc3339),
        }
    }
}

impl From<&BillingEvent> for BillingEventView {
    fn from(e: &BillingEvent) -> Self {
        BillingEventView {
            event_id: e.event_id.clone(),
            user_id: e.user_id.clone(),
            event_type: e.event_type.clone(),
            created: rfc3339(e.created),
            amount: e.amount,
            currency: e.currency.clone(),
            status: e.status.clone(),
            subscription: e.subscription.clone(),
            invoice: e.invoice.clone(),
            email: e.email.clone(),
        }
    }
}

impl From<&SubscriptionRecord> for SubscriptionView {
    fn from(s: &SubscriptionRecord) -> Self {
        SubscriptionView {
            id: s.id.clone(),
            plan: s.plan.clone(),
            interval: s.interval.map(|i| i.as_str().to_string()),
            status: s.status.clone(),
            current_period_end: s.current_period_end.map(rfc3339),
            trial_end: s.trial_end.map(rfc3339),
            cancel_at_period_end: s.cancel_at_period_end,
            access_until: s.access_until.filter(|u| *u != i64::MAX).map(rfc3339),
        }
    }
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        OrderView {
            id: o.id.clone(),
            plan: some_text(&o.plan),
            pack: o.pack.clone(),
            status: o.status.as_str().to_string(),
            amount_total: o.amount_total,
            currency: o.currency.clone(),
            created_at: rfc3339(o.created_at),
            paid_at: o.paid_at.map(rfc3339),
        }
    }
}

impl From<&UserReport> for UserReportView {
    fn from(r: &UserReport) -> Self {
        UserReportView {
            user: Profile {
                id: r.user.id.clone(),
                email: r.user.email.clone(),
                created_at: (r.user.created_at > 0).then(|| rfc3339(r.user.created_at)),
                stripe_customer_id: r.user.stripe_customer_id.clone(),
            },
            held: Held::from(&r.entitlement),
            grants: r.grants.iter().map(GrantView::from).collect(),
            unclaimed: r.unclaimed.iter().map(GrantView::from).collect(),
            subscriptions: r.subscriptions.iter().map(SubscriptionView::from).collect(),
            credits: RecentCredits {
                balance: r.credits.balance,
                recent: r.credits.entries.iter().map(LedgerEntryView::from).collect(),
            },
            billing_events: r.billing_events.iter().map(BillingEventView::from).collect(),
            emails: r
                .emails
                .iter()
                .map(|(event_id, kind, status)| EmailView {
                    event_id: event_id.clone(),
                    kind: kind.clone(),
                    status: status.clone(),
                })
                .collect(),
        }
    }
}

impl ExportView {
    pub fn new(export: &Export, exported_at: i64) -> Self {
        ExportView {
            report: UserReportView::from(&export.report),
            exported_at: rfc3339(exported_at),
            ledger: export.ledger.iter().map(LedgerEntryView::from).collect(),
            orders: export.orders.iter().map(OrderView::from).collect(),
            sessions: export
                .sessions
                .iter()
                .map(|(s, entries)| SessionWithEntries {
                    session: SessionView::from(s),
                    entries: entries.iter().map(EntryView::from).collect(),
                })
                .collect(),
        }
    }
}

impl From<&Erased> for ErasedView {
    fn from(e: &Erased) -> Self {
        ErasedView {
            erased: true,
            user_id: e.user_id.clone(),
            subscriptions_canceled: e.canceled.clone(),
            records_deleted: e.deleted as u64,
            records_pseudonymised: e.pseudonymised as u64,
        }
    }
}
