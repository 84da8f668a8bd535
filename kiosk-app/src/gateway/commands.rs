//! What each command of the API does, through the terminal's own services and claims: a page
//! never reaches a device around them. Every command runs on a blocking thread, claims its
//! device for itself only (a device a citizen's journey holds answers `deviceBusy` at once, and
//! nothing of that journey is shown), and hands back exactly one completion.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use kiosk_hal::actor::CommandContext;
use kiosk_hal::device::{CancelToken, CompletionCode as DeviceCode, Progress, ProgressSink};
use kiosk_hal::DeviceKind;
use kiosk_protocol::gateway::{
    self as api, ApduAnswer, ApduPayload, ApduResult, CapturePayload, CaptureResult,
    CompletionCode, DeviceState, IcCardPayload, IdCardReadPayload, IdCardResult,
    IdCardVerifyPayload, IdCardVerifyResult, LightPayload, MediaEvent, PreviewEvent,
    PreviewPayload, PreviewResult, PrintPdfPayload, PrintReceiptPayload, PrintResult,
    PrintTemplatePayload, ScanPayload, ScanResult, ServiceInfo, ServicesResult,
    SocialSecurityResult, StampPayload, StampResult, StatusResult, VerifyMethod,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::access::Grant;
use super::results::ResultStore;
use crate::runtime::{CallError, Claim, Owner, Runtime};
use crate::services::outputs::OutputDesk;

/// How a command ended: the completion's code, its words and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub code: CompletionCode,
    pub why: Option<String>,
    pub payload: Value,
}

impl Outcome {
    pub(super) fn ok<T: serde::Serialize>(payload: T) -> Outcome {
        Outcome {
            code: CompletionCode::Success,
            why: None,
            payload: serde_json::to_value(payload).unwrap_or(Value::Null),
        }
    }

    pub fn fail(code: CompletionCode, why: impl Into<String>) -> Outcome {
        Outcome {
            code,
            why: Some(why.into()),
            payload: json!({}),
        }
    }

    fn error_code(error_code: &str, why: impl Into<String>) -> Outcome {
        Outcome {
            code: CompletionCode::CommandErrorCode,
            why: Some(why.into()),
            payload: json!({ "errorCode": error_code }),
        }
    }
}

/// One command as it runs: who asked, how to reach them with events, how to stop it.
pub struct Call<'a> {
    pub name: &'a str,
    pub request_id: u64,
    pub payload: &'a Value,
    pub timeout: Duration,
    pub grant: &'a Grant,
    /// The connection, for the claim's owner and the results it may fetch.
    pub connection: u64,
    pub cancel: CancelToken,
    pub events: &'a (dyn Fn(api::Message) + Send + Sync),
}

/// What the commands work with.
pub struct Services {
    pub rt: Arc<Runtime>,
    pub desk: OutputDesk,
    pub results: Arc<ResultStore>,
    pub streams: Arc<super::results::StreamStore>,
    pub terminal: String,
    /// Where one-time results are fetched (`http://127.0.0.1:5846/hallkit/v1/results/`).
    pub results_base: String,
    /// Where A4 PDFs wait for the printer, removed after.
    pub spool: std::path::PathBuf,
    /// The face models, loaded at the first face check (seconds of work a terminal that never
    /// gets one should not pay at start).
    pub face: std::sync::Mutex<Option<crate::services::face::FaceService>>,
    pub face_config: crate::config::FaceConfig,
    /// A window unit's desk (`[terminal] role = "window"`): the same intents as its toolbar.
    pub desk_host: Option<crate::flows::window_host::DeskHost>,
}

/// The services of the catalogue and the device kinds behind them.
const SERVICES: &[(&str, Option<DeviceKind>)] = &[
    ("Common", None),
    ("IdCard", Some(DeviceKind::IdCardReader)),
    ("IcCard", Some(DeviceKind::CardReader)),
    ("Scanner", Some(DeviceKind::QrScanner)),
    ("Printer", Some(DeviceKind::ReceiptPrinter)),
    ("DocumentCamera", Some(DeviceKind::DocumentCamera)),
    ("Seal", Some(DeviceKind::SealModule)),
];

