//! The mailer Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tollgate::runtime::run_events(
        |app, event| async move { tollgate_mailer::handle(&app, event).await },
        tollgate_mailer::SECRETS,
    )
    .await
}
