//! Uploads the outbox to the centre in sequence order, in batches, with jittered exponential
//! back-off. It never alters a queued event: an event is sent as it was committed, again and
//! again if need be, until the centre acknowledges or refuses it.

use std::time::Duration;

use kiosk_protocol::wire::{AttachmentRef, AttachmentStatus, IngestBatch};
use serde::Serialize;

use super::{Backoff, CentreClient, CentreError};
use crate::journal::attachments::AttachmentStore;
use crate::journal::{Journal, OutboxError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Centre(#[from] CentreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("attachment: {0}")]
    Attachment(String),
    #[error("the centre answered only part of the batch")]
    Partial,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    pub batches: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub attachments: u64,
}

#[derive(Clone)]
pub struct SyncClient {
    centre: CentreClient,
    batch: usize,
    attachments: Option<AttachmentStore>,
    /// One drain at a time per terminal: the loop and a remote "upload now" would otherwise
    /// send the same batch's attachments side by side.
    draining: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// Upload chunk size: small enough that a flaky hall link loses little per failure.
pub const CHUNK: usize = 256 * 1024;

impl SyncClient {
    pub fn new(centre: CentreClient, batch: usize) -> SyncClient {
        SyncClient {
            centre,
            batch: batch.clamp(1, kiosk_central::server::MAX_BATCH),
            attachments: None,
            draining: Default::default(),
        }
    }

    pub fn centre(&self) -> &CentreClient {
        &self.centre
    }

    /// Uploads the attachments events refer to, from `store`, before the events themselves.
    pub fn with_attachments(mut self, store: AttachmentStore) -> Self {
        self.attachments = Some(store);
        self
    }

    /// Brings one attachment to the centre, resuming from what it already holds. Returns the
    /// bytes sent now.
    pub async fn upload_attachment(
        &self,
        store: &AttachmentStore,
        r: &AttachmentRef,
    ) -> Result<u64, SyncError> {
        let path = format!("/api/v1/attachments/{}", r.sha256);
        let net = |e: reqwest::Error| SyncError::Centre(CentreError::Unreachable(e.to_string()));
        let resp = self.centre.get(&path).send().await.map_err(net)?;
        let mut received = if resp.status() == reqwest::StatusCode::NOT_FOUND {
            0
        } else {
            let s: AttachmentStatus = resp
                .error_for_status()
                .map_err(net)?
                .json()
                .await
                .map_err(net)?;
            if s.complete {
                return Ok(0);
            }
            s.received
        };
        let mut sent = 0;
        loop {
            let chunk = store
                .read_chunk(&r.sha256, received, CHUNK)
                .map_err(|e| SyncError::Attachment(format!("{}: {e}", r.sha256)))?;
            if chunk.is_empty() {
                return Err(SyncError::Attachment(format!(
                    "{}: local file is shorter than announced",
                    r.sha256
                )));
            }
            let put_path = format!("{path}?offset={received}&size={}", r.size);
            let resp = self
                .centre
                .put_bytes(&put_path, chunk.clone())
                .send()
                .await
                .map_err(net)?;
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.map_err(net)?;
            if status == reqwest::StatusCode::CONFLICT && body["reason"] == "offset" {
                // An earlier run got further than we knew: continue from there.
                received = body["received"].as_u64().ok_or_else(|| {
                    SyncError::Centre(CentreError::Refused {
                        status: 409,
                        body: body.to_string(),
                    })
                })?;
                continue;
            }
            if status == reqwest::StatusCode::CONFLICT && body["reason"] == "hash-mismatch" {
                // What was sent does not match the name it was sent under: the local file is
                // damaged. The centre dropped it; sending it again would only repeat this.
                return Err(SyncError::Attachment(format!(
                    "{}: the stored bytes do not match their sha256",
                    r.sha256
                )));
            }
            if !status.is_success() {
                return Err(SyncError::Centre(CentreError::Refused {
                    status: status.as_u16(),
                    body: body.to_string(),
                }));
            }
            sent += chunk.len() as u64;
            let s: AttachmentStatus = serde_json::from_value(body)
                .map_err(|e| SyncError::Centre(CentreError::BadAnswer(e.to_string())))?;
            if s.complete {
                return Ok(sent);
            }
            received = s.received;
        }
    }

    /// Uploads everything pending, batch by batch, and stops at the first failure (the failed
    /// batch returns to pending). The outbox is touched off the async executor.
    pub async fn drain(&self, journal: &Journal) -> Result<DrainReport, SyncError> {
        let _one_drain = self.draining.lock().await;
        let mut report = DrainReport::default();
        let size = self.batch;
        loop {
            let batch = journal
                .with(move |ob| -> Result<_, OutboxError> {
                    let batch = ob.next_batch(size)?;
                    let seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
                    ob.mark_sent(&seqs)?;
                    Ok(batch)
                })
                .await?;
            if batch.is_empty() {
                return Ok(report);
            }
            if let Some(store) = &self.attachments {
                for r in batch
                    .iter()
                    .flat_map(|e| crate::journal::attachments::referenced(&e.payload))
                {
                    if let Err(e) = self.upload_attachment(store, &r).await {
                        journal.with(|ob| ob.requeue_sent()).await?;
                        return Err(e);
                    }
                    report.attachments += 1;
                }
            }
            let sent = batch.len();
            let result = self.centre.ingest(&IngestBatch { events: batch }).await;
            match result {
                Ok(r) => {
                    let answered = r.accepted.len() + r.duplicates.len() + r.rejected.len();
                    report.batches += 1;
                    report.accepted += r.accepted.len() as u64;
                    report.duplicates += r.duplicates.len() as u64;
                    report.rejected += r.rejected.len() as u64;
                    journal
                        .with(
                            move |ob: &mut crate::journal::Outbox| -> Result<(), OutboxError> {
                                ob.apply(&r)?;
                                // Anything the centre neither took nor refused goes round again.
                                ob.requeue_sent()
                            },
                        )
                        .await?;
                    if answered < sent {
                        return Err(SyncError::Partial);
                    }
                }
                Err(e) => {
                    journal.with(|ob| ob.requeue_sent()).await?;
                    return Err(e.into());
                }
            }
        }
    }

    /// Sends one heartbeat.
    pub async fn heartbeat(&self, hb: &kiosk_protocol::wire::Heartbeat) -> Result<(), SyncError> {
        Ok(self.centre.heartbeat(hb).await?)
    }

    /// Drains whenever there is something to send, backing off while the centre is away, until
    /// `stop` turns true.
    pub async fn run(
        self,
        outbox: Journal,
        idle: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut backoff = Backoff::new(
            Duration::from_millis(500),
            Duration::from_secs(300),
            std::process::id() as u64,
        );
        loop {
            let wait = match self.drain(&outbox).await {
                Ok(r) => {
                    if r.batches > 0 {
                        tracing::info!(
                            accepted = r.accepted,
                            duplicates = r.duplicates,
                            rejected = r.rejected,
                            "outbox drained"
                        );
                    }
                    backoff.reset();
                    idle
                }
                Err(e) => {
                    let d = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?d, "upload failed");
                    d
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}