impl Services {
    /// Runs `call` to its end (blocking).
    pub fn run(&self, call: &Call<'_>) -> Outcome {
        let Some(spec) = api::command(call.name) else {
            return Outcome::fail(
                CompletionCode::UnsupportedCommand,
                format!("{} is not a command of this terminal", call.name),
            );
        };
        if !call.grant.allows(spec.scope) {
            return Outcome::fail(
                CompletionCode::AuthorisationRequired,
                format!(
                    "the token of {} lacks the scope {}",
                    call.grant.system,
                    spec.scope.unwrap_or_default()
                ),
            );
        }
        match call.name {
            "Common.GetServices" => self.services(call),
            "Common.Status" => Outcome::ok(StatusResult {
                devices: self.status(),
            }),
            "IdCard.Read" => with_payload(call, |p| self.read_id_card(call, p)),
            "IdCard.Verify" => with_payload(call, |p| self.verify_holder(call, p)),
            "Scanner.Scan" => with_payload(call, |p| self.scan(call, p)),
            "Scanner.Light" => with_payload(call, |p| self.light(call, p)),
            "IcCard.ReadSocialSecurity" => with_payload(call, |p| self.read_ss_card(call, p)),
            "IcCard.Apdu" => with_payload(call, |p| self.apdu(call, p)),
            "Printer.PrintReceipt" => with_payload(call, |p| self.print_receipt(call, p)),
            "Printer.PrintPdf" => with_payload(call, |p| self.print_pdf(call, p)),
            "Printer.PrintTemplate" => with_payload(call, |p| self.print_template(call, p)),
            "DocumentCamera.Capture" => with_payload(call, |p| self.capture(call, p)),
            "DocumentCamera.Preview" => with_payload(call, |p| self.preview(call, p)),
            "Seal.Stamp" => with_payload(call, |p| self.stamp(call, p)),
            "Window.Status" | "Window.CallNext" | "Window.Confirm" | "Window.Sign"
            | "Window.Rate" => match &self.desk_host {
                Some(desk) => super::window::run(self, desk, call),
                None => Outcome::fail(
                    CompletionCode::UnsupportedCommand,
                    "this terminal is not a window unit",
                ),
            },
            // Common.Cancel is the connection's own business; it never reaches here.
            other => Outcome::fail(
                CompletionCode::UnsupportedCommand,
                format!("{other} is not run here"),
            ),
        }
    }

    fn services(&self, call: &Call<'_>) -> Outcome {
        let window = ("Window", None);
        let services = SERVICES
            .iter()
            // The window unit's desk is there only on a window unit.
            .chain(self.desk_host.as_ref().map(|_| &window))
            .map(|(service, kind)| {
                let commands: Vec<String> = api::COMMANDS
                    .iter()
                    .filter(|c| c.name.split('.').next() == Some(service))
                    .map(|c| c.name.to_string())
                    .collect();
                let allowed = api::COMMANDS
                    .iter()
                    .filter(|c| c.name.split('.').next() == Some(service))
                    .all(|c| call.grant.allows(c.scope));
                let mut devices: Vec<String> = match kind {
                    Some(k) => self
                        .rt
                        .devices
                        .iter()
                        .filter(|d| d.spec.kind == *k)
                        .map(|d| d.spec.id.clone())
                        .collect(),
                    None => Vec::new(),
                };
                // PrintPdf goes to the A4 printer.
                if *service == "Printer" {
                    devices.extend(
                        self.rt
                            .devices
                            .iter()
                            .filter(|d| d.spec.kind == DeviceKind::A4Printer)
                            .map(|d| d.spec.id.clone()),
                    );
                }
                ServiceInfo {
                    service: service.to_string(),
                    commands,
                    devices,
                    allowed,
                }
            })
            .collect();
        Outcome::ok(ServicesResult {
            terminal: self.terminal.clone(),
            version: api::GATEWAY_VERSION.into(),
            system: call.grant.system.clone(),
            services,
        })
    }

    /// Every device's state; who holds one is said in words, never who the citizen is.
    pub fn status(&self) -> Vec<DeviceState> {
        self.rt
            .snapshot()
            .into_iter()
            .map(|d| DeviceState {
                held_by: self.rt.holder(&d.id).map(|o| holder_words(&o).to_string()),
                device: d.id,
                kind: d.kind,
                health: d.health.as_str().to_string(),
                state: d.centre_state.as_str().to_string(),
                sub: d
                    .sub
                    .iter()
                    .map(|s| {
                        serde_json::to_value(s)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_else(|| format!("{s:?}"))
                    })
                    .collect(),
                detail: d.detail,
            })
            .collect()
    }

    /// Takes the device for this call alone. A device another owner holds is busy at once;
    /// one this same connection holds (its previous command) is waited for, as commands to
    /// one service queue in XFS4IoT.
    fn claim(
        &self,
        call: &Call<'_>,
        named: Option<&str>,
        kind: DeviceKind,
    ) -> Result<Claim, Outcome> {
        let device = match named {
            Some(id) => {
                let d = self.rt.device(id).map_err(|_| {
                    Outcome::fail(
                        CompletionCode::InvalidData,
                        format!("this terminal has no device {id:?}"),
                    )
                })?;
                if d.spec.kind != kind {
                    return Err(Outcome::fail(
                        CompletionCode::InvalidData,
                        format!("device {id:?} is a {}, not a {kind}", d.spec.kind),
                    ));
                }
                id.to_string()
            }
            None => self
                .rt
                .first_of(kind)
                .map(|d| d.spec.id.clone())
                .ok_or_else(|| {
                    Outcome::fail(
                        CompletionCode::DeviceNotReady,
                        format!("this terminal has no {kind}"),
                    )
                })?,
        };
        let owner = Owner::Gateway(format!("{}#{}", call.grant.system, call.connection));
        let wait = match self.rt.holder(&device) {
            Some(h) if h == owner => call.timeout,
            _ => Duration::ZERO,
        };
        self.rt
            .claim(&device, owner, call.timeout + Duration::from_secs(30), wait)
            .map_err(|e| match e {
                crate::runtime::ClaimError::HeldBy { owner, .. } => Outcome::fail(
                    CompletionCode::DeviceBusy,
                    format!("{device} is in use by {}", holder_words(&owner)),
                ),
                crate::runtime::ClaimError::UnknownDevice(d) => Outcome::fail(
                    CompletionCode::InvalidData,
                    format!("this terminal has no device {d:?}"),
                ),
            })
    }

