//! The webhook Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tollgate::runtime::run_router(tollgate_webhook::router, tollgate_webhook::SECRETS).await
}
