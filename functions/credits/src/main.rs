//! The credits Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tollgate::runtime::run_router(tollgate_credits::router, tollgate_credits::SECRETS).await
}
