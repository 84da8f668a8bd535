//! EF01-family fingerprint modules on a UART (57600 bps by default). The module does the
//! matching; the host drives capture, template building, enrolment, 1:N search (staff login)
//! and 1:1 verification against a given template — the ID card's fingerprint block for the
//! person-card check. Facts: shared/protocols/ef01-fingerprint.md.

pub mod packet;
pub mod sim;

use std::time::{Duration, Instant};

use kiosk_hal::actor::{ActionSpec, CommandContext, Device};
use kiosk_hal::device::{CommandError, CompletionCode, DeviceInfo, Health, HealthReport, Progress};
use kiosk_hal::frame::{FrameError as RxError, FrameReceiver};
use kiosk_hal::transport::{Endpoint, Transport, TransportError};
use serde_json::{json, Value};

use self::packet::{ins, Packet, PacketError, PacketSpec, Pid, DEFAULT_ADDRESS};
use crate::{DeviceSpec, DriverError};

pub const DRIVER: &str = "fingerprint-ef01";
const OPTIONS: &[&str] = &[
    "address",
    "password",
    "capture_timeout_ms",
    "poll_interval_ms",
];
/// One template (character file) as modules exchange it.
pub const TEMPLATE_LEN: usize = 512;
/// A sensor image on the wire: 256 × 288 pixels, two 4-bit pixels a byte.
pub const IMAGE_BYTES: usize = 256 * 288 / 2;

/// The module's confirmation codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    Ok,
    PacketError,
    NoFinger,
    ImageFailed,
    ImageMessy,
    TooFewFeatures,
    NoMatch,
    NotFound,
    EnrollMismatch,
    BadPage,
    DbReadError,
    UploadFailed,
    PacketResponseFailed,
    DeleteFailed,
    ClearFailed,
    WrongPassword,
    InvalidImage,
    FlashError,
    InvalidRegister,
    PortError,
    AddressError,
    PasswordNeeded,
    Other(u8),
}

impl Confirm {
    pub fn from_byte(b: u8) -> Confirm {
        use Confirm::*;
        match b {
            0x00 => Ok,
            0x01 => PacketError,
            0x02 => NoFinger,
            0x03 => ImageFailed,
            0x06 => ImageMessy,
            0x07 => TooFewFeatures,
            0x08 => NoMatch,
            0x09 => NotFound,
            0x0A => EnrollMismatch,
            0x0B => BadPage,
            0x0C => DbReadError,
            0x0D | 0x0F => UploadFailed,
            0x0E => PacketResponseFailed,
            0x10 => DeleteFailed,
            0x11 => ClearFailed,
            0x13 => WrongPassword,
            0x15 => InvalidImage,
            0x18 => FlashError,
            0x1A => InvalidRegister,
            0x1D => PortError,
            0x20 => AddressError,
            0x21 => PasswordNeeded,
            other => Other(other),
        }
    }

