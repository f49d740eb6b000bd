//! The sessions Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tollgate::runtime::run_lambda(|app, req| async move { tollgate_sessions::handle(&app, req).await }).await
}
