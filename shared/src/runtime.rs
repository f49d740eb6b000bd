//! What every Lambda `main` does: JSON logs, the app built once, the handler served.

use std::future::Future;

use crate::app::App;

/// What `RUST_LOG` asks for: a level (`info`), or levels by target (`tollgate=debug,warn`); info
/// when unset or unreadable. (A `Targets` filter: the same syntax as `EnvFilter`'s directives
/// without span and field filters, and no regex engine in the binary.)
pub fn log_filter() -> tracing_subscriber::filter::Targets {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO))
}

/// JSON logs (level from `RUST_LOG`, default info). Lambda adds the timestamp.
pub fn init_logging() {
    let _ = tracing::subscriber::set_global_default(json_logs(std::io::stdout));
}

/// The JSON log format every function writes (to `writer`; tests read it back).
pub fn json_logs<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    let format = tracing_subscriber::fmt()
        .json()
        .with_target(false)
        .without_time()
        .with_current_span(false)
        .with_writer(writer)
        .finish();
    format.with(log_filter())
}

/// Readable logs for the terminal (the dev server).
pub fn init_dev_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::fmt().with_target(false).finish().with(log_filter());
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Builds the app from the environment (refusing to start on a bad configuration) and serves
/// the function's router on the Lambda runtime.
/// `uses`: the secrets the function needs (`config::secrets`).
pub async fn run_router(
    router: fn(App) -> crate::http::router::Router,
    uses: &[&str],
) -> Result<(), lambda_http::Error> {
    init_logging();
    crate::emf::install(crate::http::log::function_name());
    let app = App::from_env(uses).await.inspect_err(|e| tracing::error!(error = %e, "refusing to start"))?;
    // One metrics document after each invocation, in the function's log.
    let service = tower::ServiceExt::<lambda_http::Request>::map_response(router(app), |response| {
        crate::emf::flush(std::io::stdout());
        response
    });
    lambda_http::run(service).await
}

/// As `run_router`, for a function fed by events (a stream, a schedule) rather than HTTP: the
/// handler's error fails the invocation, so Lambda retries it.
pub async fn run_events<F, Fut>(handler: F, uses: &[&str]) -> Result<(), lambda_http::Error>
where
    F: Fn(App, serde_json::Value) -> Fut + Sync,
    Fut: Future<Output = Result<serde_json::Value, crate::Error>> + Send,
{
    init_logging();
    crate::emf::install(crate::http::log::function_name());
    let app = App::from_env(uses).await.inspect_err(|e| tracing::error!(error = %e, "refusing to start"))?;
    let handler = &handler;
    lambda_http::lambda_runtime::run(lambda_http::lambda_runtime::service_fn(
        move |event: lambda_http::lambda_runtime::LambdaEvent<serde_json::Value>| {
            let app = app.clone();
            async move {
                let answer = handler(app, event.payload).await.map_err(|e| e.to_string());
                crate::emf::flush(std::io::stdout());
                answer
            }
        },
    ))
    .await
}
