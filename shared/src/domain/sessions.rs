//! Sessions: records a user keeps (a metronome setting, a conversation), capped by plan, each
//! with an ordered list of entries. The cap check and the write are one transaction; another
//! user's session is simply not found (ids leak nothing). A downgrade deletes nothing: existing
//! sessions stay readable and deletable, and new ones wait until the user is under the new cap.

use serde_json::Value;

use crate::app::App;
use crate::catalog::{Feature, Plan};
use crate::error::Error;
use crate::store::records::{self, SESSION_PREFIX};
use crate::store::{Condition, Item, Query, StoreError, Update, Write};

use super::entitlements::{effective_plan, still_on};

/// The catalog feature that caps how many sessions a user keeps.
pub const FEATURE: &str = "sessions";
pub const DEFAULT_KIND: &str = "metronome";
pub const MAX_DATA_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub kind: String,
    pub data: Value,
    pub created_at: i64,
    pub entry_count: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub data: Value,
    pub created_at: i64,
}

fn session_from(item: &Item) -> Option<Session> {
    Some(Session {
        id: item.string("session_id")?,
        kind: item.string("kind")?,
        data: serde_json::from_str(item.str("data")?).ok()?,
        created_at: item.num("created_at")?,
        entry_count: item.num("entry_count").unwrap_or(0),
    })
}

fn entry_from(item: &Item) -> Option<Entry> {
    Some(Entry {
        id: item.string("entry_id")?,
        data: serde_json::from_str(item.str("data")?).ok()?,
        created_at: item.num("created_at")?,
    })
}

/// How many sessions a plan keeps: None for unlimited; 0 when the plan does not offer them.
pub fn cap(plan: &Plan) -> Option<i64> {
    match plan.features.get(FEATURE) {
        Some(Feature::Cap(n)) => Some(*n as i64),
        Some(Feature::Unlimited(_)) => None,
        _ => Some(0),
    }
}

fn valid_kind(kind: &str) -> Result<(), Error> {
    let ok = !kind.is_empty()
        && kind.len() <= 40
        && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    ok.then_some(())
        .ok_or_else(|| Error::bad_request("invalid_kind", "kind is 1 to 40 lowercase letters, digits, '-' or '_'"))
}

/// The data as stored: a JSON object of at most 16 KB.
fn stored_data(data: &Value) -> Result<String, Error> {
    if !data.is_object() {
        return Err(Error::bad_request("invalid_field", "data must be a JSON object"));
    }
    let text = data.to_string();
    if text.len() > MAX_DATA_BYTES {
        return Err(Error::PayloadTooLarge { limit: MAX_DATA_BYTES });
    }
    Ok(text)
}

fn limit_reached(plan: &Plan, limit: i64) -> Error {
    Error::PaymentRequired {
        code: "session_limit_reached",
        message: format!("the {} plan keeps {limit} sessions", plan.name),
        details: serde_json::json!({ "limit": limit, "plan": plan.key }),
    }
}

