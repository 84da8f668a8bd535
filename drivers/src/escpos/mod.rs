//! ESC/POS receipt printers over serial, USB bulk, TCP 9100 or `/dev/usb/lp*`. A job counts as
//! printed only when the printer confirms it: status is checked before anything is sent, the
//! job is followed by GS r 1 — answered only once the printer has processed everything before
//! it — and status is read again after. One-way printers cannot confirm; their jobs come back
//! `unconfirmed`, and the configured policy says whether that is a failure.
//! Facts: shared/protocols/escpos-ipp.md.

pub mod doc;
pub mod parse;
pub mod render;
pub mod sim;
pub mod status;
pub mod templates;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use kiosk_hal::actor::{ActionSpec, CommandContext, Device};
use kiosk_hal::device::{
    CommandError, CompletionCode, DeviceInfo, Health, HealthReport, SubStatus,
};
use kiosk_hal::transport::{Endpoint, Transport, TransportError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use doc::{Align, Block, Paper, Receipt};
pub use status::PrinterStatus;

use self::status::{StatusError, DLE_EOT, GS_R_PAPER};
use self::templates::Template;
use crate::{DeviceSpec, DriverError};

pub const DRIVER: &str = "escpos";
const OPTIONS: &[&str] = &["paper", "status", "unconfirmed", "job_timeout_ms"];
const REPLY_TIMEOUT: Duration = Duration::from_millis(400);
/// How often a running job's real-time status is read while waiting for its confirmation.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// How the printer tells its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusMode {
    /// Real-time DLE EOT requests (the default).
    DleEot,
    /// Automatic status back (GS a) blocks on every change, plus DLE EOT for job checks.
    AutoStatus,
    /// A one-way printer: no status at all.
    None,
}

/// What an unconfirmable job counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnconfirmedPolicy {
    /// The job succeeds, marked `unconfirmed`; the two-phase record says so.
    Report,
    /// The job fails: nothing is counted as issued without a confirmation.
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobOutcome {
    /// The printer confirmed it processed the whole job and reports no fault.
    Printed,
    /// Sent, but the printer cannot say whether it printed.
    Unconfirmed,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub outcome: JobOutcome,
    pub bytes: usize,
    pub elapsed_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_after: Option<PrinterStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("the printer did not answer status request {0}")]
    NoStatus(String),
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error("not printed: {0}")]
    NotReady(String),
    #[error("the job failed: {0}")]
    Failed(String),
}

impl From<PrinterError> for CommandError {
    fn from(e: PrinterError) -> Self {
        let detail = e.to_string();
        match e {
            PrinterError::Transport(t) => t.into(),
            PrinterError::NoStatus(_) => CommandError::timeout(detail),
            PrinterError::Status(_) => CommandError::hardware(detail),
            PrinterError::NotReady(m) | PrinterError::Failed(m) => {
                let code = if m.contains("paper") || m.contains("cover") {
                    CompletionCode::UserError
                } else {
                    CompletionCode::HardwareError
                };
                CommandError::new(code, detail)
            }
        }
    }
}

pub struct ReceiptPrinter {
    info: DeviceInfo,
    endpoint: Endpoint,
    link: Option<Box<dyn Transport>>,
    paper: Paper,
    mode: StatusMode,
    unconfirmed: UnconfirmedPolicy,
    job_timeout: Duration,
    /// Bytes read but not yet consumed (an automatic status block may interleave replies).
    inbox: Vec<u8>,
    last: PrinterStatus,
    /// A job's GS r is out and its answer not yet taken: status queries must not throw it away.
    awaiting_confirmation: bool,
}

/// Whether a byte read back can be a job's GS r answer: those have bits 4 and 7 clear, which
/// a DLE EOT status answer never has.
fn may_be_confirmation(b: u8) -> bool {
    b & 0x90 == 0
}

fn parse_enum<T: for<'de> Deserialize<'de>>(
    v: &str,
    what: &str,
    allowed: &str,
) -> Result<T, String> {
    serde_json::from_value(Value::String(v.to_string()))
        .map_err(|_| format!("option `{what}` = {v:?}: use one of {allowed}"))
}

