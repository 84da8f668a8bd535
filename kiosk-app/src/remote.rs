//! Remote commands: an operator queues a command at the centre; the terminal picks it up,
//! carries it out once, and acknowledges it. "Once" holds across lost replies and crashes: the
//! start of a command is committed to the outbox database before it runs and its result after,
//! so a command delivered again is answered from the record instead of being run again, and
//! one the terminal was running when it stopped is reported as interrupted, not repeated.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk_protocol::wire::{CommandAck, QueuedCommand, RemoteCommand};
use serde_json::json;

use crate::outbox::{CommandRecord, Outbox, OutboxError};
use crate::runtime::Runtime;
use crate::sync::{SyncClient, SyncError};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("the centre: {0}")]
    Centre(String),
    #[error(transparent)]
    Journal(#[from] OutboxError),
}

/// What one poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub ran: usize,
    /// Answered from the record: already run, the acknowledgement had not arrived.
    pub answered_again: usize,
    /// Found begun but never finished, and reported as interrupted.
    pub interrupted: usize,
    pub ack_failures: usize,
}

pub struct RemoteCommands {
    http: reqwest::Client,
    base: String,
    device_id: String,
    runtime: Arc<Runtime>,
    outbox: Arc<Mutex<Outbox>>,
    sync: SyncClient,
    action_timeout: Duration,
    identity: Option<Arc<crate::identity::DeviceIdentity>>,
}