/// Creates a session if the user's plan has room: one transaction (the plan the token names
/// checked against the store, the capped count, the session), re-read once if the plan changed.
pub async fn create(
    app: &App,
    user_id: &str,
    token_plan: &str,
    kind: Option<&str>,
    data: &Value,
) -> Result<Session, Error> {
    let kind = kind.unwrap_or(DEFAULT_KIND);
    valid_kind(kind)?;
    let text = stored_data(data)?;
    let now = app.now();
    let session = Session {
        id: format!("ses_{}", uuid::Uuid::now_v7().simple()),
        kind: kind.to_string(),
        data: data.clone(),
        created_at: now,
        entry_count: 0,
    };
    let item = Item::new(&records::session(user_id, &session.id))
        .with("session_id", session.id.as_str())
        .with("kind", kind)
        .with("data", text)
        .with("created_at", now)
        .with("entry_count", 0);
    let mut plan = app.catalog.plan(token_plan);
    for _ in 0..3 {
        let current = match plan.take() {
            Some(p) => p,
            None => {
                effective_plan(&app.catalog, app.store.get(&records::plans_held(user_id)).await?.as_ref(), app.now())
            }
        };
        let limit = cap(current);
        let mut count = Update::new(records::kept(user_id, FEATURE)).add("count", 1);
        if let Some(l) = limit {
            count = count.when(Condition::AbsentOrBelow("count".into(), l));
        }
        let writes = vec![
            Write::Check { key: records::plans_held(user_id), condition: still_on(&app.catalog, current, app.now()) },
            Write::Update(count),
            Write::put_new(item.clone()),
        ];
        match app.store.transact(writes).await {
            Ok(()) => return Ok(session),
            Err(StoreError::Cancelled { failed }) if failed.contains(&0) => continue,
            Err(StoreError::Cancelled { failed }) if failed.contains(&1) => {
                return Err(limit_reached(current, limit.unwrap_or(0)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::conflict("plan_changing", "the plan is changing; retry"))
}

pub struct SessionPage {
    pub sessions: Vec<Session>,
    pub next_cursor: Option<String>,
}

/// Newest first, optionally of one kind, a page at a time; the cursor is opaque.
pub async fn list(
    app: &App,
    user_id: &str,
    kind: Option<&str>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<SessionPage, Error> {
    if let Some(k) = kind {
        valid_kind(k)?;
    }
    let mut query = Query {
        pk: records::kept(user_id, FEATURE).pk,
        sk_prefix: SESSION_PREFIX.to_string(),
        newest_first: true,
        limit,
        after: cursor.map(|c| super::cursor::decode(c, SESSION_PREFIX)).transpose()?,
    };
    let mut sessions = Vec::new();
    // A kind filter may skip items: read on until the page is full or the list ends.
    loop {
        let page = app.store.query(&query).await?;
        let mut matching = page.items.iter().filter_map(session_from).filter(|s| kind.is_none_or(|k| k == s.kind));
        sessions.extend(matching.by_ref().take(limit - sessions.len()));
        let more = matching.next().is_some() || page.last_sk.is_some();
        if sessions.len() == limit || !more {
            let next_cursor = more
                .then(|| sessions.last().map(|s| super::cursor::encode(&records::session(user_id, &s.id).sk)))
                .flatten();
            return Ok(SessionPage { sessions, next_cursor });
        }
        query.after = page.last_sk;
    }
}

fn not_found() -> Error {
    Error::not_found("not_found", "no such session")
}

/// A session with its entries in the order they were added.
pub async fn get(app: &App, user_id: &str, session_id: &str) -> Result<(Session, Vec<Entry>), Error> {
    let session = app
        .store
        .get(&records::session(user_id, session_id))
        .await?
        .as_ref()
        .and_then(session_from)
        .ok_or_else(not_found)?;
    let query = Query::prefix(records::kept(user_id, FEATURE).pk, records::session_entries_prefix(session_id));
    let entries = app.store.query_all(&query).await?.iter().filter_map(entry_from).collect();
    Ok((session, entries))
}

/// Deletes a session and frees its slot; its entries go after it.
pub async fn delete(app: &App, user_id: &str, session_id: &str) -> Result<(), Error> {
    let writes = vec![
        Write::Delete { key: records::session(user_id, session_id), condition: Some(Condition::Exists) },
        Write::Update(Update::new(records::kept(user_id, FEATURE)).add("count", -1)),
    ];
    match app.store.transact(writes).await {
        Ok(()) => {}
        Err(e) if e.failed_at(0) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    }
    // The session is gone, so its entries are unreachable; remove them in batches.
    let query = Query::prefix(records::kept(user_id, FEATURE).pk, records::session_entries_prefix(session_id));
    loop {
        let page = app.store.query(&Query { limit: crate::store::MAX_TRANSACTION_ITEMS, ..query.clone() }).await?;
        if page.items.is_empty() {
            return Ok(());
        }
        let deletes = page.items.iter().map(|i| Write::Delete { key: i.key(), condition: None }).collect();
        app.store.transact(deletes).await?;
    }
}

/// Appends an entry (a chat message, a lap), up to `max_entries` per session.
pub async fn append(
    app: &App,
    user_id: &str,
    session_id: &str,
    data: &Value,
    max_entries: i64,
) -> Result<Entry, Error> {
    let text = stored_data(data)?;
    let now = app.now();
    let entry = Entry { id: format!("sen_{}", uuid::Uuid::now_v7().simple()), data: data.clone(), created_at: now };
    let writes = vec![
        Write::Update(Update::new(records::session(user_id, session_id)).add("entry_count", 1).when(Condition::And(
            vec![Condition::Exists, Condition::AbsentOrBelow("entry_count".into(), max_entries)],
        ))),
        Write::put_new(
            Item::new(&records::session_entry(user_id, session_id, &entry.id))
                .with("entry_id", entry.id.as_str())
                .with("data", text)
                .with("created_at", now),
        ),
    ];
    match app.store.transact(writes).await {
        Ok(()) => Ok(entry),
        Err(e) if e.failed_at(0) => match app.store.get(&records::session(user_id, session_id)).await? {
            None => Err(not_found()),
            Some(_) => {
                Err(Error::conflict("entry_limit_reached", format!("a session keeps at most {max_entries} entries")))
            }
        },
        Err(e) => Err(e.into()),
    }
}
