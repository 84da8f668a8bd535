//! QR / barcode scanners on a serial line (RS-232 or USB virtual COM).
//!
//! Such scanners send each decoded code followed by a configurable suffix (CR LF by default) and
//! nothing else; many accept a software trigger (Honeywell and Newland: `SYN T CR`). They report
//! no status, so health comes from the link: a port that errors or disappears is offline, and
//! the next poll reopens it.

pub mod hid;
pub mod payload;
pub mod sim;

pub use payload::{PayloadRules, ScanPayload};

use std::time::{Duration, Instant};

use kiosk_hal::actor::{ActionSpec, CommandContext, Device, DeviceInput};
use kiosk_hal::device::{CommandError, DeviceInfo, Health, HealthReport, Progress};
use kiosk_hal::frame::{FrameError, FrameReceiver, SuffixFrame};
use kiosk_hal::privacy::mask_free_text;
use kiosk_hal::transport::{Endpoint, Transport, TransportError};
use serde_json::{json, Value};

use crate::{DeviceSpec, DriverError};

pub const DRIVER: &str = "qr-serial";
const OPTIONS: &[&str] = &[
    "suffix",
    "trigger",
    "light_on",
    "light_off",
    "max_len",
    "onecode_prefixes",
    "appointment_pattern",
];
const DEFAULT_MAX_LEN: usize = 4096;

/// One scan as decoded from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub text: String,
    /// The scanner sent bytes that are not UTF-8 and were read as GB18030 (common on older
    /// domestic scanners configured for Chinese).
    pub gb18030: bool,
}

impl Scan {
    /// Decodes one frame (suffix included). Returns `None` for an empty line.
    pub fn decode(frame: &[u8], suffix: &[u8]) -> Option<Scan> {
        let body = frame.strip_suffix(suffix).unwrap_or(frame);
        // Scanners configured with a prefix of STX or a stray CR leave control bytes around.
        let body = trim_controls(body);
        if body.is_empty() {
            return None;
        }
        match std::str::from_utf8(body) {
            Ok(s) => Some(Scan {
                text: s.to_string(),
                gb18030: false,
            }),
            Err(_) => {
                let (s, _, _) = encoding_rs::GB18030.decode(body);
                Some(Scan {
                    text: s.into_owned(),
                    gb18030: true,
                })
            }
        }
    }

    pub fn payload(&self, rules: &PayloadRules) -> ScanPayload {
        rules.classify(&self.text)
    }

    pub fn to_input(&self, device: &str, rules: &PayloadRules) -> DeviceInput {
        DeviceInput {
            device: device.to_string(),
            kind: "scan".into(),
            data: json!({ "payload": self.payload(rules), "gb18030": self.gb18030 }),
        }
    }
}

/// The payload rules from a scanner's options (`onecode_prefixes`, `appointment_pattern`).
pub fn rules_from_spec(spec: &DeviceSpec) -> Result<PayloadRules, String> {
    let prefixes = match spec.options.get("onecode_prefixes") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or("onecode_prefixes must be a list of strings")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("onecode_prefixes must be a list of strings".into()),
    };
    PayloadRules::new(prefixes, spec.opt_str("appointment_pattern")?)
}

fn trim_controls(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| *c >= 0x20).unwrap_or(b.len());
    let end = b.iter().rposition(|c| *c >= 0x20).map_or(start, |i| i + 1);
    &b[start..end.max(start)]
}

/// Parses `"16540d"` or `"16 54 0d"` into bytes.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&compact).map_err(|e| format!("{s:?} is not hex bytes: {e}"))
}

pub struct SerialScanner {
    info: DeviceInfo,
    endpoint: Endpoint,
    link: Option<Box<dyn Transport>>,
    rx: FrameReceiver,
    spec: SuffixFrame,
    trigger: Option<Vec<u8>>,
    /// The model's commands that switch its illumination on and off (hex in the config), for
    /// a hall that lights a phone's screen code or saves the LED when idle.
    light: Option<(Vec<u8>, Vec<u8>)>,
    rules: PayloadRules,
    last_error: String,
    scans: u64,
}

