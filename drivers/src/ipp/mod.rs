//! A4 printers over IPP (the `ipp` crate's blocking client). PDF jobs are submitted with
//! Print-Job and followed with Get-Job-Attributes until they complete, abort or are canceled;
//! only `completed` counts as printed. A queue that is stopped or not accepting jobs is refused
//! before anything is sent, and a job stuck behind a printer that stopped is canceled rather
//! than left to print later for nobody. printer-state and printer-state-reasons map to health.

pub mod cups;
pub mod sim;
pub mod testpage;

use std::time::{Duration, Instant};

use ipp::operation::IppOperation;
use ipp::prelude::*;
use kiosk_hal::actor::{ActionSpec, CommandContext, Device};
use kiosk_hal::device::{
    CommandError, CompletionCode, DeviceInfo, Health, HealthReport, SubStatus,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::{DeviceSpec, DriverError};

pub const DRIVER: &str = "ipp";
const OPTIONS: &[&str] = &[
    "uri",
    "user",
    "job_timeout_ms",
    "follow_ms",
    "media",
    "sim_printer",
];

#[derive(Debug, thiserror::Error)]
pub enum IppFailure {
    #[error("IPP request failed: {0}")]
    Request(String),
    #[error("the printer answered {status:?} to {operation}")]
    Status {
        operation: &'static str,
        status: String,
    },
    #[error("the printer's answer lacks {0}")]
    Missing(&'static str),
    #[error("not printed: {0}")]
    NotReady(String),
    #[error("job {job} {state}: {reasons}")]
    JobFailed {
        job: i32,
        state: JobState,
        reasons: String,
    },
    #[error("job {job} did not finish within {waited:?} (last state {state})")]
    JobTimeout {
        job: i32,
        waited: Duration,
        state: JobState,
    },
}

impl From<IppFailure> for CommandError {
    fn from(e: IppFailure) -> Self {
        let detail = e.to_string();
        match e {
            IppFailure::Request(_) => CommandError::new(CompletionCode::NotReady, detail),
            IppFailure::Status { .. } | IppFailure::Missing(_) => CommandError::hardware(detail),
            IppFailure::NotReady(m) => {
                let user = [
                    "media", "paper", "cover", "door", "jam", "paused", "stopped",
                ]
                .iter()
                .any(|w| m.contains(w));
                CommandError::new(
                    if user {
                        CompletionCode::UserError
                    } else {
                        CompletionCode::NotReady
                    },
                    detail,
                )
            }
            IppFailure::JobFailed { state, .. } => CommandError::new(
                if state == JobState::Canceled {
                    CompletionCode::Canceled
                } else {
                    CompletionCode::HardwareError
                },
                detail,
            ),
            IppFailure::JobTimeout { .. } => CommandError::timeout(detail),
        }
    }
}

/// RFC 8011 job-state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    Pending,
    PendingHeld,
    Processing,
    ProcessingStopped,
    Canceled,
    Aborted,
    Completed,
    Unknown,
}

impl JobState {
    pub fn from_enum(v: i32) -> JobState {
        match v {
            3 => JobState::Pending,
            4 => JobState::PendingHeld,
            5 => JobState::Processing,
            6 => JobState::ProcessingStopped,
            7 => JobState::Canceled,
            8 => JobState::Aborted,
            9 => JobState::Completed,
            _ => JobState::Unknown,
        }
    }
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Canceled | JobState::Aborted | JobState::Completed
        )
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self).ok();
        f.write_str(s.as_ref().and_then(Value::as_str).unwrap_or("unknown"))
    }
}

/// printer-state with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrinterState {
    /// idle, processing or stopped.
    pub state: String,
    pub reasons: Vec<String>,
    pub accepting: bool,
    pub message: String,
}