    pub fn message(self) -> &'static str {
        use Confirm::*;
        match self {
            Ok => "ok",
            PacketError => "the module received a bad packet",
            NoFinger => "no finger on the sensor",
            ImageFailed => "capturing the image failed",
            ImageMessy => "the image is too messy; clean the finger and the sensor",
            TooFewFeatures => "too few features; press the finger flatter",
            NoMatch => "the fingers do not match",
            NotFound => "no matching fingerprint in the library",
            EnrollMismatch => "the two captures of the enrolment differ",
            BadPage => "page number out of range",
            DbReadError => "library read error",
            UploadFailed => "upload failed",
            PacketResponseFailed => "the module could not receive data packets",
            DeleteFailed => "delete failed",
            ClearFailed => "clearing the library failed",
            WrongPassword => "wrong module password",
            InvalidImage => "no valid image in the buffer",
            FlashError => "flash write error",
            InvalidRegister => "invalid register",
            PortError => "communication port error",
            AddressError => "wrong module address",
            PasswordNeeded => "the module needs its password verified first",
            Other(_) => "undocumented confirmation code",
        }
    }

    /// The completion a failed command ends with.
    pub fn into_error(self, b: u8) -> CommandError {
        use Confirm::*;
        let code = match self {
            NoFinger | ImageMessy | TooFewFeatures | ImageFailed | EnrollMismatch
            | InvalidImage => CompletionCode::UserError,
            NoMatch | NotFound => CompletionCode::UserError,
            BadPage => CompletionCode::InvalidData,
            WrongPassword | PasswordNeeded | AddressError => CompletionCode::NotReady,
            _ => CompletionCode::HardwareError,
        };
        CommandError::new(code, format!("confirmation {b:02X}: {}", self.message()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("corrupt packet: {0}")]
    Packet(#[from] PacketError),
    #[error("unexpected reply: {0}")]
    Protocol(String),
    #[error("confirmation {0:02X}: {msg}", msg = Confirm::from_byte(*.0).message())]
    Confirm(u8),
}

impl From<ModuleError> for CommandError {
    fn from(e: ModuleError) -> Self {
        match e {
            ModuleError::Transport(t) => t.into(),
            ModuleError::Timeout(_) => CommandError::timeout(e.to_string()),
            ModuleError::Packet(_) | ModuleError::Protocol(_) => {
                CommandError::hardware(e.to_string())
            }
            ModuleError::Confirm(b) => Confirm::from_byte(b).into_error(b),
        }
    }
}

/// The module's system parameters (ReadSysPara).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SysParams {
    pub status: u16,
    pub system_id: u16,
    pub capacity: u16,
    pub security_level: u16,
    pub address: u32,
    pub packet_size: usize,
    pub baud: u32,
}

/// A match: where (for a search) and how strongly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MatchResult {
    pub page: Option<u16>,
    pub score: u16,
}

pub struct FingerprintModule {
    info: DeviceInfo,
    endpoint: Endpoint,
    link: Option<Box<dyn Transport>>,
    rx: FrameReceiver,
    address: u32,
    password: u32,
    capture_timeout: Duration,
    poll_interval: Duration,
    params: Option<SysParams>,
}

impl FingerprintModule {
    pub fn from_spec(spec: &DeviceSpec) -> Result<Self, DriverError> {
        let cfg = |m: String| DriverError::config(spec, m);
        spec.check_options(OPTIONS).map_err(cfg)?;
        let mut endpoint = spec.endpoint().map_err(cfg)?;
        if let (Endpoint::Serial(s), None) = (&mut endpoint, spec.baud) {
            s.baud = 57_600;
        }
        let hex32 = |k: &str, d: u32| -> Result<u32, DriverError> {
            match spec.opt_str(k).map_err(cfg)? {
                None => Ok(d),
                Some(h) => u32::from_str_radix(h.trim_start_matches("0x"), 16).map_err(|_| {
                    cfg(format!(
                        "option `{k}` must be 8 hex digits, like \"FFFFFFFF\""
                    ))
                }),
            }
        };
        let mut info = DeviceInfo::new(&spec.id, spec.kind, DRIVER);
        info.transport = endpoint.describe();
        info.model = "EF01 fingerprint module".into();
        Ok(FingerprintModule {
            info,
            endpoint,
            link: None,
            rx: FrameReceiver::new(),
            address: hex32("address", DEFAULT_ADDRESS)?,
            password: hex32("password", 0)?,
            capture_timeout: Duration::from_millis(
                spec.opt_u64("capture_timeout_ms")
                    .map_err(cfg)?
                    .unwrap_or(10_000),
            ),
            poll_interval: Duration::from_millis(
                spec.opt_u64("poll_interval_ms")
                    .map_err(cfg)?
                    .unwrap_or(100),
            ),
            params: None,
        })
    }

    fn link(&mut self) -> Result<&mut Box<dyn Transport>, TransportError> {
        if self.link.is_none() {
            self.rx.reset();
            self.params = None;
            self.link = Some(self.endpoint.open()?);
        }
        self.link
            .as_mut()
            .ok_or_else(|| TransportError::Disconnected("link closed".into()))
    }