impl SerialScanner {
    pub fn from_spec(spec: &DeviceSpec) -> Result<Self, DriverError> {
        let cfg = |m: String| DriverError::config(spec, m);
        spec.check_options(OPTIONS).map_err(cfg)?;
        let endpoint = spec.endpoint().map_err(cfg)?;
        let suffix = spec
            .opt_str("suffix")
            .map_err(cfg)?
            .unwrap_or("\r\n")
            .as_bytes()
            .to_vec();
        if suffix.is_empty() {
            return Err(cfg("option `suffix` must not be empty".into()));
        }
        let trigger = match spec.opt_str("trigger").map_err(cfg)? {
            Some(h) => Some(parse_hex(h).map_err(|e| cfg(format!("option `trigger`: {e}")))?),
            None => None,
        };
        let hex_opt = |key: &str| -> Result<Option<Vec<u8>>, DriverError> {
            match spec.opt_str(key).map_err(cfg)? {
                Some(h) => Ok(Some(
                    parse_hex(h).map_err(|e| cfg(format!("option `{key}`: {e}")))?,
                )),
                None => Ok(None),
            }
        };
        let light = match (hex_opt("light_on")?, hex_opt("light_off")?) {
            (Some(on), Some(off)) => Some((on, off)),
            (None, None) => None,
            _ => return Err(cfg("options `light_on` and `light_off` go together".into())),
        };
        let max_len = spec
            .opt_u64("max_len")
            .map_err(cfg)?
            .map_or(DEFAULT_MAX_LEN, |v| v as usize);
        let mut info = DeviceInfo::new(&spec.id, spec.kind, DRIVER);
        info.transport = endpoint.describe();
        info.model = "serial QR/barcode scanner".into();
        Ok(SerialScanner {
            info,
            endpoint,
            link: None,
            rx: FrameReceiver::new(),
            spec: SuffixFrame { suffix, max_len },
            trigger,
            light,
            rules: rules_from_spec(spec).map_err(cfg)?,
            last_error: String::new(),
            scans: 0,
        })
    }

    fn link(&mut self) -> Result<&mut Box<dyn Transport>, TransportError> {
        if self.link.is_none() {
            self.rx.reset();
            self.link = Some(self.endpoint.open()?);
        }
        self.link
            .as_mut()
            .ok_or_else(|| TransportError::Disconnected("link closed".into()))
    }

    fn drop_link(&mut self, why: &TransportError) {
        tracing::warn!(device = %self.info.id, error = %why, "scanner link lost");
        self.last_error = why.to_string();
        self.link = None;
        self.rx.reset();
    }