impl PrinterState {
    /// Maps the IPP state to the device model: people-fixable faults (paper, jam, cover) are
    /// user errors, supplies and connectivity are warnings or offline.
    pub fn health(&self) -> HealthReport {
        let mut sub = Vec::new();
        let mut user = false;
        let mut hardware = false;
        let mut offline = self.state == "stopped" || !self.accepting;
        for r in &self.reasons {
            // "-report" and "-warning" suffixes grade a reason; "-error" is the default.
            let (base, grade) = match r.rsplit_once('-') {
                Some((b, g @ ("report" | "warning" | "error"))) => (b, g),
                _ => (r.as_str(), "error"),
            };
            let serious = grade == "error";
            match base {
                "none" => {}
                "media-empty" | "media-needed" | "input-tray-missing" if serious => {
                    user = true;
                    sub.push(SubStatus::PaperOut);
                }
                "media-low" | "media-empty" | "media-needed" => sub.push(SubStatus::PaperNearEnd),
                "media-jam" => {
                    user = true;
                    sub.push(SubStatus::MediaJam);
                }
                "cover-open" | "door-open" | "interlock-open" => {
                    user = true;
                    sub.push(SubStatus::CoverOpen);
                }
                "toner-low" | "marker-supply-low" => sub.push(SubStatus::TonerLow),
                "toner-empty" | "marker-supply-empty" if serious => {
                    hardware = true;
                    sub.push(SubStatus::InkOut);
                }
                "offline" | "shutdown" | "connecting-to-device" | "timed-out" if serious => {
                    offline = true
                }
                "paused" => offline = true,
                _ => {}
            }
        }
        let health = if user {
            Health::UserError
        } else if hardware {
            Health::HardwareError
        } else if offline {
            Health::Offline
        } else if self.state == "processing" {
            Health::Busy
        } else {
            Health::Online
        };
        let mut r = HealthReport::new(health);
        for s in sub {
            r = r.with_sub(s);
        }
        let reasons: Vec<&str> = self
            .reasons
            .iter()
            .map(String::as_str)
            .filter(|r| *r != "none")
            .collect();
        let mut detail = self.state.clone();
        if !reasons.is_empty() {
            detail = format!("{detail} ({})", reasons.join(","));
        }
        if !self.message.is_empty() {
            detail = format!("{detail}: {}", self.message);
        }
        r.with_detail(detail)
    }

    /// Why a job must not be submitted now.
    pub fn refusal(&self) -> Option<String> {
        let h = self.health();
        match h.health {
            Health::Online | Health::Busy if self.accepting => None,
            _ if self.state == "stopped" => Some(format!("the printer is stopped: {}", h.detail)),
            _ if !self.accepting => {
                Some(format!("the printer is not accepting jobs: {}", h.detail))
            }
            _ => Some(h.detail),
        }
    }
}

/// What a finished job reports.
#[derive(Debug, Clone, Serialize)]
pub struct IppJobReport {
    pub job_id: i32,
    pub state: JobState,
    pub reasons: Vec<String>,
    pub submit_ms: f64,
    pub total_ms: f64,
}

/// Print settings for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobTicket {
    pub title: String,
    pub copies: i32,
    pub duplex: bool,
    pub media: String,
    /// Hold the job until released (job-hold-until=indefinite): print on the citizen's
    /// confirmation at the counter.
    pub hold: bool,
}

pub struct IppPrinter {
    info: DeviceInfo,
    uri: Uri,
    user: String,
    job_timeout: Duration,
    follow: Duration,
    media: String,
}

fn text(v: &IppValue) -> Option<String> {
    match v {
        IppValue::Keyword(s)
        | IppValue::TextWithoutLanguage(s)
        | IppValue::NameWithoutLanguage(s)
        | IppValue::Uri(s) => Some(s.clone()),
        IppValue::TextWithLanguage { text, .. } => Some(text.clone()),
        _ => None,
    }
}

