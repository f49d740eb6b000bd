//! Emails queued for an event (`EVENT#<evt_id>`/`MAIL#<kind>`), in the outbox index (`GSI1PK`
//! `OUTBOX`) until sent or given up on; each logs its outcome.

use serde::{Deserialize, Serialize};

use super::keys;
use crate::store::codec::{decode_all, decode_opt, encode};
use crate::store::{Condition, GSI1PK, GSI1SK, Key, Label, PK, Query, SK, Store, StoreError, Tx, Update, Write};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailRecord {
    pub event_id: String,
    pub user_id: String,
    pub kind: String,
    /// The address, until it is sent.
    #[serde(default)]
    pub to: String,
    pub subject: String,
    /// The body, until it is sent (a sent email keeps its subject and outcome, not its body).
    #[serde(default)]
    pub text: String,
    pub html: Option<String>,
    /// `sending` (claimed by a sender), `sent` or `failed`.
    pub status: String,
    #[serde(default)]
    pub attempts: i64,
    pub claimed_at: Option<i64>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub error: Option<String>,
}

/// Which queued email: its event and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailId {
    pub event_id: String,
    pub kind: String,
}

impl MailId {
    /// The queued email an item's keys name (a table stream record's), if they name one.
    pub fn from_keys(pk: &str, sk: &str) -> Option<MailId> {
        let event_id = pk.strip_prefix(keys::event_pk("").as_str())?;
        let kind = sk.strip_prefix(keys::MAIL_SK)?;
        Some(MailId { event_id: event_id.to_string(), kind: kind.to_string() })
    }
    fn key(&self) -> Key {
        keys::event_mail(&self.event_id, &self.kind)
    }
}

/// Queues an email, born claimed (`sending`, one attempt) by the transaction that queues it;
/// refused (`Mail`) when the event queued this kind before.
pub fn queue(record: &MailRecord) -> Tx {
    let item = encode(&keys::event_mail(&record.event_id, &record.kind), record)
        .with(GSI1PK, keys::OUTBOX_INDEX)
        .with(GSI1SK, format!("{:010}#{}#{}", record.created_at, record.event_id, record.kind));
    Tx::new().with(Label::Mail, Write::put_new(item))
}

pub async fn get(store: &Store, id: &MailId) -> Result<Option<MailRecord>, StoreError> {
    decode_opt(store.get(&id.key()).await?.as_ref())
}

/// The emails queued for one event (at most one per kind).
pub async fn for_event(store: &Store, event_id: &str) -> Result<Vec<MailRecord>, StoreError> {
    decode_all(&store.query(&Query::prefix(keys::event_pk(event_id), keys::MAIL_SK)).await?.items)
}

/// Up to `limit` emails in the outbox, oldest first.
pub async fn outbox(store: &Store, limit: usize) -> Result<Vec<MailId>, StoreError> {
    let items = store.query_index(keys::OUTBOX_INDEX, limit).await?;
    Ok(items.iter().filter_map(|i| MailId::from_keys(i.str(PK)?, i.str(SK)?)).collect())
}

/// Claims the email for one more attempt, refused (`Mail`) unless it is still in `from` status
/// after `attempts` attempts: only one sender can move it.
pub fn claim(id: &MailId, from: &str, attempts: i64, now: i64) -> Tx {
    let update = Update::new(id.key())
        .set("status", "sending")
        .set("claimed_at", now)
        .add("attempts", 1)
        .when(Condition::And(vec![Condition::equals("status", from), Condition::equals("attempts", attempts)]));
    Tx::new().with(Label::Mail, Write::Update(update))
}

/// Sent: it leaves the outbox, and neither its address nor its body is kept (personal data no
/// longer needed; an anonymous buyer's receipt would otherwise keep an address no erasure finds).
pub fn sent(id: &MailId, now: i64) -> Tx {
    let update = Update::new(id.key())
        .set("status", "sent")
        .set("sent_at", now)
        .remove("to")
        .remove("text")
        .remove("html")
        .remove(GSI1PK)
        .remove(GSI1SK);
    Tx::new().with(Label::Mail, Write::Update(update))
}

/// Not sent; given up on (out of the outbox) when `give_up`.
pub fn failed(id: &MailId, error: &str, now: i64, give_up: bool) -> Tx {
    let mut update = Update::new(id.key()).set("status", "failed").set("error", error).set("failed_at", now);
    if give_up {
        update = update.remove(GSI1PK).remove(GSI1SK);
    }
    Tx::new().with(Label::Mail, Write::Update(update))
}
