//! The sessions Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tollgate::runtime::run_router(tollgate_sessions::router, tollgate_sessions::SECRETS).await
}