impl RemoteCommands {
    pub fn new(
        base_url: &str,
        device_id: &str,
        runtime: Arc<Runtime>,
        outbox: Arc<Mutex<Outbox>>,
    ) -> Result<RemoteCommands, SyncError> {
        Ok(RemoteCommands {
            http: crate::tls::client()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| SyncError::Network(e.to_string()))?,
            base: base_url.trim_end_matches('/').to_string(),
            device_id: device_id.to_string(),
            sync: SyncClient::new(base_url, device_id, 200)?,
            runtime,
            outbox,
            action_timeout: Duration::from_secs(60),
            identity: None,
        })
    }

    /// Signs every request (and the uploads and heartbeats it triggers) with the terminal's
    /// enrolled key.
    pub fn with_identity(mut self, id: Arc<crate::identity::DeviceIdentity>) -> Self {
        self.sync = self.sync.with_identity(id.clone());
        self.identity = Some(id);
        self
    }

    fn url(&self, tail: &str) -> String {
        format!(
            "{}/api/v1/devices/{}/commands{tail}",
            self.base, self.device_id
        )
    }

    fn journal<T>(
        &self,
        f: impl FnOnce(&mut Outbox) -> Result<T, OutboxError>,
    ) -> Result<T, OutboxError> {
        let mut ob = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut ob)
    }

    /// Fetches the commands waiting for this terminal.
    pub async fn pending(&self) -> Result<Vec<QueuedCommand>, RemoteError> {
        let url = self.url("/pending");
        let resp = crate::identity::maybe_sign(
            self.identity.as_deref(),
            self.http.get(&url),
            "GET",
            &url,
            b"",
        )
        .send()
        .await
        .map_err(|e| RemoteError::Centre(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(RemoteError::Centre(format!("answered {}", resp.status())));
        }
        resp.json()
            .await
            .map_err(|e| RemoteError::Centre(format!("unreadable command list: {e}")))
    }

    async fn acknowledge(&self, id: u64, ack: &CommandAck) -> Result<(), RemoteError> {
        let url = self.url(&format!("/{id}/ack"));
        let body = serde_json::to_vec(ack).unwrap_or_default();
        let b = self
            .http
            .post(&url)
            .header("content-type", "application/json");
        let resp = crate::identity::maybe_sign(self.identity.as_deref(), b, "POST", &url, &body)
            .body(body)
            .send()
            .await
            .map_err(|e| RemoteError::Centre(e.to_string()))?;
        match resp.status().as_u16() {
            200 => Ok(()),
            // Expired or unknown: nothing will ever accept it; keep the record, stop sending.
            404 | 410 => {
                tracing::warn!(id, status = %resp.status(), "command acknowledgement refused for good");
                Ok(())
            }
            s => Err(RemoteError::Centre(format!(
                "acknowledgement answered {s}: {}",
                resp.text().await.unwrap_or_default()
            ))),
        }
    }

    /// Runs a command once and records its result (without acknowledging it).
    pub async fn execute(&self, c: &QueuedCommand) -> Result<CommandAck, RemoteError> {
        self.journal(|ob| ob.command_started(c.id))?;
        let ack = match &c.command {
            RemoteCommand::DeviceAction {
                device,
                action,
                args,
            } => {
                let (rt, device, action, args, timeout) = (
                    self.runtime.clone(),
                    device.clone(),
                    action.clone(),
                    args.clone(),
                    self.action_timeout,
                );
                let r = tokio::task::spawn_blocking(move || {
                    let args = if args.is_null() { json!({}) } else { args };
                    rt.call(&device, &action, args, timeout)
                })
                .await;
                match r {
                    Ok(Ok(v)) => CommandAck {
                        ok: true,
                        result: v,
                        detail: String::new(),
                    },
                    Ok(Err(e)) => CommandAck {
                        ok: false,
                        result: json!({ "completion": e.code.as_str() }),
                        detail: e.detail,
                    },
                    Err(e) => CommandAck {
                        ok: false,
                        result: serde_json::Value::Null,
                        detail: format!("the action panicked: {e}"),
                    },
                }
            }
            RemoteCommand::UploadNow => match self.sync.drain(&self.outbox).await {
                Ok(r) => CommandAck {
                    ok: true,
                    result: json!({
                        "accepted": r.accepted,
                        "duplicates": r.duplicates,
                        "rejected": r.rejected,
                        "attachments": r.attachments,
                    }),
                    detail: String::new(),
                },
                Err(e) => CommandAck {
                    ok: false,
                    result: serde_json::Value::Null,
                    detail: e.to_string(),
                },
            },
            RemoteCommand::Heartbeat => {
                let counts = self.journal(|ob| ob.counts()).unwrap_or_default();
                let hb = self.runtime.heartbeat(
                    &self.device_id,
                    counts.pending + counts.sent,
                    counts.dead,
                );
                match self.sync.heartbeat(&hb).await {
                    Ok(()) => CommandAck {
                        ok: true,
                        result: json!({ "peripherals": hb.peripherals.len() }),
                        detail: String::new(),
                    },
                    Err(e) => CommandAck {
                        ok: false,
                        result: serde_json::Value::Null,
                        detail: e.to_string(),
                    },
                }
            }
        };
        self.journal(|ob| ob.command_finished(c.id, &c.command, &ack))?;
        Ok(ack)
    }

    /// One round: every pending command is run (once) and acknowledged.
    pub async fn poll_once(&self) -> Result<PollReport, RemoteError> {
        let mut report = PollReport::default();
        for c in self.pending().await? {
            let ack = match self.journal(|ob| ob.command_record(c.id))? {
                Some(CommandRecord::Finished(ack)) => {
                    report.answered_again += 1;
                    ack
                }
                Some(CommandRecord::Started) => {
                    let ack = CommandAck {
                        ok: false,
                        result: serde_json::Value::Null,
                        detail: "interrupted: the terminal stopped while carrying it out; it was not run again".into(),
                    };
                    self.journal(|ob| ob.command_finished(c.id, &c.command, &ack))?;
                    report.interrupted += 1;
                    ack
                }
                None => {
                    report.ran += 1;
                    self.execute(&c).await?
                }
            };
            if let Err(e) = self.acknowledge(c.id, &ack).await {
                tracing::debug!(id = c.id, error = %e, "acknowledgement not delivered; sent again next round");
                report.ack_failures += 1;
            }
        }
        Ok(report)
    }

    /// Polls every `every` until `stop` turns true.
    pub async fn run(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.poll_once().await {
                Ok(r) if r.ran + r.answered_again + r.interrupted > 0 => {
                    tracing::info!(
                        ran = r.ran,
                        again = r.answered_again,
                        interrupted = r.interrupted,
                        "remote commands"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "remote commands not fetched"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