    /// A context for the device that reports its prompts as events named `event`.
    fn context(&self, call: &Call<'_>, event: &'static str) -> (CommandContext, ProgressPump) {
        let (progress, rx) = ProgressSink::channel();
        let ctx = CommandContext {
            cancel: call.cancel.clone(),
            progress,
            timeout: call.timeout,
        };
        (ctx, ProgressPump { rx, event })
    }

    fn read_id_card(&self, call: &Call<'_>, p: IdCardReadPayload) -> Outcome {
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::IdCardReader) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let (ctx, pump) = self.context(call, "IdCard.MediaEvent");
        let args = json!({ "reveal": true, "biometrics": p.photo });
        let answer = pump.run(call, || self.rt.call_with(&claim, "wait-card", args, ctx));
        let mut answer = match answer {
            Ok(v) => v,
            Err(e) => return failed(&e, &call.cancel),
        };
        let identity = id_card_result(&answer["identity"]);
        let photo = answer["photo"]["bmp_base64"]
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(Zeroizing::new);
        crate::services::card::wipe_json(&mut answer);
        let Some(mut identity) = identity else {
            return Outcome::fail(
                CompletionCode::HardwareError,
                "the reader's answer lacks the card's identity",
            );
        };
        if p.photo {
            match photo {
                Some(bmp) => {
                    let key = self.results.put(bmp, "image/bmp", call.connection);
                    identity.photo_url = Some(format!("{}{key}", self.results_base));
                }
                None => {
                    return Outcome::fail(
                        CompletionCode::HardwareError,
                        "the card's photo could not be decoded",
                    )
                }
            }
        }
        Outcome::ok(identity)
    }

    /// Reads the card with its photo and fingerprint block, then checks the person against
    /// it. The biometrics are wiped when the check ends; only the decision leaves.
    fn verify_holder(&self, call: &Call<'_>, p: IdCardVerifyPayload) -> Outcome {
        let checker_kind = match p.method {
            VerifyMethod::Face => DeviceKind::FaceCamera,
            VerifyMethod::Fingerprint => DeviceKind::Fingerprint,
        };
        // Both devices first, so a busy one refuses before the citizen is asked for anything.
        let reader = match self.claim(call, p.device.as_deref(), DeviceKind::IdCardReader) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let checker = match self.claim(call, None, checker_kind) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let (ctx, pump) = self.context(call, "IdCard.MediaEvent");
        let read = pump.run(call, || {
            crate::services::card::wait_and_read_biometrics_json(&self.rt, &reader, ctx)
        });
        let (mut answer, biometrics) = match read {
            Ok(r) => r,
            Err(e) => return failed(&e, &call.cancel),
        };
        let card = id_card_result(&answer["identity"]);
        crate::services::card::wipe_json(&mut answer);
        let Some(card) = card else {
            return Outcome::fail(
                CompletionCode::HardwareError,
                "the reader's answer lacks the card's identity",
            );
        };
        drop(reader);
        let checked = match p.method {
            VerifyMethod::Face => self.check_face(call, &checker, biometrics.photo_bmp),
            VerifyMethod::Fingerprint => self.check_finger(call, &checker, biometrics.fingerprint),
        };
        match checked {
            Ok(c) => Outcome::ok(IdCardVerifyResult {
                card,
                method: p.method,
                matched: c.matched,
                decision: c.decision,
                score: c.score,
                threshold: c.threshold,
            }),
            Err(o) => o,
        }
    }

    fn check_face(
        &self,
        call: &Call<'_>,
        camera: &Claim,
        photo: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Checked, Outcome> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let Some(photo) = photo else {
            return Err(Outcome::error_code(
                "noCardPhoto",
                "the card's photo could not be decoded",
            ));
        };
        let card_photo = kiosk_image::scan::decode(&photo).map_err(|e| {
            Outcome::fail(
                CompletionCode::HardwareError,
                format!("the card photo: {e}"),
            )
        })?;
        drop(photo);
        let mut guard = self.face.lock().unwrap_or_else(|p| p.into_inner());
        let service = guard
            .get_or_insert_with(|| crate::services::face::FaceService::load(&self.face_config));
        if let Err(why) = service.available() {
            return Err(Outcome::fail(
                CompletionCode::DeviceNotReady,
                format!("face checks are unavailable: {why}"),
            ));
        }
        let stop = AtomicBool::new(false);
        let done = AtomicBool::new(false);
        let v = std::thread::scope(|s| {
            // The face check polls a flag; a cancel of the command sets it.
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    if call.cancel.is_canceled() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let mut last = None;
            let mut progress = |p: kiosk_models::Prompt| {
                if last != Some(p) {
                    last = Some(p);
                    (call.events)(api::Message::event(
                        "IdCard.MediaEvent",
                        call.request_id,
                        json!(MediaEvent {
                            prompt: face_prompt(p).into()
                        }),
                    ));
                }
            };
            let v = service.verify(&self.rt, camera, &card_photo, &mut progress, &stop);
            done.store(true, Ordering::SeqCst);
            v
        });
        if call.cancel.is_canceled() {
            return Err(Outcome::fail(CompletionCode::Canceled, "canceled"));
        }
        use kiosk_models::Decision as D;
        let decision = match v.decision {
            D::Verified => "verified",
            D::NotVerified => "notVerified",
            D::Spoof => "spoof",
            D::NoFace => "noFace",
            D::SeveralFaces => "severalFaces",
            D::Unavailable => {
                return Err(Outcome::fail(
                    CompletionCode::DeviceNotReady,
                    v.reason
                        .unwrap_or_else(|| "the face check is unavailable".into()),
                ))
            }
        };
        Ok(Checked {
            matched: v.decision == D::Verified,
            decision: decision.into(),
            score: v.score.map(f64::from),
            threshold: v.threshold.map(f64::from),
        })
    }

    fn check_finger(
        &self,
        call: &Call<'_>,
        module: &Claim,
        block: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Checked, Outcome> {
        let Some(block) = block else {
            return Err(Outcome::error_code(
                "noFingerprintOnCard",
                "this card carries no fingerprint; check the face instead",
            ));
        };
        let mut args = json!({ "block": hex::encode(block.as_slice()) });
        drop(block);
        let (ctx, pump) = self.context(call, "IdCard.MediaEvent");
        let r = pump.run(call, || {
            self.rt
                .call_with(module, "fp-verify-card", args.clone(), ctx)
        });
        crate::services::card::wipe_json(&mut args);
        match r {
            Ok(v) => Ok(Checked {
                matched: true,
                decision: "verified".into(),
                score: v["score"].as_f64(),
                threshold: None,
            }),
            // "confirmation 08" is the module's "does not match".
            Err(e)
                if e.device_error()
                    .is_some_and(|d| d.detail.starts_with("confirmation 08")) =>
            {
                Ok(Checked {
                    matched: false,
                    decision: "notVerified".into(),
                    score: None,
                    threshold: None,
                })
            }
            Err(e) => Err(failed(&e, &call.cancel)),
        }
    }

    fn read_ss_card(&self, call: &Call<'_>, p: IcCardPayload) -> Outcome {
        use crate::services::iccard::IcCardProblem as P;
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::CardReader) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let (ctx, pump) = self.context(call, "IcCard.MediaEvent");
        (call.events)(api::Message::event(
            "IcCard.MediaEvent",
            call.request_id,
            json!(MediaEvent {
                prompt: "insertCard".into()
            }),
        ));
        match pump.run(call, || {
            crate::services::iccard::read_ss_card(&self.rt, &claim, ctx)
        }) {
            Ok(card) => Outcome::ok(SocialSecurityResult {
                number: card.number.to_string(),
            }),
            Err(P::NoCard) => {
                Outcome::fail(CompletionCode::TimeOut, "no card was inserted in time")
            }
            Err(P::Canceled) => Outcome::fail(CompletionCode::Canceled, "canceled"),
            Err(e @ P::NotSsCard(_)) => Outcome::error_code("notSocialSecurityCard", e.to_string()),
            Err(e @ P::Unreadable(_)) => Outcome::fail(CompletionCode::InvalidData, e.to_string()),
            Err(e @ P::Busy(_)) => Outcome::fail(CompletionCode::DeviceBusy, e.to_string()),
            Err(e @ P::Reader(_)) => Outcome::fail(CompletionCode::HardwareError, e.to_string()),
        }
    }

    fn apdu(&self, call: &Call<'_>, p: ApduPayload) -> Outcome {
        if p.apdus.is_empty() || p.apdus.len() > 32 {
            return Outcome::fail(CompletionCode::InvalidData, "send 1 to 32 APDUs");
        }
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::CardReader) {
            Ok(c) => c,
            Err(o) => return o,
        };
        (call.events)(api::Message::event(
            "IcCard.MediaEvent",
            call.request_id,
            json!(MediaEvent {
                prompt: "insertCard".into()
            }),
        ));
        let (ctx, pump) = self.context(call, "IcCard.MediaEvent");
        let inserted = pump.run(call, || {
            self.rt.call_with(&claim, "wait-card", Value::Null, ctx)
        });
        let atr = match inserted {
            Ok(v) => v["atr"].as_str().unwrap_or_default().to_string(),
            Err(e) => return failed(&e, &call.cancel),
        };
        let mut answers = Vec::new();
        for a in &p.apdus {
            if call.cancel.is_canceled() {
                return Outcome::fail(CompletionCode::Canceled, "canceled");
            }
            let mut r = match self.rt.call(
                &claim,
                "pcsc-apdu",
                json!({ "apdu": a }),
                Duration::from_secs(10),
            ) {
                Ok(v) => v,
                Err(e) => return failed(&e, &call.cancel),
            };
            let sw = r["sw"].as_str().unwrap_or_default().to_string();
            answers.push(ApduAnswer {
                data: r["data"].as_str().unwrap_or_default().to_string(),
                meaning: r["meaning"].as_str().unwrap_or_default().to_string(),
                sw: sw.clone(),
            });
            crate::services::card::wipe_json(&mut r);
            if p.stop_on_error && !(sw == "9000" || sw.starts_with("61")) {
                break;
            }
        }
        Outcome::ok(ApduResult { atr, answers })
    }

    fn light(&self, call: &Call<'_>, p: LightPayload) -> Outcome {
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::QrScanner) {
            Ok(c) => c,
            Err(o) => return o,
        };
        match self
            .rt
            .call(&claim, "light", json!({ "on": p.on }), call.timeout)
        {
            Ok(_) => Outcome::ok(api::Empty {}),
            Err(CallError::Device(d)) if d.code == DeviceCode::Unsupported => {
                Outcome::fail(CompletionCode::UnsupportedData, d.detail)
            }
            Err(e) => failed(&e, &call.cancel),
        }
    }

    fn scan(&self, call: &Call<'_>, p: ScanPayload) -> Outcome {
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::QrScanner) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let (ctx, pump) = self.context(call, "Scanner.MediaEvent");
        let args = json!({ "timeout_ms": call.timeout.as_millis() as u64 });
        let mut answer = match pump.run(call, || self.rt.call_with(&claim, "scan", args, ctx)) {
            Ok(v) => v,
            Err(e) => return failed(&e, &call.cancel),
        };
        let payload = &answer["payload"];
        let kind = payload["type"].as_str().map(str::to_string);
        let code = ["url", "code", "text"]
            .iter()
            .find_map(|k| payload[*k].as_str())
            .map(str::to_string);
        crate::services::card::wipe_json(&mut answer);
        match code {
            Some(code) => Outcome::ok(ScanResult {
                code,
                symbology: kind,
            }),
            None => Outcome::fail(CompletionCode::HardwareError, "the scanner sent no code"),
        }
    }

    fn print_receipt(&self, call: &Call<'_>, p: PrintReceiptPayload) -> Outcome {
        if p.lines.is_empty() || p.lines.len() > 200 {
            return Outcome::fail(CompletionCode::InvalidData, "a receipt has 1 to 200 lines");
        }
        if let Some(l) = p.lines.iter().find(|l| l.text.chars().count() > 200) {
            return Outcome::fail(
                CompletionCode::InvalidData,
                format!(
                    "a line is at most 200 characters ({} given)",
                    l.text.chars().count()
                ),
            );
        }
        let mut blocks: Vec<Value> = p
            .lines
            .iter()
            .map(|l| {
                let size = if l.large { 2 } else { 1 };
                json!({
                    "type": "text",
                    "text": l.text,
                    "bold": l.bold,
                    "align": if l.center { "center" } else { "left" },
                    "width": size,
                    "height": size,
                })
            })
            .collect();
        if let Some(qr) = &p.qr {
            if qr.is_empty() || qr.len() > 400 {
                return Outcome::fail(
                    CompletionCode::InvalidData,
                    "a QR code holds 1 to 400 bytes",
                );
            }
            blocks.push(json!({ "type": "qr", "data": qr }));
        }
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::ReceiptPrinter) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let purpose = format!("gateway:{}", call.grant.system);
        let args = json!({ "receipt": { "blocks": blocks } });
        match self.desk.print_receipt(&claim, &purpose, args) {
            Ok(record) => print_outcome(claim.device(), record),
            Err(e) => Outcome::fail(CompletionCode::InternalError, e.to_string()),
        }
    }

    fn print_template(&self, call: &Call<'_>, p: PrintTemplatePayload) -> Outcome {
        const TEMPLATES: &[&str] = &[
            "application-receipt",
            "material-list",
            "case-progress",
            "print-record",
            "queue-ticket",
        ];
        if !TEMPLATES.contains(&p.template.as_str()) {
            return Outcome::fail(
                CompletionCode::InvalidData,
                format!(
                    "no template {:?}; templates: {}",
                    p.template,
                    TEMPLATES.join(", ")
                ),
            );
        }
        let mut args = Value::Object(p.fields);
        args["template"] = json!(p.template);
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::ReceiptPrinter) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let purpose = format!("gateway:{}:{}", call.grant.system, p.template);
        match self.desk.print_receipt(&claim, &purpose, args) {
            Ok(record) => print_outcome(claim.device(), record),
            Err(e) => Outcome::fail(CompletionCode::InternalError, e.to_string()),
        }
    }

    fn print_pdf(&self, call: &Call<'_>, p: PrintPdfPayload) -> Outcome {
        let Ok(pdf) = base64::engine::general_purpose::STANDARD.decode(p.pdf_base64.as_bytes())
        else {
            return Outcome::fail(CompletionCode::InvalidData, "pdfBase64 is not base64");
        };
        if !pdf.starts_with(b"%PDF-") {
            return Outcome::fail(CompletionCode::InvalidData, "the document is not a PDF");
        }
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::A4Printer) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let what = "gateway-pdf";
        match crate::services::spool::print_a4_pdf(&self.desk, &claim, what, &pdf, &self.spool) {
            Ok(()) => Outcome::ok(PrintResult {
                device: claim.device().to_string(),
                outcome: "printed".into(),
            }),
            Err(e) => print_problem(e),
        }
    }

    fn stamp(&self, call: &Call<'_>, p: StampPayload) -> Outcome {
        let Ok(document) =
            base64::engine::general_purpose::STANDARD.decode(p.document_base64.as_bytes())
        else {
            return Outcome::fail(CompletionCode::InvalidData, "documentBase64 is not base64");
        };
        if document.is_empty() || !(1..=8).contains(&p.seal) || p.purpose.trim().is_empty() {
            return Outcome::fail(
                CompletionCode::InvalidData,
                "a stamp needs the document, a seal 1 to 8 and a purpose",
            );
        }
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::SealModule) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let purpose = format!("gateway:{}:{}", call.grant.system, p.purpose.trim());
        let order = crate::services::outputs::SealOrder {
            seal: p.seal,
            x: p.x,
            y: p.y,
            document: &document,
            purpose: &purpose,
        };
        use crate::services::outputs::OutputOutcome as O;
        match self.desk.stamp(&claim, &order) {
            Ok(r) => match r.outcome {
                O::Printed | O::Unconfirmed => Outcome::ok(StampResult {
                    device: claim.device().to_string(),
                    output_id: r.output_id,
                }),
                O::Refused => Outcome::fail(CompletionCode::AuthorisationRequired, r.detail),
                O::Failed if r.result["completion"] == "invalid-data" => {
                    Outcome::fail(CompletionCode::InvalidData, r.detail)
                }
                O::Failed => Outcome::fail(CompletionCode::HardwareError, r.detail),
            },
            Err(e) => Outcome::fail(CompletionCode::InternalError, e.to_string()),
        }
    }

    /// The plate live as MJPEG, while the command runs: a page shows it in an `<img>`, then
    /// cancels and captures.
    fn preview(&self, call: &Call<'_>, p: PreviewPayload) -> Outcome {
        use std::time::Instant;
        let seconds = p.seconds.unwrap_or(60).clamp(1, 300);
        let fps = p.fps.unwrap_or(5).clamp(1, 10);
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::DocumentCamera) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let (key, tx) = self.streams.open(call.connection);
        let url = format!(
            "{}{key}",
            self.results_base.replace("/results/", "/streams/")
        );
        (call.events)(api::Message::event(
            "DocumentCamera.PreviewEvent",
            call.request_id,
            json!(PreviewEvent { url }),
        ));
        let started = Instant::now();
        let period = Duration::from_millis(1000 / u64::from(fps));
        let fetch_by = Duration::from_secs(30).min(Duration::from_secs(seconds.into()));
        let mut frames = 0u32;
        let ended = loop {
            let tick = Instant::now();
            if call.cancel.is_canceled() {
                break "canceled";
            }
            if started.elapsed() >= Duration::from_secs(seconds.into()) {
                break "time";
            }
            if tx.is_closed() {
                break "closed";
            }
            if self.streams.unfetched(&key) && started.elapsed() >= fetch_by {
                break "unfetched";
            }
            let jpeg = match crate::services::apply::document::plate_preview(&self.rt, &claim) {
                Ok(j) => j,
                Err(e) => {
                    self.streams.close(&key);
                    return Outcome::fail(CompletionCode::HardwareError, e);
                }
            };
            let mut part = format!(
                "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                jpeg.len()
            )
            .into_bytes();
            part.extend_from_slice(&jpeg);
            part.extend_from_slice(b"\r\n");
            if tx.try_send(axum::body::Bytes::from(part)).is_ok() {
                frames += 1;
            }
            if let Some(rest) = period.checked_sub(tick.elapsed()) {
                std::thread::sleep(rest);
            }
        };
        self.streams.close(&key);
        Outcome::ok(PreviewResult {
            frames,
            ended: ended.into(),
        })
    }

    fn capture(&self, call: &Call<'_>, p: CapturePayload) -> Outcome {
        let claim = match self.claim(call, p.device.as_deref(), DeviceKind::DocumentCamera) {
            Ok(c) => c,
            Err(o) => return o,
        };
        (call.events)(api::Message::event(
            "DocumentCamera.MediaEvent",
            call.request_id,
            json!(MediaEvent {
                prompt: "holdStill".into()
            }),
        ));
        let photo = match crate::services::idcopy::still(&self.rt, &claim) {
            Ok(p) => p,
            Err(e) => return capture_problem(e),
        };
        if call.cancel.is_canceled() {
            return Outcome::fail(CompletionCode::Canceled, "canceled");
        }
        let (jpeg, straightened) = if p.document {
            match crate::services::apply::document::page_from_photo(&photo) {
                Ok(page) => (page.jpeg, true),
                Err(e) => return capture_problem(e),
            }
        } else {
            (photo, false)
        };
        let Some((width, height)) = jpeg_size(&jpeg) else {
            return Outcome::fail(CompletionCode::HardwareError, "the picture cannot be read");
        };
        let key = self.results.put(jpeg, "image/jpeg", call.connection);
        Outcome::ok(CaptureResult {
            url: format!("{}{key}", self.results_base),
            content_type: "image/jpeg".into(),
            width,
            height,
            straightened,
        })
    }
}

