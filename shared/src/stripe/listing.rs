//! What Stripe holds that reconciliation compares with Tollgate: customers, paid Checkout
//! Sessions, subscriptions, refunded charges and disputes, walked page by page.

use serde::Deserialize;
use serde_json::Value;

use super::client::{StripeClient, StripeError};
use super::prices::with_query;

/// Stripe's objects as it holds them now, newest first within each kind.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Customers created since (id, email, Tollgate's `user_id` metadata if it made them).
    pub customers: Vec<Value>,
    /// Checkout Sessions created since that completed with their payment made.
    pub paid_sessions: Vec<Value>,
    /// Every subscription, whatever its status (one created long ago changes too).
    pub subscriptions: Vec<Value>,
    /// Charges with a refund made since.
    pub refunded_charges: Vec<Value>,
    /// Disputes opened since.
    pub disputes: Vec<Value>,
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Value>,
    #[serde(default)]
    has_more: bool,
}

/// The most pages one list walks (100 objects each): a bound, so no account makes a run endless.
const MAX_PAGES: usize = 500;

/// A completed session whose payment was made (or needed none).
pub fn is_paid_session(session: &Value) -> bool {
    session["status"] == "complete"
        && matches!(session["payment_status"].as_str(), Some("paid") | Some("no_payment_required"))
}

impl StripeClient {
    /// Every object of a list created at or after `since`, newest first: Stripe lists newest
    /// first, so the first page holding an older object is the last one read.
    async fn list_all(&self, path: &str, query: &[(String, String)], since: i64) -> Result<Vec<Value>, StripeError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("limit".into(), "100".into()));
            if let Some(id) = &after {
                q.push(("starting_after".into(), id.clone()));
            }
            let page: Option<Page> = self.call(super::client::Method::GET, &with_query(path, &q), None, None).await?;
            let Some(page) = page else { break };
            let last = page.data.last().and_then(|o| o["id"].as_str()).map(str::to_string);
            let older = page.data.iter().any(|o| o["created"].as_i64().is_some_and(|c| c < since));
            out.extend(page.data.into_iter().filter(|o| o["created"].as_i64().is_none_or(|c| c >= since)));
            match last {
                Some(id) if page.has_more && !older => after = Some(id),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Walks what reconciliation reads, from `since` (Stripe's time) on.
    pub async fn walk(&self, since: i64) -> Result<Walk, StripeError> {
        let created = || vec![("created[gte]".to_string(), since.to_string())];
        let customers = self.list_all("/v1/customers", &created(), since).await?;
        // The 2022-era list of sessions has no `created` filter: the walk stops at the first older.
        let sessions = self.list_all("/v1/checkout/sessions", &[], since).await?;
        let all = vec![("status".to_string(), "all".to_string())];
        let subscriptions = self.list_all("/v1/subscriptions", &all, 0).await?;
        let mut refunds_query = created();
        refunds_query.push(("expand[0]".into(), "data.charge".into()));
        let refunds = self.list_all("/v1/refunds", &refunds_query, since).await?;
        let disputes = self.list_all("/v1/disputes", &created(), since).await?;
        let mut refunded_charges: Vec<Value> = Vec::new();
        for charge in refunds.into_iter().map(|r| r["charge"].clone()).filter(Value::is_object) {
            if !refunded_charges.iter().any(|c| c["id"] == charge["id"]) {
                refunded_charges.push(charge);
            }
        }
        Ok(Walk {
            customers,
            paid_sessions: sessions.into_iter().filter(is_paid_session).collect(),
            subscriptions,
            refunded_charges,
            disputes,
        })
    }
}
