//! Seal (stamp) machines. Vendors ship SDKs, not standards, so the application talks to a
//! vendor-neutral [`SealMachine`] and each protocol implements it; this module carries one
//! concrete serial protocol (docs/SEAL-PROTOCOL.md) with its simulator. Every action is
//! announced with a before-event and closed with an after-event, and an impression is a fixed
//! sequence: authorise, check and lock the doors, select, check ink, move, stamp, unlock.

pub mod frame;
pub mod sim;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use kiosk_hal::actor::{ActionSpec, CommandContext, Device};
use kiosk_hal::device::{
    CommandError, CompletionCode, DeviceInfo, Health, HealthReport, SubStatus,
};
use kiosk_hal::frame::{FrameError as RxError, FrameReceiver};
use kiosk_hal::transport::{Endpoint, Transport, TransportError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use self::frame::{cmd, Frame, FrameError, SealFrames};
use crate::{DeviceSpec, DriverError};

pub const DRIVER: &str = "seal-hks1";
const OPTIONS: &[&str] = &["auth_code", "seals", "stamp_timeout_ms"];
/// Usable area of the stamping bed, in tenths of a millimetre (A4 portrait).
pub const BED_X: u16 = 2100;
pub const BED_Y: u16 = 2970;

/// The module's result codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SealCode {
    Ok,
    Checksum,
    NoData,
    NotAuthorised,
    WrongAuthCode,
    DoorOpenBefore,
    DoorOpenedDuring,
    StampFailed,
    OutOfInk,
    NoSuchSeal,
    OutOfRange,
    DoorNotClosed,
    Busy,
    UnknownCommand,
    Other(u8),
}

impl SealCode {
    pub fn from_byte(b: u8) -> SealCode {
        use SealCode::*;
        match b {
            0x00 => Ok,
            0x01 => Checksum,
            0x02 => NoData,
            0x03 => NotAuthorised,
            0x04 => WrongAuthCode,
            0x05 => DoorOpenBefore,
            0x06 => DoorOpenedDuring,
            0x07 => StampFailed,
            0x08 => OutOfInk,
            0x09 => NoSuchSeal,
            0x0A => OutOfRange,
            0x0B => DoorNotClosed,
            0x0C => Busy,
            0x0D => UnknownCommand,
            other => Other(other),
        }
    }

    pub fn byte(self) -> u8 {
        use SealCode::*;
        match self {
            Ok => 0,
            Checksum => 1,
            NoData => 2,
            NotAuthorised => 3,
            WrongAuthCode => 4,
            DoorOpenBefore => 5,
            DoorOpenedDuring => 6,
            StampFailed => 7,
            OutOfInk => 8,
            NoSuchSeal => 9,
            OutOfRange => 0x0A,
            DoorNotClosed => 0x0B,
            Busy => 0x0C,
            UnknownCommand => 0x0D,
            Other(b) => b,
        }
    }

    pub fn message(self) -> &'static str {
        use SealCode::*;
        match self {
            Ok => "ok",
            Checksum => "the module received a frame with a bad checksum",
            NoData => "the module received no or short data",
            NotAuthorised => "the module needs the handshake first",
            WrongAuthCode => "wrong authorisation code",
            DoorOpenBefore => "the paper door was open before stamping",
            DoorOpenedDuring => "the paper door was opened during stamping",
            StampFailed => "stamping failed (mechanism jammed)",
            OutOfInk => "the seal is out of ink",
            NoSuchSeal => "no such seal in the magazine",
            OutOfRange => "position outside the stamping bed",
            DoorNotClosed => "a door is not closed",
            Busy => "the module is busy",
            UnknownCommand => "unknown command",
            Other(_) => "undocumented result code",
        }
    }

    fn completion(self) -> CompletionCode {
        use SealCode::*;
        match self {
            DoorOpenBefore | DoorOpenedDuring | DoorNotClosed | OutOfInk => {
                CompletionCode::UserError
            }
            WrongAuthCode | NotAuthorised => CompletionCode::NotReady,
            NoSuchSeal | OutOfRange => CompletionCode::InvalidData,
            _ => CompletionCode::HardwareError,
        }
    }
}

