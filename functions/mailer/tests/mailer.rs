//! The outbox sender against SES on the local AWS-compatible server: a billing email SES refused
//! is sent by the mailer (from the stream record its failure wrote, or the schedule), once; one
//! abandoned mid-send is sent by the schedule; after three refusals it is given up on.

use serde_json::json;
use tollgate::domain::mail;
use tollgate::domain::stripe_events;
use tollgate::email::EmailSender;
use tollgate::store::schema::keys;
use tollgate::stripe::Event;
use tollgate_mailer::handle;
use tollgate_testkit::{self as testing, StoreKind, TestApp, dynamodb_endpoint};

/// An app on the DynamoDB server whose email goes to SES from an address not yet verified.
async fn app() -> (TestApp, String) {
    let mut t = testing::app(StoreKind::DynamoDb.store().await, None, &[]);
    let from = format!("billing-{}@example.com", uuid_like());
    t.app.email = EmailSender::ses(&from, Some(&dynamodb_endpoint())).await;
    (t, from)
}

fn uuid_like() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

async fn verify(t: &TestApp, from: &str) {
    let EmailSender::Ses { client, .. } = &t.app.email else { unreachable!() };
    client.client().create_email_identity().email_identity(from).send().await.unwrap();
}

/// A paid checkout whose receipt SES refuses: its event id.
async fn refused_receipt(t: &TestApp, n: &str) -> String {
    let session =
        testing::paid_session(&format!("cs_test_mail{n}"), &format!("ord_mail{n}"), None, "buyer@example.com");
    let body = testing::event("checkout.session.completed", session);
    let event = Event::parse(&body).unwrap();
    stripe_events::apply(&t.app, &event).await.unwrap();
    assert_eq!(mail::outcomes(&t.app, &event.id).await.unwrap(), vec![("receipt".into(), "failed".into())]);
    event.id
}

fn stream_record(event_id: &str, sequence: &str) -> serde_json::Value {
    json!({ "Records": [{ "eventName": "MODIFY", "eventSource": "aws:dynamodb",
        "dynamodb": { "Keys": { "PK": { "S": format!("EVENT#{event_id}") }, "SK": { "S": "MAIL#receipt" } },
            "SequenceNumber": sequence, "StreamViewType": "KEYS_ONLY" } }] })
}

#[tokio::test]
async fn a_refused_email_is_sent_by_the_mailer_once() {
    let (t, from) = app().await;
    let event_id = refused_receipt(&t, "a").await;
    verify(&t, &from).await;
    let answer = handle(&t.app, stream_record(&event_id, "100")).await.unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    assert_eq!(mail::outcomes(&t.app, &event_id).await.unwrap(), vec![("receipt".into(), "sent".into())]);
    // The stream record of that success: nothing more is sent.
    handle(&t.app, stream_record(&event_id, "101")).await.unwrap();
    let item = t.app.store.get(&keys::event_mail(&event_id, "receipt")).await.unwrap().unwrap();
    assert_eq!((item.num("attempts"), item.str("status")), (Some(2), Some("sent")));
    assert!(item.get("text").is_none() && item.get("html").is_none(), "a sent email's body is not kept");
    assert!(item.str("subject").is_some(), "its subject and outcome are");
    assert!(
        t.app.store.query_index(tollgate::store::schema::keys::OUTBOX_INDEX, 10).await.unwrap().is_empty(),
        "the outbox is empty"
    );
}

#[tokio::test]
async fn the_schedule_sends_what_a_dead_delivery_abandoned_and_gives_up_after_three_tries() {
    let (t, from) = app().await;
    let refused = refused_receipt(&t, "b").await;
    // Two more refusals (the schedule), then it is given up on and leaves the outbox.
    for _ in 0..2 {
        handle(&t.app, json!({ "source": "aws.events", "detail-type": "Scheduled Event" })).await.unwrap();
    }
    let item = t.app.store.get(&keys::event_mail(&refused, "receipt")).await.unwrap().unwrap();
    assert_eq!((item.num("attempts"), item.str("status")), (Some(3), Some("failed")));
    assert!(
        t.app.store.query_index(tollgate::store::schema::keys::OUTBOX_INDEX, 10).await.unwrap().is_empty(),
        "given up: out of the outbox"
    );

    // A delivery that died after its commit left its email claimed: the schedule sends it later.
    verify(&t, &from).await;
    let session = testing::paid_session("cs_test_mailc", "ord_mailc", None, "buyer@example.com");
    let event = Event::parse(&testing::event("checkout.session.completed", session)).unwrap();
    let queued = mail::render(
        mail::MailKind::Receipt,
        "buyer@example.com",
        &json!({ "product": "Pro", "amount": "9.00 USD", "date": "2026-11-23", "invoice_url": null }),
    )
    .unwrap();
    let write = mail::queue(
        &event.id,
        "buyer@example.com",
        &mail::Queued { kind: mail::MailKind::Receipt, email: queued },
        t.app.now(),
    );
    t.app.store.commit(write).await.unwrap();
    let scheduled = json!({ "source": "aws.events", "detail-type": "Scheduled Event" });
    assert_eq!(handle(&t.app, scheduled.clone()).await.unwrap()["sent"], 0, "still within its claim");
    t.clock.advance(16 * 60);
    assert_eq!(handle(&t.app, scheduled).await.unwrap()["sent"], 1);
    assert_eq!(mail::outcomes(&t.app, &event.id).await.unwrap(), vec![("receipt".into(), "sent".into())]);
}

#[tokio::test]
async fn records_that_are_not_queued_emails_are_passed_over() {
    let (t, _) = app().await;
    let other = json!({ "Records": [{ "eventName": "INSERT",
        "dynamodb": { "Keys": { "PK": { "S": "USER#u" }, "SK": { "S": "PROFILE" } }, "SequenceNumber": "1" } },
        { "eventName": "REMOVE", "dynamodb": {} }] });
    assert_eq!(handle(&t.app, other).await.unwrap(), json!({ "batchItemFailures": [] }));
}

#[tokio::test]
async fn the_sample_events_for_sam_local_invoke_are_handled() {
    let t = testing::app(tollgate::store::Store::memory(), None, &[]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/mailer");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    assert_eq!(handle(&t.app, read("stream.json")).await.unwrap(), json!({ "batchItemFailures": [] }));
    assert_eq!(handle(&t.app, read("schedule.json")).await.unwrap(), json!({ "sent": 0, "failed": 0 }));
}
