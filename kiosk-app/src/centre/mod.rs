//! The terminal's one client for the central service, and what rides on it: event sync,
//! heartbeats, remote commands, signed documents, queue tickets, seal authorisations, the
//! health watch, enrolment. The client holds the base URL, the pinned CA, the terminal's
//! signing identity and the request timeout, so every caller talks to the centre the same way.

pub mod backoff;
pub mod commands;
pub mod documents;
pub mod embedded;
pub mod health;
pub mod identity;
pub mod netcheck;
pub mod sync;
pub mod tls;

use kiosk_protocol::documents::{Licence, Proof, ProofRequest};
use std::sync::Arc;
use std::time::Duration;

use kiosk_protocol::wire::{
    CentreHealth, CommandAck, Heartbeat, IngestBatch, IngestResult, QueuedCommand,
    SealAuthorisation, SealAuthorisationRequest, Ticket, TicketRequest,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use backoff::Backoff;
use identity::DeviceIdentity;
use tls::PinnedCa;

/// Why a request to the centre did not give the answer asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CentreError {
    /// No answer: network, TLS, timeout.
    #[error("the centre is unreachable: {0}")]
    Unreachable(String),
    /// An answer with an error status.
    #[error("the centre answered {status}: {body}")]
    Refused { status: u16, body: String },
    /// An answer that is not what the API promises.
    #[error("the centre's answer is unreadable: {0}")]
    BadAnswer(String),
}

impl CentreError {
    fn net(e: reqwest::Error) -> CentreError {
        CentreError::Unreachable(e.to_string())
    }
}

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    #[error(transparent)]
    Ca(#[from] tls::CaError),
    #[error(transparent)]
    Client(#[from] CentreError),
}

/// The default for one request: a citizen may be waiting on it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct CentreClient {
    http: reqwest::Client,
    base: String,
    device_id: String,
    identity: Option<Arc<DeviceIdentity>>,
}