/// The status byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealStatus {
    pub x_home: bool,
    pub y_home: bool,
    pub seal_raised: bool,
    pub paper_door_closed: bool,
    pub safety_door_closed: bool,
    pub paper_door_locked: bool,
    pub safety_door_locked: bool,
    pub busy: bool,
}

impl SealStatus {
    pub fn from_byte(b: u8) -> SealStatus {
        let bit = |n: u8| b & (1 << n) != 0;
        SealStatus {
            x_home: bit(0),
            y_home: bit(1),
            seal_raised: bit(2),
            paper_door_closed: bit(3),
            safety_door_closed: bit(4),
            paper_door_locked: bit(5),
            safety_door_locked: bit(6),
            busy: bit(7),
        }
    }

    pub fn byte(&self) -> u8 {
        [
            self.x_home,
            self.y_home,
            self.seal_raised,
            self.paper_door_closed,
            self.safety_door_closed,
            self.paper_door_locked,
            self.safety_door_locked,
            self.busy,
        ]
        .iter()
        .enumerate()
        .fold(0, |acc, (i, on)| if *on { acc | (1 << i) } else { acc })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Door {
    Paper,
    Safety,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("corrupt reply: {0}")]
    Frame(#[from] FrameError),
    #[error("unexpected reply: {0}")]
    Protocol(String),
    #[error("seal module: {msg} (code {code:02X})", msg = .0.message(), code = .0.byte())]
    Module(SealCode),
}

impl From<SealError> for CommandError {
    fn from(e: SealError) -> Self {
        let detail = e.to_string();
        match e {
            SealError::Transport(t) => t.into(),
            SealError::Timeout(_) => CommandError::timeout(detail),
            SealError::Frame(_) | SealError::Protocol(_) => CommandError::hardware(detail),
            SealError::Module(c) => CommandError::new(c.completion(), detail),
        }
    }
}

/// Where and with which seal an impression goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impression {
    pub seal: u8,
    /// Tenths of a millimetre from the bed's top-left corner.
    pub x: u16,
    pub y: u16,
}

/// A before- or after-event of one machine action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SealEvent {
    pub phase: &'static str,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    pub at_ms: f64,
}

/// The operations every seal machine offers, whatever its vendor protocol.
pub trait SealMachine {
    fn handshake(&mut self, auth_code: &[u8]) -> Result<(), SealError>;
    fn status(&mut self) -> Result<SealStatus, SealError>;
    fn select_seal(&mut self, seal: u8) -> Result<(), SealError>;
    fn move_to(&mut self, x: u16, y: u16) -> Result<(), SealError>;
    fn stamp(&mut self) -> Result<(), SealError>;
    fn lock(&mut self, door: Door, locked: bool) -> Result<(), SealError>;
    /// Percent of ink left on a seal's pad.
    fn ink_level(&mut self, seal: u8) -> Result<u8, SealError>;
    fn reset(&mut self) -> Result<(), SealError>;
    /// Events recorded since the last call.
    fn take_events(&mut self) -> Vec<SealEvent>;
}

pub struct SerialSealMachine {
    info: DeviceInfo,
    endpoint: Endpoint,
    link: Option<Box<dyn Transport>>,
    rx: FrameReceiver,
    seq: u8,
    auth_code: Vec<u8>,
    seals: u8,
    stamp_timeout: Duration,
    events: Vec<SealEvent>,
    started: Instant,
}

const REPLY_TIMEOUT: Duration = Duration::from_millis(800);

impl SerialSealMachine {
    pub fn from_spec(spec: &DeviceSpec) -> Result<Self, DriverError> {
        let cfg = |m: String| DriverError::config(spec, m);
        spec.check_options(OPTIONS).map_err(cfg)?;
        let endpoint = spec.endpoint().map_err(cfg)?;
        let auth_code = match spec.opt_str("auth_code").map_err(cfg)? {
            Some(h) => hex::decode(h)
                .ok()
                .filter(|b| b.len() == 8)
                .ok_or_else(|| cfg("option `auth_code` must be 16 hex digits".into()))?,
            None => {
                return Err(cfg(
                    "a seal module needs options.auth_code (16 hex digits)".into()
                ))
            }
        };
        let seals = spec.opt_u64("seals").map_err(cfg)?.unwrap_or(4);
        if !(1..=16).contains(&seals) {
            return Err(cfg(format!("option `seals` = {seals}: 1 to 16")));
        }
        let mut info = DeviceInfo::new(&spec.id, spec.kind, DRIVER);
        info.transport = endpoint.describe();
        info.model = format!("seal module, {seals}-seal magazine");
        Ok(SerialSealMachine {
            info,
            endpoint,
            link: None,
            rx: FrameReceiver::new(),
            seq: 0,
            auth_code,
            seals: seals as u8,
            stamp_timeout: Duration::from_millis(
                spec.opt_u64("stamp_timeout_ms")
                    .map_err(cfg)?
                    .unwrap_or(8000),
            ),
            events: Vec::new(),
            started: Instant::now(),
        })
    }

