//! The local device API for the hall's browser business systems (智能化适配中心): HTTP and
//! WebSocket on loopback, one message model in the spirit of XFS4IoT
//! (`kiosk_protocol::gateway`), Origin and token checks, the terminal's own claims and
//! services behind every command, and large results by one-time URL. The gateway only reads
//! state and sends intents: it never reaches a device around a claim.
//!
//! - `access`: Origin allow-list, tokens, scopes.
//! - `requests`: one connection's requestIds, in-flight limit and cancels.
//! - `commands`: what each command does, through services and claims.
//! - `results`: one-time result URLs.
//! - `server`: the HTTP/WebSocket service, audit, CORS.
//! - `window`: window mode, the desk's intents for the clerk's business system.
//! - `browser`: kiosk mode, Chromium full-screen at the business page, restarted if it dies.

pub mod access;
pub mod browser;
pub mod commands;
pub mod requests;
pub mod results;
pub mod server;
pub mod window;

use std::sync::Arc;
use std::time::Duration;

pub use server::GatewayHandle;

use crate::config::Config;
use crate::runtime::Runtime;
use crate::services::outputs::OutputDesk;

/// Starts the gateway `config` describes (its `[gateway]` section), on the current tokio
/// runtime.
pub async fn start(
    config: &Config,
    runtime: Arc<Runtime>,
    desk: OutputDesk,
    desk_host: Option<crate::flows::window_host::DeskHost>,
    journal: crate::journal::Journal,
) -> anyhow::Result<Option<GatewayHandle>> {
    let Some(g) = config.gateway.clone() else {
        return Ok(None);
    };
    let terminal = config.terminal.id.clone();
    let spool = config.data_dir().join("spool");
    let face_config = config.face.clone();
    let offset = config.offset();
    let events = runtime.events.clone();
    let results = Arc::new(results::ResultStore::new(Duration::from_secs(
        g.result_ttl_s,
    )));
    let handle = server::serve(g.port, move |port| {
        Arc::new(server::Shared::new(
            commands::Services {
                rt: runtime,
                desk,
                results,
                streams: Arc::new(results::StreamStore::default()),
                terminal,
                results_base: format!("http://127.0.0.1:{port}{}/results/", server::PREFIX),
                spool,
                face: std::sync::Mutex::new(None),
                face_config,
                desk_host,
            },
            g,
            events,
            offset,
            Some(journal),
        ))
    })
    .await?;
    Ok(Some(handle))
}
