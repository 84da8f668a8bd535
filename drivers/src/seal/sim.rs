//! A simulated seal module on a pty: doors that can be opened and are locked by the machine,
//! a magazine of seals with ink pads, a stamping head that can jam, and an authorisation code.

use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use kiosk_hal::frame::{FrameCheck, FrameSpec};
use kiosk_hal::transport::SimPort;
use serde_json::{json, Value};

use super::frame::{cmd, Frame, SealFrames};
use super::{SealCode, SealStatus, BED_X, BED_Y};
use crate::sim::{
    path_string, send_with_faults, LinkReq, Mail, SimControl, SimEnv, SimFaults, SimLink,
    SimMailbox,
};

impl From<LinkReq> for Req {
    fn from(l: LinkReq) -> Self {
        Req::Link(l)
    }
}

enum Req {
    Link(LinkReq),
    Inject(String, Value),
}

pub struct SealSim {
    id: String,
    endpoint: String,
    mailbox: SimMailbox<Req>,
}

struct Machine {
    auth_code: Vec<u8>,
    authorised: bool,
    /// One handshake allows one STAMP; other commands stay allowed for the session.
    armed: bool,
    paper_closed: bool,
    safety_closed: bool,
    paper_locked: bool,
    safety_locked: bool,
    ink: Vec<u8>,
    selected: Option<u8>,
    x: u16,
    y: u16,
    jammed: bool,
    jam_next: bool,
    open_during_next: bool,
    impressions: Vec<Value>,
    wrong_codes: u32,
}

impl SealSim {
    pub fn start(id: &str, env: &SimEnv, auth_code: Vec<u8>, seals: u8) -> std::io::Result<Self> {
        let port = SimPort::create(env.port_path(id))?;
        let endpoint = path_string(port.path());
        let (mailbox, rx) = SimMailbox::new();
        let machine = Machine {
            auth_code,
            authorised: false,
            armed: false,
            paper_closed: true,
            safety_closed: true,
            paper_locked: false,
            safety_locked: false,
            ink: vec![80; usize::from(seals)],
            selected: None,
            x: 0,
            y: 0,
            jammed: false,
            jam_next: false,
            open_during_next: false,
            impressions: Vec::new(),
            wrong_codes: 0,
        };
        std::thread::Builder::new()
            .name(format!("sim-{id}"))
            .spawn(move || run(port, machine, rx))?;
        Ok(SealSim {
            id: id.to_string(),
            endpoint,
            mailbox,
        })
    }
}

impl SimControl for SealSim {
    crate::sim::pty_sim_link_controls!();
    fn inject(&self, what: &str, args: &Value) -> Result<Value, String> {
        self.mailbox
            .ask(Req::Inject(what.to_string(), args.clone()))
    }
}

impl Machine {
    fn status(&self) -> SealStatus {
        SealStatus {
            x_home: self.x == 0,
            y_home: self.y == 0,
            seal_raised: !self.jammed,
            paper_door_closed: self.paper_closed,
            safety_door_closed: self.safety_closed,
            paper_door_locked: self.paper_locked,
            safety_door_locked: self.safety_locked,
            busy: false,
        }
    }

    fn inject(&mut self, what: &str, args: &Value) -> Result<Value, String> {
        let door = || args.get("door").and_then(Value::as_str).unwrap_or("paper");
        match what {
            "open-door" => match door() {
                "paper" if self.paper_locked => return Err("the paper door is locked".into()),
                "safety" if self.safety_locked => return Err("the safety door is locked".into()),
                "paper" => self.paper_closed = false,
                "safety" => self.safety_closed = false,
                other => return Err(format!("no door {other:?}; doors: paper, safety")),
            },
            "close-door" => match door() {
                "paper" => self.paper_closed = true,
                "safety" => self.safety_closed = true,
                other => return Err(format!("no door {other:?}; doors: paper, safety")),
            },
            "jam" => self.jam_next = true,
            "open-during-stamp" => self.open_during_next = true,
            "ink" => {
                let seal = args.get("seal").and_then(Value::as_u64).unwrap_or(1) as usize;
                let level = args.get("level").and_then(Value::as_u64).unwrap_or(0).min(100) as u8;
                *self
                    .ink
                    .get_mut(seal.wrapping_sub(1))
                    .ok_or(format!("no seal {seal}"))? = level;
            }
            "impressions" => return Ok(json!(self.impressions)),
            "stats" => {}
            other => {
                return Err(format!(
                    "the seal simulator cannot {other:?}; it can: open-door, close-door [door=paper|safety], jam, open-during-stamp, ink seal=N level=P, impressions, stats"
                ))
            }
        }
        Ok(json!({
            "status": self.status(),
            "ink": self.ink,
            "impressions": self.impressions.len(),
            "wrong_codes": self.wrong_codes,
        }))
    }