    fn send(&mut self, p: &Packet) -> Result<(), ModuleError> {
        let bytes = p.encode()?;
        let res = self.link().and_then(|l| {
            l.write_all(&bytes)?;
            l.flush()
        });
        if let Err(e) = res {
            if e.needs_reopen() {
                self.link = None;
            }
            return Err(e.into());
        }
        Ok(())
    }

    fn receive(&mut self, timeout: Duration) -> Result<Packet, ModuleError> {
        let mut rx = std::mem::take(&mut self.rx);
        let res = match self.link() {
            Ok(link) => rx.receive(link.as_mut(), &PacketSpec, timeout),
            Err(e) => Err(RxError::Transport(e)),
        };
        self.rx = rx;
        let frame = match res {
            Ok(f) => f,
            Err(RxError::Timeout { .. }) => return Err(ModuleError::Timeout(timeout)),
            Err(RxError::TooLong { limit }) => {
                return Err(ModuleError::Protocol(format!("packet over {limit} bytes")))
            }
            Err(RxError::Transport(t)) => {
                if t.needs_reopen() {
                    self.link = None;
                }
                return Err(t.into());
            }
        };
        let p = Packet::decode(&frame)?;
        if p.address != self.address {
            return Err(PacketError::WrongAddress(p.address).into());
        }
        Ok(p)
    }

