//! Sessions a user keeps (`USER#<id>`/`SES#<session>`) and their entries
//! (`SESENTRY#<session>#<time-ordered id>`).

use serde::{Deserialize, Serialize};

use super::keys;
use crate::error::Error;
use crate::store::codec::{decode_all, decode_opt, encode};
use crate::store::{Condition, Label, MAX_TRANSACTION_ITEMS, Query, Store, StoreError, Tx, Update, Write, cursor};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: String,
    pub kind: String,
    /// A JSON object, as text.
    pub data: String,
    pub created_at: i64,
    #[serde(default)]
    pub entry_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    pub entry_id: String,
    /// A JSON object, as text.
    pub data: String,
    pub created_at: i64,
}

/// A new session, refused (`Session`) if its id exists.
pub fn create(user_id: &str, session: &SessionRecord) -> Tx {
    Tx::new().with(Label::Session, Write::put_new(encode(&keys::session(user_id, &session.session_id), session)))
}

pub async fn get(store: &Store, user_id: &str, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
    decode_opt(store.get(&keys::session(user_id, session_id)).await?.as_ref())
}

/// A page of the user's sessions, newest first, after an opaque position (`cursor`), and the
/// position of the page's last item when more may follow.
pub async fn page(
    store: &Store,
    user_id: &str,
    limit: usize,
    after: Option<String>,
) -> Result<(Vec<SessionRecord>, Option<String>), StoreError> {
    let query =
        Query { pk: keys::user_pk(user_id), sk_prefix: keys::SESSION_SK.to_string(), newest_first: true, limit, after };
    let page = store.query(&query).await?;
    Ok((decode_all(&page.items)?, page.last_sk))
}

/// The position a client's cursor stands for (refused unless it is a session list's).
pub fn position(cursor: &str) -> Result<String, Error> {
    cursor::decode(cursor, keys::SESSION_SK)
}

/// The opaque cursor that continues after `session_id`.
pub fn cursor_after(user_id: &str, session_id: &str) -> String {
    cursor::encode(&keys::session(user_id, session_id).sk)
}

/// A session's entries in the order they were added.
pub async fn entries(store: &Store, user_id: &str, session_id: &str) -> Result<Vec<EntryRecord>, StoreError> {
    let query = Query::prefix(keys::user_pk(user_id), keys::session_entries_sk(session_id));
    decode_all(&store.query_all(&query).await?)
}

/// Deletes the session, refused (`Session`) if it does not exist.
pub fn delete(user_id: &str, session_id: &str) -> Tx {
    let delete = Write::Delete { key: keys::session(user_id, session_id), condition: Some(Condition::Exists) };
    Tx::new().with(Label::Session, delete)
}

/// Deletes a deleted session's entries, a transaction's worth at a time.
pub async fn delete_entries(store: &Store, user_id: &str, session_id: &str) -> Result<(), StoreError> {
    let query = Query {
        limit: MAX_TRANSACTION_ITEMS,
        ..Query::prefix(keys::user_pk(user_id), keys::session_entries_sk(session_id))
    };
    loop {
        let page = store.query(&query).await?;
        if page.items.is_empty() {
            return Ok(());
        }
        let deletes: Tx =
            page.items.iter().map(|i| (Label::SessionEntry, Write::Delete { key: i.key(), condition: None })).collect();
        store.transact(deletes).await?;
    }
}

/// Appends an entry; refused (`Session`) when the session is missing or holds `max_entries`.
pub fn append(user_id: &str, session_id: &str, entry: &EntryRecord, max_entries: i64) -> Tx {
    let count = Update::new(keys::session(user_id, session_id))
        .add("entry_count", 1)
        .when(Condition::And(vec![Condition::Exists, Condition::AbsentOrBelow("entry_count".into(), max_entries)]));
    let item = encode(&keys::session_entry(user_id, session_id, &entry.entry_id), entry);
    Tx::new().with(Label::Session, Write::Update(count)).with(Label::SessionEntry, Write::put_new(item))
}