impl CentreClient {
    /// A client for the centre at `base_url`, trusting `ca` only when given, each request
    /// bounded by `timeout`.
    pub fn new(
        base_url: &str,
        device_id: &str,
        ca: Option<&PinnedCa>,
        timeout: Duration,
    ) -> Result<CentreClient, CentreError> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)));
        if let Some(ca) = ca {
            b = ca.apply(b);
        }
        let http = b
            .build()
            .map_err(|e| CentreError::Unreachable(format!("building the client: {e}")))?;
        Ok(CentreClient {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            device_id: device_id.to_string(),
            identity: None,
        })
    }

    /// The client a configuration describes: its pinned CA and request timeout.
    pub fn for_config(
        config: &crate::config::Config,
        base_url: &str,
    ) -> Result<CentreClient, ClientSetupError> {
        let ca = config.centre_ca().map(|p| PinnedCa::load(&p)).transpose()?;
        Ok(CentreClient::new(
            base_url,
            &config.terminal.id,
            ca.as_ref(),
            Duration::from_secs(config.centre.request_timeout_s),
        )?)
    }

    /// A client with the system's roots and the default timeout (loopback, tests).
    pub fn plain(base_url: &str, device_id: &str) -> Result<CentreClient, CentreError> {
        CentreClient::new(base_url, device_id, None, DEFAULT_TIMEOUT)
    }

    /// Signs every request with the terminal's enrolled key.
    pub fn with_identity(mut self, id: Arc<DeviceIdentity>) -> Self {
        self.identity = Some(id);
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    pub fn identity(&self) -> Option<&Arc<DeviceIdentity>> {
        self.identity.as_ref()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn signed(
        &self,
        b: reqwest::RequestBuilder,
        method: &str,
        url: &str,
        body: &[u8],
    ) -> reqwest::RequestBuilder {
        match &self.identity {
            Some(id) => id.sign(b, method, url, body),
            None => b,
        }
    }

    /// A signed GET of `path` (with its query).
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        let url = self.url(path);
        self.signed(self.http.get(&url), "GET", &url, b"")
    }

    /// A signed JSON POST.
    pub fn post_json(&self, path: &str, value: &impl Serialize) -> reqwest::RequestBuilder {
        let url = self.url(path);
        let body = serde_json::to_vec(value).unwrap_or_default();
        let b = self
            .http
            .post(&url)
            .header("content-type", "application/json");
        self.signed(b, "POST", &url, &body).body(body)
    }

    /// A signed PUT of raw bytes.
    pub fn put_bytes(&self, path: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        let url = self.url(path);
        let b = self.http.put(&url);
        self.signed(b, "PUT", &url, &body).body(body)
    }

    /// Sends `req` and reads a JSON answer of a success status.
    pub async fn json<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CentreError> {
        let resp = req.send().await.map_err(CentreError::net)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(CentreError::Refused {
                status: status.as_u16(),
                body: resp.text().await.unwrap_or_default(),
            });
        }
        resp.json()
            .await
            .map_err(|e| CentreError::BadAnswer(e.to_string()))
    }

    pub async fn health(&self) -> Result<CentreHealth, CentreError> {
        let resp = self
            .http
            .get(self.url("/health"))
            .send()
            .await
            .map_err(CentreError::net)?;
        // 503 carries the same body with a status other than ok.
        resp.json()
            .await
            .map_err(|e| CentreError::BadAnswer(e.to_string()))
    }

    /// Hands a signed document to the centre for distribution (the publisher's role; the
    /// embedded centre's sample catalogue comes this way).
    pub async fn publish(
        &self,
        doc: &kiosk_protocol::signing::SignedDocument,
    ) -> Result<(), CentreError> {
        let body = serde_json::to_vec(doc).unwrap_or_default();
        let resp = self
            .http
            .put(self.url("/api/v1/documents"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(CentreError::net)?;
        if !resp.status().is_success() {
            return Err(CentreError::Refused {
                status: resp.status().as_u16(),
                body: resp.text().await.unwrap_or_default(),
            });
        }
        Ok(())
    }

    pub async fn ingest(&self, batch: &IngestBatch) -> Result<IngestResult, CentreError> {
        let path = format!("/api/v1/devices/{}/events", self.device_id);
        self.json(self.post_json(&path, batch)).await
    }

    pub async fn heartbeat(&self, hb: &Heartbeat) -> Result<(), CentreError> {
        let path = format!("/api/v1/devices/{}/heartbeat", self.device_id);
        self.json::<serde_json::Value>(self.post_json(&path, hb))
            .await
            .map(drop)
    }

    pub async fn pending_commands(&self) -> Result<Vec<QueuedCommand>, CentreError> {
        let path = format!("/api/v1/devices/{}/commands/pending", self.device_id);
        self.json(self.get(&path)).await
    }

    /// Up to 4 MiB of update bundle `sha256` from `offset`, with the bundle's whole size.
    pub async fn update_chunk(
        &self,
        sha256: &str,
        offset: u64,
    ) -> Result<(Vec<u8>, u64), CentreError> {
        let path = format!(
            "/api/v1/devices/{}/updates/{sha256}?offset={offset}",
            self.device_id
        );
        let resp = self.get(&path).send().await.map_err(CentreError::net)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(CentreError::Refused {
                status: status.as_u16(),
                body: resp.text().await.unwrap_or_default(),
            });
        }
        let size = resp
            .headers()
            .get("x-bundle-size")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| CentreError::BadAnswer("no x-bundle-size header".into()))?;
        let bytes = resp.bytes().await.map_err(CentreError::net)?;
        Ok((bytes.to_vec(), size))
    }

    pub async fn ack_command(&self, id: u64, ack: &CommandAck) -> Result<(), CentreError> {
        let path = format!("/api/v1/devices/{}/commands/{id}/ack", self.device_id);
        self.json::<serde_json::Value>(self.post_json(&path, ack))
            .await
            .map(drop)
    }

    pub async fn issue_ticket(
        &self,
        hall: &str,
        service: &str,
        req: &TicketRequest,
    ) -> Result<Ticket, CentreError> {
        let path = format!("/api/v1/halls/{hall}/services/{service}/tickets");
        self.json(self.post_json(&path, req)).await
    }

    pub async fn authorise_seal(
        &self,
        req: &SealAuthorisationRequest,
    ) -> Result<SealAuthorisation, CentreError> {
        self.json(self.post_json("/api/v1/seal-authorisations", req))
            .await
    }

    /// Reserves ticket numbers of today for issuing while the centre cannot be reached.
    pub async fn reserve_block(
        &self,
        hall: &str,
        service: &str,
        req: &kiosk_protocol::wire::NumberBlockRequest,
    ) -> Result<kiosk_protocol::wire::NumberBlock, CentreError> {
        let path = format!("/api/v1/halls/{hall}/services/{service}/blocks");
        self.json(self.post_json(&path, req)).await
    }

    /// A clerk signs in at a window: the centre checks the PIN (and keeps the lock).
    pub async fn staff_login(
        &self,
        hall: &str,
        staff: &str,
        login: &kiosk_protocol::queue::StaffLogin,
    ) -> Result<kiosk_protocol::queue::StaffPlate, CentreError> {
        let path = format!("/api/v1/halls/{hall}/staff/{staff}/login");
        self.json(self.post_json(&path, login)).await
    }

    /// One command of a window to the hall's queue.
    pub async fn window_command(
        &self,
        hall: &str,
        window: &str,
        command: &kiosk_protocol::queue::WindowCommand,
    ) -> Result<kiosk_protocol::queue::WindowOutcome, CentreError> {
        let path = format!("/api/v1/halls/{hall}/queue/windows/{window}/commands");
        self.json(self.post_json(&path, command)).await
    }

    /// The hall's queue figures of today (the centre's day).
    pub async fn queue_stats_today(
        &self,
        hall: &str,
    ) -> Result<kiosk_protocol::queue::QueueStats, CentreError> {
        let path = format!("/api/v1/halls/{hall}/queue/stats");
        self.json(self.get(&path)).await
    }

    /// One window now: its state, its ticket and how many it may call.
    pub async fn window_now(
        &self,
        hall: &str,
        window: &str,
    ) -> Result<kiosk_protocol::queue::WindowOutcome, CentreError> {
        let path = format!("/api/v1/halls/{hall}/queue/windows/{window}");
        self.json(self.get(&path)).await
    }

    /// Sets up the services a window calls from (an embedded centre's sample hall).
    pub async fn set_window(
        &self,
        hall: &str,
        window: &str,
        setup: &kiosk_protocol::queue::WindowSetup,
    ) -> Result<kiosk_protocol::queue::QueueWindow, CentreError> {
        let path = format!("/api/v1/halls/{hall}/queue/windows/{window}");
        let url = self.url(&path);
        let body = serde_json::to_vec(setup).map_err(|e| CentreError::BadAnswer(e.to_string()))?;
        let b = self
            .http
            .put(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        self.json(self.signed(b, "PUT", &url, &body).body(body))
            .await
    }

    /// Files an application; the same `local_ref` again gets the same case.
    pub async fn file_case(
        &self,
        filing: &kiosk_protocol::cases::CaseSubmission,
    ) -> Result<kiosk_protocol::cases::Case, CentreError> {
        self.json(self.post_json("/api/v1/cases", filing)).await
    }

    /// A case by its number (or local reference) and query password.
    pub async fn lookup_case(
        &self,
        lookup: &kiosk_protocol::cases::CaseLookup,
    ) -> Result<kiosk_protocol::cases::Case, CentreError> {
        self.json(self.post_json("/api/v1/cases/lookup", lookup))
            .await
    }

    /// An identified citizen's cases, newest first.
    pub async fn cases_of(
        &self,
        holder_sha256: &str,
    ) -> Result<Vec<kiosk_protocol::cases::Case>, CentreError> {
        let path = format!("/api/v1/holders/{holder_sha256}/cases");
        self.json(self.get(&path)).await
    }

    /// An identified citizen's electronic licences, with their print counts.
    pub async fn licences_of(&self, holder_sha256: &str) -> Result<Vec<Licence>, CentreError> {
        let path = format!("/api/v1/holders/{holder_sha256}/licences");
        self.json(self.get(&path)).await
    }

    /// Has the centre issue a proof for the identified citizen (this terminal's request).
    pub async fn issue_proof(
        &self,
        holder_sha256: &str,
        kind: &str,
        months: u32,
        purpose: &str,
    ) -> Result<Proof, CentreError> {
        let r = ProofRequest {
            device_id: self.device_id.clone(),
            holder_sha256: holder_sha256.to_string(),
            kind: kind.to_string(),
            months,
            purpose: purpose.to_string(),
        };
        self.json(self.post_json("/api/v1/proofs", &r)).await
    }

    pub async fn consume_seal(&self, id: &str) -> Result<SealAuthorisation, CentreError> {
        let path = format!("/api/v1/seal-authorisations/{id}/consume");
        let body = serde_json::json!({ "device_id": self.device_id });
        self.json(self.post_json(&path, &body)).await
    }
}

