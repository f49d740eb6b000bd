//! The claim Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tollgate::runtime::run_router(tollgate_claim::router, tollgate_claim::SECRETS).await
}
