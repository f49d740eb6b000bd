//! Health: the store answers.

use crate::app::App;
use crate::error::Error;

pub async fn check(app: &App) -> Result<(), Error> {
    app.store.ping().await.map_err(|e| {
        tracing::error!(error = %e, "health check: the store does not answer");
        Error::Unhealthy { code: "store_unavailable", message: "the store does not answer".into() }
    })
}