/// Reads the payload as the command's type, or refuses it as invalidData.
pub(super) fn with_payload<T: DeserializeOwned + Default>(
    call: &Call<'_>,
    run: impl FnOnce(T) -> Outcome,
) -> Outcome {
    let parsed = match call.payload {
        Value::Null => Ok(T::default()),
        v => serde_json::from_value::<T>(v.clone()),
    };
    match parsed {
        Ok(p) => run(p),
        Err(e) => Outcome::fail(
            CompletionCode::InvalidData,
            format!("the payload of {}: {e}", call.name),
        ),
    }
}

/// Who holds a device, in words that tell a page enough and a citizen's secrets nothing.
pub fn holder_words(owner: &Owner) -> &'static str {
    match owner {
        Owner::Flow(_) => "a citizen's journey at this terminal",
        Owner::Gateway(_) => "a business system's page",
        Owner::Admin | Owner::Bench => "the technician",
        Owner::Remote(_) => "a command from the centre",
    }
}

/// A device call that did not succeed, as a completion. A timeout after a cancel is a cancel.
fn failed(e: &CallError, cancel: &CancelToken) -> Outcome {
    let code = match e {
        CallError::HeldBy { .. } => CompletionCode::DeviceBusy,
        CallError::NotClaimed { .. } => CompletionCode::InternalError,
        CallError::Expired { .. } => CompletionCode::TimeOut,
        CallError::UnknownDevice(_) => CompletionCode::InvalidData,
        CallError::Device(d) => match d.code {
            DeviceCode::Success => CompletionCode::Success,
            DeviceCode::Canceled => CompletionCode::Canceled,
            DeviceCode::Timeout if cancel.is_canceled() => CompletionCode::Canceled,
            DeviceCode::Timeout => CompletionCode::TimeOut,
            DeviceCode::NotReady => CompletionCode::DeviceNotReady,
            DeviceCode::HardwareError => CompletionCode::HardwareError,
            DeviceCode::UserError => CompletionCode::UserError,
            DeviceCode::InvalidData => CompletionCode::InvalidData,
            DeviceCode::Unsupported => CompletionCode::UnsupportedCommand,
        },
    };
    Outcome::fail(code, e.detail())
}

