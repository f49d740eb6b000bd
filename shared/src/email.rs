//! Sending email: Amazon SES v2 in production; in development a console sender that prints to
//! the terminal and keeps messages in an outbox the dev server and tests can read.

use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// An HTML alternative to `text`.
    pub html: Option<String>,
}

#[derive(Clone, Default)]
pub struct Outbox(Arc<Mutex<Vec<Email>>>);

impl Outbox {
    pub fn all(&self) -> Vec<Email> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn last_to(&self, to: &str) -> Option<Email> {
        self.all().into_iter().rev().find(|e| e.to == to)
    }
    fn push(&self, email: Email) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // The outbox is for looking at recent mail, not an archive.
        if all.len() >= 1000 {
            all.remove(0);
        }
        all.push(email);
    }
}

#[derive(Clone)]
pub enum EmailSender {
    /// Development only (refused in production by the configuration).
    Console { outbox: Outbox, print: bool },
    #[cfg(feature = "ses")]
    Ses { client: LazySes, from: String },
    /// A function built without SES (feature `ses`): it never sends email, and a send fails.
    Absent,
}

/// The SES client, made at the first email a process sends: making an SDK client reads its
/// endpoint rules (about a tenth of a cold start), and most invocations send nothing.
#[cfg(feature = "ses")]
#[derive(Clone)]
pub struct LazySes(std::sync::Arc<(aws_types::SdkConfig, std::sync::OnceLock<aws_sdk_sesv2::Client>)>);

#[cfg(feature = "ses")]
impl LazySes {
    fn new(aws: aws_types::SdkConfig) -> Self {
        LazySes(std::sync::Arc::new((aws, std::sync::OnceLock::new())))
    }

    /// The client (made now if this is the first use).
    pub fn client(&self) -> &aws_sdk_sesv2::Client {
        let (aws, client) = &*self.0;
        client.get_or_init(|| aws_sdk_sesv2::Client::new(aws))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("email not sent: {0}")]
pub struct EmailError(String);

impl EmailSender {
    pub fn console(print: bool) -> Self {
        EmailSender::Console { outbox: Outbox::default(), print }
    }

    /// Amazon SES v2 with an AWS configuration of its own (`outbound::HttpClient::aws_config`),
    /// or at a local endpoint (tests use moto's server). Without the `ses` feature: `Absent`.
    pub async fn ses(from: &str, endpoint: Option<&str>) -> Self {
        Self::ses_with(&crate::outbound::HttpClient::new().aws_config(endpoint).await, from)
    }

    /// Amazon SES v2 from the process's AWS configuration.
    /// Without the `ses` feature: `Absent` (this function sends no email).
    pub fn ses_with(aws: &aws_types::SdkConfig, from: &str) -> Self {
        #[cfg(feature = "ses")]
        return EmailSender::Ses { client: LazySes::new(aws.clone()), from: from.to_string() };
        #[cfg(not(feature = "ses"))]
        {
            let _ = (aws, from);
            EmailSender::Absent
        }
    }

    pub fn outbox(&self) -> Option<&Outbox> {
        match self {
            EmailSender::Console { outbox, .. } => Some(outbox),
            _ => None,
        }
    }

    pub async fn send(&self, email: Email) -> Result<(), EmailError> {
        let sent = self.deliver(email).await;
        crate::emf::email(sent.is_ok());
        sent
    }

    async fn deliver(&self, email: Email) -> Result<(), EmailError> {
        match self {
            EmailSender::Console { outbox, print } => {
                if *print {
                    // The development mailbox: printed to the terminal, never to the JSON logs.
                    eprintln!(
                        "\n----- email to {} -----\nSubject: {}\n\n{}\n-----\n",
                        email.to, email.subject, email.text
                    );
                }
                outbox.push(email);
                Ok(())
            }
            EmailSender::Absent => Err(EmailError("this function is built without email (feature `ses`)".into())),
            #[cfg(feature = "ses")]
            EmailSender::Ses { client, from } => {
                let client = client.client();
                use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
                let content = |s: &str| {
                    Content::builder().data(s).charset("UTF-8").build().map_err(|e| EmailError(e.to_string()))
                };
                let mut body = Body::builder().text(content(&email.text)?);
                if let Some(html) = &email.html {
                    body = body.html(content(html)?);
                }
                let message = Message::builder().subject(content(&email.subject)?).body(body.build()).build();
                client
                    .send_email()
                    .from_email_address(from)
                    .destination(Destination::builder().to_addresses(&email.to).build())
                    .content(EmailContent::builder().simple(message).build())
                    .send()
                    .await
                    .map_err(|e| EmailError(aws_sdk_sesv2::error::DisplayErrorContext(e).to_string()))?;
                Ok(())
            }
        }
    }
}
