//! 2nd-generation ID card readers speaking the SAM frame protocol (GA/T 467) over a serial line
//! (UART or USB-CDC, 115200 bps by default). Byte-level facts: shared/protocols/idcard-sam.md.

pub mod frame;
pub mod identity;
pub mod photo;
pub mod sim;
pub mod status;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use kiosk_hal::actor::{ActionSpec, CommandContext, Device};
use kiosk_hal::clock::SharedClock;
use kiosk_hal::device::{
    CommandError, CompletionCode, DeviceInfo, Health, HealthReport, Progress, SubStatus,
};
use kiosk_hal::frame::{FrameError as RxError, FrameReceiver};
use kiosk_hal::transport::{
    Endpoint, EndpointIo, Transport, TransportError, UsbBulkConfig, UsbBulkTransport,
};
use serde_json::{json, Value};

use self::frame::{Command, FrameError, Reply, SamFrameSpec};
use self::identity::{parse_appended_address, parse_text, Identity, IdentityError};
use self::photo::{CardPhoto, FixtureDecoder, NoDecoder, PhotoDecoder, PhotoError, VendorLibrary};
use self::status::SamStatus;
use crate::{DeviceSpec, DriverError};

pub const DRIVER: &str = "idcard-sam";
const OPTIONS: &[&str] = &[
    "read_timeout_ms",
    "fingerprint_timeout_ms",
    "fingerprint",
    "appended_address",
    "check_expiry",
    "photo_decoder",
    "decoder_library",
    "decoder_symbol",
    "decoder_ok",
    "fixture_dir",
    "find_interval_ms",
];

