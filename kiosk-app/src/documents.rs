//! Signed configuration and service catalogue from the centre. A document is put in force only
//! when it verifies against a publisher key pinned in this terminal's configuration and is newer
//! than the one in force; anything else is refused, said once as a security event, and the
//! terminal keeps what it had.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk_protocol::signing::{DocumentKind, PublicKey, SignatureError, SignedDocument};
use kiosk_protocol::{Event, EventKind};

use crate::outbox::{Outbox, OutboxError};

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

pub struct DocumentSync {
    http: reqwest::Client,
    base: String,
    device_id: String,
    trusted: Vec<PublicKey>,
    outbox: Arc<Mutex<Outbox>>,
    /// Versions already refused, so a bad document is reported once, not every round.
    refused: Mutex<HashMap<DocumentKind, u64>>,
    identity: Option<Arc<crate::identity::DeviceIdentity>>,
}

impl DocumentSync {
    pub fn new(
        base_url: &str,
        device_id: &str,
        trusted: Vec<PublicKey>,
        outbox: Arc<Mutex<Outbox>>,
    ) -> Result<DocumentSync, DocumentError> {
        Ok(DocumentSync {
            http: crate::tls::client()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| DocumentError::Centre(e.to_string()))?,
            base: base_url.trim_end_matches('/').to_string(),
            device_id: device_id.to_string(),
            trusted,
            outbox,
            refused: Mutex::new(HashMap::new()),
            identity: None,
        })
    }

    /// Signs every request with the terminal's enrolled key.
    pub fn with_identity(mut self, id: Arc<crate::identity::DeviceIdentity>) -> Self {
        self.identity = Some(id);
        self
    }

    fn in_force(&self, kind: DocumentKind) -> Result<Option<SignedDocument>, OutboxError> {
        self.outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .document(kind)
    }

    /// Fetches the newest document of `kind` and puts it in force if it verifies.
    pub async fn fetch(&self, kind: DocumentKind) -> Result<Fetched, DocumentError> {
        let have = self.in_force(kind)?.map(|d| d.version);
        let url = format!(
            "{}/api/v1/devices/{}/documents/{}?after={}",
            self.base,
            self.device_id,
            kind.as_str(),
            have.unwrap_or(0)
        );
        let resp = crate::identity::maybe_sign(
            self.identity.as_deref(),
            self.http.get(&url),
            "GET",
            &url,
            b"",
        )
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
        } else if doc.scope != "all" && doc.scope != self.device_id {
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
            self.refuse(kind, doc.version, &reason)?;
            return Err(DocumentError::Refused {
                kind: kind.as_str(),
                version: doc.version,
                reason,
            });
        }
        self.outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .apply_document(&doc)?;
        tracing::info!(
            document = kind.as_str(),
            version = doc.version,
            "signed document applied"
        );
        Ok(Fetched::Applied(doc.version))
    }

    fn refuse(&self, kind: DocumentKind, version: u64, reason: &str) -> Result<(), OutboxError> {
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        if refused.get(&kind) == Some(&version) {
            return Ok(());
        }
        refused.insert(kind, version);
        tracing::warn!(
            document = kind.as_str(),
            version,
            reason,
            "signed document refused"
        );
        let mut ob = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        let event = Event::new(EventKind::DocumentRejected, chrono::Utc::now())
            .field("document", kind.as_str())
            .field("version", version)
            .field("reason", reason.to_string());
        ob.enqueue(
            EventKind::DocumentRejected.key(),
            serde_json::to_value(&event).map_err(OutboxError::from)?,
        )?;
        Ok(())
    }

    /// Fetches both kinds every `every` until `stop` turns true.
    pub async fn run(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            for kind in [DocumentKind::Config, DocumentKind::Catalogue] {
                if let Err(e) = self.fetch(kind).await {
                    tracing::debug!(error = %e, "documents not fetched");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
