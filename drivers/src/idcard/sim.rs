//! The card side of the SAM protocol on a real pty: a reader with a SAM module and a slot where
//! fixture cards are placed and lifted. It behaves as readers do — find answers 80 after a read
//! until the card is lifted — and can be made to misbehave: fragmented or slow replies, line
//! noise, checksum errors, an unauthorised SAM (66), a card pulled away mid-read (41).

use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use kiosk_hal::frame::FrameReceiver;
use kiosk_hal::transport::SimPort;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::frame::{Command, Reply, SamFrameSpec};
use super::identity::{encode_text, Identity};
use super::photo::{CardPhoto, FixtureDecoder, BMP_HEIGHT, BMP_WIDTH, WLT_LEN};
use super::{build_read_payload, RawRead};
use crate::sim::{
    path_string, send_with_faults, LinkReq, Mail, SimControl, SimEnv, SimFaults, SimLink,
    SimMailbox,
};

/// A card as a fixture file describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardFixture {
    pub identity: Identity,
    #[serde(default)]
    pub fingerprint: bool,
    #[serde(default)]
    pub appended_address: Option<String>,
    /// A face photo for the card, by file name in the faces directory ([`faces_dir`]).
    #[serde(default)]
    pub photo: Option<String>,
}

/// Where fixture cards' face photos are: `$HALLKIT_FACES`, else the shared test faces beside
/// this checkout.
pub fn faces_dir() -> PathBuf {
    std::env::var_os("HALLKIT_FACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces"))
        })
}

/// Turns a face photo into a card photo: the largest 102:126 window around the centre,
/// scaled to 102×126 as the card's chip stores it.
pub fn card_photo_from_file(path: &Path) -> Result<CardPhoto, String> {
    let img = image::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .to_rgb8();
    let (w, h) = img.dimensions();
    let aspect = f64::from(BMP_WIDTH) / f64::from(BMP_HEIGHT);
    let (cw, ch) = if f64::from(w) / f64::from(h) > aspect {
        ((f64::from(h) * aspect) as u32, h)
    } else {
        (w, (f64::from(w) / aspect) as u32)
    };
    let crop = image::imageops::crop_imm(&img, (w - cw) / 2, (h - ch) / 2, cw.max(1), ch.max(1))
        .to_image();
    let small = image::imageops::resize(
        &crop,
        BMP_WIDTH,
        BMP_HEIGHT,
        image::imageops::FilterType::Triangle,
    );
    CardPhoto::from_rgb(small.as_raw()).map_err(|e| e.to_string())
}

/// The fixture cards shipped with the simulator, by name.
pub const BUILTIN_CARDS: &[(&str, &str)] = &[
    (
        "resident",
        include_str!("../../fixtures/idcards/resident.toml"),
    ),
    (
        "resident-longterm",
        include_str!("../../fixtures/idcards/resident-longterm.toml"),
    ),
    (
        "resident-expired",
        include_str!("../../fixtures/idcards/resident-expired.toml"),
    ),
    (
        "hk-permit",
        include_str!("../../fixtures/idcards/hk-permit.toml"),
    ),
    (
        "foreign-2017",
        include_str!("../../fixtures/idcards/foreign-2017.toml"),
    ),
    (
        "foreign-2023",
        include_str!("../../fixtures/idcards/foreign-2023.toml"),
    ),
];

impl CardFixture {
    pub fn parse(text: &str, origin: &str) -> Result<CardFixture, String> {
        toml::from_str(text).map_err(|e| format!("card fixture {origin}: {e}"))
    }