impl ReceiptPrinter {
    pub fn from_spec(spec: &DeviceSpec) -> Result<Self, DriverError> {
        let cfg = |m: String| DriverError::config(spec, m);
        spec.check_options(OPTIONS).map_err(cfg)?;
        let endpoint = spec.endpoint().map_err(cfg)?;
        let paper = match spec.opt_str("paper").map_err(cfg)? {
            Some(p) => Paper::parse(p).map_err(cfg)?,
            None => Paper::Mm80,
        };
        let mode = match spec.opt_str("status").map_err(cfg)? {
            Some(m) => {
                parse_enum(m, "status", "\"dle-eot\", \"auto-status\", \"none\"").map_err(cfg)?
            }
            None => StatusMode::DleEot,
        };
        let unconfirmed = match spec.opt_str("unconfirmed").map_err(cfg)? {
            Some(m) => parse_enum(m, "unconfirmed", "\"report\", \"fail\"").map_err(cfg)?,
            None => UnconfirmedPolicy::Report,
        };
        let job_timeout = Duration::from_millis(
            spec.opt_u64("job_timeout_ms")
                .map_err(cfg)?
                .unwrap_or(20_000),
        );
        let mut info = DeviceInfo::new(&spec.id, spec.kind, DRIVER);
        info.transport = endpoint.describe();
        info.model = format!(
            "ESC/POS receipt printer, {} roll",
            match paper {
                Paper::Mm58 => "58 mm",
                Paper::Mm80 => "80 mm",
            }
        );
        Ok(ReceiptPrinter {
            info,
            endpoint,
            link: None,
            paper,
            mode,
            unconfirmed,
            job_timeout,
            inbox: Vec::new(),
            awaiting_confirmation: false,
            last: PrinterStatus::default(),
        })
    }

    pub fn paper(&self) -> Paper {
        self.paper
    }

    fn link(&mut self) -> Result<&mut Box<dyn Transport>, TransportError> {
        if self.link.is_none() {
            self.inbox.clear();
            let mut l = self.endpoint.open()?;
            if self.mode == StatusMode::AutoStatus {
                // Enable every status group; the printer answers with its current block.
                l.write_all(&[0x1D, 0x61, 0x0F])?;
                l.flush()?;
            }
            self.link = Some(l);
        }
        self.link
            .as_mut()
            .ok_or_else(|| TransportError::Disconnected("link closed".into()))
    }

    fn drop_on<T>(&mut self, r: Result<T, TransportError>) -> Result<T, PrinterError> {
        if let Err(e) = &r {
            if e.needs_reopen() {
                self.link = None;
            }
        }
        r.map_err(PrinterError::from)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        let r = self.link().and_then(|l| {
            l.write_all(bytes)?;
            l.flush()
        });
        self.drop_on(r)
    }

    /// Reads more bytes into the inbox; false when none came within `timeout`.
    fn fill(&mut self, timeout: Duration) -> Result<bool, PrinterError> {
        let mut buf = [0u8; 64];
        let r = self.link().and_then(|l| l.read(&mut buf, timeout));
        match r {
            Ok(n) => {
                self.inbox.extend_from_slice(&buf[..n]);
                Ok(true)
            }
            Err(TransportError::Timeout(_)) => Ok(false),
            Err(e) => self.drop_on(Err(e)),
        }
    }

    /// Takes automatic status blocks off the front of the inbox. Their first byte has bit 4
    /// set; no single-byte reply this driver asks for does (DLE EOT replies are consumed by
    /// `take_reply` only while one is awaited).
    fn take_auto_status(&mut self) -> Result<(), PrinterError> {
        while self.mode == StatusMode::AutoStatus
            && self.inbox.first().is_some_and(|b| b & 0x93 == 0x10)
            && self.inbox.len() >= 4
        {
            let block = [self.inbox[0], self.inbox[1], self.inbox[2], self.inbox[3]];
            self.inbox.drain(..4);
            self.last.apply_auto_status(block)?;
        }
        Ok(())
    }

