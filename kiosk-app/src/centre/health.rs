//! The terminal's view of the central service's health, which the UI and the events follow.

use std::time::Duration;

use kiosk_protocol::{Event, EventKind};
use tokio::sync::watch;

use super::CentreClient;
use crate::runtime::EventBus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentreLink {
    pub url: String,
    pub reachable: bool,
    /// What the status screen shows: the centre's version, or why it cannot be reached.
    pub text: String,
}

impl CentreLink {
    pub fn connecting(url: &str) -> CentreLink {
        CentreLink {
            url: url.to_string(),
            reachable: false,
            text: "connecting…".into(),
        }
    }
}

/// Checks the centre's health every `interval`, publishing each result on `tx`; emits reachable
/// / unreachable events on change only. Runs until every receiver is gone.
pub async fn watch_health(
    client: CentreClient,
    interval: Duration,
    bus: EventBus,
    tx: watch::Sender<CentreLink>,
) {
    let mut last: Option<bool> = None;
    loop {
        let link = check(&client).await;
        if last != Some(link.reachable) {
            let kind = if link.reachable {
                EventKind::CentreReachable
            } else {
                EventKind::CentreUnreachable
            };
            bus.emit(
                Event::new(kind, bus.now())
                    .field("url", client.base().to_string())
                    .field("detail", link.text.clone()),
            );
            last = Some(link.reachable);
        }
        if tx.send(link).is_err() {
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

/// One health check.
pub async fn check(client: &CentreClient) -> CentreLink {
    let url = client.base().to_string();
    match client.health().await {
        Ok(h) if h.is_ok() => CentreLink {
            text: format!(
                "{url} · API {} · {} {}",
                h.api_version, h.store, h.service_version
            ),
            url,
            reachable: true,
        },
        Ok(h) => CentreLink {
            text: format!("{url}: status {}", h.status),
            url,
            reachable: false,
        },
        Err(e) => CentreLink {
            text: format!("{url}: {e}"),
            url,
            reachable: false,
        },
    }
}
