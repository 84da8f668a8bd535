//! Physical outputs in two phases. A queue ticket, a receipt, an A4 print or a seal impression
//! counts only after the device confirmed it, so each one is written to the outbox twice: an
//! `output.intent` — durably, before the device is told anything — and an `output.result` after
//! the device answered. An intent without a result (the terminal died in between) is closed as
//! interrupted at the next start. The centre learns both through the normal sync and settles
//! what depends on them (a ticket whose print failed is void and never called).

use std::sync::Mutex;
use std::time::Duration;

use kiosk_hal::DeviceKind;
use kiosk_protocol::wire::{SealAuthorisation, SealAuthorisationRequest, Ticket, TicketRequest};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::SealOffline;
use crate::outbox::{Outbox, OutboxError};
use crate::runtime::Runtime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputOutcome {
    /// The device confirmed the output.
    Printed,
    /// Sent to a device that cannot confirm (one-way printer), by configured policy.
    Unconfirmed,
    /// The device reported a failure: nothing may be counted as done.
    Failed,
    /// Never sent: no authorisation, or the device refused before acting.
    Refused,
}

impl OutputOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputOutcome::Printed => "printed",
            OutputOutcome::Unconfirmed => "unconfirmed",
            OutputOutcome::Failed => "failed",
            OutputOutcome::Refused => "refused",
        }
    }
}

/// What one output came to.
#[derive(Debug, Clone, Serialize)]
pub struct OutputRecord {
    pub output_id: String,
    pub outcome: OutputOutcome,
    pub detail: String,
    /// The device's own answer.
    pub result: Value,
    /// Outbox sequence numbers of the intent (none when refused before one was written) and
    /// the result.
    pub intent_seq: Option<u64>,
    pub result_seq: u64,
}

impl OutputRecord {
    /// Whether it may be counted as done.
    pub fn done(&self) -> bool {
        matches!(
            self.outcome,
            OutputOutcome::Printed | OutputOutcome::Unconfirmed
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The intent could not be recorded, so the device was never asked.
    #[error("the output was not started: its intent could not be recorded: {0}")]
    Journal(#[from] OutboxError),
    #[error("the central service: {0}")]
    Centre(String),
}

/// The centre's answers an output needs, over HTTP (blocking: outputs run on the caller's
/// thread, like device actions).
pub struct CentreApi {
    http: reqwest::blocking::Client,
    base: String,
    identity: Option<std::sync::Arc<crate::identity::DeviceIdentity>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CentreCallError {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("answered {status}: {body}")]
    Refused { status: u16, body: String },
}

impl CentreApi {
    pub fn new(base_url: &str) -> Result<CentreApi, CentreCallError> {
        let http = crate::tls::blocking_client()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| CentreCallError::Unreachable(e.to_string()))?;
        Ok(CentreApi {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            identity: None,
        })
    }

    /// Signs every request with the terminal's enrolled key.
    pub fn with_identity(mut self, id: std::sync::Arc<crate::identity::DeviceIdentity>) -> Self {
        self.identity = Some(id);
        self
    }

    fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, CentreCallError> {
        let url = format!("{}{path}", self.base);
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut b = self
            .http
            .post(&url)
            .header("content-type", "application/json");
        if let Some(id) = &self.identity {
            for (k, v) in id.headers("POST", &url, &bytes) {
                b = b.header(k, v);
            }
        }
        let resp = b
            .body(bytes)
            .send()
            .map_err(|e| CentreCallError::Unreachable(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(CentreCallError::Refused {
                status: status.as_u16(),
                body: resp.text().unwrap_or_default(),
            });
        }
        resp.json()
            .map_err(|e| CentreCallError::Unreachable(format!("unreadable answer: {e}")))
    }

    pub fn issue_ticket(
        &self,
        hall: &str,
        service: &str,
        req: &TicketRequest,
    ) -> Result<Ticket, CentreCallError> {
        self.post(
            &format!("/api/v1/halls/{hall}/services/{service}/tickets"),
            req,
        )
    }

    pub fn authorise_seal(
        &self,
        req: &SealAuthorisationRequest,
    ) -> Result<SealAuthorisation, CentreCallError> {
        self.post("/api/v1/seal-authorisations", req)
    }

    pub fn consume_seal(
        &self,
        id: &str,
        device_id: &str,
    ) -> Result<SealAuthorisation, CentreCallError> {
        self.post(
            &format!("/api/v1/seal-authorisations/{id}/consume"),
            &json!({ "device_id": device_id }),
        )
    }
}

/// A queue ticket to print: which hall and service, the printer, and what the ticket shows
/// besides its number.
pub struct TicketOrder<'a> {
    pub hall: &'a str,
    pub hall_name: &'a str,
    pub service: &'a str,
    pub service_name: &'a str,
    pub prefix: &'a str,
    pub printer: &'a str,
    pub waiting: u32,
    pub issued_at: &'a str,
    pub queue_url: &'a str,
}

/// One seal impression to make.
pub struct SealOrder<'a> {
    pub device: &'a str,
    pub seal: u8,
    pub x: u16,
    pub y: u16,
    pub document: &'a [u8],
    pub purpose: &'a str,
}

/// Where outputs are made and recorded.
pub struct OutputDesk<'a> {
    pub rt: &'a Runtime,
    pub outbox: &'a Mutex<Outbox>,
    pub centre: Option<CentreApi>,
    pub seal_offline: SealOffline,
    pub timeout: Duration,
}

