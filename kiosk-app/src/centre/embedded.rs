//! The central service in-process on loopback, for a terminal whose configuration names no
//! remote centre (the sim profile, a stand-alone ticket machine).

use kiosk_central::{CentreHandle, SqliteStore};

use crate::config::Config;

/// Starts the embedded centre when the config names no remote one.
pub async fn start(config: &Config) -> anyhow::Result<Option<CentreHandle>> {
    if config.centre.url.is_some() {
        return Ok(None);
    }
    let db = config.data_dir().join("central").join("central.db");
    let store = SqliteStore::open(&db)?;
    let handle = CentreHandle::start(&config.centre.listen, store).await?;
    tracing::info!(url = %handle.base_url(), db = %db.display(), "embedded central service started");
    Ok(Some(handle))
}
