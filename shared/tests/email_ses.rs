//! The production email sender against SES v2 on the local AWS-compatible server.

use tollgate::email::{Email, EmailSender};
use tollgate_testkit::dynamodb_endpoint;

fn mail(to: &str) -> Email {
    Email {
        to: to.into(),
        subject: "Your sign-in code".into(),
        text: "Your sign-in code is 123456.".into(),
        html: Some("<p>Your sign-in code is 123456.</p>".into()),
    }
}

#[tokio::test]
async fn ses_sends_from_a_verified_identity_and_reports_a_rejection() {
    let endpoint = dynamodb_endpoint();
    let from = format!("no-reply-{}@example.com", std::process::id());
    let sender = EmailSender::ses(&from, Some(&endpoint)).await;
    let err = sender.send(mail("ada@example.com")).await.unwrap_err();
    assert!(err.to_string().contains("not verified"), "{err}");

    let EmailSender::Ses { client, .. } = &sender else { unreachable!() };
    client.client().create_email_identity().email_identity(&from).send().await.unwrap();
    sender.send(mail("ada@example.com")).await.unwrap();
}
