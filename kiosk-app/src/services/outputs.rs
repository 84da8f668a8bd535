//! Physical outputs in two phases. A queue ticket, a receipt, an A4 print or a seal impression
//! counts only after the device confirmed it, so each one is written to the outbox twice: an
//! `output.intent` — durably, before the device is told anything — and an `output.result` after
//! the device answered. An intent without a result (the terminal died in between) is closed as
//! interrupted at the next start. The centre learns both through the normal sync and settles
//! what depends on them (a ticket whose print failed is void and never called).

use std::sync::Arc;
use std::time::Duration;

use kiosk_hal::DeviceKind;
use kiosk_protocol::wire::{SealAuthorisationRequest, Ticket, TicketRequest};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::centre::{BlockingCentre, CentreError};
use crate::config::SealOffline;
use crate::journal::{Journal, OutboxError};
use crate::runtime::{CallError, Claim, Runtime};

/// Whether `action` on a device of `kind` makes something physical (paper, an impression), and
/// so must go through the desk as an intent/result pair whoever asks for it.
pub fn is_output(kind: DeviceKind, action: &str) -> bool {
    matches!(
        (kind, action),
        (
            DeviceKind::ReceiptPrinter,
            "print" | "print-test" | "print-file"
        ) | (DeviceKind::A4Printer, "ipp-print" | "print-test")
            | (DeviceKind::SealModule, "stamp")
    )
}

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
    Centre(#[from] CentreError),
    #[error("no central service is configured for {0}")]
    NoCentre(&'static str),
}

/// A queue ticket to print: which hall and service, and what the ticket shows besides its
/// number. The ticket request comes numbered from the centre first.
pub struct TicketOrder<'a> {
    pub hall: &'a str,
    pub hall_name: &'a str,
    pub service: &'a str,
    pub service_name: &'a str,
    pub issued_at: &'a str,
    pub queue_url: &'a str,
}

/// One seal impression to make.
pub struct SealOrder<'a> {
    pub seal: u8,
    pub x: u16,
    pub y: u16,
    pub document: &'a [u8],
    pub purpose: &'a str,
}

/// Where outputs are made and recorded: every ticket, receipt, A4 print and impression,
/// whether a journey, a remote command or the terminal itself asks. It runs on the caller's
/// thread (device calls block); the caller holds the claim on the device.
#[derive(Clone)]
pub struct OutputDesk {
    pub rt: Arc<Runtime>,
    pub journal: Journal,
    pub centre: Option<BlockingCentre>,
    pub seal_offline: SealOffline,
    pub timeout: Duration,
}

impl OutputDesk {
    fn journal(&self, kind: &str, payload: Value) -> Result<u64, OutboxError> {
        Ok(self.journal.lock().enqueue(kind, payload)?.seq)
    }

    fn device_id(&self) -> String {
        self.journal.lock().device_id().to_string()
    }

    /// Any output action a device offers (`print-test`, `print-file`, `ipp-print` …), as an
    /// intent/result pair: what remote commands and the technicians' tools use.
    pub fn device_output(
        &self,
        claim: &Claim,
        action: &str,
        args: Value,
        purpose: &str,
    ) -> Result<OutputRecord, OutputError> {
        let kind = self
            .rt
            .device(claim.device())
            .map(|d| d.spec.kind.to_string())
            .unwrap_or_default();
        let intent = json!({ "kind": kind, "purpose": purpose });
        self.two_phase(intent, claim, action, args, |_, _| {})
    }

