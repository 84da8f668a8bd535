//! Remote commands: an operator queues a command at the centre; the terminal picks it up,
//! carries it out once, and acknowledges it. "Once" holds across lost replies and crashes: the
//! start of a command is committed to the outbox database before it runs and its result after,
//! so a command delivered again is answered from the record instead of being run again, and
//! one the terminal was running when it stopped is reported as interrupted, not repeated.

mod install;
mod operations;
pub use operations::mask_line;

use std::sync::Arc;
use std::time::Duration;

use kiosk_protocol::wire::{CommandAck, QueuedCommand, RemoteCommand};
use serde_json::json;

use super::sync::SyncClient;
use super::{CentreClient, CentreError};
use crate::journal::outbox::CommandRecord;
use crate::journal::{Journal, OutboxError};
use crate::runtime::{Owner, Runtime};
use crate::services::outputs::{is_output, OutputDesk};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(transparent)]
    Centre(#[from] CentreError),
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

#[derive(Clone)]
pub struct RemoteCommands {
    centre: CentreClient,
    runtime: Arc<Runtime>,
    journal: Journal,
    desk: OutputDesk,
    sync: SyncClient,
    action_timeout: Duration,
    /// How long a command waits for a device another owner (a citizen's journey) holds.
    claim_wait: Duration,
    /// Where a log bundle is kept for upload.
    attachments: Option<crate::journal::attachments::AttachmentStore>,
    /// Where the power schedule is kept.
    data_dir: Option<std::path::PathBuf>,
    /// Asks the terminal to stop (the service manager starts it again).
    restart: Option<tokio::sync::watch::Sender<Option<String>>>,
    /// The update slots' base, when the terminal is updated in place.
    update_base: Option<std::path::PathBuf>,
    /// The publisher keys an update bundle must be signed by.
    trusted_keys: Vec<kiosk_protocol::signing::PublicKey>,
}

impl RemoteCommands {
    pub fn new(
        centre: CentreClient,
        runtime: Arc<Runtime>,
        journal: Journal,
        desk: OutputDesk,
    ) -> RemoteCommands {
        RemoteCommands {
            sync: SyncClient::new(centre.clone(), 200),
            centre,
            runtime,
            journal,
            desk,
            action_timeout: Duration::from_secs(60),
            claim_wait: Duration::from_secs(10),
            attachments: None,
            data_dir: None,
            restart: None,
            update_base: None,
            trusted_keys: Vec::new(),
        }
    }

    /// Takes update orders into the slots at `base`, for bundles signed by one of `trusted`.
    pub fn with_updates(
        mut self,
        base: std::path::PathBuf,
        trusted: Vec<kiosk_protocol::signing::PublicKey>,
    ) -> Self {
        self.update_base = Some(base);
        self.trusted_keys = trusted;
        self
    }

    /// Keeps log bundles in `store` (uploaded with the command's record).
    pub fn with_attachments(mut self, store: crate::journal::attachments::AttachmentStore) -> Self {
        // `upload-now` drains the outbox through this client: the attachments events refer
        // to must go first, or an event would reach the centre without its file.
        self.sync = self.sync.with_attachments(store.clone());
        self.attachments = Some(store);
        self
    }

    /// Keeps the power schedule in `dir`.
    pub fn with_data_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.data_dir = Some(dir);
        self
    }

    /// Lets a `restart` command stop the terminal through `stop`.
    pub fn with_restart(mut self, stop: tokio::sync::watch::Sender<Option<String>>) -> Self {
        self.restart = Some(stop);
        self
    }

    /// How long a command waits for a device another owner holds (10 s by default).
    pub fn with_claim_wait(mut self, wait: Duration) -> Self {
        self.claim_wait = wait;
        self
    }

    fn journal<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut crate::journal::Outbox) -> Result<T, OutboxError> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, OutboxError>> + '_ {
        self.journal.with(f)
    }

    /// Fetches the commands waiting for this terminal.
    pub async fn pending(&self) -> Result<Vec<QueuedCommand>, RemoteError> {
        Ok(self.centre.pending_commands().await?)
    }

    async fn acknowledge(&self, id: u64, ack: &CommandAck) -> Result<(), RemoteError> {
        match self.centre.ack_command(id, ack).await {
            Ok(()) => Ok(()),
            // Expired or unknown: nothing will ever accept it; keep the record, stop sending.
            Err(CentreError::Refused {
                status: status @ (404 | 410),
                ..
            }) => {
                tracing::warn!(id, status, "command acknowledgement refused for good");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs one device action for command `id`: claimed for the command, and through the
    /// output desk when it makes something physical, so a remote test print leaves an intent
    /// and a result like any other print.
    fn device_action(
        &self,
        id: u64,
        device: &str,
        action: &str,
        args: serde_json::Value,
    ) -> CommandAck {
        let fail = |result: serde_json::Value, detail: String| CommandAck {
            ok: false,
            result,
            detail,
        };
        let Ok(dev) = self.runtime.device(device) else {
            return fail(
                json!({ "completion": "invalid-data" }),
                format!("no device {device:?}"),
            );
        };
        let kind = dev.spec.kind;
        let claim = match self.runtime.claim(
            device,
            Owner::Remote(id),
            self.action_timeout * 2,
            self.claim_wait,
        ) {
            Ok(c) => c,
            Err(e) => return fail(json!({ "completion": "held" }), e.to_string()),
        };
        let args = if args.is_null() { json!({}) } else { args };
        if is_output(kind, action) {
            let record = if action == "stamp" {
                let n = |k: &str| args.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
                let order = crate::services::outputs::SealOrder {
                    seal: u8::try_from(n("seal")).unwrap_or(0),
                    x: u16::try_from(n("x")).unwrap_or(0),
                    y: u16::try_from(n("y")).unwrap_or(0),
                    document: b"",
                    purpose: "remote-command",
                };
                self.desk.stamp(&claim, &order)
            } else {
                self.desk
                    .device_output(&claim, action, args, "remote-command")
            };
            return match record {
                Ok(r) => CommandAck {
                    ok: r.done(),
                    result: json!({ "output_id": r.output_id, "outcome": r.outcome.as_str(), "device": r.result }),
                    detail: r.detail,
                },
                Err(e) => fail(serde_json::Value::Null, e.to_string()),
            };
        }
        match self.runtime.call(&claim, action, args, self.action_timeout) {
            Ok(v) => CommandAck {
                ok: true,
                result: v,
                detail: String::new(),
            },
            Err(e) => fail(json!({ "completion": e.code() }), e.detail()),
        }
    }

    /// Runs a command once and records its result (without acknowledging it).
    pub async fn execute(&self, c: &QueuedCommand) -> Result<CommandAck, RemoteError> {
        let id = c.id;
        self.journal(move |ob| ob.command_started(id)).await?;
        let ack = match &c.command {
            RemoteCommand::DeviceAction {
                device,
                action,
                args,
            } => {
                let (me, device, action, args) =
                    (self.clone(), device.clone(), action.clone(), args.clone());
                match tokio::task::spawn_blocking(move || {
                    me.device_action(id, &device, &action, args)
                })
                .await
                {
                    Ok(ack) => ack,
                    Err(e) => CommandAck {
                        ok: false,
                        result: serde_json::Value::Null,
                        detail: format!("the action panicked: {e}"),
                    },
                }
            }
            RemoteCommand::SelfTest => {
                let me = self.clone();
                match tokio::task::spawn_blocking(move || me.self_test(id)).await {
                    Ok(ack) => ack,
                    Err(e) => CommandAck {
                        ok: false,
                        result: serde_json::Value::Null,
                        detail: format!("the self-test panicked: {e}"),
                    },
                }
            }
            RemoteCommand::LogBundle { events } => self.log_bundle(*events).await,
            RemoteCommand::Screenshot => self.screenshot().await,
            RemoteCommand::SetPowerSchedule { schedule } => self.set_power(schedule.as_ref()),
            RemoteCommand::InstallUpdate {
                version,
                sha256,
                size,
            } => self.stage_update(id, version, sha256, *size).await,
            RemoteCommand::Restart => match &self.restart {
                Some(_) => CommandAck {
                    ok: true,
                    result: json!({ "restarting": true }),
                    detail: "the kiosk stops in order once this answer is sent; the service manager starts it again".into(),
                },
                None => CommandAck {
                    ok: false,
                    result: serde_json::Value::Null,
                    detail: "this kiosk is not run by a service manager that restarts it".into(),
                },
            },
            RemoteCommand::UploadNow => match self.sync.drain(&self.journal).await {
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
                let (counts, head, docs) = self
                    .journal
                    .with(|ob| (ob.counts(), ob.audit_head(), ob.document_versions()))
                    .await;
                let counts = counts.unwrap_or_default();
                let mut hb = self.runtime.heartbeat(
                    self.centre.device_id(),
                    counts.pending + counts.sent,
                    counts.dead,
                );
                hb.audit_head = head.ok().flatten();
                hb.documents = docs.unwrap_or_default();
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
        let (command, record) = (c.command.clone(), ack.clone());
        self.journal(move |ob| ob.command_finished(id, &command, &record))
            .await?;
        Ok(ack)
    }

    /// One round: every pending command is run (once) and acknowledged.
    pub async fn poll_once(&self) -> Result<PollReport, RemoteError> {
        let mut report = PollReport::default();
        for c in self.pending().await? {
            let id = c.id;
            let ack = match self.journal(move |ob| ob.command_record(id)).await? {
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
                    let (command, record) = (c.command.clone(), ack.clone());
                    self.journal(move |ob| ob.command_finished(id, &command, &record))
                        .await?;
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
            // A restart happens after its answer is recorded (and, when the centre is
            // reachable, delivered): a command that was run is never run again.
            if matches!(c.command, RemoteCommand::Restart) && ack.ok {
                if let Some(stop) = &self.restart {
                    let _ = self.sync.drain(&self.journal).await;
                    stop.send_replace(Some(format!("restart asked by the centre (command {id})")));
                }
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