    pub fn builtin(name: &str) -> Result<CardFixture, String> {
        let (_, text) = BUILTIN_CARDS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| {
                let names: Vec<_> = BUILTIN_CARDS.iter().map(|(n, _)| *n).collect();
                format!("no fixture card {name:?}; cards: {}", names.join(", "))
            })?;
        CardFixture::parse(text, name)
    }

    pub fn load(path: &Path) -> Result<CardFixture, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        CardFixture::parse(&text, &path.display().to_string())
    }

    /// The card's 1024 bytes of "WLT": deterministic per card, so the photo fixture can be
    /// found by its digest.
    pub fn wlt(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(WLT_LEN);
        let mut block = Sha256::digest(self.identity.number.as_bytes()).to_vec();
        while out.len() < WLT_LEN {
            out.extend_from_slice(&block);
            block = Sha256::digest(&block).to_vec();
        }
        out.truncate(WLT_LEN);
        out
    }

    /// Two 512-byte templates, as cards store them: the card holder's fingers
    /// `<number>#0` and `<number>#1`, in the fingerprint simulator's template form, so the
    /// person-card check runs end to end in the sim profile.
    pub fn fingerprint_block(&self) -> Option<Vec<u8>> {
        self.fingerprint.then(|| {
            let mut out =
                crate::fingerprint::sim::sim_template(&format!("{}#0", self.identity.number));
            out.extend(crate::fingerprint::sim::sim_template(&format!(
                "{}#1",
                self.identity.number
            )));
            out
        })
    }

    /// The card's photo: its face photo when the faces directory has it (so face verification
    /// runs against a real face in the sim profile), else a portrait silhouette tinted by the
    /// card number.
    pub fn photo(&self) -> CardPhoto {
        if let Some(name) = &self.photo {
            match card_photo_from_file(&faces_dir().join(name)) {
                Ok(p) => return p,
                Err(e) => tracing::warn!(error = %e, "card photo unavailable; using a silhouette"),
            }
        }
        self.silhouette()
    }

    fn silhouette(&self) -> CardPhoto {
        let seed = Sha256::digest(self.identity.number.as_bytes());
        let (w, h) = (BMP_WIDTH as i32, BMP_HEIGHT as i32);
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x - w / 2, y - h * 2 / 5);
                let head = dx * dx * 100 / (30 * 30) + dy * dy * 100 / (38 * 38) <= 100;
                let shoulders = y > h * 3 / 4 && (dx.abs() < 48 - (h - y) / 2);
                let px = if head {
                    [0xE0, 0xB8, 0x98]
                } else if shoulders {
                    [seed[0] / 2, seed[1] / 2, 0x60]
                } else {
                    [0xF4, 0xF4, 0xF8]
                };
                rgb.extend_from_slice(&px);
            }
        }
        CardPhoto::from_rgb(&rgb)
            .unwrap_or_else(|e| unreachable!("synthetic photo is well-formed: {e}"))
    }

    fn raw(&self) -> RawRead {
        RawRead {
            text: encode_text(&self.identity).to_vec(),
            wlt: self.wlt(),
            fingerprint: self.fingerprint_block(),
        }
    }
}

impl From<LinkReq> for Req {
    fn from(l: LinkReq) -> Self {
        Req::Link(l)
    }
}

enum Req {
    Place(Box<CardFixture>),
    Lift,
    SamStatus(u8),
    FailReads { times: u32, sw3: u8 },
    Link(LinkReq),
    Stats,
}

pub struct IdCardSim {
    id: String,
    endpoint: String,
    photo_dir: PathBuf,
    mailbox: SimMailbox<Req>,
}

impl IdCardSim {
    /// Starts the reader on a new pty. Photos of placed cards go to `photo_dir` for a
    /// [`FixtureDecoder`].
    pub fn start(id: &str, env: &SimEnv) -> std::io::Result<IdCardSim> {
        let port = SimPort::create(env.port_path(id))?;
        let endpoint = path_string(port.path());
        let photo_dir = env.dir.join(format!("{id}-photos"));
        std::fs::create_dir_all(&photo_dir)?;
        let (mailbox, rx) = SimMailbox::new();
        std::thread::Builder::new()
            .name(format!("sim-{id}"))
            .spawn(move || run(port, rx))?;
        Ok(IdCardSim {
            id: id.to_string(),
            endpoint,
            photo_dir,
            mailbox,
        })
    }

    pub fn photo_dir(&self) -> &Path {
        &self.photo_dir
    }

    pub fn place(&self, card: CardFixture) -> Result<(), String> {
        let file = FixtureDecoder::file_for(&self.photo_dir, &card.wlt());
        std::fs::write(&file, card.photo().bmp())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        self.mailbox.ask(Req::Place(Box::new(card))).map(drop)
    }

    pub fn lift(&self) -> Result<(), String> {
        self.mailbox.ask(Req::Lift).map(drop)
    }