    /// Sends an instruction and returns the acknowledgement's payload after the confirmation
    /// code, or the confirmation as an error.
    fn command(
        &mut self,
        instruction: u8,
        params: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, ModuleError> {
        if let Some(l) = self.link.as_mut() {
            if let Err(e) = l.discard_input() {
                if e.needs_reopen() {
                    self.link = None;
                }
                return Err(e.into());
            }
        }
        self.rx.reset();
        self.send(&Packet::command(self.address, instruction, params))?;
        let ack = self.receive(timeout)?;
        if ack.pid != Pid::Ack || ack.payload.is_empty() {
            return Err(ModuleError::Protocol(format!(
                "expected an acknowledgement, got {:?}",
                ack.pid
            )));
        }
        match ack.payload[0] {
            0x00 => Ok(ack.payload[1..].to_vec()),
            code => Err(ModuleError::Confirm(code)),
        }
    }

    fn quick(&mut self, instruction: u8, params: &[u8]) -> Result<Vec<u8>, ModuleError> {
        self.command(instruction, params, Duration::from_millis(1500))
    }

    pub fn verify_password(&mut self) -> Result<(), ModuleError> {
        let pwd = self.password.to_be_bytes();
        self.quick(ins::VFY_PWD, &pwd).map(drop)
    }

    pub fn read_sys_params(&mut self) -> Result<SysParams, ModuleError> {
        let d = self.quick(ins::READ_SYS_PARA, &[])?;
        if d.len() < 16 {
            return Err(ModuleError::Protocol(format!(
                "system parameters of {} bytes",
                d.len()
            )));
        }
        let u16be = |o: usize| u16::from_be_bytes([d[o], d[o + 1]]);
        let p = SysParams {
            status: u16be(0),
            system_id: u16be(2),
            capacity: u16be(4),
            security_level: u16be(6),
            address: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
            packet_size: 32usize << u16be(12).min(3),
            baud: u32::from(u16be(14)) * 9600,
        };
        self.params = Some(p);
        Ok(p)
    }

    fn params(&mut self) -> Result<SysParams, ModuleError> {
        match self.params {
            Some(p) => Ok(p),
            None => self.read_sys_params(),
        }
    }

    pub fn template_count(&mut self) -> Result<u16, ModuleError> {
        let d = self.quick(ins::TEMPLATE_NUM, &[])?;
        d.get(..2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| ModuleError::Protocol("short reply".into()))
    }

    /// One capture attempt: `Ok(false)` when no finger is on the sensor.
    pub fn gen_img(&mut self) -> Result<bool, ModuleError> {
        match self.command(ins::GEN_IMG, &[], Duration::from_millis(2000)) {
            Ok(_) => Ok(true),
            Err(ModuleError::Confirm(0x02)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits for a finger and captures it.
    pub fn capture(&mut self, ctx: &CommandContext) -> Result<(), CommandError> {
        let deadline = Instant::now() + ctx.timeout.min(self.capture_timeout);
        ctx.progress.emit(Progress::PlaceFinger);
        loop {
            ctx.cancel.check()?;
            if self.gen_img()? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(CommandError::timeout("no finger was placed on the sensor"));
            }
            std::thread::sleep(self.poll_interval);
        }
    }

    /// Waits until the sensor is clear.
    fn wait_lifted(&mut self, ctx: &CommandContext) -> Result<(), CommandError> {
        let deadline = Instant::now() + ctx.timeout.min(self.capture_timeout);
        ctx.progress.emit(Progress::LiftFinger);
        loop {
            ctx.cancel.check()?;
            if !self.gen_img()? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(CommandError::timeout("the finger was not lifted"));
            }
            std::thread::sleep(self.poll_interval);
        }
    }

    pub fn image_to_template(&mut self, buffer: u8) -> Result<(), ModuleError> {
        self.command(ins::IMG2TZ, &[buffer], Duration::from_millis(2000))
            .map(drop)
    }

    /// The library pages in use, from the module's index tables (256 pages each, one bit a
    /// page, lowest page in bit 0).
    pub fn used_pages(&mut self) -> Result<Vec<u16>, ModuleError> {
        let capacity = self.params()?.capacity;
        let mut used = Vec::new();
        for table in 0..capacity.div_ceil(256).min(4) {
            let bits = self.quick(ins::READ_INDEX_TABLE, &[table as u8])?;
            if bits.len() < 32 {
                return Err(ModuleError::Protocol(format!(
                    "index table of {} bytes",
                    bits.len()
                )));
            }
            for (i, byte) in bits[..32].iter().enumerate() {
                for bit in 0..8 {
                    let page = table * 256 + (i * 8 + bit) as u16;
                    if byte & (1 << bit) != 0 && page < capacity {
                        used.push(page);
                    }
                }
            }
        }
        Ok(used)
    }

    /// Enrols a finger into library page `page`, or into the lowest free page the module's
    /// index table shows (two captures).
    pub fn enroll(
        &mut self,
        page: Option<u16>,
        ctx: &CommandContext,
    ) -> Result<Value, CommandError> {
        let capacity = self.params()?.capacity;
        let page = match page {
            Some(p) => p,
            None => {
                let used = self.used_pages()?;
                (0..capacity)
                    .find(|p| used.binary_search(p).is_err())
                    .ok_or_else(|| {
                        CommandError::hardware(format!(
                            "the fingerprint library is full ({capacity} pages)"
                        ))
                    })?
            }
        };
        if page >= capacity {
            return Err(CommandError::invalid(format!(
                "page {page} is beyond the library's {capacity} pages"
            )));
        }
        self.capture(ctx)?;
        self.image_to_template(1)?;
        self.wait_lifted(ctx)?;
        self.capture(ctx)?;
        self.image_to_template(2)?;
        self.quick(ins::REG_MODEL, &[])?;
        let [hi, lo] = page.to_be_bytes();
        self.quick(ins::STORE, &[1, hi, lo])?;
        tracing::info!(device = %self.info.id, page, "fingerprint enrolled");
        Ok(json!({ "page": page }))
    }

    /// 1:N search of the module's library (staff login).
    pub fn identify(&mut self, ctx: &CommandContext) -> Result<MatchResult, CommandError> {
        let capacity = self.params()?.capacity;
        self.capture(ctx)?;
        self.image_to_template(1)?;
        let [hi, lo] = capacity.to_be_bytes();
        let d = self.command(ins::SEARCH, &[1, 0, 0, hi, lo], Duration::from_millis(3000))?;
        if d.len() < 4 {
            return Err(ModuleError::Protocol("short search reply".into()).into());
        }
        Ok(MatchResult {
            page: Some(u16::from_be_bytes([d[0], d[1]])),
            score: u16::from_be_bytes([d[2], d[3]]),
        })
    }

    /// Sends a template to character buffer `buffer` (DownChar + data packets).
    pub fn download_template(&mut self, buffer: u8, template: &[u8]) -> Result<(), ModuleError> {
        let size = self.params()?.packet_size;
        self.quick(ins::DOWN_CHAR, &[buffer])?;
        let chunks: Vec<&[u8]> = template.chunks(size).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let pid = if i + 1 == chunks.len() {
                Pid::EndData
            } else {
                Pid::Data
            };
            self.send(&Packet::new(self.address, pid, chunk.to_vec()))?;
        }
        Ok(())
    }

    /// Reads a template out of character buffer `buffer` (UpChar + data packets).
    pub fn upload_template(&mut self, buffer: u8) -> Result<Vec<u8>, ModuleError> {
        self.quick(ins::UP_CHAR, &[buffer])?;
        self.receive_data("template", 8 * TEMPLATE_LEN)
    }

    /// Reads the sensor's last image (UpImage + data packets): 256 × 288 pixels, 4 bits each.
    pub fn upload_image(&mut self) -> Result<Vec<u8>, ModuleError> {
        self.quick(ins::UP_IMAGE, &[])?;
        self.receive_data("image", 2 * IMAGE_BYTES)
    }

    /// The data packets after an upload's acknowledgement, up to the end-of-data packet.
    fn receive_data(&mut self, what: &str, limit: usize) -> Result<Vec<u8>, ModuleError> {
        let mut out = Vec::new();
        loop {
            let p = self.receive(Duration::from_millis(2000))?;
            match p.pid {
                Pid::Data => out.extend_from_slice(&p.payload),
                Pid::EndData => {
                    out.extend_from_slice(&p.payload);
                    return Ok(out);
                }
                other => {
                    return Err(ModuleError::Protocol(format!(
                        "{other:?} packet inside a {what} upload"
                    )))
                }
            }
            if out.len() > limit {
                return Err(ModuleError::Protocol(format!("{what} upload does not end")));
            }
        }
    }

    /// 1:1: the live finger against a given template.
    pub fn verify_template(
        &mut self,
        template: &[u8],
        ctx: &CommandContext,
    ) -> Result<MatchResult, CommandError> {
        self.download_template(2, template)?;
        self.capture(ctx)?;
        self.image_to_template(1)?;
        self.match_buffers()
    }

    fn match_buffers(&mut self) -> Result<MatchResult, CommandError> {
        let d = self.quick(ins::MATCH, &[])?;
        if d.len() < 2 {
            return Err(ModuleError::Protocol("short match reply".into()).into());
        }
        Ok(MatchResult {
            page: None,
            score: u16::from_be_bytes([d[0], d[1]]),
        })
    }

    /// The person-card check: the live finger against the two fingers stored on the ID card
    /// (its 1024-byte fingerprint block from SAM command 30/10). Needs a module licensed for
    /// the card-fingerprint algorithm.
    pub fn verify_card(
        &mut self,
        block: &[u8],
        ctx: &CommandContext,
    ) -> Result<MatchResult, CommandError> {
        if block.len() != 2 * TEMPLATE_LEN {
            return Err(CommandError::invalid(format!(
                "an ID card fingerprint block is 1024 bytes, not {}",
                block.len()
            )));
        }
        self.download_template(2, &block[..TEMPLATE_LEN])?;
        self.capture(ctx)?;
        self.image_to_template(1)?;
        match self.match_buffers() {
            Ok(m) => return Ok(m),
            Err(e) if e.detail.starts_with("confirmation 08") => {}
            Err(e) => return Err(e),
        }
        // The card holds two fingers; the image in buffer 1 is still there for the second.
        self.download_template(2, &block[TEMPLATE_LEN..])?;
        self.match_buffers()
    }

    pub fn delete(&mut self, page: u16, count: u16) -> Result<(), ModuleError> {
        let [a, b] = page.to_be_bytes();
        let [c, d] = count.to_be_bytes();
        self.quick(ins::DELETE_CHAR, &[a, b, c, d]).map(drop)
    }
}

fn hex_arg(args: &Value, key: &str) -> Result<Vec<u8>, CommandError> {
    let s = args
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| CommandError::invalid(format!("needs {key}=HEX")))?;
    hex::decode(s).map_err(|e| CommandError::invalid(format!("{key}: {e}")))
}

