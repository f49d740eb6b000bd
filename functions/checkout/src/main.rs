//! The checkout Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tollgate::runtime::run_router(tollgate_checkout::router, tollgate_checkout::SECRETS).await
}