    /// What SAM status and read commands answer: 0x90 normally, 0x66 unauthorised, 0x60 failed.
    pub fn set_sam_status(&self, sw3: u8) -> Result<(), String> {
        self.mailbox.ask(Req::SamStatus(sw3)).map(drop)
    }

    /// The next `times` reads answer `sw3` (0x41: the card moved).
    pub fn fail_reads(&self, times: u32, sw3: u8) -> Result<(), String> {
        self.mailbox.ask(Req::FailReads { times, sw3 }).map(drop)
    }

    pub fn stats(&self) -> Result<Value, String> {
        self.mailbox.ask(Req::Stats)
    }
}

impl SimControl for IdCardSim {
    crate::sim::pty_sim_link_controls!();
    fn inject(&self, what: &str, args: &Value) -> Result<Value, String> {
        match what {
            "place" => {
                let card = match (args.get("card").and_then(Value::as_str), args.get("file").and_then(Value::as_str)) {
                    (Some(name), _) => CardFixture::builtin(name)?,
                    (None, Some(file)) => CardFixture::load(Path::new(file))?,
                    _ => return Err("place needs card=NAME or file=PATH".into()),
                };
                self.place(card).map(|_| Value::Null)
            }
            "lift" => self.lift().map(|_| Value::Null),
            "sam" => {
                let sw3 = match args.get("status").and_then(Value::as_str) {
                    Some("ok") => 0x90,
                    Some("not-authorised") => 0x66,
                    Some("self-test-failed") => 0x60,
                    other => return Err(format!("sam status={other:?}: ok, not-authorised or self-test-failed")),
                };
                self.set_sam_status(sw3).map(|_| Value::Null)
            }
            "fail-read" => {
                let times = args.get("times").and_then(Value::as_u64).unwrap_or(1) as u32;
                // moved: the card was pulled away (41); the others are cards the SAM rejects.
                let sw3 = match args.get("status").and_then(Value::as_str) {
                    None | Some("moved") => 0x41,
                    Some("unauthenticated") => 0x32,
                    Some("unknown-type") => 0x40,
                    Some(other) => {
                        return Err(format!(
                            "fail-read status={other:?}: moved, unauthenticated or unknown-type"
                        ))
                    }
                };
                self.fail_reads(times, sw3).map(|_| Value::Null)
            }
            "stats" => self.stats(),
            other => Err(format!("the ID card simulator cannot {other:?}; it can: place, lift, sam, fail-read, stats")),
        }
    }
}

struct Slot {
    card: CardFixture,
    read_since_placed: bool,
}

/// The reader's card side without any link: a SAM and a slot. The pty simulator wraps it, and
/// so can any other transport's simulator (the USB split-endpoint one in the driver tests).
pub struct SamCard {
    slot: Option<Slot>,
    sam_sw3: u8,
    fail_reads: (u32, u8),
}

impl Default for SamCard {
    fn default() -> Self {
        SamCard {
            slot: None,
            sam_sw3: 0x90,
            fail_reads: (0, 0x41),
        }
    }
}

impl SamCard {
    pub fn place(&mut self, card: CardFixture) {
        self.slot = Some(Slot {
            card,
            read_since_placed: false,
        });
    }

    pub fn lift(&mut self) {
        self.slot = None;
    }

    /// Answers one host frame with one reply frame.
    pub fn handle(&mut self, frame: &[u8]) -> Vec<u8> {
        let reply = match Command::decode(frame) {
            Err(_) => Reply::new(0x10, Vec::new()),
            Ok(cmd) => answer(&cmd, &mut self.slot, self.sam_sw3, &mut self.fail_reads),
        };
        reply.encode().unwrap_or_default()
    }
}

