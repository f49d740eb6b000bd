//! What support needs to answer "why am I not Pro?": everything Tollgate holds about one user's
//! access and money, found by id or email, for administrators.

use crate::app::App;
use crate::auth::normalize_email;
use crate::error::Error;
use crate::store::schema::{BillingEvent, Grant, Holder, SubscriptionRecord, User};

use super::credits::{self, History};
use super::plans::{self, Entitlement};

/// How many recent ledger entries and billing events a report shows.
pub const RECENT: usize = 20;

pub struct UserReport {
    pub user: User,
    pub entitlement: Entitlement,
    /// Every grant the user holds or held.
    pub grants: Vec<Grant>,
    /// Purchases made anonymously with the user's email, not claimed yet.
    pub unclaimed: Vec<Grant>,
    pub subscriptions: Vec<SubscriptionRecord>,
    pub credits: History,
    pub billing_events: Vec<BillingEvent>,
    /// The emails billing events queued: (event id, kind, status).
    pub emails: Vec<(String, String, String)>,
}

/// The user named by an id (`usr_...`) or an email.
pub async fn find(app: &App, key: &str) -> Result<Option<User>, Error> {
    let id = if key.contains('@') {
        let email = normalize_email(key).ok_or_else(|| Error::bad_request("invalid_email", "not a valid address"))?;
        match super::users::user_id_for_email(&app.store, &email).await? {
            Some(id) => id,
            None => return Ok(None),
        }
    } else {
        key.to_string()
    };
    let user = super::users::user_by_id(&app.store, &id).await?;
    Ok(user)
}

pub async fn report(app: &App, key: &str) -> Result<Option<UserReport>, Error> {
    let Some(user) = find(app, key).await? else { return Ok(None) };
    let (billing_events, _) = super::billing::list(app, &user.id, RECENT, None).await?;
    Ok(Some(report_for(app, user, billing_events).await?))
}

/// Every billing event of a user, newest first.
pub(crate) async fn all_billing_events(app: &App, user_id: &str) -> Result<Vec<BillingEvent>, Error> {
    let mut events = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = super::billing::list(app, user_id, 200, cursor.as_deref()).await?;
        events.extend(page);
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(events),
        }
    }
}

/// The report of `user` with the billing events given (recent ones, or all of them).
async fn report_for(app: &App, user: User, billing_events: Vec<BillingEvent>) -> Result<UserReport, Error> {
    let entitlement = plans::entitlement(app, &user.id).await?;
    let grants = super::entitlements::grants(app, &Holder::User(user.id.clone())).await?;
    let unclaimed = super::entitlements::grants(app, &Holder::Email(user.email.clone())).await?;
    let subscriptions = super::subscriptions::subscriptions_of(app, &user.id).await?;
    let credits = credits::history(app, &user.id, RECENT, None).await?;
    let mut emails = Vec::new();
    for event in billing_events.iter().filter(|e| e.email.is_some()) {
        for (kind, status) in super::mail::outcomes(app, &event.event_id).await? {
            emails.push((event.event_id.clone(), kind, status));
        }
    }
    Ok(UserReport { user, entitlement, grants, unclaimed, subscriptions, credits, billing_events, emails })
}

/// Everything Tollgate holds about a user (the data-rights export): profile, plan, grants and
/// unclaimed purchases, orders, subscriptions, the whole ledger, sessions with their entries,
/// and billing events (all of them, in the report).
pub struct Export {
    pub report: UserReport,
    pub orders: Vec<crate::store::schema::Order>,
    pub ledger: Vec<crate::store::schema::LedgerEntry>,
    pub sessions: Vec<(super::sessions::Session, Vec<super::sessions::Entry>)>,
}

pub async fn export(app: &App, user_id: &str) -> Result<Option<Export>, Error> {
    let Some(user) = super::users::user_by_id(&app.store, user_id).await? else { return Ok(None) };
    let billing_events = all_billing_events(app, user_id).await?;
    let report = report_for(app, user, billing_events).await?;
    let orders = crate::store::schema::orders::of_purchaser(&app.store, &report.user.email).await?;
    let ledger = credits::ledger(app, user_id).await?;
    let mut sessions = Vec::new();
    let mut cursor = None;
    loop {
        let page = super::sessions::list(app, user_id, None, 100, cursor.as_deref()).await?;
        for session in page.sessions {
            sessions.push(super::sessions::get(app, user_id, &session.id).await?);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(Some(Export { report, orders, ledger, sessions }))
}
