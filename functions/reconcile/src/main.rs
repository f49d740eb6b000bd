//! The reconciliation Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tollgate::runtime::run_events(
        |app, event| async move { tollgate_reconcile::handle(&app, event).await },
        tollgate_reconcile::SECRETS,
    )
    .await
}
