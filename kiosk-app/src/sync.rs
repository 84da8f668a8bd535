//! Uploads the outbox to the centre in sequence order, in batches, with jittered exponential
//! back-off. It never alters a queued event: an event is sent as it was committed, again and
//! again if need be, until the centre acknowledges or refuses it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk_protocol::wire::{AttachmentRef, AttachmentStatus, IngestBatch, IngestResult};

use crate::attachments::AttachmentStore;
use serde::Serialize;

use crate::outbox::{Outbox, OutboxError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("centre unreachable: {0}")]
    Network(String),
    #[error("centre answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("attachment: {0}")]
    Attachment(String),
}

/// Exponential back-off with jitter, so a hall full of terminals does not retry in step.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
    state: u64,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration, seed: u64) -> Self {
        Backoff {
            base,
            max,
            attempt: 0,
            state: seed | 1,
        }
    }

    /// The wait before the next try: half to all of `base × 2^attempt`, capped at `max`.
    pub fn next_delay(&mut self) -> Duration {
        // xorshift64*: deterministic per seed, which keeps tests reproducible.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let frac = 0.5 + (r >> 11) as f64 / (1u64 << 53) as f64 / 2.0;
        ceiling.mul_f64(frac)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    pub batches: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub attachments: u64,
}

pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    url: String,
    batch: usize,
    attachments: Option<AttachmentStore>,
    identity: Option<std::sync::Arc<crate::identity::DeviceIdentity>>,
}

/// Upload chunk size: small enough that a flaky hall link loses little per failure.
pub const CHUNK: usize = 256 * 1024;

impl SyncClient {
    pub fn new(base_url: &str, device_id: &str, batch: usize) -> Result<SyncClient, SyncError> {
        let http = crate::tls::client()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| SyncError::Network(e.to_string()))?;
        let base = base_url.trim_end_matches('/').to_string();
        Ok(SyncClient {
            http,
            url: format!("{base}/api/v1/devices/{device_id}/events"),
            base,
            batch: batch.clamp(1, kiosk_central::server::MAX_BATCH),
            attachments: None,
            identity: None,
        })
    }

    /// Signs every request with the terminal's enrolled key.
    pub fn with_identity(mut self, id: std::sync::Arc<crate::identity::DeviceIdentity>) -> Self {
        self.identity = Some(id);
        self
    }

    fn post_json(&self, url: &str, value: &impl serde::Serialize) -> reqwest::RequestBuilder {
        let body = serde_json::to_vec(value).unwrap_or_default();
        let b = self
            .http
            .post(url)
            .header("content-type", "application/json");
        crate::identity::maybe_sign(self.identity.as_deref(), b, "POST", url, &body).body(body)
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
        let url = format!("{}/api/v1/attachments/{}", self.base, r.sha256);
        let net = |e: reqwest::Error| SyncError::Network(e.to_string());
        let get = self.http.get(&url);
        let resp = crate::identity::maybe_sign(self.identity.as_deref(), get, "GET", &url, b"")
            .send()
            .await
            .map_err(net)?;
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
            let put_url = format!("{url}?offset={received}&size={}", r.size);
            let put = self.http.put(&put_url);
            let resp =
                crate::identity::maybe_sign(self.identity.as_deref(), put, "PUT", &put_url, &chunk)
                    .body(chunk.clone())
                    .send()
                    .await
                    .map_err(net)?;
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.map_err(net)?;
            if status == reqwest::StatusCode::CONFLICT {
                // An earlier run got further than we knew: continue from there.
                received = body["received"].as_u64().ok_or_else(|| SyncError::Status {
                    status: 409,
                    body: body.to_string(),
                })?;
                continue;
            }
            if !status.is_success() {
                return Err(SyncError::Status {
                    status: status.as_u16(),
                    body: body.to_string(),
                });
            }
            sent += chunk.len() as u64;
            let s: AttachmentStatus =
                serde_json::from_value(body).map_err(|e| SyncError::Network(e.to_string()))?;
            if s.complete {
                return Ok(sent);
            }
            received = s.received;
        }
    }

    /// Uploads everything pending, batch by batch, and stops at the first failure (the failed
    /// batch returns to pending).
    pub async fn drain(&self, outbox: &Mutex<Outbox>) -> Result<DrainReport, SyncError> {
        let mut report = DrainReport::default();
        loop {
            let batch = {
                let mut ob = outbox.lock().unwrap_or_else(|p| p.into_inner());
                let batch = ob.next_batch(self.batch)?;
                let seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
                ob.mark_sent(&seqs)?;
                batch
            };
            if batch.is_empty() {
                return Ok(report);
            }
            if let Some(store) = &self.attachments {
                for r in batch
                    .iter()
                    .flat_map(|e| crate::attachments::referenced(&e.payload))
                {
                    if let Err(e) = self.upload_attachment(store, &r).await {
                        outbox
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .requeue_sent()?;
                        return Err(e);
                    }
                    report.attachments += 1;
                }
            }
            let sent = batch.len() as u64;
            let result = self.send(&IngestBatch { events: batch }).await;
            let mut ob = outbox.lock().unwrap_or_else(|p| p.into_inner());
            match result {
                Ok(r) => {
                    ob.apply(&r)?;
                    // Anything the centre neither took nor refused goes round again.
                    ob.requeue_sent()?;
                    report.batches += 1;
                    report.accepted += r.accepted.len() as u64;
                    report.duplicates += r.duplicates.len() as u64;
                    report.rejected += r.rejected.len() as u64;
                    if r.accepted.len() + r.duplicates.len() + r.rejected.len() < sent as usize {
                        return Err(SyncError::Status {
                            status: 200,
                            body: "the centre answered only part of the batch".into(),
                        });
                    }
                }
                Err(e) => {
                    ob.requeue_sent()?;
                    return Err(e);
                }
            }
        }
    }

    /// Sends one heartbeat.
    pub async fn heartbeat(&self, hb: &kiosk_protocol::wire::Heartbeat) -> Result<(), SyncError> {
        let url = self.url.replace("/events", "/heartbeat");
        let resp = self
            .post_json(&url, hb)
            .send()
            .await
            .map_err(|e| SyncError::Network(e.to_string()))?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            return Err(SyncError::Status {
                status,
                body: resp.text().await.unwrap_or_default(),
            });
        }
        Ok(())
    }

    async fn send(&self, batch: &IngestBatch) -> Result<IngestResult, SyncError> {
        let resp = self
            .post_json(&self.url, batch)
            .send()
            .await
            .map_err(|e| SyncError::Network(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(SyncError::Status {
                status: status.as_u16(),
                body,
            });
        }
        resp.json::<IngestResult>()
            .await
            .map_err(|e| SyncError::Network(format!("bad answer: {e}")))
    }

    /// Drains whenever there is something to send, backing off while the centre is away, until
    /// `stop` turns true.
    pub async fn run(
        self,
        outbox: Arc<Mutex<Outbox>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 42);
        let d: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        for (i, x) in d.iter().enumerate() {
            let ceiling = Duration::from_millis(100 * (1 << i)).min(Duration::from_secs(2));
            assert!(
                *x >= ceiling / 2 && *x <= ceiling,
                "attempt {i}: {x:?} outside {ceiling:?}"
            );
        }
        let mut other = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 7);
        assert_ne!(
            d,
            (0..8).map(|_| other.next_delay()).collect::<Vec<_>>(),
            "jitter differs per seed"
        );
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