    /// Records the intent, runs the device action, records the result.
    fn two_phase(
        &self,
        mut intent: Value,
        claim: &Claim,
        action: &str,
        args: Value,
        extra: impl FnOnce(&OutputOutcome, &mut Value),
    ) -> Result<OutputRecord, OutputError> {
        let device = claim.device();
        let output_id = format!("out-{}", uuid::Uuid::new_v4().simple());
        intent["output_id"] = json!(output_id);
        intent["device"] = json!(device);
        intent["action"] = json!(action);
        let intent_seq = self.journal("output.intent", intent.clone())?;
        let answer = self.rt.call(claim, action, args, self.timeout);
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
            // Refused before the device was told anything (another owner holds it).
            Err(
                e @ (CallError::HeldBy { .. }
                | CallError::NotClaimed { .. }
                | CallError::Expired { .. }
                | CallError::UnknownDevice(_)),
            ) => (OutputOutcome::Refused, e.to_string(), Value::Null),
            Err(e) => (
                OutputOutcome::Failed,
                format!("{}: {}", e.code(), e.detail()),
                json!({ "completion": e.code() }),
            ),
        };
        let mut record = json!({
            "output_id": output_id,
            "kind": intent["kind"],
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
        if matches!(outcome, OutputOutcome::Printed | OutputOutcome::Unconfirmed)
            && intent["kind"] != "seal"
        {
            self.rt.count_use("prints");
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
        printer: &Claim,
        purpose: &str,
        args: Value,
    ) -> Result<OutputRecord, OutputError> {
        let intent = json!({ "kind": "receipt", "purpose": purpose });
        self.two_phase(intent, printer, "print", args, |_, _| {})
    }

    /// Prints a PDF on an A4 printer and follows the job to its end.
    pub fn print_a4(
        &self,
        printer: &Claim,
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

    /// Takes a number from the centre for `request` (its request id makes a retry after a
    /// lost answer give the same number).
    pub fn number_ticket(
        &self,
        hall: &str,
        service: &str,
        request: &TicketRequest,
    ) -> Result<Ticket, OutputError> {
        let centre = self
            .centre
            .as_ref()
            .ok_or(OutputError::NoCentre("ticket numbers"))?;
        Ok(centre.issue_ticket(hall, service, request)?)
    }

    /// Prints a ticket the centre numbered. It counts only if the printer confirmed it; the
    /// centre voids it otherwise when the result arrives.
    pub fn print_ticket(
        &self,
        printer: &Claim,
        ticket: &Ticket,
        order: &TicketOrder<'_>,
    ) -> Result<OutputRecord, OutputError> {
        let intent = json!({
            "kind": "receipt",
            "purpose": "queue-ticket",
            "ticket": {
                "hall": ticket.hall, "service": ticket.service,
                "day": ticket.day, "number": ticket.number,
            },
        });
        let mut args = json!({
            "template": "queue-ticket",
            "hall": order.hall_name,
            "number": ticket.number,
            "service": order.service_name,
            "waiting": (!ticket.offline).then_some(ticket.ahead),
            "issued_at": order.issued_at,
        });
        if !order.queue_url.is_empty() {
            args["qr_url"] = json!(format!(
                "{}/{}",
                order.queue_url.trim_end_matches('/'),
                ticket.number
            ));
        }
        self.two_phase(intent, printer, "print", args, |_, _| {})
    }

    /// Numbers a ticket at the centre and prints it: [`Self::number_ticket`] then
    /// [`Self::print_ticket`].
    pub fn issue_ticket(
        &self,
        printer: &Claim,
        prefix: &str,
        order: &TicketOrder<'_>,
    ) -> Result<(Ticket, OutputRecord), OutputError> {
        let req = TicketRequest {
            device_id: self.device_id(),
            request_id: uuid::Uuid::new_v4().to_string(),
            prefix: prefix.to_string(),
            appointment: None,
            holder: None,
            age: None,
        };
        let ticket = self.number_ticket(order.hall, order.service, &req)?;
        let record = self.print_ticket(printer, &ticket, order)?;
        Ok((ticket, record))
    }

    /// One seal impression: a one-time authorisation (the centre's, or a local one when the
    /// configured offline policy allows), the impression, and a photo of the stamped page when
    /// the terminal has a document camera.
    pub fn stamp(&self, seal: &Claim, order: &SealOrder<'_>) -> Result<OutputRecord, OutputError> {
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
                match c.authorise_seal(&req).and_then(|a| c.consume_seal(&a.id)) {
                    Ok(a) => Ok((a.id, "centre")),
                    Err(CentreError::Unreachable(e)) => Err((true, e)),
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
                return self.refused(seal.device(), order, &document_sha256, detail);
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
            record["photo"] = self.photograph_stamped_page(seal);
        };
        self.two_phase(intent, seal, "stamp", args, photo)
    }

    fn refused(
        &self,
        device: &str,
        order: &SealOrder<'_>,
        document_sha256: &str,
        detail: String,
    ) -> Result<OutputRecord, OutputError> {
        let output_id = format!("out-{}", uuid::Uuid::new_v4().simple());
        let result_seq = self.journal(
            "output.result",
            json!({
                "output_id": output_id,
                "device": device,
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

    /// A document-camera still of the stamped page, when the terminal has a document camera;
    /// the camera is claimed for the seal's owner for the one picture.
    fn photograph_stamped_page(&self, seal: &Claim) -> Value {
        let Some(d) = self.rt.first_of(DeviceKind::DocumentCamera) else {
            return json!({ "taken": false, "why": "this terminal has no document camera" });
        };
        let id = d.spec.id.clone();
        let camera = match self.rt.claim(
            &id,
            seal.owner().clone(),
            self.timeout,
            Duration::from_secs(5),
        ) {
            Ok(c) => c,
            Err(e) => return json!({ "taken": false, "camera": id, "why": e.to_string() }),
        };
        match self.rt.call(
            &camera,
            "capture",
            json!({ "purpose": "seal-evidence" }),
            self.timeout,
        ) {
            Ok(v) => json!({ "taken": true, "camera": id, "capture": v }),
            Err(e) => json!({ "taken": false, "camera": id, "why": e.detail() }),
        }
    }
}
