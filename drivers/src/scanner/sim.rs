//! A simulated serial scanner: the device side of the line protocol on a real pty.
//!
//! Codes are presented with `inject("scan", {"text": …})`. With a trigger configured the
//! scanner behaves like a real one in trigger mode: a presented code is held until the host sends
//! the trigger, then sent; without one it is sent at once (continuous/presentation mode).

use std::collections::VecDeque;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use kiosk_hal::transport::SimPort;
use serde_json::{json, Value};

use crate::sim::{
    path_string, send_with_faults, LinkReq, Mail, SimControl, SimEnv, SimFaults, SimLink,
    SimMailbox,
};
use crate::DeviceSpec;

impl From<LinkReq> for Req {
    fn from(l: LinkReq) -> Self {
        Req::Link(l)
    }
}

enum Req {
    Scan { bytes: Vec<u8> },
    Link(LinkReq),
    Stats,
}

pub struct ScannerSim {
    id: String,
    endpoint: String,
    mailbox: SimMailbox<Req>,
}

/// The scanner's own settings, mirrored from the driver's options so both ends agree.
pub struct ScannerSimConfig {
    pub suffix: Vec<u8>,
    pub trigger: Option<Vec<u8>>,
    /// The commands that switch the illumination on and off.
    pub light: Option<(Vec<u8>, Vec<u8>)>,
}

impl ScannerSimConfig {
    pub fn from_spec(spec: &DeviceSpec) -> Result<Self, String> {
        let suffix = spec
            .opt_str("suffix")?
            .unwrap_or("\r\n")
            .as_bytes()
            .to_vec();
        let trigger = spec.opt_str("trigger")?.map(super::parse_hex).transpose()?;
        let light_on = spec
            .opt_str("light_on")?
            .map(super::parse_hex)
            .transpose()?;
        let light_off = spec
            .opt_str("light_off")?
            .map(super::parse_hex)
            .transpose()?;
        Ok(ScannerSimConfig {
            suffix,
            trigger,
            light: light_on.zip(light_off),
        })
    }
}

impl ScannerSim {
    /// Starts the simulator on a new pty at `env.port_path(id)`.
    pub fn start(id: &str, env: &SimEnv, config: ScannerSimConfig) -> std::io::Result<Self> {
        let port = SimPort::create(env.port_path(id))?;
        let endpoint = path_string(port.path());
        let (mailbox, rx) = SimMailbox::new();
        std::thread::Builder::new()
            .name(format!("sim-{id}"))
            .spawn(move || run(port, config, rx))?;
        Ok(ScannerSim {
            id: id.to_string(),
            endpoint,
            mailbox,
        })
    }

    /// Presents a code to the scanner window.
    pub fn present(&self, text: &str) -> Result<(), String> {
        self.present_bytes(text.as_bytes())
    }

    pub fn present_bytes(&self, bytes: &[u8]) -> Result<(), String> {
        self.mailbox.ask(Req::Scan {
            bytes: bytes.to_vec(),
        })?;
        Ok(())
    }

    /// Triggers received so far.
    pub fn triggers(&self) -> Result<u64, String> {
        let v = self.mailbox.ask(Req::Stats)?;
        Ok(v["triggers"].as_u64().unwrap_or(0))
    }
}

impl SimControl for ScannerSim {
    crate::sim::pty_sim_link_controls!();
    fn inject(&self, what: &str, args: &Value) -> Result<Value, String> {
        match what {
            "scan" => {
                let text = args
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or("scan needs {\"text\": \"…\"}")?;
                self.present(text)?;
                Ok(json!({ "presented": text.chars().count() }))
            }
            "stats" => self.mailbox.ask(Req::Stats),
            other => Err(format!(
                "the scanner simulator cannot {other:?}; it can: scan, stats"
            )),
        }
    }
}

fn run(mut port: SimPort, config: ScannerSimConfig, rx: std::sync::mpsc::Receiver<Mail<Req>>) {
    let mut faults = SimFaults::default();
    let mut held: VecDeque<Vec<u8>> = VecDeque::new();
    let mut heard: Vec<u8> = Vec::new();
    let mut triggers = 0u64;
    let mut light = false;
    let mut buf = [0u8; 256];
    // What the host may send: the trigger and the light commands.
    #[derive(Clone, Copy)]
    enum HostCmd {
        Trigger,
        Light(bool),
    }
    let mut commands: Vec<(Vec<u8>, HostCmd)> = Vec::new();
    if let Some(t) = &config.trigger {
        commands.push((t.clone(), HostCmd::Trigger));
    }
    if let Some((on, off)) = &config.light {
        commands.push((on.clone(), HostCmd::Light(true)));
        commands.push((off.clone(), HostCmd::Light(false)));
    }
    loop {
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok((req, reply)) => {
                let answer = match req {
                    Req::Scan { bytes } => {
                        let mut line = bytes;
                        line.extend_from_slice(&config.suffix);
                        if config.trigger.is_some() {
                            held.push_back(line);
                            Ok(json!({ "held": held.len() }))
                        } else {
                            send_with_faults(&mut port, &faults, &line)
                                .map(|_| json!({ "sent": true }))
                                .map_err(|e| e.to_string())
                        }
                    }
                    Req::Link(l) => l.apply(&mut port, &mut faults, || heard.clear()),
                    Req::Stats => {
                        Ok(json!({ "triggers": triggers, "held": held.len(), "light": light }))
                    }
                };
                let _ = reply.send(answer);
            }
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if commands.is_empty() {
            // Continuous mode ignores host bytes; drain them so the pty buffer never fills.
            let _ = port.recv(&mut buf, Duration::ZERO);
            continue;
        }
        if let Ok(n) = port.recv(&mut buf, Duration::from_millis(1)) {
            heard.extend_from_slice(&buf[..n]);
        }
        // The earliest whole command in what was heard, until none is left.
        while let Some((pos, len, cmd)) = commands
            .iter()
            .filter(|(bytes, _)| !bytes.is_empty())
            .filter_map(|(bytes, cmd)| {
                heard
                    .windows(bytes.len())
                    .position(|w| w == bytes.as_slice())
                    .map(|pos| (pos, bytes.len(), *cmd))
            })
            .min_by_key(|(pos, _, _)| *pos)
        {
            heard.drain(..pos + len);
            match cmd {
                HostCmd::Trigger => {
                    triggers += 1;
                    if let Some(line) = held.pop_front() {
                        let _ = send_with_faults(&mut port, &faults, &line);
                    }
                }
                HostCmd::Light(on) => light = on,
            }
        }
        if heard.len() > 1024 {
            heard.clear();
        }
    }
}