impl OutputDesk<'_> {
    fn journal(&self, kind: &str, payload: Value) -> Result<u64, OutboxError> {
        let mut ob = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        Ok(ob.enqueue(kind, payload)?.seq)
    }

    fn device_id(&self) -> String {
        self.outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .device_id()
            .to_string()
    }

    /// Records the intent, runs the device action, records the result.
    fn two_phase(
        &self,
        mut intent: Value,
        device: &str,
        action: &str,
        args: Value,
        extra: impl FnOnce(&OutputOutcome, &mut Value),
    ) -> Result<OutputRecord, OutputError> {
        let output_id = format!("out-{}", uuid::Uuid::new_v4().simple());
        intent["output_id"] = json!(output_id);
        intent["device"] = json!(device);
        intent["action"] = json!(action);
        let intent_seq = self.journal("output.intent", intent.clone())?;
        let answer = self.rt.call(device, action, args, self.timeout);
        let (outcome, detail, result) = match answer {
            Ok(v) => {
                let unconfirmed = v.get("outcome").and_then(Value::as_str) == Some("unconfirmed");
                let outcome = if unconfirmed {
                    OutputOutcome::Unconfirmed
                } else {
                    OutputOutcome::Printed
                };
                (outcome, String::new(), v)
            }
            Err(e) => (
                OutputOutcome::Failed,
                format!("{}: {}", e.code.as_str(), e.detail),
                Value::Null,
            ),
        };
        let mut record = json!({
            "output_id": output_id,
            "device": device,
            "purpose": intent["purpose"],
            "outcome": outcome.as_str(),
            "detail": detail,
            "intent_seq": intent_seq,
        });
        if let Some(t) = intent.get("ticket") {
            record["ticket"] = t.clone();
        }
        extra(&outcome, &mut record);
        // The result must be written whatever it is; if the journal fails now the intent
        // stays open and is closed as interrupted at the next start.
        let result_seq = self.journal("output.result", record)?;
        if outcome == OutputOutcome::Failed {
            tracing::warn!(%output_id, device, %detail, "output failed");
        }
        Ok(OutputRecord {
            output_id,
            outcome,
            detail,
            result,
            intent_seq: Some(intent_seq),
            result_seq,
        })
    }

    /// Prints a receipt (`args` as the `print` action takes them).
    pub fn print_receipt(
        &self,
        printer: &str,
        purpose: &str,
        args: Value,
    ) -> Result<OutputRecord, OutputError> {
        let intent = json!({ "kind": "receipt", "purpose": purpose });
        self.two_phase(intent, printer, "print", args, |_, _| {})
    }

    /// Prints a PDF on an A4 printer and follows the job to its end.
    pub fn print_a4(
        &self,
        printer: &str,
        purpose: &str,
        pdf_path: &str,
        copies: u32,
        duplex: bool,
    ) -> Result<OutputRecord, OutputError> {
        let digest = std::fs::read(pdf_path)
            .map(|b| hex::encode(Sha256::digest(&b)))
            .unwrap_or_default();
        let intent = json!({
            "kind": "a4",
            "purpose": purpose,
            "document_sha256": digest,
            "copies": copies,
            "duplex": duplex,
        });
        let args = json!({ "path": pdf_path, "copies": copies, "duplex": duplex });
        self.two_phase(intent, printer, "ipp-print", args, |_, _| {})
    }

    /// Takes a number from the centre and prints it. The ticket counts only if the printer
    /// confirmed it; the centre voids it otherwise when the result arrives.
    pub fn issue_ticket(
        &self,
        order: &TicketOrder<'_>,
    ) -> Result<(Ticket, OutputRecord), OutputError> {
        let centre = self.centre.as_ref().ok_or_else(|| {
            OutputError::Centre(
                "ticket numbers come from the central service; none is configured".into(),
            )
        })?;
        let req = TicketRequest {
            device_id: self.device_id(),
            request_id: uuid::Uuid::new_v4().to_string(),
            prefix: order.prefix.to_string(),
        };
        let ticket = centre
            .issue_ticket(order.hall, order.service, &req)
            .map_err(|e| OutputError::Centre(e.to_string()))?;
        let intent = json!({
            "kind": "receipt",
            "purpose": "queue-ticket",
            "ticket": {
                "hall": ticket.hall, "service": ticket.service,
                "day": ticket.day, "number": ticket.number,
            },
        });
        let args = json!({
            "template": "queue-ticket",
            "hall": order.hall_name,
            "number": ticket.number,
            "service": order.service_name,
            "waiting": order.waiting,
            "issued_at": order.issued_at,
            "qr_url": format!("{}/{}", order.queue_url.trim_end_matches('/'), ticket.number),
        });
        let record = self.two_phase(intent, order.printer, "print", args, |_, _| {})?;
        Ok((ticket, record))
    }

    /// One seal impression: a one-time authorisation (the centre's, or a local one when the
    /// configured offline policy allows), the impression, and a photo of the stamped page when
    /// the terminal has a document camera.
    pub fn stamp(&self, order: &SealOrder<'_>) -> Result<OutputRecord, OutputError> {
        let device_id = self.device_id();
        let document_sha256 = hex::encode(Sha256::digest(order.document));
        let authorised = match &self.centre {
            Some(c) => {
                let req = SealAuthorisationRequest {
                    device_id: device_id.clone(),
                    request_id: uuid::Uuid::new_v4().to_string(),
                    seal: order.seal,
                    document_sha256: document_sha256.clone(),
                    purpose: order.purpose.to_string(),
                };
                match c
                    .authorise_seal(&req)
                    .and_then(|a| c.consume_seal(&a.id, &device_id))
                {
                    Ok(a) => Ok((a.id, "centre")),
                    Err(CentreCallError::Unreachable(e)) => Err((true, e)),
                    Err(e) => Err((false, e.to_string())),
                }
            }
            None => Err((true, "no central service configured".into())),
        };
        let (authorisation, source) = match authorised {
            Ok(a) => a,
            Err((true, why)) if self.seal_offline == SealOffline::Local => {
                tracing::warn!(%why, "seal authorised locally under the offline policy");
                (format!("LOCAL-{}", uuid::Uuid::new_v4().simple()), "local")
            }
            Err((offline, why)) => {
                let detail = if offline {
                    format!("no authorisation: the centre is unreachable ({why}) and the offline policy refuses")
                } else {
                    format!("no authorisation: {why}")
                };
                return self.refused(order, &document_sha256, detail);
            }
        };
        let intent = json!({
            "kind": "seal",
            "purpose": order.purpose,
            "authorisation": authorisation,
            "authorisation_source": source,
            "seal": order.seal,
            "position": { "x": order.x, "y": order.y },
            "document_sha256": document_sha256,
        });
        let args = json!({
            "seal": order.seal, "x": order.x, "y": order.y, "authorisation": authorisation,
        });
        let photo = |outcome: &OutputOutcome, record: &mut Value| {
            record["authorisation"] = json!(authorisation);
            record["seal"] = json!(order.seal);
            record["position"] = json!({ "x": order.x, "y": order.y });
            if *outcome != OutputOutcome::Printed {
                return;
            }
            record["photo"] = self.photograph_stamped_page();
        };
        self.two_phase(intent, order.device, "stamp", args, photo)
    }

    fn refused(
        &self,
        order: &SealOrder<'_>,
        document_sha256: &str,
        detail: String,
    ) -> Result<OutputRecord, OutputError> {
        let output_id = format!("out-{}", uuid::Uuid::new_v4().simple());
        let result_seq = self.journal(
            "output.result",
            json!({
                "output_id": output_id,
                "device": order.device,
                "kind": "seal",
                "purpose": order.purpose,
                "outcome": "refused",
                "detail": detail,
                "seal": order.seal,
                "document_sha256": document_sha256,
            }),
        )?;
        Ok(OutputRecord {
            output_id,
            outcome: OutputOutcome::Refused,
            detail,
            result: Value::Null,
            intent_seq: None,
            result_seq,
        })
    }

    /// A document-camera still of the stamped page, when the terminal has a document camera.
    fn photograph_stamped_page(&self) -> Value {
        let camera = self
            .rt
            .devices
            .iter()
            .find(|d| d.spec.kind == DeviceKind::DocumentCamera);
        match camera {
            None => json!({ "taken": false, "why": "this terminal has no document camera" }),
            Some(d) => match self.rt.call(
                &d.spec.id,
                "capture",
                json!({ "purpose": "seal-evidence" }),
                self.timeout,
            ) {
                Ok(v) => json!({ "taken": true, "camera": d.spec.id, "capture": v }),
                Err(e) => json!({ "taken": false, "camera": d.spec.id, "why": e.detail }),
            },
        }
    }
}