    /// Waits for one reply byte that `accept` recognises.
    fn take_reply(
        &mut self,
        accept: impl Fn(u8) -> bool,
        timeout: Duration,
    ) -> Result<Option<u8>, PrinterError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.take_auto_status()?;
            if let Some(pos) = self.inbox.iter().position(|&b| accept(b)) {
                let b = self.inbox[pos];
                // Anything before it is noise on the line — except a job's confirmation that
                // came first, which waits for the job.
                let kept: Vec<u8> = if self.awaiting_confirmation {
                    self.inbox[..pos]
                        .iter()
                        .copied()
                        .filter(|&b| may_be_confirmation(b))
                        .collect()
                } else {
                    Vec::new()
                };
                self.inbox.drain(..=pos);
                self.inbox.splice(0..0, kept);
                return Ok(Some(b));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.fill(left.min(Duration::from_millis(50)))?;
        }
    }

    /// Reads the four real-time status groups.
    pub fn query_status(&mut self) -> Result<PrinterStatus, PrinterError> {
        if self.awaiting_confirmation {
            // Late answers to an earlier status request go, but a job's confirmation may be
            // among what already arrived: read it all and keep the bytes that can be one.
            if self.link.is_some() {
                for _ in 0..64 {
                    if !self.fill(Duration::from_millis(1))? {
                        break;
                    }
                }
            }
            self.take_auto_status()?;
            self.inbox.retain(|&b| may_be_confirmation(b));
        } else {
            if let Some(l) = self.link.as_mut() {
                let r = l.discard_input();
                self.drop_on(r)?;
            }
            self.inbox.clear();
        }
        let mut s = self.last;
        // The four requests go out together: a printer answers real-time requests in the order
        // received, one byte each, so one round trip serves all four.
        let mut requests = Vec::with_capacity(12);
        for n in 1..=4u8 {
            requests.extend_from_slice(&[DLE_EOT[0], DLE_EOT[1], n]);
        }
        self.write(&requests)?;
        for n in 1..=4u8 {
            let Some(b) = self.take_reply(|b| b & 0x93 == 0x12, REPLY_TIMEOUT)? else {
                return Err(PrinterError::NoStatus(format!("DLE EOT {n}")));
            };
            s.apply_real_time(n, b)?;
        }
        self.last = s;
        Ok(s)
    }

    /// `query_status`, asked once more when the first request went unanswered: a reply lost
    /// on a busy line (or a printer finishing a cut) is not yet a printer gone offline.
    fn query_status_again(&mut self) -> Result<PrinterStatus, PrinterError> {
        match self.query_status() {
            Err(PrinterError::NoStatus(what)) => {
                tracing::warn!(device = %self.info.id, "no answer to {what}; asking again");
                self.query_status()
            }
            other => other,
        }
    }

    /// Prints one job and says whether the printer confirmed it.
    pub fn print_job(&mut self, bytes: &[u8]) -> Result<JobReport, PrinterError> {
        let r = self.print_job_confirmed(bytes);
        self.awaiting_confirmation = false;
        r
    }

    fn print_job_confirmed(&mut self, bytes: &[u8]) -> Result<JobReport, PrinterError> {
        let started = Instant::now();
        if self.mode == StatusMode::None {
            self.write(bytes)?;
            return match self.unconfirmed {
                UnconfirmedPolicy::Report => Ok(JobReport {
                    outcome: JobOutcome::Unconfirmed,
                    bytes: bytes.len(),
                    elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
                    status_after: None,
                    warnings: vec!["one-way printer: the job was sent but cannot be confirmed".into()],
                }),
                UnconfirmedPolicy::Fail => Err(PrinterError::Failed(
                    "one-way printer: the job cannot be confirmed, and policy counts that as a failure"
                        .into(),
                )),
            };
        }
        let before = self.query_status_again()?;
        if let Some(problem) = before.blocking_problem() {
            return Err(PrinterError::NotReady(problem.into()));
        }
        self.write(bytes)?;
        self.write(&GS_R_PAPER)?;
        self.awaiting_confirmation = true;
        // Wait for the in-order reply, reading real-time status now and then: a printer that
        // stopped mid-job never reaches the GS r, but says why at once.
        let deadline = started + self.job_timeout;
        let mut confirmed = None;
        while Instant::now() < deadline {
            if let Some(b) = self.take_reply(may_be_confirmation, FOLLOW_EVERY)? {
                confirmed = Some(b);
                break;
            }
            // A printer busy taking in the job may leave a real-time request unanswered for a
            // while; silence is not a fault, the job's deadline decides.
            match self.query_status() {
                Ok(mid) => {
                    if let Some(problem) = mid.blocking_problem() {
                        return Err(PrinterError::Failed(problem.into()));
                    }
                }
                Err(PrinterError::NoStatus(what)) => {
                    tracing::debug!(device = %self.info.id, "no answer to {what} while printing");
                }
                Err(e) => return Err(e),
            }
        }
        self.awaiting_confirmation = false;
        let Some(paper) = confirmed else {
            return Err(PrinterError::Failed(format!(
                "no confirmation within {:?}",
                self.job_timeout
            )));
        };
        let mut after = self.query_status_again()?;
        after.apply_paper_sensor(paper)?;
        if let Some(problem) = after.blocking_problem() {
            return Err(PrinterError::Failed(problem.into()));
        }
        let mut warnings = Vec::new();
        if after.paper_near_end {
            warnings.push("paper roll nearly used up".into());
        }
        Ok(JobReport {
            outcome: JobOutcome::Printed,
            bytes: bytes.len(),
            elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
            status_after: Some(after),
            warnings,
        })
    }

    fn print_receipt(&mut self, r: &Receipt, ctx: &CommandContext) -> Result<Value, CommandError> {
        let bytes = r
            .encode()
            .map_err(|e| CommandError::invalid(e.to_string()))?;
        ctx.cancel.check()?;
        let r = self.print_job(&bytes);
        self.finish(r)
    }

    fn finish(&mut self, r: Result<JobReport, PrinterError>) -> Result<Value, CommandError> {
        let report = r?;
        if report.outcome == JobOutcome::Unconfirmed {
            tracing::warn!(device = %self.info.id, "receipt sent to a one-way printer: unconfirmed");
        }
        Ok(serde_json::to_value(report).unwrap_or(Value::Null))
    }
}