fn print_outcome(device: &str, record: crate::services::outputs::OutputRecord) -> Outcome {
    // The printer was never told anything it could print: the page's fields were wrong.
    if record.result["completion"] == "invalid-data" {
        return Outcome::fail(CompletionCode::InvalidData, record.detail);
    }
    match crate::services::queue::printed(record) {
        Ok(()) => Outcome::ok(PrintResult {
            device: device.to_string(),
            outcome: "printed".into(),
        }),
        Err(e) => print_problem(e),
    }
}

fn print_problem(e: crate::services::queue::PrintProblem) -> Outcome {
    use crate::services::queue::PrintProblem as P;
    match e {
        P::PaperOut => Outcome::error_code("paperOut", e.to_string()),
        P::CoverOpen => Outcome::error_code("coverOpen", e.to_string()),
        P::CutterJam => Outcome::error_code("cutterJam", e.to_string()),
        P::Busy(_) => Outcome::fail(CompletionCode::DeviceBusy, e.to_string()),
        P::Fault(_) => Outcome::fail(CompletionCode::HardwareError, e.to_string()),
        P::Journal(_) => Outcome::fail(CompletionCode::InternalError, e.to_string()),
    }
}

/// The card's identity as the API gives it, from the reader's answer.
fn id_card_result(v: &Value) -> Option<IdCardResult> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let valid_to = crate::services::card::valid_to_words(v);
    Some(IdCardResult {
        card_type: s("card_type")?,
        name: s("name").unwrap_or_default(),
        english_name: s("english_name"),
        sex: s("sex")?,
        nation: match v.get("nation") {
            Some(Value::Array(a)) => a.get(1).and_then(Value::as_str).map(str::to_string),
            _ => None,
        },
        birth: s("birth")?,
        address: s("address"),
        number: s("number")?,
        authority: s("authority").unwrap_or_default(),
        valid_from: s("valid_from").unwrap_or_default(),
        valid_to,
        photo_url: None,
    })
}

