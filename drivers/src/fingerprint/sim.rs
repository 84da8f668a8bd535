//! The module side of the EF01 protocol on a real pty. Fingers are test ids ("alice-index");
//! a template carries its finger's id, so matching is exact and explainable. A presented finger
//! stays for one capture and is then lifted (the next capture attempt finds no finger), which is
//! how enrolment's "lift and place again" is exercised. Poor and messy images, no-match, a full
//! library and the ID card's fingerprint block all have their paths.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use kiosk_hal::frame::FrameReceiver;
use kiosk_hal::transport::SimPort;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::packet::{ins, Packet, PacketSpec, Pid, DEFAULT_ADDRESS};
use super::{IMAGE_BYTES, TEMPLATE_LEN};
use crate::sim::{
    path_string, send_with_faults, LinkReq, Mail, SimControl, SimEnv, SimFaults, SimLink,
    SimMailbox,
};

/// A template for a simulated finger: a marker, the finger's id, and filler.
pub fn sim_template(finger: &str) -> Vec<u8> {
    let id = finger.as_bytes();
    let mut t = vec![0x43, b'H', b'K', id.len().min(200) as u8];
    t.extend_from_slice(&id[..id.len().min(200)]);
    let mut block = Sha256::digest(id).to_vec();
    while t.len() < TEMPLATE_LEN {
        t.extend_from_slice(&block);
        block = Sha256::digest(&block).to_vec();
    }
    t.truncate(TEMPLATE_LEN);
    t
}