/// The client for code that runs on threads, not tasks (flows, outputs, device work): each call
/// runs on the terminal's async runtime and waits for it there.
#[derive(Clone)]
pub struct BlockingCentre {
    client: CentreClient,
    handle: tokio::runtime::Handle,
}

impl BlockingCentre {
    pub fn new(client: CentreClient, handle: tokio::runtime::Handle) -> BlockingCentre {
        BlockingCentre { client, handle }
    }

    pub fn client(&self) -> &CentreClient {
        &self.client
    }

    /// Runs `f` on the client to completion. Must not be called from an async task.
    pub fn run<T, F>(&self, f: impl FnOnce(CentreClient) -> F) -> T
    where
        F: std::future::Future<Output = T>,
    {
        self.handle.block_on(f(self.client.clone()))
    }

    pub fn issue_ticket(
        &self,
        hall: &str,
        service: &str,
        req: &TicketRequest,
    ) -> Result<Ticket, CentreError> {
        self.run(|c| async move { c.issue_ticket(hall, service, req).await })
    }

    pub fn reserve_block(
        &self,
        hall: &str,
        service: &str,
        req: &kiosk_protocol::wire::NumberBlockRequest,
    ) -> Result<kiosk_protocol::wire::NumberBlock, CentreError> {
        self.run(|c| async move { c.reserve_block(hall, service, req).await })
    }

