//! The auth Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tollgate::runtime::run_router(tollgate_auth::router, tollgate_auth::SECRETS).await
}
