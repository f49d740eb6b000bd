//! Credits: `GET /api/credits`, `POST /api/credits/debit`, `POST /api/credits/use`.

use tollgate::auth::{caller, signed_in};
use tollgate::domain::credits::{self, Change, Floor, Outcome};
use tollgate::http::api::{CreditHistory, DebitRequest, Debited, LedgerEntryView, UseCreditsRequest};
use tollgate::http::{self, Reply, Request, Response, Route};
use tollgate::store::schema::{Reason, RequestKey};
use tollgate::{App, Error};

/// The secrets this function uses: the only ones its role may read (template.yaml).
pub const SECRETS: &[&str] = &[tollgate::config::secrets::JWT_SECRET, tollgate::config::secrets::NEXTAUTH_SECRET];

/// The function's routes: the one table its router, the dev server and the template test read.
pub const ROUTES: &[Route] = &[
    Route { method: "GET", path: "/api/credits", handler: |app, req, _| Box::pin(history(app, req)) },
    Route { method: "POST", path: "/api/credits/debit", handler: |app, req, _| Box::pin(debit(app, req)) },
    Route { method: "POST", path: "/api/credits/use", handler: |app, req, _| Box::pin(use_units(app, req)) },
];

pub fn router(app: App) -> http::router::Router {
    http::router::router(app, ROUTES)
}

/// One request through the router (what Lambda does).
pub async fn handle(app: &App, req: Request) -> Response {
    http::router::call(router(app.clone()), req).await
}

/// The most entries one page of `GET /api/credits` returns.
pub const MAX_PAGE: usize = 100;
const DEFAULT_PAGE: usize = 20;

async fn history(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = caller(app, req)?;
    let limit = http::page_limit(req, DEFAULT_PAGE, MAX_PAGE)?;
    let cursor = http::query_param(req, "cursor");
    // The token's version is read alongside the page: no wait of its own.
    let (_, page) =
        tokio::try_join!(signed_in(app, req), credits::history(app, &claims.sub, limit, cursor.as_deref()))?;
    Ok(Reply::json(&CreditHistory {
        balance: page.balance,
        entries: page.entries.iter().map(LedgerEntryView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn debit(app: &App, req: &Request) -> Result<Reply, Error> {
    // The debit's transaction checks the token is not revoked (no read of its own).
    let claims = caller(app, req)?;
    let body: DebitRequest = http::json_body(req, app.config.max_body_bytes)?;
    let key = match (body.idempotency_key, http::header_value(req, "idempotency-key")) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::bad_request(
                "conflicting_idempotency_keys",
                "the body and the Idempotency-Key header disagree",
            ));
        }
        (Some(a), _) => Some(a),
        (None, b) => b.map(str::to_string),
    };
    spend(app, &claims.sub, body.amount, Reason::Debit, body.reason.as_deref(), key.as_deref()).await
}

/// The same operation under the name apps already use: `ref` is the idempotency key.
async fn use_units(app: &App, req: &Request) -> Result<Reply, Error> {
    let claims = caller(app, req)?;
    let body: UseCreditsRequest = http::json_body(req, app.config.max_body_bytes)?;
    spend(app, &claims.sub, body.units, Reason::Use, None, Some(&body.reference)).await
}

fn valid_text(name: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(Error::bad_request("invalid_field", format!("{name} must be 1 to {max} printable characters")));
    }
    Ok(())
}

/// A caller's debit: their reason is kept as the entry's note, their key in the callers' own
/// key space, so neither can pass for what Tollgate writes.
async fn spend(
    app: &App,
    user_id: &str,
    amount: i64,
    reason: Reason,
    note: Option<&str>,
    key: Option<&str>,
) -> Result<Reply, Error> {
    if amount <= 0 || amount > app.config.max_debit {
        return Err(Error::bad_request(
            "invalid_amount",
            format!("amount must be a whole number from 1 to {}", app.config.max_debit),
        ));
    }
    if let Some(n) = note {
        valid_text("reason", n, 200)?;
    }
    if let Some(k) = key {
        valid_text("idempotency key", k, 255)?;
    }
    let change = Change {
        user_id,
        delta: -amount,
        floor: Floor::Refuse,
        reason,
        note,
        reference: key,
        key: key.map(RequestKey::Caller),
    };
    match credits::apply(app, &change, &|_| Default::default()).await? {
        Outcome::Applied(entry) => Ok(Reply::json(&Debited { balance: entry.balance_after, entry_id: entry.id })),
        Outcome::Replayed { entry_id, balance_after } => Ok(Reply::json(&Debited { balance: balance_after, entry_id })),
        Outcome::Insufficient { balance, required } => Err(Error::InsufficientCredits { balance, required }),
        Outcome::KeyReused => {
            Err(Error::conflict("idempotency_key_reused", "this idempotency key was used for a different amount"))
        }
        Outcome::OutOfRange => Err(Error::bad_request("invalid_amount", "the amount is out of range")),
        Outcome::Refused(_) => Err(Error::internal("a debit has no accompanying writes to refuse")),
    }
}