impl Device for FingerprintModule {
    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    fn poll(&mut self) -> HealthReport {
        let res = self.verify_password().and_then(|_| self.read_sys_params());
        match res {
            Ok(p) => {
                let stored = self.template_count().unwrap_or(0);
                HealthReport::new(Health::Online)
                    .with_detail(format!("{stored}/{} templates", p.capacity))
            }
            Err(ModuleError::Transport(TransportError::NoDevice(m))) => {
                HealthReport::new(Health::NoDevice).with_detail(m)
            }
            Err(e @ ModuleError::Confirm(_)) => {
                HealthReport::new(Health::HardwareError).with_detail(e.to_string())
            }
            Err(e) => HealthReport::new(Health::Offline).with_detail(e.to_string()),
        }
    }

    fn self_test(&mut self, _ctx: &CommandContext) -> Result<Value, CommandError> {
        self.verify_password()?;
        let p = self.read_sys_params()?;
        let n = self.template_count()?;
        let finger = self.gen_img()?;
        Ok(json!({ "params": p, "templates": n, "finger_on_sensor": finger }))
    }

    fn actions(&self) -> Vec<ActionSpec> {
        vec![
            ActionSpec {
                name: "fp-enroll",
                summary: "enrol a finger into a library page (the lowest free one by default)",
                args: &["page=N (optional)"],
            },
            ActionSpec {
                name: "fp-identify",
                summary: "1:N search of the library (staff login)",
                args: &[],
            },
            ActionSpec {
                name: "fp-verify",
                summary: "1:1 against a template",
                args: &["template=HEX (512 bytes)"],
            },
            ActionSpec {
                name: "fp-verify-card",
                summary: "person-card check against an ID card's fingerprint block",
                args: &["block=HEX (1024 bytes)"],
            },
            ActionSpec {
                name: "fp-capture",
                summary: "capture a finger and upload its template",
                args: &[],
            },
            ActionSpec {
                name: "fp-delete",
                summary: "delete library pages",
                args: &["page=N", "count=N (default 1)"],
            },
        ]
    }

