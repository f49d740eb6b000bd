//! The admin Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tollgate::runtime::run_router(tollgate_admin::router, tollgate_admin::SECRETS).await
}
