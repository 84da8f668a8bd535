//! Signed configuration and service catalogue from the centre. A document is put in force only
//! when it verifies against a publisher key pinned in this terminal's configuration and is newer
//! than the one in force; anything else is refused, said once as a security event, and the
//! terminal keeps what it had.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk_protocol::signing::{DocumentKind, PublicKey, SignatureError, SignedDocument};
use kiosk_protocol::{Event, EventKind};

use super::CentreClient;
use crate::journal::{Journal, OutboxError};

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("the centre: {0}")]
    Centre(String),
    #[error("{kind} version {version} refused: {reason}")]
    Refused {
        kind: &'static str,
        version: u64,
        reason: String,
    },
    #[error(transparent)]
    Journal(#[from] OutboxError),
}

/// What fetching one kind came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// Nothing newer at the centre.
    Current(Option<u64>),
    Applied(u64),
}

#[derive(Clone)]
pub struct DocumentSync {
    centre: CentreClient,
    trusted: Vec<PublicKey>,
    journal: Journal,
    /// Versions already refused, so a bad document is reported once, not every round.
    refused: Arc<Mutex<HashMap<DocumentKind, u64>>>,
}

/// How long one long poll for published documents is held by the centre.
const LONG_POLL: Duration = Duration::from_secs(25);

impl DocumentSync {
    pub fn new(centre: CentreClient, trusted: Vec<PublicKey>, journal: Journal) -> DocumentSync {
        DocumentSync {
            centre,
            trusted,
            journal,
            refused: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    async fn in_force(&self, kind: DocumentKind) -> Result<Option<SignedDocument>, OutboxError> {
        self.journal.with(move |ob| ob.document(kind)).await
    }

    /// Fetches the newest document of `kind` and puts it in force if it verifies.
    pub async fn fetch(&self, kind: DocumentKind) -> Result<Fetched, DocumentError> {
        let have = self.in_force(kind).await?.map(|d| d.version);
        let path = format!(
            "/api/v1/devices/{}/documents/{}?after={}",
            self.centre.device_id(),
            kind.as_str(),
            have.unwrap_or(0)
        );
        let resp = self
            .centre
            .get(&path)
            .send()
            .await
            .map_err(|e| DocumentError::Centre(e.to_string()))?;
        match resp.status().as_u16() {
            204 => return Ok(Fetched::Current(have)),
            200 => {}
            s => return Err(DocumentError::Centre(format!("answered {s}"))),
        }
        let doc: SignedDocument = resp
            .json()
            .await
            .map_err(|e| DocumentError::Centre(format!("unreadable document: {e}")))?;
        let refusal = if doc.kind != kind {
            Some(format!(
                "asked for {}, got {}",
                kind.as_str(),
                doc.kind.as_str()
            ))
        } else if doc.scope != "all" && doc.scope != self.centre.device_id() {
            Some(format!("addressed to {}", doc.scope))
        } else if have.is_some_and(|v| doc.version <= v) {
            Some(format!(
                "not newer than version {} in force",
                have.unwrap_or(0)
            ))
        } else {
            doc.verify(&self.trusted)
                .err()
                .map(|e: SignatureError| e.to_string())
        };
        if let Some(reason) = refusal {
            self.refuse(kind, doc.version, &reason).await?;
            return Err(DocumentError::Refused {
                kind: kind.as_str(),
                version: doc.version,
                reason,
            });
        }
        let version = doc.version;
        self.journal.with(move |ob| ob.apply_document(&doc)).await?;
        tracing::info!(document = kind.as_str(), version, "signed document applied");
        Ok(Fetched::Applied(version))
    }

    async fn refuse(
        &self,
        kind: DocumentKind,
        version: u64,
        reason: &str,
    ) -> Result<(), OutboxError> {
        {
            let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            if refused.get(&kind) == Some(&version) {
                return Ok(());
            }
            refused.insert(kind, version);
        }
        tracing::warn!(
            document = kind.as_str(),
            version,
            reason,
            "signed document refused"
        );
        let event = Event::new(EventKind::DocumentRejected, chrono::Utc::now())
            .field("document", kind.as_str())
            .field("version", version)
            .field("reason", reason.to_string());
        let payload = serde_json::to_value(&event).map_err(OutboxError::from)?;
        self.journal
            .with(move |ob| ob.enqueue(EventKind::DocumentRejected.key(), payload))
            .await?;
        Ok(())
    }

    /// Waits (long poll, up to `LONG_POLL`) until the centre's publish generation differs from
    /// `since`; returns the generation.
    async fn changes(&self, since: Option<u64>) -> Result<u64, DocumentError> {
        let mut path = format!(
            "/api/v1/devices/{}/documents/changes?wait={}",
            self.centre.device_id(),
            LONG_POLL.as_secs()
        );
        if let Some(g) = since {
            path.push_str(&format!("&since={g}"));
        }
        let resp = self
            .centre
            .get(&path)
            .timeout(LONG_POLL + Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| DocumentError::Centre(e.to_string()))?;
        if resp.status() != 200 {
            return Err(DocumentError::Centre(format!("answered {}", resp.status())));
        }
        let v: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| DocumentError::Centre(format!("unreadable answer: {e}")))?;
        v["generation"]
            .as_u64()
            .ok_or_else(|| DocumentError::Centre("no generation in the answer".into()))
    }

    /// Fetches every kind whenever the centre says something was published (long poll), and
    /// at least every `every`, until `stop` turns true. A centre without the long poll, or
    /// one that cannot be reached, is simply polled every `every`.
    pub async fn run(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut seen: Option<u64> = None;
        loop {
            for kind in DocumentKind::ALL {
                if let Err(e) = self.fetch(kind).await {
                    tracing::debug!(error = %e, "documents not fetched");
                }
            }
            let deadline = tokio::time::Instant::now() + every;
            loop {
                tokio::select! {
                    changed = self.changes(seen) => match changed {
                        Ok(g) if seen == Some(g) => continue,
                        Ok(g) => {
                            seen = Some(g);
                            break;
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "no long poll for documents");
                            tokio::select! {
                                _ = tokio::time::sleep_until(deadline) => break,
                                _ = stop.changed() => return,
                            }
                        }
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = stop.changed() => return,
                }
            }
        }
    }
}