    fn run(
        &mut self,
        action: &str,
        args: &Value,
        ctx: &CommandContext,
    ) -> Result<Value, CommandError> {
        let num = |k: &str| {
            args.get(k)
                .and_then(Value::as_u64)
                .and_then(|v| u16::try_from(v).ok())
        };
        match action {
            "fp-enroll" => match args.get("page") {
                None | Some(Value::Null) => self.enroll(None, ctx),
                Some(_) => self.enroll(
                    Some(num("page").ok_or_else(|| {
                        CommandError::invalid("page must be a whole number below 65536")
                    })?),
                    ctx,
                ),
            },
            "fp-identify" => Ok(json!(self.identify(ctx)?)),
            "fp-verify" => Ok(json!(
                self.verify_template(&hex_arg(args, "template")?, ctx)?
            )),
            "fp-verify-card" => Ok(json!(self.verify_card(&hex_arg(args, "block")?, ctx)?)),
            "fp-capture" => {
                self.capture(ctx)?;
                self.image_to_template(1)?;
                let t = self.upload_template(1)?;
                Ok(json!({ "template": hex::encode(t) }))
            }
            "fp-delete" => {
                let page = num("page").ok_or_else(|| CommandError::invalid("needs page=N"))?;
                self.delete(page, num("count").unwrap_or(1))?;
                Ok(json!({ "deleted": page }))
            }
            other => Err(CommandError::unsupported(format!(
                "fingerprint module has no action {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