    /// Waits up to `timeout` for one scan.
    fn read_scan(&mut self, timeout: Duration) -> Result<Option<Scan>, CommandError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let spec = self.spec.clone();
            // The receiver and the link both live in self; take the receiver out for the call.
            let mut rx = std::mem::take(&mut self.rx);
            let res = match self.link() {
                Ok(link) => rx.receive(link.as_mut(), &spec, left),
                Err(e) => {
                    self.rx = rx;
                    return Err(e.into());
                }
            };
            self.rx = rx;
            match res {
                Ok(frame) => {
                    if let Some(scan) = Scan::decode(&frame, &self.spec.suffix) {
                        self.scans += 1;
                        tracing::info!(
                            device = %self.info.id,
                            chars = scan.text.chars().count(),
                            text = %mask_free_text(&scan.text),
                            "code scanned"
                        );
                        return Ok(Some(scan));
                    }
                    // An empty line: keep waiting for a real code.
                }
                Err(FrameError::Timeout { .. }) => return Ok(None),
                Err(FrameError::TooLong { limit }) => {
                    return Err(CommandError::invalid(format!(
                        "scanner sent more than {limit} bytes without the configured suffix; check the scanner's suffix setting"
                    )))
                }
                Err(FrameError::Transport(e)) => {
                    self.drop_link(&e);
                    return Err(e.into());
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    fn send_trigger(&mut self) -> Result<bool, CommandError> {
        let Some(trigger) = self.trigger.clone() else {
            return Ok(false);
        };
        self.send_host(&trigger)?;
        Ok(true)
    }

    /// Switches the illumination with the configured command.
    fn set_light(&mut self, on: bool) -> Result<(), CommandError> {
        let Some((light_on, light_off)) = self.light.clone() else {
            return Err(CommandError::unsupported(
                "no `light_on` / `light_off` options are configured for this scanner",
            ));
        };
        self.send_host(if on { &light_on } else { &light_off })
    }

    /// Bytes from the host to the scanner (a command); a failed write drops the link.
    fn send_host(&mut self, bytes: &[u8]) -> Result<(), CommandError> {
        let res = self.link().and_then(|l| {
            l.write_all(bytes)?;
            l.flush()
        });
        if let Err(e) = res {
            self.drop_link(&e);
            return Err(e.into());
        }
        Ok(())
    }
}

impl Device for SerialScanner {
    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    fn poll(&mut self) -> HealthReport {
        match self.link() {
            Ok(_) => {
                HealthReport::new(Health::Online).with_detail(format!("{} codes read", self.scans))
            }
            Err(e) => {
                self.last_error = e.to_string();
                let h = match e {
                    TransportError::NoDevice(_) => Health::NoDevice,
                    TransportError::Config(_) => Health::HardwareError,
                    _ => Health::Offline,
                };
                HealthReport::new(h).with_detail(e.to_string())
            }
        }
    }

    fn self_test(&mut self, _ctx: &CommandContext) -> Result<Value, CommandError> {
        // A passive scanner has no self-test command: prove the port opens and accepts a write
        // (the trigger, when configured), which is what fails when the cable or adapter is bad.
        if let Some(l) = self.link.as_mut() {
            // Reopen so a stale handle to a replugged adapter is not mistaken for a good link.
            if let Err(e) = l.reopen() {
                self.drop_link(&e);
            }
        }
        self.link()?;
        let triggered = self.send_trigger()?;
        Ok(json!({
            "transport": self.info.transport,
            "link": "open",
            "trigger_sent": triggered,
            "codes_read": self.scans,
            "garbage_bytes": self.rx.stats().garbage_bytes,
        }))
    }

    fn actions(&self) -> Vec<ActionSpec> {
        vec![
            ActionSpec {
                name: "scan",
                summary: "wait for the next code (sends the trigger first when one is configured)",
                args: &["timeout_ms=how long to wait (default 10000)"],
            },
            ActionSpec {
                name: "trigger",
                summary: "send the configured software trigger",
                args: &[],
            },
            ActionSpec {
                name: "light",
                summary: "switch the illumination with the configured commands",
                args: &["on=true|false"],
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
            "scan" => {
                let timeout = args
                    .get("timeout_ms")
                    .and_then(Value::as_u64)
                    .map_or(ctx.timeout, Duration::from_millis)
                    .min(ctx.timeout);
                ctx.progress.emit(Progress::PresentCode);
                self.send_trigger()?;
                let deadline = Instant::now() + timeout;
                // Wait in short slices so cancellation is honoured promptly.
                loop {
                    ctx.cancel.check()?;
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(CommandError::timeout("no code was presented"));
                    }
                    if let Some(scan) = self.read_scan(left.min(Duration::from_millis(200)))? {
                        return Ok(
                            json!({ "payload": scan.payload(&self.rules), "gb18030": scan.gb18030 }),
                        );
                    }
                }
            }
            "light" => {
                let on = args
                    .get("on")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| CommandError::invalid("light needs on=true|false"))?;
                self.set_light(on)?;
                Ok(json!({ "light": on }))
            }
            "trigger" => {
                if self.send_trigger()? {
                    Ok(json!({ "sent": true }))
                } else {
                    Err(CommandError::unsupported(
                        "no `trigger` option is configured for this scanner",
                    ))
                }
            }
            other => Err(CommandError::unsupported(format!(
                "scanner has no action {other:?}"
            ))),
        }
    }

    fn produces_input(&self) -> bool {
        true
    }

    fn take_input(&mut self, budget: Duration) -> Vec<DeviceInput> {
        if self.link.is_none() {
            // Offline: the idle poll reopens the link; do not spin on a missing port.
            std::thread::sleep(budget);
            return Vec::new();
        }
        match self.read_scan(budget) {
            Ok(Some(scan)) => vec![scan.to_input(&self.info.id, &self.rules)],
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::warn!(device = %self.info.id, error = %e, "scan failed");
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests;