    pub fn authorise_seal(
        &self,
        req: &SealAuthorisationRequest,
    ) -> Result<SealAuthorisation, CentreError> {
        self.run(|c| async move { c.authorise_seal(req).await })
    }

    pub fn consume_seal(&self, id: &str) -> Result<SealAuthorisation, CentreError> {
        self.run(|c| async move { c.consume_seal(id).await })
    }

    pub fn file_case(
        &self,
        filing: &kiosk_protocol::cases::CaseSubmission,
    ) -> Result<kiosk_protocol::cases::Case, CentreError> {
        self.run(|c| async move { c.file_case(filing).await })
    }

    pub fn lookup_case(
        &self,
        lookup: &kiosk_protocol::cases::CaseLookup,
    ) -> Result<kiosk_protocol::cases::Case, CentreError> {
        self.run(|c| async move { c.lookup_case(lookup).await })
    }

    pub fn cases_of(
        &self,
        holder_sha256: &str,
    ) -> Result<Vec<kiosk_protocol::cases::Case>, CentreError> {
        self.run(|c| async move { c.cases_of(holder_sha256).await })
    }

    pub fn licences_of(&self, holder_sha256: &str) -> Result<Vec<Licence>, CentreError> {
        self.run(|c| async move { c.licences_of(holder_sha256).await })
    }

    pub fn issue_proof(
        &self,
        holder_sha256: &str,
        kind: &str,
        months: u32,
        purpose: &str,
    ) -> Result<Proof, CentreError> {
        self.run(|c| async move { c.issue_proof(holder_sha256, kind, months, purpose).await })
    }

    /// The centre's base URL, for the verification QR of a proof.
    pub fn base_url(&self) -> String {
        self.client.base.clone()
    }
}