/// The finger a template belongs to, when it is a simulator template.
pub fn template_finger(t: &[u8]) -> Option<String> {
    if t.len() < 4 || t[1..3] != *b"HK" {
        return None;
    }
    let n = usize::from(t[3]);
    t.get(4..4 + n)
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// A sensor image for a simulated finger: the finger's id in the first row (as in its
/// template, so an image sent back down is recognised), then ridges around a centre that
/// depends on the finger.
pub fn sim_image(finger: &str) -> Vec<u8> {
    let id = &finger.as_bytes()[..finger.len().min(200)];
    let h = Sha256::digest(id);
    let (cx, cy) = (96 + i32::from(h[0] % 64), 112 + i32::from(h[1] % 64));
    let mut img = Vec::with_capacity(IMAGE_BYTES);
    for y in 0..288i32 {
        for x in (0..256i32).step_by(2) {
            let px = |x: i32| {
                let d = (((x - cx).pow(2) + (y - cy).pow(2)) as f64).sqrt() as i32;
                if (d / 4) % 2 == 0 {
                    0x2u8
                } else {
                    0xDu8
                }
            };
            img.push(px(x) << 4 | px(x + 1));
        }
    }
    img[0] = 0;
    img[1..3].copy_from_slice(b"HK");
    img[3] = id.len() as u8;
    img[4..4 + id.len()].copy_from_slice(id);
    img
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Good,
    Poor,
    Messy,
}

impl From<LinkReq> for Req {
    fn from(l: LinkReq) -> Self {
        Req::Link(l)
    }
}

enum Req {
    Present(String, Quality),
    Lift,
    Enroll(u16, String),
    Link(LinkReq),
    Library,
    Stats,
}

pub struct FingerprintSim {
    id: String,
    endpoint: String,
    mailbox: SimMailbox<Req>,
}

pub const SIM_CAPACITY: u16 = 300;

impl FingerprintSim {
    pub fn start(id: &str, env: &SimEnv, password: u32) -> std::io::Result<FingerprintSim> {
        let port = SimPort::create(env.port_path(id))?;
        let endpoint = path_string(port.path());
        let (mailbox, rx) = SimMailbox::new();
        std::thread::Builder::new()
            .name(format!("sim-{id}"))
            .spawn(move || run(port, rx, password))?;
        Ok(FingerprintSim {
            id: id.to_string(),
            endpoint,
            mailbox,
        })
    }

    /// Puts a finger on the sensor for one capture.
    pub fn present(&self, finger: &str, quality: Quality) -> Result<(), String> {
        self.mailbox
            .ask(Req::Present(finger.to_string(), quality))
            .map(drop)
    }

    pub fn lift(&self) -> Result<(), String> {
        self.mailbox.ask(Req::Lift).map(drop)
    }

    /// Stores a finger in the library directly, as if enrolled earlier.
    pub fn preload(&self, page: u16, finger: &str) -> Result<(), String> {
        self.mailbox
            .ask(Req::Enroll(page, finger.to_string()))
            .map(drop)
    }

    pub fn library(&self) -> Result<Value, String> {
        self.mailbox.ask(Req::Library)
    }

    /// Bytes on the wire each way so far.
    pub fn stats(&self) -> Result<Value, String> {
        self.mailbox.ask(Req::Stats)
    }
}

impl SimControl for FingerprintSim {
    crate::sim::pty_sim_link_controls!();
    fn inject(&self, what: &str, args: &Value) -> Result<Value, String> {
        match what {
            "present" => {
                let finger = args.get("finger").and_then(Value::as_str).ok_or("present needs finger=ID")?;
                let quality = match args.get("quality").and_then(Value::as_str) {
                    None | Some("good") => Quality::Good,
                    Some("poor") => Quality::Poor,
                    Some("messy") => Quality::Messy,
                    Some(q) => return Err(format!("quality {q:?}: good, poor or messy")),
                };
                self.present(finger, quality).map(|_| Value::Null)
            }
            "lift" => self.lift().map(|_| Value::Null),
            "enroll" => {
                let page = args.get("page").and_then(Value::as_u64).ok_or("enroll needs page=N")?;
                let finger = args.get("finger").and_then(Value::as_str).ok_or("enroll needs finger=ID")?;
                self.preload(u16::try_from(page).map_err(|_| "page out of range")?, finger).map(|_| Value::Null)
            }
            "library" => self.library(),
            "stats" => self.stats(),
            other => Err(format!("the fingerprint simulator cannot {other:?}; it can: present, lift, enroll, library")),
        }
    }
}

struct Module {
    address: u32,
    password: u32,
    verified: bool,
    touches: VecDeque<(String, Quality)>,
    /// Capture attempts that must find no finger before the next queued one is on the sensor.
    gap: u32,
    image: Option<(String, Quality)>,
    buffers: [Option<String>; 2],
    library: BTreeMap<u16, String>,
    /// A download from the host in progress: where it goes and the bytes so far.
    download: Option<(Sink, Vec<u8>)>,
    /// Packet size code (0–3: 32, 64, 128, 256 bytes), security level (1–5) and baud
    /// multiple of 9600 (1–12), as SetSysPara leaves them.
    packet_code: u16,
    security: u16,
    baud_n: u16,
    notepad: [[u8; 32]; 16],
    /// xorshift state for GetRandomCode.
    random: u64,
}

/// Where downloaded data packets go.
#[derive(Clone, Copy)]
enum Sink {
    Buffer(u8),
    Image,
}

impl Module {
    fn ack(&self, code: u8, data: &[u8]) -> Vec<Packet> {
        let mut p = vec![code];
        p.extend_from_slice(data);
        vec![Packet::new(self.address, Pid::Ack, p)]
    }

    fn buffer(&self, b: u8) -> Option<&String> {
        match b {
            1 => self.buffers[0].as_ref(),
            2 => self.buffers[1].as_ref(),
            _ => None,
        }
    }

    fn packet_size(&self) -> usize {
        32 << self.packet_code.min(3)
    }

    /// An acknowledgement, then `data` in packets of the configured size.
    fn upload(&self, data: &[u8]) -> Vec<Packet> {
        let mut out = self.ack(0x00, &[]);
        let chunks: Vec<&[u8]> = data.chunks(self.packet_size()).collect();
        for (i, c) in chunks.iter().enumerate() {
            let pid = if i + 1 == chunks.len() {
                Pid::EndData
            } else {
                Pid::Data
            };
            out.push(Packet::new(self.address, pid, c.to_vec()));
        }
        out
    }

    fn handle(&mut self, p: Packet) -> Vec<Packet> {
        if let Some((into, mut bytes)) = self.download.take() {
            if matches!(p.pid, Pid::Data | Pid::EndData) {
                bytes.extend_from_slice(&p.payload);
                if p.pid == Pid::EndData {
                    let finger = template_finger(&bytes).unwrap_or_else(|| {
                        format!("foreign:{}", hex::encode(&Sha256::digest(&bytes)[..8]))
                    });
                    match into {
                        Sink::Buffer(buf) => {
                            if let Some(slot) =
                                self.buffers.get_mut(usize::from(buf).saturating_sub(1))
                            {
                                *slot = Some(finger);
                            }
                        }
                        Sink::Image => self.image = Some((finger, Quality::Good)),
                    }
                } else {
                    self.download = Some((into, bytes));
                }
                return Vec::new();
            }
        }
        if p.pid != Pid::Command || p.payload.is_empty() {
            return self.ack(0x01, &[]);
        }
        let (instruction, params) = (p.payload[0], &p.payload[1..]);
        if instruction != ins::VFY_PWD && self.password != 0 && !self.verified {
            return self.ack(0x21, &[]);
        }
        let u16_at = |o: usize| {
            params
                .get(o..o + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
        };
        match instruction {
            ins::VFY_PWD => {
                let ok = params
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    == Some(self.password);
                self.verified = ok;
                self.ack(if ok { 0x00 } else { 0x13 }, &[])
            }
            ins::READ_SYS_PARA => {
                let mut d = Vec::new();
                d.extend_from_slice(&0u16.to_be_bytes());
                d.extend_from_slice(&0x0009u16.to_be_bytes());
                d.extend_from_slice(&SIM_CAPACITY.to_be_bytes());
                d.extend_from_slice(&self.security.to_be_bytes());
                d.extend_from_slice(&self.address.to_be_bytes());
                d.extend_from_slice(&self.packet_code.to_be_bytes());
                d.extend_from_slice(&self.baud_n.to_be_bytes());
                self.ack(0x00, &d)
            }
            ins::SET_SYS_PARA => {
                let (Some(&register), Some(&value)) = (params.first(), params.get(1)) else {
                    return self.ack(0x01, &[]);
                };
                let value = u16::from(value);
                match register {
                    4 if (1..=12).contains(&value) => self.baud_n = value,
                    5 if (1..=5).contains(&value) => self.security = value,
                    6 if value <= 3 => self.packet_code = value,
                    _ => return self.ack(0x1A, &[]),
                }
                self.ack(0x00, &[])
            }
            ins::SET_PWD => match params.get(..4) {
                Some(b) => {
                    self.password = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    self.ack(0x00, &[])
                }
                None => self.ack(0x01, &[]),
            },
            ins::SET_ADDR => match params.get(..4) {
                // The module answers from its new address.
                Some(b) => {
                    self.address = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    self.ack(0x00, &[])
                }
                None => self.ack(0x01, &[]),
            },
            ins::HANDSHAKE => self.ack(0x00, &[]),
            ins::GET_RANDOM_CODE => {
                self.random ^= self.random << 13;
                self.random ^= self.random >> 7;
                self.random ^= self.random << 17;
                self.ack(0x00, &(self.random as u32).to_be_bytes())
            }
            ins::WRITE_NOTEPAD => {
                let (Some(&page), Some(content)) = (params.first(), params.get(1..33)) else {
                    return self.ack(0x01, &[]);
                };
                match self.notepad.get_mut(usize::from(page)) {
                    Some(slot) => {
                        slot.copy_from_slice(content);
                        self.ack(0x00, &[])
                    }
                    None => self.ack(0x1A, &[]),
                }
            }
            ins::READ_NOTEPAD => {
                match params
                    .first()
                    .and_then(|&p| self.notepad.get(usize::from(p)))
                {
                    Some(content) => self.ack(0x00, content),
                    None => self.ack(0x1A, &[]),
                }
            }
            ins::READ_INDEX_TABLE => {
                // One bit a page, 256 pages a table, lowest page in bit 0 of the first byte.
                let Some(&table) = params.first() else {
                    return self.ack(0x01, &[]);
                };
                if table > 3 {
                    return self.ack(0x1A, &[]);
                }
                let mut bits = [0u8; 32];
                let first = u16::from(table) * 256;
                for page in self
                    .library
                    .keys()
                    .filter(|p| (first..first + 256).contains(*p))
                {
                    let i = usize::from(page - first);
                    bits[i / 8] |= 1 << (i % 8);
                }
                self.ack(0x00, &bits)
            }
            ins::UP_IMAGE => match &self.image {
                Some((finger, _)) => self.upload(&sim_image(finger)),
                None => self.ack(0x0F, &[]),
            },
            ins::DOWN_IMAGE => {
                self.download = Some((Sink::Image, Vec::new()));
                self.ack(0x00, &[])
            }
            ins::LOAD_CHAR => {
                let (Some(&buf), Some(page)) = (params.first(), u16_at(1)) else {
                    return self.ack(0x01, &[]);
                };
                if !(1..=2).contains(&buf) {
                    return self.ack(0x1A, &[]);
                }
                if page >= SIM_CAPACITY {
                    return self.ack(0x0B, &[]);
                }
                match self.library.get(&page).cloned() {
                    Some(f) => {
                        self.buffers[usize::from(buf) - 1] = Some(f);
                        self.ack(0x00, &[])
                    }
                    None => self.ack(0x0C, &[]),
                }
            }
            ins::TEMPLATE_NUM => self.ack(0x00, &(self.library.len() as u16).to_be_bytes()),
            ins::GEN_IMG => {
                if self.gap > 0 {
                    self.gap -= 1;
                    return self.ack(0x02, &[]);
                }
                match self.touches.pop_front() {
                    Some(t) => {
                        self.image = Some(t);
                        self.gap = 1;
                        self.ack(0x00, &[])
                    }
                    None => self.ack(0x02, &[]),
                }
            }
            ins::IMG2TZ => {
                let buf = params.first().copied().unwrap_or(0);
                if !(1..=2).contains(&buf) {
                    return self.ack(0x1A, &[]);
                }
                match &self.image {
                    None => self.ack(0x15, &[]),
                    Some((_, Quality::Messy)) => self.ack(0x06, &[]),
                    Some((_, Quality::Poor)) => self.ack(0x07, &[]),
                    Some((finger, Quality::Good)) => {
                        self.buffers[usize::from(buf) - 1] = Some(finger.clone());
                        self.ack(0x00, &[])
                    }
                }
            }
            ins::REG_MODEL => match (&self.buffers[0], &self.buffers[1]) {
                (Some(a), Some(b)) if a == b => self.ack(0x00, &[]),
                _ => self.ack(0x0A, &[]),
            },
            ins::STORE => {
                let (Some(&buf), Some(page)) = (params.first(), u16_at(1)) else {
                    return self.ack(0x01, &[]);
                };
                if page >= SIM_CAPACITY {
                    return self.ack(0x0B, &[]);
                }
                match self.buffer(buf).cloned() {
                    Some(f) => {
                        self.library.insert(page, f);
                        self.ack(0x00, &[])
                    }
                    None => self.ack(0x15, &[]),
                }
            }
            ins::SEARCH | ins::HIGH_SPEED_SEARCH => {
                let (Some(&buf), Some(start), Some(count)) = (params.first(), u16_at(1), u16_at(3))
                else {
                    return self.ack(0x01, &[]);
                };
                let Some(f) = self.buffer(buf).cloned() else {
                    return self.ack(0x15, &[]);
                };
                let end = start.saturating_add(count);
                match self
                    .library
                    .iter()
                    .find(|(p, g)| **p >= start && **p < end && **g == f)
                {
                    Some((page, _)) => {
                        let mut d = page.to_be_bytes().to_vec();
                        d.extend_from_slice(&150u16.to_be_bytes());
                        self.ack(0x00, &d)
                    }
                    None => self.ack(0x09, &[0, 0, 0, 0]),
                }
            }
            ins::MATCH => match (&self.buffers[0], &self.buffers[1]) {
                (Some(a), Some(b)) if a == b => self.ack(0x00, &120u16.to_be_bytes()),
                _ => self.ack(0x08, &0u16.to_be_bytes()),
            },
            ins::DOWN_CHAR => {
                let buf = params.first().copied().unwrap_or(0);
                if !(1..=2).contains(&buf) {
                    return self.ack(0x1A, &[]);
                }
                self.download = Some((Sink::Buffer(buf), Vec::new()));
                self.ack(0x00, &[])
            }
            ins::UP_CHAR => {
                let buf = params.first().copied().unwrap_or(0);
                let Some(f) = self.buffer(buf).cloned() else {
                    return self.ack(0x0D, &[]);
                };
                self.upload(&sim_template(&f))
            }
            ins::DELETE_CHAR => {
                let (Some(page), Some(count)) = (u16_at(0), u16_at(2)) else {
                    return self.ack(0x01, &[]);
                };
                if page >= SIM_CAPACITY {
                    return self.ack(0x10, &[]);
                }
                for p in page..page.saturating_add(count) {
                    self.library.remove(&p);
                }
                self.ack(0x00, &[])
            }
            ins::EMPTY => {
                self.library.clear();
                self.ack(0x00, &[])
            }
            _ => self.ack(0x01, &[]),
        }
    }
}

fn run(mut port: SimPort, rx: std::sync::mpsc::Receiver<Mail<Req>>, password: u32) {
    let mut m = Module {
        address: DEFAULT_ADDRESS,
        password,
        verified: false,
        touches: VecDeque::new(),
        gap: 0,
        image: None,
        buffers: [None, None],
        library: BTreeMap::new(),
        download: None,
        packet_code: 2,
        security: 3,
        baud_n: 6,
        notepad: [[0; 32]; 16],
        random: 0x9E37_79B9_7F4A_7C15,
    };
    let mut faults = SimFaults::default();
    let mut frames = FrameReceiver::new();
    let mut buf = [0u8; 512];
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    loop {
        match rx.recv_timeout(Duration::from_millis(1)) {
            Ok((req, reply)) => {
                let answer = match req {
                    Req::Present(f, q) => {
                        m.touches.push_back((f, q));
                        Ok(Value::Null)
                    }
                    Req::Lift => {
                        m.touches.clear();
                        Ok(Value::Null)
                    }
                    Req::Enroll(page, f) => {
                        m.library.insert(page, f);
                        Ok(Value::Null)
                    }
                    Req::Link(l) => l.apply(&mut port, &mut faults, || frames.reset()),
                    Req::Library => Ok(json!(m.library)),
                    Req::Stats => Ok(json!({ "bytes_in": bytes_in, "bytes_out": bytes_out })),
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
        while let Ok(Some(frame)) = frames.push_and_take(input, &PacketSpec) {
            input = &[];
            faults.arrival(frame.len());
            bytes_in += frame.len() as u64;
            let replies = match Packet::decode(&frame) {
                Ok(p) => m.handle(p),
                Err(_) => m.ack(0x01, &[]),
            };
            for r in replies {
                if let Ok(bytes) = r.encode() {
                    bytes_out += bytes.len() as u64;
                    let _ = send_with_faults(&mut port, &faults, &bytes);
                }
            }
        }
    }
}
