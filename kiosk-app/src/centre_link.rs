//! The terminal's link to the central service: an embedded centre on loopback when no remote one
//! is configured, and a health watch that the UI and the events follow.

use std::time::Duration;

use kiosk_central::{CentreHandle, SqliteStore};
use kiosk_protocol::wire::CentreHealth;
use kiosk_protocol::{Event, EventKind};
use tokio::sync::watch;

use crate::config::Config;
use crate::runtime::EventBus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentreLink {
    pub url: String,
    pub reachable: bool,
    /// What the status screen shows: the centre's version, or why it cannot be reached.
    pub text: String,
}

/// Starts the embedded centre when the config names no remote one.
pub async fn start_embedded(config: &Config) -> anyhow::Result<Option<CentreHandle>> {
    if config.centre.url.is_some() {
        return Ok(None);
    }
    let db = config.data_dir().join("central").join("central.db");
    let store = SqliteStore::open(&db)?;
    let handle = CentreHandle::start(&config.centre.listen, store).await?;
    tracing::info!(url = %handle.base_url(), db = %db.display(), "embedded central service started");
    Ok(Some(handle))
}

/// Checks the centre's health every `interval` and publishes the result; emits reachable /
/// unreachable events on change only.
pub fn spawn_health_watch(
    url: String,
    interval: Duration,
    bus: EventBus,
) -> (watch::Receiver<CentreLink>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(CentreLink {
        url: url.clone(),
        reachable: false,
        text: "connecting…".into(),
    });
    let task = tokio::spawn(async move {
        let client = match crate::tls::client().timeout(Duration::from_secs(5)).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the HTTP client");
                return;
            }
        };
        let mut last: Option<bool> = None;
        loop {
            let link = check(&client, &url).await;
            if last != Some(link.reachable) {
                let kind = if link.reachable {
                    EventKind::CentreReachable
                } else {
                    EventKind::CentreUnreachable
                };
                bus.emit(
                    Event::new(kind, bus.now())
                        .field("url", url.clone())
                        .field("detail", link.text.clone()),
                );
                last = Some(link.reachable);
            }
            if tx.send(link).is_err() {
                return;
            }
            tokio::time::sleep(interval).await;
        }
    });
    (rx, task)
}

async fn check(client: &reqwest::Client, url: &str) -> CentreLink {
    let result = async {
        let resp = client
            .get(format!("{url}/health"))
            .send()
            .await?
            .error_for_status()?;
        resp.json::<CentreHealth>().await
    }
    .await;
    match result {
        Ok(h) if h.is_ok() => CentreLink {
            url: url.to_string(),
            reachable: true,
            text: format!(
                "{url} · API {} · {} {}",
                h.api_version, h.store, h.service_version
            ),
        },
        Ok(h) => CentreLink {
            url: url.to_string(),
            reachable: false,
            text: format!("{url}: status {}", h.status),
        },
        Err(e) => CentreLink {
            url: url.to_string(),
            reachable: false,
            text: format!("{url}: {e}"),
        },
    }
}
