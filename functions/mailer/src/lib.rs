//! The outbox sender: sends the billing emails a delivery queued but could not send (SES
//! refused, or the function died after its commit). Fed by the table's stream (each queued
//! email that fails is retried at once) and by a schedule (what was claimed and abandoned).

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};
use tollgate::domain::mail::{self, Sent};
use tollgate::store::schema::mail::MailId;
use tollgate::{App, Error};

/// The secrets this function uses: none (it reads queued emails and sends them).
pub const SECRETS: &[&str] = &[];

/// The queued email a stream record is about, if it is one.
fn mail_key(record: &Value) -> Option<MailId> {
    let keys = record.pointer("/dynamodb/Keys")?;
    MailId::from_keys(keys.pointer("/PK/S")?.as_str()?, keys.pointer("/SK/S")?.as_str()?)
}

/// A stream batch (`Records`): each queued email due is sent; a record the store could not
/// serve is reported back so Lambda retries it (then the dead-letter queue). A scheduled call:
/// the whole outbox is drained.
pub fn handle(app: &App, event: Value) -> Pin<Box<dyn Future<Output = Result<Value, Error>> + Send + '_>> {
    // Boxed: the store and SES futures nest deeply enough to overflow the layout query.
    Box::pin(handle_event(app, event))
}

async fn handle_event(app: &App, event: Value) -> Result<Value, Error> {
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        let (sent, failed) = mail::drain(app).await?;
        tracing::info!(sent, failed, "outbox drained");
        return Ok(json!({ "sent": sent, "failed": failed }));
    };
    let mut failures = Vec::new();
    let (mut sent, mut failed) = (0, 0);
    for record in records {
        let Some(key) = mail_key(record) else { continue };
        match mail::send_pending(app, &key).await {
            Ok(Sent::Sent) => sent += 1,
            Ok(Sent::Failed) => failed += 1,
            Ok(Sent::Skipped) => {}
            Err(e) => {
                tracing::error!(error = %e, "a queued email could not be read or claimed");
                if let Some(sequence) = record.pointer("/dynamodb/SequenceNumber").and_then(Value::as_str) {
                    failures.push(json!({ "itemIdentifier": sequence }));
                }
            }
        }
    }
    tracing::info!(sent, failed, retried = failures.len(), "stream batch");
    Ok(json!({ "batchItemFailures": failures }))
}
