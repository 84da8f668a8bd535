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
use super::TEMPLATE_LEN;
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
    /// A template download in progress: buffer and bytes so far.
    download: Option<(u8, Vec<u8>)>,
    packet_size: usize,
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

    fn handle(&mut self, p: Packet) -> Vec<Packet> {
        if let Some((buf, mut bytes)) = self.download.take() {
            if matches!(p.pid, Pid::Data | Pid::EndData) {
                bytes.extend_from_slice(&p.payload);
                if p.pid == Pid::EndData {
                    let finger = template_finger(&bytes).unwrap_or_else(|| {
                        format!("foreign:{}", hex::encode(&Sha256::digest(&bytes)[..8]))
                    });
                    if let Some(slot) = self.buffers.get_mut(usize::from(buf).saturating_sub(1)) {
                        *slot = Some(finger);
                    }
                } else {
                    self.download = Some((buf, bytes));
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
                d.extend_from_slice(&3u16.to_be_bytes());
                d.extend_from_slice(&self.address.to_be_bytes());
                d.extend_from_slice(&2u16.to_be_bytes());
                d.extend_from_slice(&6u16.to_be_bytes());
                self.ack(0x00, &d)
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
            ins::SEARCH => {
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
                self.download = Some((buf, Vec::new()));
                self.ack(0x00, &[])
            }
            ins::UP_CHAR => {
                let buf = params.first().copied().unwrap_or(0);
                let Some(f) = self.buffer(buf).cloned() else {
                    return self.ack(0x0D, &[]);
                };
                let mut out = self.ack(0x00, &[]);
                let t = sim_template(&f);
                let chunks: Vec<&[u8]> = t.chunks(self.packet_size).collect();
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
        packet_size: 128,
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