/// Width and height from a JPEG's frame header, without decoding it.
pub fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    if b.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        // SOF0..SOF15, without DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let h = u16::from_be_bytes([*b.get(i + 5)?, *b.get(i + 6)?]);
            let w = u16::from_be_bytes([*b.get(i + 7)?, *b.get(i + 8)?]);
            return Some((w.into(), h.into()));
        }
        if len < 2 {
            return None;
        }
        i += 2 + len;
    }
    None
}

fn capture_problem(e: crate::flows::idcopy::CaptureProblem) -> Outcome {
    match e {
        crate::flows::idcopy::CaptureProblem::NoCard => {
            Outcome::error_code("noMedia", "no page lies on the camera's plate")
        }
        crate::flows::idcopy::CaptureProblem::Camera(d) => {
            Outcome::fail(CompletionCode::HardwareError, d)
        }
    }
}

/// What a holder check found.
struct Checked {
    matched: bool,
    decision: String,
    score: Option<f64>,
    threshold: Option<f64>,
}

fn face_prompt(p: kiosk_models::Prompt) -> &'static str {
    use kiosk_models::Prompt as P;
    match p {
        P::LookAtCamera => "lookAtCamera",
        P::ComeCloser => "comeCloser",
        P::HoldStill => "holdStill",
        P::MoreLight => "moreLight",
        P::TooBright => "tooBright",
        P::OnlyOnePerson => "onlyOnePerson",
        P::Checking => "working",
    }
}