/// Everything that can go wrong talking to a reader.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("corrupt reply: {0}")]
    Frame(#[from] FrameError),
    #[error("{0}")]
    Sam(SamStatus),
    #[error("read reply is malformed: {0}")]
    Payload(String),
    #[error("card data rejected: {0}")]
    Identity(#[from] IdentityError),
}

impl From<ReaderError> for CommandError {
    fn from(e: ReaderError) -> Self {
        match e {
            ReaderError::Transport(t) => t.into(),
            ReaderError::Timeout(_) => CommandError::timeout(e.to_string()),
            ReaderError::Frame(_) | ReaderError::Payload(_) => {
                CommandError::hardware(e.to_string())
            }
            ReaderError::Sam(s) => s.into_error(),
            ReaderError::Identity(_) => CommandError::invalid(e.to_string()),
        }
    }
}

/// The parts of a read reply.
#[derive(Clone, PartialEq, Eq)]
pub struct RawRead {
    pub text: Vec<u8>,
    pub wlt: Vec<u8>,
    pub fingerprint: Option<Vec<u8>>,
}

/// Splits a read reply's data: TEXT_LEN PHOTO_LEN [FP_LEN] TEXT PHOTO [FP].
pub fn split_read_payload(data: &[u8], with_fp: bool) -> Result<RawRead, ReaderError> {
    let bad = |m: String| ReaderError::Payload(m);
    let lens = if with_fp { 6 } else { 4 };
    if data.len() < lens {
        return Err(bad(format!(
            "{} bytes, too short for the length fields",
            data.len()
        )));
    }
    let be = |o: usize| usize::from(u16::from_be_bytes([data[o], data[o + 1]]));
    let (t, p) = (be(0), be(2));
    let f = if with_fp { be(4) } else { 0 };
    let need = lens + t + p + f;
    if data.len() != need {
        return Err(bad(format!(
            "length fields say {need} bytes, reply has {}",
            data.len()
        )));
    }
    let text = data[lens..lens + t].to_vec();
    let wlt = data[lens + t..lens + t + p].to_vec();
    let fingerprint = (with_fp && f > 0).then(|| data[lens + t + p..].to_vec());
    Ok(RawRead {
        text,
        wlt,
        fingerprint,
    })
}

/// Builds a read reply's data (the card side, for the simulator and tests).
pub fn build_read_payload(raw: &RawRead, with_fp: bool) -> Vec<u8> {
    let mut d = Vec::new();
    let l = |n: usize| u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes();
    d.extend_from_slice(&l(raw.text.len()));
    d.extend_from_slice(&l(raw.wlt.len()));
    if with_fp {
        d.extend_from_slice(&l(raw.fingerprint.as_ref().map_or(0, Vec::len)));
    }
    d.extend_from_slice(&raw.text);
    d.extend_from_slice(&raw.wlt);
    if with_fp {
        d.extend_from_slice(raw.fingerprint.as_deref().unwrap_or(&[]));
    }
    d
}

/// Decodes a whole read-reply frame (what `kiosk devctl idcard decode` does).
pub fn decode_read_frame(frame: &[u8]) -> Result<(Identity, RawRead), ReaderError> {
    let reply = Reply::decode(frame)?;
    let status = SamStatus::from_sw3(reply.sw3);
    if status != SamStatus::Ok {
        return Err(ReaderError::Sam(status));
    }
    // The fingerprint variant has a third length field: the two layouts differ in size by the
    // lengths they declare, so try the plain one first.
    let raw = split_read_payload(&reply.data, false)
        .or_else(|_| split_read_payload(&reply.data, true))?;
    let identity = parse_text(&raw.text)?;
    Ok((identity, raw))
}

/// Reads a captured reply frame as raw bytes, or as hex text (`AA AA AA 96 69 …`, with or without
/// spaces, commas or `0x`), as reader logs and protocol analysers write them.
pub fn capture_bytes(file: &[u8]) -> Vec<u8> {
    let text = match std::str::from_utf8(file) {
        Ok(t) => t,
        Err(_) => return file.to_vec(),
    };
    let cleaned: String = text
        .replace("0x", " ")
        .replace("0X", " ")
        .chars()
        .map(|c| if c == ',' || c == ';' { ' ' } else { c })
        .collect();
    let compact: String = cleaned.split_whitespace().collect();
    if !compact.is_empty()
        && compact.len().is_multiple_of(2)
        && compact.chars().all(|c| c.is_ascii_hexdigit())
    {
        hex::decode(&compact).unwrap_or_else(|_| file.to_vec())
    } else {
        file.to_vec()
    }
}

/// Decodes a captured read reply to JSON (`kiosk devctl idcard decode FILE`). Personal data is
/// masked unless `reveal`.
pub fn decode_capture(file: &[u8], reveal: bool) -> Result<Value, ReaderError> {
    let frame = capture_bytes(file);
    let (identity, raw) = decode_read_frame(&frame)?;
    let read = CardRead {
        photo: Err(PhotoError::Unavailable(
            "offline decode: the WLT photo needs the vendor library".into(),
        )),
        fingerprint: raw.fingerprint.clone(),
        wlt: raw.wlt.clone(),
        identity,
    };
    let mut v = read.to_json(reveal);
    v["frame_bytes"] = json!(frame.len());
    v["wlt_sha256"] = json!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        &raw.wlt
    )));
    Ok(v)
}

/// The kind of a decode failure, for machine-readable output.
pub fn error_kind(e: &ReaderError) -> &'static str {
    match e {
        ReaderError::Transport(_) => "transport",
        ReaderError::Timeout(_) => "timeout",
        ReaderError::Frame(_) => "frame",
        ReaderError::Sam(_) => "sam-status",
        ReaderError::Payload(_) => "payload",
        ReaderError::Identity(_) => "identity",
    }
}

/// The endpoints of a split-frame USB SAM module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitEndpoints {
    /// Interface, header OUT (`ep_out`, 0x02) and header IN (`ep_in`, 0x81).
    pub usb: UsbBulkConfig,
    /// Body OUT (0x06).
    pub ep_out_data: u8,
    /// Body IN (0x85).
    pub ep_in_data: u8,
}