    fn event(&mut self, phase: &'static str, action: &'static str, result: Option<String>) {
        tracing::debug!(device = %self.info.id, phase, action, ?result, "seal event");
        self.events.push(SealEvent {
            phase,
            action,
            result,
            at_ms: self.started.elapsed().as_secs_f64() * 1e3,
        });
    }

    fn drop_on<T>(&mut self, r: Result<T, TransportError>) -> Result<T, SealError> {
        if let Err(e) = &r {
            if e.needs_reopen() {
                self.link = None;
            }
        }
        r.map_err(SealError::from)
    }

    /// One request and its reply: `(status, data after result and status)`.
    fn exchange(
        &mut self,
        command: u8,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(SealStatus, Vec<u8>), SealError> {
        if self.link.is_none() {
            self.rx.reset();
            let l = self.endpoint.open();
            self.link = Some(self.drop_on(l)?);
        }
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = Frame {
            seq,
            cmd: command,
            data: data.to_vec(),
        }
        .encode()?;
        let r = match self.link.as_mut() {
            Some(l) => l
                .discard_input()
                .and_then(|_| l.write_all(&bytes))
                .and_then(|_| l.flush()),
            None => Err(TransportError::Disconnected("link closed".into())),
        };
        self.drop_on(r)?;
        self.rx.reset();
        loop {
            let mut rx = std::mem::take(&mut self.rx);
            let res = match self.link.as_mut() {
                Some(link) => rx.receive(link.as_mut(), &SealFrames, timeout),
                None => Err(RxError::Transport(TransportError::Disconnected(
                    "link closed".into(),
                ))),
            };
            self.rx = rx;
            let raw = match res {
                Ok(f) => f,
                Err(RxError::Timeout { .. }) => return Err(SealError::Timeout(timeout)),
                Err(RxError::TooLong { limit }) => {
                    return Err(SealError::Protocol(format!("reply over {limit} bytes")))
                }
                Err(RxError::Transport(t)) => return self.drop_on(Err(t)),
            };
            let reply = Frame::decode(&raw)?;
            if reply.seq != seq {
                // A late reply to an earlier, timed-out request.
                continue;
            }
            if reply.cmd != command | 0x80 || reply.data.len() < 2 {
                return Err(SealError::Protocol(format!(
                    "reply {:02X} with {} bytes to command {command:02X}",
                    reply.cmd,
                    reply.data.len()
                )));
            }
            let status = SealStatus::from_byte(reply.data[1]);
            return match SealCode::from_byte(reply.data[0]) {
                SealCode::Ok => Ok((status, reply.data[2..].to_vec())),
                code => Err(SealError::Module(code)),
            };
        }
    }

    fn act(
        &mut self,
        action: &'static str,
        command: u8,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(SealStatus, Vec<u8>), SealError> {
        self.event("before", action, None);
        let r = self.exchange(command, data, timeout);
        let result = match &r {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        self.event("after", action, Some(result));
        r
    }

    /// One whole impression. Doors are unlocked again whatever happened, so paper is never
    /// trapped in the machine by a failed stamp.
    pub fn impress(&mut self, imp: Impression) -> Result<Value, SealError> {
        if imp.seal == 0 || imp.seal > self.seals {
            return Err(SealError::Module(SealCode::NoSuchSeal));
        }
        if imp.x > BED_X || imp.y > BED_Y {
            return Err(SealError::Module(SealCode::OutOfRange));
        }
        let code = self.auth_code.clone();
        self.handshake(&code)?;
        let st = self.status()?;
        if !st.paper_door_closed {
            return Err(SealError::Module(SealCode::DoorOpenBefore));
        }
        if !st.safety_door_closed {
            return Err(SealError::Module(SealCode::DoorNotClosed));
        }
        self.lock(Door::Safety, true)?;
        self.lock(Door::Paper, true)?;
        let result = (|| {
            self.select_seal(imp.seal)?;
            let ink = self.ink_level(imp.seal)?;
            if ink == 0 {
                return Err(SealError::Module(SealCode::OutOfInk));
            }
            self.move_to(imp.x, imp.y)?;
            self.stamp()?;
            Ok(ink)
        })();
        let unlocked = self
            .lock(Door::Paper, false)
            .and_then(|_| self.lock(Door::Safety, false));
        let ink = result?;
        unlocked?;
        Ok(json!({ "seal": imp.seal, "x": imp.x, "y": imp.y, "ink_before": ink }))
    }
}

impl SealMachine for SerialSealMachine {
    fn handshake(&mut self, auth_code: &[u8]) -> Result<(), SealError> {
        self.act("handshake", cmd::HANDSHAKE, auth_code, REPLY_TIMEOUT)
            .map(drop)
    }
    fn status(&mut self) -> Result<SealStatus, SealError> {
        self.exchange(cmd::STATUS, &[], REPLY_TIMEOUT)
            .map(|(s, _)| s)
    }
    fn select_seal(&mut self, seal: u8) -> Result<(), SealError> {
        self.act("select", cmd::SELECT, &[seal], Duration::from_secs(3))
            .map(drop)
    }
    fn move_to(&mut self, x: u16, y: u16) -> Result<(), SealError> {
        let mut d = x.to_be_bytes().to_vec();
        d.extend_from_slice(&y.to_be_bytes());
        self.act("move", cmd::MOVE, &d, Duration::from_secs(3))
            .map(drop)
    }
    fn stamp(&mut self) -> Result<(), SealError> {
        let t = self.stamp_timeout;
        self.act("stamp", cmd::STAMP, &[], t).map(drop)
    }
    fn lock(&mut self, door: Door, locked: bool) -> Result<(), SealError> {
        let which = match door {
            Door::Paper => 1,
            Door::Safety => 2,
        };
        let action = if locked { "lock" } else { "unlock" };
        self.act(action, cmd::LOCK, &[which, u8::from(locked)], REPLY_TIMEOUT)
            .map(drop)
    }
    fn ink_level(&mut self, seal: u8) -> Result<u8, SealError> {
        let (_, d) = self.exchange(cmd::INK, &[seal], REPLY_TIMEOUT)?;
        d.first()
            .copied()
            .ok_or_else(|| SealError::Protocol("ink reply without a level".into()))
    }
    fn reset(&mut self) -> Result<(), SealError> {
        self.act("reset", cmd::RESET, &[], Duration::from_secs(5))
            .map(drop)
    }
    fn take_events(&mut self) -> Vec<SealEvent> {
        std::mem::take(&mut self.events)
    }
}

impl Device for SerialSealMachine {
    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    fn poll(&mut self) -> HealthReport {
        let st = match self.status() {
            Ok(s) => s,
            Err(SealError::Transport(TransportError::NoDevice(d))) => {
                return HealthReport::new(Health::NoDevice).with_detail(d)
            }
            Err(e) => {
                self.link = None;
                return HealthReport::new(Health::Offline).with_detail(e.to_string());
            }
        };
        let mut r = if st.paper_door_closed && st.safety_door_closed {
            HealthReport::new(if st.busy {
                Health::Busy
            } else {
                Health::Online
            })
        } else {
            HealthReport::new(Health::UserError)
                .with_sub(SubStatus::SealDoorOpen)
                .with_detail(if st.paper_door_closed {
                    "safety door open"
                } else {
                    "paper door open"
                })
        };
        let mut low = Vec::new();
        let mut levels = Vec::new();
        for seal in 1..=self.seals {
            let level = self.ink_level(seal);
            if let Ok(l) = level {
                levels.push(format!("{l}%"));
            }
            match level {
                Ok(0) => {
                    r = r.with_sub(SubStatus::InkOut);
                    low.push(format!("seal {seal} out of ink"));
                }
                Ok(l) if l < 15 => {
                    r = r.with_sub(SubStatus::InkLow);
                    low.push(format!("seal {seal} ink {l}%"));
                }
                _ => {}
            }
        }
        if r.detail.is_empty() {
            r = if low.is_empty() {
                r.with_detail(format!("ink {}", levels.join(" ")))
            } else {
                r.with_detail(low.join(", "))
            };
        }
        r
    }

    fn self_test(&mut self, _ctx: &CommandContext) -> Result<Value, CommandError> {
        let code = self.auth_code.clone();
        self.handshake(&code)?;
        let st = self.status()?;
        let mut ink = Vec::new();
        for seal in 1..=self.seals {
            ink.push(self.ink_level(seal)?);
        }
        self.take_events();
        Ok(json!({ "status": st, "ink": ink }))
    }

    fn actions(&self) -> Vec<ActionSpec> {
        vec![
            ActionSpec {
                name: "stamp",
                summary: "one impression: authorise, lock doors, select, move, stamp, unlock",
                args: &[
                    "seal=1..N",
                    "x=0.1 mm from the left",
                    "y=0.1 mm from the top",
                    "authorisation=the one-time authorisation id (recorded)",
                ],
            },
            ActionSpec {
                name: "seal-test",
                summary: "handshake, door and ink check, and a move home, without stamping",
                args: &[],
            },
            ActionSpec {
                name: "status",
                summary: "status byte and ink levels",
                args: &[],
            },
            ActionSpec {
                name: "unlock",
                summary: "unlock both doors (technician)",
                args: &[],
            },
            ActionSpec {
                name: "reset",
                summary: "home the axes and clear errors",
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
        let arg = |k: &str| args.get(k).and_then(Value::as_u64);
        let r = match action {
            "stamp" => {
                let authorisation = args
                    .get("authorisation")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        CommandError::invalid(
                            "stamp needs authorisation=ID: every impression is authorised",
                        )
                    })?
                    .to_string();
                let imp = Impression {
                    seal: arg("seal")
                        .and_then(|v| u8::try_from(v).ok())
                        .ok_or_else(|| CommandError::invalid("stamp needs seal=N"))?,
                    x: arg("x")
                        .and_then(|v| u16::try_from(v).ok())
                        .ok_or_else(|| CommandError::invalid("stamp needs x (0.1 mm)"))?,
                    y: arg("y")
                        .and_then(|v| u16::try_from(v).ok())
                        .ok_or_else(|| CommandError::invalid("stamp needs y (0.1 mm)"))?,
                };
                ctx.cancel.check()?;
                self.impress(imp).map(|mut v| {
                    v["authorisation"] = json!(authorisation);
                    v
                })
            }
            "seal-test" => {
                let code = self.auth_code.clone();
                (|| {
                    self.handshake(&code)?;
                    let st = self.status()?;
                    self.move_to(0, 0)?;
                    let mut ink = Vec::new();
                    for seal in 1..=self.seals {
                        ink.push(self.ink_level(seal)?);
                    }
                    Ok(json!({ "status": st, "ink": ink }))
                })()
            }
            "status" => (|| {
                let st = self.status()?;
                let mut ink = Vec::new();
                for seal in 1..=self.seals {
                    ink.push(self.ink_level(seal)?);
                }
                Ok(json!({ "status": st, "ink": ink }))
            })(),
            "unlock" => {
                let code = self.auth_code.clone();
                self.handshake(&code)
                    .and_then(|_| self.lock(Door::Paper, false))
                    .and_then(|_| self.lock(Door::Safety, false))
                    .map(|_| json!({ "unlocked": true }))
            }
            "reset" => self.reset().map(|_| json!({ "reset": true })),
            other => {
                return Err(CommandError::unsupported(format!(
                    "the seal module has no action {other:?}"
                )))
            }
        };
        let events = self.take_events();
        match r {
            Ok(mut v) => {
                v["events"] = json!(events);
                Ok(v)
            }
            Err(e) => {
                let mut err = CommandError::from(e);
                if !events.is_empty() {
                    let trail: Vec<String> = events
                        .iter()
                        .filter(|e| e.phase == "after")
                        .map(|e| format!("{}={}", e.action, e.result.as_deref().unwrap_or("")))
                        .collect();
                    err.detail = format!("{} [{}]", err.detail, trail.join("; "));
                }
                Err(err)
            }
        }
    }
}
