//! Sessions: records a user keeps (a metronome setting, a conversation), capped by plan, each
//! with an ordered list of entries. The cap check and the write are one transaction; another
//! user's session is simply not found (ids leak nothing). A downgrade deletes nothing: existing
//! sessions stay readable and deletable, and new ones wait until the user is under the new cap.

use serde_json::Value;

use crate::app::App;
use crate::catalog::{Feature, Plan};
use crate::error::Error;
use crate::store::Label;
use crate::store::schema::sessions::{self as stored, EntryRecord, SessionRecord};
use crate::store::schema::usage::count_kept;

use super::plans::{effective_plan, held, still_on};

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

fn unreadable(what: &str, id: &str, e: serde_json::Error) -> Error {
    Error::internal(format!("unreadable {what} {id}: {e}"))
}

fn session_from(record: SessionRecord) -> Result<Session, Error> {
    Ok(Session {
        data: serde_json::from_str(&record.data).map_err(|e| unreadable("session", &record.session_id, e))?,
        id: record.session_id,
        kind: record.kind,
        created_at: record.created_at,
        entry_count: record.entry_count,
    })
}

fn entry_from(record: EntryRecord) -> Result<Entry, Error> {
    Ok(Entry {
        data: serde_json::from_str(&record.data).map_err(|e| unreadable("session entry", &record.entry_id, e))?,
        id: record.entry_id,
        created_at: record.created_at,
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
    let record = SessionRecord {
        session_id: session.id.clone(),
        kind: kind.to_string(),
        data: text,
        created_at: now,
        entry_count: 0,
    };
    let mut plan = app.catalog.plan(token_plan);
    for _ in 0..3 {
        let current = match plan.take() {
            Some(p) => p,
            None => effective_plan(&app.catalog, &held(app, user_id).await?, app.now()),
        };
        let limit = cap(current);
        let mut tx = still_on(app, user_id, current);
        tx.append(count_kept(user_id, FEATURE, 1, limit));
        tx.append(stored::create(user_id, &record));
        match app.store.transact(tx).await {
            Ok(()) => return Ok(session),
            Err(e) if e.refused(Label::Plans) => continue,
            Err(e) if e.refused(Label::Counter) => return Err(limit_reached(current, limit.unwrap_or(0))),
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
    let mut after = cursor.map(stored::position).transpose()?;
    let mut sessions = Vec::new();
    // A kind filter may skip items: read on until the page is full or the list ends.
    loop {
        let (records, last) = stored::page(&app.store, user_id, limit, after).await?;
        let mut matching =
            records.into_iter().filter(|s| kind.is_none_or(|k| k == s.kind)).map(session_from).peekable();
        while sessions.len() < limit {
            match matching.next() {
                Some(session) => sessions.push(session?),
                None => break,
            }
        }
        let more = matching.peek().is_some() || last.is_some();
        if sessions.len() == limit || !more {
            let next_cursor = more.then(|| sessions.last().map(|s| stored::cursor_after(user_id, &s.id))).flatten();
            return Ok(SessionPage { sessions, next_cursor });
        }
        after = last;
    }
}

fn not_found() -> Error {
    Error::not_found("not_found", "no such session")
}

/// A session with its entries in the order they were added.
pub async fn get(app: &App, user_id: &str, session_id: &str) -> Result<(Session, Vec<Entry>), Error> {
    let record = stored::get(&app.store, user_id, session_id).await?.ok_or_else(not_found)?;
    let entries = stored::entries(&app.store, user_id, session_id).await?;
    Ok((session_from(record)?, entries.into_iter().map(entry_from).collect::<Result<_, _>>()?))
}

/// Deletes a session and frees its slot; its entries go after it.
pub async fn delete(app: &App, user_id: &str, session_id: &str) -> Result<(), Error> {
    let mut tx = stored::delete(user_id, session_id);
    tx.append(count_kept(user_id, FEATURE, -1, None));
    match app.store.transact(tx).await {
        Ok(()) => {}
        Err(e) if e.refused(Label::Session) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    }
    // The session is gone, so its entries are unreachable; remove them in batches.
    Ok(stored::delete_entries(&app.store, user_id, session_id).await?)
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
    let record = EntryRecord { entry_id: entry.id.clone(), data: text, created_at: now };
    match app.store.transact(stored::append(user_id, session_id, &record, max_entries)).await {
        Ok(()) => Ok(entry),
        Err(e) if e.refused(Label::Session) => match stored::get(&app.store, user_id, session_id).await? {
            None => Err(not_found()),
            Some(_) => {
                Err(Error::conflict("entry_limit_reached", format!("a session keeps at most {max_entries} entries")))
            }
        },
        Err(e) => Err(e.into()),
    }
}