/// One command/reply exchange over split endpoints.
pub fn split_frame_round_trip(
    io: &mut dyn EndpointIo,
    eps: &SplitEndpoints,
    bytes: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, ReaderError> {
    if bytes.len() <= frame::HEADER_LEN {
        return Err(ReaderError::Payload("command frame without a body".into()));
    }
    io.write_endpoint(eps.usb.ep_out, &bytes[..frame::HEADER_LEN])?;
    io.write_endpoint(eps.ep_out_data, &bytes[frame::HEADER_LEN..])?;
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    let mut fill = |io: &mut dyn EndpointIo,
                    ep: u8,
                    want: usize,
                    out: &mut Vec<u8>|
     -> Result<(), ReaderError> {
        while out.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReaderError::Timeout(timeout));
            }
            match io.read_endpoint(ep, &mut buf, left) {
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(TransportError::Timeout(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    };
    fill(io, eps.usb.ep_in, frame::HEADER_LEN, &mut out)?;
    if out[..5] != frame::PREAMBLE {
        return Err(FrameError::BadPreamble.into());
    }
    let len = usize::from(u16::from_be_bytes([out[5], out[6]]));
    if !(2..=frame::MAX_FRAME_LEN).contains(&len) {
        return Err(ReaderError::Payload(format!(
            "reply length {len} out of range"
        )));
    }
    let total = frame::HEADER_LEN + len;
    // Whatever came with the header beyond it belongs to the body.
    let mut body = out.split_off(frame::HEADER_LEN);
    fill(io, eps.ep_in_data, len, &mut body)?;
    out.extend_from_slice(&body[..len]);
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

/// One card read, checked.
pub struct CardRead {
    pub identity: Identity,
    pub photo: Result<CardPhoto, PhotoError>,
    pub fingerprint: Option<Vec<u8>>,
    pub wlt: Vec<u8>,
}

impl Drop for CardRead {
    /// What the card said is personal data: it is overwritten before the memory is returned,
    /// whoever dropped the read.
    fn drop(&mut self) {
        use zeroize::Zeroize;
        let id = &mut self.identity;
        for s in [&mut id.name, &mut id.number, &mut id.authority] {
            s.zeroize();
        }
        for s in [
            &mut id.english_name,
            &mut id.address,
            &mut id.appended_address,
            &mut id.pass_number,
            &mut id.previous_number_link,
        ]
        .into_iter()
        .flatten()
        {
            s.zeroize();
        }
        self.wlt.zeroize();
        if let Some(f) = self.fingerprint.as_mut() {
            f.zeroize();
        }
        if let Ok(p) = self.photo.as_mut() {
            p.wipe();
        }
    }
}

impl CardRead {
    /// JSON for devctl and flows. Personal data is masked unless `reveal`.
    pub fn to_json(&self, reveal: bool) -> Value {
        let identity = if reveal {
            serde_json::to_value(&self.identity).unwrap_or(Value::Null)
        } else {
            json!({
                "card_type": self.identity.card_type,
                "name": kiosk_hal::privacy::mask_name(&self.identity.name),
                "number": self.identity.masked_number(),
                "valid_to": self.identity.valid_to,
                "provisional_layout": self.identity.provisional_layout,
            })
        };
        json!({
            "identity": identity,
            "photo": match &self.photo {
                Ok(p) => json!({ "decoded": true, "bmp_bytes": p.bmp().len() }),
                Err(e) => json!({ "decoded": false, "error": e.to_string() }),
            },
            "fingerprint_bytes": self.fingerprint.as_ref().map(Vec::len),
        })
    }

    /// The photo (BMP, base64) and the fingerprint block (hex) for a flow that compares them
    /// with the person at the terminal, added to `to_json(true)`. The caller wipes the answer.
    pub fn to_json_with_biometrics(&self) -> Value {
        let mut v = self.to_json(true);
        if let Ok(p) = &self.photo {
            v["photo"]["bmp_base64"] =
                json!(base64::engine::general_purpose::STANDARD.encode(p.bmp()));
        }
        if let Some(f) = &self.fingerprint {
            v["fingerprint_hex"] = json!(hex::encode(f));
        }
        v
    }

    fn answer(&self, args: &Value) -> Value {
        let flag = |k: &str| args.get(k).and_then(Value::as_bool).unwrap_or(false);
        if flag("reveal") && flag("biometrics") {
            self.to_json_with_biometrics()
        } else {
            self.to_json(flag("reveal"))
        }
    }
}

pub struct IdCardReader {
    info: DeviceInfo,
    endpoint: Endpoint,
    link: Option<Box<dyn Transport>>,
    rx: FrameReceiver,
    read_timeout: Duration,
    fp_timeout: Duration,
    with_fp: bool,
    with_address: bool,
    check_expiry: bool,
    find_interval: Duration,
    decoder: Box<dyn PhotoDecoder>,
    sam_id: Option<String>,
    reads: u64,
    clock: SharedClock,
    split: Option<SplitEndpoints>,
    split_io: Option<Box<dyn EndpointIo>>,
}

fn build_decoder(spec: &DeviceSpec) -> Result<Box<dyn PhotoDecoder>, String> {
    match spec.opt_str("photo_decoder")?.unwrap_or("none") {
        "none" => Ok(Box::new(NoDecoder {
            why: "no photo_decoder configured".into(),
        })),
        "vendor" => {
            let path = spec
                .opt_str("decoder_library")?
                .ok_or("photo_decoder \"vendor\" needs decoder_library")?;
            let symbol = spec.opt_str("decoder_symbol")?.unwrap_or("unpack");
            let ok = spec.opt_u64("decoder_ok")?.unwrap_or(1) as i32;
            // An absent or broken library is not a config error: reads still work, photos say why.
            Ok(
                match VendorLibrary::load(&PathBuf::from(path), symbol, ok) {
                    Ok(lib) => Box::new(lib),
                    Err(e) => {
                        tracing::warn!(device = %spec.id, error = %e, "card photos unavailable");
                        Box::new(NoDecoder { why: e.to_string() })
                    }
                },
            )
        }
        "fixture" => {
            let dir = spec
                .opt_str("fixture_dir")?
                .ok_or("photo_decoder \"fixture\" needs fixture_dir")?;
            Ok(Box::new(FixtureDecoder {
                dir: PathBuf::from(dir),
            }))
        }
        other => Err(format!(
            "photo_decoder {other:?} must be none, vendor or fixture"
        )),
    }
}

impl IdCardReader {
    pub fn from_spec(spec: &DeviceSpec, clock: SharedClock) -> Result<Self, DriverError> {
        let cfg = |m: String| DriverError::config(spec, m);
        spec.check_options(OPTIONS).map_err(cfg)?;
        let endpoint = spec.endpoint().map_err(cfg)?;
        let ms = |k: &str, d: u64| -> Result<Duration, DriverError> {
            Ok(Duration::from_millis(
                spec.opt_u64(k).map_err(cfg)?.unwrap_or(d),
            ))
        };
        let split = match (&endpoint, spec.ep_out_data, spec.ep_in_data) {
            (Endpoint::Usb(usb), Some(ep_out_data), Some(ep_in_data)) => Some(SplitEndpoints {
                usb: usb.clone(),
                ep_out_data,
                ep_in_data,
            }),
            (Endpoint::Usb(_), None, None) => None,
            (Endpoint::Usb(_), _, _) => {
                return Err(cfg(
                    "split-frame USB needs both ep_out_data and ep_in_data".into()
                ))
            }
            _ => None,
        };
        let mut info = DeviceInfo::new(&spec.id, spec.kind, DRIVER);
        info.transport = endpoint.describe();
        info.model = "GA/T 467 SAM reader".into();
        Ok(IdCardReader {
            info,
            endpoint,
            link: None,
            rx: FrameReceiver::new(),
            read_timeout: ms("read_timeout_ms", 2000)?,
            fp_timeout: ms("fingerprint_timeout_ms", 3000)?,
            with_fp: spec.opt_bool("fingerprint").map_err(cfg)?.unwrap_or(false),
            with_address: spec
                .opt_bool("appended_address")
                .map_err(cfg)?
                .unwrap_or(true),
            check_expiry: spec.opt_bool("check_expiry").map_err(cfg)?.unwrap_or(true),
            find_interval: ms("find_interval_ms", 250)?,
            decoder: build_decoder(spec).map_err(cfg)?,
            sam_id: None,
            reads: 0,
            clock,
            split,
            split_io: None,
        })
    }

    fn link(&mut self) -> Result<&mut Box<dyn Transport>, TransportError> {
        debug_assert!(
            self.split.is_none(),
            "split-frame modules go through split_io"
        );
        if self.link.is_none() {
            self.rx.reset();
            self.link = Some(self.endpoint.open()?);
        }
        self.link
            .as_mut()
            .ok_or_else(|| TransportError::Disconnected("link closed".into()))
    }

    /// Sends one command and receives its reply. A reply with a bad checksum is asked for again
    /// once, as line noise on a long cable does happen.
    pub fn exchange(&mut self, cmd: &Command, timeout: Duration) -> Result<Reply, ReaderError> {
        let bytes = cmd.encode();
        let mut last = None;
        for _ in 0..2 {
            let frame = if self.split.is_some() {
                self.split_round_trip(&bytes, timeout)?
            } else {
                self.stream_round_trip(&bytes, timeout)?
            };
            match Reply::decode(&frame) {
                Ok(r) => return Ok(r),
                Err(e @ FrameError::Checksum { .. }) => {
                    tracing::warn!(device = %self.info.id, error = %e, "corrupt reply; asking again");
                    last = Some(e);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.map_or(ReaderError::Timeout(timeout), ReaderError::Frame))
    }

    /// A serial line or a single bulk pipe: write the frame, receive by length.
    fn stream_round_trip(
        &mut self,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, ReaderError> {
        let mut rx = std::mem::take(&mut self.rx);
        let res = (|| -> Result<Vec<u8>, ReaderError> {
            let link = self.link()?;
            link.discard_input()?;
            rx.reset();
            link.write_all(bytes)?;
            link.flush()?;
            match rx.receive(link.as_mut(), &SamFrameSpec, timeout) {
                Ok(f) => Ok(f),
                Err(RxError::Timeout { .. }) => Err(ReaderError::Timeout(timeout)),
                Err(RxError::TooLong { limit }) => Err(ReaderError::Payload(format!(
                    "reply longer than {limit} bytes"
                ))),
                Err(RxError::Transport(t)) => Err(t.into()),
            }
        })();
        self.rx = rx;
        if let Err(ReaderError::Transport(t)) = &res {
            if t.needs_reopen() {
                self.link = None;
            }
        }
        res
    }

    /// Full-speed USB SAM modules: preamble and length go to one OUT endpoint and the rest to
    /// another; the reply's header comes from one IN endpoint and its body from another.
    fn split_round_trip(
        &mut self,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, ReaderError> {
        let eps = self
            .split
            .clone()
            .ok_or_else(|| ReaderError::Payload("no split endpoints".into()))?;
        if self.split_io.is_none() {
            self.split_io = Some(Box::new(UsbBulkTransport::open(eps.usb.clone())?));
        }
        let io = self
            .split_io
            .as_mut()
            .ok_or_else(|| TransportError::Disconnected("closed".into()))?;
        let res = split_frame_round_trip(io.as_mut(), &eps, bytes, timeout);
        if let Err(ReaderError::Transport(t)) = &res {
            if t.needs_reopen() {
                self.split_io = None;
            }
        }
        res
    }

    /// Uses an already-open endpoint pair for split-frame USB modules (for bench tools and
    /// tests that bring their own USB access).
    pub fn attach_split_io(&mut self, io: Box<dyn EndpointIo>) {
        self.split_io = Some(io);
    }

    fn simple(&mut self, cmd: (u8, u8)) -> Result<Reply, ReaderError> {
        let mut r = self.exchange(&Command::new(cmd), Duration::from_millis(1000))?;
        // A FIND answer to anything but FIND is the late reply of a FIND that timed out: it
        // says nothing about this command, which is asked again.
        let find_answer = |sw3| {
            matches!(
                SamStatus::from_sw3(sw3),
                SamStatus::CardFound | SamStatus::FindFailed
            )
        };
        if cmd != Command::FIND && find_answer(r.sw3) {
            tracing::warn!(device = %self.info.id, "late FIND reply discarded; asking again");
            r = self.exchange(&Command::new(cmd), Duration::from_millis(1000))?;
        }
        match SamStatus::from_sw3(r.sw3) {
            s if s.is_success() => Ok(r),
            s => Err(ReaderError::Sam(s)),
        }
    }

    pub fn reset(&mut self) -> Result<(), ReaderError> {
        self.simple(Command::RESET).map(drop)
    }

    pub fn sam_status(&mut self) -> Result<(), ReaderError> {
        self.simple(Command::STATUS).map(drop)
    }

    /// The SAM's id, shown as vendors print it: `05.01-20101111-0009012345-1234567890`.
    pub fn sam_id(&mut self) -> Result<String, ReaderError> {
        let r = self.simple(Command::SAM_ID)?;
        let d = &r.data;
        if d.len() < 16 {
            return Err(ReaderError::Payload(format!("SAM id of {} bytes", d.len())));
        }
        let u16le = |o: usize| u16::from_le_bytes([d[o], d[o + 1]]);
        let u32le = |o: usize| u32::from_le_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]]);
        let id = format!(
            "{:02}.{:02}-{:08}-{:010}-{:010}",
            u16le(0),
            u16le(2),
            u32le(4),
            u32le(8),
            u32le(12)
        );
        self.sam_id = Some(id.clone());
        Ok(id)
    }

    /// True when a card that has not been read yet lies on the reader.
    pub fn find(&mut self) -> Result<bool, ReaderError> {
        let r = self.exchange(&Command::new(Command::FIND), Duration::from_millis(1000))?;
        match SamStatus::from_sw3(r.sw3) {
            SamStatus::CardFound => Ok(true),
            SamStatus::FindFailed => Ok(false),
            s => Err(ReaderError::Sam(s)),
        }
    }

    pub fn select(&mut self) -> Result<(), ReaderError> {
        self.simple(Command::SELECT).map(drop)
    }

    /// Reads text and photo, and the fingerprint block when asked.
    pub fn read_raw(&mut self, with_fp: bool) -> Result<RawRead, ReaderError> {
        let (cmd, timeout) = if with_fp {
            (Command::READ_WITH_FP, self.fp_timeout)
        } else {
            (Command::READ, self.read_timeout)
        };
        let r = self.exchange(&Command::new(cmd), timeout)?;
        match SamStatus::from_sw3(r.sw3) {
            SamStatus::Ok => split_read_payload(&r.data, with_fp),
            s => Err(ReaderError::Sam(s)),
        }
    }

    /// The appended address (追加住址), `None` when the card has none.
    pub fn read_address(&mut self) -> Result<Option<String>, ReaderError> {
        let r = self.exchange(&Command::new(Command::READ_ADDRESS), self.read_timeout)?;
        match SamStatus::from_sw3(r.sw3) {
            SamStatus::Ok => Ok(parse_appended_address(&r.data)),
            SamStatus::ItemAbsent => Ok(None),
            s => Err(ReaderError::Sam(s)),
        }
    }

    /// select → read → (appended address), after find said a card is there.
    fn read_found_card(
        &mut self,
        with_fp: bool,
        today: chrono::NaiveDate,
    ) -> Result<CardRead, ReaderError> {
        self.select()?;
        let raw = self.read_raw(with_fp)?;
        let mut identity = parse_text(&raw.text)?;
        if self.check_expiry {
            identity.check_validity(today)?;
        }
        if self.with_address {
            identity.appended_address = self.read_address()?;
        }
        let photo = self.decoder.decode(&raw.wlt);
        self.reads += 1;
        tracing::info!(device = %self.info.id, card = %identity, photo = photo.is_ok(), "card read");
        Ok(CardRead {
            identity,
            photo,
            fingerprint: raw.fingerprint,
            wlt: raw.wlt,
        })
    }

    /// One attempt: fails with a user error when no (unread) card is on the reader.
    pub fn read_card(&mut self, with_fp: bool) -> Result<CardRead, ReaderError> {
        if !self.find()? {
            return Err(ReaderError::Sam(SamStatus::FindFailed));
        }
        self.read_found_card(with_fp, self.today())
    }

    /// Waits for a card, reads it, and asks for it to be removed. Cancellable; bounded by the
    /// context's timeout.
    pub fn wait_card(
        &mut self,
        with_fp: bool,
        ctx: &CommandContext,
    ) -> Result<CardRead, CommandError> {
        let deadline = Instant::now() + ctx.timeout;
        ctx.progress.emit(Progress::PlaceCard);
        // A module busy with its antenna, or a loaded host, can miss one FIND now and then; the
        // wait goes on. Three misses in a row is a reader that stopped answering.
        let mut missed = 0;
        loop {
            ctx.cancel.check()?;
            let found = match self.find() {
                Ok(found) => {
                    missed = 0;
                    found
                }
                Err(ReaderError::Timeout(t)) if missed < 2 => {
                    missed += 1;
                    tracing::warn!(device = %self.info.id, "no answer to FIND within {t:?}; asking again");
                    false
                }
                Err(e) => return Err(e.into()),
            };
            if found {
                // A card pulled away mid-read (41) gets one more try while it is still there.
                let read = match self.read_found_card(with_fp, self.today()) {
                    Err(ReaderError::Sam(SamStatus::ReadFailed)) => {
                        ctx.progress.emit(Progress::HoldStill);
                        self.find()?;
                        self.read_found_card(with_fp, self.today())
                    }
                    other => other,
                }?;
                ctx.progress.emit(Progress::RemoveCard);
                return Ok(read);
            }
            if Instant::now() + self.find_interval >= deadline {
                return Err(CommandError::timeout("no card was placed on the reader"));
            }
            std::thread::sleep(self.find_interval);
        }
    }

    /// Today in China Standard Time, from the injectable clock (cards expire by local date).
    fn today(&self) -> chrono::NaiveDate {
        self.clock
            .now()
            .with_timezone(&kiosk_hal::clock::china_offset())
            .date_naive()
    }
}

impl Device for IdCardReader {
    fn info(&self) -> DeviceInfo {
        let mut i = self.info.clone();
        i.serial = self.sam_id.clone().unwrap_or_default();
        i
    }

    fn poll(&mut self) -> HealthReport {
        match self.sam_status() {
            Ok(()) => {
                if self.sam_id.is_none() {
                    let _ = self.sam_id();
                }
                HealthReport::new(Health::Online).with_detail(format!("{} cards read", self.reads))
            }
            Err(ReaderError::Sam(SamStatus::SamNotAuthorised)) => {
                HealthReport::new(Health::HardwareError)
                    .with_sub(SubStatus::SamNotAuthorised)
                    .with_detail(SamStatus::SamNotAuthorised.to_string())
            }
            Err(ReaderError::Sam(s)) => {
                HealthReport::new(Health::HardwareError).with_detail(s.to_string())
            }
            Err(ReaderError::Transport(TransportError::NoDevice(m))) => {
                HealthReport::new(Health::NoDevice).with_detail(m)
            }
            Err(e) => HealthReport::new(Health::Offline).with_detail(e.to_string()),
        }
    }

    fn self_test(&mut self, _ctx: &CommandContext) -> Result<Value, CommandError> {
        self.reset()?;
        self.sam_status()?;
        let id = self.sam_id()?;
        let card = self.find()?;
        Ok(
            json!({ "sam_id": id, "sam": "ok", "unread_card_present": card, "photo_decoder": self.decoder.describe() }),
        )
    }

    fn actions(&self) -> Vec<ActionSpec> {
        vec![
            ActionSpec {
                name: "read-card",
                summary: "read the card lying on the reader now",
                args: &[
                    "fingerprint=true|false",
                    "reveal=true to show personal data",
                    "biometrics=true (with reveal) for the photo and fingerprint block",
                ],
            },
            ActionSpec {
                name: "wait-card",
                summary: "wait for a card, read it, ask to remove it",
                args: &[
                    "fingerprint=true|false",
                    "reveal=true to show personal data",
                    "biometrics=true (with reveal) for the photo and fingerprint block",
                ],
            },
            ActionSpec {
                name: "sam-id",
                summary: "read the SAM module's id",
                args: &[],
            },
            ActionSpec {
                name: "reset",
                summary: "reset the SAM module",
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
        let flag = |k: &str, d: bool| args.get(k).and_then(Value::as_bool).unwrap_or(d);
        match action {
            "read-card" => {
                let r = self.read_card(flag("fingerprint", self.with_fp))?;
                Ok(r.answer(args))
            }
            "wait-card" => {
                let r = self.wait_card(flag("fingerprint", self.with_fp), ctx)?;
                Ok(r.answer(args))
            }
            "sam-id" => Ok(json!({ "sam_id": self.sam_id()? })),
            "reset" => {
                self.reset()?;
                Ok(json!({ "reset": true }))
            }
            other => Err(CommandError::new(
                CompletionCode::Unsupported,
                format!("ID card reader has no action {other:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
