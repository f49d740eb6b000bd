//! Stripe events' exactly-once records (`EVENT#<evt_id>`/`EVENT`), kept 30 days (Stripe retries
//! for 3).

use serde::{Deserialize, Serialize};

use super::keys;
use crate::store::codec::{decode_opt, encode};
use crate::store::{Label, Store, StoreError, TTL, Tx, Write};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    #[serde(rename = "event_id")]
    pub id: String,
    pub event_type: String,
    pub outcome: String,
    pub received_at: i64,
}

pub const EVENT_RETENTION_SECS: i64 = 30 * 24 * 3600;

/// The event's record, refused (`Event`) when the event was recorded before.
pub fn record(record: &EventRecord) -> Tx {
    let item = encode(&keys::event(&record.id), record).with(TTL, record.received_at + EVENT_RETENTION_SECS);
    Tx::new().with(Label::Event, Write::put_new(item))
}

pub async fn get(store: &Store, id: &str) -> Result<Option<EventRecord>, StoreError> {
    decode_opt(store.get(&keys::event(id)).await?.as_ref())
}
