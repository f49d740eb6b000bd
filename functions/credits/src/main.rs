//! The credits Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tollgate::runtime::run_lambda(|app, req| async move { tollgate_credits::handle(&app, req).await }).await
}