    fn handle(&mut self, f: &Frame) -> (SealCode, Vec<u8>) {
        use SealCode::*;
        let open = [cmd::STATUS, cmd::INK, cmd::INFO, cmd::HANDSHAKE];
        if !open.contains(&f.cmd) && !self.authorised {
            return (NotAuthorised, vec![]);
        }
        let arg = |i: usize| f.data.get(i).copied();
        match f.cmd {
            cmd::HANDSHAKE => {
                if f.data == self.auth_code {
                    self.authorised = true;
                    self.armed = true;
                    (Ok, vec![])
                } else {
                    self.authorised = false;
                    self.armed = false;
                    self.wrong_codes += 1;
                    (WrongAuthCode, vec![])
                }
            }
            cmd::STATUS => (Ok, vec![]),
            cmd::INFO => (Ok, vec![self.ink.len() as u8, 1, 0]),
            cmd::INK => match arg(0).and_then(|s| self.ink.get(usize::from(s).wrapping_sub(1))) {
                Some(l) => (Ok, vec![*l]),
                None => (NoSuchSeal, vec![]),
            },
            cmd::SELECT => match arg(0) {
                Some(s) if s >= 1 && usize::from(s) <= self.ink.len() => {
                    self.selected = Some(s);
                    (Ok, vec![])
                }
                Some(_) => (NoSuchSeal, vec![]),
                None => (NoData, vec![]),
            },
            cmd::MOVE => {
                if f.data.len() != 4 {
                    return (NoData, vec![]);
                }
                let x = u16::from_be_bytes([f.data[0], f.data[1]]);
                let y = u16::from_be_bytes([f.data[2], f.data[3]]);
                if x > BED_X || y > BED_Y {
                    return (OutOfRange, vec![]);
                }
                self.x = x;
                self.y = y;
                (Ok, vec![])
            }
            cmd::LOCK => match (arg(0), arg(1)) {
                (Some(1), Some(l)) => {
                    if l == 1 && !self.paper_closed {
                        return (DoorNotClosed, vec![]);
                    }
                    self.paper_locked = l == 1;
                    (Ok, vec![])
                }
                (Some(2), Some(l)) => {
                    if l == 1 && !self.safety_closed {
                        return (DoorNotClosed, vec![]);
                    }
                    self.safety_locked = l == 1;
                    (Ok, vec![])
                }
                _ => (NoData, vec![]),
            },
            cmd::STAMP => {
                if !self.armed {
                    return (NotAuthorised, vec![]);
                }
                if self.jammed {
                    return (StampFailed, vec![]);
                }
                if !self.paper_closed {
                    return (DoorOpenBefore, vec![]);
                }
                if !self.safety_closed {
                    return (DoorNotClosed, vec![]);
                }
                let Some(seal) = self.selected else {
                    return (NoData, vec![]);
                };
                let ink = &mut self.ink[usize::from(seal) - 1];
                if *ink == 0 {
                    return (OutOfInk, vec![]);
                }
                // One handshake, one impression.
                self.armed = false;
                if self.jam_next {
                    self.jam_next = false;
                    self.jammed = true;
                    return (StampFailed, vec![]);
                }
                if self.open_during_next {
                    self.open_during_next = false;
                    self.paper_closed = false;
                    self.paper_locked = false;
                    return (DoorOpenedDuring, vec![]);
                }
                *ink -= 1;
                self.impressions
                    .push(json!({ "seal": seal, "x": self.x, "y": self.y }));
                (Ok, vec![])
            }
            cmd::RESET => {
                self.jammed = false;
                self.x = 0;
                self.y = 0;
                self.selected = None;
                (Ok, vec![])
            }
            cmd::LIGHT | cmd::CAMERA => (Ok, vec![]),
            _ => (UnknownCommand, vec![]),
        }
    }
}

fn run(mut port: SimPort, mut m: Machine, rx: std::sync::mpsc::Receiver<Mail<Req>>) {
    let mut faults = SimFaults::default();
    let mut heard: Vec<u8> = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match rx.recv_timeout(Duration::from_millis(2)) {
            Ok((req, reply)) => {
                let answer = match req {
                    Req::Link(l) => l.apply(&mut port, &mut faults, || heard.clear()),
                    Req::Inject(what, args) => m.inject(&what, &args),
                };
                let _ = reply.send(answer);
            }
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if !port.is_plugged() {
            continue;
        }
        match SimLink::recv(&mut port, &mut buf, Duration::from_millis(3)) {
            Ok(n) if n > 0 => {
                faults.arrival(n);
                heard.extend_from_slice(&buf[..n]);
            }
            _ => continue,
        }
        while !heard.is_empty() {
            match SealFrames.check(&heard) {
                FrameCheck::Skip(n) => {
                    heard.drain(..n.min(heard.len()));
                }
                FrameCheck::NeedMore(_) => break,
                FrameCheck::Complete(n) => {
                    let raw: Vec<u8> = heard.drain(..n).collect();
                    let (seq, command, (code, extra)) = match Frame::decode(&raw) {
                        Ok(f) => (f.seq, f.cmd, m.handle(&f)),
                        Err(_) => (raw[2], raw[3], (SealCode::Checksum, vec![])),
                    };
                    let mut data = vec![code.byte(), m.status().byte()];
                    data.extend(extra);
                    if let Ok(bytes) = (Frame {
                        seq,
                        cmd: command | 0x80,
                        data,
                    })
                    .encode()
                    {
                        let _ = send_with_faults(&mut port, &faults, &bytes);
                    }
                }
            }
        }
    }
}
