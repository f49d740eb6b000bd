//! Health: the store answers.

use crate::app::App;
use crate::error::Error;

pub async fn check(app: &App) -> Result<(), Error> {
    app.store.ping().await.map_err(Error::StoreUnavailable)
}