/// Forwards a device's prompts as events while its call runs.
struct ProgressPump {
    rx: std::sync::mpsc::Receiver<Progress>,
    event: &'static str,
}

impl ProgressPump {
    fn run<T>(self, call: &Call<'_>, f: impl FnOnce() -> T) -> T {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::mpsc::RecvTimeoutError;
        let ProgressPump { rx, event } = self;
        let done = AtomicBool::new(false);
        let done = &done;
        let id = call.request_id;
        let events = call.events;
        std::thread::scope(|s| {
            // The device's actor may keep its end of the channel past the call, so the pump
            // stops on `done`; what was sent before the call returned is still delivered, and
            // always before the completion.
            s.spawn(move || loop {
                match rx.recv_timeout(Duration::from_millis(20)) {
                    Ok(p) => events(api::Message::event(
                        event,
                        id,
                        json!(MediaEvent {
                            prompt: prompt_name(p).into()
                        }),
                    )),
                    Err(RecvTimeoutError::Timeout) if !done.load(Ordering::SeqCst) => {}
                    Err(_) => break,
                }
            });
            let out = f();
            done.store(true, Ordering::SeqCst);
            out
        })
    }
}

fn prompt_name(p: Progress) -> &'static str {
    match p {
        Progress::PlaceCard => "placeCard",
        Progress::RemoveCard => "removeCard",
        Progress::PlaceFinger => "placeFinger",
        Progress::LiftFinger => "liftFinger",
        Progress::LookAtCamera => "lookAtCamera",
        Progress::ComeCloser => "comeCloser",
        Progress::HoldStill => "holdStill",
        Progress::PresentCode => "presentCode",
        Progress::Working => "working",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_sizes_are_read_from_the_frame_header_and_junk_is_refused() {
        let mut img = opencv::core::Mat::new_rows_cols_with_default(
            48,
            64,
            opencv::core::CV_8UC3,
            opencv::core::Scalar::all(128.0),
        )
        .unwrap();
        let _ = &mut img;
        let mut buf = opencv::core::Vector::<u8>::new();
        opencv::imgcodecs::imencode(".jpg", &img, &mut buf, &opencv::core::Vector::new()).unwrap();
        assert_eq!(jpeg_size(buf.as_slice()), Some((64, 48)));
        assert_eq!(jpeg_size(b""), None);
        assert_eq!(jpeg_size(b"\xFF\xD8\xFF"), None);
        assert_eq!(jpeg_size(b"\xFF\xD8\xFF\xC0\x00"), None);
        assert_eq!(jpeg_size(b"\xFF\xD8\x00\x00\x00\x00"), None);
        assert_eq!(jpeg_size(b"\xFF\xD8\xFF\xE0\x00\x00\x00\x00"), None);
    }

    #[test]
    fn the_reader_answer_becomes_the_api_identity() {
        let v = json!({
            "card_type": "resident", "name": "张三", "sex": "male", "nation": [1, "汉"],
            "birth": "1990-01-01", "address": "江苏省昆山市", "number": "320583199001010011",
            "authority": "昆山市公安局", "valid_from": "2020-01-01",
            "valid_to": { "date": "2040-01-01" }
        });
        let r = id_card_result(&v).unwrap();
        assert_eq!(r.nation.as_deref(), Some("汉"));
        assert_eq!(r.valid_to, "2040-01-01");
        assert_eq!(r.photo_url, None);
        assert!(id_card_result(&json!({ "name": "x" })).is_none());
        let long = json!({ "card_type": "resident", "sex": "female", "birth": "1950-01-01",
            "number": "1", "valid_to": "long-term" });
        assert_eq!(id_card_result(&long).unwrap().valid_to, "long-term");
    }

    #[test]
    fn device_answers_become_completion_codes() {
        let c = CancelToken::new();
        let dev = |code, detail: &str| {
            CallError::Device(kiosk_hal::device::CommandError {
                code,
                detail: detail.into(),
            })
        };
        assert_eq!(
            failed(&dev(DeviceCode::Timeout, "no card"), &c).code,
            CompletionCode::TimeOut
        );
        assert_eq!(
            failed(&dev(DeviceCode::NotReady, "x"), &c).code,
            CompletionCode::DeviceNotReady
        );
        assert_eq!(
            failed(&dev(DeviceCode::UserError, "x"), &c).code,
            CompletionCode::UserError
        );
        c.cancel();
        assert_eq!(
            failed(&dev(DeviceCode::Timeout, "x"), &c).code,
            CompletionCode::Canceled
        );
        let held = CallError::HeldBy {
            device: "idcard".into(),
            owner: Owner::Flow("ticket#1".into()),
        };
        assert_eq!(failed(&held, &c).code, CompletionCode::DeviceBusy);
        assert_eq!(
            holder_words(&Owner::Flow("ticket#1".into())),
            "a citizen's journey at this terminal"
        );
    }
}