fn run(mut port: SimPort, rx: std::sync::mpsc::Receiver<Mail<Req>>) {
    let mut faults = SimFaults::default();
    let mut sam = SamCard::default();
    let mut frames = FrameReceiver::new();
    let mut commands = 0u64;
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    let mut buf = [0u8; 512];
    loop {
        match rx.recv_timeout(Duration::from_millis(1)) {
            Ok((req, reply)) => {
                let answer = match req {
                    Req::Place(card) => {
                        sam.place(*card);
                        Ok(Value::Null)
                    }
                    Req::Lift => {
                        sam.lift();
                        Ok(Value::Null)
                    }
                    Req::SamStatus(s) => {
                        sam.sam_sw3 = s;
                        Ok(Value::Null)
                    }
                    Req::FailReads { times, sw3 } => {
                        sam.fail_reads = (times, sw3);
                        Ok(Value::Null)
                    }
                    Req::Link(l) => l.apply(&mut port, &mut faults, || frames.reset()),
                    Req::Stats => Ok(json!({
                        "commands": commands,
                        "card": sam.slot.is_some(),
                        "bytes_in": bytes_in,
                        "bytes_out": bytes_out,
                    })),
                };
                let _ = reply.send(answer);
            }
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let n = port
            .recv(&mut buf, Duration::from_millis(2))
            .unwrap_or_default();
        let mut input = &buf[..n];
        while let Ok(Some(frame)) = frames.push_and_take(input, &SamFrameSpec) {
            input = &[];
            faults.arrival(frame.len());
            commands += 1;
            bytes_in += frame.len() as u64;
            let bytes = sam.handle(&frame);
            bytes_out += bytes.len() as u64;
            let _ = send_with_faults(&mut port, &faults, &bytes);
        }
    }
}

fn answer(
    cmd: &Command,
    slot: &mut Option<Slot>,
    sam_sw3: u8,
    fail_reads: &mut (u32, u8),
) -> Reply {
    match (cmd.cmd, cmd.para) {
        Command::RESET => Reply::new(0x90, Vec::new()),
        Command::STATUS => Reply::new(sam_sw3, Vec::new()),
        Command::SAM_ID => {
            let mut d = Vec::new();
            d.extend_from_slice(&5u16.to_le_bytes());
            d.extend_from_slice(&1u16.to_le_bytes());
            d.extend_from_slice(&20_101_111u32.to_le_bytes());
            d.extend_from_slice(&9_012_345u32.to_le_bytes());
            d.extend_from_slice(&1_234_567_890u32.to_le_bytes());
            Reply::new(0x90, d)
        }
        Command::FIND => match slot {
            Some(s) if !s.read_since_placed => Reply::new(0x9F, vec![0; 4]),
            _ => Reply::new(0x80, Vec::new()),
        },
        Command::SELECT => match slot {
            Some(_) => Reply::new(0x90, vec![0; 8]),
            None => Reply::new(0x81, Vec::new()),
        },
        (0x30, para @ (0x01 | 0x10)) => {
            if sam_sw3 != 0x90 {
                return Reply::new(sam_sw3, Vec::new());
            }
            let Some(s) = slot else {
                return Reply::new(0x41, Vec::new());
            };
            if fail_reads.0 > 0 {
                fail_reads.0 -= 1;
                return Reply::new(fail_reads.1, Vec::new());
            }
            s.read_since_placed = true;
            let with_fp = para == 0x10;
            let mut raw = s.card.raw();
            if !with_fp {
                raw.fingerprint = None;
            }
            Reply::new(0x90, build_read_payload(&raw, with_fp))
        }
        Command::READ_ADDRESS => {
            match slot.as_ref().and_then(|s| s.card.appended_address.clone()) {
                Some(a) => {
                    let mut d: Vec<u8> = a.encode_utf16().flat_map(u16::to_le_bytes).collect();
                    d.resize(70, 0x20);
                    for pair in d.chunks_exact_mut(2).skip(a.encode_utf16().count()) {
                        pair.copy_from_slice(&[0x20, 0x00]);
                    }
                    Reply::new(0x90, d)
                }
                None => Reply::new(0x91, Vec::new()),
            }
        }
        _ => Reply::new(0x21, Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_card_parses_and_survives_the_text_encoding() {
        for (name, _) in BUILTIN_CARDS {
            let card = CardFixture::builtin(name).unwrap();
            let back = super::super::identity::parse_text(&encode_text(&card.identity))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back, card.identity, "{name}");
            assert_eq!(card.wlt().len(), WLT_LEN);
            assert_eq!(card.photo().bmp().len(), super::super::photo::BMP_LEN);
        }
        assert!(CardFixture::builtin("nobody")
            .unwrap_err()
            .contains("resident"));
    }
}
