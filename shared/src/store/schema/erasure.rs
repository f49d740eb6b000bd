//! What erasing a user's personal data changes, named in one place: the records a person made
//! (sessions and their entries, counts, metered use, members' uses) are deleted; the financial
//! records the law requires are kept, pseudonymised (no email, no free text: only the user's
//! random id, amounts, times and Stripe ids); the email's own items and the profile's address
//! go last, so an erasure that stopped half-way is finished by running it again.

use super::keys;
use super::mail::MailRecord;
use crate::store::codec::decode_all;
use crate::store::{GSI1PK, GSI1SK, Key, Label, Query, Store, StoreError, Tx, Update, Write};

/// The user's items that are theirs alone and carry no money, and the sign-in rate windows of
/// their address (codes asked for, attempts made): deleted.
pub async fn personal_records(store: &Store, user_id: &str, email: &str) -> Result<Vec<Key>, StoreError> {
    let mut queries: Vec<Query> =
        [keys::SESSION_SK, keys::SESSION_ENTRY_SK, keys::COUNT_SK, keys::USAGE_SK, keys::MEMBERS_SK]
            .into_iter()
            .map(|prefix| Query::prefix(keys::user_pk(user_id), prefix))
            .collect();
    if !email.is_empty() {
        for scope in ["email", "verify"] {
            queries.push(Query::prefix(keys::rate_pk(scope, email), keys::RATE_WINDOW_SK));
        }
    }
    let mut found = Vec::new();
    for query in &queries {
        found.extend(store.query_all(query).await?.iter().map(crate::store::Item::key));
    }
    // Links from other issuers' users: both sides.
    let links = store.query_all(&Query::prefix(keys::user_pk(user_id), keys::IDENTITY_SK)).await?;
    for link in decode_all::<super::identities::Link>(&links)? {
        found.push(keys::identity(&link.issuer, &link.subject));
        found.push(keys::identity_of_user(user_id, &link.issuer, &link.subject));
    }
    Ok(found)
}

pub fn delete(key: Key) -> Tx {
    Tx::new().with(Label::Erasure, Write::Delete { key, condition: None })
}

fn strip(key: Key, names: &[&str]) -> Tx {
    let update = names.iter().fold(Update::new(key), |u, name| u.remove(name)).when(crate::store::Condition::Exists);
    Tx::new().with(Label::Erasure, Write::Update(update))
}

/// An order, without its purchaser's address (and out of the purchaser index).
pub fn pseudonymise_order(order_id: &str) -> Tx {
    strip(keys::order(order_id), &["email", GSI1PK, GSI1SK])
}

/// A billing audit record, without the address its email went to.
pub fn pseudonymise_billing_event(user_id: &str, created: i64, event_id: &str) -> Tx {
    strip(keys::billing_event(user_id, created, event_id), &["email"])
}

/// A ledger entry, without its free-text note.
pub fn pseudonymise_ledger_entry(user_id: &str, seq: i64) -> Tx {
    strip(keys::ledger_entry(user_id, seq), &["note"])
}

/// The emails a user's billing events queued: without address or body; one not sent yet leaves
/// the outbox, never to be sent.
pub async fn pseudonymise_mail(store: &Store, user_id: &str, event_id: &str) -> Result<Tx, StoreError> {
    let query = Query::prefix(keys::event_pk(event_id), keys::MAIL_SK);
    let records: Vec<MailRecord> = decode_all(&store.query(&query).await?.items)?;
    let mut tx = Tx::new();
    for record in records.iter().filter(|r| r.user_id == user_id) {
        let mut update = Update::new(keys::event_mail(event_id, &record.kind))
            .set("to", "")
            .remove("text")
            .remove("html")
            .remove(GSI1PK)
            .remove(GSI1SK);
        if record.status != "sent" {
            update = update.set("status", "erased");
        }
        tx.push(Label::Erasure, Write::Update(update.when(crate::store::Condition::Exists)));
    }
    Ok(tx)
}

/// Last: the email's sign-in items and its link to the user, and the profile's address. The
/// profile keeps its id, its Stripe customer and when it was erased (later Stripe events about
/// the customer still find it, and send no email).
pub fn forget_email(user_id: &str, email: &str, now: i64) -> Tx {
    let profile = Update::new(keys::user(user_id)).set("email", "").set("erased_at", now);
    let mut tx = Tx::new().with(Label::Profile, Write::Update(profile.when(crate::store::Condition::Exists)));
    if !email.is_empty() {
        tx.push(Label::Erasure, Write::Delete { key: keys::email_owner(email), condition: None });
        tx.push(Label::Erasure, Write::Delete { key: keys::login_code(email), condition: None });
    }
    tx
}