impl Device for ReceiptPrinter {
    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    fn poll(&mut self) -> HealthReport {
        if let Err(e) = self.link() {
            let e = PrinterError::from(e);
            self.link = None;
            let health = match e {
                PrinterError::Transport(TransportError::NoDevice(_)) => Health::NoDevice,
                _ => Health::Offline,
            };
            return HealthReport::new(health).with_detail(e.to_string());
        }
        if self.mode == StatusMode::None {
            return HealthReport::new(Health::Unknown)
                .with_sub(SubStatus::StatusUnknown)
                .with_detail("one-way printer: status cannot be read");
        }
        match self.query_status_again() {
            Ok(s) => {
                let h = s.health();
                if h.detail.is_empty() {
                    let roll = match self.paper {
                        Paper::Mm58 => "58 mm",
                        Paper::Mm80 => "80 mm",
                    };
                    h.with_detail(format!("ready · {roll} roll"))
                } else {
                    h
                }
            }
            Err(e) => {
                // A printer that stops answering is reopened on the next poll.
                self.link = None;
                HealthReport::new(Health::Offline).with_detail(e.to_string())
            }
        }
    }

    fn self_test(&mut self, _ctx: &CommandContext) -> Result<Value, CommandError> {
        if self.mode == StatusMode::None {
            self.link()?;
            return Ok(json!({ "status": "unknown", "one_way": true }));
        }
        let s = self.query_status()?;
        Ok(json!({ "status": s, "problem": s.blocking_problem() }))
    }

    fn actions(&self) -> Vec<ActionSpec> {
        vec![
            ActionSpec {
                name: "print",
                summary: "print a receipt document or a template; confirmed by the printer",
                args: &[
                    "receipt=a receipt document {paper, blocks:[…]}",
                    "template=queue-ticket | application-receipt | print-record | material-list, with its fields",
                ],
            },
            ActionSpec {
                name: "print-test",
                summary: "print the test page (CJK text, sizes, alignment, barcode, QR, image)",
                args: &[],
            },
            ActionSpec {
                name: "print-file",
                summary: "send a file of ESC/POS bytes as one job",
                args: &["path=file of ESC/POS bytes"],
            },
            ActionSpec {
                name: "status",
                summary: "read the real-time status (DLE EOT 1-4)",
                args: &[],
            },
        ]
    }

    fn run(
        &mut self,
        action: &str,
        args: &Value,
        ctx: &CommandContext,
    ) -> Result<Value, CommandError> {
        match action {
            "print" => {
                let receipt = if let Some(r) = args.get("receipt") {
                    serde_json::from_value::<Receipt>(r.clone())
                        .map_err(|e| CommandError::invalid(format!("receipt: {e}")))?
                } else if args.get("template").is_some() {
                    let t: Template = serde_json::from_value(args.clone())
                        .map_err(|e| CommandError::invalid(format!("template: {e}")))?;
                    t.receipt(self.paper).map_err(CommandError::invalid)?
                } else {
                    return Err(CommandError::invalid("print needs `receipt` or `template`"));
                };
                self.print_receipt(&receipt, ctx)
            }
            "print-test" => {
                let page = templates::test_page(self.paper, &self.info.id);
                self.print_receipt(&page, ctx)
            }
            "print-file" => {
                let path = args
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or_else(|| CommandError::invalid("print-file needs path=FILE"))?;
                let bytes = std::fs::read(path)
                    .map_err(|e| CommandError::invalid(format!("{path}: {e}")))?;
                let (_, rest) = parse::parse_all(&bytes);
                if !rest.is_empty() {
                    return Err(CommandError::invalid(format!(
                        "{path} ends inside a command ({} bytes left over); not sent",
                        rest.len()
                    )));
                }
                ctx.cancel.check()?;
                let r = self.print_job(&bytes);
                self.finish(r)
            }
            "status" => {
                if self.mode == StatusMode::None {
                    return Err(CommandError::new(
                        CompletionCode::Unsupported,
                        "one-way printer: no status",
                    ));
                }
                let s = self.query_status()?;
                Ok(
                    json!({ "status": s, "problem": s.blocking_problem(), "health": s.health().health.as_str() }),
                )
            }
            other => Err(CommandError::unsupported(format!(
                "the receipt printer has no action {other:?}"
            ))),
        }
    }
}