fn keywords(v: Option<&IppAttribute>) -> Vec<String> {
    match v.map(IppAttribute::value) {
        Some(IppValue::Array(a)) => a.iter().filter_map(text).collect(),
        Some(v) => text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

impl IppPrinter {
    pub fn from_spec(spec: &DeviceSpec) -> Result<Self, DriverError> {
        let cfg = |m: String| DriverError::config(spec, m);
        spec.check_options(OPTIONS).map_err(cfg)?;
        let uri_text = spec.opt_str("uri").map_err(cfg)?.ok_or_else(|| {
            cfg("an IPP printer needs options.uri = \"ipp://host:631/printers/NAME\"".into())
        })?;
        let uri: Uri = uri_text
            .parse()
            .map_err(|e| cfg(format!("uri {uri_text:?}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("ipp" | "http")) {
            return Err(cfg(format!(
                "uri {uri_text:?}: use ipp:// (ipps needs TLS, not built in)"
            )));
        }
        let mut info = DeviceInfo::new(&spec.id, spec.kind, DRIVER);
        info.transport = uri_text.to_string();
        info.model = "IPP A4 printer".into();
        Ok(IppPrinter {
            info,
            uri,
            user: spec
                .opt_str("user")
                .map_err(cfg)?
                .unwrap_or("kiosk")
                .to_string(),
            job_timeout: Duration::from_millis(
                spec.opt_u64("job_timeout_ms")
                    .map_err(cfg)?
                    .unwrap_or(180_000),
            ),
            follow: Duration::from_millis(spec.opt_u64("follow_ms").map_err(cfg)?.unwrap_or(200)),
            media: spec
                .opt_str("media")
                .map_err(cfg)?
                .unwrap_or("iso_a4_210x297mm")
                .to_string(),
        })
    }

    fn client(&self) -> IppClient {
        IppClient::builder(self.uri.clone())
            .request_timeout(Duration::from_secs(20))
            .build()
    }

    fn send(
        &self,
        operation: &'static str,
        op: impl IppOperation,
    ) -> Result<IppRequestResponse, IppFailure> {
        let resp = self
            .client()
            .send(op)
            .map_err(|e| IppFailure::Request(e.to_string()))?;
        let status = resp.header().status_code();
        if !status.is_success() {
            return Err(IppFailure::Status {
                operation,
                status: format!("{status:?}"),
            });
        }
        Ok(resp)
    }

    pub fn printer_state(&self) -> Result<PrinterState, IppFailure> {
        let op = IppOperationBuilder::get_printer_attributes(self.uri.clone())
            .attributes([
                "printer-state",
                "printer-state-reasons",
                "printer-is-accepting-jobs",
                "printer-state-message",
            ])
            .build();
        let resp = self.send("Get-Printer-Attributes", op)?;
        let attrs = resp.attributes();
        let group = attrs
            .groups_of(DelimiterTag::PrinterAttributes)
            .next()
            .ok_or(IppFailure::Missing("printer attributes"))?
            .attributes();
        let state = match group.get("printer-state").map(IppAttribute::value) {
            Some(IppValue::Enum(3)) => "idle",
            Some(IppValue::Enum(4)) => "processing",
            Some(IppValue::Enum(5)) => "stopped",
            _ => return Err(IppFailure::Missing("printer-state")),
        };
        Ok(PrinterState {
            state: state.into(),
            reasons: keywords(group.get("printer-state-reasons")),
            accepting: !matches!(
                group
                    .get("printer-is-accepting-jobs")
                    .map(IppAttribute::value),
                Some(IppValue::Boolean(false))
            ),
            message: group
                .get("printer-state-message")
                .and_then(|a| text(a.value()))
                .unwrap_or_default(),
        })
    }

    /// Submits a PDF and returns its job id.
    pub fn submit(&self, pdf: Vec<u8>, ticket: &JobTicket) -> Result<i32, IppFailure> {
        let state = self.printer_state()?;
        if let Some(why) = state.refusal() {
            return Err(IppFailure::NotReady(why));
        }
        let sides = if ticket.duplex {
            "two-sided-long-edge"
        } else {
            "one-sided"
        };
        let op =
            IppOperationBuilder::print_job(
                self.uri.clone(),
                IppPayload::new(std::io::Cursor::new(pdf)),
            )
            .user_name(&self.user)
            .job_title(&ticket.title)
            .document_format("application/pdf")
            .attribute(IppAttribute::new(
                "copies",
                IppValue::Integer(ticket.copies),
            ))
            .attribute(IppAttribute::new("sides", IppValue::Keyword(sides.into())))
            .attribute(IppAttribute::new(
                "media",
                IppValue::Keyword(ticket.media.clone()),
            ))
            .attributes(ticket.hold.then(|| {
                IppAttribute::new("job-hold-until", IppValue::Keyword("indefinite".into()))
            }))
            .build();
        let resp = self.send("Print-Job", op)?;
        let id = resp
            .attributes()
            .groups_of(DelimiterTag::JobAttributes)
            .find_map(
                |g| match g.attributes().get("job-id").map(IppAttribute::value) {
                    Some(IppValue::Integer(id)) => Some(*id),
                    _ => None,
                },
            );
        id.ok_or(IppFailure::Missing("job-id"))
    }

    pub fn job_state(&self, job: i32) -> Result<(JobState, Vec<String>), IppFailure> {
        let op = IppOperationBuilder::get_job_attributes(self.uri.clone(), job)
            .user_name(&self.user)
            .build();
        let resp = self.send("Get-Job-Attributes", op)?;
        let attrs = resp.attributes();
        let group = attrs
            .groups_of(DelimiterTag::JobAttributes)
            .next()
            .ok_or(IppFailure::Missing("job attributes"))?
            .attributes();
        let state = match group.get("job-state").map(IppAttribute::value) {
            Some(IppValue::Enum(v)) => JobState::from_enum(*v),
            _ => return Err(IppFailure::Missing("job-state")),
        };
        Ok((state, keywords(group.get("job-state-reasons"))))
    }

    pub fn cancel(&self, job: i32) -> Result<(), IppFailure> {
        let op = IppOperationBuilder::cancel_job(self.uri.clone(), job)
            .user_name(&self.user)
            .build();
        self.send("Cancel-Job", op).map(drop)
    }

    /// Submits and follows a job to its end. A job the citizen can no longer wait for (the
    /// printer stopped under it, the deadline passed, the command was canceled) is canceled.
    pub fn print(
        &self,
        pdf: Vec<u8>,
        ticket: &JobTicket,
        ctx: &CommandContext,
    ) -> Result<IppJobReport, IppFailure> {
        let started = Instant::now();
        let job = self.submit(pdf, ticket)?;
        let submit_ms = started.elapsed().as_secs_f64() * 1e3;
        let deadline = started
            + self
                .job_timeout
                .min(ctx.timeout.max(Duration::from_secs(1)));
        loop {
            let (state, reasons) = self.job_state(job)?;
            if state.is_final() {
                if state == JobState::Completed {
                    return Ok(IppJobReport {
                        job_id: job,
                        state,
                        reasons,
                        submit_ms,
                        total_ms: started.elapsed().as_secs_f64() * 1e3,
                    });
                }
                return Err(IppFailure::JobFailed {
                    job,
                    state,
                    reasons: reasons.join(","),
                });
            }
            let give_up = if ctx.cancel.check().is_err() {
                Some("canceled at the terminal".to_string())
            } else if Instant::now() >= deadline {
                Some(String::new())
            } else if matches!(state, JobState::Pending | JobState::ProcessingStopped) {
                self.printer_state()?.refusal()
            } else {
                None
            };
            if let Some(why) = give_up {
                // Never leave a citizen's document to print after they have gone.
                let _ = self.cancel(job);
                if why.is_empty() {
                    return Err(IppFailure::JobTimeout {
                        job,
                        waited: started.elapsed(),
                        state,
                    });
                }
                return Err(IppFailure::JobFailed {
                    job,
                    state: JobState::Canceled,
                    reasons: why,
                });
            }
            std::thread::sleep(self.follow);
        }
    }

    fn ticket(&self, args: &Value, default_title: &str) -> Result<JobTicket, CommandError> {
        let copies = args.get("copies").and_then(Value::as_i64).unwrap_or(1);
        if !(1..=99).contains(&copies) {
            return Err(CommandError::invalid(format!("copies {copies}: 1 to 99")));
        }
        Ok(JobTicket {
            title: args
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or(default_title)
                .to_string(),
            copies: copies as i32,
            duplex: args.get("duplex").and_then(Value::as_bool).unwrap_or(false),
            media: args
                .get("media")
                .and_then(Value::as_str)
                .unwrap_or(&self.media)
                .to_string(),
            hold: args.get("hold").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    fn report(r: Result<IppJobReport, IppFailure>) -> Result<Value, CommandError> {
        Ok(serde_json::to_value(r?).unwrap_or(Value::Null))
    }
}

impl Device for IppPrinter {
    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    fn poll(&mut self) -> HealthReport {
        match self.printer_state() {
            Ok(s) => s.health(),
            Err(IppFailure::Request(e)) => HealthReport::new(Health::Offline).with_detail(e),
            Err(e) => HealthReport::new(Health::HardwareError).with_detail(e.to_string()),
        }
    }

    fn self_test(&mut self, _ctx: &CommandContext) -> Result<Value, CommandError> {
        let s = self.printer_state()?;
        Ok(json!({ "printer": s, "health": s.health().health.as_str() }))
    }

    fn actions(&self) -> Vec<ActionSpec> {
        vec![
            ActionSpec {
                name: "ipp-print",
                summary: "print a PDF file and follow the job to completion",
                args: &[
                    "path=PDF file",
                    "copies=1-99",
                    "duplex=true|false",
                    "media=IPP media keyword",
                    "title=job name",
                ],
            },
            ActionSpec {
                name: "print-test",
                summary: "print a one-page A4 test PDF",
                args: &["copies=1-99", "duplex=true|false"],
            },
            ActionSpec {
                name: "cancel-job",
                summary: "cancel a job by id",
                args: &["job=job id"],
            },
            ActionSpec {
                name: "status",
                summary: "printer-state, its reasons and whether it accepts jobs",
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
            "ipp-print" => {
                let path = args
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or_else(|| CommandError::invalid("ipp-print needs path=FILE.pdf"))?;
                let pdf = std::fs::read(path)
                    .map_err(|e| CommandError::invalid(format!("{path}: {e}")))?;
                if !pdf.starts_with(b"%PDF-") {
                    return Err(CommandError::invalid(format!("{path} is not a PDF")));
                }
                let title = std::path::Path::new(path)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("document");
                let ticket = self.ticket(args, title)?;
                Self::report(self.print(pdf, &ticket, ctx))
            }
            "print-test" => {
                let pdf = testpage::a4_test_pdf(&self.info.id)
                    .map_err(|e| CommandError::hardware(format!("building the test page: {e}")))?;
                let ticket = self.ticket(args, "HallKit test page")?;
                Self::report(self.print(pdf, &ticket, ctx))
            }
            "cancel-job" => {
                let job = args
                    .get("job")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| CommandError::invalid("cancel-job needs job=ID"))?;
                self.cancel(job as i32)?;
                Ok(json!({ "job_id": job, "canceled": true }))
            }
            "status" => {
                let s = self.printer_state()?;
                Ok(json!({ "printer": s, "health": s.health() .health.as_str() }))
            }
            other => Err(CommandError::unsupported(format!(
                "the A4 printer has no action {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(state: &str, reasons: &[&str]) -> PrinterState {
        PrinterState {
            state: state.into(),
            reasons: reasons.iter().map(|s| s.to_string()).collect(),
            accepting: true,
            message: String::new(),
        }
    }

    proptest::proptest! {
        #[test]
        fn any_state_and_reasons_map_without_panic(
            state in "[a-z]{0,12}",
            reasons in proptest::collection::vec("[a-z-]{0,24}", 0..6),
            accepting: bool,
        ) {
            let s = PrinterState { state, reasons, accepting, message: String::new() };
            let h = s.health();
            // Whatever the printer says, a job is never sent to a queue that refuses it.
            if !accepting {
                proptest::prop_assert!(s.refusal().is_some());
            }
            let _ = h.centre_state();
        }
    }

    #[test]
    fn printer_state_reasons_map_to_health() {
        assert_eq!(st("idle", &["none"]).health().health, Health::Online);
        assert_eq!(st("processing", &["none"]).health().health, Health::Busy);
        let h = st("stopped", &["media-empty-error"]).health();
        assert_eq!(h.health, Health::UserError);
        assert!(h.sub.contains(&SubStatus::PaperOut));
        assert!(st("idle", &["media-low-report"])
            .health()
            .sub
            .contains(&SubStatus::PaperNearEnd));
        assert_eq!(
            st("stopped", &["media-jam"]).health().health,
            Health::UserError
        );
        assert_eq!(
            st("idle", &["toner-empty-error"]).health().health,
            Health::HardwareError
        );
        assert!(st("idle", &["toner-low-warning"])
            .health()
            .sub
            .contains(&SubStatus::TonerLow));
        assert_eq!(st("stopped", &["paused"]).health().health, Health::Offline);
        assert!(st("stopped", &["paused"])
            .refusal()
            .unwrap()
            .contains("stopped"));
        assert_eq!(
            st("idle", &["offline-report"]).health().health,
            Health::Online
        );
        let mut not_accepting = st("idle", &["none"]);
        not_accepting.accepting = false;
        assert!(not_accepting.refusal().unwrap().contains("not accepting"));
    }
}
